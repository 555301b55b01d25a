// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// PredictivePolicy (llmscale-predictive): capacity for the load one provisioning lead time
// ahead, because a replica asked for now serves nothing until its cold start is over.
//   lead        cold_start_s + tick_s: when a replica asked for now is ready
//   every bucket (bucket_s, default 60 s): the arrival rate's bucket mean goes to the three
//               forecasters (Holt-Winters, Kalman trend, autoregressive), each one's error at
//               the lead horizon is scored (exponentially weighted mean absolute error), and the
//               plan is made with the chosen one (`forecaster`; `best`: the lowest recent error
//               once each has min_scored scores, the Kalman trend until then; a forecaster
//               planning keeps planning until another's error is 10 % lower):
//               plan = max over h = 1 .. ceil(lead / bucket) + 1 buckets of
//                      llmscale-slo's replicas for the forecast's `quantile` upper bound at h
//               and the token mix forecast as its recent level (an EWMA of bucket means)
//   every tick  replicas = max(plan, the feedback policy's answer on the present)
// The plan spans the whole lead, so capacity is released only when the forecast says it will
// not be needed again before a replacement could be ready, and a scale-up is asked for a lead
// time before the load it serves. The fleet's starting replicas count as capacity at the time
// they will be ready (they are in FleetState::current(), which the governor compares with);
// `shortfall()` reports, at each bucket, how far the forecast need exceeds what will be ready
// before a new request could help (FleetState::ready_by), something no decision now can fix.
// The feedback is llmscale-slo by default, or a PidPolicy for measured correction; a feedback
// policy with observe() still sees the governed decision. Buckets missed (no tick in them) are
// filled with the mean of the bucket before them. Per tick: a bucket check and the feedback; the
// forecasting runs once per bucket (amortised in Policy/Predictive/tick).
#ifndef LLMSCALE_POLICY_PREDICTIVE_HPP
#define LLMSCALE_POLICY_PREDICTIVE_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/forecast/forecasters.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/policy/slo.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Which forecaster plans.
enum class ForecasterChoice : std::uint8_t { best, holt_winters, kalman_trend, autoregressive };

struct PredictiveConfig {
  static constexpr const char* config_name = "predictive";
  static constexpr std::array<EnumName<ForecasterChoice>, 4> forecaster_names{
      {{"best", ForecasterChoice::best},
       {"holt_winters", ForecasterChoice::holt_winters},
       {"kalman_trend", ForecasterChoice::kalman_trend},
       {"autoregressive", ForecasterChoice::autoregressive}}};

  double cold_start_s = 300;    ///< request to ready, as the host sees it
  double tick_s = 1;            ///< how often the host ticks
  double bucket_s = 60;         ///< forecasters see one value per bucket
  double quantile = 0.9;        ///< the forecast's upper quantile sized for
  ForecasterChoice forecaster = ForecasterChoice::best;
  double error_weight = 0.05;   ///< weight of each new score in a forecaster's error
  int min_scored = 60;          ///< scores each forecaster needs before `best` compares them
  double token_weight = 0.2;    ///< weight of each bucket's token means in the token forecast

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("cold_start_s", self.cold_start_s, closed(0.0, 86400.0), "seconds from requesting a replica to its serving");
    v("tick_s", self.tick_s, open_closed(0.0, 3600.0), "seconds between ticks");
    v("bucket_s", self.bucket_s, closed(1.0, 3600.0), "seconds per forecast bucket");
    v("quantile", self.quantile, open(0.0, 1.0), "upper quantile of the forecast sized for");
    v("forecaster", self.forecaster, forecaster_names,
      "best (lowest recent error), holt_winters, kalman_trend or autoregressive");
    v("error_weight", self.error_weight, open_closed(0.0, 1.0), "EWMA weight of a forecaster's newest error");
    v("min_scored", self.min_scored, closed(1, 100000), "scores before best compares forecasters");
    v("token_weight", self.token_weight, open_closed(0.0, 1.0), "EWMA weight of a bucket's token means");
  }

  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if ((cold_start_s + tick_s) / bucket_s > 1440) {
      return ConfigProblem{config_name, "cold_start_s", detail::format_number(cold_start_s),
                           "[0, 1440 bucket_s - tick_s]", "makes a lead of more than 1440 buckets (a day of minutes)", 0};
    }
    return std::nullopt;
  }
};

/// The forecasters' own settings.
struct ForecasterConfigs {
  HoltWintersConfig holt_winters;
  KalmanTrendConfig kalman_trend;
  AutoregressiveConfig autoregressive;
};

template <class Feedback = SloPolicy>
class PredictivePolicy {
  static_assert(is_policy_v<Feedback, Signals>, "Feedback must be a policy over llmscale::Signals");

 public:
  static constexpr std::size_t forecaster_count = 3;  // holt_winters, kalman_trend, autoregressive

