// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// HpaPolicy: the Kubernetes Horizontal Pod Autoscaler's replica calculation
// (kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go), on up to three
// metrics; the largest proposal wins. Compose it with the Governor (whose defaults are the
// HPA's behaviour: 300 s scale-down stabilization, 4 pods or 100 % per 15 s up, 100 % per
// 15 s down) for the whole HPA.
//
// Per-replica metrics (engine gauges: KV utilisation, batch occupancy, queue length; GPU busy
// and memory fractions from Signals::gpu, which the host sets), read by one of the HPA's two
// per-pod rules (`per_replica_rule`):
//   pods (calcPlainMetricReplicas, a Pods metric with an AverageValue target): value = the
//     mean over reporting replicas, ratio = value / target;
//   resource (GetResourceReplicas, a Resource metric with an averageUtilization target): each
//     replica's request is 1.0 (the metric is a fraction of the replica), utilisation = the
//     value in whole percent, rounded down as Kubernetes' int32((usage x 100) / request), the
//     target in whole percent, ratio = utilisation / target.
// Replicas: the ready ones that report (`engines.replicas_reporting`, or `gpu.replicas_reporting`)
// have metrics; ready ones that do not are missing; starting ones are unready (pending).
//   No missing replicas and no scale-up with unready ones: within
//   [1 - tolerance_down, 1 + tolerance_up] nothing changes, else ceil(ratio x reporting).
//   Otherwise the ratio is recomputed: on a scale-down (ratio < 1) missing replicas count at
//   the target (pods) or at max(100 %, target) of their request (resource); on a scale-up
//   (ratio > 1) missing replicas count as 0 and so do unready ones; at exactly 1 missing
//   replicas are left out. If the new ratio lands in the tolerance band or flips the direction,
//   nothing changes; else ceil(new ratio x replicas counted), unless that count itself moves
//   the other way.
// Total metrics (concurrency, queued requests, arrival rate), as an External metric with an
// AverageValue target (GetExternalPerPodMetricReplicas): ratio = total / (target x current);
// within tolerance nothing changes; else ceil(total / target).
// A metric without data (or with a negative, NaN or infinite value) gives no proposal; if any metric
// lacks data and the others would scale down, nothing changes. Runs every tick_s (15: its sync period).
#ifndef LLMSCALE_POLICY_HPA_HPP
#define LLMSCALE_POLICY_HPA_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/periodic.hpp"
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A metric the HPA scales on: per replica (a mean over reporting replicas) or a total.
enum class HpaMetric : std::uint8_t {
  none,             ///< no metric (metric_2 and metric_3 only)
  kv_utilization,   ///< per replica: KV cache use fraction (engine gauges)
  batch_occupancy,  ///< per replica: running / max batch
  queue_length,     ///< per replica: requests queued in the engine
  concurrency,      ///< total: time-weighted requests in the system (AverageValue)
  queued,           ///< total: time-weighted requests queued (AverageValue)
  arrival_rate,     ///< total: requests per second (AverageValue)
  gpu_busy,         ///< per replica: GPU busy fraction (Signals::gpu, set by the host)
  gpu_memory,       ///< per replica: GPU memory use fraction (Signals::gpu)
};

/// Which of the HPA's per-pod rules reads the per-replica metrics.
enum class HpaPerReplicaRule : std::uint8_t {
  pods,      ///< a Pods metric (AverageValue): missing replicas count at the target on a scale-down
  resource,  ///< a Resource metric (averageUtilization, whole percent of a 1.0 request): missing
             ///< replicas count at max(100 %, target) on a scale-down
};

