// llmscale-scaler: the command line (usage(), parse_args()) and the small readers it shares with
// the rest of the scaler (scaler_impl.hpp).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

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
         "         [--engine vllm|tgi|sglang|trtllm | --engine-map FILE]\n"
         "         [--policy ") + policies + "]\n"
         "         [--profile FILE --model M --hardware H --tp N] [--min-replicas N] [--max-replicas N]\n"
         "         [--set name.key=value ...] [--tick S] [--scrape-timeout S] [--scrape-concurrency N]\n"
         "         [--max-page-bytes N] [--kv-capacity-tokens N] [--replica-slots N]\n"
         "         [--grpc-listen ADDR:PORT] [--http-listen ADDR:PORT] [--tls-cert FILE --tls-key FILE\n"
         "         [--tls-client-ca FILE]] [--metric-name NAME] [--quiet] [--run-for S]\n"
         "         [--state-file FILE [--state-every N] [--state-max-age S]]\n"
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
         "Defaults: --engine vllm --policy llmd-saturation --min-replicas 1 --max-replicas 64\n"
         "--tick 1 --scrape-timeout 0.5 --scrape-concurrency 32 --max-page-bytes 8388608\n"
         "--kv-capacity-tokens 1000000 --replica-slots 1024 --state-every 60 --state-max-age 86400.\n"
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
  // --name=value is --name value
  std::vector<std::string> split;
  for (const std::string& a : args) {
    const std::size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      split.push_back(a.substr(0, eq));
      split.push_back(a.substr(eq + 1));
    } else {
      split.push_back(a);
    }
  }
  for (std::size_t i = 0; i < split.size(); ++i) {
    const std::string& a = split[i];
    if (a == "--help" || a == "-h") {
      help = true;
      return o;
    }
    if (a == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + a + "'");
    if (i + 1 >= split.size()) throw UsageError(a + " needs a value");
    const std::string& v = split[++i];
    if (a == "--endpoints") {
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
    } else if (a == "--endpoints-file") {
      o.endpoints_file = v;
    } else if (a == "--engine") {
      if (!llmscale::engine_preset(v)) throw UsageError("--engine '" + v + "': allowed vllm, tgi, sglang, trtllm (or --engine-map FILE)");
      o.engine = v;
    } else if (a == "--engine-map") {
      o.engine_map_file = v;
    } else if (a == "--policy") {
      o.policy = v;
    } else if (a == "--profile") {
      o.profile = v;
    } else if (a == "--model") {
      o.model = v;
    } else if (a == "--hardware") {
      o.hardware = v;
    } else if (a == "--tp") {
      o.tp = static_cast<int>(detail::whole(a, v, 1, 64));
    } else if (a == "--min-replicas") {
      o.min_replicas = static_cast<int>(detail::whole(a, v, 0, 1'000'000));
    } else if (a == "--max-replicas") {
      o.max_replicas = static_cast<int>(detail::whole(a, v, 1, 1'000'000));
    } else if (a == "--set") {
      o.sets.push_back(v);
    } else if (a == "--tick") {
      o.tick_s = detail::number(a, v, 0.01, 3600);
    } else if (a == "--scrape-timeout") {
      o.scrape_timeout_s = detail::number(a, v, 0.001, 3600);
    } else if (a == "--scrape-concurrency") {
      o.scrape_concurrency = static_cast<int>(detail::whole(a, v, 1, 4096));
    } else if (a == "--max-page-bytes") {
      o.max_page_bytes = static_cast<std::size_t>(detail::whole(a, v, 1024, 1LL << 30));
    } else if (a == "--kv-capacity-tokens") {
      o.kv_capacity_tokens = detail::whole(a, v, 1, 1LL << 39);
    } else if (a == "--replica-slots") {
      o.replica_slots = static_cast<int>(detail::whole(a, v, 1, 1'000'000));
    } else if (a == "--grpc-listen") {
      o.grpc_listen = v;
    } else if (a == "--http-listen") {
      o.http_listen = v;
    } else if (a == "--tls-cert") {
      o.tls_cert = v;
    } else if (a == "--tls-key") {
      o.tls_key = v;
    } else if (a == "--tls-client-ca") {
      o.tls_client_ca = v;
    } else if (a == "--metric-name") {
      o.metric_name = v;
    } else if (a == "--run-for") {
      o.run_for_s = detail::number(a, v, 0, 1e9);
    } else if (a == "--state-file") {
      if (v.empty()) throw UsageError("--state-file: want a path");
      o.state_file = v;
    } else if (a == "--state-every") {
      o.state_every = static_cast<int>(detail::whole(a, v, 1, 1000000));
    } else if (a == "--state-max-age") {
      o.state_max_age_s = detail::number(a, v, 0, 365 * 86400.0);
    } else {
      throw UsageError("unknown option '" + a + "'");
    }
  }
  if (have_endpoints == !o.endpoints_file.empty()) throw UsageError("give exactly one of --endpoints and --endpoints-file");
  if (o.scrape_timeout_s >= o.tick_s) {
    throw UsageError("--scrape-timeout " + std::to_string(o.scrape_timeout_s) + " must be shorter than --tick " + std::to_string(o.tick_s) +
                     " (a round of scrapes ends before the next tick)");
  }
  if (o.min_replicas > o.max_replicas) throw UsageError("--min-replicas is above --max-replicas");
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
