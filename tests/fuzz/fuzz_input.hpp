// FuzzInput: a fuzz target's bytes read as a script, front to back; past the end every read
// gives zeros, so a target never reads outside its input. Targets derive from it to add the
// values their own inputs are made of.
#ifndef LLMSCALE_TESTS_FUZZ_INPUT_HPP
#define LLMSCALE_TESTS_FUZZ_INPUT_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace llmscale_fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const { return pos_ >= size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  /// eight bytes, big-endian
  std::int64_t i64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return static_cast<std::int64_t>(v);
  }
  /// eight bytes as a double's bits: any double, NaN and infinities included
  double f64() {
    const std::int64_t bits = i64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  /// up to `n` bytes as text
  std::string bytes(std::size_t n) {
    n = std::min(n, size_ - pos_);
    std::string s(reinterpret_cast<const char*>(data_) + pos_, n);
    pos_ += n;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace llmscale_fuzz

#endif  // LLMSCALE_TESTS_FUZZ_INPUT_HPP
