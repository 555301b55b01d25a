// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// PidPolicy (llmscale-pid): feedback on a latency or queue signal, added to a feed-forward
// policy's answer (llmscale-slo's by default; llmscale-pid runs it on the lead-time planner,
// llmscale-predictive), so the controller corrects the model's error instead of doing all the
// work.
//   signal   latency_p99 (the default): the larger of the TTFT p99 and the TPOT p99 scaled to
//            TTFT seconds (tpot_p99 x target / tpot_target), so a fleet whose batches grow until
//            the time per token misses is seen as short even while no request queues (the TTFT
//            alone is censored: it sits at its floor whenever capacity is ample, the TPOT moves
//            with the load per replica). SignalCollector's TPOT is the per-request mean, as the
//            SLO counts it; an engine's inter-token histogram (ScrapedSignals) holds every gap,
//            prefill stalls included, so its p99 reads higher and the PID acts earlier there.
//            Without TPOT samples (0) it is the TTFT p99. ttft_p99, queue_wait_p99 and
//            queue_per_replica measure one thing.
//   e        = clamp((measured - target) / target, -1, error_limit), moved deadband towards 0
//              (continuous: 0 inside the band, no jump at its edge)
//   ref      = max(1, the feed-forward's raw replicas)  (the gains are in fractions of it)
//   P        = kp e
//   I       += dt (ki e + (applied - commanded) / (tracking_s ref))   anti-windup, below
//   D        = -kd d(measured / target)/dt, the measurement low-pass filtered (derivative_filter_s)
//   raw      = feed-forward + (P + I + D) ref
//   replicas = ceil(raw) when that is at least the current fleet; below it, ceil(raw +
//              down_hysteresis): a scale-down waits until the answer is clearly below a count
// A censored signal (censored_below = true, the default): a latency or a queue sits at its
// floor whenever capacity is ample, so how far it is below the target says nothing about how
// much capacity could go. Below the target the error then adds no proportional term and is
// not integrated: the integral (within [0, integral_limit], a fraction of the feed-forward the
// model was short by) takes the most the PID pushed (P + I) in the episode above the target
// that brought it there, then leaks away with time constant leak_s, so what the PID learned
// about the model's error outlasts the healthy minutes it bought, and a load that no longer
// needs it gets it back slowly. The feed-forward alone sizes a healthy fleet; the PID adds
// what it misses.
// Anti-windup (anti_windup = true):
//   - the integral stays within +-integral_limit;
//   - back-calculation fed by the governed decision: when the min/max bound changed the
//     answer, `observe(decision)` (the Autoscaler calls it) moves the integral towards what was
//     applied, with time constant tracking_s (a rate limit only delays the answer and is fed
//     back only with track_rate_limit: with a lead-time planner as feed-forward, pulling the
//     integral down to a rate-limited count pushes it away from what the fleet needs);
//   - no upward integration while replicas are starting: the signal cannot show capacity
//     that is not ready yet, so integrating through the provisioning delay would overshoot;
//   - no integration against a deliberate hold: while a stabilization window or a cooldown
//     keeps the fleet above (below) the answer, the integral does not fall (rise).
// Bumpless start (off by default): the first tick sets the integral so the answer is the fleet
// already running; with a feed-forward whose windows are still filling that would bake the
// gap into the integral, so the feed-forward holds the fleet until its windows are full.
// A measurement that is not finite or negative (or stale signals) holds the state; such
// ticks are counted.
#ifndef LLMSCALE_POLICY_PID_HPP
#define LLMSCALE_POLICY_PID_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/policy/slo.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// What the PID measures.
enum class PidSignal : std::uint8_t {
  queue_wait_p99,     ///< Signals::queue_wait_p99_s (s)
  ttft_p99,           ///< Signals::ttft_p99_s (s)
  queue_per_replica,  ///< Signals::queued_now per ready replica (requests)
  latency_p99,        ///< the larger of Signals::ttft_p99_s and tpot_p99_s x target / tpot_target (s of TTFT)
};

