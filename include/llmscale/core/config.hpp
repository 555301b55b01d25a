// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The configuration conventions every llmscale config follows.
//
// A config is a plain struct with documented defaults, a name, and one `describe` function
// that lists its fields with their key, allowed range and meaning:
//
//     struct MyConfig {
//       static constexpr const char* config_name = "my";
//       double period_s = 15.0;
//       template <class Self, class Visitor> static void describe(Self& self, Visitor& v) {
//         v("period_s", self.period_s, llmscale::open_closed(0.0, 3600.0), "seconds per tick");
//       }
//       llmscale::ConfigResult validate() const { return llmscale::validate_fields(*this); }
//     };
//
// From that one list come `validate_fields` (the first field outside its range), `parse_config`
// (key=value text), `apply_environment`, `set_config` (one `--set key=value`) and
// `dump_config` (the effective configuration, which parses back to the same values), so key
// names are the same everywhere. `validate()` never throws and returns the first problem
// naming the field, the value and the allowed range; objects built from a config call
// `require_valid`, which throws std::invalid_argument with that message. A failed parse
// changes nothing.
#ifndef LLMSCALE_CORE_CONFIG_HPP
#define LLMSCALE_CORE_CONFIG_HPP

#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#if __has_include(<charconv>)
#include <charconv>
#endif

#include "llmscale/core/abi.hpp"
#include "llmscale/core/number.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The first thing wrong with a configuration.
struct ConfigProblem {
  std::string config;   ///< the config's name, e.g. "control"
  std::string field;    ///< the key, e.g. "max_replicas" (empty for a malformed line)
  std::string value;    ///< the offending value as text
  std::string allowed;  ///< what is allowed, e.g. "[1, 100000]"
  std::string detail;   ///< what is wrong, e.g. "is out of range"
  int line = 0;         ///< the line of key=value text it came from (0: not from text)

  /// One sentence naming all of the above, e.g.
  /// "control.max_replicas = 0 is out of range; allowed: [1, 100000]".
  [[nodiscard]] std::string message() const {
    std::string m;
    if (line > 0) m += "line " + std::to_string(line) + ": ";
    m += config;
    if (!field.empty()) m += "." + field;
    if (!value.empty() || !field.empty()) m += " = " + value;
    m += " " + detail;
    if (!allowed.empty()) m += "; allowed: " + allowed;
    return m;
  }
};

/// No value: the configuration is valid. A value: the first problem.
using ConfigResult = std::optional<ConfigProblem>;

/// An allowed interval for a numeric field; open ends exclude the bound.
template <class T>
struct Range {
  T lo;                  ///< the lower bound
  T hi;                  ///< the upper bound
  bool lo_open = false;  ///< true: `lo` itself is excluded
  bool hi_open = false;  ///< true: `hi` itself is excluded

