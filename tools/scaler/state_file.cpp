// llmscale-scaler --state-file: the policy's learned state, loaded at start and replaced
// atomically (a temporary file beside it, fsync, rename, fsync of the directory) every
// --state-every ticks and at stop, so a crash at any moment leaves the old file or the new one,
// never a torn one. The format is llmscale/adapters/state_file.hpp's.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "llmscale/adapters/state_file.hpp"
#include "log.hpp"
#include "scaler_impl.hpp"

namespace llmscale_scaler {

namespace {

constexpr std::uintmax_t max_state_file_bytes = 256u << 20;  // a predictive state with 10^6 ratios is ~40 MB

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Writes `text` to `path` so that a reader sees the old file or the new one whole; false with
// `error` set when any step fails (the old file is then untouched).
bool write_atomically(const std::string& path, const std::string& text, std::string& error) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = tmp + ": " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  // the rename itself survives a power loss once the directory is synced
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace

void Scaler::Impl::load_state_file() {
  if (opt.state_file.empty()) return;
  const std::filesystem::path dir = std::filesystem::path(opt.state_file).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    throw UsageError("--state-file '" + opt.state_file + "': the directory '" + dir.string() + "' does not exist");
  }
  if (!policy->keeps_state()) {
    log::write(log::Level::warn, "--state-file: " + opt.policy + " keeps no learned state; nothing is saved");
    return;
  }
  const std::string& path = opt.state_file;
  if (!std::filesystem::exists(path, ec)) {
    log::write(log::Level::info, "--state-file " + path + " does not exist yet: starting afresh");
    return;
  }
  const auto ignore = [&](const std::string& why) {
    log::write(log::Level::warn, "--state-file " + path + " not loaded: " + why + "; starting afresh (it will be replaced)");
  };
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > max_state_file_bytes) {
    ignore(ec ? ec.message() : "it is " + std::to_string(size) + " bytes, more than any state");
    return;
  }
  std::string text;
  try {
    text = detail::read_file(path);
  } catch (const UsageError& e) {
    ignore(e.what());
    return;
  }
  std::string error;
  const auto file = llmscale::parse_state_file(text, error);
  if (!file) {
    ignore(error);
    return;
  }
  if (const std::string why = llmscale::refusal(*file, opt.policy); !why.empty()) {
    ignore(why);
    return;
  }
  // the saved times are ages at the moment of saving; that moment lies `down` before now
  const double down = std::max(0.0, unix_now() - file->saved_unix_s);
  if (down > opt.state_max_age_s) {
    ignore("it is " + std::to_string(static_cast<long long>(down)) + " s old, more than --state-max-age " +
           std::to_string(static_cast<long long>(opt.state_max_age_s)));
    return;
  }
  if (!policy->load_state(file->state, now() - llmscale::from_seconds(down))) {
    ignore("its state is not one " + opt.policy + " with these settings can hold (another --set, or an edited file)");
    return;
  }
  state_loaded = true;
  log::write(log::Level::info, "--state-file " + path + " loaded: " + opt.policy + "'s state as of " +
                                   std::to_string(static_cast<long long>(down)) + " s ago");
}

void Scaler::Impl::save_state_file() {
  ticks_since_save = 0;
  if (!policy->keeps_state()) return;
  llmscale::StateFile f;
  f.library = llmscale::library_version();
  f.policy = opt.policy;
  f.saved_unix_s = unix_now();
  f.state = policy->save_state(now());
  std::string error;
  if (write_atomically(opt.state_file, llmscale::format_state_file(f), error)) {
    ++state_saves;
    return;
  }
  ++state_save_errors;
  log::limited(log::Level::warn, "state-file", "--state-file not written: " + error + "; keeping the last one");
}

}  // namespace llmscale_scaler
