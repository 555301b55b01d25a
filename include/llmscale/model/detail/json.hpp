// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// A small JSON reader for profile files: objects, arrays, numbers, strings, true, false, null.
// A syntax error throws std::runtime_error naming the line.
#ifndef LLMSCALE_MODEL_DETAIL_JSON_HPP
#define LLMSCALE_MODEL_DETAIL_JSON_HPP

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/number.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::vector<JsonValue> items;   // array elements, or object values
  std::vector<std::string> keys;  // object keys, parallel to items

  /// The member `key` of an object, or nullptr.
  [[nodiscard]] const JsonValue* find(std::string_view key) const noexcept {
    if (kind != Kind::object) return nullptr;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &items[i];
    }
    return nullptr;
  }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  JsonValue parse() {
    JsonValue v = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    int line = 1;
    for (std::size_t i = 0; i < pos_ && i < text_.size(); ++i) line += text_[i] == '\n';
    throw std::runtime_error("line " + std::to_string(line) + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }
  bool take(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail(std::string("expected '") + c + "'");
  }
  std::string string_literal() {
    expect('"');
    std::string s;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        const char e = text_[pos_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': pos_ += 4; c = '?'; break;  // profile keys are ASCII
          default: c = e; break;
        }
      }
      s.push_back(c);
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;
    return s;
  }
  JsonValue value(int depth) {
    if (depth > 64) fail("nested too deeply");
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end of text");
    JsonValue v;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = JsonValue::Kind::object;
      if (take('}')) return v;
      do {
        skip_space();
        v.keys.push_back(string_literal());
        expect(':');
        v.items.push_back(value(depth + 1));
      } while (take(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = JsonValue::Kind::array;
      if (take(']')) return v;
      do {
        v.items.push_back(value(depth + 1));
      } while (take(','));
      expect(']');
    } else if (c == '"') {
      v.kind = JsonValue::Kind::string;
      v.string = string_literal();
    } else if (text_.substr(pos_, 4) == "true" || text_.substr(pos_, 5) == "false") {
      v.kind = JsonValue::Kind::boolean;
      v.boolean = text_[pos_] == 't';
      pos_ += v.boolean ? 4 : 5;
    } else if (text_.substr(pos_, 4) == "null") {
      pos_ += 4;
    } else {
      const std::size_t n = parse_number_prefix(text_.substr(pos_, std::min<std::size_t>(64, text_.size() - pos_)), v.number);
      if (n == 0) fail("expected a value");
      v.kind = JsonValue::Kind::number;
      pos_ += n;
    }
    return v;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_DETAIL_JSON_HPP
