// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// detail::BufferWriter: snprintf-like text building into a caller's buffer, no allocation.
#ifndef LLMSCALE_CORE_DETAIL_BUFFER_WRITER_HPP
#define LLMSCALE_CORE_DETAIL_BUFFER_WRITER_HPP

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string_view>

#if __has_include(<charconv>)
#include <charconv>
#endif

#include "llmscale/core/abi.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

/// Appends text to `buf[0, size)`. Like snprintf, it keeps counting past the end, so
/// `finish()` returns the length the whole text needs; what fits is NUL-terminated.
class BufferWriter {
 public:
  BufferWriter(char* buf, std::size_t size) noexcept
      : buf_(buf), capacity_(buf != nullptr && size > 0 ? size - 1 : 0), terminate_(buf != nullptr && size > 0) {}

  void put(char c) noexcept {
    if (len_ < capacity_) buf_[len_] = c;
    ++len_;
  }
  void put(std::string_view s) noexcept {
    for (char c : s) put(c);
  }
  void put(const char* s) noexcept { put(std::string_view(s ? s : "")); }

  /// `s` as a quoted JSON string, escaping quotes, backslashes and control characters.
  void put_json_string(const char* s) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    put('"');
    for (const char* p = s ? s : ""; *p != '\0'; ++p) {
      const auto c = static_cast<unsigned char>(*p);
      switch (c) {
        case '"': put("\\\""); break;
        case '\\': put("\\\\"); break;
        case '\n': put("\\n"); break;
        case '\r': put("\\r"); break;
        case '\t': put("\\t"); break;
        default:
          if (c < 0x20) {
            put("\\u00");
            put(hex[c >> 4]);
            put(hex[c & 0xF]);
          } else {
            put(static_cast<char>(c));
          }
      }
    }
    put('"');
  }

  void put_int(long long v) noexcept {
    char tmp[24];
    const int n = std::snprintf(tmp, sizeof tmp, "%lld", v);
    put(std::string_view(tmp, n > 0 ? static_cast<std::size_t>(n) : 0));
  }

  /// `v` with up to `precision` significant digits, shortest form; `non_finite` for NaN and
  /// infinities (JSON has no spelling for them, so JSON writers pass "null").
  void put_double(double v, int precision, const char* non_finite) noexcept {
    if (!std::isfinite(v)) {
      put(non_finite);
      return;
    }
    char tmp[40];
    std::size_t n = 0;
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::general, precision);
    n = r.ec == std::errc() ? static_cast<std::size_t>(r.ptr - tmp) : 0;
#else
    const int k = std::snprintf(tmp, sizeof tmp, "%.*g", precision, v);
    n = k > 0 ? static_cast<std::size_t>(k) : 0;
#endif
    put(std::string_view(tmp, n));
  }

  /// NUL-terminates what fits and returns the full length the text needs (without the NUL).
  std::size_t finish() noexcept {
    if (terminate_) buf_[len_ < capacity_ ? len_ : capacity_] = '\0';
    return len_;
  }

 private:
  char* buf_;
  std::size_t capacity_;  // characters that fit before the NUL
  bool terminate_;
  std::size_t len_ = 0;
};

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_DETAIL_BUFFER_WRITER_HPP
