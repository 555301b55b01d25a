// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Governor: what makes any policy's proposal safe to act on. In order, each tick:
//   1. stale signals: never a scale-down; hold the current count, or (stale_fallback = floor)
//      go to max(current, stale_floor_replicas);
//   2. scale to zero (min_replicas = 0): a proposal of 0 stands only after zero_grace_s without
//      demand (no arrivals, nothing in flight); activation: from 0 replicas with demand, at
//      least activation_replicas at once;
//   3. the HPA's behaviour (kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go,
//      stabilizeRecommendationWithBehaviors and the rate-limit functions): stabilization
//      windows (up: the least recommendation of the window, down: the greatest; both start
//      out holding the fleet first seen, as recordInitialRecommendation), then rate
//      policies per period counted from the replicas at the period's start: the current count
//      less the replicas added and plus those removed within the period (both directions, as
//      calculateScaleUpLimitWithScalingRules and calculateScaleDownLimitWithBehaviors count
//      them), Pods: +-n, Percent: up ceil(start (1 + p/100)), down floor(start (1 - p/100));
//      combined by selectPolicy (max: the most permissive, min: the least, disabled: no change
//      that way);
//   4. cooldowns: no change in a direction sooner than its cooldown after the last change that
//      way;
//   5. min_replicas and max_replicas.
// Pending awareness: "current" is ready plus starting replicas (FleetState::current), so a
// replica requested minutes ago counts as capacity on its way, not as zero.
//
// The windows are rings allocated at construction (4,096 entries each: at one tick a second,
// more than an hour); each tick costs O(1) amortized and allocates nothing.
#ifndef LLMSCALE_POLICY_GOVERNOR_HPP
#define LLMSCALE_POLICY_GOVERNOR_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/replicas.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// How a direction's rate policies combine (the HPA's selectPolicy): max, the most permissive;
/// min, the least; disabled, no change in that direction.
enum class SelectPolicy : std::uint8_t { max, min, disabled };
/// What the governor does on stale signals: hold the current count, or go to the floor
/// max(current, stale_floor_replicas).
enum class StaleFallback : std::uint8_t { hold, floor };

