// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// ControlConfig: the settings every stage of a control loop shares: how often it ticks, how
// far behind request events may arrive, when a signal counts as stale, how long a scale-up
// takes, and the replica bounds.
#ifndef LLMSCALE_CORE_CONTROL_CONFIG_HPP
#define LLMSCALE_CORE_CONTROL_CONFIG_HPP

#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

struct ControlConfig {
  static constexpr const char* config_name = "control";

  /// Seconds between ticks (Kubernetes HPA: 15, Knative KPA: 2).
  double tick_period_s = 10.0;
  /// How far (seconds) a request event may lag the newest one and still be counted.
  double event_skew_s = 1.0;
  /// A signal with no fresh data for this many seconds is stale: no scale-down on it.
  double stale_after_s = 30.0;
  /// Expected seconds from requesting a replica to its serving (provisioning + model load).
  double cold_start_s = 600.0;
  /// The fewest replicas to run (0 allows scale to zero).
  int min_replicas = 1;
  /// The most replicas to run.
  int max_replicas = 100;

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("tick_period_s", self.tick_period_s, open_closed(0.0, 3600.0), "seconds between ticks");
    v("event_skew_s", self.event_skew_s, closed(0.0, 60.0),
      "seconds a request event may lag the newest and still count");
    v("stale_after_s", self.stale_after_s, open_closed(0.0, 86400.0),
      "seconds without fresh data before a signal is stale");
    v("cold_start_s", self.cold_start_s, closed(0.0, 86400.0),
      "expected seconds from requesting a replica to its serving");
    v("min_replicas", self.min_replicas, closed(0, FleetState::max_replicas),
      "fewest replicas to run (0 allows scale to zero)");
    v("max_replicas", self.max_replicas, closed(1, FleetState::max_replicas),
      "most replicas to run");
  }

  /// The first problem: a field out of range, or min_replicas above max_replicas, or
  /// stale_after_s shorter than one tick (every tick would then see stale signals).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (min_replicas > max_replicas) {
      return ConfigProblem{config_name, "min_replicas", std::to_string(min_replicas),
                           "[0, max_replicas = " + std::to_string(max_replicas) + "]",
                           "is above max_replicas", 0};
    }
    if (stale_after_s < tick_period_s) {
      return ConfigProblem{config_name, "stale_after_s", detail::format_number(stale_after_s),
                           "[tick_period_s = " + detail::format_number(tick_period_s) +
                               ", 86400]",
                           "is shorter than one tick", 0};
    }
    return std::nullopt;
  }

  [[nodiscard]] Duration tick_period() const noexcept { return from_seconds(tick_period_s); }
  [[nodiscard]] Duration event_skew() const noexcept { return from_seconds(event_skew_s); }
  [[nodiscard]] Duration stale_after() const noexcept { return from_seconds(stale_after_s); }
  [[nodiscard]] Duration cold_start() const noexcept { return from_seconds(cold_start_s); }

  friend bool operator==(const ControlConfig& a, const ControlConfig& b) noexcept {
    return a.tick_period_s == b.tick_period_s && a.event_skew_s == b.event_skew_s &&
           a.stale_after_s == b.stale_after_s && a.cold_start_s == b.cold_start_s &&
           a.min_replicas == b.min_replicas && a.max_replicas == b.max_replicas;
  }
  friend bool operator!=(const ControlConfig& a, const ControlConfig& b) noexcept {
    return !(a == b);
  }
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_CONTROL_CONFIG_HPP
