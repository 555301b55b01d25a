// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// llmscale-replay's files: --json (the run's settings and every result), --timeseries (one CSV
// row per tick and run), --plot (the SVG) and --report (the HTML page around it).
#ifndef LLMSCALE_TOOLS_REPLAY_OUTPUTS_HPP
#define LLMSCALE_TOOLS_REPLAY_OUTPUTS_HPP

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "llmscale/core/number.hpp"
#include "llmscale/core/version.hpp"
#include "llmscale/sim/contestants.hpp"
#include "replay_args.hpp"
#include "replay_plan.hpp"
#include "replay_plot.hpp"
#include "replay_record.hpp"
#include "replay_report.hpp"
#include "replay_runs.hpp"
#include "replay_verdicts.hpp"

namespace llmscale_replay {

inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  if (!out || !(out << content) || !out.flush()) throw std::runtime_error("cannot write '" + path + "'");
}

// The scrape interval contestant `policy` saw its signals through.
inline double c_path_scrape(const std::string& policy, const llmscale::MetricLag& lag) {
  llmscale::Contestants c;
  c.metric_lag = lag;
  return c.path_for(policy, llmscale::SimConfig{}).metric_scrape_s;
}

/// Writes the files the command line asks for.
inline void write_outputs(Args& args, const ReplayPlan& plan, const std::vector<Job>& jobs,
                          const std::vector<llmscale::SimResult>& results, const Verdicts& verdicts) {
  const llmscale::SimConfig& sim = plan.sim;
  const std::vector<double>& cold_starts = plan.cold_starts;
  const auto& phases = plan.phases;
  const double fluid = verdicts.fluid_gpu_hours;
  const std::vector<bool>& beats_oracle = verdicts.beats_oracle;
  const std::vector<bool>& at_max = verdicts.at_max;
  const llmscale::SimResult& any = results.front();
  if (args.values.count("json")) {
    std::ofstream out(args.values["json"]);
    if (!out) throw std::runtime_error("cannot write '" + args.values["json"] + "'");
    out << "{\"scenario\": {\"source\": " << json_string(plan.source_name) << ", \"trace\": " << json_string(plan.input.trace)
        << ", \"trace_format\": " << json_string(plan.input.format_name) << ", \"rate_scale\": " << json_number(plan.input.rate_scale)
        << ", \"seed\": " << plan.input.seed << ", \"profile\": " << json_string(plan.profile_path)
        << ", \"model\": " << json_string(plan.model) << ", \"hardware\": " << json_string(plan.hardware) << ", \"tp\": " << plan.tp
        << ", \"max_batch\": " << sim.max_batch << ", \"max_num_batched_tokens\": " << sim.max_num_batched_tokens
        << ", \"kv_tokens\": " << json_number(sim.kv_tokens) << ", \"metric_lag\": " << json_string(plan.metric_lag_text)
        << ", \"cold_start_s\": [";
    for (std::size_t i = 0; i < cold_starts.size(); ++i) out << (i ? ", " : "") << json_number(cold_starts[i]);
    if (phases.empty()) {  // --cold-start: the total, split by the default shares (docs/simulator.md)
      out << "], \"cold_start_phase_shares\": {\"provision\": 0.4, \"pull\": 0.2, \"register\": 0.05, \"load\": 0.25, \"warmup\": 0.1";
    } else {
      out << "], \"cold_start_phases\": {";
      for (std::size_t i = 0; i < phases.size(); ++i) out << (i ? ", " : "") << json_string(phases[i].first) << ": " << json_number(phases[i].second);
    }
    out << "}, \"faults\": {\"crash_per_replica_hour\": " << json_number(sim.crash_per_replica_hour)
        << ", \"failed_start_probability\": " << json_number(sim.failed_start_probability)
        << ", \"slow_start_factor\": " << json_number(sim.slow_start_factor)
        << ", \"metric_outage_start_s\": " << json_number(sim.metric_outage_start_s)
        << ", \"metric_outage_s\": " << json_number(sim.metric_outage_s) << "}"
        << ", \"slo_ttft_s\": " << json_number(sim.slo_ttft_s) << ", \"slo_tpot_s\": " << json_number(sim.slo_tpot_s)
        << ", \"tick_s\": " << json_number(sim.tick_s) << ", \"initial_replicas\": " << plan.initial.at(cold_starts.front())
        << ", \"initial_replicas_given\": " << (plan.initial_given ? "true" : "false")
        << ", \"min_replicas\": " << plan.min_replicas << ", \"max_replicas\": " << plan.max_replicas
        << ", \"exact_steps\": " << (sim.exact_steps ? "true" : "false") << ", \"malformed_rows\": " << plan.skipped
        << ", \"failed_requests\": " << plan.failed << ", \"version\": \"" << LLMSCALE_VERSION_MAJOR << "."
        << LLMSCALE_VERSION_MINOR << "." << LLMSCALE_VERSION_PATCH << "\"}, \"fluid_bound_gpu_hours\": " << json_number(fluid)
        << ", \"results\": [";
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto& r = results[i];
      out << (i ? ", " : "") << "{\"policy\": " << json_string(r.policy) << ", \"cold_start_s\": " << json_number(jobs[i].cold_start_s)
          << ", \"requests\": " << r.requests << ", \"completed\": " << r.completed << ", \"rejected\": " << r.rejected
          << ", \"preempted\": " << r.preempted << ", \"slo_attainment\": " << json_number(r.slo_attainment)
          << ", \"ttft_p50\": " << json_number(r.ttft_p50) << ", \"ttft_p99\": " << json_number(r.ttft_p99)
          << ", \"tpot_p99\": " << json_number(r.tpot_p99) << ", \"gpu_hours\": " << json_number(r.gpu_hours)
          << ", \"scale_events\": " << r.scale_events << ", \"initial_replicas\": " << r.initial_replicas
          << ", \"requeued\": " << r.requeued << ", \"crashes\": " << r.crashes << ", \"failed_starts\": " << r.failed_starts
          << ", \"beats_oracle\": " << (beats_oracle[i] ? "true" : "false") << ", \"peak_replicas\": " << r.peak_replicas << ", \"last_arrival_s\": " << json_number(r.last_arrival_s)
          << ", \"at_max_replicas\": " << (at_max[i] ? "true" : "false")
          << ", \"batch_occupancy_p95\": " << json_number(r.batch_occupancy_p95) << ", \"kv_use_p95\": " << json_number(r.kv_use_p95)
          << ", \"scrape_s\": " << json_number(c_path_scrape(jobs[i].policy, plan.lag)) << "}";
    }
    out << "]";
    if (verdicts.record_check) out << ", \"record_check\": " << record_check_json(plan, *verdicts.record_check, json_number);
    out << "}\n";
  }
  if (args.values.count("timeseries")) {
    std::ofstream out(args.values["timeseries"]);
    if (!out) throw std::runtime_error("cannot write '" + args.values["timeseries"] + "'");
    out << "time_s,policy,cold_start_s,arrivals,queue,ready,starting,desired,misses\n";
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto& r = results[i];
      for (const auto& t : r.series) {
        out << json_number(t.t) << ',' << r.policy << ',' << json_number(jobs[i].cold_start_s) << ',' << t.arrivals << ','
            << t.queue << ',' << t.ready << ',' << t.starting << ',' << t.desired << ',' << t.misses << '\n';
      }
    }
  }
  if (args.values.count("plot") || args.values.count("report")) {
    replay::PlotInput plot;
    for (std::size_t i = 0; i < jobs.size(); ++i) plot.runs.push_back(replay::PlotRun{results[i].policy, jobs[i].cold_start_s, &results[i], jobs[i].policy});
    plot.title = "llmscale-replay: " + plan.source_name + " (" + std::to_string(any.requests) + " requests, " + plan.model + " on " +
                 plan.hardware + " TP" + std::to_string(plan.tp) + ", SLO TTFT " + llmscale::format_number(sim.slo_ttft_s) +
                 " s, TPOT " + llmscale::format_number(sim.slo_tpot_s) + " s)";
    plot.fluid_gpu_hours = fluid;
    plot.timeline_cold_start = cold_starts.front();
    if (!plan.recorded_fleet.empty()) {  // a record with ready counts: the cluster's fleet and latencies beside the runs'
      plot.record = record_windows(plan, recorded_run(plan, jobs, results));
      plot.slo_ttft_s = sim.slo_ttft_s;
    }
    const std::string svg = replay::render_svg(plot);
    if (args.values.count("plot")) write_file(args.values["plot"], svg);
    if (args.values.count("report")) {
      replay::ReportInput report;
      report.title = plot.title;
      report.plot = &plot;
      report.svg = svg;
      std::string cs_text, opening;
      for (std::size_t i = 0; i < cold_starts.size(); ++i) {
        cs_text += (i ? ", " : "") + llmscale::format_number(cold_starts[i]) + " s";
        opening += (i ? ", " : "") + std::to_string(plan.initial.at(cold_starts[i]));
      }
      report.config = {
          {"load", plan.source_name + (plan.input.trace.empty() ? "" : " (" + plan.input.format_name + ")") +
                       (plan.input.rate_scale != 1 ? ", rate x " + llmscale::format_number(plan.input.rate_scale) : "") +
                       ", seed " + std::to_string(plan.input.seed)},
          {"requests", std::to_string(any.requests) + ", the last arriving at " + replay::clock_time(any.last_arrival_s)},
          {"profile", plan.profile_path + ": " + plan.model + " on " + plan.hardware + ", TP" + std::to_string(plan.tp)},
          {"engine", "max batch " + std::to_string(sim.max_batch) + ", KV " + llmscale::format_number(sim.kv_tokens) +
                         " tokens, max batched tokens " + (sim.max_num_batched_tokens > 0 ? std::to_string(sim.max_num_batched_tokens) : "none")},
          {"SLO", "TTFT " + llmscale::format_number(sim.slo_ttft_s) + " s, TPOT " + llmscale::format_number(sim.slo_tpot_s) +
                      " s; target 99 % of the requests"},
          {"cold start", cs_text},
          {"opening fleet", opening + (plan.initial_given ? " (given)" : " (the smallest fixed fleet meeting 99 % until the first cold start + 60 s)")},
          {"replicas", "min " + std::to_string(plan.min_replicas) + ", max " + std::to_string(plan.max_replicas) + (plan.max_given ? " (given)" : "")},
          {"metric lag", plan.metric_lag_text},
          {"tick", llmscale::format_number(sim.tick_s) + " s"},
          {"fluid floor", llmscale::format_number(std::round(fluid * 10) / 10) + " GPU-h"},
          {"version", std::to_string(LLMSCALE_VERSION_MAJOR) + "." + std::to_string(LLMSCALE_VERSION_MINOR) + "." +
                          std::to_string(LLMSCALE_VERSION_PATCH)}};
      if (verdicts.record_check) {
        std::string check = record_check_text(plan, *verdicts.record_check);
        check = check.substr(check.find(": ") + 2);  // the figures, without the heading the row names
        check.erase(check.find('\n'));
        report.config.emplace_back("simulator vs cluster", "at the recorded fleet: " + check);
      }
      if (!plan.sets.empty()) {
        std::string sets;
        for (const auto& x : plan.sets) sets += (sets.empty() ? "" : " ") + x;
        report.config.emplace_back("--set", sets);
      }
      write_file(args.values["report"], replay::render_report(report));
    }
  }
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_OUTPUTS_HPP