/// The Governor's settings (stabilization and rate defaults: the HPA's).
struct GovernorConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "governor";
  /// The spellings of SelectPolicy in key=value text.
  static constexpr std::array<EnumName<SelectPolicy>, 3> select_names{
      {{"max", SelectPolicy::max}, {"min", SelectPolicy::min}, {"disabled", SelectPolicy::disabled}}};
  /// The spellings of StaleFallback in key=value text.
  static constexpr std::array<EnumName<StaleFallback>, 2> fallback_names{
      {{"hold", StaleFallback::hold}, {"floor", StaleFallback::floor}}};

  int min_replicas = 1;    ///< 0 allows scale to zero
  int max_replicas = 256;  ///< the most replicas, [1, FleetState::max_replicas]
  double scale_up_stabilization_s = 0;      ///< HPA default 0
  double scale_down_stabilization_s = 300;  ///< HPA default 300
  int scale_up_pods = 4;                    ///< HPA default: 4 pods ...
  double scale_up_percent = 100;            ///< ... or 100 % ...
  double scale_up_period_s = 15;            ///< ... per 15 s
  SelectPolicy scale_up_select = SelectPolicy::max;    ///< how the scale-up policies combine
  int scale_down_pods = 0;                  ///< 0: no Pods policy (HPA default: Percent only)
  double scale_down_percent = 100;          ///< HPA default: 100 % per 15 s
  double scale_down_period_s = 15;                     ///< the scale-down policies' period
  SelectPolicy scale_down_select = SelectPolicy::max;  ///< how the scale-down policies combine
  double scale_up_cooldown_s = 0;                      ///< seconds between scale-ups (0: none)
  double scale_down_cooldown_s = 0;                    ///< seconds between scale-downs (0: none)
  double zero_grace_s = 30;                 ///< Knative's scale-to-zero grace period
  int activation_replicas = 1;              ///< from zero with demand: at least this many
  StaleFallback stale_fallback = StaleFallback::hold;  ///< what stale signals do: hold or floor
  int stale_floor_replicas = 0;             ///< with stale_fallback = floor

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("min_replicas", self.min_replicas, closed(0, FleetState::max_replicas), "fewest replicas (0: scale to zero)");
    v("max_replicas", self.max_replicas, closed(1, FleetState::max_replicas), "most replicas");
    v("scale_up_stabilization_s", self.scale_up_stabilization_s, closed(0.0, 3600.0),
      "scale-up stabilization window: the least recommendation in it");
    v("scale_down_stabilization_s", self.scale_down_stabilization_s, closed(0.0, 3600.0),
      "scale-down stabilization window: the greatest recommendation in it");
    v("scale_up_pods", self.scale_up_pods, closed(0, FleetState::max_replicas), "Pods policy: replicas added per period (0: none)");
    v("scale_up_percent", self.scale_up_percent, closed(0.0, 1e6), "Percent policy: % added per period (0: none)");
    v("scale_up_period_s", self.scale_up_period_s, open_closed(0.0, 1800.0), "scale-up policy period");
    v("scale_up_select", self.scale_up_select, select_names, "combine scale-up policies: max, min or disabled");
    v("scale_down_pods", self.scale_down_pods, closed(0, FleetState::max_replicas), "Pods policy: replicas removed per period (0: none)");
    v("scale_down_percent", self.scale_down_percent, closed(0.0, 100.0), "Percent policy: % removed per period (0: none)");
    v("scale_down_period_s", self.scale_down_period_s, open_closed(0.0, 1800.0), "scale-down policy period");
    v("scale_down_select", self.scale_down_select, select_names, "combine scale-down policies: max, min or disabled");
    v("scale_up_cooldown_s", self.scale_up_cooldown_s, closed(0.0, 86400.0), "seconds between scale-ups");
    v("scale_down_cooldown_s", self.scale_down_cooldown_s, closed(0.0, 86400.0), "seconds between scale-downs");
    v("zero_grace_s", self.zero_grace_s, closed(0.0, 86400.0), "seconds without demand before scaling to zero");
    v("activation_replicas", self.activation_replicas, closed(1, FleetState::max_replicas),
      "replicas started at once from zero on demand");
    v("stale_fallback", self.stale_fallback, fallback_names, "on stale signals: hold, or floor (max(current, stale_floor_replicas))");
    v("stale_floor_replicas", self.stale_floor_replicas, closed(0, FleetState::max_replicas),
      "replicas to go to on stale signals with stale_fallback = floor");
  }

  /// The first field out of range, or min_replicas above max_replicas, or nullopt (never
  /// throws).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (min_replicas > max_replicas) {
      return ConfigProblem{config_name, "min_replicas", std::to_string(min_replicas),
                           "[0, max_replicas = " + std::to_string(max_replicas) + "]", "is above max_replicas", 0};
    }
    return std::nullopt;
  }
};

/// What the governor needs to know about the signals besides the proposal.
struct SignalState {
  bool stale = false;   ///< the signals the policy reads are stale or missing
  bool demand = false;  ///< requests arriving or in flight
};

/// Makes a policy's proposal safe to act on: stale signals, scale to zero, stabilization, rate
/// limits, cooldowns and bounds, in that order (see the top of this file).
class Governor {
 public:
  /// Throws std::invalid_argument for an invalid config.
  explicit Governor(const GovernorConfig& config, TimePoint start)
      : config_((require_valid(config), config)),
        up_stabilization_(from_seconds(config.scale_up_stabilization_s)),
        down_stabilization_(from_seconds(config.scale_down_stabilization_s)),
        up_period_(from_seconds(config.scale_up_period_s)),
        down_period_(from_seconds(config.scale_down_period_s)),
        up_cooldown_(from_seconds(config.scale_up_cooldown_s)),
        down_cooldown_(from_seconds(config.scale_down_cooldown_s)),
        zero_grace_(from_seconds(config.zero_grace_s)),
        last_demand_(start) {}

