// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// (Over 500 lines: one concept, the planner, with the save and load of all it learns.)
//
// PredictivePolicy (llmscale-predictive): a calibrated lead-time planner. A replica asked for
// now serves nothing until its cold start is over, so every tick it sizes the fleet for the
// load that may come before a replica asked for now could be ready:
//   lead        cold_start_s + tick_s
//   level       the arrival rate now (the signals' windowed rate), or a forecaster's forecast of
//               it a lead ahead where that forecaster has been the better predictor: every
//               bucket (bucket_s, 60 s) the three forecasters (Holt-Winters, Kalman trend,
//               autoregressive) and "last value" are scored at the lead horizon (exponentially
//               weighted mean absolute error, from their min_scored-th score on); with
//               `forecaster = best` the one with the lowest error plans, a forecaster only
//               when it beats last value by 10 %
//   F           the `quantile` of the realised ratio peak / level, where the peak is the
//               largest arrival rate seen over the lead time after a level was taken: sampled
//               every sample_s, kept over ratio_window_s (a rolling, conformal-style bound on
//               how far the load rises within a lead time, learned online from this load);
//               until min_ratios ratios are in, blended with prior_ratio (a documented prior)
//   long band   beside that near band, the long level (the largest rate over long_window_s)
//               x G, G calibrated on the same samples (the smallest multiple that leaves at
//               most `excess` of the load uncovered); of the two, the one that leaves less of
//               the ratio window's load uncovered plans, else the cheaper: bursts shorter than
//               the lead between silences are held through the silences, a gradual load keeps
//               the near band
//   plan        llmscale-slo's replicas for the band at the token mix measured now, means
//               and outputs' spread (the mix last measured where nothing finished in the window),
//               smoothed over mix_time_s (the capacity model: the largest batch within the
//               TPOT target and the KV cache, the rate at which its TTFT quantile meets the
//               target), plus the backlog drained over the time until new capacity can serve
//               (the lead), net of nothing else
//   every tick  replicas = max(plan, the feedback policy's answer on the present); while
//               replicas are starting, no less than its own last plan (those replicas were
//               asked for it) until hold_s has passed since the plan last rose (a dip shorter
//               than that does not cancel them, a longer fall does: with a 20-minute cold
//               start, a plan held while any replica starts is a running maximum for as long
//               as the load keeps rising now and then); before the rate's window has filled
//               once (a bucket), no less than the fleet it found and its own plan (not the
//               fleet: a PID on top adds to it), and before a lead has passed no less than
//               the fleet it found; the level is the part window's rate (from
//               sample_s on) and the mix the window's means, unsmoothed (the first
//               completions are the short ones)
// Because F covers the peak over the whole lead, a scale-down it allows is one the load is
// not expected to reverse before a replacement could be ready; the governor's stabilization
// window holds on top. Starting replicas count as capacity at the time they will be ready:
// they are in FleetState::current(), which the governor compares with. `shortfall()` reports
// how far the plan exceeds what will be ready before a replica asked for now could help
// (FleetState::ready_by), which no decision now can fix.
// The feedback is llmscale-slo by default, or a PidPolicy for measured correction; a feedback
// policy with observe() still sees the governed decision. Per tick: a few comparisons and the
// sizing lookup; F is read off the window's ratios, kept sorted as they come and go, once per
// sample (amortised in Policy/Predictive/tick), the forecasters once per bucket, the two bands
// compared (a pass over the window's samples) every 1/36 of them.
#ifndef LLMSCALE_POLICY_PREDICTIVE_HPP
#define LLMSCALE_POLICY_PREDICTIVE_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/forecast/forecasters.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/policy/slo.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Which predictor sets the level: the lowest recent error (best), a forecaster, or the rate now.
enum class ForecasterChoice : std::uint8_t { best, holt_winters, kalman_trend, autoregressive, last_value };