/// HpaPolicy's settings (tolerance and sync period: the HPA's defaults).
struct HpaConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "hpa";
  /// The spellings of HpaPerReplicaRule in key=value text.
  static constexpr std::array<EnumName<HpaPerReplicaRule>, 2> rule_names{
      {{"pods", HpaPerReplicaRule::pods}, {"resource", HpaPerReplicaRule::resource}}};
  /// The spellings of HpaMetric in key=value text.
  static constexpr std::array<EnumName<HpaMetric>, 9> metric_names{
      {{"none", HpaMetric::none},
       {"kv_utilization", HpaMetric::kv_utilization},
       {"batch_occupancy", HpaMetric::batch_occupancy},
       {"queue_length", HpaMetric::queue_length},
       {"concurrency", HpaMetric::concurrency},
       {"queued", HpaMetric::queued},
       {"arrival_rate", HpaMetric::arrival_rate},
       {"gpu_busy", HpaMetric::gpu_busy},
       {"gpu_memory", HpaMetric::gpu_memory}}};

  HpaMetric metric_1 = HpaMetric::batch_occupancy;  ///< the first metric (required)
  double target_1 = 0.7;                            ///< its target (per replica, or per replica of the total)
  HpaMetric metric_2 = HpaMetric::none;             ///< the second metric (none: unused)
  double target_2 = 1;                              ///< its target
  HpaMetric metric_3 = HpaMetric::none;             ///< the third metric (none: unused)
  double target_3 = 1;                              ///< its target
  double tolerance_up = 0.1;    ///< --horizontal-pod-autoscaler-tolerance, per direction
  double tolerance_down = 0.1;  ///< no scale-down while ratio >= 1 - this
  double tick_s = 15;  ///< its sync period (kube-controller-manager --horizontal-pod-autoscaler-sync-period)
  HpaPerReplicaRule per_replica_rule = HpaPerReplicaRule::pods;  ///< how per-replica metrics are read

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("metric_1", self.metric_1, metric_names, "first metric");
    v("target_1", self.target_1, open(0.0, 1e9), "its target (per replica, or per replica of the total)");
    v("metric_2", self.metric_2, metric_names, "second metric (none: unused)");
    v("target_2", self.target_2, open(0.0, 1e9), "its target");
    v("metric_3", self.metric_3, metric_names, "third metric (none: unused)");
    v("target_3", self.target_3, open(0.0, 1e9), "its target");
    v("tolerance_up", self.tolerance_up, closed(0.0, 10.0), "no scale-up while ratio <= 1 + this");
    v("tolerance_down", self.tolerance_down, closed(0.0, 1.0), "no scale-down while ratio >= 1 - this");
    v("tick_s", self.tick_s, open_closed(0.0, 3600.0), "seconds between decisions");
    v("per_replica_rule", self.per_replica_rule, rule_names,
      "per-replica metrics as a Pods metric (pods: missing replicas at the target on a scale-down) or a Resource "
      "utilisation (resource: whole percent, missing replicas at max(100 %, target))");
  }
  /// The first field out of range, or metric_1 none, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (metric_1 == HpaMetric::none) {
      return ConfigProblem{config_name, "metric_1", "none", detail::format_choices(metric_names), "needs a metric", 0};
    }
    return std::nullopt;
  }
};

