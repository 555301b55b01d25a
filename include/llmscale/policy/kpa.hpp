// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// KpaPolicy: the Knative Pod Autoscaler (knative/serving pkg/autoscaler/scaling/autoscaler.go)
// on concurrency: the requests in flight and queued (router queue included), sampled once per
// second into a stable and a panic window with Knative's exact bucketed averages (a host that
// ticks less often gets the seconds in between filled with the last value it reported).
// Every tick_s (2) `scale` runs Knative's Scale on the two averages:
//   target = max(0.01, container_concurrency x target_utilization)
//   ready = max(1, ready replicas); maxUp = ceil(max_scale_up_rate x ready);
//   maxDown = floor(ready / max_scale_down_rate)
//   dspc = ceil(stable average / target), dppc = ceil(panic average / target); the stable and
//   panic counts are those clamped to [maxDown, maxUp]; with activation_scale > 1 a count whose
//   dspc / dppc is above 0 is at least activation_scale.
//   over the panic threshold: dppc / ready >= panic_threshold (the ceiled count, not the raw
//   ratio). Over it: panic starts, or its time moves to now. Not over it, panicking, and a whole
//   stable window since that time has passed (strictly): panic ends and its held count resets.
//   While panicking the count is max(stable, panic) and never drops below the largest such
//   count of the panic (maxPanicPods).
//   A new autoscaler starts in panic (at its creation) only when more than one replica is
//   ready then; the held count starts at that ready count either way.
//   scale_down_delay_s: the count is the largest over a window of ceil(delay / tick_s) buckets
//   of tick_s (Knative's max.TimeWindow at its 2 s tick): an entry leaves once it is that many
//   buckets old, so with aligned ticks one exactly `delay` old is gone.
// With no load the stable count falls by max_scale_down_rate per decision to 0; the Governor
// (min_replicas = 0) applies the scale-to-zero grace period. Knative's Reachable is taken as
// true (the revision serves traffic), so maxDown is never 0 for an unreachable revision.
#ifndef LLMSCALE_POLICY_KPA_HPP
#define LLMSCALE_POLICY_KPA_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/periodic.hpp"
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/policy/detail/second_sampler.hpp"
#include "llmscale/signals/knative_window.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// KpaPolicy's settings (defaults: Knative's).
struct KpaConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "kpa";
  /// The spellings of KnativeAveraging in key=value text.
  static constexpr std::array<EnumName<KnativeAveraging>, 2> averaging_names{
      {{"linear", KnativeAveraging::linear}, {"weighted_exponential", KnativeAveraging::weighted_exponential}}};

  double container_concurrency = 100;  ///< Knative's default; the simulator uses the max batch
  double target_utilization = 0.7;      ///< fraction of container_concurrency to aim at, (0, 1]
  double stable_window_s = 60;          ///< the stable window, [6, 3600] s
  double panic_window_percentage = 10;  ///< of the stable window
  double panic_threshold = 2.0;         ///< 200 %
  double max_scale_up_rate = 1000;      ///< at most ceil(this x ready) per decision
  double max_scale_down_rate = 2;       ///< at least floor(ready / this) per decision
  int activation_scale = 1;             ///< a non-zero count is at least this
  double scale_down_delay_s = 0;        ///< the count is the largest over this window (0: none)
  double tick_s = 2;                    ///< seconds between decisions
  KnativeAveraging averaging = KnativeAveraging::linear;  ///< how the windows average

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("container_concurrency", self.container_concurrency, open_closed(0.0, 1e6), "requests one replica serves at once");
    v("target_utilization", self.target_utilization, open_closed(0.0, 1.0), "fraction of container_concurrency to aim at");
    v("stable_window_s", self.stable_window_s, closed(6.0, 3600.0), "stable window");
    v("panic_window_percentage", self.panic_window_percentage, closed(1.0, 100.0), "panic window, % of the stable one");
    v("panic_threshold", self.panic_threshold, closed(1.0, 1000.0), "panic when panic pods / ready reach this");
    v("max_scale_up_rate", self.max_scale_up_rate, open_closed(1.0, 1e6), "at most this x ready per decision");
    v("max_scale_down_rate", self.max_scale_down_rate, open_closed(1.0, 1e6), "at least ready / this per decision");
    v("activation_scale", self.activation_scale, closed(1, FleetState::max_replicas), "a non-zero count is at least this");
    v("scale_down_delay_s", self.scale_down_delay_s, closed(0.0, 3600.0), "the largest desired count over this window");
    v("tick_s", self.tick_s, open_closed(0.0, 3600.0), "seconds between decisions");
    v("averaging", self.averaging, averaging_names, "window average: linear or weighted_exponential");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// The Knative Pod Autoscaler on concurrency, with its stable and panic windows (see the top of
