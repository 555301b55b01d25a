// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// SlidingMax / SlidingMin: the largest (smallest) sample over a time window, kept per bucket
// of `granularity` in a fixed ring (the window is the `ceil(window / granularity)` buckets
// ending at the newest sample's or `now`'s bucket, whichever is later). O(1) per sample,
// O(buckets) per query, no allocation after construction.
#ifndef LLMSCALE_SIGNALS_SLIDING_EXTREMUM_HPP
#define LLMSCALE_SIGNALS_SLIDING_EXTREMUM_HPP

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The largest (IsMax) or smallest sample over a time window, per bucket of `granularity` (see
/// the top of this file).
template <bool IsMax>
class SlidingExtremum {
 public:
  /// Allocates ceil(window / granularity) buckets; throws std::invalid_argument unless
  /// granularity > 0 and that is within [1, 10^6].
  explicit SlidingExtremum(Duration window, Duration granularity = std::chrono::seconds(1))
      : ring_(granularity, detail::buckets_for(window, granularity), empty(), "sliding_extremum") {}

  /// Adds a sample; NaN/infinite samples and samples older than the window are dropped.
  bool record(TimePoint t, double x) noexcept {
    if (!std::isfinite(x)) {
      ++dropped_;
      return false;
    }
    const std::int64_t i = detail::bucket_index(t, ring_.granularity());
    ring_.advance(i, [](double) {});
    if (!ring_.live(i)) {
      ++dropped_;
      return false;
    }
    double& b = ring_.at(i);
    if (IsMax ? x > b : x < b) b = x;
    return true;
  }

  /// The extreme over the window ending at `now`; empty when no sample is in it.
  [[nodiscard]] std::optional<double> value(TimePoint now) noexcept {
    if (!ring_.started()) return std::nullopt;
    ring_.advance(detail::bucket_index(now, ring_.granularity()), [](double) {});
    double best = empty();
    const auto n = static_cast<std::int64_t>(ring_.size());
    for (std::int64_t i = ring_.head() - n + 1; i <= ring_.head(); ++i) {
      const double b = ring_.at(i);
      if (IsMax ? b > best : b < best) best = b;
    }
    if (best == empty()) return std::nullopt;
    return best;
  }

  /// Samples dropped: NaN/infinite, or older than the window.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

  /// The buckets and the newest bucket's index on the clock, as text for load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w(IsMax ? "sliding_max/1" : "sliding_min/1");
    const auto n = static_cast<std::int64_t>(ring_.size());
    w << n << ring_.started() << ring_.head();
    for (std::int64_t i = ring_.head() - n + 1; i <= ring_.head(); ++i) w << ring_.at(i);
    return std::move(w).str();
  }
  /// Restores what save_state wrote (with as many buckets); false (nothing changed) when
  /// `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, IsMax ? "sliding_max/1" : "sliding_min/1");
    std::int64_t n = 0, head = 0;
    bool started = false;
    r >> n >> started >> head;
    if (!r.ok() || n != static_cast<std::int64_t>(ring_.size())) return false;
    std::vector<double> values(static_cast<std::size_t>(n));
    for (double& v : values) r >> v;
    if (!r.done()) return false;
    ring_.restore_head(started, head);
    for (std::int64_t k = 0; k < n; ++k) ring_.at(head - n + 1 + k) = values[static_cast<std::size_t>(k)];
    return true;
  }

 private:
  static constexpr double empty() noexcept {
    return IsMax ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  detail::BucketRing<double> ring_;
  std::uint64_t dropped_ = 0;
};

/// The largest sample over a time window.
using SlidingMax = SlidingExtremum<true>;
/// The smallest sample over a time window.
using SlidingMin = SlidingExtremum<false>;

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_SLIDING_EXTREMUM_HPP
