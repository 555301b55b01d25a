// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The state file: what a host (llmscale-scaler --state-file) writes so that a restart keeps a
// policy's learned history (has_saved_state, policy/policy.hpp). A short header says what wrote
// it, then the policy's state, whose length is given so a torn or truncated file is refused:
//
//   llmscale-state 1                     the file format's version
//   library 0.1.0                        the llmscale that wrote it (a state's layout may change between versions)
//   policy llmscale-predictive           the policy whose state it is
//   saved_unix_s 1764925025.25           when (wall clock: how long the host was down)
//   state 4711                           the state's length in bytes, then a newline and the state
//
// `refusal` says why a file must not be loaded into a given policy (another policy, another
// version); the host logs it and starts afresh. Parsing only: the host writes atomically.
#ifndef LLMSCALE_ADAPTERS_STATE_FILE_HPP
#define LLMSCALE_ADAPTERS_STATE_FILE_HPP

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/version.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// One state file's contents.
struct StateFile {
  static constexpr int format_version = 1;  ///< the file format this build writes and reads
  std::string library;  ///< the llmscale version that wrote it ("0.1.0")
  std::string policy;   ///< the policy's name ("llmscale-predictive")
  double saved_unix_s = 0;  ///< wall-clock seconds since 1970 when it was written
  std::string state;    ///< the policy's save_state()
};

/// The version of this build, as a state file writes it.
inline std::string library_version() {
  return std::to_string(LLMSCALE_VERSION_MAJOR) + "." + std::to_string(LLMSCALE_VERSION_MINOR) + "." +
         std::to_string(LLMSCALE_VERSION_PATCH);
}

/// The file's text.
inline std::string format_state_file(const StateFile& f) {
  std::string out = "llmscale-state " + std::to_string(StateFile::format_version) + "\nlibrary " + f.library + "\npolicy " +
                    f.policy + "\nsaved_unix_s " + detail::format_number(f.saved_unix_s) + "\nstate " +
                    std::to_string(f.state.size()) + "\n";
  out += f.state;
  out += '\n';
  return out;
}

/// Reads a state file's text; nullopt with `error` saying what is wrong (not a state file,
/// another format version, a header line missing, a state shorter or longer than announced).
inline std::optional<StateFile> parse_state_file(std::string_view text, std::string& error) {
  const auto line = [&](std::string_view key, std::string_view& value) {
    const std::size_t end = text.find('\n');
    const std::string_view l = text.substr(0, end);
    if (end == std::string_view::npos || l.substr(0, key.size()) != key || l.size() <= key.size() || l[key.size()] != ' ') {
      error = "no '" + std::string(key) + "' line where one belongs";
      return false;
    }
    value = l.substr(key.size() + 1);
    text.remove_prefix(end + 1);
    return true;
  };
  std::string_view v;
  if (text.substr(0, 15) != "llmscale-state ") {
    error = "not an llmscale state file (it does not start with 'llmscale-state')";
    return std::nullopt;
  }
  if (!line("llmscale-state", v)) return std::nullopt;
  int format = 0;
  if (!detail::parse_value(v, format) || format != StateFile::format_version) {
    error = "state file format '" + std::string(v.substr(0, 20)) + "', this build reads " + std::to_string(StateFile::format_version);
    return std::nullopt;
  }
  StateFile f;
  if (!line("library", v)) return std::nullopt;
  f.library = std::string(v.substr(0, 64));
  if (!line("policy", v)) return std::nullopt;
  f.policy = std::string(v.substr(0, 64));
  if (!line("saved_unix_s", v)) return std::nullopt;
  if (!detail::parse_value(v, f.saved_unix_s) || !std::isfinite(f.saved_unix_s) || f.saved_unix_s < 0) {
    error = "saved_unix_s '" + std::string(v.substr(0, 40)) + "' is not a time";
    return std::nullopt;
  }
  std::size_t size = 0;
  if (!line("state", v)) return std::nullopt;
  if (!detail::parse_value(v, size)) {
    error = "state length '" + std::string(v.substr(0, 40)) + "' is not a number";
    return std::nullopt;
  }
  if (text.size() != size + 1 || text.back() != '\n') {
    error = "the state is " + std::to_string(text.empty() ? 0 : text.size() - 1) + " bytes, the header says " +
            std::to_string(size) + " (a torn or edited file)";
    return std::nullopt;
  }
  f.state = std::string(text.substr(0, size));
  return f;
}

/// Why `f` must not be loaded into `policy` by this build (empty: it may be): a state written
/// by another policy or another llmscale version would be read as something it is not.
inline std::string refusal(const StateFile& f, std::string_view policy) {
  if (f.policy != policy) return "it holds the state of " + f.policy + ", not of " + std::string(policy);
  if (f.library != library_version()) return "it was written by llmscale " + f.library + ", this is " + library_version();
  return {};
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_STATE_FILE_HPP
