// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// What every forecaster gives, and how their uncertainty is taken from their own residuals.
//
// Forecasters see one value per bucket (a minute of arrival rate by default) through
// `update(value)` and answer `forecast(h, q)` for h >= 1 buckets ahead: the mean and the
// q-quantile upper bound. The upper bound is mean + z_q s sqrt(h), with s the root mean square
// of the forecaster's recent one-step residuals (an exponentially weighted estimate) and z_q
// the normal quantile: exact for a random walk's error growth, a documented approximation
// otherwise. `Bucketer` turns per-tick samples into bucket means for them.
#ifndef LLMSCALE_FORECAST_FORECAST_HPP
#define LLMSCALE_FORECAST_FORECAST_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A forecast h buckets ahead.
struct Forecast {
  double mean = 0;   ///< the expected value
  double upper = 0;  ///< the q-quantile upper bound
};

namespace detail {

/// z such that P(N(0,1) <= z) = q, for q in (0, 1) (Acklam's rational approximation, relative
/// error below 1.2e-9).
inline double normal_quantile(double q) noexcept {
  if (!(q > 0 && q < 1)) return q >= 1 ? 40.0 : -40.0;
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  const double lo = 0.02425;
  if (q < lo) {
    const double t = std::sqrt(-2 * std::log(q));
    return (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
           ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
  }
  if (q > 1 - lo) return -normal_quantile(1 - q);
  const double r = q - 0.5, s = r * r;
  return (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r /
         (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1);
}

/// The exponentially weighted mean square of one-step residuals (weight 1/n while n < 1/w).
class ResidualScale {
 public:
  explicit ResidualScale(double weight = 0.02) noexcept : weight_(weight) {}
  void add(double residual) noexcept {
    if (!std::isfinite(residual)) return;
    ++n_;
    const double w = std::max(weight_, 1.0 / static_cast<double>(n_));
    mean_square_ += w * (residual * residual - mean_square_);
  }
  [[nodiscard]] double rms() const noexcept { return std::sqrt(mean_square_); }
  [[nodiscard]] Forecast bound(double mean, int h, double q) const noexcept {
    return Forecast{mean, mean + normal_quantile(q) * rms() * std::sqrt(static_cast<double>(h < 1 ? 1 : h))};
  }
  [[nodiscard]] double mean_square() const noexcept { return mean_square_; }
  [[nodiscard]] std::uint64_t count() const noexcept { return n_; }
  void restore(double mean_square, std::uint64_t n) noexcept {
    mean_square_ = mean_square;
    n_ = n;
  }

 private:
  double weight_;
  double mean_square_ = 0;
  std::uint64_t n_ = 0;
};

}  // namespace detail

/// Per-tick samples into bucket means: `add(now, value)` returns true when a bucket closed;
/// then `closed()` is its mean and `gap()` how many empty buckets preceded `now`'s.
class Bucketer {
 public:
  /// Buckets of `bucket` each, aligned to the clock's epoch.
  explicit Bucketer(Duration bucket) noexcept : bucket_(bucket) {}
  /// Adds a sample to `now`'s bucket; true when that closed the previous one. Non-finite
  /// values and samples older than the open bucket are ignored.
  bool add(TimePoint now, double value) noexcept {
    if (!std::isfinite(value)) return false;
    const std::int64_t b = detail::bucket_index(now, bucket_);
    bool closed = false;
    if (started_ && b > current_) {
      closed_ = count_ > 0 ? sum_ / count_ : 0;
      gap_ = b - current_ - 1;
      sum_ = 0;
      count_ = 0;
      closed = true;
    }
    if (!started_ || b >= current_) {
      started_ = true;
      current_ = b;
      sum_ += value;
      ++count_;
    }
    return closed;
  }
  /// The mean of the bucket that closed last (0 before any).
  [[nodiscard]] double closed() const noexcept { return closed_; }
  /// The empty buckets between the one that closed last and the open one.
  [[nodiscard]] std::int64_t gap() const noexcept { return gap_; }
  /// The bucket width.
  [[nodiscard]] Duration bucket() const noexcept { return bucket_; }

  /// The open bucket, its start written as an age at `now` (see detail::StateWriter).
  [[nodiscard]] std::string save_state(TimePoint now) const {
    detail::StateWriter w("bucketer/1");
    const TimePoint start(bucket_ * current_);
    w << started_ << (started_ ? to_seconds(now - start) : 0.0) << static_cast<long long>(gap_) << sum_ << closed_ << count_;
    return std::move(w).str();
  }
  /// Restores what save_state wrote, the open bucket the one `age` before `now` falls in
  /// (the same bucket on the same clock); false (nothing changed) when it is not such a state.
  bool load_state(std::string_view state, TimePoint now) {
    detail::StateReader r(state, "bucketer/1");
    bool started = false;
    double age = 0, sum = 0, closed = 0;
    long long gap = 0;
    int count = 0;
    r >> started >> age >> gap >> sum >> closed >> count;
    r.require_finite(age, sum, closed);
    if (!r.done() || age < 0 || age > 1e9 || gap < 0 || count < 0) return false;
    started_ = started;
    current_ = started ? detail::bucket_index(now - from_seconds(age), bucket_) : 0;
    gap_ = gap;
    sum_ = sum;
    closed_ = closed;
    count_ = count;
    return true;
  }

 private:
  Duration bucket_;
  bool started_ = false;
  std::int64_t current_ = 0, gap_ = 0;
  double sum_ = 0, closed_ = 0;
  int count_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_FORECAST_FORECAST_HPP
