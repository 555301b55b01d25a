// llmscale-replay: every scaling policy replayed on the same trace under SIMULATION.md's rules,
// side by side.
//
//   llmscale-replay --trace FILE --trace-format azure|csv [--strict]
//                   [--rate-scale K] [--policies all|NAME,...] [--profile FILE --model M
//                   --hardware H --tp N] [--kv-tokens K] [--max-batch B] [--cold-start S]
//                   [--slo-ttft S] [--slo-tpot S] [--tick S] [--seed N] [--initial-replicas N]
//                   [--min-replicas N] [--max-replicas N] [--set name.key=value ...] [--exact-steps]
//                   [--json FILE] [--timeseries FILE]
//
// Exit status: 0 when every policy ran; 2 for invalid arguments (the message says what to
// change); 1 when the trace cannot be read (or, with --strict, has a malformed row).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "llmscale/core/version.hpp"
#include "llmscale/sim/contestants.hpp"

namespace {

constexpr const char* usage =
    "usage: llmscale-replay --trace FILE --trace-format azure|csv [--strict]\n"
    "         [--rate-scale K] [--policies all|NAME,...] [--profile FILE --model M --hardware H --tp N]\n"
    "         [--kv-tokens K] [--max-batch B] [--cold-start S] [--slo-ttft S] [--slo-tpot S] [--tick S]\n"
    "         [--seed N] [--initial-replicas N] [--min-replicas N] [--max-replicas N]\n"
    "         [--set name.key=value ...] [--exact-steps] [--json FILE] [--timeseries FILE]\n"
    "\n"
    "Replays the trace once per policy under the rules of SIMULATION.md (router, continuous batching\n"
    "with chunked prefill, KV admission and preemption, cold starts, billing) and prints one row per\n"
    "policy: requests, SLO attainment, TTFT and TPOT quantiles, GPU-hours, scale events.\n"
    "Policies: hpa-gpu-util, hpa-gpu-mem, kpa, ray-serve, aibrix-apa-kv, llmd-saturation,\n"
    "llmscale-slo, llmscale-pid, llmscale-predictive, static-best (all: every one).\n"
    "Defaults: --profile ../shared/data/profile_splitwise_perf_model.csv --model llama2-70b\n"
    "--hardware h100-80gb --tp 4, --kv-tokens 400000, --max-batch the profile's (64), --cold-start 300,\n"
    "--slo-ttft 2, --slo-tpot 0.1, --tick 1, --rate-scale 1, --seed 1, --min-replicas 1,\n"
    "--max-replicas 256, --initial-replicas from Little's law on the first minute.\n"
    "--set changes a contestant's config: name is one of hpa_gpu_util, hpa_gpu_mem, kpa, ray_serve,\n"
    "aibrix_apa, llmd_saturation, slo, pid, predictive, governor (llmscale's and the HPA baselines'),\n"
    "neutral_governor (the other anchors'); e.g. --set kpa.target_utilization=0.5.\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> sets;
  bool strict = false, exact_steps = false;
};

