// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// What llmscale-replay will run, read from its command line (make_plan): the load, the
// contestants, the simulator's settings, the cold starts, the replica bounds, the latency
// profile, the metric lag, --set and --sweep checked once against a valid base; then, before any
// run (prepare_fleet), the trace's malformed rows reported, an llmscale record's windows kept
// (its fleet: the `recorded` contestant, which `all` includes where the record has ready
// counts), the load's extent checked, the opening fleet per cold start and the default replica
// bound.
#ifndef LLMSCALE_TOOLS_REPLAY_PLAN_HPP
#define LLMSCALE_TOOLS_REPLAY_PLAN_HPP

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "llmscale/core/number.hpp"
#include "llmscale/model/profile_io.hpp"
#include "llmscale/sim/contestants.hpp"
#include "llmscale/sim/opening_fleet.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "llmscale/sim/workload.hpp"
#include "replay_args.hpp"
#include "replay_checks.hpp"
#include "replay_options.hpp"
#include "replay_set.hpp"
#include "replay_source.hpp"

namespace llmscale_replay {

struct ReplayPlan {
  Input input;
  std::string source_name;                 ///< "scenario NAME" or the trace's path
  std::vector<std::string> policies;       ///< the contestants, in order
  bool all_policies = false;               ///< --policies all (then a record's fleet runs too)
  std::string tune;                        ///< --tune's policy (its knob is the sweep)
  llmscale::SimConfig sim;
  std::vector<double> cold_starts;
  std::vector<std::pair<std::string, double>> phases;  ///< --cold-start-phases, when given
  int min_replicas = 1, max_replicas = 100000;
  bool max_given = false;
  bool profile_given = false;
  std::string profile_path, model, hardware;
  int tp = 4;
  llmscale::LatencyProfile profile;
  llmscale::MetricLag lag;
  std::string metric_lag_text = "default";
  std::string sweep_name;                  ///< config.key of --sweep (or --tune's knob)
  std::vector<std::string> sweep_values;
  unsigned jobs = 1;                       ///< runs at once
  std::vector<std::string> sets;           ///< --set, in order
  bool initial_given = false;
  int initial_replicas = 0;                ///< --initial-replicas
  // filled by prepare_fleet
  long long skipped = 0, failed = 0;       ///< malformed rows, failed requests in the trace
  std::map<double, int> initial;           ///< the opening fleet by cold start
  std::vector<llmscale::RateWindow> record;  ///< an llmscale record's windows, in file order (else empty)
  llmscale::RecordedFleet recorded_fleet;    ///< their ready counts (empty: none, no `recorded`)