  /// Sizing by `sizing`, feedback on the present by `feedback`. Allocates everything; throws
  /// std::invalid_argument for an invalid config.
  PredictivePolicy(SloPolicy sizing, Feedback feedback, const PredictiveConfig& config = {},
                   const ForecasterConfigs& forecasters = {})
      : config_((require_valid(config), config)),
        sizing_(std::move(sizing)),
        feedback_(std::move(feedback)),
        holt_winters_(forecasters.holt_winters),
        kalman_(forecasters.kalman_trend),
        autoregressive_(forecasters.autoregressive),
        bucket_(from_seconds(config.bucket_s)),
        lead_(from_seconds(config.cold_start_s + config.tick_s)),
        lead_buckets_(std::max(1, static_cast<int>(std::ceil((config.cold_start_s + config.tick_s) / config.bucket_s - 1e-9)))),
        horizon_(lead_buckets_ + 1),
        tokens_{sizing_.config().default_input_tokens, sizing_.config().default_output_tokens} {
    for (auto& ring : predictions_) ring.assign(static_cast<std::size_t>(lead_buckets_) + 1, nan());
  }

  /// llmscale-slo as the feedback too.
  explicit PredictivePolicy(SloPolicy sizing, const PredictiveConfig& config = {}, const ForecasterConfigs& forecasters = {})
      : PredictivePolicy(sizing, sizing, config, forecasters) {}

  [[nodiscard]] const char* name() const noexcept { return "llmscale-predictive"; }
  [[nodiscard]] const PredictiveConfig& config() const noexcept { return config_; }

  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    const Proposal fb = feedback_.propose(now, s, fleet);
    if (s.mean_prompt_tokens >= 1 && s.mean_output_tokens >= 1 && std::isfinite(s.mean_prompt_tokens) &&
        std::isfinite(s.mean_output_tokens)) {
      token_sum_[0] += std::min(s.mean_prompt_tokens, 1e7);
      token_sum_[1] += std::min(s.mean_output_tokens, 1e7);
      ++token_samples_;
    }
    const double rate = std::isfinite(s.arrival_rate) && s.arrival_rate >= 0 ? s.arrival_rate : nan();
    if (rates_.add(now, rate)) close_bucket(rates_.closed(), rates_.gap(), now, fleet);