/// The Kubernetes HPA's replica calculation on up to three metrics (see the top of this file).
class HpaPolicy {
 public:
  /// Throws std::invalid_argument for an invalid config.
  explicit HpaPolicy(const HpaConfig& config = {}) : config_((require_valid(config), config)),
                                                     periodic_(from_seconds(config.tick_s)) {}

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "hpa"; }
  /// The configuration it was built with.
  [[nodiscard]] const HpaConfig& config() const noexcept { return config_; }

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    if (!periodic_.due(now)) return periodic_.last();
    const int current = fleet.current();
    int best = -1;
    double best_raw = 0;
    bool missing = false;
    const std::array<std::pair<HpaMetric, double>, 3> metrics{
        {{config_.metric_1, config_.target_1}, {config_.metric_2, config_.target_2}, {config_.metric_3, config_.target_3}}};
    for (const auto& [metric, target] : metrics) {
      if (metric == HpaMetric::none) continue;
      double raw = 0;
      const int r = replicas_for(metric, target, s, fleet, raw);
      if (r < 0) {
        missing = true;
        continue;
      }
      if (r > best) {
        best = r;
        best_raw = raw;
      }
    }
    Proposal p{name(), current, best_raw, "within tolerance"};
    if (best < 0 || (missing && best < current)) {
      p.reason = best < 0 ? "no metric data: no change" : "a metric lacks data: no scale-down";
    } else {
      p.replicas = best;
      p.reason = best > current ? "metric above target" : best < current ? "metric below target" : "within tolerance";
    }
    return periodic_.ran(now, p);
  }

 private:
  bool within(double ratio) const noexcept {
    return ratio >= 1.0 - config_.tolerance_down && ratio <= 1.0 + config_.tolerance_up;
  }

  // The HPA's answer for one metric; -1 without data. `raw`: the unrounded replicas.
  int replicas_for(HpaMetric metric, double target, const Signals& s, const FleetState& fleet, double& raw) const noexcept {
    const int current = fleet.current();
    if (metric == HpaMetric::concurrency || metric == HpaMetric::queued || metric == HpaMetric::arrival_rate) {
      if (s.requests.stale) return -1;
      const double total = metric == HpaMetric::concurrency ? s.concurrency
                           : metric == HpaMetric::queued    ? s.queued
                                                            : s.arrival_rate;
      if (!std::isfinite(total) || total < 0) return -1;
      // GetExternalPerPodMetricReplicas: the ratio against the current count, the proposal
      // from the total alone
      raw = total / target;
      if (current > 0 && within(total / (target * current))) return current;
      return detail::ceil_replicas(raw, current);
    }
    const FleetGauges& g = s.engines;
    const bool gpu = metric == HpaMetric::gpu_busy || metric == HpaMetric::gpu_memory;
    const int reporting = gpu ? s.gpu.replicas_reporting : g.replicas_reporting;
    if (reporting <= 0) return -1;
    const double value = metric == HpaMetric::kv_utilization    ? g.kv_utilization
                         : metric == HpaMetric::batch_occupancy ? g.batch_occupancy
                         : metric == HpaMetric::gpu_busy        ? s.gpu.busy_fraction
                         : metric == HpaMetric::gpu_memory      ? s.gpu.memory_fraction
                                                                : g.queue_length_mean;
    if (!std::isfinite(value) || value < 0) return -1;
    const bool resource = config_.per_replica_rule == HpaPerReplicaRule::resource;
    // resource: the target in whole percent (averageUtilization is an int32), at least 1 %
    const double target_pct = std::max(1.0, std::round(target * 100.0));
    // the usage ratio of `sum` over `count` replicas
    const auto ratio_of = [&](double sum, int count) {
      const double mean = sum / count;
      if (!resource) return mean / target;
      // int32((usage x 100) / request): whole percent, rounded down (the 1e-9 keeps a mean
      // like 0.28, held as 0.27999..., at 28 %)
      return std::floor(mean * 100.0 + 1e-9) / target_pct;
    };
    const int missing = std::max(0, fleet.ready() - reporting);
    const int unready = fleet.starting();
    const double sum = value * reporting;
    const double ratio = ratio_of(sum, reporting);
    raw = ratio * reporting;
    const bool up_with_unready = unready > 0 && ratio > 1.0;
    if (!up_with_unready && missing == 0) {
      if (within(ratio)) return current;
      return detail::ceil_replicas(raw, current);
    }
    // rebalance: missing replicas at the target (pods) or at max(100 %, target) of their
    // request (resource) on a scale-down, at 0 on a scale-up; unready replicas at 0 on a
    // scale-up
    double new_sum = sum;
    int counted = reporting;
    if (missing > 0 && ratio < 1.0) {
      new_sum += missing * (resource ? std::max(100.0, target_pct) / 100.0 : target);
      counted += missing;
    } else if (missing > 0 && ratio > 1.0) {
      counted += missing;
    }
    if (up_with_unready) counted += unready;
    const double new_ratio = ratio_of(new_sum, counted);
    raw = new_ratio * counted;
    if (within(new_ratio) || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0)) return current;
    const int r = detail::ceil_replicas(raw, current);
    if ((new_ratio < 1.0 && r > current) || (new_ratio > 1.0 && r < current)) return current;
    return r;
  }

  HpaConfig config_;
  detail::Periodic periodic_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_HPA_HPP