/// this file).
class KpaPolicy {
 public:
  /// A KPA created at `start` that takes the ready count of its first decision as the one it
  /// was created with (whether it starts in panic, and the count the panic holds).
  explicit KpaPolicy(const KpaConfig& config, TimePoint start) : KpaPolicy(config, start, -1) {}
  /// A KPA created at `start` with `ready_at_start` replicas ready (Knative's newAutoscaler:
  /// in panic from `start` when more than one is ready). Throws std::invalid_argument for an
  /// invalid config.
  KpaPolicy(const KpaConfig& config, TimePoint start, int ready_at_start)
      : config_((require_valid(config), config)),
        stable_(from_seconds(config.stable_window_s), std::chrono::seconds(1), config.averaging),
        panic_(from_seconds(config.stable_window_s * config.panic_window_percentage / 100.0), std::chrono::seconds(1),
               config.averaging),
        periodic_(from_seconds(config.tick_s)),
        sampler_(config.stable_window_s),
        stable_window_(from_seconds(config.stable_window_s)),
        start_(start),
        delay_buckets_(delay_buckets(config)),
        delay_bucket_(std::max(Duration(1), from_seconds(std::max(config.tick_s, config.scale_down_delay_s / 65536.0)))),
        delay_slots_(delay_buckets_) {
    if (ready_at_start >= 0) begin(ready_at_start);
  }

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "kpa"; }
  /// The configuration it was built with.
  [[nodiscard]] const KpaConfig& config() const noexcept { return config_; }
  /// Whether the last decision was in panic mode.
  [[nodiscard]] bool panicking() const noexcept { return panicking_; }
  /// Knative's panicTime: when panic began or was last extended (meaningful while panicking).
  [[nodiscard]] TimePoint panic_time() const noexcept { return panic_time_; }

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    // the metric: one sample per second, as Knative scrapes
    sampler_.sample(now, std::max(0.0, s.running_now + s.queued_now), [this](TimePoint at, double v) {
      stable_.record(at, v);
      panic_.record(at, v);
    });
    if (!periodic_.due(now)) return periodic_.last();
    return periodic_.ran(now, scale(now, stable_.average(now), panic_.average(now), fleet.ready()));
  }

  /// Knative's Scale at `now` on the stable and panic window averages already taken, with
  /// `ready_pods` replicas ready. `now` must not go backwards. An average that is NaN,
  /// infinite or negative is Knative's "no data": the last proposal stands.
  Proposal scale(TimePoint now, double stable_avg, double panic_avg, int ready_pods) noexcept {
    ready_pods = std::max(0, ready_pods);
    if (!begun_) begin(ready_pods);
    if (!(std::isfinite(stable_avg) && std::isfinite(panic_avg) && stable_avg >= 0 && panic_avg >= 0)) {
      last_.reason = "no metric data: no change";
      return last_;
    }
    const double ready = std::max(1.0, static_cast<double>(ready_pods));
    const double target = std::max(0.01, config_.container_concurrency * config_.target_utilization);
    const double max_up = std::ceil(config_.max_scale_up_rate * ready);
    const double max_down = std::floor(ready / config_.max_scale_down_rate);
    const double dspc = std::ceil(stable_avg / target);
    const double dppc = std::ceil(panic_avg / target);
    int stable_pods = detail::to_replicas(std::min(std::max(dspc, max_down), max_up));
    int panic_pods = detail::to_replicas(std::min(std::max(dppc, max_down), max_up));
    if (config_.activation_scale > 1) {
      if (dspc > 0 && stable_pods < config_.activation_scale) stable_pods = config_.activation_scale;
      if (dppc > 0 && panic_pods < config_.activation_scale) panic_pods = config_.activation_scale;
    }
    const bool over = dppc / ready >= config_.panic_threshold;
    if (over) {
      panicking_ = true;  // begins, or extends
      panic_time_ = now;
    } else if (panicking_ && panic_time_ + stable_window_ < now) {
      panicking_ = false;  // the surge has made its way into the stable window
      max_panic_pods_ = 0;
    }
    int desired = stable_pods;
    Proposal p{name(), 0, stable_avg / target, "stable window"};
    if (panicking_) {
      desired = std::max(desired, panic_pods);
      max_panic_pods_ = std::max(max_panic_pods_, desired);  // never scale down while panicking
      desired = max_panic_pods_;
      p.raw = std::max(stable_avg, panic_avg) / target;
      p.reason = "panic: never scale down";
    }
    if (delay_buckets_ > 0) {
      const int delayed = record_delayed(now, desired);
      if (delayed != desired) p.reason = "scale-down delay: the largest count of the delay window";
      desired = delayed;
    }
    p.replicas = desired;
    last_ = p;
    return p;
  }

 private:
  void begin(int ready) noexcept {
    begun_ = true;
    max_panic_pods_ = ready;
    last_ = Proposal{name(), ready, static_cast<double>(ready), "no decision yet"};
    if (ready > 1) {  // a restart must not scale down before it has data: start in panic
      panicking_ = true;
      panic_time_ = start_;
    }
  }

  // The delay window's buckets: ceil(delay / tick_s), at most 65,536 (a tick_s below
  // delay / 65,536 gets buckets of delay / 65,536 instead; Knative's tick is 2 s).
  static std::size_t delay_buckets(const KpaConfig& c) noexcept {
    if (!(c.scale_down_delay_s > 0)) return 0;
    return static_cast<std::size_t>(std::min(65536.0, std::ceil(c.scale_down_delay_s / c.tick_s)));
  }

  // Knative's max.TimeWindow: buckets indexed by time (index = now / bucket); an entry leaves
  // when the newest index is delay_buckets_ or more past its own; a bucket keeps its largest.
  int record_delayed(TimePoint now, int value) noexcept {
    const std::int64_t index = now.time_since_epoch().count() / delay_bucket_.count();
    const auto n = static_cast<std::int64_t>(delay_buckets_);
    Slot& slot = delay_slots_[static_cast<std::size_t>(((index % n) + n) % n)];
    if (slot.used && slot.index == index) {
      slot.value = std::max(slot.value, value);
    } else {
      slot = Slot{index, value, true};
    }
    int best = value;
    for (const Slot& e : delay_slots_) {
      if (e.used && index - e.index < n && e.index <= index) best = std::max(best, e.value);
    }
    return best;
  }

  struct Slot {
    std::int64_t index = 0;
    int value = 0;
    bool used = false;
  };

  KpaConfig config_;
  KnativeWindow stable_;
  KnativeWindow panic_;
  detail::Periodic periodic_;
  detail::SecondSampler sampler_;
  Duration stable_window_;
  TimePoint start_;
  TimePoint panic_time_{};
  bool panicking_ = false;
  bool begun_ = false;
  int max_panic_pods_ = 0;
  Proposal last_{};
  std::size_t delay_buckets_;
  Duration delay_bucket_;
  std::vector<Slot> delay_slots_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_KPA_HPP
