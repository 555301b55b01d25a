// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// detail::BucketRing: fixed time buckets in a ring, the storage behind the windowed
// estimators. Bucket i covers [i g, (i + 1) g) after the clock's epoch; the ring keeps the
// `count` buckets ending at its head. Moving the head forward resets the buckets it passes
// (all of them after a gap of a whole window), so windows decay correctly across gaps.
#ifndef LLMSCALE_CORE_DETAIL_BUCKET_RING_HPP
#define LLMSCALE_CORE_DETAIL_BUCKET_RING_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

/// Index `p` of an unbounded sequence wrapped onto a ring of `n` slots (also for p < 0).
inline std::size_t ring_slot(std::int64_t p, std::size_t n) noexcept {
  const auto m = static_cast<std::int64_t>(n);
  const std::int64_t r = p % m;  // one division; negative p wraps by one addition
  return static_cast<std::size_t>(r < 0 ? r + m : r);
}

/// floor(t / g) for a time since the epoch (also for times before it).
inline std::int64_t bucket_index(TimePoint t, Duration g) noexcept {
  const auto n = t.time_since_epoch().count();
  const auto d = g.count();
  constexpr std::int64_t second = 1'000'000'000;  // the usual granularity: a division by a constant
  if (d == second) return n >= 0 ? n / second : -((-n + second - 1) / second);
  return n >= 0 ? n / d : -((-n + d - 1) / d);
}

template <class T>
class BucketRing {
 public:
  BucketRing(Duration granularity, std::size_t count, T empty, const char* owner)
      : granularity_(granularity), buckets_(check(granularity, count, owner), empty), empty_(empty) {}

  [[nodiscard]] Duration granularity() const noexcept { return granularity_; }
  [[nodiscard]] std::size_t size() const noexcept { return buckets_.size(); }
  [[nodiscard]] bool started() const noexcept { return started_; }
  [[nodiscard]] std::int64_t head() const noexcept { return head_; }

  /// Moves the head to bucket `index` if that is later, calling `expire(value)` for each
  /// non-empty bucket that leaves the window before resetting it.
  template <class Expire>
  void advance(std::int64_t index, Expire&& expire) noexcept {
    if (!started_) {
      started_ = true;
      head_ = index;
      return;
    }
    if (index <= head_) return;
    const auto n = static_cast<std::int64_t>(buckets_.size());
    if (index - head_ >= n) {  // a whole window passed: nothing survives
      for (T& b : buckets_) {
        expire(b);
        b = empty_;
      }
    } else {
      for (std::int64_t i = head_ + 1; i <= index; ++i) {
        T& b = at(i);
        expire(b);
        b = empty_;
      }
    }
    head_ = index;
  }

  /// Whether bucket `index` is inside the window ending at the head.
  [[nodiscard]] bool live(std::int64_t index) const noexcept {
    return started_ && index <= head_ && index > head_ - static_cast<std::int64_t>(buckets_.size());
  }

  T& at(std::int64_t index) noexcept { return buckets_[ring_slot(index, buckets_.size())]; }
  const T& at(std::int64_t index) const noexcept { return const_cast<BucketRing*>(this)->at(index); }

  void restore_head(bool started, std::int64_t head) noexcept {
    started_ = started;
    head_ = head;
  }

 private:
  static std::size_t check(Duration granularity, std::size_t count, const char* owner) {
    if (granularity <= Duration::zero()) {
      throw std::invalid_argument(std::string(owner) + ": the bucket granularity must be positive");
    }
    if (count < 1 || count > 1'000'000) {
      throw std::invalid_argument(std::string(owner) + ": window / granularity = " + std::to_string(count) +
                                  " buckets is out of range; allowed: [1, 1000000]");
    }
    return count;
  }

  Duration granularity_;
  std::vector<T> buckets_;
  T empty_;
  std::int64_t head_ = 0;
  bool started_ = false;
};

/// The number of buckets of width `granularity` that cover `window` (rounded up).
inline std::size_t buckets_for(Duration window, Duration granularity) noexcept {
  if (granularity <= Duration::zero() || window <= Duration::zero()) return 0;
  return static_cast<std::size_t>((window.count() + granularity.count() - 1) / granularity.count());
}

/// The length of each of `parts` equal parts of `window` (rounded up); throws
/// std::invalid_argument naming `owner` unless window > 0 and 1 <= parts <= 3600.
inline Duration part_length(Duration window, std::size_t parts, const char* owner) {
  if (window <= Duration::zero() || parts < 1 || parts > 3600) {
    throw std::invalid_argument(std::string(owner) + ": window = " + std::to_string(to_seconds(window)) +
                                " s and parts = " + std::to_string(parts) +
                                " are out of range; allowed: window > 0, parts in [1, 3600]");
  }
  const auto n = static_cast<Duration::rep>(parts);
  return Duration((window.count() + n - 1) / n);
}

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_DETAIL_BUCKET_RING_HPP
