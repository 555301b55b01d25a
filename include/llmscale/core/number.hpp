// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Numbers as text, the same in every locale: a '.' decimal point whatever the process's
// LC_NUMERIC says (a host that calls setlocale(LC_ALL, "") under de_DE must not read "0.5" as 0
// or write "0,5"). Every llmscale parser (configs, state, profiles, traces, Prometheus pages,
// JSON, the tools' options) reads numbers with parse_number; every writer uses format_number or
// std::to_chars.
#ifndef LLMSCALE_CORE_NUMBER_HPP
#define LLMSCALE_CORE_NUMBER_HPP

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#if __has_include(<charconv>)
#include <charconv>
#endif

#include "llmscale/core/abi.hpp"

#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
#define LLMSCALE_FLOAT_CHARCONV 1
#else
#define LLMSCALE_FLOAT_CHARCONV 0
#endif

LLMSCALE_NAMESPACE_BEGIN

/// Reads a number from the start of `text` as the C locale does: an optional sign ('+' too),
/// digits with an optional '.' fraction and exponent, or inf, infinity, nan (any case). Returns
/// the characters read (0: no number there; `out` unchanged). A value beyond double's range
/// reads as +-infinity, one below its smallest as +-0, as strtod gives them.
[[nodiscard]] inline std::size_t parse_number_prefix(std::string_view text, double& out) noexcept {
  const char* const begin = text.data();
  const char* first = begin;
  const char* const last = begin + text.size();
  if (first != last && *first == '+') {
    ++first;
    if (first != last && (*first == '+' || *first == '-')) return 0;
  }
  if (first == last) return 0;
#if LLMSCALE_FLOAT_CHARCONV
  double v = 0;
  const auto r = std::from_chars(first, last, v, std::chars_format::general);
  if (r.ec == std::errc::invalid_argument) return 0;
  if (r.ec == std::errc::result_out_of_range) {
    bool tiny = false;  // a negative exponent: underflow
    for (const char* p = first; p + 1 < r.ptr; ++p) tiny = tiny || ((*p == 'e' || *p == 'E') && p[1] == '-');
    const bool negative = *first == '-';
    v = tiny ? (negative ? -0.0 : 0.0)
             : (negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
  }
  out = v;
  return static_cast<std::size_t>(r.ptr - begin);
#else
  // without floating-point <charconv>: strtod on a bounded copy (locale-dependent there)
  char buf[128];
  const std::size_t n = std::min<std::size_t>(sizeof buf - 1, static_cast<std::size_t>(last - first));
  for (std::size_t i = 0; i < n; ++i) buf[i] = first[i];
  buf[n] = '\0';
  if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n') return 0;
  char* end = nullptr;
  const double v = std::strtod(buf, &end);
  if (end == buf) return 0;
  out = v;
  return static_cast<std::size_t>(first - begin) + static_cast<std::size_t>(end - buf);
#endif
}

/// The whole of `text` as a number (see parse_number_prefix); false when anything else is in it.
[[nodiscard]] inline bool parse_number(std::string_view text, double& out) noexcept {
  double v = 0;
  if (text.empty() || parse_number_prefix(text, v) != text.size()) return false;
  out = v;
  return true;
}

/// The shortest text of `v` that reads back as the same double (as config errors, logs and the
/// tools print numbers: 0.1, 300, 1e-06).
inline std::string format_number(double v) {
  char buf[40];
#if LLMSCALE_FLOAT_CHARCONV
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that round-trips
  return std::string(buf, r.ptr);
#else
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
#endif
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_NUMBER_HPP