    const double feedback = std::isfinite(fb.raw) ? fb.raw : static_cast<double>(fb.replicas);
    Proposal p{name(), fb.replicas, feedback, fb.reason};
    if (planned_ > feedback) {
      p.raw = planned_;
      p.replicas = static_cast<int>(std::min(1e6, std::ceil(planned_ - 1e-9)));
      p.reason = shortfall_ > 0 ? "forecast: for the load a lead time ahead (short until starting replicas are ready)"
                                : "forecast: for the load a lead time ahead";
    }
    return p;
  }

  /// The governed decision, passed on to a feedback policy that wants it (a PID).
  void observe(const Decision& d) noexcept { observe_decision(feedback_, d); }

  /// Raw replicas the last plan asked for (0 before the first bucket closed).
  [[nodiscard]] double planned() const noexcept { return planned_; }
  /// At the last bucket: the most replicas the forecast needs, before a replica asked for now
  /// could be ready, beyond those ready or starting by then (0: none short).
  [[nodiscard]] double shortfall() const noexcept { return shortfall_; }
  /// The forecaster the last plan used.
  [[nodiscard]] ForecasterChoice planning_forecaster() const noexcept { return chosen_; }
  /// A forecaster's recent mean absolute error at the lead horizon (requests/s; NaN: unscored).
  [[nodiscard]] double forecast_error(ForecasterChoice f) const noexcept {
    const int i = index(f);
    return i >= 0 && scored_[static_cast<std::size_t>(i)] > 0 ? errors_[static_cast<std::size_t>(i)] : nan();
  }
  /// The forecast of the planning forecaster h buckets ahead.
  [[nodiscard]] Forecast forecast(int h) const noexcept { return forecast_with(chosen_, h); }
  [[nodiscard]] int lead_buckets() const noexcept { return lead_buckets_; }
  [[nodiscard]] Feedback& feedback() noexcept { return feedback_; }

 private:
  static constexpr double nan() noexcept { return std::numeric_limits<double>::quiet_NaN(); }
  static int index(ForecasterChoice f) noexcept {
    switch (f) {
      case ForecasterChoice::holt_winters: return 0;
      case ForecasterChoice::kalman_trend: return 1;
      case ForecasterChoice::autoregressive: return 2;
      case ForecasterChoice::best: return -1;
    }
    return -1;
  }
  static ForecasterChoice choice(std::size_t i) noexcept {
    return i == 0 ? ForecasterChoice::holt_winters : i == 1 ? ForecasterChoice::kalman_trend : ForecasterChoice::autoregressive;
  }
  Forecast forecast_with(ForecasterChoice f, int h) const noexcept {
    switch (f) {
      case ForecasterChoice::holt_winters: return holt_winters_.forecast(h, config_.quantile);
      case ForecasterChoice::autoregressive: return autoregressive_.forecast(h, config_.quantile);
      default: return kalman_.forecast(h, config_.quantile);
    }
  }

  void close_bucket(double rate, std::int64_t gap, TimePoint now, const FleetState& fleet) noexcept {
    if (token_samples_ > 0) {
      const double w = config_.token_weight;
      tokens_.input_tokens += w * (token_sum_[0] / token_samples_ - tokens_.input_tokens);
      tokens_.output_tokens += w * (token_sum_[1] / token_samples_ - tokens_.output_tokens);
    }
    token_sum_ = {0, 0};
    token_samples_ = 0;
    if (!std::isfinite(rate)) return;
    // buckets with no tick: filled with this one's mean (at most a season's worth)
    const std::int64_t fill = std::min<std::int64_t>(gap, 1440);
    for (std::int64_t k = 0; k <= fill; ++k) learn(rate);
    plan(now, fleet);
  }

  void learn(double x) noexcept {
    const std::size_t slot = static_cast<std::size_t>(buckets_ % static_cast<std::int64_t>(predictions_[0].size()));
    for (std::size_t f = 0; f < forecaster_count; ++f) {
      const double predicted = predictions_[f][slot];  // made lead_buckets_ ago for this bucket
      if (std::isfinite(predicted)) {
        const double error = std::fabs(x - predicted);
        errors_[f] = scored_[f] == 0 ? error : errors_[f] + config_.error_weight * (error - errors_[f]);
        ++scored_[f];
      }
    }
    holt_winters_.update(x);
    kalman_.update(x);
    autoregressive_.update(x);
    ++buckets_;
    // forecasts for the bucket lead_buckets_ from now, to score when it comes
    const std::size_t ahead =
        static_cast<std::size_t>((buckets_ + lead_buckets_ - 1) % static_cast<std::int64_t>(predictions_[0].size()));
    for (std::size_t f = 0; f < forecaster_count; ++f) predictions_[f][ahead] = forecast_with(choice(f), lead_buckets_).mean;
  }

  void plan(TimePoint now, const FleetState& fleet) noexcept {
    const ForecasterChoice previous = chosen_;
    chosen_ = config_.forecaster;
    if (chosen_ == ForecasterChoice::best) {
      chosen_ = ForecasterChoice::kalman_trend;
      bool all_scored = true;
      for (std::size_t f = 0; f < forecaster_count; ++f) all_scored = all_scored && scored_[f] >= config_.min_scored;
      if (all_scored) {
        std::size_t best = 0;
        for (std::size_t f = 1; f < forecaster_count; ++f) {
          if (errors_[f] < errors_[best]) best = f;
        }
        // the one planning keeps planning unless another is clearly better: near-ties do not
        // switch the plan back and forth
        const int held = index(previous);
        if (held >= 0 && errors_[best] >= 0.9 * errors_[static_cast<std::size_t>(held)]) {
          best = static_cast<std::size_t>(held);
        }
        chosen_ = choice(best);
      }
    }
    double need = 0, short_by = 0;
    for (int h = 1; h <= horizon_; ++h) {
      const Forecast fc = forecast_with(chosen_, h);
      const double upper = std::max(0.0, fc.upper);
      const double r = sizing_.replicas_for(upper, 0, tokens_);
      if (!std::isfinite(r)) continue;
      need = std::max(need, r);
      if (h < lead_buckets_) {  // before a replica asked for now could serve
        const int ready = fleet.ready_by(now + bucket_ * h, lead_);
        short_by = std::max(short_by, r - static_cast<double>(ready));
      }
    }
    planned_ = need;
    shortfall_ = short_by;
  }

  PredictiveConfig config_;
  SloPolicy sizing_;
  Feedback feedback_;
  HoltWinters holt_winters_;
  KalmanTrend kalman_;
  Autoregressive autoregressive_;
  Duration bucket_;
  Duration lead_;
  int lead_buckets_;
  int horizon_;
  Bucketer rates_{bucket_};
  TokenLengths tokens_;
  std::array<double, 2> token_sum_{0, 0};
  int token_samples_ = 0;
  std::array<std::vector<double>, forecaster_count> predictions_;
  std::array<double, forecaster_count> errors_{};
  std::array<std::int64_t, forecaster_count> scored_{};
  std::int64_t buckets_ = 0;
  ForecasterChoice chosen_ = ForecasterChoice::kalman_trend;
  double planned_ = 0;
  double shortfall_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_PREDICTIVE_HPP
