// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// LlmdSaturationPolicy: llm-d's workload-variant-autoscaler saturation analyzer (V1), on the
// engines' KV use and queue length:
//   a replica is saturated when KV use >= kv_threshold or queue >= queue_threshold (the
//   SignalCollector's kv_saturation / queue_saturation: keep them equal to these);
//   over the non-saturated replicas, spare KV = kv_threshold - average KV use and spare queue
//   = queue_threshold - average queue;
//   scale up by one when every replica is saturated or a spare falls below its trigger
//   (kv_spare_trigger 0.1, queue_spare_trigger 3);
//   otherwise scale down by one only if the non-saturated replicas' load spread over one
//   fewer of them still leaves both spares at or above their triggers (and none is saturated);
//   while replicas are starting, wait (no change).
// Decides every period_s (60).
#ifndef LLMSCALE_POLICY_LLMD_SATURATION_HPP
#define LLMSCALE_POLICY_LLMD_SATURATION_HPP

#include <algorithm>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/periodic.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

struct LlmdSaturationConfig {
  static constexpr const char* config_name = "llmd_saturation";

  double kv_threshold = 0.8;
  double queue_threshold = 5;
  double kv_spare_trigger = 0.1;
  double queue_spare_trigger = 3;
  double period_s = 60;

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("kv_threshold", self.kv_threshold, open_closed(0.0, 1.0), "KV use at which a replica is saturated");
    v("queue_threshold", self.queue_threshold, closed(1.0, 1e6), "queue length at which a replica is saturated");
    v("kv_spare_trigger", self.kv_spare_trigger, closed(0.0, 1.0), "scale up when the average spare KV falls below this");
    v("queue_spare_trigger", self.queue_spare_trigger, closed(0.0, 1e6), "scale up when the average spare queue falls below this");
    v("period_s", self.period_s, open_closed(0.0, 3600.0), "seconds between decisions");
  }
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

class LlmdSaturationPolicy {
 public:
  explicit LlmdSaturationPolicy(const LlmdSaturationConfig& config = {})
      : config_((require_valid(config), config)), periodic_(from_seconds(config.period_s)) {}

  [[nodiscard]] const char* name() const noexcept { return "llmd-saturation"; }
  [[nodiscard]] const LlmdSaturationConfig& config() const noexcept { return config_; }

  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    if (!periodic_.due(now)) return periodic_.last();
    const int current = fleet.current();
    Proposal p{name(), current, 0, "spare capacity within triggers"};
    const FleetGauges& g = s.engines;
    if (fleet.starting() > 0) {
      p.reason = "replicas starting: wait";
      return periodic_.ran(now, p);
    }
    if (g.replicas_reporting == 0) {
      p.reason = "no engine data: no change";
      return periodic_.ran(now, p);
    }
    const int unsaturated = g.replicas_reporting - g.replicas_saturated;
    if (unsaturated <= 0) {
      p.replicas = current + 1;
      p.raw = 0;
      p.reason = "every replica saturated: +1";
      return periodic_.ran(now, p);
    }
    const double kv_load = g.unsaturated_kv_use_sum;
    const double queue_load = static_cast<double>(g.unsaturated_queue_total);
    const double spare_kv = config_.kv_threshold - kv_load / unsaturated;
    const double spare_queue = config_.queue_threshold - queue_load / unsaturated;
    p.raw = spare_kv;
    if (spare_kv < config_.kv_spare_trigger || spare_queue < config_.queue_spare_trigger) {
      p.replicas = current + 1;
      p.reason = "spare capacity below a trigger: +1";
    } else if (g.replicas_saturated == 0 && unsaturated >= 2 && current >= 2) {
      const int remaining = unsaturated - 1;
      const double kv_after = config_.kv_threshold - kv_load / remaining;
      const double queue_after = config_.queue_threshold - queue_load / remaining;
      if (kv_after >= config_.kv_spare_trigger && queue_after >= config_.queue_spare_trigger) {
        p.replicas = current - 1;
        p.reason = "one fewer replica keeps spare capacity: -1";
      }
    }
    return periodic_.ran(now, p);
  }

 private:
  LlmdSaturationConfig config_;
  detail::Periodic periodic_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_LLMD_SATURATION_HPP