  /// Whether `v` lies in the interval (false for NaN).
  [[nodiscard]] constexpr bool contains(T v) const noexcept {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
};

/// [lo, hi].
template <class T>
constexpr Range<T> closed(T lo, T hi) noexcept { return {lo, hi, false, false}; }
/// (lo, hi].
template <class T>
constexpr Range<T> open_closed(T lo, T hi) noexcept { return {lo, hi, true, false}; }
/// [lo, hi).
template <class T>
constexpr Range<T> closed_open(T lo, T hi) noexcept { return {lo, hi, false, true}; }
/// (lo, hi).
template <class T>
constexpr Range<T> open(T lo, T hi) noexcept { return {lo, hi, true, true}; }

/// One spelling of an enumerator in key=value text.
template <class E>
struct EnumName {
  const char* name;  ///< the spelling, e.g. "max"
  E value;           ///< the enumerator it names
};

/// The first field of `config` outside its allowed range (or not finite), if any.
template <class Config>
ConfigResult validate_fields(const Config& config);

/// Throws std::invalid_argument with `config.validate()`'s message when it finds a problem.
/// Constructors of objects built from a config call this.
template <class Config>
void require_valid(const Config& config);

/// Sets one field from text (`key`, `value`); the config is unchanged on a problem. Does not
/// run cross-field checks: call `validate()` after the last one (parse_config does).
template <class Config>
ConfigResult set_field(Config& config, std::string_view key, std::string_view value);

/// Applies one `key=value` assignment (as a tool's `--set` gives it), then `validate()`;
/// `config` changes only if the result is valid.
template <class Config>
ConfigResult set_config(Config& config, std::string_view assignment);

/// Parses key=value lines (blank lines and `#` comments ignored, whitespace trimmed, later
/// lines override earlier ones), then `validate()`s the result. `config` changes only when
/// everything is valid; otherwise it is untouched and the problem names its line.
template <class Config>
ConfigResult parse_config(std::string_view text, Config& config);

/// Reads each field from the environment variable PREFIX + KEY in upper case (e.g.
/// LLMSCALE_MAX_REPLICAS), then `validate()`s; `config` changes only when all is valid.
/// Reads the environment with std::getenv: do not call it while another thread sets variables.
template <class Config>
ConfigResult apply_environment(Config& config, const char* prefix = "LLMSCALE_");

/// The effective configuration as key=value lines, each preceded by a `#` comment with its
/// meaning and allowed values. `parse_config(dump_config(c), d)` makes `d` equal to `c`.
template <class Config>
std::string dump_config(const Config& config);

/// The keys of a config, in declaration order.
template <class Config>
std::vector<std::string> config_keys();


// ---------------------------------------------------------------------------------------------
// Implementation.

namespace detail {

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

using llmscale::format_number;

template <class T>
std::string format_value(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    return format_number(static_cast<double>(v));
  } else {
    return std::to_string(v);
  }
}

template <class T>
std::string format_range(const Range<T>& r) {
  return std::string(r.lo_open ? "(" : "[") + format_value(r.lo) + ", " + format_value(r.hi) +
         (r.hi_open ? ")" : "]");
}

template <class E, std::size_t N>
std::string format_choices(const std::array<EnumName<E>, N>& names) {
  std::string s;
  for (const auto& n : names) {
    if (!s.empty()) s += " | ";
    s += n.name;
  }
  return s;
}

template <class E, std::size_t N>
const char* enum_name(const std::array<EnumName<E>, N>& names, E v) noexcept {
  for (const auto& n : names) {
    if (n.value == v) return n.name;
  }
  return nullptr;
}

/// The enumerator spelled `text` into `out`; false (out unchanged) when none is.
template <class E, std::size_t N>
bool enum_value(const std::array<EnumName<E>, N>& names, std::string_view text, E& out) noexcept {
  for (const auto& n : names) {
    if (text == n.name) {
      out = n.value;
      return true;
    }
  }
  return false;
}

inline bool parse_value(std::string_view text, bool& out) noexcept {
  if (text == "true" || text == "1" || text == "on" || text == "yes") {
    out = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "off" || text == "no") {
    out = false;
    return true;
  }
  return false;
}

template <class T>
bool parse_value(std::string_view text, T& out) noexcept {
  static_assert(std::is_arithmetic_v<T>, "config fields are numbers, bools or enums");
  if (text.empty() || text.size() > 64) return false;
  if constexpr (std::is_floating_point_v<T>) {
    double v = 0;
    if (!parse_number(text, v)) return false;  // the same in every locale
    out = static_cast<T>(v);
    return true;
  } else {
    T v{};
    const char* first = text.data();
    if (*first == '+') ++first;
    const auto r = std::from_chars(first, text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return false;
    out = v;
    return true;
  }
}

// Finds the first field outside its range.
template <class Config>
struct ValidateVisitor {
  ConfigResult result;

  template <class T>
  void operator()(const char* key, const T& value, const Range<T>& range, const char*) {
    if (result) return;
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) {
        result = ConfigProblem{Config::config_name, key, format_value(value), format_range(range),
                               "is not a finite number", 0};
        return;
      }
    }
    if (!range.contains(value)) {
      result = ConfigProblem{Config::config_name, key, format_value(value), format_range(range),
                             "is out of range", 0};
    }
  }
  void operator()(const char*, const bool&, const char*) {}
  template <class E, std::size_t N>
  void operator()(const char* key, const E& value, const std::array<EnumName<E>, N>& names,
                  const char*) {
    if (result || enum_name(names, value) != nullptr) return;
    result = ConfigProblem{Config::config_name, key,
                           std::to_string(static_cast<long long>(value)), format_choices(names),
                           "is not one of the choices", 0};
  }
};

// Parses one field's value from text.
template <class Config>
struct SetVisitor {
  std::string_view key;
  std::string_view text;
  bool found = false;
  ConfigResult result;

  ConfigProblem problem(const char* k, std::string allowed, const char* detail) const {
    return ConfigProblem{Config::config_name, k, std::string(text), std::move(allowed), detail, 0};
  }