/// PidPolicy's settings.
struct PidConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "pid";
  /// The spellings of PidSignal in key=value text.
  static constexpr std::array<EnumName<PidSignal>, 4> signal_names{{{"queue_wait_p99", PidSignal::queue_wait_p99},
                                                                    {"ttft_p99", PidSignal::ttft_p99},
                                                                    {"queue_per_replica", PidSignal::queue_per_replica},
                                                                    {"latency_p99", PidSignal::latency_p99}}};

  PidSignal signal = PidSignal::latency_p99;  ///< what the PID measures
  double target = 0.8;               ///< in the signal's unit (s, or requests per replica)
  double tpot_target = 0.08;         ///< latency_p99's TPOT p99 target (s)
  double kp = 0.1;                   ///< fraction of the reference fleet per unit of error
  double ki = 0.002;                 ///< the same, per second
  double kd = 0.0;                   ///< the same, times seconds
  double derivative_filter_s = 30;   ///< low-pass time constant of the measurement for D
  double deadband = 0.3;             ///< subtracted from |e| (an error inside it counts as 0)
  double error_limit = 2.0;          ///< e is cut to [-1, error_limit]
  double integral_limit = 0.15;      ///< |I| at most this (with anti_windup)
  double tracking_s = 60;            ///< back-calculation time constant
  bool anti_windup = true;           ///< false: none of the three (for comparison)
  bool bumpless_start = false;       ///< the first answer is the fleet already running
  bool censored_below = true;        ///< below the target: no P, no integration, the integral leaks
  double leak_s = 86400;             ///< time constant of that leak (a day: a load's period)
  bool track_rate_limit = false;     ///< back-calculate against the rate limits too (the classic PID)
  double max_dt_s = 60;              ///< a longer gap between ticks counts as this
  double down_hysteresis = 0.5;      ///< replicas the answer must fall below a count to go down to it

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("signal", self.signal, signal_names,
      "what the PID measures: queue_wait_p99, ttft_p99, queue_per_replica or latency_p99 (TTFT and TPOT)");
    v("target", self.target, open_closed(0.0, 1e6), "the signal's target (s, or requests per replica)");
    v("tpot_target", self.tpot_target, open_closed(0.0, 1e6), "latency_p99's TPOT p99 target (s)");
    v("kp", self.kp, closed(0.0, 100.0), "proportional gain (fraction of the fleet per unit error)");
    v("ki", self.ki, closed(0.0, 10.0), "integral gain (per second)");
    v("kd", self.kd, closed(0.0, 10000.0), "derivative gain (seconds)");
    v("derivative_filter_s", self.derivative_filter_s, closed(0.0, 3600.0), "derivative low-pass time constant (s)");
    v("deadband", self.deadband, closed(0.0, 1.0), "normalised error treated as 0");
    v("error_limit", self.error_limit, closed(0.1, 1000.0), "largest normalised error used");
    v("integral_limit", self.integral_limit, closed(0.0, 100.0), "largest |integral| (fraction of the fleet)");
    v("tracking_s", self.tracking_s, open_closed(0.0, 86400.0), "back-calculation time constant (s)");
    v("anti_windup", self.anti_windup, "integral clamp, back-calculation and no integration while starting");
    v("bumpless_start", self.bumpless_start, "the first answer is the running fleet");
    v("censored_below", self.censored_below, "below the target: no proportional term, the integral leaks instead of integrating");
    v("track_rate_limit", self.track_rate_limit, "back-calculation against the governor's rate limits too, not only the bounds");
    v("leak_s", self.leak_s, open_closed(0.0, 1e7), "time constant of the integral's leak below the target (s)");
    v("down_hysteresis", self.down_hysteresis, closed(0.0, 10.0), "replicas below a count before scaling down to it");
    v("max_dt_s", self.max_dt_s, open_closed(0.0, 86400.0), "longest time step integrated at once (s)");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// A feed-forward of a fixed replica count (0: none), for a PID alone.
struct FixedFeedForward {
  int replicas = 0;  ///< the count it always proposes
  /// The feed-forward's name, as in decisions.
  [[nodiscard]] const char* name() const noexcept { return "fixed"; }
  /// `replicas`, whatever the signals (never throws, allocates nothing).
  Proposal propose(TimePoint, const Signals&, const FleetState&) const noexcept {
    return Proposal{name(), replicas, static_cast<double>(replicas), "fixed feed-forward"};
  }
};

/// The terms of the last tick, for logs and /metrics.
struct PidTerms {
  double error = 0;          ///< normalised, after deadband and limits
  double proportional = 0;   ///< fractions of `reference`
  double integral = 0;       ///< fractions of `reference`
  double derivative = 0;     ///< fractions of `reference`
  double feed_forward = 0;   ///< replicas
  double reference = 1;      ///< replicas the gains are fractions of
  double commanded = 0;      ///< raw replicas asked for
  std::uint64_t held_ticks = 0;  ///< ticks with an unusable measurement (state held)
};

