// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// llmscale-replay's command line: the usage text, the options read into Args (through CLI11,
// command_line.hpp), and typed reads of them that name the option, the value and the allowed
// range (a UsageError: exit 2).
#ifndef LLMSCALE_TOOLS_REPLAY_ARGS_HPP
#define LLMSCALE_TOOLS_REPLAY_ARGS_HPP

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "llmscale/core/number.hpp"
#include "replay_checks.hpp"

namespace llmscale_replay {

inline constexpr const char* usage =
    "usage: llmscale-replay [--scenario chat-day|code-bursts|flash-crowd]\n"
    "         [--trace FILE --trace-format azure|csv|mooncake|burstgpt|servegen|llmscale [--strict]]\n"
    "         [--rate-scale K] [--policies all|NAME,...] [--tune NAME] [--profile FILE --model M --hardware H --tp N]\n"
    "         [--kv-tokens K] [--max-batch B] [--max-num-batched-tokens T] [--metric-lag default|0|SECONDS]\n"
    "         [--cold-start S[,S...]]\n"
    "         [--cold-start-phases provision=S,pull=S,register=S,load=S,warmup=S]\n"
    "         [--faults crash=RATE,failed-start=P,slow-start=FACTOR,metric-outage=START+LEN]\n"
    "         [--slo-ttft S] [--slo-tpot S] [--tick S] [--seed N] [--initial-replicas N]\n"
    "         [--min-replicas N] [--max-replicas N] [--set name.key=value ...] [--sweep name.key=V1,V2,...]\n"
    "         [--exact-steps] [--jobs N] [--json FILE] [--timeseries FILE] [--plot FILE.svg]\n"
    "         [--report FILE.html]\n"
    "\n"
    "Replays the load once per policy under the simulator's rules (docs/simulator.md: router,\n"
    "continuous batching with chunked prefill, KV admission and preemption, cold starts, billing)\n"
    "and prints one row per policy and cold start: requests, SLO attainment, TTFT and TPOT\n"
    "quantiles, GPU-hours, scale events;\n"
    "p95 batch occupancy and KV use (what binds), then the fluid floor (fluid_bound) in GPU-hours.\n"
    "Load: a built-in scenario (default chat-day: 24 h with a daily cycle and bursts) or a trace file\n"
    "(llmscale: a record llmscale-scaler appended, one row per window; docs/simulator.md).\n"
    "Policies: hpa-gpu-util, hpa-gpu-mem, hpa-tuned, kpa, kpa-tuned, ray-serve, ray-serve-tuned,\n"
    "aibrix-apa-kv, aibrix-tuned, llmd-saturation, llmd-tuned, llmscale-slo, llmscale-pid,\n"
    "llmscale-predictive, the same three @keda (behind llmscale-scaler and KEDA's HPA), static-best,\n"
    "oracle, and on an llmscale record with ready counts recorded (the fleet the cluster had; all: every one).\n"
    "--tune NAME sweeps NAME's main knob and prints the cheapest setting that meets the attainment\n"
    "target (99 %) with the --set that reproduces it.\n"
    "Defaults: --profile profile_splitwise_perf_model.csv from $LLMSCALE_DATA_DIR, else the first found\n"
    "in ../shared/data, beside the source tree, beside the executable, under the install prefix (the\n"
    "one used is said on stderr), --model llama2-70b\n"
    "--hardware h100-80gb --tp 4, --kv-tokens 400000, --max-batch 256 (vLLM's max_num_seqs),\n"
    "--max-num-batched-tokens 0 (no budget), --metric-lag default (each contestant its users' metric\n"
    "path; 0: every contestant sees every tick; SECONDS: every anchor and @keda scrapes this often),\n"
    "--cold-start 300, --slo-ttft 2, --slo-tpot 0.1, --tick 1, --rate-scale 1, --seed 1,\n"
    "--min-replicas 1, --max-replicas 8 x the peak fluid need (at least twice the opening fleet),\n"
    "--initial-replicas the opening fleet (the smallest fixed fleet meeting 99 % on the arrivals before\n"
    "the first cold start plus a minute), --jobs the cores.\n"
    "--cold-start 300,600,1200 runs every policy at each; --cold-start-phases sets the phases (their\n"
    "sum is the cold start). --faults: crash = crashes per ready replica-hour, failed-start = the\n"
    "chance a cold start fails, slow-start = actual over nominal cold start, metric-outage = engine\n"
    "metrics missing from START for LEN seconds.\n"
    "--set changes a contestant's config: name is one of hpa_gpu_util, hpa_gpu_mem, hpa_tuned, kpa,\n"
    "kpa_tuned, ray_serve, ray_serve_tuned, aibrix_apa, aibrix_tuned, llmd_saturation, llmd_tuned, slo,\n"
    "pid, pid_planner (the PID's feed-forward), predictive, governor (llmscale's and the HPA\n"
    "baselines'), neutral_governor (the other\n"
    "anchors'); e.g. --set kpa.target_utilization=0.5.\n"
    "--sweep runs the policies once per value, rows labelled NAME[key=value].\n"
    "--plot writes one SVG: the cost/quality chart (attainment against GPU-hours relative to the oracle,\n"
    "one point per policy) and one panel of replicas over time per policy (on a record, with the\n"
    "cluster's ready replicas, and the observed against the simulated TTFT p99 per window). --report writes one\n"
    "self-contained HTML page: the configuration, the table, the picture and each llmscale policy's\n"
    "five worst minutes with the decisions around them.\n";

struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> sets;
  bool strict = false, exact_steps = false;
};