/// PredictivePolicy's settings.
struct PredictiveConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "predictive";
  /// The spellings of ForecasterChoice in key=value text.
  static constexpr std::array<EnumName<ForecasterChoice>, 5> forecaster_names{
      {{"best", ForecasterChoice::best},
       {"holt_winters", ForecasterChoice::holt_winters},
       {"kalman_trend", ForecasterChoice::kalman_trend},
       {"autoregressive", ForecasterChoice::autoregressive},
       {"last_value", ForecasterChoice::last_value}}};

  double cold_start_s = 300;    ///< request to ready, as the host sees it
  double tick_s = 1;            ///< how often the host ticks
  double bucket_s = 60;         ///< forecasters see one value per bucket
  double quantile = 0.95;       ///< the quantile of the realised peak / level ratio sized for (excess = 0)
  ForecasterChoice forecaster = ForecasterChoice::best;  ///< which predictor sets the level
  double error_weight = 0.05;   ///< weight of each new score in a predictor's error
  int min_scored = 10;          ///< scores each predictor needs before `best` compares them
  double sample_s = 10;         ///< seconds between ratio samples
  double ratio_window_s = 21600;  ///< seconds of ratios the quantile is taken over
  double prior_ratio = 1.45;    ///< F before any ratio is learned
  double max_ratio = 3;         ///< F at most this: a step no lead-time headroom can carry (a 10x flash crowd) is not held for hours
  int min_ratios = 30;          ///< ratios before the learned quantile alone sets F
  double min_level = 0.05;      ///< requests/s below which a level is too small to learn a ratio from
  double excess = 0.01;         ///< >0: F leaves at most this share of the load uncovered on average (instead of `quantile`)
  double level_window_s = 120;  ///< >0: the level is the largest rate over this many seconds
  bool load_weighted = true;    ///< the quantile over requests (each ratio weighted by its level), not over time
  double mix_time_s = 300;      ///< time constant of the token mix sized for (an EWMA of the measured means and spread)
  double hold_s = 300;          ///< while replicas start, the plan is held this long after it last rose
  double long_window_s = 1800;  ///< >0: the long band's level is the largest rate over this many seconds (0: no long band)

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("cold_start_s", self.cold_start_s, closed(0.0, 86400.0), "seconds from requesting a replica to its serving");
    v("tick_s", self.tick_s, open_closed(0.0, 3600.0), "seconds between ticks");
    v("bucket_s", self.bucket_s, closed(1.0, 3600.0), "seconds per forecast bucket");
    v("quantile", self.quantile, open(0.0, 1.0), "quantile of the realised peak / level ratio sized for");
    v("forecaster", self.forecaster, forecaster_names,
      "best (lowest recent error), holt_winters, kalman_trend, autoregressive or last_value");
    v("error_weight", self.error_weight, open_closed(0.0, 1.0), "EWMA weight of a predictor's newest error");
    v("min_scored", self.min_scored, closed(1, 100000), "scores before best compares predictors");
    v("sample_s", self.sample_s, closed(0.1, 3600.0), "seconds between ratio samples");
    v("ratio_window_s", self.ratio_window_s, closed(1.0, 30.0 * 86400.0), "seconds of ratios the quantile is taken over");
    v("prior_ratio", self.prior_ratio, closed(1.0, 100.0), "peak / level ratio before any is learned");
    v("max_ratio", self.max_ratio, closed(1.0, 1000.0), "the largest F");
    v("min_ratios", self.min_ratios, closed(1, 1000000), "ratios before the learned quantile alone decides");
    v("min_level", self.min_level, closed(0.0, 1e6), "requests/s below which no ratio is learned");
    v("excess", self.excess, closed(0.0, 1.0), "F's mean uncovered share of the load (0: use quantile)");
    v("level_window_s", self.level_window_s, closed(0.0, 86400.0), "the level is the largest rate over this many seconds (0: the rate now)");
    v("load_weighted", self.load_weighted, "take the quantile over requests (ratios weighted by their level)");
    v("mix_time_s", self.mix_time_s, closed(0.0, 86400.0), "time constant of the token mix sized for (0: the window's means)");
    v("hold_s", self.hold_s, closed(0.0, 86400.0), "seconds the plan is held while replicas start, after it last rose");
    v("long_window_s", self.long_window_s, closed(0.0, 86400.0),
      "the long band's level is the largest rate over this many seconds (0: no long band)");
  }

  /// The first field out of range, a lead (cold_start_s + tick_s) over 1440 buckets, more than
  /// 10^6 ratios in the window, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if ((cold_start_s + tick_s) / bucket_s > 1440) {
      return ConfigProblem{config_name, "cold_start_s", detail::format_number(cold_start_s),
                           "[0, 1440 bucket_s - tick_s]", "makes a lead of more than 1440 buckets (a day of minutes)", 0};
    }
    if (ratio_window_s / sample_s > 1e6) {
      return ConfigProblem{config_name, "sample_s", detail::format_number(sample_s), "[ratio_window_s / 1e6, 3600]",
                           "keeps more than 10^6 ratios", 0};
    }
    return std::nullopt;
  }
};

/// The forecasters' own settings.
struct ForecasterConfigs {
  HoltWintersConfig holt_winters;        ///< the Holt-Winters forecaster's
  KalmanTrendConfig kalman_trend;        ///< the Kalman trend forecaster's
  AutoregressiveConfig autoregressive;   ///< the autoregressive forecaster's
};

/// A calibrated lead-time planner: sizes the fleet, through llmscale-slo, for the load that may
/// come before a replica asked for now could serve, with a feedback policy on the present (see
/// the top of this file).
template <class Feedback = SloPolicy>
class PredictivePolicy {
  static_assert(is_policy_v<Feedback, Signals>, "Feedback must be a policy over llmscale::Signals");

 public:
  static constexpr std::size_t forecaster_count = 3;  ///< holt_winters, kalman_trend, autoregressive
  static constexpr std::size_t predictor_count = 4;   ///< the forecasters and the last value

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
        lead_buckets_(std::max(1, static_cast<int>(std::ceil((config.cold_start_s + config.tick_s) / config.bucket_s - 1e-9)))) {
    for (auto& ring : predictions_) ring.assign(static_cast<std::size_t>(lead_buckets_) + 1, nan());
    ratio_ = config.prior_ratio;
    near_peaks_.slots.assign(static_cast<std::size_t>(std::max(1.0, std::ceil(config.level_window_s / config.sample_s))), 0.0);
    long_peaks_.slots.assign(static_cast<std::size_t>(std::max(1.0, std::ceil(config.long_window_s / config.sample_s))), 0.0);
    const auto window = static_cast<std::size_t>(std::max(1.0, std::ceil(config.ratio_window_s / config.sample_s)));
    ratios_.assign(window, 0.0);
    levels_.assign(window, 0.0);
    seen_.assign(config.long_window_s > 0 ? window : 0, Seen{});
    sorted_.reserve(window);
    weighted_.reserve(window);
    pending_.assign(static_cast<std::size_t>(std::ceil((config.cold_start_s + config.tick_s) / config.sample_s)) + 2, Pending{});
  }