Args parse(int argc, char** argv) {
  static const std::vector<std::string> valued{
      "trace",     "trace-format", "rate-scale", "policies",  "profile",  "model",          "hardware",
      "tp",        "kv-tokens",    "max-batch",  "cold-start", "slo-ttft", "slo-tpot",       "tick",
      "seed",      "initial-replicas", "min-replicas", "max-replicas", "json", "timeseries", "set"};
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
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || !std::isfinite(v)) {
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

// Applies one --set name.key=value to the contestants.
void apply_set(llmscale::Contestants& c, const std::string& assignment) {
  const auto dot = assignment.find('.');
  if (dot == std::string::npos) throw UsageError("--set '" + assignment + "': want name.key=value");
  const std::string name = assignment.substr(0, dot), rest = assignment.substr(dot + 1);
  llmscale::ConfigResult problem;
  if (name == "hpa_gpu_util") problem = llmscale::set_config(c.hpa_gpu_util, rest);
  else if (name == "hpa_gpu_mem") problem = llmscale::set_config(c.hpa_gpu_mem, rest);
  else if (name == "kpa") problem = llmscale::set_config(c.kpa, rest);
  else if (name == "ray_serve") problem = llmscale::set_config(c.ray_serve, rest);
  else if (name == "aibrix_apa") problem = llmscale::set_config(c.aibrix_apa, rest);
  else if (name == "llmd_saturation") problem = llmscale::set_config(c.llmd_saturation, rest);
  else if (name == "slo") problem = llmscale::set_config(c.slo, rest);
  else if (name == "pid") problem = llmscale::set_config(c.pid, rest);
  else if (name == "predictive") problem = llmscale::set_config(c.predictive, rest);
  else if (name == "governor") problem = llmscale::set_config(c.hpa_behaviour, rest);
  else if (name == "neutral_governor") problem = llmscale::set_config(c.neutral, rest);
  else throw UsageError("--set '" + assignment + "': unknown config '" + name + "'");
  if (problem) throw UsageError("--set '" + assignment + "': " + problem->message());
}

// An open trace file read as a stream, scaled.
class TraceSource {
 public:
  TraceSource(const std::string& path, llmscale::TraceFormat format, bool strict, double scale, std::uint64_t seed)
      : in_(path), reader_(in_, format, strict), scaled_(reader_, scale, seed) {
    if (!in_) throw std::runtime_error("cannot open trace '" + path + "'");
  }
  bool next(llmscale::TraceRequest& r) { return scaled_.next(r); }
  const llmscale::TraceReader& reader() const { return reader_; }

 private:
  std::ifstream in_;
  llmscale::TraceReader reader_;
  llmscale::ScaledTrace scaled_;
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
    // ---- arguments ------------------------------------------------------------------------------
    const std::string trace = text(args, "trace", "");
    if (trace.empty()) throw UsageError("--trace FILE is required");
    llmscale::TraceFormat format;
    const std::string format_name = text(args, "trace-format", "");
    if (format_name.empty()) throw UsageError("--trace-format azure|csv is required");
    if (!llmscale::parse_trace_format(format_name, format)) {
      throw UsageError("--trace-format '" + format_name + "' is not one of: azure, csv");
    }
    const double rate_scale = number(args, "rate-scale", 1.0, 1e-6, 1e6, "(0, 1000000]");
    const auto seed = static_cast<std::uint64_t>(integer(args, "seed", 1, 0, (1LL << 62)));
    std::vector<std::string> policies;
    {
      const std::string list = text(args, "policies", "all");
      std::stringstream ss(list);
      std::string name;
      while (std::getline(ss, name, ',')) {
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
    }
    const std::string profile_path = text(args, "profile", "../shared/data/profile_splitwise_perf_model.csv");
    const std::string model = text(args, "model", "llama2-70b");
    const std::string hardware = text(args, "hardware", "h100-80gb");
    const int tp = static_cast<int>(integer(args, "tp", 4, 1, 64));
    llmscale::LatencyProfile profile = [&] {
      try {
        return llmscale::LatencyProfile::load(profile_path, model, hardware, tp);
      } catch (const std::exception& e) {
        throw UsageError("--profile '" + profile_path + "' (" + model + ", " + hardware + ", TP" + std::to_string(tp) +
                         "): " + e.what());
      }
    }();

    llmscale::SimConfig sim;
    const long long measured_batch = profile.measured().max_batch > 0 ? profile.measured().max_batch : 64;
    sim.max_batch = integer(args, "max-batch", measured_batch, 1, 100000);
    sim.kv_tokens = number(args, "kv-tokens", 400000, 1, 1e12, "[1, 1e12]");
    sim.cold_start_s = number(args, "cold-start", 300, 0, 86400, "[0, 86400]");
    sim.slo_ttft_s = number(args, "slo-ttft", 2, 1e-6, 3600, "(0, 3600]");
    sim.slo_tpot_s = number(args, "slo-tpot", 0.1, 1e-6, 60, "(0, 60]");
    sim.tick_s = number(args, "tick", 1, 0.01, 3600, "[0.01, 3600]");
    sim.exact_steps = args.exact_steps;
    sim.gpus_per_replica = tp;
    sim.keep_timeseries = args.values.count("timeseries") > 0;
    const int min_replicas = static_cast<int>(integer(args, "min-replicas", 1, 0, llmscale::FleetState::max_replicas));
    const int max_replicas = static_cast<int>(integer(args, "max-replicas", 256, 1, 100000));
    if (min_replicas > max_replicas) {
      throw UsageError("--min-replicas " + std::to_string(min_replicas) + " is above --max-replicas " +
                       std::to_string(max_replicas));
    }
    llmscale::Contestants contestants = llmscale::Contestants::for_run(sim, min_replicas, max_replicas);
    for (const auto& s : args.sets) apply_set(contestants, s);

    const auto make_source = [&] { return TraceSource(trace, format, args.strict, rate_scale, seed); };

    // initial fleet: Little's law on the first minute's load (or as given)
    int initial = 0;
    {
      TraceSource first = make_source();
      llmscale::TraceRequest r;
      long long n = 0;
      double prompt = 0, output = 0;
      while (first.next(r) && r.arrival_s < 60) {
        ++n;
        prompt += r.prompt_tokens;
        output += r.output_tokens;
      }
      const llmscale::TokenLengths tokens{n > 0 ? prompt / n : 1155, n > 0 ? output / n : 211};
      initial = llmscale::littles_law_replicas(profile, static_cast<double>(n) / 60.0, tokens, sim.max_batch);
    }
    initial = static_cast<int>(integer(args, "initial-replicas", initial, 0, 100000));
    initial = std::clamp(initial, min_replicas, max_replicas);

    // ---- runs -----------------------------------------------------------------------------------
    std::vector<llmscale::SimResult> results;
    long long skipped = 0;
    std::vector<std::string> problems;
    {
      std::ifstream in(trace);  // malformed rows, reported once (every run skips the same ones)
      llmscale::TraceReader check(in, format, args.strict);
      llmscale::TraceRequest r;
      while (check.next(r)) {
      }
      skipped = check.skipped();
      problems = check.problems();
    }
    for (const std::string& p : problems) std::fprintf(stderr, "llmscale-replay: %s: %s (skipped)\n", trace.c_str(), p.c_str());
    if (skipped > static_cast<long long>(problems.size())) {
      std::fprintf(stderr, "llmscale-replay: %lld malformed rows skipped in all\n", skipped);
    }
    std::printf("%-20s %9s %9s %8s %9s %8s %8s %8s %9s %6s\n", "policy", "requests", "completed", "rejected", "preempted",
                "SLO", "TTFT50", "TTFT99", "GPU-h", "events");
    for (const std::string& name : policies) {
      llmscale::SimResult r = llmscale::run_contestant(name, contestants, profile, sim, initial, make_source);
      std::printf("%-20s %9lld %9lld %8lld %9lld %7.2f%% %7.2fs %7.2fs %9.1f %6lld\n", r.policy.c_str(), r.requests,
                  r.completed, r.rejected, r.preempted, 100 * r.slo_attainment, r.ttft_p50, r.ttft_p99, r.gpu_hours,
                  r.scale_events);
      std::fflush(stdout);
      results.push_back(std::move(r));
    }

    // ---- outputs --------------------------------------------------------------------------------
    if (args.values.count("json")) {
      std::ofstream out(args.values["json"]);
      if (!out) throw std::runtime_error("cannot write '" + args.values["json"] + "'");
      out << "{\"scenario\": {\"trace\": " << json_string(trace) << ", \"trace_format\": " << json_string(format_name)
          << ", \"rate_scale\": " << json_number(rate_scale) << ", \"seed\": " << seed
          << ", \"profile\": " << json_string(profile_path) << ", \"model\": " << json_string(model)
          << ", \"hardware\": " << json_string(hardware) << ", \"tp\": " << tp << ", \"max_batch\": " << sim.max_batch
          << ", \"kv_tokens\": " << json_number(sim.kv_tokens) << ", \"cold_start_s\": " << json_number(sim.cold_start_s)
          << ", \"slo_ttft_s\": " << json_number(sim.slo_ttft_s) << ", \"slo_tpot_s\": " << json_number(sim.slo_tpot_s)
          << ", \"tick_s\": " << json_number(sim.tick_s) << ", \"initial_replicas\": " << initial
          << ", \"min_replicas\": " << min_replicas << ", \"max_replicas\": " << max_replicas
          << ", \"exact_steps\": " << (sim.exact_steps ? "true" : "false") << ", \"malformed_rows\": " << skipped
          << ", \"version\": \"" << LLMSCALE_VERSION_MAJOR << "." << LLMSCALE_VERSION_MINOR << "."
          << LLMSCALE_VERSION_PATCH << "\"}, \"results\": [";
      for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        out << (i ? ", " : "") << "{\"policy\": " << json_string(r.policy) << ", \"requests\": " << r.requests
            << ", \"completed\": " << r.completed << ", \"rejected\": " << r.rejected << ", \"preempted\": " << r.preempted
            << ", \"slo_attainment\": " << json_number(r.slo_attainment) << ", \"ttft_p50\": " << json_number(r.ttft_p50)
            << ", \"ttft_p99\": " << json_number(r.ttft_p99) << ", \"tpot_p99\": " << json_number(r.tpot_p99)
            << ", \"gpu_hours\": " << json_number(r.gpu_hours) << ", \"scale_events\": " << r.scale_events
            << ", \"initial_replicas\": " << r.initial_replicas << "}";
      }
      out << "]}\n";
    }
    if (args.values.count("timeseries")) {
      std::ofstream out(args.values["timeseries"]);
      if (!out) throw std::runtime_error("cannot write '" + args.values["timeseries"] + "'");
      out << "time_s,policy,arrivals,queue,ready,starting,desired\n";
      for (const auto& r : results) {
        for (const auto& t : r.series) {
          out << json_number(t.t) << ',' << r.policy << ',' << t.arrivals << ',' << t.queue << ',' << t.ready << ','
              << t.starting << ',' << t.desired << '\n';
        }
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
