// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// llmscale-replay on an llmscale record: the simulator against the cluster at the recorded fleet
// (llmscale::check_record on the `recorded` contestant's run at the first cold start), as the
// block under the table, the JSON's "record_check" and the windows the picture draws (the
// recorded ready replicas, the observed and simulated TTFT p99 per window).
#ifndef LLMSCALE_TOOLS_REPLAY_RECORD_HPP
#define LLMSCALE_TOOLS_REPLAY_RECORD_HPP

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "llmscale/core/number.hpp"
#include "llmscale/sim/record_check.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "replay_plan.hpp"
#include "replay_plot.hpp"
#include "replay_runs.hpp"

namespace llmscale_replay {

/// The `recorded` contestant's run at the first cold start; nullptr when it did not run.
inline const llmscale::SimResult* recorded_run(const ReplayPlan& plan, const std::vector<Job>& jobs,
                                               const std::vector<llmscale::SimResult>& results) {
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].policy == llmscale::recorded_contestant && jobs[i].cold_start_s == plan.cold_starts.front()) return &results[i];
  }
  return nullptr;
}

/// The check of the simulator against the cluster, where the recorded fleet ran.
inline std::optional<llmscale::RecordCheck> record_check(const ReplayPlan& plan, const std::vector<Job>& jobs,
                                                         const std::vector<llmscale::SimResult>& results) {
  const llmscale::SimResult* run = recorded_run(plan, jobs, results);
  if (run == nullptr) return std::nullopt;
  return llmscale::check_record(plan.record, plan.recorded_fleet, *run, plan.sim.gpus_per_replica);
}

/// The block printed under the table: one line of figures, one saying how they were made.
inline std::string record_check_text(const ReplayPlan& plan, const llmscale::RecordCheck& c) {
  const auto value = [](double v, const char* format) {
    if (std::isnan(v)) return std::string("n/a");
    char buf[32];
    std::snprintf(buf, sizeof buf, format, v);
    return std::string(buf);
  };
  const auto difference = [](double d) {
    if (std::isnan(d)) return std::string();
    char buf[32];
    std::snprintf(buf, sizeof buf, " (%+.0f %%)", 100 * d);
    return std::string(buf);
  };
  const auto pair = [&](const llmscale::LatencyComparison& q, const char* format, const char* sim_word, const char* seen_word) {
    return value(q.simulated, format) + sim_word + " / " + value(q.observed, format) + seen_word + difference(q.difference());
  };
  std::string s = "simulator vs cluster at the recorded fleet";
  if (plan.cold_starts.size() > 1) s += " (cold start " + llmscale::format_number(plan.cold_starts.front()) + " s)";
  s += ": TTFT p50 " + pair(c.ttft_p50, "%.2f s", " simulated", " observed") + ", p99 " + pair(c.ttft_p99, "%.2f s", "", "") +
       "; TPOT p50 " + pair(c.tpot_p50, "%.3f s", "", "") + ", p99 " + pair(c.tpot_p99, "%.3f s", "", "") + "; GPU-h " +
       value(c.gpu_hours_simulated, "%.1f") + " simulated / " + value(c.gpu_hours_recorded, "%.1f") + " recorded" +
       difference(c.gpu_hours_difference()) + "\n";
  const std::size_t n[] = {c.ttft_p50.windows, c.ttft_p99.windows, c.tpot_p50.windows, c.tpot_p99.windows};
  const bool same = n[1] == n[0] && n[2] == n[0] && n[3] == n[0];
  s += "  each quantile: the arrivals-weighted median of the windows' values, the replay measured per window as the scaler "
       "measures, over the " +
       (same ? std::to_string(n[0])
             : std::to_string(n[0]) + ", " + std::to_string(n[1]) + ", " + std::to_string(n[2]) + " and " + std::to_string(n[3])) +
       " windows where the record has it (docs/simulator.md)";
  if (plan.input.rate_scale != 1) {
    s += "; at --rate-scale " + llmscale::format_number(plan.input.rate_scale) + " the load is not the cluster's";
  }
  return s + "\n";
}

/// The JSON object "record_check" (numbers as `number` writes them: null for unknown).
template <class Number>
std::string record_check_json(const ReplayPlan& plan, const llmscale::RecordCheck& c, Number&& number) {
  const auto quantile = [&](const char* name, const llmscale::LatencyComparison& q) {
    return std::string(", \"") + name + "\": {\"simulated\": " + number(q.simulated) + ", \"observed\": " + number(q.observed) +
           ", \"difference\": " + number(q.difference()) + ", \"windows\": " + std::to_string(q.windows) + "}";
  };
  return "{\"policy\": \"" + std::string(llmscale::recorded_contestant) + "\", \"cold_start_s\": " + number(plan.cold_starts.front()) +
         ", \"rule\": \"arrivals-weighted median of the windows' quantiles\"" + quantile("ttft_p50", c.ttft_p50) +
         quantile("ttft_p99", c.ttft_p99) + quantile("tpot_p50", c.tpot_p50) + quantile("tpot_p99", c.tpot_p99) +
         ", \"gpu_hours\": {\"simulated\": " + number(c.gpu_hours_simulated) + ", \"recorded\": " + number(c.gpu_hours_recorded) +
         ", \"difference\": " + number(c.gpu_hours_difference()) + "}}";
}

/// The record's windows as the picture draws them, with the recorded fleet's simulated TTFT p99
/// per window from `run` (nullptr: none).
inline std::vector<replay::RecordWindow> record_windows(const ReplayPlan& plan, const llmscale::SimResult* run) {
  std::vector<replay::RecordWindow> out;
  out.reserve(plan.record.size());
  for (std::size_t w = 0; w < plan.record.size(); ++w) {
    const llmscale::RateWindow& r = plan.record[w];
    replay::RecordWindow p;
    p.start_s = r.start_s;
    p.end_s = r.start_s + r.length_s;
    p.arrivals = r.rate * r.length_s;
    p.ready = r.fleet.ready;
    p.observed_ttft_p99 = r.fleet.ttft_p99_s;
    if (run != nullptr && run->window_latencies.size() == plan.record.size()) p.simulated_ttft_p99 = run->window_latencies[w].ttft_p99;
    out.push_back(p);
  }
  return out;
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_RECORD_HPP
