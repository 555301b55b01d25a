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
// and memory fractions from Signals::gpu, which the host sets), as the
// HPA's Pods/Resource metrics: ratio = average over reporting replicas / target; within
// [1 - tolerance_down, 1 + tolerance_up] nothing changes; else ceil(ratio x reporting). Ready
// replicas that report nothing count at the target on a scale-down and as 0 on a scale-up;
// starting (unready) replicas count as 0 on a scale-up; if that recomputation flips the
// direction or lands in the tolerance band, nothing changes.
// Total metrics (concurrency, queued requests, arrival rate), as an AverageValue external
// metric: ratio = total / (target x current); within tolerance nothing changes; else
// ceil(total / target).
// A metric without data gives no proposal; if any metric lacks data and the others would
// scale down, nothing changes. Runs every sync_period_s (15).
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
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

enum class HpaMetric : std::uint8_t {
  none,
  kv_utilization,   ///< per replica: KV cache use fraction (engine gauges)
  batch_occupancy,  ///< per replica: running / max batch
  queue_length,     ///< per replica: requests queued in the engine
  concurrency,      ///< total: time-weighted requests in the system (AverageValue)
  queued,           ///< total: time-weighted requests queued (AverageValue)
  arrival_rate,     ///< total: requests per second (AverageValue)
  gpu_busy,         ///< per replica: GPU busy fraction (Signals::gpu, set by the host)
  gpu_memory,       ///< per replica: GPU memory use fraction (Signals::gpu)
};

struct HpaConfig {
  static constexpr const char* config_name = "hpa";
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

  HpaMetric metric_1 = HpaMetric::batch_occupancy;
  double target_1 = 0.7;
  HpaMetric metric_2 = HpaMetric::none;
  double target_2 = 1;
  HpaMetric metric_3 = HpaMetric::none;
  double target_3 = 1;
  double tolerance_up = 0.1;    ///< --horizontal-pod-autoscaler-tolerance, per direction
  double tolerance_down = 0.1;
  double sync_period_s = 15;

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
    v("sync_period_s", self.sync_period_s, open_closed(0.0, 3600.0), "seconds between decisions");
  }
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (metric_1 == HpaMetric::none) {
      return ConfigProblem{config_name, "metric_1", "none", detail::format_choices(metric_names), "needs a metric", 0};
    }
    return std::nullopt;
  }
};

class HpaPolicy {
 public:
  explicit HpaPolicy(const HpaConfig& config = {}) : config_((require_valid(config), config)),
                                                     periodic_(from_seconds(config.sync_period_s)) {}

  [[nodiscard]] const char* name() const noexcept { return "hpa"; }
  [[nodiscard]] const HpaConfig& config() const noexcept { return config_; }

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
      raw = total / target;
      if (current > 0 && within(total / (target * current))) return current;
      return static_cast<int>(std::min(1e6, std::ceil(raw)));
    }
    const FleetGauges& g = s.engines;
    const bool gpu = metric == HpaMetric::gpu_busy || metric == HpaMetric::gpu_memory;
    const int reporting = gpu ? s.gpu.replicas_reporting : g.replicas_reporting;
    if (reporting == 0) return -1;
    const double value = metric == HpaMetric::kv_utilization    ? g.kv_utilization
                         : metric == HpaMetric::batch_occupancy ? g.batch_occupancy
                         : metric == HpaMetric::gpu_busy        ? s.gpu.busy_fraction
                         : metric == HpaMetric::gpu_memory      ? s.gpu.memory_fraction
                                                                : g.queue_length_mean;
    const double ratio = value / target;
    const int missing = std::max(0, fleet.ready() - reporting);
    const int unready = fleet.starting();
    raw = ratio * reporting;
    if (missing == 0 && unready == 0) {
      if (within(ratio)) return current;
      return static_cast<int>(std::min(1e6, std::ceil(raw)));
    }
    // rebalance: missing replicas at the target on a scale-down, at 0 on a scale-up; unready
    // replicas at 0 on a scale-up
    const bool up = ratio > 1.0;
    double sum = value * reporting;
    int counted = reporting + missing;
    if (!up) sum += target * missing;
    if (up) counted += unready;
    const double new_ratio = sum / (target * counted);
    raw = new_ratio * counted;
    if (within(new_ratio) || (up && new_ratio < 1.0) || (!up && new_ratio > 1.0)) return current;
    const int r = static_cast<int>(std::min(1e6, std::ceil(raw)));
    if ((new_ratio < 1.0 && r > current) || (new_ratio > 1.0 && r < current)) return current;
    return r;
  }

  HpaConfig config_;
  detail::Periodic periodic_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_HPA_HPP