/// The options read into Args: `--help` (a UsageError with no message), a value option's last
/// occurrence, every --set; an unknown option or a missing value is a UsageError.
inline Args parse(int argc, char** argv) {
  static const char* const valued[] = {
      "trace",     "trace-format", "rate-scale", "policies",  "profile",  "model",          "hardware",
      "tp",        "kv-tokens",    "max-batch",  "cold-start", "slo-ttft", "slo-tpot",       "tick",
      "seed",      "initial-replicas", "min-replicas", "max-replicas", "json", "timeseries",
      "scenario",  "cold-start-phases", "faults", "plot", "report", "sweep", "jobs", "tune", "metric-lag",
      "max-num-batched-tokens"};
  Args a;
  bool help = false;
  llmscale_tools::CommandLine cl("llmscale-replay");
  cl.stop("-h,--help", help).flag("--strict", a.strict).flag("--exact-steps", a.exact_steps);
  for (const char* key : valued) {
    cl.value(std::string("--") + key, [&a, key](const std::string& v) { a.values[key] = v; });  // the last one given
  }
  cl.value("--set", [&a](const std::string& v) { a.sets.push_back(v); });
  const std::string problem = cl.parse(argc, argv);
  if (help) throw UsageError("");
  if (!problem.empty()) throw UsageError(problem);
  return a;
}

inline double number(const Args& a, const std::string& key, double fallback, double lo, double hi, const char* allowed) {
  const auto it = a.values.find(key);
  if (it == a.values.end()) return fallback;
  double v = 0;
  if (!llmscale::parse_number(it->second, v) || !std::isfinite(v)) {
    throw UsageError("--" + key + " '" + it->second + "' is not a number");
  }
  if (v < lo || v > hi) throw UsageError("--" + key + " = " + it->second + " is out of range; allowed: " + allowed);
  return v;
}

inline long long integer(const Args& a, const std::string& key, long long fallback, long long lo, long long hi) {
  const auto it = a.values.find(key);
  if (it == a.values.end()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0') throw UsageError("--" + key + " '" + it->second + "' is not an integer");
  if (v < lo || v > hi) {
    throw UsageError("--" + key + " = " + it->second + " is out of range; allowed: [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  }
  return v;
}

inline std::string text(const Args& a, const std::string& key, const std::string& fallback) {
  const auto it = a.values.find(key);
  return it == a.values.end() ? fallback : it->second;
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_ARGS_HPP
