// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// RecursiveLeastSquares<N>: y ~ x . theta fitted online with a forgetting factor, so the fit
// follows a drifting system; fixed-size Eigen matrices, no allocation per update.
//
// Outlier rejection (innovation gating): once `warmup` samples are in, a sample whose
// normalised innovation squared e^2 / (s^2 (1 + x' P x / lambda)) exceeds `gate` (default 9:
// three standard deviations) is rejected and counted, where s^2 estimates the noise variance
// from past standardised innovations. A run of `reset_after` consecutive rejections means the
// system itself changed (a step, not an outlier): the covariance is re-inflated and the next
// sample is taken, so the fit tracks the new coefficients.
//
// OnlineIterationModel wraps it for an engine's iteration time:
//     iteration_s ~ a + b batch + c context_tokens + d prefill_tokens
#ifndef LLMSCALE_MODEL_RLS_HPP
#define LLMSCALE_MODEL_RLS_HPP

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// RecursiveLeastSquares' settings.
struct RlsConfig {
  double forgetting = 0.995;        ///< lambda in (0, 1]: 1 never forgets
  double initial_covariance = 1e6;  ///< P0 = this x I: large means "know nothing"
  double gate = 9.0;                ///< normalised innovation squared above this is an outlier
  int warmup = 20;                  ///< samples taken before gating starts
  int reset_after = 8;              ///< consecutive rejections taken as a change of the system

  /// Throws std::invalid_argument naming the first field out of range.
  void validate() const {
    detail::check_arg(forgetting > 0 && forgetting <= 1, "rls", "forgetting", forgetting, "(0, 1]");
    detail::check_arg(initial_covariance > 0 && std::isfinite(initial_covariance), "rls", "initial_covariance",
                      initial_covariance, "(0, inf)");
    detail::check_arg(gate > 0 && std::isfinite(gate), "rls", "gate", gate, "(0, inf)");
    detail::check_arg(warmup >= 0, "rls", "warmup", warmup, "[0, inf)");
    detail::check_arg(reset_after >= 1, "rls", "reset_after", reset_after, "[1, inf)");
  }
};

/// y ~ x . theta for N features, fitted online with forgetting and outlier gating (see the top
/// of this file).
template <int N>
class RecursiveLeastSquares {
 public:
  using Vector = Eigen::Matrix<double, N, 1>;  ///< features x, or coefficients theta
  using Matrix = Eigen::Matrix<double, N, N>;  ///< the covariance P

  /// Starts from the coefficients `initial`; throws std::invalid_argument for an invalid config.
  explicit RecursiveLeastSquares(const RlsConfig& config = {}, const Vector& initial = Vector::Zero())
      : config_((config.validate(), config)), theta_(initial) {
    p_ = Matrix::Identity() * config_.initial_covariance;
  }

  /// Takes one sample; false (and counted) when it is non-finite or gated as an outlier.
  bool update(const Vector& x, double y) noexcept {
    if (!std::isfinite(y) || !x.allFinite()) {
      ++rejected_;
      return false;
    }
    const double e = y - x.dot(theta_);
    const Vector px = p_ * x;
    const double xpx = x.dot(px);
    const double denom = config_.forgetting + xpx;
    if (samples_ >= config_.warmup && variance_ > 0) {
      const double nis = e * e / (variance_ * (1.0 + xpx / config_.forgetting));
      if (nis > config_.gate) {
        ++rejected_;
        if (++consecutive_rejections_ < config_.reset_after) return false;
        // the system changed: forget what was learnt about the coefficients' certainty
        p_ = Matrix::Identity() * config_.initial_covariance;
        variance_ = 0;
        samples_ = 0;
        return update(x, y);
      }
    }
    consecutive_rejections_ = 0;
    const Vector gain = px / denom;
    theta_ += gain * e;
    p_ = (p_ - gain * px.transpose()) / config_.forgetting;
    p_ = 0.5 * (p_ + p_.transpose());  // keep it symmetric against rounding
    // the residual variance from standardised innovations (expected value: the noise variance):
    // a plain mean during the warm-up, then weighted like the fit
    const double standardised = e * e / (1.0 + xpx / config_.forgetting);
    const double w = samples_ < config_.warmup ? 1.0 / (samples_ + 1) : 1.0 - config_.forgetting;
    variance_ += w * (standardised - variance_);
    ++samples_;
    ++accepted_;
    return true;
  }

  /// theta: the fitted coefficients.
  [[nodiscard]] const Vector& coefficients() const noexcept { return theta_; }
  /// x . theta.
  [[nodiscard]] double predict(const Vector& x) const noexcept { return x.dot(theta_); }
  /// s^2: the noise variance estimated from the standardised innovations (0 before any sample).
  [[nodiscard]] double residual_variance() const noexcept { return variance_; }
  /// Samples taken into the fit.
  [[nodiscard]] std::uint64_t accepted() const noexcept { return accepted_; }
  /// Samples refused: non-finite or gated (the one that triggers a reset is counted here, then
  /// taken).
  [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_; }

 private:
  RlsConfig config_;
  Vector theta_;
  Matrix p_;
  double variance_ = 0;
  int samples_ = 0;
  int consecutive_rejections_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t rejected_ = 0;
};

/// An engine's iteration time, learnt online from what it reports each iteration.
class OnlineIterationModel {
 public:
  using Rls = RecursiveLeastSquares<4>;  ///< the fit of (a, b, c, d)

  /// Throws std::invalid_argument for an invalid config.
  explicit OnlineIterationModel(const RlsConfig& config = {}) : rls_(config) {}

  /// One observed iteration: `batch` running requests holding `context_tokens` in all, with
  /// `prefill_tokens` prompt tokens prefilled in it, took `iteration_s`. False when rejected.
  bool observe(double batch, double context_tokens, double prefill_tokens, double iteration_s) noexcept {
    if (!(batch >= 0 && context_tokens >= 0 && prefill_tokens >= 0 && iteration_s > 0)) {
      rls_.update(Rls::Vector::Constant(std::nan("")), 0);  // counted as rejected
      return false;
    }
    return rls_.update(features(batch, context_tokens, prefill_tokens), iteration_s);
  }
  /// The predicted iteration time in seconds (never negative).
  [[nodiscard]] double iteration_s(double batch, double context_tokens, double prefill_tokens) const noexcept {
    const double t = rls_.predict(features(batch, context_tokens, prefill_tokens));
    return t > 0 ? t : 0.0;
  }
  /// a, b, c, d of the model above.
  [[nodiscard]] const Rls::Vector& coefficients() const noexcept { return rls_.coefficients(); }
  /// The underlying fit, with its counts and residual variance.
  [[nodiscard]] const Rls& rls() const noexcept { return rls_; }

 private:
  static Rls::Vector features(double batch, double context_tokens, double prefill_tokens) noexcept {
    Rls::Vector x;
    x << 1.0, batch, context_tokens, prefill_tokens;
    return x;
  }
  Rls rls_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_RLS_HPP
