// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Autoregressive: x_t = c + a_1 x_{t-1} + ... + a_p x_{t-p} + e_t, refit by least squares on a
// rolling window of the last `window` buckets every `refit_every` buckets (normal equations,
// solved by an LDLT of the (p+1) x (p+1) Gram matrix with a tiny ridge). All matrices are
// allocated at construction; `update` and `forecast` allocate nothing (tested with
// EIGEN_RUNTIME_NO_MALLOC). forecast(h) iterates the fitted recursion h steps.
#ifndef LLMSCALE_FORECAST_AUTOREGRESSIVE_HPP
#define LLMSCALE_FORECAST_AUTOREGRESSIVE_HPP

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/forecast/forecast.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Autoregressive's settings.
struct AutoregressiveConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "autoregressive";
  int order = 4;          ///< lags p, [1, 64]
  int window = 720;       ///< buckets the fit uses (12 h of minutes)
  int refit_every = 10;   ///< buckets between refits

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("order", self.order, closed(1, 64), "lags p");
    v("window", self.window, closed(8, 100000), "buckets in the rolling fit");
    v("refit_every", self.refit_every, closed(1, 100000), "buckets between refits");
  }
  /// The first field out of range, or a window shorter than 4 (order + 1), or nullopt (never
  /// throws).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (window < 4 * (order + 1)) {
      return ConfigProblem{config_name, "window", std::to_string(window), "[4 (order + 1), 100000]",
                           "is too short for the order", 0};
    }
    return std::nullopt;
  }
};

/// An AR(p) forecaster refit by least squares on a rolling window (see the top of this file).
class Autoregressive {
 public:
  /// Allocates its history and matrices; throws std::invalid_argument for an invalid config.
  explicit Autoregressive(const AutoregressiveConfig& config = {})
      : config_((require_valid(config), config)),
        p_(config.order),
        history_(static_cast<std::size_t>(config.window + config.order), 0.0),
        gram_(p_ + 1, p_ + 1),
        rhs_(p_ + 1),
        coef_(Eigen::VectorXd::Zero(p_ + 1)),
        row_(p_ + 1),
        ldlt_(p_ + 1) {
    // a first factorisation sets every member of the LDLT (its status included, which Eigen
    // leaves uninitialised until then: copying the forecaster would read it)
    gram_.setIdentity();
    ldlt_.compute(gram_);
    gram_.setZero();
    rhs_.setZero();
    row_.setZero();
  }

  /// The next bucket's value (non-finite values are ignored); refits when due, first once
  /// order + 4 (order + 1) values are in.
  void update(double x) noexcept {
    if (!std::isfinite(x)) return;
    if (fitted_) residuals_.add(x - predict_next());
    history_[static_cast<std::size_t>(n_ % static_cast<long long>(history_.size()))] = x;
    ++n_;
    if (n_ >= config_.order + 4 * (config_.order + 1) && (n_ % config_.refit_every == 0 || !fitted_)) refit();
  }

  /// The forecast `h` (>= 1) buckets ahead with its q-quantile upper bound; until the first
  /// fit, the newest value.
  [[nodiscard]] Forecast forecast(int h, double q = 0.9) const noexcept {
    if (h < 1) h = 1;
    if (!fitted_) return residuals_.bound(n_ > 0 ? at(n_ - 1) : 0.0, h, q);
    double lags[max_order];  // lags[0]: the newest value
    for (int i = 0; i < p_; ++i) lags[i] = at(n_ - 1 - i);
    double next = 0;
    for (int step = 0; step < h; ++step) {
      next = coef_(0);
      for (int i = 0; i < p_; ++i) next += coef_(i + 1) * lags[i];
      for (int i = p_ - 1; i > 0; --i) lags[i] = lags[i - 1];
      lags[0] = next;
    }
    // coefficients that diverge over the horizon forecast the newest value, never infinity
    if (!std::isfinite(next)) next = at(n_ - 1);
    return residuals_.bound(next, h, q);
  }

  /// c, a_1 .. a_p of the last fit.
  [[nodiscard]] const Eigen::VectorXd& coefficients() const noexcept { return coef_; }
  /// Whether a fit has been made yet.
  [[nodiscard]] bool fitted() const noexcept { return fitted_; }

  /// The history, the coefficients and the residual scale, as text for load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("autoregressive/1");
    w << static_cast<long long>(p_) << static_cast<long long>(history_.size()) << n_ << fitted_
      << residuals_.mean_square() << static_cast<long long>(residuals_.count());
    for (Eigen::Index i = 0; i < coef_.size(); ++i) w << coef_(i);
    for (double v : history_) w << v;
    return std::move(w).str();
  }
  /// Restores what save_state wrote (with the same order and window); false (nothing changed)
  /// when `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, "autoregressive/1");
    long long p = 0, size = 0, n = 0, count = 0;
    bool fitted = false;
    double ms = 0;
    r >> p >> size >> n >> fitted >> ms >> count;
    r.require_finite(ms);
    if (!r.ok() || p != p_ || size != static_cast<long long>(history_.size()) || n < 0 || count < 0 || ms < 0) {
      return false;
    }
    Eigen::VectorXd coef(p_ + 1);
    for (Eigen::Index i = 0; i < coef.size(); ++i) r.require_finite((r >> coef(i), coef(i)));
    std::vector<double> history(history_.size());
    for (double& v : history) r.require_finite((r >> v, v));
    // a fit needs order + 4 (order + 1) values (update()): a state claiming one with fewer would
    // read lags before the first
    if (!r.ok() || !r.done() || (fitted && n < p_ + 4 * (p_ + 1))) return false;
    coef_ = coef;
    history_ = std::move(history);
    n_ = n;
    fitted_ = fitted;
    residuals_.restore(ms, static_cast<std::uint64_t>(count));
    return true;
  }

 private:
  static constexpr int max_order = 64;  // AutoregressiveConfig::order's bound

  [[nodiscard]] double at(long long t) const noexcept {
    return history_[static_cast<std::size_t>(t % static_cast<long long>(history_.size()))];
  }
  [[nodiscard]] double predict_next() const noexcept {
    double next = coef_(0);
    for (int i = 0; i < p_; ++i) next += coef_(i + 1) * at(n_ - 1 - i);
    return next;
  }
  void refit() noexcept {
    const long long rows = std::min<long long>(config_.window, n_ - p_);
    gram_.setZero();
    rhs_.setZero();
    for (long long t = n_ - rows; t < n_; ++t) {
      row_(0) = 1.0;
      for (int i = 0; i < p_; ++i) row_(i + 1) = at(t - 1 - i);
      gram_.noalias() += row_ * row_.transpose();
      rhs_.noalias() += row_ * at(t);
    }
    const double ridge = 1e-9 * std::max(1.0, gram_.diagonal().maxCoeff());
    gram_.diagonal().array() += ridge;
    ldlt_.compute(gram_);
    if (ldlt_.info() != Eigen::Success) return;
    coef_ = ldlt_.solve(rhs_);
    fitted_ = coef_.allFinite();
    if (!fitted_) coef_.setZero();
  }

  AutoregressiveConfig config_;
  int p_;
  std::vector<double> history_;  // a ring of window + p values
  Eigen::MatrixXd gram_;
  Eigen::VectorXd rhs_;
  Eigen::VectorXd coef_;
  Eigen::VectorXd row_;
  Eigen::LDLT<Eigen::MatrixXd> ldlt_;
  long long n_ = 0;
  bool fitted_ = false;
  detail::ResidualScale residuals_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_FORECAST_AUTOREGRESSIVE_HPP
