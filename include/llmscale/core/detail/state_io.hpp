// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// detail::StateWriter / StateReader: the text form in which stateful parts save and load their
// state (so a restart does not forget its history): a tag naming the kind and version, then
// numbers separated by spaces, doubles written so they read back exactly. A part's own state
// nests as a blob (its length, a colon, its text); a time is written as its age at the moment
// of saving, so a state saved on one clock (a process, a host) loads on another.
#ifndef LLMSCALE_CORE_DETAIL_STATE_IO_HPP
#define LLMSCALE_CORE_DETAIL_STATE_IO_HPP

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

class StateWriter {
 public:
  explicit StateWriter(const char* tag) : out_(tag) {}
  template <class T>
  StateWriter& operator<<(T v) {
    out_ += ' ';
    if constexpr (std::is_same_v<T, bool>) {
      out_ += v ? '1' : '0';
    } else if constexpr (std::is_floating_point_v<T>) {
      out_ += format_number(static_cast<double>(v));
    } else {
      out_ += std::to_string(v);
    }
    return *this;
  }
  /// A number that may be missing (NaN): written as '-'.
  StateWriter& maybe(double v) {
    if (v == v) return *this << v;
    out_ += " -";
    return *this;
  }
  /// A nested state, read back whole by StateReader::blob.
  StateWriter& blob(std::string_view text) {
    out_ += ' ';
    out_ += std::to_string(text.size());
    out_ += ':';
    out_ += text;
    return *this;
  }
  std::string str() && { return std::move(out_); }

 private:
  std::string out_;
};

class StateReader {
 public:
  /// Reads a state that must start with `tag`; `ok()` is false from the first mismatch on.
  StateReader(std::string_view text, const char* tag) : text_(text) {
    const std::string_view t(tag);
    ok_ = text_.substr(0, t.size()) == t && (text_.size() == t.size() || text_[t.size()] == ' ');
    text_.remove_prefix(ok_ ? t.size() : text_.size());
  }
  template <class T>
  StateReader& operator>>(T& v) {
    if (!ok_) return *this;
    while (!text_.empty() && text_.front() == ' ') text_.remove_prefix(1);
    const std::size_t end = text_.find(' ');
    const std::string_view token = text_.substr(0, end);
    text_.remove_prefix(end == std::string_view::npos ? text_.size() : end);
    if constexpr (std::is_same_v<T, bool>) {
      ok_ = token == "0" || token == "1";
      v = token == "1";
    } else if constexpr (std::is_floating_point_v<T>) {
      double d = 0;
      ok_ = parse_value(token, d) && d == d;  // NaN is never a state (infinities can be: an empty extremum)
      v = static_cast<T>(d);
    } else {
      ok_ = parse_value(token, v);
    }
    return *this;
  }
  /// A number written by StateWriter::maybe: '-' reads as NaN.
  StateReader& maybe(double& v) {
    if (!ok_) return *this;
    while (!text_.empty() && text_.front() == ' ') text_.remove_prefix(1);
    if (text_.substr(0, 2) == "- " || text_ == "-") {
      text_.remove_prefix(1);
      v = std::numeric_limits<double>::quiet_NaN();
      return *this;
    }
    return *this >> v;
  }
  /// A nested state written by StateWriter::blob (a view into the text being read).
  StateReader& blob(std::string_view& v) {
    if (!ok_) return *this;
    while (!text_.empty() && text_.front() == ' ') text_.remove_prefix(1);
    const std::size_t colon = text_.find(':');
    std::size_t n = 0;
    ok_ = colon != std::string_view::npos && parse_value(text_.substr(0, colon), n) && n <= text_.size() - colon - 1;
    if (!ok_) return *this;
    v = text_.substr(colon + 1, n);
    text_.remove_prefix(colon + 1 + n);
    ok_ = text_.empty() || text_.front() == ' ';
    return *this;
  }
  /// True when everything read so far parsed and nothing is left over.
  [[nodiscard]] bool done() const noexcept {
    return ok_ && text_.find_first_not_of(' ') == std::string_view::npos;
  }
  [[nodiscard]] bool ok() const noexcept { return ok_; }

  /// Fails the read unless every value is finite (a forecaster's level, trend, coefficients).
  template <class... T>
  StateReader& require_finite(const T&... v) noexcept {
    ok_ = ok_ && (std::isfinite(static_cast<double>(v)) && ...);
    return *this;
  }

 private:
  std::string_view text_;
  bool ok_ = false;
};

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_DETAIL_STATE_IO_HPP
