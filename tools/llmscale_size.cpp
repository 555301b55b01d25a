// llmscale-size: how many replicas a load needs within a latency target.
//
//   llmscale-size --arrival-rate R
//                 ( --service-time S [--service-cv C] [--queue-model mmc|mgc] --slo-wait T
//                 | --profile FILE --model M --hardware H --tp N --input-tokens I
//                   --output-tokens O [--kv-tokens K] [--max-batch B] [--max-queue Q]
//                   --slo-ttft T [--slo-tpot X] [--set slo.KEY=VALUE ...] )
//                 [--slo-quantile Q] [--json]
//
// Profile mode sizes as the llmscale-slo policy does (model/replica_sizing.hpp's size_replicas),
// with that policy's settings from the policy registry as defaults (--set slo.KEY=VALUE, as the
// replay and the scaler take it; the flags above win).
//
// Exit status: 0 with an answer, 2 for invalid or contradictory arguments or a target no
// replica can meet (the message says what to change).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "llmscale/core/number.hpp"
#include "llmscale/core/version.hpp"
#include "llmscale/model/batch_queue.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/profile_io.hpp"
#include "llmscale/model/queueing.hpp"
#include "llmscale/model/replica_capacity.hpp"
#include "llmscale/model/replica_sizing.hpp"
#include "llmscale/policy/registry.hpp"

