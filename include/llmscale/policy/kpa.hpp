// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// KpaPolicy: the Knative Pod Autoscaler (knative/serving pkg/autoscaler/scaling/autoscaler.go)
// on concurrency: the requests in flight and queued (router queue included), sampled once per
// second into a stable and a panic window with Knative's exact bucketed averages (a host that
// ticks less often gets the seconds in between filled with the last value it reported).
//   target = max(0.01, container_concurrency x target_utilization)
//   ready = max(1, ready replicas); maxUp = ceil(max_scale_up_rate x ready);
//   maxDown = floor(ready / max_scale_down_rate)
//   stable = ceil(stable average / target), panic = ceil(panic average / target), each
//   clamped to [maxDown, maxUp]
//   enter panic when panic average / target / ready >= panic_threshold; while over it the
//   panic start moves to now; leave once under it and a whole stable window after the last
//   time over it. While panicking the desired count is max(stable, panic) and never drops.
//   A new autoscaler starts in panic holding the ready count (no scale-down after a restart).
//   scale_down_delay_s: the desired count is the largest over that sliding window.
//   activation_scale: a non-zero desired count is at least this.
// With no load the stable count falls by max_scale_down_rate per decision to 0; the Governor
// (min_replicas = 0) applies the scale-to-zero grace period.
// Decides every tick_s (2).
#ifndef LLMSCALE_POLICY_KPA_HPP
#define LLMSCALE_POLICY_KPA_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/periodic.hpp"
#include "llmscale/policy/detail/second_sampler.hpp"
#include "llmscale/signals/knative_window.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

struct KpaConfig {
  static constexpr const char* config_name = "kpa";
  static constexpr std::array<EnumName<KnativeAveraging>, 2> averaging_names{
      {{"linear", KnativeAveraging::linear}, {"weighted_exponential", KnativeAveraging::weighted_exponential}}};

  double container_concurrency = 100;  ///< Knative's default; the simulator uses the max batch
  double target_utilization = 0.7;
  double stable_window_s = 60;
  double panic_window_percentage = 10;  ///< of the stable window
  double panic_threshold = 2.0;         ///< 200 %
  double max_scale_up_rate = 1000;
  double max_scale_down_rate = 2;
  int activation_scale = 1;
  double scale_down_delay_s = 0;
  double tick_s = 2;
  KnativeAveraging averaging = KnativeAveraging::linear;

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
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

class KpaPolicy {
 public:
  /// A KPA created at `start` (it starts in panic, holding the ready count it first sees).
  explicit KpaPolicy(const KpaConfig& config, TimePoint start)
      : config_((require_valid(config), config)),
        stable_(from_seconds(config.stable_window_s), std::chrono::seconds(1), config.averaging),
        panic_(from_seconds(config.stable_window_s * config.panic_window_percentage / 100.0), std::chrono::seconds(1),
               config.averaging),
        periodic_(from_seconds(config.tick_s)),
        sampler_(config.stable_window_s),
        stable_window_(from_seconds(config.stable_window_s)),
        scale_down_delay_(from_seconds(config.scale_down_delay_s)),
        panic_since_(start),
        delay_slots_(static_cast<std::size_t>(std::ceil(config.scale_down_delay_s / config.tick_s)) + 2) {}

  [[nodiscard]] const char* name() const noexcept { return "kpa"; }
  [[nodiscard]] const KpaConfig& config() const noexcept { return config_; }
  [[nodiscard]] bool panicking() const noexcept { return panicking_; }

  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    // the metric: one sample per second, as Knative scrapes
    sampler_.sample(now, std::max(0.0, s.running_now + s.queued_now), [this](TimePoint at, double v) {
      stable_.record(at, v);
      panic_.record(at, v);
    });
    if (!periodic_.due(now)) return periodic_.last();
    const int ready = std::max(1, fleet.ready());
    if (first_) {  // starting in panic: no scale-down below what is ready now
      first_ = false;
      panicking_ = true;
      max_panic_pods_ = fleet.ready();
    }
    const double target = std::max(0.01, config_.container_concurrency * config_.target_utilization);
    const double stable_avg = stable_.average(now);
    const double panic_avg = panic_.average(now);
    const int max_up = static_cast<int>(std::ceil(config_.max_scale_up_rate * ready));
    const int max_down = static_cast<int>(std::floor(ready / config_.max_scale_down_rate));
    const auto clamp = [&](double pods) {
      return std::clamp(static_cast<int>(std::min(1e6, std::ceil(pods))), max_down, max_up);
    };
    const int stable_pods = clamp(stable_avg / target);
    const int panic_pods = clamp(panic_avg / target);
    const bool over = panic_avg / target / ready >= config_.panic_threshold;
    if (over) {
      panicking_ = true;
      panic_since_ = now;
    } else if (panicking_ && now - panic_since_ >= stable_window_) {
      panicking_ = false;
      max_panic_pods_ = 0;
    }
    int desired = stable_pods;
    Proposal p{name(), 0, stable_avg / target, "stable window"};
    if (panicking_) {
      max_panic_pods_ = std::max({max_panic_pods_, stable_pods, panic_pods});
      desired = max_panic_pods_;
      p.raw = std::max(stable_avg, panic_avg) / target;
      p.reason = "panic: never scale down";
    }
    // scale-down delay: the largest desired count over the window (decisions are at least
    // tick_s apart, so the ring holds the whole window)
    delay_slots_[delay_next_] = {now, desired};
    delay_next_ = (delay_next_ + 1) % delay_slots_.size();
    delay_count_ = std::min(delay_count_ + 1, delay_slots_.size());
    const TimePoint since = now - scale_down_delay_;
    for (std::size_t k = 0; k < delay_count_; ++k) {
      if (delay_slots_[k].first >= since) desired = std::max(desired, delay_slots_[k].second);
    }
    if (desired > 0 && desired < config_.activation_scale) desired = config_.activation_scale;
    p.replicas = desired;
    return periodic_.ran(now, p);
  }

 private:
  KpaConfig config_;
  KnativeWindow stable_;
  KnativeWindow panic_;
  detail::Periodic periodic_;
  detail::SecondSampler sampler_;
  Duration stable_window_, scale_down_delay_;
  TimePoint panic_since_;
  bool panicking_ = false;
  bool first_ = true;
  int max_panic_pods_ = 0;
  std::vector<std::pair<TimePoint, int>> delay_slots_;
  std::size_t delay_next_ = 0, delay_count_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_KPA_HPP
