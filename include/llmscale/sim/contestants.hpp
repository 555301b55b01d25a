// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The contestants of SIMULATION.md by name, each configured as its row says, and run_contestant()
// to replay one of them. The anchors with a behaviour of their own (KPA, Ray Serve, AIBrix,
// llm-d) run under a neutral governor (bounds and stale-signal safety only); the two HPA
// baselines under the HPA's default behaviour; llmscale's policies under the default governor
// (the HPA's behaviour: 300 s scale-down stabilization, rate limits). static-best is the
// smallest fixed fleet meeting the attainment target, found by bisection over whole runs.
#ifndef LLMSCALE_SIM_CONTESTANTS_HPP
#define LLMSCALE_SIM_CONTESTANTS_HPP

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/policy/policies.hpp"
#include "llmscale/sim/oracle.hpp"
#include "llmscale/sim/simulator.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The names `--policies all` runs, in report order.
inline const std::vector<std::string>& contestant_names() {
  static const std::vector<std::string> names{
      "hpa-gpu-util", "hpa-gpu-mem",  "kpa",          "kpa-tuned",           "ray-serve",   "aibrix-apa-kv",
      "llmd-saturation", "llmscale-slo", "llmscale-pid", "llmscale-predictive", "static-best", "oracle"};
  return names;
}

