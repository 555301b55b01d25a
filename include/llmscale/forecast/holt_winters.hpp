// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// HoltWinters: additive Holt-Winters (level, trend, a season of `season_buckets`, by default a
// day of minutes). The first season is used to start it (level = its mean, season = the
// deviations from it, trend 0); until then it forecasts the running mean.
//   level_t  = alpha (x_t - s_{t-m}) + (1 - alpha)(level + trend)
//   trend_t  = beta (level_t - level_{t-1}) + (1 - beta) trend
//   s_t      = gamma (x_t - level_t) + (1 - gamma) s_{t-m}
//   forecast(h) = level + h trend + s_{t+h-m}   (h up to a season)
// Memory: the season, allocated at construction; updates allocate nothing.
#ifndef LLMSCALE_FORECAST_HOLT_WINTERS_HPP
#define LLMSCALE_FORECAST_HOLT_WINTERS_HPP

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/forecast/forecast.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// HoltWinters' settings.
struct HoltWintersConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "holt_winters";
  double alpha = 0.1;     ///< level smoothing, (0, 1]
  double beta = 0.005;    ///< trend smoothing, [0, 1] (0: the trend stays 0)
  double gamma = 0.2;     ///< season smoothing, [0, 1] (0: the first season is kept)
  int season_buckets = 1440;  ///< a day of 60 s buckets

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("alpha", self.alpha, open_closed(0.0, 1.0), "level smoothing");
    v("beta", self.beta, closed(0.0, 1.0), "trend smoothing");
    v("gamma", self.gamma, closed(0.0, 1.0), "season smoothing");
    v("season_buckets", self.season_buckets, closed(2, 100000), "buckets per season");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// An additive Holt-Winters forecaster: level, trend and season (see the top of this file).
class HoltWinters {
 public:
  /// Allocates the season; throws std::invalid_argument for an invalid config.
  explicit HoltWinters(const HoltWintersConfig& config = {})
      : config_((require_valid(config), config)), season_(static_cast<std::size_t>(config.season_buckets), 0.0) {}

  /// The next bucket's value (non-finite values are ignored).
  void update(double x) noexcept {
    if (!std::isfinite(x)) return;
    const auto m = season_.size();
    const std::size_t slot = static_cast<std::size_t>(t_ % static_cast<std::int64_t>(m));
    if (t_ < static_cast<std::int64_t>(m)) {  // the first season: collect it
      residuals_.add(t_ > 0 ? x - level_ : 0.0);
      season_[slot] = x;
      level_ += (x - level_) / static_cast<double>(t_ + 1);
      if (t_ + 1 == static_cast<std::int64_t>(m)) {
        for (double& s : season_) s -= level_;
      }
      ++t_;
      return;
    }
    const double predicted = level_ + trend_ + season_[slot];
    residuals_.add(x - predicted);
    const double previous_level = level_;
    level_ = config_.alpha * (x - season_[slot]) + (1 - config_.alpha) * (level_ + trend_);
    trend_ = config_.beta * (level_ - previous_level) + (1 - config_.beta) * trend_;
    season_[slot] = config_.gamma * (x - level_) + (1 - config_.gamma) * season_[slot];
    ++t_;
  }

  /// The forecast `h` (>= 1) buckets ahead with its q-quantile upper bound.
  [[nodiscard]] Forecast forecast(int h, double q = 0.9) const noexcept {
    if (h < 1) h = 1;
    const auto m = static_cast<std::int64_t>(season_.size());
    if (t_ < m) return residuals_.bound(level_, h, q);
    const std::size_t slot = static_cast<std::size_t>((t_ + h - 1) % m);
    return residuals_.bound(level_ + h * trend_ + season_[slot], h, q);
  }

  /// How many finite values update() has taken.
  [[nodiscard]] std::int64_t updates() const noexcept { return t_; }
  /// The root mean square of the recent one-step residuals (the forecasts' spread).
  [[nodiscard]] double residual_rms() const noexcept { return residuals_.rms(); }

  /// The level, trend, season and residual scale, as text for load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("holt_winters/1");
    w << static_cast<long long>(season_.size()) << static_cast<long long>(t_) << level_ << trend_
      << residuals_.mean_square() << static_cast<long long>(residuals_.count());
    for (double s : season_) w << s;
    return std::move(w).str();
  }
  /// Restores what save_state wrote (with the same season_buckets); false (nothing changed)
  /// when `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, "holt_winters/1");
    long long m = 0, t = 0, n = 0;
    double level = 0, trend = 0, ms = 0;
    r >> m >> t >> level >> trend >> ms >> n;
    r.require_finite(level, trend, ms);
    if (!r.ok() || m != static_cast<long long>(season_.size()) || t < 0 || n < 0 || ms < 0) return false;
    std::vector<double> season(season_.size());
    for (double& s : season) r.require_finite((r >> s, s));
    if (!r.ok() || !r.done()) return false;
    season_ = std::move(season);
    t_ = t;
    level_ = level;
    trend_ = trend;
    residuals_.restore(ms, static_cast<std::uint64_t>(n));
    return true;
  }

 private:
  HoltWintersConfig config_;
  std::vector<double> season_;
  std::int64_t t_ = 0;
  double level_ = 0, trend_ = 0;
  detail::ResidualScale residuals_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_FORECAST_HOLT_WINTERS_HPP