/// Feedback on a latency or queue signal added to a feed-forward policy's answer (see the top of
/// this file).
template <class FeedForward = SloPolicy>
class PidPolicy {
 public:
  /// Throws std::invalid_argument for an invalid config.
  PidPolicy(FeedForward feed_forward, const PidConfig& config = {})
      : config_((require_valid(config), config)), feed_forward_(std::move(feed_forward)) {}

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "llmscale-pid"; }
  /// The configuration it was built with.
  [[nodiscard]] const PidConfig& config() const noexcept { return config_; }
  /// The terms of the last tick.
  [[nodiscard]] const PidTerms& terms() const noexcept { return terms_; }
  /// The feed-forward policy.
  [[nodiscard]] FeedForward& feed_forward() noexcept { return feed_forward_; }

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    const Proposal ff = feed_forward_.propose(now, s, fleet);
    const double ff_raw = std::isfinite(ff.raw) ? std::max(0.0, ff.raw) : std::max(0, ff.replicas);
    const double ref = ff_raw >= 1 ? ff_raw : std::max(1, fleet.current());
    terms_.feed_forward = ff_raw;
    terms_.reference = ref;

    const double measured = measure(s, fleet);
    const bool usable = std::isfinite(measured) && measured >= 0 && !s.requests.stale;
    double dt = started_ ? to_seconds(now - last_) : 0.0;
    dt = std::clamp(dt, 0.0, config_.max_dt_s);
    if (dt > 0) last_dt_ = dt;
    Proposal p{name(), fleet.current(), std::numeric_limits<double>::quiet_NaN(), "PID: measurement unusable, hold"};
    if (!usable) {
      ++terms_.held_ticks;
      if (!started_) return p;
      last_ = now;
      terms_.proportional = terms_.derivative = 0;  // the integral alone carries on
      return finish(p, ff_raw, ref, fleet.current(), "PID: measurement unusable, integral held");
    }
    const double y = measured / config_.target;
    double e = std::clamp(y - 1.0, -1.0, config_.error_limit);
    e = e > 0 ? std::max(0.0, e - config_.deadband) : std::min(0.0, e + config_.deadband);  // continuous
    terms_.error = e;
    terms_.proportional = config_.kp * (config_.censored_below ? std::max(0.0, e) : e);

    if (!started_) {
      started_ = true;
      filtered_ = y;
      terms_.derivative = 0;
      terms_.integral = 0;
      if (config_.bumpless_start) {
        terms_.integral = (static_cast<double>(fleet.current()) - ff_raw) / ref - terms_.proportional;
        if (config_.anti_windup) terms_.integral = std::clamp(terms_.integral, -config_.integral_limit, config_.integral_limit);
      }
    } else {
      // derivative on the (filtered) measurement: no kick when the target changes
      const double previous = filtered_;
      const double a = config_.derivative_filter_s > 0 ? dt / (config_.derivative_filter_s + dt) : 1.0;
      filtered_ += a * (y - filtered_);
      terms_.derivative = dt > 0 ? -config_.kd * (filtered_ - previous) / dt : 0.0;
      // integral, conditionally: capacity on its way is not yet in the signal
      const bool waiting = config_.anti_windup && e > 0 && (fleet.starting() > 0 || held_below_);
      const bool held = config_.anti_windup && e < 0 && held_above_;
      if (config_.censored_below && e <= 0) {
        // healthy again: what the PID pushed to get here (its proportional kick included, which
        // the integral could not follow while the replicas it asked for were starting) is what
        // the model was short by; keep it, then let it leak
        terms_.integral = std::max(terms_.integral * std::exp(-dt / config_.leak_s), pushed_);
        pushed_ = 0;
      } else if (!waiting && !held) {
        terms_.integral += config_.ki * e * dt;
      }
      if (config_.censored_below) terms_.integral = std::max(0.0, terms_.integral);
      if (config_.anti_windup) terms_.integral = std::clamp(terms_.integral, -config_.integral_limit, config_.integral_limit);
    }
    last_ = now;
    if (config_.censored_below && e > 0) {
      pushed_ = std::min(config_.integral_limit, std::max(pushed_, terms_.proportional + terms_.integral));
    }
    return finish(p, ff_raw, ref, fleet.current(), e > 0 ? "PID: above target, adding to the model" : e < 0 ? "PID: below target" : "PID: on target");
  }

  /// The governed decision of the tick this policy proposed for. Actuator limits (rate limits,
  /// min and max bounds) feed back into the integral (back-calculation); a deliberate hold
  /// (a stabilization window, a cooldown) stops integration in the direction it holds against.
  void observe(const Decision& d) noexcept {
    held_above_ = held_below_ = false;
    if (!config_.anti_windup || !started_ || !std::isfinite(terms_.commanded)) return;
    const bool actuator = d.binding == Constraint::max_replicas || d.binding == Constraint::min_replicas ||
                          (config_.track_rate_limit && d.binding == Constraint::rate_limit);
    if (!actuator) {
      // a deliberate hold (stabilization, cooldown, tolerance, stale signals): the integral
      // does not move further that way while it lasts
      held_above_ = d.desired_replicas > asked_;
      held_below_ = d.desired_replicas < asked_;
      return;
    }
    const double gap = (static_cast<double>(d.desired_replicas) - terms_.commanded) / terms_.reference;
    terms_.integral += std::min(1.0, last_dt_ / config_.tracking_s) * gap;
    terms_.integral = std::clamp(terms_.integral, config_.censored_below ? 0.0 : -config_.integral_limit, config_.integral_limit);
  }

  /// The controller's state (the integral, the filtered measurement, the last tick, the terms,
  /// and the feed-forward's own state where it keeps one), times as ages at `now`: a restart
  /// that loads it carries on where this one left off (see has_saved_state).
  [[nodiscard]] std::string save_state(TimePoint now) const {
    detail::StateWriter w("pid/1");
    w << started_ << (started_ ? to_seconds(now - last_) : 0.0) << filtered_ << last_dt_ << asked_ << held_above_
      << held_below_ << pushed_ << terms_.error << terms_.proportional << terms_.integral << terms_.derivative;
    w.maybe(terms_.feed_forward).maybe(terms_.reference).maybe(terms_.commanded);
    w << static_cast<unsigned long long>(terms_.held_ticks);
    if constexpr (has_saved_state_v<FeedForward>) w.blob(feed_forward_.save_state(now));
    return std::move(w).str();
  }
  /// Restores what save_state wrote; false, with nothing changed, for a text that is not a
  /// PID's state (another policy's, a truncated file) or holds values no PID reaches.
  bool load_state(std::string_view state, TimePoint now) {
    detail::StateReader r(state, "pid/1");
    bool started = false, above = false, below = false;
    double age = 0, filtered = 0, last_dt = 0, pushed = 0;
    int asked = 0;
    PidTerms t;
    unsigned long long held = 0;
    r >> started >> age >> filtered >> last_dt >> asked >> above >> below >> pushed >> t.error >> t.proportional >> t.integral >>
        t.derivative;
    r.maybe(t.feed_forward).maybe(t.reference).maybe(t.commanded) >> held;
    r.require_finite(age, filtered, last_dt, pushed, t.error, t.proportional, t.integral, t.derivative);
    std::string_view nested;
    if constexpr (has_saved_state_v<FeedForward>) r.blob(nested);
    const double limit = config_.integral_limit;
    if (!r.done() || age < 0 || age > 1e9 || last_dt < 0 || asked < 0 || (config_.anti_windup && std::fabs(t.integral) > limit) || pushed < 0 || pushed > limit) {
      return false;
    }
    if constexpr (has_saved_state_v<FeedForward>) {
      FeedForward ff = feed_forward_;
      if (!ff.load_state(nested, now)) return false;
      feed_forward_ = std::move(ff);
    }
    t.held_ticks = held;
    started_ = started;
    last_ = now - from_seconds(age);
    filtered_ = filtered;
    last_dt_ = last_dt;
    asked_ = asked;
    held_above_ = above;
    held_below_ = below;
    pushed_ = pushed;
    terms_ = t;
    return true;
  }

  /// Forgets the state: the next tick starts afresh (bumpless).
  void reset() noexcept {
    started_ = false;
    terms_ = PidTerms{};
    pushed_ = 0;
  }

 private:
  double measure(const Signals& s, const FleetState& fleet) const noexcept {
    switch (config_.signal) {
      case PidSignal::queue_wait_p99: return s.queue_wait_p99_s;
      case PidSignal::ttft_p99: return s.ttft_p99_s;
      case PidSignal::queue_per_replica: return s.queued_now / std::max(1, fleet.ready());
      case PidSignal::latency_p99: return std::max(s.ttft_p99_s, s.tpot_p99_s * config_.target / config_.tpot_target);
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

  // Up: the replicas the answer needs. Down: only once the answer is down_hysteresis below the
  // next count, so an answer near an integer does not make the fleet hunt between two sizes.
  Proposal& finish(Proposal& p, double ff_raw, double ref, int current, const char* reason) noexcept {
    const double u = terms_.proportional + terms_.integral + terms_.derivative;
    const double raw = std::clamp(ff_raw + u * ref, 0.0, 1e6);
    terms_.commanded = raw;
    p.raw = raw;
    const int up = detail::ceil_replicas(raw - 1e-9, current);
    p.replicas = up >= current ? up
                               : std::min(current, detail::ceil_replicas(raw + config_.down_hysteresis - 1e-9, current));
    asked_ = p.replicas;
    p.reason = reason;
    return p;
  }

  PidConfig config_;
  FeedForward feed_forward_;
  PidTerms terms_;
  bool started_ = false;
  TimePoint last_{};
  double filtered_ = 0;
  double last_dt_ = 1.0;  // the last tick's step, for back-calculation
  int asked_ = 0;  // the last proposal
  bool held_above_ = false, held_below_ = false;
  double pushed_ = 0;  // the most P + I of the current episode above the target (censored_below)  // the last decision held the fleet above / below the answer
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_PID_HPP