[[nodiscard]] inline bool is_contestant(std::string_view name) {
  const auto& n = contestant_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

/// Every contestant's configuration; `for_run` fills in what follows from the run (the max
/// batch, the cold start, the targets, the bounds). Fields may be changed afterwards (--set).
struct Contestants {
  HpaConfig hpa_gpu_util;
  HpaConfig hpa_gpu_mem;
  KpaConfig kpa;
  KpaConfig kpa_tuned;  ///< kpa with kpa_tuned_target_utilization
  RayServeConfig ray_serve;
  AibrixApaConfig aibrix_apa;
  LlmdSaturationConfig llmd_saturation;
  SloConfig slo;
  PidConfig pid;
  PredictiveConfig predictive;
  GovernorConfig hpa_behaviour;  ///< the HPA baselines' and llmscale's
  GovernorConfig neutral;        ///< the anchors with a behaviour of their own
  double attainment_target = 0.99;  ///< static-best's and the oracle's bar

  /// kpa-tuned's target utilisation: the sweep on SIMULATION.md's development run (docs/simulator.md,
  /// "kpa-tuned"), frozen.
  static constexpr double kpa_tuned_target_utilization = 0.2;

  static Contestants for_run(const SimConfig& sim, int min_replicas, int max_replicas) {
    Contestants c;
    const auto batch = static_cast<double>(sim.max_batch);
    c.hpa_gpu_util.metric_1 = HpaMetric::gpu_busy;
    c.hpa_gpu_util.target_1 = 0.7;
    c.hpa_gpu_mem.metric_1 = HpaMetric::gpu_memory;
    c.hpa_gpu_mem.target_1 = 0.8;
    c.kpa.container_concurrency = batch;
    c.kpa.target_utilization = 0.7;
    c.kpa.stable_window_s = 60;
    c.kpa.panic_window_percentage = 10;
    c.kpa.panic_threshold = 2.0;
    c.kpa.tick_s = 2;
    c.kpa_tuned = c.kpa;
    c.kpa_tuned.target_utilization = kpa_tuned_target_utilization;
    c.ray_serve.target_ongoing_requests = 0.7 * batch;
    c.aibrix_apa.target_kv_utilization = 0.5;
    c.aibrix_apa.up_tolerance = 0.1;
    c.aibrix_apa.down_tolerance = 0.1;
    c.aibrix_apa.period_s = 10;
    c.llmd_saturation.kv_threshold = 0.8;
    c.llmd_saturation.queue_threshold = 5;
    c.llmd_saturation.period_s = 60;
    c.slo.ttft_s = sim.slo_ttft_s;
    c.slo.tpot_s = sim.slo_tpot_s;
    c.slo.kv_tokens = sim.kv_tokens;
    c.slo.max_batch = static_cast<int>(sim.max_batch);
    c.pid.target = sim.slo_ttft_s / 2;  // the p99 queue wait may use half the TTFT budget
    c.predictive.cold_start_s = sim.cold_start_s;
    c.predictive.tick_s = sim.tick_s;
    for (GovernorConfig* g : {&c.hpa_behaviour, &c.neutral}) {
      g->min_replicas = min_replicas;
      g->max_replicas = max_replicas;
    }
    c.neutral.scale_down_stabilization_s = 0;
    c.neutral.scale_up_pods = 0;
    c.neutral.scale_up_percent = 1e6;
    c.neutral.scale_down_percent = 100;
    return c;
  }
};

/// A fixed fleet of `replicas` (static-best's contestant).
struct StaticPolicy {
  int replicas = 1;
  [[nodiscard]] const char* name() const noexcept { return "static-best"; }
  Proposal propose(TimePoint, const Signals&, const FleetState&) const noexcept {
    return Proposal{name(), replicas, static_cast<double>(replicas), "a fixed fleet"};
  }
};

/// Replays contestant `name` over a fresh source from `make_source()` (a callable returning
/// an object with `bool next(TraceRequest&)`; static-best calls it once per bisection step).
/// Throws std::invalid_argument for an unknown name or an invalid config.
template <class MakeSource>
SimResult run_contestant(const std::string& name, const Contestants& c, const LatencyProfile& profile,
                         const SimConfig& sim, int initial_replicas, MakeSource&& make_source) {
  const auto run = [&](auto policy, const GovernorConfig& g) {
    auto source = make_source();
    SimResult r = simulate(std::move(policy), g, source, profile, sim, initial_replicas);
    r.policy = name;
    return r;
  };
  if (name == "hpa-gpu-util") return run(HpaPolicy(c.hpa_gpu_util), c.hpa_behaviour);
  if (name == "hpa-gpu-mem") return run(HpaPolicy(c.hpa_gpu_mem), c.hpa_behaviour);
  if (name == "kpa") return run(KpaPolicy(c.kpa, simulation_start()), c.neutral);
  if (name == "kpa-tuned") return run(KpaPolicy(c.kpa_tuned, simulation_start()), c.neutral);
  if (name == "ray-serve") return run(RayServePolicy(c.ray_serve), c.neutral);
  if (name == "aibrix-apa-kv") return run(AibrixApaPolicy(c.aibrix_apa), c.neutral);
  if (name == "llmd-saturation") return run(LlmdSaturationPolicy(c.llmd_saturation), c.neutral);
  if (name == "llmscale-slo") return run(SloPolicy(profile, c.slo), c.hpa_behaviour);
  if (name == "llmscale-pid") return run(PidPolicy<>(SloPolicy(profile, c.slo), c.pid), c.hpa_behaviour);
  if (name == "llmscale-predictive") return run(PredictivePolicy<>(SloPolicy(profile, c.slo), c.predictive), c.hpa_behaviour);
  if (name == "static-best") {
    // the smallest n whose fixed fleet (ready from the start, billed throughout) meets the
    // target; attainment grows with n, so bisect over [min, max]
    const auto fixed = [&](int n) {
      GovernorConfig g = c.neutral;
      g.min_replicas = n;
      g.max_replicas = n;
      auto source = make_source();
      SimResult r = simulate(StaticPolicy{n}, g, source, profile, sim, n);
      r.policy = name;
      return r;
    };
    int lo = std::max(1, c.neutral.min_replicas), hi = c.neutral.max_replicas;
    SimResult best = fixed(hi);
    if (best.slo_attainment < c.attainment_target) return best;  // even the most replicas miss it
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      SimResult r = fixed(mid);
      if (r.slo_attainment >= c.attainment_target) {
        hi = mid;
        best = std::move(r);
      } else {
        lo = mid + 1;
      }
    }
    if (best.initial_replicas != hi) best = fixed(hi);
    return best;
  }
  if (name == "oracle") {
    // plan on the whole stream, then replay the plan; should the replay fall short of a target
    // the plan expected to meet (its trials end each window's run with the next window's
    // arrivals only), plan again for the shortfall's worth more, at most three times
    auto first = make_source();
    const std::vector<TraceRequest> all = InMemoryTrace::collect(first);
    const int lo = c.neutral.min_replicas, hi = c.neutral.max_replicas;
    double target = c.attainment_target;
    SimResult best;
    for (int attempt = 0; attempt < 4; ++attempt) {
      const FleetPlan plan = plan_oracle(all, profile, sim, initial_replicas, lo, hi, target);
      InMemoryTrace source(all);
      SimResult r = simulate(OraclePolicy(plan, sim.cold_start_s), c.neutral, source, profile, sim, initial_replicas);
      r.policy = name;
      if (attempt == 0 || r.slo_attainment > best.slo_attainment) best = std::move(r);
      if (best.slo_attainment >= c.attainment_target || plan.expected_attainment < target || target >= 1.0) break;
      target = std::min(1.0, target + (c.attainment_target - best.slo_attainment) + 0.001);
    }
    return best;
  }
  throw std::invalid_argument("unknown policy '" + name + "'");
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_CONTESTANTS_HPP
