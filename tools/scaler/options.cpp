// llmscale-scaler: the command line (usage(), parse_args(), read through CLI11 by
// tools/command_line.hpp) and the small readers it shares with the rest of the scaler
// (scaler_impl.hpp).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "command_line.hpp"
#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/core/number.hpp"
#include "scaler_impl.hpp"

namespace llmscale_scaler {

const char* usage() {
  // the policies and their --set names come from the registry (policy/registry.hpp)
  static const std::string text = [] {
    std::string policies, sets = "signals, governor";
    for (const llmscale::RegisteredPolicy& p : llmscale::registered_policies()) policies += (policies.empty() ? "" : "|") + std::string(p.name);
    for (const char* n : llmscale::PolicyConfigs::names) sets += ", " + std::string(n);
    return std::string(
  "usage: llmscale-scaler (--endpoints HOST:PORT[/PATH],... | --endpoints-file FILE)\n"
         "         [--engine vllm|tgi|sglang|trtllm|trtllm-serve | --engine-map FILE]\n"
         "         [--policy ") + policies + "]\n"
         "         [--profile FILE --model M --hardware H --tp N] [--min-replicas N] [--max-replicas N]\n"
         "         [--set name.key=value ...] [--tick S] [--scrape-timeout S] [--scrape-concurrency N]\n"
         "         [--max-page-bytes N] [--kv-capacity-tokens N] [--replica-slots N]\n"
         "         [--grpc-listen ADDR:PORT] [--http-listen ADDR:PORT] [--tls-cert FILE --tls-key FILE\n"
         "         [--tls-client-ca FILE]] [--metric-name NAME] [--quiet] [--run-for S]\n"
         "         [--state-file FILE [--state-every N] [--state-max-age S]]\n"
         "         [--record FILE [--record-window S] [--record-max-bytes N]] [--shadow]\n"
         "         [--slo-ttft S] [--hpa-tolerance F] [--fleets N [--fleet-dir DIR]]\n"
         "\n"
         "Scrapes each engine's Prometheus page every tick, runs the policy and serves the decision:\n"
         "KEDA's external scaler over gRPC (--grpc-listen, default 0.0.0.0:9090; the metric\n"
         "llmscale_desired_replicas with target 1), /metrics and /healthz over HTTP (--http-listen,\n"
         "default 0.0.0.0:8080), and one JSON line per tick on stdout (unless --quiet).\n"
         "--endpoints-file is re-read when it changes: one endpoint per line, '#' comments, and\n"
         "optionally a line 'starting N' (replicas not yet ready).\n"
         "--set names: " + sets + ";\n"
         "e.g. --set governor.scale_down_stabilization_s=600. The llmscale-* policies\n"
         "need a latency profile (--profile, as llmscale-replay reads it).\n"
         "--state-file keeps what llmscale-predictive, llmscale-pid and llmscale-slo have learned\n"
         "across restarts: loaded at start (a file of another policy or llmscale version, or older\n"
         "than --state-max-age, is logged and ignored), replaced atomically every --state-every\n"
         "ticks and at stop.\n"
         "--record appends one CSV row per --record-window (arrivals, token means and spread, TTFT and\n"
         "TPOT quantiles, the fleet, the decision) for llmscale-replay --trace-format llmscale; past\n"
         "--record-max-bytes the file is renamed FILE.1 and a new one begun (docs/adopting.md).\n"
         "--shadow decides and exposes llmscale_desired_replicas{mode=\"shadow\"} but answers KEDA with\n"
         "the fleet's current count, and summarises how often and by how much it disagreed, and the\n"
         "TTFT misses (over --slo-ttft) while the fleet was smaller than it wanted. --hpa-tolerance is\n"
         "the HPA's (Kubernetes' default 0.1; 0 where the ScaledObject sets it to 0): decisions within\n"
         "it are counted as swallowed.\n"
         "--fleets N serves up to N more fleets, each described by a ScaledObject's trigger metadata\n"
         "(endpoints, engine, policy, profile, minReplicas, maxReplicas, set, shadow, record, state, ...),\n"
         "their files in --fleet-dir; then --endpoints and --endpoints-file may both be left out\n"
         "(docs/kubernetes.md, \"Many fleets\").\n"
         "Defaults: --engine vllm --policy llmd-saturation --min-replicas 1 --max-replicas 64\n"
         "--tick 1 --scrape-timeout 0.5 --scrape-concurrency 32 --max-page-bytes 8388608\n"
         "--kv-capacity-tokens 1000000 --replica-slots 1024 --state-every 60 --state-max-age 86400\n"
         "--record-window 60 --record-max-bytes 67108864 --slo-ttft 2 --hpa-tolerance 0.1.\n"
         "Exit status 2: a usage error.\n";
  }();
  return text.c_str();
}

namespace detail {

double number(const std::string& flag, const std::string& v, double lo, double hi) {
  double x = 0;
  if (!llmscale::parse_number(v, x) || !std::isfinite(x)) throw UsageError(flag + " '" + v + "' is not a number");
  if (x < lo || x > hi) {
    std::ostringstream m;
    m << flag << " " << v << " is out of range: allowed [" << lo << ", " << hi << "]";
    throw UsageError(m.str());
  }
  return x;
}

long long whole(const std::string& flag, const std::string& v, long long lo, long long hi) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') throw UsageError(flag + " '" + v + "' is not a whole number");
  if (x < lo || x > hi) {
    throw UsageError(flag + " " + v + " is out of range: allowed [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return x;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

boost::asio::ip::tcp::endpoint listen_endpoint(const std::string& flag, const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw UsageError(flag + " '" + text + "': want ADDRESS:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw UsageError(flag + " '" + text + "': '" + host + "' is not an IP address");
  const long long port = whole(flag + " port", text.substr(colon + 1), 0, 65535);
  return boost::asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port));
}

}  // namespace detail

Options parse_args(const std::vector<std::string>& args, bool& help) {
  Options o;
  help = false;
  bool have_endpoints = false;
  // each option's reader, called once per occurrence (--name value or --name=value); a repeated
  // --endpoints or --set adds, any other repeat replaces
  using V = const std::string&;
  const auto text = [](std::string& field) { return [&field](V v) { field = v; }; };
  const auto whole_int = [](const char* flag, int& field, long long lo, long long hi) {
    return [flag, &field, lo, hi](V v) { field = static_cast<int>(detail::whole(flag, v, lo, hi)); };
  };
  const auto seconds = [](const char* flag, double& field, double lo, double hi) {
    return [flag, &field, lo, hi](V v) { field = detail::number(flag, v, lo, hi); };
  };
  llmscale_tools::CommandLine cl("llmscale-scaler");
  cl.stop("-h,--help", help).flag("--quiet", o.quiet);
  cl.value("--endpoints", [&](V v) {
    std::string rest = v;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string error;
      auto e = parse_endpoint(rest.substr(0, comma), error);
      if (!e) throw UsageError("--endpoints: " + error);
      o.endpoints.push_back(*e);
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    have_endpoints = true;
  });
  cl.value("--endpoints-file", text(o.endpoints_file));
  cl.value("--engine", [&](V v) {
    if (!llmscale::engine_preset(v)) throw UsageError("--engine '" + v + "': allowed vllm, tgi, sglang, trtllm, trtllm-serve (or --engine-map FILE)");
    o.engine = v;
  });
  cl.value("--engine-map", text(o.engine_map_file));
  cl.value("--policy", text(o.policy));
  cl.value("--profile", text(o.profile));
  cl.value("--model", text(o.model));
  cl.value("--hardware", text(o.hardware));
  cl.value("--tp", whole_int("--tp", o.tp, 1, 64));
  cl.value("--min-replicas", whole_int("--min-replicas", o.min_replicas, 0, 1'000'000));
  cl.value("--max-replicas", whole_int("--max-replicas", o.max_replicas, 1, 1'000'000));
  cl.value("--set", [&](V v) { o.sets.push_back(v); });
  cl.value("--tick", seconds("--tick", o.tick_s, 0.01, 3600));
  cl.value("--scrape-timeout", seconds("--scrape-timeout", o.scrape_timeout_s, 0.001, 3600));
  cl.value("--scrape-concurrency", whole_int("--scrape-concurrency", o.scrape_concurrency, 1, 4096));
  cl.value("--max-page-bytes", [&](V v) { o.max_page_bytes = static_cast<std::size_t>(detail::whole("--max-page-bytes", v, 1024, 1LL << 30)); });
  cl.value("--kv-capacity-tokens", [&](V v) { o.kv_capacity_tokens = detail::whole("--kv-capacity-tokens", v, 1, 1LL << 39); });
  cl.value("--replica-slots", whole_int("--replica-slots", o.replica_slots, 1, 1'000'000));
  cl.value("--grpc-listen", text(o.grpc_listen));
  cl.value("--http-listen", text(o.http_listen));
  cl.value("--tls-cert", text(o.tls_cert));
  cl.value("--tls-key", text(o.tls_key));
  cl.value("--tls-client-ca", text(o.tls_client_ca));
  cl.value("--metric-name", text(o.metric_name));
  cl.value("--run-for", seconds("--run-for", o.run_for_s, 0, 1e9));
  cl.value("--state-file", [&](V v) {
    if (v.empty()) throw UsageError("--state-file: want a path");
    o.state_file = v;
  });
  cl.value("--state-every", whole_int("--state-every", o.state_every, 1, 1'000'000));
  cl.value("--state-max-age", seconds("--state-max-age", o.state_max_age_s, 0, 365 * 86400.0));
  cl.value("--record", [&](V v) {
    if (v.empty()) throw UsageError("--record: want a path");
    o.record_file = v;
  });
  cl.value("--record-window", seconds("--record-window", o.record_window_s, 0.1, 86400));
  cl.value("--record-max-bytes", [&](V v) { o.record_max_bytes = static_cast<std::uintmax_t>(detail::whole("--record-max-bytes", v, 4096, 1LL << 40)); });
  cl.flag("--shadow", o.shadow);
  cl.value("--slo-ttft", seconds("--slo-ttft", o.slo_ttft_s, 0.001, 3600));
  cl.value("--hpa-tolerance", seconds("--hpa-tolerance", o.hpa_tolerance, 0, 1));
  cl.value("--fleets", whole_int("--fleets", o.fleets, 0, 1000));
  cl.value("--fleet-dir", [&](V v) {
    if (v.empty()) throw UsageError("--fleet-dir: want a directory");
    o.fleet_dir = v;
  });
  const std::string problem = cl.parse(args);
  if (help) return o;
  if (!problem.empty()) throw UsageError(problem);
  if (have_endpoints && !o.endpoints_file.empty()) throw UsageError("give exactly one of --endpoints and --endpoints-file");
  if (!have_endpoints && o.endpoints_file.empty() && o.fleets == 0) {
    throw UsageError("give exactly one of --endpoints and --endpoints-file (or --fleets N: fleets from KEDA's scalerMetadata)");
  }
  if (o.scrape_timeout_s >= o.tick_s) {
    throw UsageError("--scrape-timeout " + std::to_string(o.scrape_timeout_s) + " must be shorter than --tick " + std::to_string(o.tick_s) +
                     " (a round of scrapes ends before the next tick)");
  }
  if (o.min_replicas > o.max_replicas) throw UsageError("--min-replicas is above --max-replicas");
  if (!o.record_file.empty() && o.record_window_s < o.tick_s) {
    throw UsageError("--record-window " + llmscale::format_number(o.record_window_s) + " is shorter than --tick " +
                     llmscale::format_number(o.tick_s) + ": a window holds at least one tick");
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) throw UsageError("--tls-cert and --tls-key go together");
  if (!o.tls_client_ca.empty() && o.tls_cert.empty()) throw UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  if (o.metric_name.empty() || o.metric_name.find_first_of(" \t\n\"") != std::string::npos) {
    throw UsageError("--metric-name '" + o.metric_name + "': want a name without spaces or quotes");
  }
  if (o.endpoints.size() > static_cast<std::size_t>(o.replica_slots)) {
    throw UsageError("--endpoints lists " + std::to_string(o.endpoints.size()) + " endpoints, more than --replica-slots " +
                     std::to_string(o.replica_slots));
  }
  return o;
}

}  // namespace llmscale_scaler