  /// One pass over the load from its start.
  [[nodiscard]] ReplaySource source() const { return ReplaySource(input); }
};

/// The plan the command line asks for; throws UsageError (exit 2) naming what to change.
inline ReplayPlan make_plan(Args& args) {
  ReplayPlan plan;
  Input& input = plan.input;
  llmscale::SimConfig& sim = plan.sim;
  std::vector<double>& cold_starts = plan.cold_starts;
  std::vector<std::pair<std::string, double>>& phases = plan.phases;
  input.strict = args.strict;
  input.trace = text(args, "trace", "");
  input.format_name = text(args, "trace-format", "");
  const std::string scenario = text(args, "scenario", "");
  if (!scenario.empty() && !input.trace.empty()) throw UsageError("give --scenario or --trace, not both");
  if (input.trace.empty()) {
    if (!input.format_name.empty()) throw UsageError("--trace-format needs --trace FILE");
    input.scenario_name = scenario.empty() ? "chat-day" : scenario;
    llmscale::Scenario sc;
    if (!llmscale::parse_scenario(input.scenario_name, sc)) {
      throw UsageError("--scenario '" + input.scenario_name + "' is not one of: chat-day, code-bursts, flash-crowd");
    }
    input.scenario = sc;
  } else {
    if (input.format_name.empty()) throw UsageError("--trace-format azure|csv|mooncake|burstgpt|servegen|llmscale is required");
    if (!llmscale::parse_trace_format(input.format_name, input.format)) {
      throw UsageError("--trace-format '" + input.format_name +
                       "' is not one of: azure, csv, mooncake, burstgpt, servegen, llmscale");
    }
    llmscale_replay::check_trace_path(input.trace);
  }
  input.rate_scale = number(args, "rate-scale", 1.0, 1e-6, 1e6, "(0, 1000000]");
  input.seed = static_cast<std::uint64_t>(integer(args, "seed", 1, 0, (1LL << 62)));

  plan.tune = text(args, "tune", "");
  const std::string& tune = plan.tune;
  if (!tune.empty()) {
    if (!llmscale::is_contestant(tune) || tune == "static-best" || tune == "oracle") {
      throw UsageError("--tune '" + tune +
                       "': want a policy with a knob (every name --policies takes but static-best, oracle and recorded)");
    }
    if (args.values.count("policies")) throw UsageError("give --tune or --policies, not both");
    if (args.values.count("sweep")) throw UsageError("give --tune or --sweep, not both (--tune sweeps the policy's own knob)");
  }
  for (const std::string& name : split(tune.empty() ? text(args, "policies", "all") : tune, ',')) {
    if (name == "all") {
      for (const auto& n : llmscale::contestant_names()) plan.policies.push_back(n);
      plan.all_policies = true;
    } else if (llmscale::is_contestant(name) || name == llmscale::recorded_contestant) {  // recorded: checked on the load
      plan.policies.push_back(name);
    } else {
      std::string known;
      for (const auto& n : llmscale::contestant_names()) known += (known.empty() ? "" : ", ") + n;
      throw UsageError("--policies: unknown policy '" + name + "'; known: all, " + known + ", " +
                       std::string(llmscale::recorded_contestant) + " (an llmscale record's own fleet)");
    }
  }
  if (plan.policies.empty()) throw UsageError("--policies names no policy");
  for (const char* flag : {"json", "timeseries", "plot", "report"}) {
    if (args.values.count(flag)) llmscale_replay::check_output_path(std::string("--") + flag, args.values[flag]);
  }

  // the simulator
  sim.kv_tokens = number(args, "kv-tokens", 400000, 1, 1e12, "[1, 1e12]");
  sim.slo_ttft_s = number(args, "slo-ttft", 2, 1e-6, 3600, "(0, 3600]");
  sim.slo_tpot_s = number(args, "slo-tpot", 0.1, 1e-6, 60, "(0, 60]");
  sim.tick_s = number(args, "tick", 1, 0.01, 3600, "[0.01, 3600]");
  sim.exact_steps = args.exact_steps;
  sim.keep_timeseries = args.values.count("timeseries") > 0 || args.values.count("plot") > 0 || args.values.count("report") > 0;
  sim.fault_seed = static_cast<long long>(input.seed);
  if (args.values.count("faults")) parse_faults(args.values["faults"], sim);
  if (args.values.count("cold-start-phases")) {
    if (args.values.count("cold-start")) throw UsageError("give --cold-start or --cold-start-phases, not both");
    phases = parse_phases(args.values["cold-start-phases"]);
    double total = 0;
    for (const auto& p : phases) total += p.second;
    if (total > 86400) throw UsageError("--cold-start-phases add up to " + llmscale::format_number(total) + " s; allowed: [0, 86400]");
    cold_starts.push_back(total);
  } else {
    for (const std::string& v : split(text(args, "cold-start", "300"), ',')) {
      cold_starts.push_back(parse_seconds("--cold-start", v, 0, 86400));
    }
    if (cold_starts.empty()) throw UsageError("--cold-start names no value");
  }
  plan.min_replicas = static_cast<int>(integer(args, "min-replicas", 1, 0, llmscale::FleetState::max_replicas));
  plan.max_given = args.values.count("max-replicas") > 0;
  plan.max_replicas = static_cast<int>(integer(args, "max-replicas", 100000, 1, 100000));
  if (plan.max_given && plan.min_replicas > plan.max_replicas) {
    throw UsageError("--min-replicas " + std::to_string(plan.min_replicas) + " is above --max-replicas " +
                     std::to_string(plan.max_replicas));
  }
  plan.profile_given = args.values.count("profile") > 0;
  plan.profile_path = text(args, "profile", llmscale_replay::default_profile_path());
  plan.model = text(args, "model", "llama2-70b");
  plan.hardware = text(args, "hardware", "h100-80gb");
  plan.tp = static_cast<int>(integer(args, "tp", 4, 1, 64));
  const std::string& profile_path = plan.profile_path;
  const std::string& model = plan.model;
  const std::string& hardware = plan.hardware;
  const int tp = plan.tp;
  plan.profile = [&] {
    try {
      return llmscale::load_latency_profile(profile_path, model, hardware, tp);
    } catch (const std::exception& e) {
      std::string looked;
      if (!plan.profile_given) {
        for (const auto& c : llmscale_replay::profile_candidates()) looked += (looked.empty() ? "" : ", ") + c;
        looked = "; the default was looked for in " + looked + " (set LLMSCALE_DATA_DIR or give --profile)";
      }
      throw UsageError("--profile '" + profile_path + "' (" + model + ", " + hardware + ", TP" + std::to_string(tp) +
                       "): " + e.what() + looked);
    }
  }();
  if (!plan.profile_given) std::fprintf(stderr, "llmscale-replay: latency profile %s\n", profile_path.c_str());
  sim.max_batch = integer(args, "max-batch", 256, 1, 100000);
  sim.max_num_batched_tokens = integer(args, "max-num-batched-tokens", 0, 0, 100000000);
  sim.gpus_per_replica = tp;
  if (const llmscale::ConfigResult p = sim.validate()) {
    throw UsageError(p->field == "max_num_batched_tokens" ? "--max-num-batched-tokens " + p->value + " is below --max-batch " +
                                                                std::to_string(sim.max_batch) + "; allowed: 0 (no budget) or at least the max batch"
                                                          : p->message());
  }
  {
    const std::string v = plan.metric_lag_text = text(args, "metric-lag", "default");
    llmscale::MetricLag& lag = plan.lag;
    if (v != "default") {
      const double secs = parse_seconds("--metric-lag", v, 0, 3600);
      lag.mode = secs > 0 ? llmscale::MetricLag::Mode::uniform : llmscale::MetricLag::Mode::none;
      lag.seconds = secs;
    }
  }
  if (!tune.empty()) {
    if (cold_starts.size() > 1) throw UsageError("--tune takes one --cold-start (tune at each separately)");
    const llmscale::TuneKnob knob = llmscale::tune_knob(tune, sim.max_batch);
    args.values["sweep"] = knob.config + "." + knob.key + "=";
    for (std::size_t i = 0; i < knob.values.size(); ++i) args.values["sweep"] += (i ? "," : "") + knob.values[i];
  }
  // --set and --sweep are checked here, once, against a valid base
  {
    llmscale::Contestants check = llmscale::Contestants::for_run(sim, plan.min_replicas, plan.max_replicas);
    for (const auto& s : args.sets) apply_set(check, s);
  }
  std::string& sweep_name = plan.sweep_name;
  std::vector<std::string>& sweep_values = plan.sweep_values;
  if (args.values.count("sweep")) {
    const std::string spec = args.values["sweep"];
    const auto eq = spec.find('=');
    if (eq == std::string::npos || spec.find('.') > eq) throw UsageError("--sweep '" + spec + "': want name.key=V1,V2,...");
    sweep_name = spec.substr(0, eq);
    sweep_values = split(spec.substr(eq + 1), ',');
    if (sweep_values.empty()) throw UsageError("--sweep '" + spec + "' names no value");
    llmscale::Contestants check = llmscale::Contestants::for_run(sim, plan.min_replicas, plan.max_replicas);
    for (const auto& v : sweep_values) apply_set(check, sweep_name + "=" + v);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  plan.jobs = static_cast<unsigned>(integer(args, "jobs", cores, 1, 1024));
  plan.sets = args.sets;
  plan.initial_given = args.values.count("initial-replicas") > 0;
  if (plan.initial_given) plan.initial_replicas = static_cast<int>(integer(args, "initial-replicas", 0, 0, 100000));
  return plan;
}

/// Before the runs: the trace's malformed rows (reported once on stderr: every run skips the
/// same ones), a record's windows and fleet (`recorded` added to `all` where it has ready
/// counts), the load's extent, the opening fleet per cold start, the default replica bound.
/// A record this build cannot read (a newer version, or no version line), or `recorded` asked
/// for on a load without ready counts, is a UsageError.
inline void prepare_fleet(ReplayPlan& plan) {
  long long& skipped = plan.skipped;
  long long& failed = plan.failed;
  const Input& input = plan.input;
  const auto make_source = [&plan] { return plan.source(); };
  double bucket_s = 0;
  std::vector<std::string> problems;
  if (!input.scenario) {  // malformed rows, reported once (every run skips the same ones)
    std::ifstream in(input.trace);
    try {
      llmscale::TraceReader check(in, input.format, input.strict, 2.0, input.seed);
      llmscale::TraceRequest r;
      llmscale::RateWindow w;
      while (llmscale::is_rate_series(input.format) ? check.next_window(w) : check.next(r)) {
        if (input.format == llmscale::TraceFormat::llmscale) plan.record.push_back(w);
      }
      skipped = check.skipped();
      failed = check.failed();
      problems = check.problems();
      bucket_s = check.bucket_s();
    } catch (const llmscale::TraceVersionError& e) {
      // refused whole, strict or not: the user must change the file or llmscale, not a row
      throw UsageError("--trace '" + input.trace + "': " + e.what());
    }
  }
  plan.recorded_fleet = llmscale::RecordedFleet(plan.record);
  std::vector<std::string>& policies = plan.policies;
  const bool recorded_asked = std::find(policies.begin(), policies.end(), llmscale::recorded_contestant) != policies.end();
  if (recorded_asked && plan.recorded_fleet.empty()) {
    throw UsageError("--policies " + std::string(llmscale::recorded_contestant) +
                     ": replays the fleet an llmscale record holds (--trace-format llmscale with ready counts); this load has none");
  }
  if (plan.all_policies && !recorded_asked && !plan.recorded_fleet.empty()) policies.emplace_back(llmscale::recorded_contestant);
  plan.source_name = input.scenario ? "scenario " + input.scenario_name : input.trace;
  for (const std::string& what : problems) std::fprintf(stderr, "llmscale-replay: %s: %s (skipped)\n", input.trace.c_str(), what.c_str());
  if (skipped > static_cast<long long>(problems.size())) {
    std::fprintf(stderr, "llmscale-replay: %lld malformed rows skipped in all\n", skipped);
  }
  if (failed > 0) std::fprintf(stderr, "llmscale-replay: %lld failed requests (no response tokens) skipped\n", failed);
  if (bucket_s > 0) {
    std::fprintf(stderr, "llmscale-replay: timestamps bucketed %.3g s apart: arrivals jittered within each bucket\n", bucket_s);
  }
  // a load with no request, or spanning years, is refused here rather than replayed as "100 % SLO"
  check_load_extent(load_extent(make_source()), plan.source_name, skipped, plan.policies.size());
  std::map<double, int>& initial = plan.initial;  // by cold start: the opening fleet depends on it
  for (double cs : plan.cold_starts) {
    if (plan.initial_given) {
      initial[cs] = plan.initial_replicas;
    } else {
      llmscale::SimConfig run = plan.sim;
      run.cold_start_s = cs;
      initial[cs] = llmscale::opening_fleet(make_source, plan.profile, run, 0.99, llmscale::reference_max_replicas).replicas;
    }
  }
  int most_initial = 0;
  for (const auto& kv : initial) most_initial = std::max(most_initial, kv.second);
  if (!plan.max_given) {
    ReplaySource all = make_source();
    plan.max_replicas = llmscale::replica_bound(llmscale::peak_fluid_replicas(all, plan.profile, plan.sim), most_initial);
    plan.max_replicas = std::max(plan.max_replicas, plan.min_replicas);
  }
  for (auto& kv : initial) kv.second = std::clamp(kv.second, plan.min_replicas, plan.max_replicas);
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_PLAN_HPP