  /// The decision for `proposal` from policy `policy_name` (a string literal) at `now`.
  Decision decide(TimePoint now, const char* policy_name, const Proposal& proposal, const FleetState& fleet,
                  const SignalState& signals) noexcept {
    Decision d;
    decide(now, policy_name, proposal, fleet, signals, d);
    return d;
  }
  /// The same into `d` (overwritten; its proposal and input arrays are not cleared, only
  /// their counts), for a caller that keeps one Decision.
  void decide(TimePoint now, const char* policy_name, const Proposal& proposal, const FleetState& fleet,
              const SignalState& signals, Decision& d) noexcept;

  /// The configuration it was built with.
  [[nodiscard]] const GovernorConfig& config() const noexcept { return config_; }

 private:
  static constexpr std::size_t history = 4096;
  struct Stamped {
    TimePoint at{};
    int value = 0;
  };
  // A time-ordered ring of stamped values with a fixed capacity (the oldest is dropped when
  // full); the windows below keep it monotonic or summed, so each tick costs O(1) amortized.
  class Ring {
   public:
    Ring() : items_(history) {}
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] const Stamped& front() const noexcept { return items_[head_]; }
    [[nodiscard]] const Stamped& back() const noexcept { return items_[(head_ + size_ - 1) % history]; }
    void pop_front() noexcept {
      head_ = (head_ + 1) % history;
      --size_;
    }
    void pop_back() noexcept { --size_; }
    // Appends; returns the dropped oldest entry's value when full (else 0).
    int push_back(TimePoint at, int value) noexcept {
      int dropped = 0;
      if (size_ == history) {
        dropped = front().value;
        pop_front();
      }
      items_[(head_ + size_) % history] = Stamped{at, value};
      ++size_;
      return dropped;
    }

