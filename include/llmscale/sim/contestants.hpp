// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The contestants of docs/simulator.md by name, each configured as its row says, and run_contestant()
// to replay one of them. The anchors with a behaviour of their own (KPA, Ray Serve, AIBrix,
// llm-d) run under a neutral governor (bounds and stale-signal safety only); the HPA
// baselines under the HPA's default behaviour; llmscale's policies under the default governor
// (the HPA's behaviour: 300 s scale-down stabilization, rate limits). static-best is the
// smallest fixed fleet meeting the attainment target, found by bisection over whole runs.
// Each anchor also runs as NAME-tuned, its main knob (tune_knob()) frozen at the value
// `llmscale-replay --tune` found on the development run; llmscale's policies also run as
// NAME@keda, behind llmscale-scaler and the HPA KEDA drives. Each contestant sees the signals
// through its users' metric path (metric_path(); --metric-lag).
#ifndef LLMSCALE_SIM_CONTESTANTS_HPP
#define LLMSCALE_SIM_CONTESTANTS_HPP

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <initializer_list>
#include <map>
#include <optional>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/policy/policies.hpp"
#include "llmscale/policy/registry.hpp"
#include "llmscale/sim/oracle.hpp"
#include "llmscale/sim/simulator.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The names `--policies all` runs, in report order.
inline const std::vector<std::string>& contestant_names() {
  static const std::vector<std::string> names{
      "hpa-gpu-util",        "hpa-gpu-mem",       "hpa-tuned",         "kpa",
      "kpa-tuned",           "ray-serve",         "ray-serve-tuned",   "aibrix-apa-kv",
      "aibrix-tuned",        "llmd-saturation",   "llmd-tuned",        "llmscale-slo",
      "llmscale-pid",        "llmscale-predictive", "llmscale-slo@keda", "llmscale-pid@keda",
      "llmscale-predictive@keda", "static-best",  "oracle"};
  return names;
}

/// How the contestants see the signals (docs/simulator.md, --metric-lag): each its users' path
/// (`defaults`), the instant view for all (`none`), or one scrape interval for every anchor and
/// every NAME\@keda (`uniform`, `seconds`).
struct MetricLag {
  /// defaults: each contestant's own path; none: every tick's signals; uniform: `seconds`.
  enum class Mode : std::uint8_t { defaults, none, uniform };
  Mode mode = Mode::defaults;  ///< which of the three
  double seconds = 0;          ///< with `uniform`: the scrape interval of every contestant that has one
};

/// Whether contestant `name` is one of llmscale's policies behind llmscale-scaler (NAME\@keda).
[[nodiscard]] inline bool behind_keda(std::string_view name) noexcept {
  constexpr std::string_view suffix = "@keda";
  return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
}

/// The scrape interval contestant `name`'s users see its signals through (docs/simulator.md,
/// "Metric paths"): the HPA reads Prometheus (15 s scrapes), Knative's autoscaler scrapes every
/// second, Ray Serve's replicas push their counts every 10 s, AIBrix fetches at its 10 s resync,
/// llm-d reads Prometheus (15 s), llmscale-scaler scrapes every second; llmscale embedded in a
/// router and the references see every tick.
[[nodiscard]] inline double default_scrape_s(std::string_view name) noexcept {
  const auto starts = [&](std::string_view p) { return name.substr(0, p.size()) == p; };
  if (starts("hpa-") || starts("llmd-")) return 15;
  if (starts("kpa")) return 1;
  if (starts("ray-serve") || starts("aibrix")) return 10;
  if (behind_keda(name)) return 1;
  return 0;
}

/// The knob `llmscale-replay --tune` sweeps for a contestant: the --set prefix, the key and the
/// values tried.
struct TuneKnob {
  /// \var config
  /// The config name, the --set prefix (e.g. "kpa"); empty when nothing is tuned.
  /// \var key
  /// The key swept within it.
  std::string config, key;
  std::vector<std::string> values;  ///< the values tried, as text
};

