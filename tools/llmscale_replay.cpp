// llmscale-replay: every scaling policy replayed on the same load under the simulator's rules
// (docs/simulator.md), side by side, with the oracle, the best static fleet and the fluid floor.
//
//   llmscale-replay [--scenario chat-day|code-bursts|flash-crowd]
//                   [--trace FILE --trace-format azure|csv|mooncake|burstgpt|servegen [--strict]]
//                   [--rate-scale K] [--policies all|NAME,...] [--tune NAME] [--profile FILE --model M
//                   --hardware H --tp N] [--kv-tokens K] [--max-batch B] [--max-num-batched-tokens T]
//                   [--metric-lag default|0|SECONDS]
//                   [--cold-start S[,S...] | --cold-start-phases provision=S,pull=S,register=S,load=S,warmup=S]
//                   [--faults crash=RATE,failed-start=P,slow-start=FACTOR,metric-outage=START+LEN]
//                   [--slo-ttft S] [--slo-tpot S] [--tick S] [--seed N] [--initial-replicas N]
//                   [--min-replicas N] [--max-replicas N] [--set name.key=value ...]
//                   [--sweep name.key=V1,V2,...] [--exact-steps] [--jobs N]
//                   [--json FILE] [--timeseries FILE] [--plot FILE.svg] [--report FILE.html]
//
// Exit status: 0 when every policy ran; 2 for invalid arguments or a load with nothing to
// replay (the message says what to change); 1 when the trace cannot be read (or, with --strict, has a malformed row).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "llmscale/core/number.hpp"
#include "llmscale/core/version.hpp"
#include "llmscale/model/profile_io.hpp"
#include "llmscale/sim/contestants.hpp"
#include "llmscale/sim/opening_fleet.hpp"
#include "llmscale/sim/workload.hpp"
#include "replay_checks.hpp"
#include "replay_options.hpp"
#include "replay_set.hpp"
#include "replay_source.hpp"
#include "replay_plot.hpp"
#include "replay_report.hpp"

namespace {

constexpr const char* usage =
    "usage: llmscale-replay [--scenario chat-day|code-bursts|flash-crowd]\n"
    "         [--trace FILE --trace-format azure|csv|mooncake|burstgpt|servegen [--strict]]\n"
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
    "Load: a built-in scenario (default chat-day: 24 h with a daily cycle and bursts) or a trace file.\n"
    "Policies: hpa-gpu-util, hpa-gpu-mem, hpa-tuned, kpa, kpa-tuned, ray-serve, ray-serve-tuned,\n"
    "aibrix-apa-kv, aibrix-tuned, llmd-saturation, llmd-tuned, llmscale-slo, llmscale-pid,\n"
    "llmscale-predictive, the same three @keda (behind llmscale-scaler and KEDA's HPA), static-best,\n"
    "oracle (all: every one).\n"
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
    "one point per policy) and one panel of replicas over time per policy. --report writes one\n"
    "self-contained HTML page: the configuration, the table, the picture and each llmscale policy's\n"
    "five worst minutes with the decisions around them.\n";

using llmscale_replay::apply_set;
using llmscale_replay::parse_faults;
using llmscale_replay::parse_phases;
using llmscale_replay::parse_seconds;
using llmscale_replay::split;
using llmscale_replay::Input;
using llmscale_replay::ReplaySource;
using llmscale_replay::UsageError;

struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> sets;
  bool strict = false, exact_steps = false;
};

Args parse(int argc, char** argv) {
  static const std::vector<std::string> valued{
      "trace",     "trace-format", "rate-scale", "policies",  "profile",  "model",          "hardware",
      "tp",        "kv-tokens",    "max-batch",  "cold-start", "slo-ttft", "slo-tpot",       "tick",
      "seed",      "initial-replicas", "min-replicas", "max-replicas", "json", "timeseries", "set",
      "scenario",  "cold-start-phases", "faults", "plot", "report", "sweep", "jobs", "tune", "metric-lag",
      "max-num-batched-tokens"};
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") throw UsageError("");
    if (arg == "--strict") {
      a.strict = true;
      continue;
    }
    if (arg == "--exact-steps") {
      a.exact_steps = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    const std::string key = arg.substr(2);
    if (std::find(valued.begin(), valued.end(), key) == valued.end()) throw UsageError("unknown option '" + arg + "'");
    if (i + 1 >= argc) throw UsageError("--" + key + " needs a value");
    const std::string value = argv[++i];
    if (key == "set") {
      a.sets.push_back(value);
    } else {
      a.values[key] = value;
    }
  }
  return a;
}