namespace {

constexpr const char* usage =
    "usage: llmscale-size --arrival-rate R\n"
    "         ( --service-time S [--service-cv C] [--queue-model mmc|mgc] --slo-wait T\n"
    "         | --profile FILE --model M --hardware H --tp N --input-tokens I --output-tokens O\n"
    "           [--kv-tokens K] [--max-batch B] [--max-queue Q] --slo-ttft T [--slo-tpot X]\n"
    "           [--set slo.KEY=VALUE ...] )\n"
    "         [--slo-quantile Q] [--json]\n"
    "\n"
    "Replicas needed for arrival rate R (requests/s) so that the queueing delay (--slo-wait, queueing\n"
    "models) or the time to first token (--slo-ttft, profile mode) stays within target at quantile Q\n"
    "(default 0.99). Queueing models: M/M/c (Erlang C) or M/G/c (Allen-Cunneen, --service-cv).\n"
    "Profile mode: a Splitwise-format CSV or DistServe coefficient JSON; each replica is a batching\n"
    "queue (llm-d's M/M/1/K with state-dependent service) whose batch is bounded by --slo-tpot (s per\n"
    "output token), the KV cache (--kv-tokens, default 400000) and --max-batch, and whose rate keeps the\n"
    "requests missing --slo-tpot within 1 - Q (short outputs meeting prompts prefilled in chunks of\n"
    "slo.prefill_chunk_tokens, 2048; outputs spread as slo.output_sigma, 1.0); its queue holds --max-queue\n"
    "requests (default 10 batches). It sizes as the llmscale-slo policy does, and takes that policy's\n"
    "settings as defaults: --set slo.kv_tokens=..., slo.max_batch=..., slo.max_queue_batches=...,\n"
    "slo.prefill_chunk_tokens=..., slo.output_sigma=... (the flags win).\n";

// A usage error: exit 2 with this message.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double number(const std::map<std::string, std::string>& args, const std::string& key) {
  const std::string& text = args.at(key);
  double v = 0;
  if (!llmscale::parse_number(text, v) || !std::isfinite(v)) {
    throw UsageError("--" + key + " '" + text + "' is not a number");
  }
  return v;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

struct Answer {
  long long replicas = 0;
  double per_replica_concurrency = 0;
  double per_replica_throughput = 0;
  double utilization = 0;
  std::string queue_model;
  double quantile = 0.99;
  std::string predicted_name;  // "wait" or "ttft"
  double predicted_s = 0;
  double target_s = 0;
  std::vector<std::pair<std::string, std::string>> extra;  // key, JSON value
  std::vector<std::string> notes;
};

Answer size_queue(const std::map<std::string, std::string>& a, double rate, double q) {
  llmscale::QueueLoad load;
  load.arrival_rate = rate;
  load.service_time_s = number(a, "service-time");
  if (!(load.service_time_s > 0)) throw UsageError("--service-time must be above 0 seconds");
  if (a.count("service-cv") != 0) {
    load.service_cv = number(a, "service-cv");
    if (!(load.service_cv >= 0 && load.service_cv <= 100)) throw UsageError("--service-cv must be in [0, 100]");
  }
  const std::string model = a.count("queue-model") != 0 ? a.at("queue-model") : "mmc";
  if (model != "mmc" && model != "mgc") throw UsageError("--queue-model must be mmc or mgc, not '" + model + "'");
  load.model = model == "mmc" ? llmscale::QueueModel::mmc : llmscale::QueueModel::mgc;
  if (model == "mmc" && a.count("service-cv") != 0 && load.service_cv != 1.0) {
    throw UsageError("--service-cv applies to --queue-model mgc (M/M/c has cv 1); drop it or use mgc");
  }
  if (a.count("slo-wait") == 0) throw UsageError("the queueing models need --slo-wait T (seconds of queueing delay)");
  const double t = number(a, "slo-wait");
  if (!(t >= 0)) throw UsageError("--slo-wait must be at least 0 seconds");
  if (load.offered_load() > 1e7) throw UsageError("--arrival-rate x --service-time above 10^7 busy replicas");
  Answer ans;
  ans.queue_model = model;
  ans.quantile = q;
  ans.predicted_name = "wait";
  ans.target_s = t;
  if (rate == 0) {
    ans.notes.push_back("no load: no replica needed");
    return ans;
  }
  ans.replicas = llmscale::min_servers(load, t, q);
  const auto m = llmscale::queue_metrics(load, ans.replicas, q);
  ans.per_replica_concurrency = m.per_server_concurrency;
  ans.per_replica_throughput = rate / static_cast<double>(ans.replicas);
  ans.utilization = m.utilization;
  ans.predicted_s = m.wait_quantile_s;
  ans.extra.emplace_back("offered_load", json_number(m.offered_load));
  ans.extra.emplace_back("wait_probability", json_number(m.wait_probability));
  ans.extra.emplace_back("mean_wait_s", json_number(m.mean_wait_s));
  return ans;
}

Answer size_profile(const std::map<std::string, std::string>& a, const std::vector<std::string>& sets, double rate,
                    double q) {
  // llmscale-slo's settings from the policy registry, with --set applied
  llmscale::PolicyConfigs configs;
  for (const std::string& assignment : sets) {
    if (assignment.rfind("slo.", 0) != 0) {
      throw UsageError("--set " + assignment + ": llmscale-size takes the llmscale-slo policy's settings (slo.KEY=VALUE)");
    }
    if (const auto problem = configs.set(assignment)) throw UsageError("--set " + assignment + ": " + problem->message());
  }
  const llmscale::SloConfig& slo = configs.slo;
  for (const char* key : {"model", "hardware", "tp", "input-tokens", "output-tokens"}) {
    if (a.count(key) == 0) throw UsageError(std::string("profile mode needs --") + key);
  }
  if (a.count("slo-ttft") == 0) throw UsageError("profile mode needs --slo-ttft T (seconds to first token)");
  const double tp = number(a, "tp");
  if (!(tp >= 1 && tp <= 1024 && tp == std::floor(tp))) throw UsageError("--tp must be a whole number in [1, 1024]");
  llmscale::TokenLengths tokens;
  tokens.input_tokens = number(a, "input-tokens");
  tokens.output_tokens = number(a, "output-tokens");
  tokens.output_sigma = slo.output_sigma;
  if (!(tokens.input_tokens >= 1 && tokens.input_tokens <= 1e7)) throw UsageError("--input-tokens must be in [1, 10^7]");
  if (!(tokens.output_tokens >= 1 && tokens.output_tokens <= 1e7)) throw UsageError("--output-tokens must be in [1, 10^7]");
  const double kv = a.count("kv-tokens") != 0 ? number(a, "kv-tokens") : slo.kv_tokens;
  if (!(kv >= 1 && kv <= 1e12)) throw UsageError("--kv-tokens must be in [1, 10^12]");
  long long max_batch = slo.max_batch;
  if (a.count("max-batch") != 0) {
    const double b = number(a, "max-batch");
    if (!(b >= 1 && b <= 100000 && b == std::floor(b))) throw UsageError("--max-batch must be a whole number in [1, 100000]");
    max_batch = static_cast<long long>(b);
  }
  llmscale::LatencyTargets targets;
  targets.quantile = q;
  targets.ttft_s = number(a, "slo-ttft");
  if (!(targets.ttft_s > 0)) throw UsageError("--slo-ttft must be above 0 seconds");
  if (a.count("slo-tpot") != 0) {
    targets.tpot_s = number(a, "slo-tpot");
    if (!(targets.tpot_s > 0)) throw UsageError("--slo-tpot must be above 0 seconds");
  }
  llmscale::LatencyProfile profile;
  try {
    profile = llmscale::load_latency_profile(a.at("profile"), a.at("model"), a.at("hardware"), static_cast<int>(tp));
  } catch (const llmscale::ProfileError& e) {
    throw UsageError("--profile " + a.at("profile") + ": " + e.what());
  }
  llmscale::QueueBound queue{static_cast<double>(slo.max_queue_batches)};  // as the SLO policy
  if (a.count("max-queue") != 0) {
    const double mq = number(a, "max-queue");
    if (!(mq >= 0 && mq <= 1e6 && mq == std::floor(mq))) throw UsageError("--max-queue must be a whole number in [0, 10^6]");
    queue.requests = static_cast<long long>(mq);
  }
  // the model's one sizing chain, as llmscale-slo runs it every tick
  const llmscale::ReplicaSizing sizing =
      llmscale::size_replicas(profile, tokens, targets, kv, max_batch, slo.prefill_chunk_tokens, queue);
  const llmscale::ReplicaCapacity& cap = sizing.capacity;
  if (cap.batch_limit_kv == 0) {
    throw UsageError("--kv-tokens " + json_number(kv) + " cannot hold one request of " +
                     json_number(tokens.input_tokens + tokens.output_tokens) + " tokens; raise --kv-tokens");
  }
  if (cap.max_batch == 0) {
    throw UsageError("--slo-tpot " + json_number(targets.tpot_s) + " s is below one decode step at batch 1 (" +
                     json_number(llmscale::iteration_time_s(profile, tokens, 1)) + " s); raise --slo-tpot");
  }
  const double per_replica_max = sizing.max_rate;
  if (per_replica_max <= 0) {
    throw UsageError("--slo-ttft " + json_number(targets.ttft_s) + " s is below one request's prefill (" +
                     json_number(cap.prefill_s) + " s): no replica can meet it; raise --slo-ttft or lower --input-tokens");
  }
  Answer ans;
  ans.queue_model = "batch";
  ans.quantile = q;
  ans.predicted_name = "ttft";
  ans.target_s = targets.ttft_s;
  ans.extra.emplace_back("max_batch", std::to_string(cap.max_batch));
  ans.extra.emplace_back("max_rate_per_replica", json_number(per_replica_max));
  ans.extra.emplace_back("tpot_s", json_number(cap.tpot_s));
  ans.extra.emplace_back("prefill_s", json_number(cap.prefill_s));
  ans.extra.emplace_back("extrapolated", cap.extrapolated ? "true" : "false");
  if (cap.extrapolated) ans.notes.push_back("the profile is used beyond what was measured (extrapolated)");
  if (rate == 0) {
    ans.notes.push_back("no load: no replica needed");
    return ans;
  }
  ans.replicas = static_cast<long long>(std::ceil(sizing.replicas_for(rate) - 1e-9));
  const double per_rate = rate / static_cast<double>(ans.replicas);
  llmscale::BatchQueueModel replica(profile, tokens, cap.max_batch, sizing.max_queue, slo.prefill_chunk_tokens);
  const auto m = replica.at(per_rate, q, targets.tpot_s);
  ans.per_replica_concurrency = m.mean_in_system;
  ans.per_replica_throughput = m.throughput;
  ans.utilization = m.utilization;
  ans.predicted_s = m.ttft_quantile_s;
  ans.extra.emplace_back("mean_tpot_s", json_number(m.mean_tpot_s));
  ans.extra.emplace_back("tpot_miss_share", json_number(m.tpot_miss_share));
  return ans;
}

void print(const Answer& ans, double rate, bool json) {
  if (json) {
    std::printf("{\"replicas\": %lld, \"per_replica_concurrency\": %s, \"per_replica_throughput\": %s, "
                "\"utilization\": %s, \"queue_model\": \"%s\", \"arrival_rate\": %s, \"quantile\": %s, "
                "\"%s_quantile_s\": %s, \"%s_target_s\": %s",
                ans.replicas, json_number(ans.per_replica_concurrency).c_str(),
                json_number(ans.per_replica_throughput).c_str(), json_number(ans.utilization).c_str(),
                ans.queue_model.c_str(), json_number(rate).c_str(), json_number(ans.quantile).c_str(),
                ans.predicted_name.c_str(), json_number(ans.predicted_s).c_str(), ans.predicted_name.c_str(),
                json_number(ans.target_s).c_str());
    for (const auto& [k, v] : ans.extra) std::printf(", \"%s\": %s", k.c_str(), v.c_str());
    std::printf("}\n");
    return;
  }
  std::printf("queue model              %s\n", ans.queue_model.c_str());
  std::printf("replicas                 %lld\n", ans.replicas);
  std::printf("per-replica concurrency  %.3f requests\n", ans.per_replica_concurrency);
  std::printf("per-replica throughput   %.3f requests/s\n", ans.per_replica_throughput);
  std::printf("utilization              %.3f\n", ans.utilization);
  char label[32];
  std::snprintf(label, sizeof label, "%s p%g", ans.predicted_name == "wait" ? "wait" : "TTFT", ans.quantile * 100);
  std::printf("%-24s %.4f s (target %.4f s)\n", label, ans.predicted_s, ans.target_s);
  for (const auto& [k, v] : ans.extra) std::printf("%-24s %s\n", k.c_str(), v.c_str());
  for (const auto& n : ans.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::map<std::string, std::string> args;
    std::vector<std::string> sets;  // --set slo.KEY=VALUE, repeatable
    bool json = false, help = false, version = false;
    llmscale_tools::CommandLine cl("llmscale-size");
    cl.stop("-h,--help", help).stop("--version", version).flag("--json", json);
    for (const char* key : {"arrival-rate", "service-time", "service-cv", "queue-model", "slo-wait", "profile", "model",
                            "hardware", "tp", "input-tokens", "output-tokens", "kv-tokens", "max-batch", "max-queue",
                            "slo-ttft", "slo-tpot", "slo-quantile"}) {
      cl.value(std::string("--") + key, [&args, key](const std::string& v) {
        if (!args.emplace(key, v).second) throw UsageError(std::string("--") + key + " given twice");
      });
    }
    cl.value("--set", [&sets](const std::string& v) { sets.push_back(v); });
    const std::string problem = cl.parse(argc, argv);
    if (help) {
      std::fputs(usage, stdout);
      return 0;
    }
    if (version) {
      std::printf("llmscale-size %d.%d.%d\n", LLMSCALE_VERSION_MAJOR, LLMSCALE_VERSION_MINOR, LLMSCALE_VERSION_PATCH);
      return 0;
    }
    if (!problem.empty()) throw UsageError(problem);
    if (args.count("arrival-rate") == 0) throw UsageError("--arrival-rate R (requests per second) is required");
    const double rate = number(args, "arrival-rate");
    if (!(rate >= 0)) throw UsageError("--arrival-rate must be at least 0 requests per second");
    const double q = args.count("slo-quantile") != 0 ? number(args, "slo-quantile") : 0.99;
    if (!(q > 0 && q < 1)) throw UsageError("--slo-quantile must be in (0, 1), e.g. 0.99");
    const bool queue_mode = args.count("service-time") != 0;
    const bool profile_mode = args.count("profile") != 0;
    if (queue_mode == profile_mode) {
      throw UsageError(queue_mode ? "--service-time and --profile exclude each other: choose a queueing model or a profile"
                                  : "give --service-time S (queueing models) or --profile FILE (measured profile)");
    }
    if (queue_mode) {
      if (!sets.empty()) throw UsageError("--set belongs to profile mode (the llmscale-slo policy's settings), not the queueing models");
      for (const char* key : {"profile", "model", "hardware", "tp", "input-tokens", "output-tokens", "kv-tokens",
                              "max-batch", "max-queue", "slo-ttft", "slo-tpot"}) {
        if (args.count(key) != 0) {
          throw UsageError(std::string("--") + key + " belongs to profile mode, not the queueing models (--service-time)" +
                           (std::string(key) == "slo-ttft" ? "; use --slo-wait" : ""));
        }
      }
    } else {
      for (const char* key : {"service-cv", "queue-model", "slo-wait"}) {
        if (args.count(key) != 0) {
          throw UsageError(std::string("--") + key + " belongs to the queueing models (--service-time), not profile mode" +
                           (std::string(key) == "slo-wait" ? "; use --slo-ttft" : ""));
        }
      }
    }
    const Answer ans = queue_mode ? size_queue(args, rate, q) : size_profile(args, sets, rate, q);
    print(ans, rate, json);
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "llmscale-size: %s\n(see llmscale-size --help)\n", e.what());
    return 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "llmscale-size: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmscale-size: internal error: %s\n", e.what());
    return 1;
  }
}