/// Whether `name` is one of contestant_names().
[[nodiscard]] inline bool is_contestant(std::string_view name) {
  const auto& n = contestant_names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

/// Every contestant's configuration; `for_run` fills in what follows from the run (the max
/// batch, the cold start, the targets, the bounds). Fields may be changed afterwards (--set).
struct Contestants {
  HpaConfig hpa_gpu_util;  ///< the HPA on GPU busy fraction (target 0.7)
  HpaConfig hpa_gpu_mem;   ///< the HPA on GPU memory fraction (target 0.8)
  HpaConfig hpa_tuned;  ///< the HPA on the engines' requests in flight (AverageValue), hpa_tuned_target
  KpaConfig kpa;        ///< Knative's defaults, containerConcurrency = the max batch
  KpaConfig kpa_tuned;  ///< kpa with kpa_tuned_target_utilization
  RayServeConfig ray_serve;        ///< target_ongoing_requests = 0.7 x the max batch
  RayServeConfig ray_serve_tuned;  ///< ray-serve with ray_serve_tuned_target
  AibrixApaConfig aibrix_apa;      ///< AIBrix's defaults (KV use target 0.5)
  AibrixApaConfig aibrix_tuned;    ///< aibrix-apa-kv with aibrix_tuned_target
  LlmdSaturationConfig llmd_saturation;  ///< llm-d's thresholds, deciding every 60 s
  LlmdSaturationConfig llmd_tuned; ///< llmd-saturation with llmd_tuned_kv_threshold
  SloConfig slo;                 ///< llmscale-slo's, and the sizing under llmscale-pid and llmscale-predictive: the run's targets
  PidConfig pid;                 ///< llmscale-pid's controller (targets: 0.4 x the TTFT target, 0.8 x the TPOT target)
  PredictiveConfig predictive;   ///< llmscale-predictive's planner
  PredictiveConfig pid_planner;  ///< llmscale-pid's feed-forward (the planner with pid_planner_excess, pid_planner_prior_ratio and pid_planner_hold_s)
  GovernorConfig hpa_behaviour;  ///< the HPA baselines' and llmscale's
  GovernorConfig neutral;        ///< the anchors with a behaviour of their own
  double attainment_target = 0.99;  ///< static-best's and the oracle's bar
  MetricLag metric_lag;             ///< how the contestants see the signals

  // The -tuned settings: each found by `llmscale-replay --tune NAME` on docs/simulator.md's
  // development run (the command is in docs/simulator.md, "Tuning and the tuned rivals"), frozen.
  static constexpr double hpa_tuned_target = 32;               ///< requests in flight per replica
  static constexpr double kpa_tuned_target_utilization = 0.05;  ///< of containerConcurrency = max batch
  static constexpr double ray_serve_tuned_target = 19;         ///< target_ongoing_requests
  static constexpr double aibrix_tuned_target = 0.1;           ///< target KV use
  static constexpr double llmd_tuned_kv_threshold = 0.1;       ///< KV use counted saturated
  /// llmscale-pid's feed-forward leaves this share of the load uncovered (the registry's default)
  static constexpr double pid_planner_excess = PolicyConfigs::pid_planner_excess;

  /// The contestants for a run of `sim` with the fleet bounded to [min_replicas, max_replicas].
  static Contestants for_run(const SimConfig& sim, int min_replicas, int max_replicas) {
    Contestants c;
    const auto batch = static_cast<double>(sim.max_batch);
    c.hpa_gpu_util.metric_1 = HpaMetric::gpu_busy;
    c.hpa_gpu_util.target_1 = 0.7;
    c.hpa_gpu_mem.metric_1 = HpaMetric::gpu_memory;
    c.hpa_gpu_mem.target_1 = 0.8;
    // what KEDA's Prometheus scaler users run: the engines' running + waiting requests, per replica
    c.hpa_tuned.metric_1 = HpaMetric::concurrency;
    c.hpa_tuned.target_1 = hpa_tuned_target;
    c.kpa.container_concurrency = batch;
    c.kpa.target_utilization = 0.7;
    c.kpa.stable_window_s = 60;
    c.kpa.panic_window_percentage = 10;
    c.kpa.panic_threshold = 2.0;
    c.kpa.tick_s = 2;
    c.kpa_tuned = c.kpa;
    c.kpa_tuned.target_utilization = kpa_tuned_target_utilization;
    c.ray_serve.target_ongoing_requests = 0.7 * batch;
    c.ray_serve_tuned = c.ray_serve;
    c.ray_serve_tuned.target_ongoing_requests = ray_serve_tuned_target;
    c.aibrix_apa.target_kv_utilization = 0.5;
    c.aibrix_apa.up_tolerance = 0.1;
    c.aibrix_apa.down_tolerance = 0.1;
    c.aibrix_apa.period_s = 10;
    c.aibrix_tuned = c.aibrix_apa;
    c.aibrix_tuned.target_kv_utilization = aibrix_tuned_target;
    c.llmd_saturation.kv_threshold = 0.8;
    c.llmd_saturation.queue_threshold = 5;
    c.llmd_saturation.period_s = 60;
    c.llmd_tuned = c.llmd_saturation;
    c.llmd_tuned.kv_threshold = llmd_tuned_kv_threshold;
    c.slo.ttft_s = sim.slo_ttft_s;
    c.slo.tpot_s = sim.slo_tpot_s;
    c.slo.kv_tokens = sim.kv_tokens;
    c.slo.max_batch = static_cast<int>(sim.max_batch);
    c.slo.prefill_chunk_tokens = sim.chunk_tokens;
    c.slo.cold_start_s = sim.cold_start_s;
    // latency_p99 at 0.4 of the TTFT target and 0.8 of the TPOT target (the PidConfig defaults
    // for 2 s and 0.1 s): a TTFT p99 that high already means queueing; a TPOT p99 moves with
    // the batch and is near its floor at half the target
    c.pid.target = 0.4 * sim.slo_ttft_s;
    c.pid.tpot_target = 0.8 * sim.slo_tpot_s;
    c.predictive.cold_start_s = sim.cold_start_s;
    c.predictive.tick_s = sim.tick_s;
    // the PID's feed-forward: the planner, leaner (the PID adds what it misses)
    c.pid_planner = c.predictive;
    c.pid_planner.excess = pid_planner_excess;
    c.pid_planner.prior_ratio = PolicyConfigs::pid_planner_prior_ratio;
    c.pid_planner.hold_s = PolicyConfigs::pid_planner_hold_s;
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

  /// The simulator config contestant `name` runs under: `sim` with its metric path.
  [[nodiscard]] SimConfig path_for(std::string_view name, const SimConfig& sim) const {
    SimConfig run = sim;
    const bool keda = behind_keda(name);
    const double own = default_scrape_s(name);
    switch (metric_lag.mode) {
      case MetricLag::Mode::defaults: run.metric_scrape_s = own; break;
      case MetricLag::Mode::none: run.metric_scrape_s = 0; break;
      case MetricLag::Mode::uniform: run.metric_scrape_s = own > 0 ? metric_lag.seconds : 0; break;
    }
    if (keda) {  // KEDA hands the count to an HPA: its 15 s sync, 10 % tolerance, deploy/'s +100 % per 15 s
      run.hpa_sync_s = 15;
      run.hpa_tolerance = 0.1;
      run.hpa_scale_up_percent = 100;
    }
    return run;
  }

  /// The registered policy contestant `name` runs (policy/registry.hpp), with its configs in
  /// `configs` and its governor; false for a reference (static-best, the oracle) or an unknown
  /// name.
  [[nodiscard]] bool policy_for(std::string_view name, std::string& policy, PolicyConfigs& configs,
                                const GovernorConfig*& governor) const {
    const std::string_view base = name.substr(0, name.find('@'));
    governor = &neutral;
    if (name == "hpa-gpu-util" || name == "hpa-gpu-mem" || name == "hpa-tuned") {
      policy = "hpa";
      configs.hpa = name == "hpa-gpu-util" ? hpa_gpu_util : name == "hpa-gpu-mem" ? hpa_gpu_mem : hpa_tuned;
      governor = &hpa_behaviour;
    } else if (name == "kpa" || name == "kpa-tuned") {
      policy = "kpa";
      configs.kpa = name == "kpa" ? kpa : kpa_tuned;
    } else if (name == "ray-serve" || name == "ray-serve-tuned") {
      policy = "ray-serve";
      configs.ray_serve = name == "ray-serve" ? ray_serve : ray_serve_tuned;
    } else if (name == "aibrix-apa-kv" || name == "aibrix-tuned") {
      policy = "aibrix-apa-kv";
      configs.aibrix_apa = name == "aibrix-apa-kv" ? aibrix_apa : aibrix_tuned;
    } else if (name == "llmd-saturation" || name == "llmd-tuned") {
      policy = "llmd-saturation";
      configs.llmd_saturation = name == "llmd-saturation" ? llmd_saturation : llmd_tuned;
    } else if (base == "llmscale-slo" || base == "llmscale-pid" || base == "llmscale-predictive") {
      policy = std::string(base);
      configs.slo = slo;
      configs.pid = pid;
      configs.pid_planner = pid_planner;
      configs.predictive = predictive;
      governor = &hpa_behaviour;
    } else {
      return false;
    }
    return true;
  }
};

/// The knob --tune sweeps for contestant `name` (empty `config` for one without: the
/// references), with the values it tries; `max_batch` scales the request-count knobs.
[[nodiscard]] inline TuneKnob tune_knob(std::string_view name, long long max_batch) {
  const auto counts = [&](std::initializer_list<double> fractions) {
    std::vector<std::string> v;
    for (double f : fractions) v.push_back(detail::format_number(std::max(1.0, std::round(f * static_cast<double>(max_batch)))));
    return v;
  };
  const std::vector<std::string> utilization{"0.05", "0.075", "0.1", "0.125", "0.15", "0.2", "0.25", "0.3", "0.4", "0.5", "0.7"};
  const std::vector<std::string> kv{"0.1", "0.15", "0.2", "0.25", "0.3", "0.35", "0.4", "0.5", "0.6", "0.7", "0.8"};
  const std::string base(name.substr(0, name.find('@')));
  if (base == "hpa-gpu-util") return {"hpa_gpu_util", "target_1", {"0.5", "0.6", "0.7", "0.8", "0.9", "0.95", "0.99"}};
  if (base == "hpa-gpu-mem") return {"hpa_gpu_mem", "target_1", {"0.5", "0.6", "0.7", "0.8", "0.85", "0.9", "0.95"}};
  if (base == "hpa-tuned") return {"hpa_tuned", "target_1", counts({0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5})};
  if (base == "kpa") return {"kpa", "target_utilization", utilization};
  if (base == "kpa-tuned") return {"kpa_tuned", "target_utilization", utilization};
  if (base == "ray-serve") return {"ray_serve", "target_ongoing_requests", counts({0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7})};
  if (base == "ray-serve-tuned") {
    return {"ray_serve_tuned", "target_ongoing_requests", counts({0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7})};
  }
  if (base == "aibrix-apa-kv") return {"aibrix_apa", "target_kv_utilization", kv};
  if (base == "aibrix-tuned") return {"aibrix_tuned", "target_kv_utilization", kv};
  if (base == "llmd-saturation") return {"llmd_saturation", "kv_threshold", kv};
  if (base == "llmd-tuned") return {"llmd_tuned", "kv_threshold", kv};
  if (base == "llmscale-slo") return {"slo", "quantile", {"0.5", "0.8", "0.9", "0.95", "0.99", "0.995"}};
  if (base == "llmscale-pid") return {"pid_planner", "excess", {"0.01", "0.03", "0.05", "0.1", "0.2", "0.3", "0.4"}};
  if (base == "llmscale-predictive") return {"predictive", "excess", {"0.003", "0.005", "0.01", "0.015", "0.02", "0.03", "0.05"}};
  return {};
}

/// The most replicas a reference (static-best, the oracle) may use, whatever --max-replicas says.
inline constexpr int reference_max_replicas = 100000;

/// A fixed fleet of `replicas` (static-best's contestant).
struct StaticPolicy {
  int replicas = 1;  ///< the fleet it always proposes
  /// The policy's name, as in decisions and reports.
  [[nodiscard]] const char* name() const noexcept { return "static-best"; }
  /// `replicas`, whatever the signals (never throws, allocates nothing).
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
  const SimConfig path = c.path_for(name, sim);
  const auto run = [&](auto policy, const GovernorConfig& g) {
    auto source = make_source();
    SimResult r = simulate(std::move(policy), g, source, profile, path, initial_replicas);
    r.policy = name;
    return r;
  };
  std::string policy;
  PolicyConfigs configs;
  const GovernorConfig* governor = nullptr;
  if (c.policy_for(name, policy, configs, governor)) {
    return with_policy(policy, configs, &profile, simulation_start(),
                       [&](auto p) { return run(std::move(p), *governor); });
  }
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
    // a reference is never limited by --max-replicas: past it, the bound doubles until it meets
    int lo = std::max(1, c.neutral.min_replicas), hi = std::max(lo, c.neutral.max_replicas);
    SimResult best = fixed(hi);
    while (best.slo_attainment < c.attainment_target && hi < reference_max_replicas) {
      lo = hi + 1;
      hi = std::min(reference_max_replicas, 2 * hi);
      best = fixed(hi);
    }
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
    // plan on the whole stream, then replay the plan. The plan keeps each window's cumulative
    // attainment at its target, so it spends the miss budget early and the replay ends above
    // the bar: the planning target is lowered by bisection to the lowest whose replay still
    // meets the bar (the miss budget spread over the run), and raised when a replay falls
    // short (its trials end each window's run with the next window's arrivals only)
    auto first = make_source();
    const std::vector<TraceRequest> all = InMemoryTrace::collect(first);
    const int lo = c.neutral.min_replicas;
    const int hi = std::max(c.neutral.max_replicas, std::min(reference_max_replicas, 4 * c.neutral.max_replicas));
    GovernorConfig g = c.neutral;
    g.max_replicas = hi;
    const double bar = c.attainment_target;
    const auto attempt = [&](double target) {
      const FleetPlan plan = plan_oracle(all, profile, sim, initial_replicas, lo, hi, target);
      InMemoryTrace source(all);
      SimResult r = simulate(OraclePolicy(plan, sim.cold_start_s), g, source, profile, sim, initial_replicas);
      r.policy = name;
      return std::make_pair(std::move(r), plan.expected_attainment);
    };
    auto [best, expected] = attempt(bar);
    // short of the bar: plan for the shortfall's worth more, at most three times
    double target = bar;
    for (int k = 0; k < 3 && best.slo_attainment < bar && expected >= target && target < 1.0; ++k) {
      target = std::min(1.0, target + (bar - best.slo_attainment) + 0.001);
      auto [r, e] = attempt(target);
      expected = e;
      if (r.slo_attainment > best.slo_attainment || (r.slo_attainment >= bar && r.gpu_hours < best.gpu_hours)) best = std::move(r);
    }
    if (best.slo_attainment >= bar && target == bar) {
      // above the bar: the lowest planning target whose replay still meets it, cheapest kept
      double meets = bar, misses = std::max(0.0, bar - 4 * (1 - bar));
      for (int k = 0; k < 6; ++k) {
        const double mid = (meets + misses) / 2;
        auto [r, e] = attempt(mid);
        (void)e;
        if (r.slo_attainment >= bar) {
          meets = mid;
          if (r.gpu_hours < best.gpu_hours) best = std::move(r);
        } else {
          misses = mid;
        }
      }
    }
    // Holding a fixed fleet from the start (the replicas beyond the opening fleet asked for at
    // the first decision, ready one cold start later) is a plan too, and the cheaper hindsight
    // where every rise is shorter than the cold start, or churn bills more than it saves: the
    // fewest held replicas whose replay meets the bar, kept when it costs less (or when the
    // windows miss). A hold of n bills n replicas over the run but for the warm-up before the
    // first decision, so one above `cap` could be cheaper by at most that minute's difference.
    // one plan's replay: `replicas` per 60 s window, the last one held to the end
    const auto replay_plan = [&](std::vector<int> replicas) {
      FleetPlan plan;
      plan.window_s = 60;
      plan.replicas = std::move(replicas);
      InMemoryTrace source(all);
      SimResult r = simulate(OraclePolicy(plan, sim.cold_start_s), g, source, profile, sim, initial_replicas);
      r.policy = name;
      return r;
    };
    // the fewest n in [from, to] whose plan(n) meets the bar, with its replay, if any
    // (attainment grows with n; each n replayed once)
    const auto fewest_meeting = [&](int from, int to, const auto& plan) -> std::optional<std::pair<int, SimResult>> {
      std::map<int, SimResult> replays;
      const auto meets = [&](int n) {
        auto it = replays.find(n);
        if (it == replays.end()) it = replays.emplace(n, replay_plan(plan(n))).first;
        return it->second.slo_attainment >= bar;
      };
      const int n = detail::fewest(from, to, std::max(from, initial_replicas), meets);
      if (n > to) return std::nullopt;
      return std::make_pair(n, std::move(replays.at(n)));
    };
    const double replica_run_gpu_hours = best.duration_s * sim.gpus_per_replica / 3600.0;
    int cap = hi;
    if (best.slo_attainment >= bar && replica_run_gpu_hours > 0) {
      cap = static_cast<int>(std::min<double>(hi, std::floor(best.gpu_hours / replica_run_gpu_hours)));
    }
    const int floor_n = std::max(1, lo);
    auto held = fewest_meeting(floor_n, cap, [](int n) { return std::vector<int>{n}; });
    if (!held || (best.slo_attainment >= bar && held->second.gpu_hours >= best.gpu_hours)) return best;
    best = std::move(held->second);
    // then shrinking: n held until window k, the fewest m < n that still meet the bar from there
    // on (the load past its peak); k at eight points between the first cold start and the end,
    // the cheapest kept
    const int n = held->first;
    const auto windows = static_cast<std::size_t>(std::ceil(best.duration_s / 60));
    const auto ready_window = static_cast<std::size_t>(std::ceil(sim.cold_start_s / 60));
    std::size_t tried = windows;  // the last k searched (several steps give one k on a short run)
    for (std::size_t step = 1; step <= 8 && windows > ready_window + 1 && n > floor_n; ++step) {
      const std::size_t k = ready_window + (windows - ready_window) * step / 9;
      if (k == tried) continue;
      tried = k;
      auto shrunk = fewest_meeting(floor_n, n - 1, [&](int m) {
        std::vector<int> replicas(k, n);
        replicas.push_back(m);
        return replicas;
      });
      if (shrunk && shrunk->second.gpu_hours < best.gpu_hours) best = std::move(shrunk->second);
    }
    return best;
  }
  throw std::invalid_argument("unknown policy '" + name + "'");
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_CONTESTANTS_HPP