double number(const Args& a, const std::string& key, double fallback, double lo, double hi, const char* allowed) {
  const auto it = a.values.find(key);
  if (it == a.values.end()) return fallback;
  double v = 0;
  if (!llmscale::parse_number(it->second, v) || !std::isfinite(v)) {
    throw UsageError("--" + key + " '" + it->second + "' is not a number");
  }
  if (v < lo || v > hi) throw UsageError("--" + key + " = " + it->second + " is out of range; allowed: " + allowed);
  return v;
}

long long integer(const Args& a, const std::string& key, long long fallback, long long lo, long long hi) {
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

std::string text(const Args& a, const std::string& key, const std::string& fallback) {
  const auto it = a.values.find(key);
  return it == a.values.end() ? fallback : it->second;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string json_string(const std::string& s) {
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

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  if (!out || !(out << content) || !out.flush()) throw std::runtime_error("cannot write '" + path + "'");
}

// The scrape interval contestant `policy` saw its signals through.
double c_path_scrape(const std::string& policy, const llmscale::MetricLag& lag) {
  llmscale::Contestants c;
  c.metric_lag = lag;
  return c.path_for(policy, llmscale::SimConfig{}).metric_scrape_s;
}

struct Job {
  std::string policy, label;  // label: the row's name (the policy, or policy[key=value] in a sweep)
  double cold_start_s = 0;
  std::string sweep_set;      // --sweep's assignment for this job, if any
};

// Draws a progress bar on stderr when it is a terminal and the runs take more than 2 s.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(clock::now()) {}
  void show(std::size_t done) {
    if (!tty_ || clock::now() - start_ < std::chrono::seconds(2)) return;
    const auto width = 30u;
    const std::size_t filled = total_ == 0 ? width : done * width / total_;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu runs, %.0f s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total_, seconds());
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fputs("\r\033[K", stderr);
    shown_ = false;
  }
  [[nodiscard]] double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  using clock = std::chrono::steady_clock;
  std::size_t total_;
  bool tty_, shown_ = false;
  clock::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const UsageError& e) {
    if (*e.what() != '\0') std::fprintf(stderr, "llmscale-replay: %s\n\n", e.what());
    std::fputs(usage, stderr);
    return *e.what() == '\0' ? 0 : 2;
  }
  try {
    // ---- the load ---------------------------------------------------------------------------------
    Input input;
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
      if (input.format_name.empty()) throw UsageError("--trace-format azure|csv|mooncake|burstgpt|servegen is required");
      if (!llmscale::parse_trace_format(input.format_name, input.format)) {
        throw UsageError("--trace-format '" + input.format_name + "' is not one of: azure, csv, mooncake, burstgpt, servegen");
      }
      llmscale_replay::check_trace_path(input.trace);
    }
    input.rate_scale = number(args, "rate-scale", 1.0, 1e-6, 1e6, "(0, 1000000]");
    input.seed = static_cast<std::uint64_t>(integer(args, "seed", 1, 0, (1LL << 62)));

    std::vector<std::string> policies;
    const std::string tune = text(args, "tune", "");
    if (!tune.empty()) {
      if (!llmscale::is_contestant(tune) || tune == "static-best" || tune == "oracle") {
        throw UsageError("--tune '" + tune + "': want a policy with a knob (every name --policies takes but static-best and oracle)");
      }
      if (args.values.count("policies")) throw UsageError("give --tune or --policies, not both");
      if (args.values.count("sweep")) throw UsageError("give --tune or --sweep, not both (--tune sweeps the policy's own knob)");
    }
    for (const std::string& name : split(tune.empty() ? text(args, "policies", "all") : tune, ',')) {
      if (name == "all") {
        for (const auto& n : llmscale::contestant_names()) policies.push_back(n);
      } else if (llmscale::is_contestant(name)) {
        policies.push_back(name);
      } else {
        std::string known;
        for (const auto& n : llmscale::contestant_names()) known += (known.empty() ? "" : ", ") + n;
        throw UsageError("--policies: unknown policy '" + name + "'; known: all, " + known);
      }
    }
    if (policies.empty()) throw UsageError("--policies names no policy");
    for (const char* flag : {"json", "timeseries", "plot", "report"}) {
      if (args.values.count(flag)) llmscale_replay::check_output_path(std::string("--") + flag, args.values[flag]);
    }

    // ---- the simulator ----------------------------------------------------------------------------
    llmscale::SimConfig sim;
    sim.kv_tokens = number(args, "kv-tokens", 400000, 1, 1e12, "[1, 1e12]");
    sim.slo_ttft_s = number(args, "slo-ttft", 2, 1e-6, 3600, "(0, 3600]");
    sim.slo_tpot_s = number(args, "slo-tpot", 0.1, 1e-6, 60, "(0, 60]");
    sim.tick_s = number(args, "tick", 1, 0.01, 3600, "[0.01, 3600]");
    sim.exact_steps = args.exact_steps;
    sim.keep_timeseries = args.values.count("timeseries") > 0 || args.values.count("plot") > 0 || args.values.count("report") > 0;
    sim.fault_seed = static_cast<long long>(input.seed);
    if (args.values.count("faults")) parse_faults(args.values["faults"], sim);
    std::vector<double> cold_starts;
    std::vector<std::pair<std::string, double>> phases;
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
    const int min_replicas = static_cast<int>(integer(args, "min-replicas", 1, 0, llmscale::FleetState::max_replicas));
    const bool max_given = args.values.count("max-replicas") > 0;
    int max_replicas = static_cast<int>(integer(args, "max-replicas", 100000, 1, 100000));
    if (max_given && min_replicas > max_replicas) {
      throw UsageError("--min-replicas " + std::to_string(min_replicas) + " is above --max-replicas " +
                       std::to_string(max_replicas));
    }
    const bool profile_given = args.values.count("profile") > 0;
    const std::string profile_path = text(args, "profile", llmscale_replay::default_profile_path());
    const std::string model = text(args, "model", "llama2-70b");
    const std::string hardware = text(args, "hardware", "h100-80gb");
    const int tp = static_cast<int>(integer(args, "tp", 4, 1, 64));
    const llmscale::LatencyProfile profile = [&] {
      try {
        return llmscale::load_latency_profile(profile_path, model, hardware, tp);
      } catch (const std::exception& e) {
        std::string looked;
        if (!profile_given) {
          for (const auto& c : llmscale_replay::profile_candidates()) looked += (looked.empty() ? "" : ", ") + c;
          looked = "; the default was looked for in " + looked + " (set LLMSCALE_DATA_DIR or give --profile)";
        }
        throw UsageError("--profile '" + profile_path + "' (" + model + ", " + hardware + ", TP" + std::to_string(tp) +
                         "): " + e.what() + looked);
      }
    }();
    if (!profile_given) std::fprintf(stderr, "llmscale-replay: latency profile %s\n", profile_path.c_str());
    sim.max_batch = integer(args, "max-batch", 256, 1, 100000);
    sim.max_num_batched_tokens = integer(args, "max-num-batched-tokens", 0, 0, 100000000);
    sim.gpus_per_replica = tp;
    if (const llmscale::ConfigResult p = sim.validate()) {
      throw UsageError(p->field == "max_num_batched_tokens" ? "--max-num-batched-tokens " + p->value + " is below --max-batch " +
                                                                  std::to_string(sim.max_batch) + "; allowed: 0 (no budget) or at least the max batch"
                                                            : p->message());
    }
    llmscale::MetricLag lag;
    {
      const std::string v = text(args, "metric-lag", "default");
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
      llmscale::Contestants check = llmscale::Contestants::for_run(sim, min_replicas, max_replicas);
      for (const auto& s : args.sets) apply_set(check, s);
    }
    std::string sweep_name;
    std::vector<std::string> sweep_values;
    if (args.values.count("sweep")) {
      const std::string spec = args.values["sweep"];
      const auto eq = spec.find('=');
      if (eq == std::string::npos || spec.find('.') > eq) throw UsageError("--sweep '" + spec + "': want name.key=V1,V2,...");
      sweep_name = spec.substr(0, eq);
      sweep_values = split(spec.substr(eq + 1), ',');
      if (sweep_values.empty()) throw UsageError("--sweep '" + spec + "' names no value");
      llmscale::Contestants check = llmscale::Contestants::for_run(sim, min_replicas, max_replicas);
      for (const auto& v : sweep_values) apply_set(check, sweep_name + "=" + v);
    }
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const auto jobs_n = static_cast<unsigned>(integer(args, "jobs", cores, 1, 1024));
    const auto make_source = [&] { return ReplaySource(input); };

    // ---- before the runs: the file's malformed rows, the load, the opening fleet, the bound ----
    long long skipped = 0, failed = 0;
    double bucket_s = 0;
    std::vector<std::string> problems;
    if (!input.scenario) {  // malformed rows, reported once (every run skips the same ones)
      std::ifstream in(input.trace);
      llmscale::TraceReader check(in, input.format, args.strict, 2.0, input.seed);
      llmscale::TraceRequest r;
      llmscale::RateWindow w;
      while (input.format == llmscale::TraceFormat::servegen ? check.next_window(w) : check.next(r)) {
      }
      skipped = check.skipped();
      failed = check.failed();
      problems = check.problems();
      bucket_s = check.bucket_s();
    }
    const std::string source_name = input.scenario ? "scenario " + input.scenario_name : input.trace;
    for (const std::string& p : problems) std::fprintf(stderr, "llmscale-replay: %s: %s (skipped)\n", input.trace.c_str(), p.c_str());
    if (skipped > static_cast<long long>(problems.size())) {
      std::fprintf(stderr, "llmscale-replay: %lld malformed rows skipped in all\n", skipped);
    }
    if (failed > 0) std::fprintf(stderr, "llmscale-replay: %lld failed requests (no response tokens) skipped\n", failed);
    if (bucket_s > 0) {
      std::fprintf(stderr, "llmscale-replay: timestamps bucketed %.3g s apart: arrivals jittered within each bucket\n", bucket_s);
    }
    // a load with no request, or spanning years, is refused here rather than replayed as "100 % SLO"
    llmscale_replay::check_load_extent(llmscale_replay::load_extent(make_source()), source_name, skipped, policies.size());
    std::map<double, int> initial;  // by cold start: the opening fleet depends on it
    const bool initial_given = args.values.count("initial-replicas") > 0;
    for (double cs : cold_starts) {
      if (initial_given) {
        initial[cs] = static_cast<int>(integer(args, "initial-replicas", 0, 0, 100000));
      } else {
        llmscale::SimConfig run = sim;
        run.cold_start_s = cs;
        initial[cs] = llmscale::opening_fleet(make_source, profile, run, 0.99, llmscale::reference_max_replicas).replicas;
      }
    }
    int most_initial = 0;
    for (const auto& kv : initial) most_initial = std::max(most_initial, kv.second);
    if (!max_given) {
      ReplaySource all = make_source();
      max_replicas = llmscale::replica_bound(llmscale::peak_fluid_replicas(all, profile, sim), most_initial);
      max_replicas = std::max(max_replicas, min_replicas);
    }
    for (auto& kv : initial) kv.second = std::clamp(kv.second, min_replicas, max_replicas);

    // ---- the runs, in parallel, printed in order ------------------------------------------------------
    std::vector<Job> jobs;
    for (double cs : cold_starts) {
      for (const std::string& p : policies) {
        if (sweep_values.empty()) {
          jobs.push_back(Job{p, p, cs, ""});
        } else {
          for (const auto& v : sweep_values) {
            jobs.push_back(Job{p, p + "[" + sweep_name.substr(sweep_name.find('.') + 1) + "=" + v + "]", cs, sweep_name + "=" + v});
          }
        }
      }
    }
    std::vector<std::optional<llmscale::SimResult>> results(jobs.size());
    std::vector<std::string> errors(jobs.size());
    std::mutex mutex;
    std::condition_variable finished;
    std::atomic<std::size_t> next_job{0};
    std::size_t done = 0;
    const auto worker = [&] {
      for (std::size_t i; (i = next_job.fetch_add(1)) < jobs.size();) {
        llmscale::SimResult r;
        std::string error;
        try {
          llmscale::SimConfig run = sim;
          run.cold_start_s = jobs[i].cold_start_s;
          llmscale::Contestants c = llmscale::Contestants::for_run(run, min_replicas, max_replicas);
          c.metric_lag = lag;
          for (const auto& s : args.sets) apply_set(c, s);
          if (!jobs[i].sweep_set.empty()) apply_set(c, jobs[i].sweep_set);
          r = llmscale::run_contestant(jobs[i].policy, c, profile, run, initial.at(jobs[i].cold_start_s), make_source);
          r.policy = jobs[i].label;
        } catch (const std::exception& e) {
          error = e.what();
        }
        const std::lock_guard<std::mutex> lock(mutex);
        if (error.empty()) {
          results[i] = std::move(r);
        } else {
          errors[i] = error;
        }
        ++done;
        finished.notify_all();
      }
    };
    std::vector<std::thread> threads;
    for (unsigned k = 0; k < std::min<std::size_t>(jobs_n, jobs.size()); ++k) threads.emplace_back(worker);

    const bool list = cold_starts.size() > 1;
    std::printf("%s: opening fleet", source_name.c_str());
    for (std::size_t i = 0; i < cold_starts.size(); ++i) std::printf("%s%d", i ? "," : " ", initial.at(cold_starts[i]));
    std::printf("%s, max replicas %d%s, max batch %lld, cold start%s", initial_given ? " (given)" : "", max_replicas,
                max_given ? " (given)" : "", sim.max_batch, list ? "s" : "");
    for (std::size_t i = 0; i < cold_starts.size(); ++i) std::printf("%s%g", i ? "," : " ", cold_starts[i]);
    std::printf(" s, metric lag %s\n", text(args, "metric-lag", "default").c_str());
    int width = 26;  // the widest row label
    for (const Job& j : jobs) width = std::max(width, static_cast<int>(j.label.size()));
    std::printf("%-*s %s%9s %9s %8s %9s %8s %8s %8s %8s %9s %6s %7s %6s\n", width, "policy", list ? "  cold " : "", "requests",
                "completed", "rejected", "preempted", "SLO", "TTFT50", "TTFT99", "TPOT99", "GPU-h", "events", "batch95", "kv95");
    std::fflush(stdout);
    Progress progress(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      std::unique_lock<std::mutex> lock(mutex);
      while (!results[i] && errors[i].empty()) {
        finished.wait_for(lock, std::chrono::milliseconds(250));
        progress.show(done);
      }
      progress.clear();
      if (!errors[i].empty()) continue;
      const auto& r = *results[i];
      char cold[16] = "";
      if (list) std::snprintf(cold, sizeof cold, "%6.0fs ", jobs[i].cold_start_s);
      std::printf("%-*s %s%9lld %9lld %8lld %9lld %7.2f%% %7.2fs %7.2fs %7.3fs %9.1f %6lld %6.0f%% %5.0f%%\n", width, r.policy.c_str(), cold,
                  r.requests, r.completed, r.rejected, r.preempted, 100 * r.slo_attainment, r.ttft_p50, r.ttft_p99,
                  r.tpot_p99, r.gpu_hours, r.scale_events, 100 * r.batch_occupancy_p95, 100 * r.kv_use_p95);
      std::fflush(stdout);
    }
    for (auto& t : threads) t.join();
    progress.clear();
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (!errors[i].empty()) throw std::runtime_error(jobs[i].label + ": " + errors[i]);
    }
    // every run saw the same requests: the floor from the first one's totals
    const llmscale::SimResult& any = *results.front();
    const double fluid = llmscale::fluid_bound_gpu_hours(any.prompt_tokens, any.output_tokens,
                                                         static_cast<double>(any.requests), profile, sim);
    std::printf("fluid_bound %.1f GPU-h (every prompt token at full-chunk prefill speed, every output token at full-batch decode speed)\n",
                fluid);

    // the oracle is too weak where a policy beats it on GPU-hours at equal or better attainment
    std::vector<bool> beats_oracle(jobs.size(), false);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].policy != "oracle") continue;
      const auto& o = *results[i];
      for (std::size_t k = 0; k < jobs.size(); ++k) {
        const auto& r = *results[k];
        if (k == i || jobs[k].cold_start_s != jobs[i].cold_start_s || jobs[k].policy == "oracle") continue;
        if (r.slo_attainment >= o.slo_attainment && r.gpu_hours < o.gpu_hours) {
          beats_oracle[k] = true;
          std::printf("FLAG: %s beats the oracle (%.2f%% at %.1f GPU-h against %.2f%% at %.1f GPU-h): the oracle is too weak here\n",
                      r.policy.c_str(), 100 * r.slo_attainment, r.gpu_hours, 100 * o.slo_attainment, o.gpu_hours);
        }
      }
    }
    // a contestant the bound stopped: its result says more about the bound than about it
    std::vector<bool> at_max(jobs.size(), false);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto& r = *results[i];
      if (r.peak_replicas < max_replicas) continue;
      at_max[i] = true;
      std::printf("FLAG: %s reached --max-replicas %d%s\n", r.policy.c_str(), max_replicas,
                  jobs[i].policy == "static-best" || jobs[i].policy == "oracle" ? " (a reference: not limited by it)"
                                                                                  : ": the bound, not the policy, stopped it");
    }
    if (!tune.empty()) {  // the cheapest setting that meets the target, else the best attainment
      const std::string& knob = sweep_name;
      std::size_t best = jobs.size();
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        const auto& r = *results[i];
        const bool meets = r.slo_attainment >= 0.99;
        if (best == jobs.size()) {
          best = i;
          continue;
        }
        const auto& b = *results[best];
        const bool best_meets = b.slo_attainment >= 0.99;
        if ((meets && (!best_meets || r.gpu_hours < b.gpu_hours)) || (!meets && !best_meets && r.slo_attainment > b.slo_attainment)) best = i;
      }
      const auto& b = *results[best];
      const std::string value = jobs[best].sweep_set.substr(jobs[best].sweep_set.find('=') + 1);
      std::printf("\ntune %s: %s over %zu values on %s\n", tune.c_str(), knob.c_str(), jobs.size(), source_name.c_str());
      if (b.slo_attainment >= 0.99) {
        std::printf("cheapest setting meeting 99.00 %%: %s=%s (%.2f %% at %.1f GPU-h, %lld events)\n", knob.c_str(), value.c_str(),
                    100 * b.slo_attainment, b.gpu_hours, b.scale_events);
      } else {
        std::printf("no setting meets 99.00 %%; the highest attainment: %s=%s (%.2f %% at %.1f GPU-h)\n", knob.c_str(), value.c_str(),
                    100 * b.slo_attainment, b.gpu_hours);
      }
      std::string again;
      for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tune" || a == "--json" || a == "--plot" || a == "--report" || a == "--timeseries") {
          ++i;
          continue;
        }
        again += " " + a;
      }
      std::printf("reproduce: llmscale-replay%s --policies %s --set %s=%s\n", again.c_str(), tune.c_str(), knob.c_str(), value.c_str());
    }
    const bool faults = sim.crash_per_replica_hour > 0 || sim.failed_start_probability > 0 || sim.slow_start_factor != 1 ||
                        sim.metric_outage_s > 0;
    if (faults) {
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        const auto& r = *results[i];
        std::printf("faults %-22s %lld crashes, %lld requests re-queued, %lld failed starts; lost %lld (completed + rejected = %lld of %lld)\n",
                    r.policy.c_str(), r.crashes, r.requeued, r.failed_starts, r.requests - r.completed - r.rejected,
                    r.completed + r.rejected, r.requests);
      }
    }

    // ---- outputs --------------------------------------------------------------------------------
    if (args.values.count("json")) {
      std::ofstream out(args.values["json"]);
      if (!out) throw std::runtime_error("cannot write '" + args.values["json"] + "'");
      out << "{\"scenario\": {\"source\": " << json_string(source_name) << ", \"trace\": " << json_string(input.trace)
          << ", \"trace_format\": " << json_string(input.format_name) << ", \"rate_scale\": " << json_number(input.rate_scale)
          << ", \"seed\": " << input.seed << ", \"profile\": " << json_string(profile_path)
          << ", \"model\": " << json_string(model) << ", \"hardware\": " << json_string(hardware) << ", \"tp\": " << tp
          << ", \"max_batch\": " << sim.max_batch << ", \"max_num_batched_tokens\": " << sim.max_num_batched_tokens
          << ", \"kv_tokens\": " << json_number(sim.kv_tokens) << ", \"metric_lag\": " << json_string(text(args, "metric-lag", "default"))
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
          << ", \"tick_s\": " << json_number(sim.tick_s) << ", \"initial_replicas\": " << initial.at(cold_starts.front())
          << ", \"initial_replicas_given\": " << (initial_given ? "true" : "false")
          << ", \"min_replicas\": " << min_replicas << ", \"max_replicas\": " << max_replicas
          << ", \"exact_steps\": " << (sim.exact_steps ? "true" : "false") << ", \"malformed_rows\": " << skipped
          << ", \"failed_requests\": " << failed << ", \"version\": \"" << LLMSCALE_VERSION_MAJOR << "."
          << LLMSCALE_VERSION_MINOR << "." << LLMSCALE_VERSION_PATCH << "\"}, \"fluid_bound_gpu_hours\": " << json_number(fluid)
          << ", \"results\": [";
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        const auto& r = *results[i];
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
            << ", \"scrape_s\": " << json_number(c_path_scrape(jobs[i].policy, lag)) << "}";
      }
      out << "]}\n";
    }
    if (args.values.count("timeseries")) {
      std::ofstream out(args.values["timeseries"]);
      if (!out) throw std::runtime_error("cannot write '" + args.values["timeseries"] + "'");
      out << "time_s,policy,cold_start_s,arrivals,queue,ready,starting,desired,misses\n";
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        const auto& r = *results[i];
        for (const auto& t : r.series) {
          out << json_number(t.t) << ',' << r.policy << ',' << json_number(jobs[i].cold_start_s) << ',' << t.arrivals << ','
              << t.queue << ',' << t.ready << ',' << t.starting << ',' << t.desired << ',' << t.misses << '\n';
        }
      }
    }
    if (args.values.count("plot") || args.values.count("report")) {
      replay::PlotInput plot;
      for (std::size_t i = 0; i < jobs.size(); ++i) plot.runs.push_back(replay::PlotRun{results[i]->policy, jobs[i].cold_start_s, &*results[i], jobs[i].policy});
      plot.title = "llmscale-replay: " + source_name + " (" + std::to_string(any.requests) + " requests, " + model + " on " +
                   hardware + " TP" + std::to_string(tp) + ", SLO TTFT " + llmscale::format_number(sim.slo_ttft_s) +
                   " s, TPOT " + llmscale::format_number(sim.slo_tpot_s) + " s)";
      plot.fluid_gpu_hours = fluid;
      plot.timeline_cold_start = cold_starts.front();
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
          opening += (i ? ", " : "") + std::to_string(initial.at(cold_starts[i]));
        }
        report.config = {
            {"load", source_name + (input.trace.empty() ? "" : " (" + input.format_name + ")") +
                         (input.rate_scale != 1 ? ", rate x " + llmscale::format_number(input.rate_scale) : "") +
                         ", seed " + std::to_string(input.seed)},
            {"requests", std::to_string(any.requests) + ", the last arriving at " + replay::clock_time(any.last_arrival_s)},
            {"profile", profile_path + ": " + model + " on " + hardware + ", TP" + std::to_string(tp)},
            {"engine", "max batch " + std::to_string(sim.max_batch) + ", KV " + llmscale::format_number(sim.kv_tokens) +
                           " tokens, max batched tokens " + (sim.max_num_batched_tokens > 0 ? std::to_string(sim.max_num_batched_tokens) : "none")},
            {"SLO", "TTFT " + llmscale::format_number(sim.slo_ttft_s) + " s, TPOT " + llmscale::format_number(sim.slo_tpot_s) +
                        " s; target 99 % of the requests"},
            {"cold start", cs_text},
            {"opening fleet", opening + (initial_given ? " (given)" : " (the smallest fixed fleet meeting 99 % until the first cold start + 60 s)")},
            {"replicas", "min " + std::to_string(min_replicas) + ", max " + std::to_string(max_replicas) + (max_given ? " (given)" : "")},
            {"metric lag", text(args, "metric-lag", "default")},
            {"tick", llmscale::format_number(sim.tick_s) + " s"},
            {"fluid floor", llmscale::format_number(std::round(fluid * 10) / 10) + " GPU-h"},
            {"version", std::to_string(LLMSCALE_VERSION_MAJOR) + "." + std::to_string(LLMSCALE_VERSION_MINOR) + "." +
                            std::to_string(LLMSCALE_VERSION_PATCH)}};
        if (!args.sets.empty()) {
          std::string sets;
          for (const auto& x : args.sets) sets += (sets.empty() ? "" : " ") + x;
          report.config.emplace_back("--set", sets);
        }
        write_file(args.values["report"], replay::render_report(report));
      }
    }
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "llmscale-replay: %s\n", e.what());
    return 2;
  } catch (const llmscale::TraceError& e) {
    std::fprintf(stderr, "llmscale-replay: %s: %s (--strict)\n", text(args, "trace", "").c_str(), e.what());
    return 1;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "llmscale-replay: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmscale-replay: %s\n", e.what());
    return 1;
  }
}
