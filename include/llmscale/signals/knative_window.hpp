// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// KnativeWindow: Knative Serving's time-bucketed window average (knative/serving,
// pkg/autoscaler/aggregation: TimedFloat64Buckets and WeightedFloat64Buckets), reproduced
// exactly so the KPA baseline sees what Knative's autoscaler sees.
//
// Values are added into buckets of `granularity` (Knative: 1 s); the window holds
// ceil(window / granularity) buckets.
//  - linear: the sum of the buckets divided by the number of buckets since the first write,
//    capped at the window; buckets with no data count as 0; after a gap shorter than the
//    window the outdated buckets are left out of both sums; after a whole window without data
//    the average is 0 and the next write starts afresh. Rounded down to 6 decimals, as Knative.
//  - weighted_exponential: the newest bucket weighs alpha = max(1 - (1 - 0.9999)^(1/n), 0.2),
//    each older one (1 - alpha) times the next newer; empty buckets since the last write count
//    as 0 at their positions.
// Values older than a window before the last write are ignored (as Knative does).
#ifndef LLMSCALE_SIGNALS_KNATIVE_WINDOW_HPP
#define LLMSCALE_SIGNALS_KNATIVE_WINDOW_HPP

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// How a KnativeWindow averages its buckets: linear or weighted_exponential (see the top of this
/// file).
enum class KnativeAveraging : std::uint8_t { linear, weighted_exponential };

/// Knative Serving's time-bucketed window average, reproduced exactly (see the top of this
/// file).
class KnativeWindow {
 public:
  /// Throws std::invalid_argument unless 0 < granularity <= window.
  KnativeWindow(Duration window, Duration granularity = std::chrono::seconds(1),
                KnativeAveraging mode = KnativeAveraging::linear)
      : window_(window), granularity_(granularity), mode_(mode) {
    if (granularity <= Duration::zero() || window < granularity) {
      throw std::invalid_argument("knative_window: need 0 < granularity <= window (granularity " +
                                  std::to_string(to_seconds(granularity)) + " s, window " +
                                  std::to_string(to_seconds(window)) + " s)");
    }
    const std::size_t n = detail::buckets_for(window, granularity);
    buckets_.assign(n, 0.0);
    // computeSmoothingCoeff: max(1 - (1 - weightPrecision)^(1/n), minExponent)
    smoothing_ = std::max(1.0 - std::pow(1.0 - 0.9999, 1.0 / static_cast<double>(n)), 0.2);
  }

  /// Adds `value` into the bucket of `now` (Knative's Record).
  void record(TimePoint now, double value) noexcept {
    if (!std::isfinite(value)) {
      ++invalid_;
      return;
    }
    const std::int64_t idx = index(now);
    if (!written_ || idx != last_write_) {
      if (!written_ || idx + window_buckets() > last_write_) {
        if (!written_ || first_write_ > idx) first_write_ = idx;
        if (!written_ || idx > last_write_) {
          if (!written_ || idx - last_write_ >= window_buckets()) {
            first_write_ = idx;  // no writes for a whole window: start afresh
            std::fill(buckets_.begin(), buckets_.end(), 0.0);
            total_ = 0;
          } else {
            for (std::int64_t i = last_write_ + 1; i <= idx; ++i) {
              double& b = slot(i);
              total_ -= b;
              b = 0;
            }
          }
          last_write_ = idx;
          written_ = true;
        }
      } else {
        ++too_old_;
        return;  // older than a window before the last write
      }
    }
    slot(idx) += value;
    total_ += value;
  }

  /// The window average at `now` (Knative's WindowAverage).
  [[nodiscard]] double average(TimePoint now) const noexcept {
    if (!written_) return 0;
    return mode_ == KnativeAveraging::linear ? linear_average(index(now)) : weighted_average(index(now));
  }

  /// Knative's IsEmpty: no data for more than a window.
  [[nodiscard]] bool empty(TimePoint now) const noexcept {
    return !written_ || index(now) - last_write_ > window_buckets();
  }

  /// alpha, the newest bucket's weight in weighted_exponential mode.
  [[nodiscard]] double smoothing_coefficient() const noexcept { return smoothing_; }
  /// How it averages.
  [[nodiscard]] KnativeAveraging mode() const noexcept { return mode_; }
  /// Values ignored: NaN/infinite, or older than a window before the last write.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return invalid_ + too_old_; }

  /// The buckets and the first and last written bucket (indices on the clock), as text for
  /// load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("knative_window/1");
    w << static_cast<long long>(buckets_.size()) << written_ << first_write_ << last_write_ << total_;
    for (double b : buckets_) w << b;
    return std::move(w).str();
  }
  /// Restores what save_state wrote (with as many buckets); false (nothing changed) when
  /// `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, "knative_window/1");
    long long n = 0;
    bool written = false;
    std::int64_t first = 0, last = 0;
    double total = 0;
    r >> n >> written >> first >> last >> total;
    if (!r.ok() || n != static_cast<long long>(buckets_.size())) return false;
    std::vector<double> b(buckets_.size());
    for (double& x : b) r >> x;
    if (!r.done()) return false;
    buckets_ = std::move(b);
    written_ = written;
    first_write_ = first;
    last_write_ = last;
    total_ = total;
    return true;
  }

 private:
  static double round6(double f) noexcept { return std::floor(f * 1e6) / 1e6; }  // roundToNDigits(6, f)

  [[nodiscard]] std::int64_t index(TimePoint t) const noexcept { return detail::bucket_index(t, granularity_); }
  [[nodiscard]] std::int64_t window_buckets() const noexcept {
    // Knative compares times with the window duration; in whole buckets that is window / g
    return window_.count() / granularity_.count();
  }
  double& slot(std::int64_t i) noexcept { return buckets_[detail::ring_slot(i, buckets_.size())]; }
  [[nodiscard]] double slot(std::int64_t i) const noexcept { return const_cast<KnativeWindow*>(this)->slot(i); }

  [[nodiscard]] double linear_average(std::int64_t now) const noexcept {
    const auto n = static_cast<double>(buckets_.size());
    const std::int64_t d = now - last_write_;
    const double since_first = static_cast<double>(last_write_ - first_write_) + 1;  // +1: inclusive
    if (d <= 0) return round6(total_ / std::min(since_first, n));
    if (d < window_buckets()) {
      double ret = total_;
      for (std::int64_t i = last_write_ + 1; i <= now; ++i) ret -= slot(i);
      return round6(ret / std::min(since_first, n - static_cast<double>(d)));
    }
    return 0;
  }

  [[nodiscard]] double weighted_average(std::int64_t now) const noexcept {
    if (now - last_write_ > window_buckets()) return 0;  // isEmptyLocked
    const auto total_b = static_cast<std::int64_t>(buckets_.size());
    std::int64_t num_b = total_b;
    double multiplier = smoothing_;
    if (now > last_write_) {
      const std::int64_t zeros = now - last_write_;
      multiplier *= std::pow(1 - smoothing_, static_cast<double>(zeros));
      num_b -= zeros;
    }
    double ret = 0;
    for (std::int64_t i = 0; i < num_b; ++i) {
      ret += slot(last_write_ - i) * multiplier;
      multiplier *= 1 - smoothing_;
    }
    return ret;
  }

  Duration window_;
  Duration granularity_;
  KnativeAveraging mode_;
  std::vector<double> buckets_;
  double smoothing_ = 0.2;
  double total_ = 0;
  std::int64_t first_write_ = 0;
  std::int64_t last_write_ = 0;
  bool written_ = false;
  std::uint64_t invalid_ = 0;
  std::uint64_t too_old_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_KNATIVE_WINDOW_HPP