  template <class T>
  void operator()(const char* k, T& value, const Range<T>& range, const char*) {
    if (found || key != k) return;
    found = true;
    T parsed{};
    if (!parse_value(text, parsed)) {
      result = problem(k, format_range(range),
                       std::is_floating_point_v<T> ? "is not a number" : "is not an integer");
      return;
    }
    value = parsed;
  }
  void operator()(const char* k, bool& value, const char*) {
    if (found || key != k) return;
    found = true;
    if (!parse_value(text, value)) result = problem(k, "true | false", "is not a boolean");
  }
  template <class E, std::size_t N>
  void operator()(const char* k, E& value, const std::array<EnumName<E>, N>& names, const char*) {
    if (found || key != k) return;
    found = true;
    if (!enum_value(names, text, value)) result = problem(k, format_choices(names), "is not one of the choices");
  }
};

struct DumpVisitor {
  std::string out;

  void line(const char* key, const char* doc, const std::string& allowed,
            const std::string& value) {
    out += "# ";
    out += doc;
    out += " (allowed: " + allowed + ")\n";
    out += key;
    out += '=' + value + '\n';
  }
  template <class T>
  void operator()(const char* key, const T& value, const Range<T>& range, const char* doc) {
    line(key, doc, format_range(range), format_value(value));
  }
  void operator()(const char* key, const bool& value, const char* doc) {
    line(key, doc, "true | false", format_value(value));
  }
  template <class E, std::size_t N>
  void operator()(const char* key, const E& value, const std::array<EnumName<E>, N>& names,
                  const char* doc) {
    const char* name = enum_name(names, value);
    line(key, doc, format_choices(names), name ? name : "?");
  }
};

struct KeysVisitor {
  std::vector<std::string> keys;
  template <class... Rest>
  void operator()(const char* key, Rest&&...) {
    keys.emplace_back(key);
  }
};

template <class Config>
std::string known_keys() {
  std::string s;
  for (const auto& k : config_keys<Config>()) {
    if (!s.empty()) s += ", ";
    s += k;
  }
  return s;
}

}  // namespace detail

template <class Config>
ConfigResult validate_fields(const Config& config) {
  detail::ValidateVisitor<Config> v;
  Config::describe(config, v);
  return v.result;
}

template <class Config>
void require_valid(const Config& config) {
  if (const ConfigResult problem = config.validate()) throw std::invalid_argument(problem->message());
}

template <class Config>
ConfigResult set_field(Config& config, std::string_view key, std::string_view value) {
  Config copy = config;
  detail::SetVisitor<Config> v{key, value, false, std::nullopt};
  Config::describe(copy, v);
  if (!v.found) {
    return ConfigProblem{Config::config_name, std::string(key), std::string(value),
                         detail::known_keys<Config>(), "is not a known key", 0};
  }
  if (v.result) return v.result;
  config = copy;
  return std::nullopt;
}

template <class Config>
ConfigResult set_config(Config& config, std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return ConfigProblem{Config::config_name, "", std::string(assignment), "key=value",
                         "is not a key=value assignment", 0};
  }
  Config copy = config;
  if (ConfigResult p = set_field(copy, detail::trim(assignment.substr(0, eq)),
                                 detail::trim(assignment.substr(eq + 1)))) {
    return p;
  }
  if (ConfigResult p = copy.validate()) return p;
  config = copy;
  return std::nullopt;
}

template <class Config>
ConfigResult parse_config(std::string_view text, Config& config) {
  Config copy = config;
  int line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    line = detail::trim(line);
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    ConfigResult p;
    if (eq == std::string_view::npos) {
      p = ConfigProblem{Config::config_name, "", std::string(line), "key=value",
                        "is not a key=value line", 0};
    } else {
      p = set_field(copy, detail::trim(line.substr(0, eq)), detail::trim(line.substr(eq + 1)));
    }
    if (p) {
      p->line = line_no;
      return p;
    }
  }
  if (ConfigResult p = copy.validate()) return p;
  config = copy;
  return std::nullopt;
}

template <class Config>
ConfigResult apply_environment(Config& config, const char* prefix) {
  Config copy = config;
  for (const std::string& key : config_keys<Config>()) {
    std::string var = prefix ? prefix : "";
    for (char c : key) var += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) continue;
    if (ConfigResult p = set_field(copy, key, detail::trim(value))) {
      p->detail += " (from environment variable " + var + ")";
      return p;
    }
  }
  if (ConfigResult p = copy.validate()) return p;
  config = copy;
  return std::nullopt;
}

template <class Config>
std::string dump_config(const Config& config) {
  detail::DumpVisitor v;
  v.out = std::string("# llmscale ") + Config::config_name + " configuration\n";
  Config::describe(config, v);
  return v.out;
}

template <class Config>
std::vector<std::string> config_keys() {
  Config config{};
  detail::KeysVisitor v;
  Config::describe(config, v);
  return v.keys;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_CONFIG_HPP
