// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// KalmanTrend: a local-linear-trend Kalman filter, state (level, slope):
//   level' = level + slope + w1,  slope' = slope + w2,  x = level + v
// with Var(v) = R estimated online from the innovations' mean square and Var(w1) = level_noise R,
// Var(w2) = slope_noise R. forecast(h) = level + h slope. Fixed-size Eigen; no allocation.
#ifndef LLMSCALE_FORECAST_KALMAN_TREND_HPP
#define LLMSCALE_FORECAST_KALMAN_TREND_HPP

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/forecast/forecast.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// KalmanTrend's settings.
struct KalmanTrendConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "kalman_trend";
  double level_noise = 0.05;   ///< level process variance as a share of the observation variance
  double slope_noise = 1e-4;   ///< slope process variance, the same way

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("level_noise", self.level_noise, closed(0.0, 100.0), "level process variance / observation variance");
    v("slope_noise", self.slope_noise, closed(0.0, 100.0), "slope process variance / observation variance");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// A local-linear-trend Kalman filter forecaster (see the top of this file).
class KalmanTrend {
 public:
  /// Throws std::invalid_argument for an invalid config.
  explicit KalmanTrend(const KalmanTrendConfig& config = {}) : config_((require_valid(config), config)) {
    p_ = Eigen::Matrix2d::Identity() * 1e12;
  }

  /// The next bucket's value (non-finite values are ignored); the first one sets the level.
  void update(double x) noexcept {
    if (!std::isfinite(x)) return;
    if (n_ == 0) {
      state_ << x, 0.0;
      ++n_;
      return;
    }
    // predict
    Eigen::Matrix2d f;
    f << 1, 1, 0, 1;
    const double r = std::max(observation_var_, 1e-12);
    Eigen::Matrix2d q = Eigen::Matrix2d::Zero();
    q(0, 0) = config_.level_noise * r;
    q(1, 1) = config_.slope_noise * r;
    state_ = f * state_;
    p_ = f * p_ * f.transpose() + q;
    // update
    const double innovation = x - state_(0);
    residuals_.add(innovation);
    const double s = p_(0, 0) + r;
    const Eigen::Vector2d k = p_.col(0) / s;
    state_ += k * innovation;
    p_ -= k * p_.row(0);
    // the observation variance from the innovations (an upper estimate: E[e^2] = P00 + R)
    const double w = n_ < 50 ? 1.0 / static_cast<double>(n_) : 0.02;
    observation_var_ += w * (innovation * innovation - observation_var_);
    ++n_;
  }

  /// The forecast `h` (>= 1) buckets ahead, level + h slope, with its q-quantile upper bound.
  [[nodiscard]] Forecast forecast(int h, double q = 0.9) const noexcept {
    if (h < 1) h = 1;
    return residuals_.bound(state_(0) + h * state_(1), h, q);
  }
  /// The filtered level (0 before the first value).
  [[nodiscard]] double level() const noexcept { return state_(0); }
  /// The filtered slope, per bucket.
  [[nodiscard]] double slope() const noexcept { return state_(1); }

  /// The state, its covariance, the observation variance and the residual scale, as text for
  /// load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("kalman_trend/1");
    w << static_cast<long long>(n_) << state_(0) << state_(1) << p_(0, 0) << p_(0, 1) << p_(1, 0) << p_(1, 1)
      << observation_var_ << residuals_.mean_square() << static_cast<long long>(residuals_.count());
    return std::move(w).str();
  }
  /// Restores what save_state wrote; false (nothing changed) when `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, "kalman_trend/1");
    long long n = 0, count = 0;
    double a = 0, b = 0, p00 = 0, p01 = 0, p10 = 0, p11 = 0, ov = 0, ms = 0;
    r >> n >> a >> b >> p00 >> p01 >> p10 >> p11 >> ov >> ms >> count;
    r.require_finite(a, b, p00, p01, p10, p11, ov, ms);
    if (!r.ok() || !r.done() || n < 0 || count < 0 || p00 < 0 || p11 < 0 || ov < 0 || ms < 0) return false;
    n_ = n;
    state_ << a, b;
    p_ << p00, p01, p10, p11;
    observation_var_ = ov;
    residuals_.restore(ms, static_cast<std::uint64_t>(count));
    return true;
  }

 private:
  KalmanTrendConfig config_;
  Eigen::Vector2d state_ = Eigen::Vector2d::Zero();
  Eigen::Matrix2d p_;
  double observation_var_ = 0;
  long long n_ = 0;
  detail::ResidualScale residuals_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_FORECAST_KALMAN_TREND_HPP