   private:
    std::vector<Stamped> items_;
    std::size_t head_ = 0, size_ = 0;
  };
  // The greatest (Max) or least (!Max) value stamped after now - window, the newest included.
  template <bool Max>
  struct WindowExtreme {
    Ring ring;
    int update(TimePoint now, Duration window, int value) noexcept {
      while (!ring.empty() && (Max ? ring.back().value <= value : ring.back().value >= value)) ring.pop_back();
      ring.push_back(now, value);
      while (ring.front().at <= now - window && ring.front().at != now) ring.pop_front();
      return ring.front().value;
    }
  };
  // The sum of values stamped after now - window.
  struct WindowSum {
    Ring ring;
    long long sum = 0;
    long long total(TimePoint now, Duration window) noexcept {
      while (!ring.empty() && ring.front().at <= now - window) {
        sum -= ring.front().value;
        ring.pop_front();
      }
      return sum;
    }
    void add(TimePoint now, int value) noexcept { sum += value - ring.push_back(now, value); }
  };

  // The replicas at a rate period's start: current - added + removed, kept within
  // +-2 x 10^6 so that adding a policy's pods cannot overflow an int.
  static int period_start(int current, long long added, long long removed) noexcept {
    constexpr long long bound = 2LL * FleetState::max_replicas;
    return static_cast<int>(std::clamp(static_cast<long long>(current) - added + removed, -bound, bound));
  }

  GovernorConfig config_;
  Duration up_stabilization_, down_stabilization_, up_period_, down_period_, up_cooldown_, down_cooldown_, zero_grace_;
  WindowExtreme<false> up_window_;   // scale-up stabilization: the least recommendation
  WindowExtreme<true> down_window_;  // scale-down stabilization: the greatest
  // replicas added and removed within the scale-up period and within the scale-down period
  WindowSum up_added_, up_removed_, down_added_, down_removed_;
  int commanded_ = -1;  // the last count decided (-1: none yet)
  TimePoint last_demand_;
  TimePoint last_up_{};
  TimePoint last_down_{};
  bool up_seen_ = false;
  bool down_seen_ = false;
  bool windows_seeded_ = false;
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline void Governor::decide(TimePoint now, const char* policy_name, const Proposal& proposal,
                             const FleetState& fleet, const SignalState& signals, Decision& d) noexcept {
  d.at = now;
  d.binding = Constraint::none;
  d.proposal_count = 0;
  d.input_count = 0;
  d.policy = policy_name;
  d.current_replicas = fleet.current();
  d.add_proposal(proposal);
  d.add_input("ready", fleet.ready());
  d.add_input("starting", fleet.starting());
  const int current = fleet.current();
  int desired = std::max(0, proposal.replicas);
  d.reason = proposal.reason;
  const auto bind = [&](Constraint c, const char* stage, const char* reason, int value) {
    d.binding = c;
    d.reason = reason;
    d.add_proposal(Proposal{stage, value, std::numeric_limits<double>::quiet_NaN(), reason});
  };
  if (signals.demand) last_demand_ = now;

  // 1. stale signals: no change on data that cannot be trusted (hold), or a floor (never down)
  if (signals.stale) {
    const int fallback = config_.stale_fallback == StaleFallback::floor ? std::max(current, config_.stale_floor_replicas)
                                                                         : current;
    if (desired != fallback) {
      desired = fallback;
      bind(Constraint::stale_signals, "stale",
           config_.stale_fallback == StaleFallback::floor ? "signals stale: floor, never down" : "signals stale: hold",
           desired);
    }
  }
  // 2. scale to zero and activation
  bool activated = false;
  if (desired == 0 && config_.min_replicas == 0 && current > 0 &&
      now - last_demand_ < zero_grace_) {
    desired = 1;
    bind(Constraint::scale_to_zero, "zero_grace", "idle, within the scale-to-zero grace period", desired);
  }
  if (current == 0 && signals.demand && desired < config_.activation_replicas) {
    desired = config_.activation_replicas;
    activated = true;
    bind(Constraint::activation, "activation", "demand at zero replicas: activate", desired);
  }
  const int recommendation = desired;
  if (!windows_seeded_) {
    // the HPA's recordInitialRecommendation: the windows start out holding the fleet that was
    // running when the governor first saw it, so a first tick with no load yet does not drop a
    // fleet sized for the load a moment away (a window of 0 s holds nothing from before now)
    windows_seeded_ = true;
    if (up_stabilization_ > Duration::zero()) up_window_.update(now, up_stabilization_, current);
    if (down_stabilization_ > Duration::zero()) down_window_.update(now, down_stabilization_, current);
  }
  if (!activated) {
    // 3a. stabilization windows (the recommendation itself counts)
    const int up_rec = up_window_.update(now, up_stabilization_, desired);
    const int down_rec = down_window_.update(now, down_stabilization_, desired);
    int stabilized = current;
    if (stabilized < up_rec) stabilized = up_rec;
    if (stabilized > down_rec) stabilized = down_rec;
    if (stabilized != desired) {
      desired = stabilized;
      bind(Constraint::stabilization, "stabilization", "kept by a stabilization window", desired);
    }
    // 3b. rate policies, from the replicas at the start of each period
    if (desired > current) {
      // the count at the period's start: the last count decided (the fleet may not have followed
      // yet) less what was added and plus what was removed since
      const int decided = commanded_ >= 0 ? std::max(current, commanded_) : current;
      const int start = period_start(decided, up_added_.total(now, up_period_), up_removed_.total(now, up_period_));
      int limit;
      const int pods = config_.scale_up_pods > 0 ? start + config_.scale_up_pods : -1;
      const int percent = config_.scale_up_percent > 0
                              ? detail::ceil_replicas(start * (1.0 + config_.scale_up_percent / 100.0))
                              : -1;
      if (config_.scale_up_select == SelectPolicy::disabled) {
        limit = current;
      } else if (pods < 0 || percent < 0) {
        limit = std::max(pods, percent);  // only one policy configured
        if (limit < 0) limit = std::numeric_limits<int>::max();
      } else {
        limit = config_.scale_up_select == SelectPolicy::max ? std::max(pods, percent) : std::min(pods, percent);
      }
      limit = std::max(limit, current);
      if (desired > limit) {
        desired = limit;
        bind(Constraint::rate_limit, "rate_limit", "scale-up rate limit", desired);
      }
    } else if (desired < current) {
      const int decided = commanded_ >= 0 ? std::min(current, commanded_) : current;
      const int start = period_start(decided, down_added_.total(now, down_period_), down_removed_.total(now, down_period_));
      int limit;
      const int pods = config_.scale_down_pods > 0 ? start - config_.scale_down_pods : -1;
      const int percent = config_.scale_down_percent > 0
                              ? detail::floor_replicas(start * (1.0 - config_.scale_down_percent / 100.0))
                              : -1;
      const bool has_pods = config_.scale_down_pods > 0, has_percent = config_.scale_down_percent > 0;
      if (config_.scale_down_select == SelectPolicy::disabled || (!has_pods && !has_percent)) {
        limit = current;
      } else if (!has_pods || !has_percent) {
        limit = has_pods ? pods : percent;
      } else {
        // max: the most permissive (the fewest replicas), min: the least
        limit = config_.scale_down_select == SelectPolicy::max ? std::min(pods, percent) : std::max(pods, percent);
      }
      limit = std::min(std::max(limit, 0), current);
      if (desired < limit) {
        desired = limit;
        bind(Constraint::rate_limit, "rate_limit", "scale-down rate limit", desired);
      }
    }
    // 4. cooldowns
    if (desired > current && up_seen_ && now - last_up_ < up_cooldown_) {
      desired = current;
      bind(Constraint::cooldown, "cooldown", "scale-up cooldown", desired);
    } else if (desired < current && down_seen_ && now - last_down_ < down_cooldown_) {
      desired = current;
      bind(Constraint::cooldown, "cooldown", "scale-down cooldown", desired);
    }
  }
  // 5. bounds, last: they bind even on stale signals (a fleet above a lowered max goes down)
  if (desired < config_.min_replicas) {
    desired = config_.min_replicas;
    bind(Constraint::min_replicas, "min_replicas", "raised to min_replicas", desired);
  } else if (desired > config_.max_replicas) {
    desired = config_.max_replicas;
    bind(Constraint::max_replicas, "max_replicas", "lowered to max_replicas", desired);
  }
  if (activated) {  // the windows still see the recommendation
    up_window_.update(now, up_stabilization_, recommendation);
    down_window_.update(now, down_stabilization_, recommendation);
  }
  // a scale event is a change of the count asked for: a decision repeated while the fleet has
  // not followed yet (a host whose actuator lags, as KEDA's HPA does behind llmscale-scaler) is
  // the same event, not a new one each tick (counted each tick, the rate limits' period start,
  // current - added + removed, fell below the fleet and froze it)
  const int above = commanded_ >= 0 ? std::max(current, commanded_) : current;
  const int below = commanded_ >= 0 ? std::min(current, commanded_) : current;
  if (desired > current) {
    if (desired > above) {
      up_added_.add(now, desired - above);
      down_added_.add(now, desired - above);
    }
    last_up_ = now;
    up_seen_ = true;
  } else if (desired < current) {
    if (desired < below) {
      up_removed_.add(now, below - desired);
      down_removed_.add(now, below - desired);
    }
    last_down_ = now;
    down_seen_ = true;
  }
  commanded_ = desired;
  d.desired_replicas = desired;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_GOVERNOR_HPP