  /// llmscale-slo as the feedback too.
  explicit PredictivePolicy(SloPolicy sizing, const PredictiveConfig& config = {}, const ForecasterConfigs& forecasters = {})
      : PredictivePolicy(sizing, sizing, config, forecasters) {}

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "llmscale-predictive"; }
  /// The configuration it was built with.
  [[nodiscard]] const PredictiveConfig& config() const noexcept { return config_; }

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    const Proposal fb = feedback_.propose(now, s, fleet);
    const double rate = std::isfinite(s.arrival_rate) && s.arrival_rate >= 0 ? s.arrival_rate : nan();
    if (rates_.add(now, rate)) close_bucket(rates_.closed(), rates_.gap());
    if (!started_) {
      started_ = true;
      first_tick_ = now;
      found_ = static_cast<double>(fleet.current());
    }
    // the rate's window is full once a bucket has passed: before that a rate is a part-window's
    // and no ratio is learned from it (nor from stale signals)
    const bool warm = now - first_tick_ >= bucket_;
    if (std::isfinite(rate)) {
      level_ = level_for(recent_peak(now, warm ? rate : 0.0));
      if (!seen_.empty()) long_level_ = long_peak(now, warm ? rate : 0.0);
      // a part window's rate plans (it can only add replicas: no scale-down before warm) once
      // it spans a sample: from a fleet that opens short, a replica asked for at 10 s is ready
      // a bucket earlier than one asked for when the window has filled
      if (!warm && now - first_tick_ >= from_seconds(config_.sample_s)) level_ = rate;
      if (warm && !s.requests.stale && (!sampled_ || now - last_sample_ >= from_seconds(config_.sample_s))) sample(now, rate);
    }

    // the plan: the capacity for level x F at the mix measured now, the backlog drained over the lead
    const TokenLengths mix = smoothed_mix(now, s, warm);
    const double lead_s = config_.cold_start_s + config_.tick_s;
    double need = sizing_.replicas_for(band(), 0, mix);
    const double per_replica = sizing_.rate_per_replica();
    if (std::isfinite(need) && per_replica > 0 && std::isfinite(s.queued_now) && s.queued_now > 0) {
      need += s.queued_now / (per_replica * std::max(lead_s, sizing_.config().ttft_s));
    }
    if (!std::isfinite(need)) need = 0;
    // no scale-down before the rate's window has filled once (a window of zeros is not an idle load):
    // the fleet it found, then its own plan, not the fleet (a PID on top adds to the fleet each
    // tick, and a plan that took the fleet for its floor would follow it up, a replica a tick)
    if (!warm) need = std::max(need, now == first_tick_ ? static_cast<double>(fleet.current()) : planned_);
    // nor below the fleet it found before a lead has passed: until then it has seen no peak over
    // a lead, so nothing says the load those replicas were started for will not come before a
    // replacement could be ready
    if (now - first_tick_ < lead_) need = std::max(need, found_);
    // nor while replicas are starting, through a dip shorter than hold_s from the last tick the
    // plan did not fall (the plan that asked for them still stands; its own, not a wrapper's)
    if (need >= planned_) raised_ = now;
    if (fleet.starting() > 0 && now - raised_ < from_seconds(config_.hold_s)) need = std::max(need, planned_);
    planned_ = need;
    const int ready_soon = fleet.ready_by(now + lead_ - from_seconds(config_.tick_s), lead_);
    shortfall_ = std::max(0.0, need - static_cast<double>(ready_soon));

    const double feedback = std::isfinite(fb.raw) ? fb.raw : static_cast<double>(fb.replicas);
    Proposal p{name(), fb.replicas, feedback, fb.reason};
    if (planned_ > feedback) {
      p.raw = planned_;
      p.replicas = detail::ceil_replicas(planned_ - 1e-9);
      p.reason = shortfall_ > 0 ? "planned: the rate's peak over the lead (short until starting replicas are ready)"
                                : "planned: the rate's peak over the lead";
    }
    return p;
  }

  /// The governed decision, passed on to a feedback policy that wants it (a PID).
  void observe(const Decision& d) noexcept { observe_decision(feedback_, d); }

  /// Raw replicas the last plan asked for (0 before the first tick with a rate).
  [[nodiscard]] double planned() const noexcept { return planned_; }
  /// The smoothed token mix it sizes for once its rate's window has filled: the measured
  /// means and outputs' spread over mix_time_s (before that, and with mix_time_s 0, it sizes on
  /// each snapshot's mix as measured, and this gives the configured defaults).
  [[nodiscard]] TokenLengths mix() const noexcept { return mixed_ ? mix_ : sizing_.tokens_of(Signals{}); }
  /// How far the last plan exceeds what will be ready before a replica asked for now could
  /// serve (0: none short).
  [[nodiscard]] double shortfall() const noexcept { return shortfall_; }
  /// The predictor that set the last level.
  [[nodiscard]] ForecasterChoice planning_forecaster() const noexcept { return chosen_; }
  /// A predictor's recent mean absolute error at the lead horizon (requests/s; NaN: unscored).
  [[nodiscard]] double forecast_error(ForecasterChoice f) const noexcept {
    const int i = index(f);
    return i >= 0 && scored_[static_cast<std::size_t>(i)] > 0 ? errors_[static_cast<std::size_t>(i)] : nan();
  }
  /// The forecast of a forecaster h buckets ahead (last value: the last bucket's mean).
  [[nodiscard]] Forecast forecast(int h) const noexcept { return forecast_with(chosen_, h); }
  /// The lead, cold_start_s + tick_s, in buckets (rounded up, at least 1).
  [[nodiscard]] int lead_buckets() const noexcept { return lead_buckets_; }
  /// The level the last plan scaled (requests/s).
  [[nodiscard]] double level() const noexcept { return level_; }
  /// F: the ratio the level is multiplied by (the learned quantile, blended with the prior).
  [[nodiscard]] double ratio() const noexcept { return ratio_; }
  /// Whether the long band plans (the largest rate over long_window_s x long_ratio()).
  [[nodiscard]] bool long_band() const noexcept { return long_chosen_; }
  /// The long band's level: the largest rate over the last long_window_s (requests/s).
  [[nodiscard]] double long_level() const noexcept { return long_level_; }
  /// The long band's multiple of its level, calibrated like F.
  [[nodiscard]] double long_ratio() const noexcept { return long_ratio_; }
  /// Realised ratios learned so far (at most the window's).
  [[nodiscard]] std::size_t ratios_learned() const noexcept { return ratio_count_; }
  /// The feedback policy.
  [[nodiscard]] Feedback& feedback() noexcept { return feedback_; }

  /// Everything learned (the forecasters, their scores and pending forecasts, the ratios and
  /// the levels waiting for theirs, the recent peaks, the token mix and the mixes sized for, the
  /// last plan and when it last rose) and the feedback's own state where it keeps one, times as
  /// ages at `now`: a restart that loads it plans as this one would have (see has_saved_state).
  /// A few kB plus about 80 bytes per ratio (the long band keeps three numbers per sample).
  [[nodiscard]] std::string save_state(TimePoint now) const {
    detail::StateWriter w("predictive/4");
    const auto age = [&](TimePoint t) { return std::max(0.0, to_seconds(now - t)); };
    w << config_.bucket_s << config_.sample_s << predictions_[0].size() << ratios_.size() << near_peaks_.slots.size() << pending_.size();
    w.blob(holt_winters_.save_state()).blob(kalman_.save_state()).blob(autoregressive_.save_state()).blob(rates_.save_state(now));
    w.blob(sizing_.save_state(now));
    for (const auto& ring : predictions_) {
      for (double x : ring) w.maybe(x);
    }
    for (std::size_t f = 0; f < predictor_count; ++f) w << errors_[f] << static_cast<long long>(scored_[f]);
    w << static_cast<long long>(buckets_) << last_bucket_ << static_cast<int>(chosen_);
    w << ratio_next_ << ratio_count_;
    for (std::size_t i = 0; i < ratio_count_; ++i) w << ratios_[i] << levels_[i];
    w << near_peaks_.started << near_peaks_.next
      << (near_peaks_.started ? age(TimePoint(from_seconds(config_.sample_s) * near_peaks_.slot)) : 0.0);
    for (double x : near_peaks_.slots) w << x;
    w << pending_count_;
    for (std::size_t i = 0; i < pending_count_; ++i) w << age(pending_[i].at) << pending_[i].level << pending_[i].peak;
    w << started_ << age(first_tick_) << sampled_ << age(last_sample_) << mixed_ << age(mix_at_) << mix_.input_tokens
      << mix_.output_tokens << mix_.output_sigma << ratio_ << level_ << planned_ << shortfall_ << age(raised_)
      << found_;
    // the long band
    w << long_peaks_.slots.size() << seen_.size() << long_peaks_.started << long_peaks_.next
      << (long_peaks_.started ? age(TimePoint(from_seconds(config_.sample_s) * long_peaks_.slot)) : 0.0);
    for (double x : long_peaks_.slots) w << x;
    w << long_level_ << long_ratio_ << long_chosen_ << seen_next_ << seen_count_;
    for (std::size_t i = 0; i < seen_count_; ++i) w << seen_[i].peak << seen_[i].level << seen_[i].long_level;
    for (std::size_t i = 0; i < pending_count_; ++i) w << pending_[i].long_level << pending_[i].near_level;
    if constexpr (has_saved_state_v<Feedback>) w.blob(feedback_.save_state(now));
    return std::move(w).str();
  }

  /// Restores what save_state wrote; false, with nothing changed, for a text that is not this
  /// policy's state, or one saved with another bucket_s, sample_s, lead or window (its history
  /// would mean something else here).
  bool load_state(std::string_view state, TimePoint now) {
    PredictivePolicy p = *this;  // read into a copy: a state refused halfway changes nothing
    if (!p.read_state(state, now)) return false;
    *this = std::move(p);
    return true;
  }

 private:
  bool read_state(std::string_view state, TimePoint now) {
    detail::StateReader r(state, "predictive/4");
    const auto good = [](double x) { return std::isfinite(x) && x >= 0; };
    const auto at = [&](double age) { return now - from_seconds(age); };
    double bucket_s = 0, sample_s = 0;
    std::size_t ring = 0, ratios = 0, peaks = 0, pending = 0;
    r >> bucket_s >> sample_s >> ring >> ratios >> peaks >> pending;
    if (!r.ok() || bucket_s != config_.bucket_s || sample_s != config_.sample_s || ring != predictions_[0].size() ||
        ratios != ratios_.size() || peaks != near_peaks_.slots.size() || pending != pending_.size()) {
      return false;
    }
    std::string_view hw, kalman, ar, rates;
    r.blob(hw).blob(kalman).blob(ar).blob(rates);
    std::string_view sizing;
    r.blob(sizing);
    if (!r.ok() || !holt_winters_.load_state(hw) || !kalman_.load_state(kalman) || !autoregressive_.load_state(ar) ||
        !rates_.load_state(rates, now) || !sizing_.load_state(sizing, now)) {
      return false;
    }
    for (auto& predictions : predictions_) {
      for (double& x : predictions) r.maybe(x);
    }
    for (std::size_t f = 0; f < predictor_count; ++f) {
      long long scored = 0;
      r >> errors_[f] >> scored;
      if (!r.ok() || !good(errors_[f]) || scored < 0) return false;
      scored_[f] = scored;
    }
    long long buckets = 0;
    int chosen = 0;
    r >> buckets >> last_bucket_ >> chosen >> ratio_next_ >> ratio_count_;
    if (!r.ok() || buckets < 0 || !std::isfinite(last_bucket_) || chosen < 0 || chosen > static_cast<int>(ForecasterChoice::last_value) ||
        ratio_next_ >= ratios_.size() || ratio_count_ > ratios_.size()) {
      return false;
    }
    buckets_ = buckets;
    chosen_ = static_cast<ForecasterChoice>(chosen);
    if (chosen_ == ForecasterChoice::best) return false;
    for (std::size_t i = 0; i < ratio_count_; ++i) {
      r >> ratios_[i] >> levels_[i];
      if (!r.ok() || !good(ratios_[i]) || !good(levels_[i])) return false;
    }
    sorted_.assign(ratios_.begin(), ratios_.begin() + static_cast<std::ptrdiff_t>(ratio_count_));
    std::sort(sorted_.begin(), sorted_.end());
    double peak_age = 0;
    r >> near_peaks_.started >> near_peaks_.next >> peak_age;
    if (!r.ok() || near_peaks_.next >= near_peaks_.slots.size() || !good(peak_age) || peak_age > 1e9) return false;
    near_peaks_.slot = near_peaks_.started ? detail::bucket_index(at(peak_age), from_seconds(config_.sample_s)) : 0;
    for (double& x : near_peaks_.slots) {
      r >> x;
      if (!r.ok() || !good(x)) return false;
    }
    near_peaks_.recount();
    r >> pending_count_;
    if (!r.ok() || pending_count_ > pending_.size()) return false;
    for (std::size_t i = 0; i < pending_count_; ++i) {
      double age = 0;
      r >> age >> pending_[i].level >> pending_[i].peak;
      if (!r.ok() || !good(age) || age > 1e9 || !good(pending_[i].level) || !good(pending_[i].peak)) return false;
      pending_[i].at = at(age);
    }
    double first_age = 0, sample_age = 0, mix_age = 0, raised_age = 0;
    r >> started_ >> first_age >> sampled_ >> sample_age >> mixed_ >> mix_age >> mix_.input_tokens >>
        mix_.output_tokens >> mix_.output_sigma >> ratio_ >> level_ >> planned_ >> shortfall_ >> raised_age >> found_;
    r.require_finite(first_age, sample_age, mix_age, mix_.input_tokens, mix_.output_tokens, ratio_, level_, planned_, shortfall_,
                     raised_age, found_);
    if (!r.ok() || first_age < 0 || sample_age < 0 || mix_age < 0 || raised_age < 0 || found_ < 0 ||
        !detail::output_sigma_ok(mix_.output_sigma) ||
        std::max({first_age, sample_age, mix_age, raised_age}) > 1e9 ||
        ratio_ < 0 || ratio_ > std::max(config_.max_ratio, config_.prior_ratio) || level_ < 0 || planned_ < 0 || shortfall_ < 0) {
      return false;
    }
    first_tick_ = at(first_age);
    last_sample_ = at(sample_age);
    mix_at_ = at(mix_age);
    raised_ = at(raised_age);
    if (!read_long_band(r, now)) return false;
    if constexpr (has_saved_state_v<Feedback>) {
      std::string_view nested;
      r.blob(nested);
      if (!r.ok() || !feedback_.load_state(nested, now)) return false;
    }
    return r.done();
  }

  // the long band's part of read_state: its ring of slot maxima, the samples it compares the
  // bands over, and the pending samples' long levels (their count was read before)
  bool read_long_band(detail::StateReader& r, TimePoint now) {
    const auto good = [](double x) { return std::isfinite(x) && x >= 0; };
    std::size_t slots = 0, seen = 0;
    double slot_age = 0;
    r >> slots >> seen >> long_peaks_.started >> long_peaks_.next >> slot_age;
    if (!r.ok() || slots != long_peaks_.slots.size() || seen != seen_.size() || long_peaks_.next >= long_peaks_.slots.size() ||
        !good(slot_age) || slot_age > 1e9) {
      return false;
    }
    long_peaks_.slot =
        long_peaks_.started ? detail::bucket_index(now - from_seconds(slot_age), from_seconds(config_.sample_s)) : 0;
    for (double& x : long_peaks_.slots) {
      r >> x;
      if (!r.ok() || !good(x)) return false;
    }
    long_peaks_.recount();
    r >> long_level_ >> long_ratio_ >> long_chosen_ >> seen_next_ >> seen_count_;
    if (!r.ok() || !good(long_level_) || !good(long_ratio_) || long_ratio_ > config_.max_ratio || seen_count_ > seen_.size() ||
        (!seen_.empty() && seen_next_ >= seen_.size()) || (seen_.empty() && (seen_next_ != 0 || long_chosen_))) {
      return false;
    }
    for (std::size_t i = 0; i < seen_count_; ++i) {
      r >> seen_[i].peak >> seen_[i].level >> seen_[i].long_level;
      if (!r.ok() || !good(seen_[i].peak) || !good(seen_[i].level) || !good(seen_[i].long_level)) return false;
    }
    for (std::size_t i = 0; i < pending_count_; ++i) {
      r >> pending_[i].long_level >> pending_[i].near_level;
      if (!r.ok() || !good(pending_[i].long_level) || !good(pending_[i].near_level)) return false;
    }
    return true;
  }

  // the largest rate over a window, in sample_s slots: a ring of each slot's largest, the slots
  // before the newest compared once a slot, the newest each tick
  struct SlotPeaks {
    std::vector<double> slots;
    std::size_t next = 0;     // the newest slot's index
    std::int64_t slot = 0;    // the newest slot on the clock
    bool started = false;
    double before = 0;        // the largest over the slots before the newest

    double add(std::int64_t s, double rate) noexcept {
      if (!started || s != slot) {
        const std::int64_t steps = started ? std::min<std::int64_t>(s - slot, static_cast<std::int64_t>(slots.size())) : 1;
        for (std::int64_t k = 0; k < steps; ++k) {
          next = (next + 1) % slots.size();
          slots[next] = 0;
        }
        slot = s;
        started = true;
        recount();
      }
      slots[next] = std::max(slots[next], rate);
      return std::max(before, slots[next]);
    }
    void recount() noexcept {
      before = 0;
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (i != next) before = std::max(before, slots[i]);
      }
    }
  };

  struct Pending {
    TimePoint at{};
    double level = 0, peak = 0, long_level = 0, near_level = 0;
  };
  struct Seen {
    // the peak over the lead after the two levels were taken; the near level as the plan
    // meets it, never below the rate then (the feedback on the present covers that)
    double peak = 0, level = 0, long_level = 0;
  };

  static constexpr double nan() noexcept { return std::numeric_limits<double>::quiet_NaN(); }
  static int index(ForecasterChoice f) noexcept {
    switch (f) {
      case ForecasterChoice::holt_winters: return 0;
      case ForecasterChoice::kalman_trend: return 1;
      case ForecasterChoice::autoregressive: return 2;
      case ForecasterChoice::last_value: return 3;
      case ForecasterChoice::best: return -1;
    }
    return -1;
  }
  static ForecasterChoice choice(std::size_t i) noexcept {
    return i == 0 ? ForecasterChoice::holt_winters
           : i == 1 ? ForecasterChoice::kalman_trend
           : i == 2 ? ForecasterChoice::autoregressive
                    : ForecasterChoice::last_value;
  }
  Forecast forecast_with(ForecasterChoice f, int h) const noexcept {
    switch (f) {
      case ForecasterChoice::holt_winters: return holt_winters_.forecast(h, 0.5);
      case ForecasterChoice::kalman_trend: return kalman_.forecast(h, 0.5);
      case ForecasterChoice::autoregressive: return autoregressive_.forecast(h, 0.5);
      default: return Forecast{last_bucket_, last_bucket_};
    }
  }

  // the token mix sized for: the measured means and outputs' spread, smoothed over mix_time_s
  // (a minute's mean output moves by 2x on real traces; the capacity it implies should not;
  // the spread, measured or the configured default, moves with them). Before the rate's
  // window has filled once, the window's means as they are: the first requests to finish are
  // the short ones (on the development run the first second's completions average 129 output
  // tokens, the load 280), and an average seeded from them would size for that light mix,
  // 1.5x the capacity a replica has, for several mix_time_s
  TokenLengths smoothed_mix(TimePoint now, const Signals& s, bool warm) noexcept {
    const TokenLengths measured = sizing_.tokens_of(s);
    const bool have = s.mean_prompt_tokens >= 1 && s.mean_output_tokens >= 1;
    if (!have && mixed_) {
      // nothing finished in the window (a silence): the mix last measured. A silence is no
      // evidence of a mix: the average starts again from its end, not giving the first few
      // requests after it (the shortest, to finish first) the weight of the whole silence
      mix_at_ = now;
      return mix_;
    }
    if (!have || !(config_.mix_time_s > 0) || !warm) return measured;
    if (!mixed_) {
      mixed_ = true;
      mix_ = measured;
      mix_at_ = now;
      return mix_;
    }
    const double dt = std::max(0.0, to_seconds(now - mix_at_));
    mix_at_ = now;
    const double a = 1 - std::exp(-dt / config_.mix_time_s);
    mix_.input_tokens += a * (measured.input_tokens - mix_.input_tokens);
    mix_.output_tokens += a * (measured.output_tokens - mix_.output_tokens);
    mix_.output_sigma += a * (measured.output_sigma - mix_.output_sigma);
    return mix_;
  }

  // the level: the rate now, or the planning forecaster's mean a lead ahead
  // the largest rate over the last level_window_s (in sample_s slots): a level that noise
  // does not move, so F measures how far the load rises, not how far it wanders
  double recent_peak(TimePoint now, double rate) noexcept {
    if (!(config_.level_window_s > 0)) return rate;
    return near_peaks_.add(detail::bucket_index(now, from_seconds(config_.sample_s)), rate);
  }

  // the load planned for: the chosen band's (the near band until the two have been compared)
  [[nodiscard]] double band() const noexcept { return long_chosen_ ? long_level_ * long_ratio_ : level_ * ratio_; }

  // the largest rate over the last long_window_s
  double long_peak(TimePoint now, double rate) noexcept {
    return long_peaks_.add(detail::bucket_index(now, from_seconds(config_.sample_s)), rate);
  }

  [[nodiscard]] double level_for(double rate) const noexcept {
    if (chosen_ == ForecasterChoice::last_value || buckets_ == 0) return rate;
    const double f = forecast_with(chosen_, lead_buckets_).mean;
    return std::isfinite(f) && f >= 0 ? f : rate;
  }

  // one ratio sample: every pending level sees this rate; those a lead old are learned
  void sample(TimePoint now, double rate) noexcept {
    sampled_ = true;
    last_sample_ = now;
    bool learned = false, seen = false;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < pending_count_; ++i) {
      Pending p = pending_[i];
      p.peak = std::max(p.peak, rate);
      if (now - p.at >= lead_) {
        if (!seen_.empty()) {
          seen_[seen_next_] = Seen{p.peak, p.near_level, p.long_level};
          seen_next_ = (seen_next_ + 1) % seen_.size();
          seen_count_ = std::min(seen_count_ + 1, seen_.size());
          seen = true;
        }
        if (!(p.level >= config_.min_level && p.level > 0)) continue;
        const double ratio = p.peak / p.level;
        // the window's ratios kept sorted as they come and go (F is read off them every sample)
        if (ratio_count_ == ratios_.size()) {
          sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), ratios_[ratio_next_]));
        }
        sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), ratio), ratio);
        ratios_[ratio_next_] = ratio;
        levels_[ratio_next_] = p.level;
        ratio_next_ = (ratio_next_ + 1) % ratios_.size();
        ratio_count_ = std::min(ratio_count_ + 1, ratios_.size());
        learned = true;
        continue;
      }
      pending_[kept++] = p;
    }
    pending_count_ = kept;
    if (((level_ >= config_.min_level && level_ > 0) || !seen_.empty()) && pending_count_ < pending_.size()) {
      pending_[pending_count_++] = Pending{now, level_, rate, long_level_, std::max(level_, rate)};
    }
    if (learned) relearn();
    // a comparison of the bands costs a pass over the window's samples, so it comes every
    // 1/36 of them (every 10 minutes once 6 hours of 10 s samples are in; every sample while
    // the first 36 come): a choice over hours of samples, which one sample barely moves
    if (seen && seen_next_ % std::max<std::size_t>(1, seen_count_ / 36) == 0) choose_band();
  }

  void relearn() noexcept {
    const double prior = config_.prior_ratio;
    if (ratio_count_ == 0) {
      ratio_ = prior;
      return;
    }
    const std::vector<double>& sorted = sorted_;  // the window's ratio_count_ ratios, ascending
    double learned;
    if (config_.excess > 0) {
      // the smallest F whose mean excess E[(r - F)+] is at most `excess` of E[r]: the share of
      // the load a lead time's rise leaves uncovered, which is what costs attainment (a small
      // rise over F costs little, a burst over it costs much; a quantile cannot tell them apart)
      double total = 0;
      for (double r : sorted) total += r;
      const double allowed = config_.excess * total;
      // walk down from the largest ratio: excess(F) for F in [x_{i-1}, x_i] with the i largest above
      double above = 0;  // sum of the ratios above the current index
      learned = sorted.front();
      for (std::size_t i = sorted.size(); i > 0; --i) {
        const double x = sorted[i - 1];
        const auto count = static_cast<double>(sorted.size() - i);
        // excess at F = x: the ratios above x exceed it by (above - count x)
        if (above - count * x > allowed) {
          // F lies in [x, next): solve above - count F = allowed
          learned = (above - allowed) / count;
          break;
        }
        above += x;
        learned = x;
      }
    } else if (config_.load_weighted) {
      // the quantile over the requests, not over time: each ratio weighted by its level
      weighted_.clear();
      double total = 0;
      for (std::size_t i = 0; i < ratio_count_; ++i) {
        weighted_.emplace_back(ratios_[i], levels_[i]);
        total += levels_[i];
      }
      std::sort(weighted_.begin(), weighted_.end());
      double seen = 0;
      learned = weighted_.back().first;
      for (const auto& [r, w] : weighted_) {
        seen += w;
        if (seen >= config_.quantile * total) {
          learned = r;
          break;
        }
      }
    } else {
      auto k = static_cast<std::size_t>(std::ceil(config_.quantile * static_cast<double>(sorted.size())));
      k = std::clamp<std::size_t>(k, 1, sorted.size()) - 1;
      learned = sorted[k];
    }
    const double w = std::min(1.0, static_cast<double>(ratio_count_) / static_cast<double>(config_.min_ratios));
    ratio_ = std::clamp(w * learned + (1 - w) * prior, 0.0, config_.max_ratio);
  }

  struct Calibration {
    double ratio = 0;   // the smallest multiple of the band's level that covers the load
    double cost = 0;    // the window's sum of level x ratio
    double missed = 0;  // the load it leaves uncovered: sum (peak - ratio level)+, a whole peak where the level was below min_level
  };

  // the smallest G with sum (peak - G level)+ <= allowed over the window's samples whose level
  // is min_level or more and whose peak is at most max_ratio times it (the others' peaks are
  // missed whatever G is: no multiple within max_ratio covers a load that rises from nothing),
  // so G is never over max_ratio
  Calibration calibrate(bool far, double allowed) noexcept {
    weighted_.clear();
    Calibration c;
    double weight = 0;
    for (std::size_t i = 0; i < seen_count_; ++i) {
      const Seen& x = seen_[i];
      const double level = far ? x.long_level : x.level;
      if (level >= config_.min_level && level > 0 && x.peak <= config_.max_ratio * level) {
        weighted_.emplace_back(x.peak / level, level);
        weight += level;
      } else {
        c.missed += x.peak;
      }
    }
    if (weighted_.empty()) return c;
    // walk down from the largest ratio: with the ratios above G, the excess is above - G below.
    // G lies among the largest few (a small share is left uncovered), so the ratios are
    // ordered a block at a time, the largest first (nth_element, then a sort of the block)
    const auto larger = [](const auto& a, const auto& b) { return a.first > b.first; };
    const std::size_t n = weighted_.size();
    std::size_t walked = 0, block = std::min(n, std::max<std::size_t>(64, n / 16));
    double above = 0, below = 0, g = -1;
    while (g < 0 && walked < n) {
      const auto first = weighted_.begin() + static_cast<std::ptrdiff_t>(walked);
      const auto last = weighted_.begin() + static_cast<std::ptrdiff_t>(block);
      if (block < n) std::nth_element(first, last, weighted_.end(), larger);
      std::sort(first, last, larger);
      for (; walked < block; ++walked) {
        const auto [r, level] = weighted_[walked];
        if (above - r * below > allowed) {
          g = (above - allowed) / below;
          break;
        }
        above += r * level;
        below += level;
      }
      block = std::min(n, block * 4);
    }
    if (g < 0) g = std::max(0.0, (above - allowed) / below);
    c.ratio = std::min(g, config_.max_ratio);
    c.cost = c.ratio * weight;
    for (std::size_t i = 0; i < walked && weighted_[i].first > c.ratio; ++i) {  // the ratios above G are among those walked
      c.missed += (weighted_[i].first - c.ratio) * weighted_[i].second;
    }
    return c;
  }

  // which band plans: the one that leaves less of the window's load uncovered (by more than
  // `excess` of it, or 1 - quantile: a band whose level is nothing before a rise leaves more),
  // between two that leave as much the one that costs less (the other only when it is 10 %
  // cheaper)
  void choose_band() noexcept {
    if (seen_.empty() || seen_count_ < static_cast<std::size_t>(config_.min_ratios)) return;
    double load = 0;
    for (std::size_t i = 0; i < seen_count_; ++i) load += seen_[i].peak;
    if (!(load > 0)) return;
    const double allowed = (config_.excess > 0 ? config_.excess : 1 - config_.quantile) * load;
    const Calibration near = calibrate(false, allowed), far = calibrate(true, allowed);
    long_ratio_ = far.ratio;
    if (near.missed > far.missed + allowed) {
      long_chosen_ = true;
    } else if (far.missed > near.missed + allowed) {
      long_chosen_ = false;
    } else {
      long_chosen_ = long_chosen_ ? !(near.cost < 0.9 * far.cost) : far.cost < 0.9 * near.cost;
    }
  }

  void close_bucket(double rate, std::int64_t gap) noexcept {
    if (!std::isfinite(rate)) return;
    // buckets with no tick: filled with this one's mean (at most a season's worth)
    const std::int64_t fill = std::min<std::int64_t>(gap, 1440);
    for (std::int64_t k = 0; k <= fill; ++k) learn(rate);
    choose();
  }

  void learn(double x) noexcept {
    const std::size_t slot = static_cast<std::size_t>(buckets_ % static_cast<std::int64_t>(predictions_[0].size()));
    for (std::size_t f = 0; f < predictor_count; ++f) {
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
    last_bucket_ = x;
    ++buckets_;
    // forecasts for the bucket lead_buckets_ from now, to score when it comes
    const std::size_t ahead =
        static_cast<std::size_t>((buckets_ + lead_buckets_ - 1) % static_cast<std::int64_t>(predictions_[0].size()));
    for (std::size_t f = 0; f < predictor_count; ++f) predictions_[f][ahead] = forecast_with(choice(f), lead_buckets_).mean;
  }

  void choose() noexcept {
    const ForecasterChoice previous = chosen_;
    if (config_.forecaster != ForecasterChoice::best) {
      chosen_ = config_.forecaster;
      return;
    }
    const std::size_t last = index(ForecasterChoice::last_value);
    chosen_ = ForecasterChoice::last_value;
    if (scored_[last] < config_.min_scored) return;
    // a forecaster plans only when it beats last value by 10 %, and keeps planning until
    // another is 10 % better than it: near-ties do not switch the plan back and forth
    std::size_t best = last;
    for (std::size_t f = 0; f < forecaster_count; ++f) {
      if (scored_[f] >= config_.min_scored && errors_[f] < 0.9 * errors_[best]) best = f;
    }
    const int held = index(previous);
    if (held >= 0 && static_cast<std::size_t>(held) != best && scored_[static_cast<std::size_t>(held)] >= config_.min_scored &&
        errors_[best] >= 0.9 * errors_[static_cast<std::size_t>(held)] &&
        (static_cast<std::size_t>(held) == last || errors_[static_cast<std::size_t>(held)] < 0.9 * errors_[last])) {
      best = static_cast<std::size_t>(held);
    }
    chosen_ = choice(best);
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
  Bucketer rates_{bucket_};
  std::array<std::vector<double>, predictor_count> predictions_;
  std::array<double, predictor_count> errors_{};
  std::array<std::int64_t, predictor_count> scored_{};
  std::int64_t buckets_ = 0;
  double last_bucket_ = 0;
  ForecasterChoice chosen_ = ForecasterChoice::last_value;
  // the ratio F
  std::vector<double> ratios_, levels_;
  std::vector<double> sorted_;  // ratios_'s first ratio_count_, ascending
  SlotPeaks near_peaks_;  // the level's window (level_window_s)
  std::vector<std::pair<double, double>> weighted_;
  std::size_t ratio_next_ = 0, ratio_count_ = 0;
  std::vector<Pending> pending_;
  std::size_t pending_count_ = 0;
  TimePoint last_sample_{}, first_tick_{}, mix_at_{}, raised_{};
  TokenLengths mix_;
  bool mixed_ = false;
  bool sampled_ = false, started_ = false;
  double ratio_ = 0;  // F; the constructor sets it to config.prior_ratio
  double level_ = 0;
  double planned_ = 0;
  double shortfall_ = 0;
  double found_ = 0;  // the fleet at the first tick
  // the long band
  SlotPeaks long_peaks_;  // long_window_s
  double long_level_ = 0, long_ratio_ = 0;
  bool long_chosen_ = false;
  std::vector<Seen> seen_;
  std::size_t seen_next_ = 0, seen_count_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_PREDICTIVE_HPP
