// llmscale-scaler: the scrape loop, the decision, /metrics and /healthz (see scaler.hpp).
#include "scaler.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "keda_service.hpp"
#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/adapters/scraped_signals.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/policy/policies.hpp"

namespace llmscale_scaler {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// ---- the command line ----------------------------------------------------------------------------

const char* usage() {
  return "usage: llmscale-scaler (--endpoints HOST:PORT[/PATH],... | --endpoints-file FILE)\n"
         "         [--engine vllm|tgi|sglang|trtllm | --engine-map FILE]\n"
         "         [--policy llmd-saturation|kpa|ray-serve|aibrix-apa-kv|llmscale-slo|llmscale-pid|llmscale-predictive]\n"
         "         [--profile FILE --model M --hardware H --tp N] [--min-replicas N] [--max-replicas N]\n"
         "         [--set name.key=value ...] [--tick S] [--scrape-timeout S] [--scrape-concurrency N]\n"
         "         [--max-page-bytes N] [--kv-capacity-tokens N] [--replica-slots N]\n"
         "         [--grpc-listen ADDR:PORT] [--http-listen ADDR:PORT] [--tls-cert FILE --tls-key FILE\n"
         "         [--tls-client-ca FILE]] [--metric-name NAME] [--quiet] [--run-for S]\n"
         "\n"
         "Scrapes each engine's Prometheus page every tick, runs the policy and serves the decision:\n"
         "KEDA's external scaler over gRPC (--grpc-listen, default 0.0.0.0:9090; the metric\n"
         "llmscale_desired_replicas with target 1), /metrics and /healthz over HTTP (--http-listen,\n"
         "default 0.0.0.0:8080), and one JSON line per tick on stdout (unless --quiet).\n"
         "--endpoints-file is re-read when it changes: one endpoint per line, '#' comments, and\n"
         "optionally a line 'starting N' (replicas not yet ready).\n"
         "--set names: signals, governor, kpa, ray_serve, aibrix_apa, llmd_saturation, slo, pid,\n"
         "predictive; e.g. --set governor.scale_down_stabilization_s=600. The llmscale-* policies\n"
         "need a latency profile (--profile, as llmscale-replay reads it).\n"
         "Defaults: --engine vllm --policy llmd-saturation --min-replicas 1 --max-replicas 64\n"
         "--tick 1 --scrape-timeout 0.5 --scrape-concurrency 32 --max-page-bytes 8388608\n"
         "--kv-capacity-tokens 1000000 --replica-slots 1024. Exit status 2: a usage error.\n";
}

namespace {

double number(const std::string& flag, const std::string& v, double lo, double hi) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(x)) throw UsageError(flag + " '" + v + "' is not a number");
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

}  // namespace

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
      o.tp = static_cast<int>(whole(a, v, 1, 64));
    } else if (a == "--min-replicas") {
      o.min_replicas = static_cast<int>(whole(a, v, 0, 1'000'000));
    } else if (a == "--max-replicas") {
      o.max_replicas = static_cast<int>(whole(a, v, 1, 1'000'000));
    } else if (a == "--set") {
      o.sets.push_back(v);
    } else if (a == "--tick") {
      o.tick_s = number(a, v, 0.01, 3600);
    } else if (a == "--scrape-timeout") {
      o.scrape_timeout_s = number(a, v, 0.001, 3600);
    } else if (a == "--scrape-concurrency") {
      o.scrape_concurrency = static_cast<int>(whole(a, v, 1, 4096));
    } else if (a == "--max-page-bytes") {
      o.max_page_bytes = static_cast<std::size_t>(whole(a, v, 1024, 1LL << 30));
    } else if (a == "--kv-capacity-tokens") {
      o.kv_capacity_tokens = whole(a, v, 1, 1LL << 39);
    } else if (a == "--replica-slots") {
      o.replica_slots = static_cast<int>(whole(a, v, 1, 1'000'000));
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
      o.run_for_s = number(a, v, 0, 1e9);
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

// ---- the policy, behind one interface ---------------------------------------------------------

namespace {

struct PolicyBox {
  virtual ~PolicyBox() = default;
  virtual const llmscale::Decision& tick(llmscale::TimePoint now, const llmscale::Signals& s, const llmscale::FleetState& f) = 0;
  /// Policy-specific gauges for /metrics (PID terms, forecasts).
  virtual void metrics(std::string&) {}
};

void gauge(std::string& out, const char* name, const std::string& labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", std::isfinite(v) ? v : 0.0);
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += " ";
  out += buf;
  out += "\n";
}

void help(std::string& out, const char* name, const char* type, const char* text) {
  out += "# HELP ";
  out += name;
  out += " ";
  out += text;
  out += "\n# TYPE ";
  out += name;
  out += " ";
  out += type;
  out += "\n";
}

std::string label_value(std::string_view v) {
  std::string r;
  for (char c : v) {
    if (c == '\\' || c == '"') r += '\\';
    if (c == '\n') {
      r += "\\n";
      continue;
    }
    r += c;
  }
  return r;
}

template <class P>
struct Box final : PolicyBox {
  llmscale::Autoscaler<P> scaler;
  Box(P p, const llmscale::GovernorConfig& g, llmscale::TimePoint start) : scaler(std::move(p), g, start) {}
  const llmscale::Decision& tick(llmscale::TimePoint now, const llmscale::Signals& s, const llmscale::FleetState& f) override {
    return scaler.tick(now, s, f);
  }
  void metrics(std::string& out) override {
    if constexpr (std::is_same_v<P, llmscale::PidPolicy<>>) {
      const llmscale::PidTerms& t = scaler.policy().terms();
      help(out, "llmscale_pid_term", "gauge", "The PID policy's terms at the last tick (fractions of the reference; feed_forward and commanded in replicas).");
      gauge(out, "llmscale_pid_term", "term=\"error\"", t.error);
      gauge(out, "llmscale_pid_term", "term=\"proportional\"", t.proportional);
      gauge(out, "llmscale_pid_term", "term=\"integral\"", t.integral);
      gauge(out, "llmscale_pid_term", "term=\"derivative\"", t.derivative);
      gauge(out, "llmscale_pid_term", "term=\"feed_forward\"", t.feed_forward);
      gauge(out, "llmscale_pid_term", "term=\"commanded\"", t.commanded);
    } else if constexpr (std::is_same_v<P, llmscale::PredictivePolicy<>>) {
      auto& p = scaler.policy();
      const llmscale::Forecast f = p.forecast(p.lead_buckets());
      help(out, "llmscale_forecast", "gauge", "The predictive policy's load forecast one cold start ahead, and the replicas it plans.");
      gauge(out, "llmscale_forecast", "what=\"load_mean\"", f.mean);
      gauge(out, "llmscale_forecast", "what=\"load_upper\"", f.upper);
      gauge(out, "llmscale_forecast", "what=\"planned_replicas\"", p.planned());
      gauge(out, "llmscale_forecast", "what=\"shortfall\"", p.shortfall());
    }
  }
};

template <class Config>
void apply(Config& c, const std::string& key_value, const std::string& whole_set) {
  if (auto problem = llmscale::set_config(c, key_value)) throw UsageError("--set '" + whole_set + "': " + problem->message());
}

struct Configs {
  llmscale::SignalsConfig signals;
  llmscale::GovernorConfig governor;
  llmscale::KpaConfig kpa;
  llmscale::RayServeConfig ray_serve;
  llmscale::AibrixApaConfig aibrix_apa;
  llmscale::LlmdSaturationConfig llmd_saturation;
  llmscale::SloConfig slo;
  llmscale::PidConfig pid;
  llmscale::PredictiveConfig predictive;
};

Configs configs_for(const Options& o) {
  Configs c;
  c.signals.replica_slots = o.replica_slots;
  c.signals.stale_after_s = std::max(3.0 * o.tick_s, 5.0);
  c.governor.min_replicas = o.min_replicas;
  c.governor.max_replicas = o.max_replicas;
  c.kpa.tick_s = o.tick_s;
  for (const std::string& s : o.sets) {
    const std::size_t dot = s.find('.');
    if (dot == std::string::npos || s.find('=') == std::string::npos) throw UsageError("--set '" + s + "': want name.key=value");
    const std::string name = s.substr(0, dot), kv = s.substr(dot + 1);
    if (name == "signals") apply(c.signals, kv, s);
    else if (name == "governor") apply(c.governor, kv, s);
    else if (name == "kpa") apply(c.kpa, kv, s);
    else if (name == "ray_serve") apply(c.ray_serve, kv, s);
    else if (name == "aibrix_apa") apply(c.aibrix_apa, kv, s);
    else if (name == "llmd_saturation") apply(c.llmd_saturation, kv, s);
    else if (name == "slo") apply(c.slo, kv, s);
    else if (name == "pid") apply(c.pid, kv, s);
    else if (name == "predictive") apply(c.predictive, kv, s);
    else throw UsageError("--set '" + s + "': unknown config '" + name + "' (allowed signals, governor, kpa, ray_serve, aibrix_apa, llmd_saturation, slo, pid, predictive)");
  }
  if (auto p = c.governor.validate()) throw UsageError(p->message());
  if (auto p = c.signals.validate()) throw UsageError(p->message());
  return c;
}

std::unique_ptr<PolicyBox> make_policy(const Options& o, const Configs& c, llmscale::TimePoint start) {
  const auto box = [&](auto policy) {
    return std::unique_ptr<PolicyBox>(new Box<decltype(policy)>(std::move(policy), c.governor, start));
  };
  try {
    if (o.policy == "llmd-saturation") return box(llmscale::LlmdSaturationPolicy(c.llmd_saturation));
    if (o.policy == "kpa") return box(llmscale::KpaPolicy(c.kpa, start));
    if (o.policy == "ray-serve") return box(llmscale::RayServePolicy(c.ray_serve));
    if (o.policy == "aibrix-apa-kv") return box(llmscale::AibrixApaPolicy(c.aibrix_apa));
    if (o.policy == "llmscale-slo" || o.policy == "llmscale-pid" || o.policy == "llmscale-predictive") {
      if (o.profile.empty()) throw UsageError("--policy " + o.policy + " needs a latency profile: --profile FILE [--model M --hardware H --tp N]");
      llmscale::LatencyProfile profile = [&] {
        try {
          return llmscale::LatencyProfile::load(o.profile, o.model, o.hardware, o.tp);
        } catch (const std::exception& e) {
          throw UsageError("--profile '" + o.profile + "': " + e.what());
        }
      }();
      llmscale::SloPolicy slo(std::move(profile), c.slo);
      if (o.policy == "llmscale-slo") return box(std::move(slo));
      if (o.policy == "llmscale-pid") return box(llmscale::PidPolicy<>(std::move(slo), c.pid));
      return box(llmscale::PredictivePolicy<>(std::move(slo), c.predictive));
    }
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  throw UsageError("--policy '" + o.policy +
                   "': allowed llmd-saturation, kpa, ray-serve, aibrix-apa-kv, llmscale-slo, llmscale-pid, llmscale-predictive");
}

tcp::endpoint listen_endpoint(const std::string& flag, const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw UsageError(flag + " '" + text + "': want ADDRESS:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw UsageError(flag + " '" + text + "': '" + host + "' is not an IP address");
  const long long port = whole(flag + " port", text.substr(colon + 1), 0, 65535);
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

enum Reason : std::size_t { r_resolve, r_connect, r_timeout, r_http_status, r_too_large, r_read, r_unusable, reason_count };
constexpr std::array<const char*, reason_count> reason_names{"resolve", "connect", "timeout", "http_status", "too_large", "read", "unusable"};

}  // namespace

// ---- the scaler --------------------------------------------------------------------------------

struct Scaler::Impl {
  struct Target {
    Endpoint endpoint;
    std::size_t slot = 0;
    bool up = false;
    std::uint64_t errors = 0;
  };

  Options opt;
  Configs configs;
  llmscale::EngineMetricMap map;
  SteadyClock::time_point origin = SteadyClock::now();
  std::unique_ptr<PolicyBox> policy;
  llmscale::ScrapedSignals signals;
  llmscale::PrometheusParser parser;

  asio::io_context io;
  asio::steady_timer tick_timer{io};
  SteadyClock::time_point next_tick;
  tcp::acceptor http_acceptor{io};
  unsigned short bound_http_port = 0;
  std::thread io_thread;
  std::unique_ptr<KedaServer> keda;
  bool started = false;
  Scaler* accept_owner = nullptr;

  std::vector<Target> targets;
  std::vector<std::size_t> free_slots;
  std::optional<int> file_starting;
  std::filesystem::file_time_type file_time{};
  std::uintmax_t file_size = 0;
  bool file_loaded = false;
  bool file_missing = false;
  bool list_known = false;  ///< no decision (KEDA: UNAVAILABLE, so its fallback) before the fleet is known

  bool round_running = false;
  std::size_t next = 0, outstanding = 0;
  SteadyClock::time_point round_started;
  double last_round_s = 0;
  std::array<std::uint64_t, reason_count> errors{};
  std::uint64_t scrapes = 0, overruns = 0, file_errors = 0, slots_exhausted = 0;
  int last_desired = 0;
  llmscale::TimePoint raised_at{};

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  Published pub;
  bool stopping = false;
  std::string metrics_text = "# no decision yet\n";

  explicit Impl(const Options& o)
      : opt(o), configs(configs_for(o)), map(load_map(o)), signals(configs.signals, now()) {
    policy = make_policy(opt, configs, now());
    for (std::size_t i = static_cast<std::size_t>(opt.replica_slots); i-- > 0;) free_slots.push_back(i);
    if (opt.endpoints_file.empty()) {
      set_targets(EndpointList{opt.endpoints, std::nullopt});
      list_known = true;
    } else if (std::filesystem::exists(opt.endpoints_file)) {
      std::string error;
      auto list = parse_endpoint_list(read_file(opt.endpoints_file), error);
      if (!list) throw UsageError("--endpoints-file '" + opt.endpoints_file + "': " + error);
      note_file_state();
      set_targets(*list);
      list_known = true;
    } else {
      // a sidecar writes it (deploy/): wait for it, deciding nothing meanwhile
      std::fprintf(stderr, "llmscale-scaler: %s does not exist yet; no decision until it does\n", opt.endpoints_file.c_str());
    }
    listen_endpoint("--http-listen", opt.http_listen);
    if (!opt.tls_cert.empty()) {
      read_file(opt.tls_cert);
      read_file(opt.tls_key);
      if (!opt.tls_client_ca.empty()) read_file(opt.tls_client_ca);
    }
  }

  static llmscale::EngineMetricMap load_map(const Options& o) {
    if (o.engine_map_file.empty()) return *llmscale::engine_preset(o.engine);
    std::string error;
    auto m = llmscale::parse_engine_map(read_file(o.engine_map_file), error);
    if (!m) throw UsageError("--engine-map '" + o.engine_map_file + "': " + error);
    return *m;
  }

  [[nodiscard]] llmscale::TimePoint now() const {
    return llmscale::TimePoint(std::chrono::duration_cast<llmscale::Duration>(SteadyClock::now() - origin));
  }

  // -- endpoints --
  void note_file_state() {
    std::error_code ec;
    file_time = std::filesystem::last_write_time(opt.endpoints_file, ec);
    file_size = std::filesystem::file_size(opt.endpoints_file, ec);
    file_loaded = !ec;
  }

  void reload_if_changed() {
    if (opt.endpoints_file.empty()) return;
    std::error_code ec;
    const auto t = std::filesystem::last_write_time(opt.endpoints_file, ec);
    const auto size = ec ? 0 : std::filesystem::file_size(opt.endpoints_file, ec);
    if (ec) {  // gone: counted and logged once, until it is back
      if (!file_missing && list_known) {
        std::fprintf(stderr, "llmscale-scaler: %s: %s; keeping the last list\n", opt.endpoints_file.c_str(), ec.message().c_str());
        ++file_errors;
      }
      file_missing = true;
      file_loaded = false;
      return;
    }
    file_missing = false;
    if (file_loaded && t == file_time && size == file_size) return;
    std::string text, error;
    try {
      text = read_file(opt.endpoints_file);
    } catch (const UsageError& e) {
      ++file_errors;
      return;
    }
    auto list = parse_endpoint_list(text, error);
    file_time = t;
    file_size = size;
    file_loaded = true;
    if (!list) {
      ++file_errors;
      std::fprintf(stderr, "llmscale-scaler: %s: %s; keeping the last list\n", opt.endpoints_file.c_str(), error.c_str());
      return;
    }
    set_targets(*list);
    list_known = true;
    std::fprintf(stderr, "llmscale-scaler: %s: %zu endpoints\n", opt.endpoints_file.c_str(), targets.size());
  }

  void set_targets(const EndpointList& list) {
    file_starting = list.starting;
    std::vector<Target> kept;
    for (Target& t : targets) {
      if (std::find(list.ready.begin(), list.ready.end(), t.endpoint) != list.ready.end()) {
        kept.push_back(std::move(t));
      } else {
        signals.forget(t.slot);
        free_slots.push_back(t.slot);
      }
    }
    for (const Endpoint& e : list.ready) {
      if (std::any_of(kept.begin(), kept.end(), [&](const Target& t) { return t.endpoint == e; })) continue;
      if (free_slots.empty()) {
        ++slots_exhausted;
        continue;
      }
      Target t;
      t.endpoint = e;
      t.slot = free_slots.back();
      free_slots.pop_back();
      signals.watch(t.slot);
      kept.push_back(std::move(t));
    }
    targets = std::move(kept);
  }

  // -- the tick and the scrape round --
  void schedule_tick() {
    next_tick += std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(opt.tick_s));
    const auto t = SteadyClock::now();
    if (next_tick < t) next_tick = t;  // fell behind (a stopped process, a slow machine): no burst
    tick_timer.expires_at(next_tick);
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      on_tick();
      schedule_tick();
    });
  }

  void on_tick() {
    if (round_running) {
      ++overruns;
      return;
    }
    reload_if_changed();
    round_running = true;
    round_started = SteadyClock::now();
    next = 0;
    outstanding = 0;
    if (targets.empty()) {
      finish_round();
      return;
    }
    const std::size_t n = std::min(targets.size(), static_cast<std::size_t>(opt.scrape_concurrency));
    for (std::size_t i = 0; i < n; ++i) launch_next();
  }

  // Page buffers, reused from scrape to scrape (no allocation per page once warm).
  struct PageBuffers {
    beast::flat_buffer wire;
    std::string body;
  };
  std::vector<std::unique_ptr<PageBuffers>> buffer_pool;

  void launch_next();
  void scraped(std::size_t index, bool ok, Reason why, std::unique_ptr<PageBuffers> page);

  void finish_round() {
    last_round_s = std::chrono::duration<double>(SteadyClock::now() - round_started).count();
    round_running = false;
    if (list_known) decide();
  }

  void decide() {
    const llmscale::TimePoint t = now();
    const llmscale::Signals& s = signals.tick(t);
    const int ready = static_cast<int>(targets.size());
    // Starting replicas: as the endpoint file says, or what was asked for and has not appeared
    // yet, for at most a cold start's worth of time.
    int starting = 0;
    if (file_starting) {
      starting = *file_starting;
    } else if (last_desired > ready && llmscale::to_seconds(t - raised_at) < 1200.0) {
      starting = last_desired - ready;
    }
    llmscale::FleetState fleet(ready);
    if (starting > 0) fleet.add_starting(starting, raised_at);
    const llmscale::Decision& d = policy->tick(t, s, fleet);
    if (d.desired_replicas > last_desired) raised_at = t;
    last_desired = d.desired_replicas;
    const bool active = s.arrival_rate > 0 || s.running_now > 0 || s.queued_now > 0 || s.engine.stale;

    std::string m = render(d, s, fleet, active);
    char json[2048];
    const std::size_t n = d.format_json_to(json, sizeof json);
    std::string line;
    if (!opt.quiet) {
      line.reserve(n + 256);
      line += "{\"decision\":";
      line += n < sizeof json ? json : "null";
      char tail[256];
      std::snprintf(tail, sizeof tail,
                    ",\"endpoints\":%zu,\"reporting\":%d,\"stale\":%d,\"active\":%s,\"scrape_errors\":%llu,\"round_s\":%.4f}\n",
                    targets.size(), s.engines.replicas_reporting, s.engines.replicas_stale, active ? "true" : "false",
                    static_cast<unsigned long long>(total_errors()), last_round_s);
      line += tail;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      pub.decided = true;
      pub.desired = d.desired_replicas;
      if (pub.active != active || pub.ticks == 0) ++pub.version;
      pub.active = active;
      ++pub.ticks;
      pub.decided_at = SteadyClock::now();
      metrics_text = std::move(m);
    }
    cv.notify_all();
    if (!line.empty()) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
    }
  }

  [[nodiscard]] std::uint64_t total_errors() const {
    std::uint64_t e = 0;
    for (auto x : errors) e += x;
    return e;
  }

  std::string render(const llmscale::Decision& d, const llmscale::Signals& s, const llmscale::FleetState& fleet, bool active) {
    std::string out;
    out.reserve(4096 + targets.size() * 96);
    help(out, "llmscale_desired_replicas", "gauge", "The replica count llmscale asks for (KEDA's external metric, target 1).");
    gauge(out, "llmscale_desired_replicas", "", d.desired_replicas);
    help(out, "llmscale_current_replicas", "gauge", "Replicas ready or starting when the decision was taken.");
    gauge(out, "llmscale_current_replicas", "", fleet.current());
    help(out, "llmscale_ready_replicas", "gauge", "Endpoints listed (serving replicas).");
    gauge(out, "llmscale_ready_replicas", "", fleet.ready());
    help(out, "llmscale_starting_replicas", "gauge", "Replicas counted as starting (the endpoint file's, or asked for and not yet listed).");
    gauge(out, "llmscale_starting_replicas", "", fleet.starting());
    help(out, "llmscale_active", "gauge", "1 when there is demand or the signals are stale (KEDA's IsActive).");
    gauge(out, "llmscale_active", "", active ? 1 : 0);
    help(out, "llmscale_binding_constraint", "gauge", "The constraint that set the decision (1 for the binding one).");
    gauge(out, "llmscale_binding_constraint", "constraint=\"" + std::string(llmscale::to_string(d.binding)) + "\"", 1);
    help(out, "llmscale_decision_info", "gauge", "The policy and the reason of the last decision.");
    gauge(out, "llmscale_decision_info", "policy=\"" + label_value(d.policy) + "\",reason=\"" + label_value(d.reason) + "\"", 1);
    help(out, "llmscale_proposal_replicas", "gauge", "Each stage's proposal at the last tick.");
    for (std::size_t i = 0; i < d.proposal_count; ++i) {
      gauge(out, "llmscale_proposal_replicas", "stage=\"" + label_value(d.proposals[i].stage) + "\"", d.proposals[i].replicas);
    }
    help(out, "llmscale_decision_input", "gauge", "Named inputs that mattered to the last decision.");
    for (std::size_t i = 0; i < d.input_count; ++i) {
      gauge(out, "llmscale_decision_input", "name=\"" + label_value(d.inputs[i].name) + "\"", d.inputs[i].value);
    }
    help(out, "llmscale_signal", "gauge", "The signals the policy read at the last tick.");
    const std::pair<const char*, double> sig[] = {
        {"arrival_rate", s.arrival_rate},       {"completion_rate", s.completion_rate}, {"concurrency", s.concurrency},
        {"running_now", s.running_now},         {"queued_now", s.queued_now},           {"mean_ttft_s", s.mean_ttft_s},
        {"mean_queue_wait_s", s.mean_queue_wait_s}, {"mean_e2e_latency_s", s.mean_e2e_latency_s},
        {"kv_utilization", s.engines.kv_utilization}, {"kv_utilization_max", s.engines.kv_utilization_max},
        {"queue_length_max", static_cast<double>(s.engines.queue_length_max)},
        {"replicas_saturated", s.engines.replicas_saturated}};
    for (const auto& [name, v] : sig) gauge(out, "llmscale_signal", std::string("name=\"") + name + "\"", v);
    help(out, "llmscale_signal_stale", "gauge", "1 when a signal's source is stale (the governor then never scales down).");
    help(out, "llmscale_signal_age_seconds", "gauge", "Seconds since the signal's source last gave fresh data.");
    help(out, "llmscale_signal_dropped_total", "counter", "Samples dropped: invalid (unusable pages, bad values) or stale.");
    const std::pair<const char*, const llmscale::SignalHealth*> health[] = {{"engine", &s.engine}, {"requests", &s.requests}};
    for (const auto& [name, h] : health) {
      const std::string l = std::string("signal=\"") + name + "\"";
      gauge(out, "llmscale_signal_stale", l, h->stale ? 1 : 0);
      gauge(out, "llmscale_signal_age_seconds", l, h->age_s);
      gauge(out, "llmscale_signal_dropped_total", l + ",why=\"invalid\"", static_cast<double>(h->dropped_invalid));
      gauge(out, "llmscale_signal_dropped_total", l + ",why=\"stale\"", static_cast<double>(h->dropped_stale));
    }
    help(out, "llmscale_endpoints", "gauge", "Engine endpoints by state: listed, reporting (fresh page), stale.");
    gauge(out, "llmscale_endpoints", "state=\"listed\"", static_cast<double>(targets.size()));
    gauge(out, "llmscale_endpoints", "state=\"reporting\"", s.engines.replicas_reporting);
    gauge(out, "llmscale_endpoints", "state=\"stale\"", s.engines.replicas_stale);
    help(out, "llmscale_endpoint_up", "gauge", "1 when the endpoint's last scrape gave a usable page.");
    for (const Target& t : targets) gauge(out, "llmscale_endpoint_up", "endpoint=\"" + label_value(t.endpoint.text()) + "\"", t.up ? 1 : 0);
    help(out, "llmscale_endpoint_scrape_errors_total", "counter", "Scrapes of the endpoint that gave no usable page.");
    for (const Target& t : targets) {
      gauge(out, "llmscale_endpoint_scrape_errors_total", "endpoint=\"" + label_value(t.endpoint.text()) + "\"", static_cast<double>(t.errors));
    }
    help(out, "llmscale_scrapes_total", "counter", "Scrapes attempted.");
    gauge(out, "llmscale_scrapes_total", "", static_cast<double>(scrapes));
    help(out, "llmscale_scrape_errors_total", "counter", "Scrapes that gave no usable page, by reason.");
    for (std::size_t r = 0; r < reason_count; ++r) {
      gauge(out, "llmscale_scrape_errors_total", std::string("reason=\"") + reason_names[r] + "\"", static_cast<double>(errors[r]));
    }
    help(out, "llmscale_scrape_round_seconds", "gauge", "How long the last round of scrapes took.");
    gauge(out, "llmscale_scrape_round_seconds", "", last_round_s);
    help(out, "llmscale_tick_overruns_total", "counter", "Ticks skipped because the previous round had not finished.");
    gauge(out, "llmscale_tick_overruns_total", "", static_cast<double>(overruns));
    help(out, "llmscale_endpoints_file_errors_total", "counter", "Endpoint-file reads that failed (the last good list is kept).");
    gauge(out, "llmscale_endpoints_file_errors_total", "", static_cast<double>(file_errors));
    help(out, "llmscale_endpoints_over_slots_total", "counter", "Endpoints left out because every replica slot was taken.");
    gauge(out, "llmscale_endpoints_over_slots_total", "", static_cast<double>(slots_exhausted));
    policy->metrics(out);
    return out;
  }

  // -- /metrics and /healthz --
  void accept();
};

// One scrape: resolve (names only), connect, GET, read with a body limit, all before a deadline.
namespace {

struct Scrape : std::enable_shared_from_this<Scrape> {
  Scaler::Impl& s;
  std::size_t index;
  tcp::resolver resolver;
  beast::tcp_stream stream;
  asio::steady_timer resolve_deadline;
  std::unique_ptr<Scaler::Impl::PageBuffers> page;
  http::request<http::empty_body> request;
  http::response_parser<http::string_body> parser;
  SteadyClock::time_point deadline;
  bool finished = false;

  Scrape(Scaler::Impl& scaler, std::size_t i, asio::io_context& io, std::unique_ptr<Scaler::Impl::PageBuffers> buffers)
      : s(scaler), index(i), resolver(io), stream(io), resolve_deadline(io), page(std::move(buffers)) {
    page->wire.clear();
    page->body.clear();  // keeps its capacity
    parser.get().body().swap(page->body);
  }

  void run(const Endpoint& e, double timeout_s, std::size_t max_bytes);
  void send();
  void done(bool ok, Reason why);
};

}  // namespace

void Scaler::Impl::launch_next() {
  const std::size_t i = next++;
  ++outstanding;
  ++scrapes;
  std::unique_ptr<PageBuffers> buffers;
  if (buffer_pool.empty()) {
    buffers = std::make_unique<PageBuffers>();
    // Beast reads max(512, free capacity) bytes at a time: without room, a 200 kB page takes
    // 400 reads (and 400 trips through the reactor); with 64 kB, four.
    buffers->wire.reserve(64 * 1024);
  } else {
    buffers = std::move(buffer_pool.back());
    buffer_pool.pop_back();
  }
  auto scrape = std::make_shared<Scrape>(*this, i, io, std::move(buffers));
  scrape->run(targets[i].endpoint, opt.scrape_timeout_s, opt.max_page_bytes);
}

void Scrape::run(const Endpoint& e, double timeout_s, std::size_t max_bytes) {
  deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
  parser.body_limit(max_bytes);
  request.version(11);
  request.method(http::verb::get);
  request.target(e.target);
  request.set(http::field::host, e.authority());
  request.set(http::field::user_agent, "llmscale-scaler");
  request.set(http::field::accept, "text/plain");
  request.keep_alive(false);
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(e.host, ec);
  if (!ec) {  // an IP address (a pod's, from an Endpoints object): no lookup
    stream.expires_at(deadline);
    stream.async_connect(tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(e.port))),
                         [self = shared_from_this()](const boost::system::error_code& err) {
                           if (err) return self->done(false, err == beast::error::timeout ? r_timeout : r_connect);
                           self->send();
                         });
    return;
  }
  resolve_deadline.expires_at(deadline);
  resolve_deadline.async_wait([self = shared_from_this()](const boost::system::error_code& err) {
    if (!err) self->resolver.cancel();
  });
  resolver.async_resolve(e.host, e.port, [self = shared_from_this()](const boost::system::error_code& err, const tcp::resolver::results_type& r) {
    self->resolve_deadline.cancel();
    if (err) return self->done(false, err == asio::error::operation_aborted ? r_timeout : r_resolve);
    self->stream.expires_at(self->deadline);
    self->stream.async_connect(r, [self](const boost::system::error_code& cerr, const tcp::endpoint&) {
      if (cerr) return self->done(false, cerr == beast::error::timeout ? r_timeout : r_connect);
      self->send();
    });
  });
}

void Scrape::send() {
  stream.expires_at(deadline);
  http::async_write(stream, request, [self = shared_from_this()](const boost::system::error_code& werr, std::size_t) {
    if (werr) return self->done(false, werr == beast::error::timeout ? r_timeout : r_connect);
    self->stream.expires_at(self->deadline);
    http::async_read(self->stream, self->page->wire, self->parser, [self](const boost::system::error_code& rerr, std::size_t) {
      if (rerr == http::error::body_limit || rerr == http::error::header_limit || rerr == http::error::buffer_overflow) {
        return self->done(false, r_too_large);
      }
      if (rerr) return self->done(false, rerr == beast::error::timeout ? r_timeout : r_read);
      if (self->parser.get().result_int() != 200) return self->done(false, r_http_status);
      self->done(true, r_read);
    });
  });
}

void Scrape::done(bool ok, Reason why) {
  if (finished) return;
  finished = true;
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  page->body.swap(parser.get().body());
  s.scraped(index, ok, why, std::move(page));
}

void Scaler::Impl::scraped(std::size_t index, bool ok, Reason why, std::unique_ptr<PageBuffers> page) {
  Target& t = targets[index];
  const bool was_up = t.up;
  if (ok) {
    const llmscale::EngineScrape scrape = llmscale::read_engine_metrics(page->body, map, parser);
    ok = signals.observe(t.slot, scrape, now(), opt.kv_capacity_tokens);
    why = r_unusable;
  } else {
    signals.scrape_failed(t.slot);
  }
  buffer_pool.push_back(std::move(page));
  t.up = ok;
  if (!ok) {
    ++errors[why];
    ++t.errors;
  }
  if (was_up != t.up) {
    std::fprintf(stderr, "llmscale-scaler: %s is %s%s%s\n", t.endpoint.text().c_str(), ok ? "up" : "down",
                 ok ? "" : ": ", ok ? "" : reason_names[why]);
  }
  --outstanding;
  if (next < targets.size()) {
    launch_next();
  } else if (outstanding == 0) {
    finish_round();
  }
}

// ---- /metrics and /healthz ---------------------------------------------------------------------

namespace {

struct HttpSession : std::enable_shared_from_this<HttpSession> {
  Scaler::Impl& s;
  Scaler& owner;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  http::response<http::string_body> response;

  HttpSession(Scaler::Impl& scaler, Scaler& o, tcp::socket socket) : s(scaler), owner(o), stream(std::move(socket)) {
    parser.header_limit(16 * 1024);
  }

  void run() {
    stream.expires_after(std::chrono::seconds(10));
    http::async_read(stream, buffer, parser, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
      if (ec) return;
      self->respond();
    });
  }

  void respond() {
    const auto& req = parser.get();
    response.version(req.version());
    response.keep_alive(false);
    response.set(http::field::server, "llmscale-scaler");
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.body() = "GET only\n";
    } else if (path == "/metrics") {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      std::lock_guard<std::mutex> lock(s.mu);
      response.body() = s.metrics_text;
    } else if (path == "/healthz") {
      const bool ok = owner.healthy();
      response.result(ok ? http::status::ok : http::status::service_unavailable);
      response.body() = ok ? "ok\n" : "no decision within three ticks\n";
    } else {
      response.result(http::status::not_found);
      response.body() = "not found: try /metrics or /healthz\n";
    }
    if (response.find(http::field::content_type) == response.end()) response.set(http::field::content_type, "text/plain");
    response.prepare_payload();
    if (req.method() == http::verb::head) response.body().clear();
    http::async_write(stream, response, [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
      boost::system::error_code ignored;
      self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }
};

}  // namespace

// ---- Scaler ------------------------------------------------------------------------------------

Scaler::Scaler(const Options& options) : impl_(new Impl(options)) {}

Scaler::~Scaler() { stop(); }

void Scaler::start() {
  Impl& s = *impl_;
  if (s.started) return;
  const tcp::endpoint ep = listen_endpoint("--http-listen", s.opt.http_listen);
  s.http_acceptor.open(ep.protocol());
  s.http_acceptor.set_option(asio::socket_base::reuse_address(true));
  boost::system::error_code ec;
  s.http_acceptor.bind(ep, ec);
  if (ec) throw std::runtime_error("--http-listen " + s.opt.http_listen + ": " + ec.message());
  s.http_acceptor.listen(asio::socket_base::max_listen_connections);
  s.bound_http_port = s.http_acceptor.local_endpoint().port();
  s.keda = std::make_unique<KedaServer>(*this);
  s.keda->start();  // throws when it cannot bind
  s.accept_owner = this;
  s.accept();
  s.next_tick = SteadyClock::now();
  asio::post(s.io, [&s] {
    s.on_tick();
    s.schedule_tick();
  });
  s.started = true;
  s.io_thread = std::thread([&s] { s.io.run(); });
}

void Scaler::Impl::accept() {
  http_acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec) return;  // closed
    std::make_shared<HttpSession>(*this, *accept_owner, std::move(socket))->run();
    accept();
  });
}

void Scaler::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.cv.notify_all();
  if (s.keda) s.keda->stop();
  if (s.started) {
    asio::post(s.io, [&s] {
      boost::system::error_code ignored;
      s.http_acceptor.close(ignored);
      s.tick_timer.cancel();
    });
    s.io.stop();
    if (s.io_thread.joinable()) s.io_thread.join();
  }
}

unsigned short Scaler::http_port() const { return impl_->bound_http_port; }
int Scaler::grpc_port() const { return impl_->keda ? impl_->keda->port() : 0; }
const Options& Scaler::options() const { return impl_->opt; }

Published Scaler::published() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->pub;
}

Published Scaler::wait_for_change(std::uint64_t seen_version, SteadyClock::time_point until) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait_until(lock, until, [&] { return impl_->stopping || impl_->pub.version != seen_version; });
  return impl_->pub;
}

bool Scaler::stopping() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stopping;
}

bool Scaler::healthy() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->pub.decided || impl_->stopping) return false;
  const double age = std::chrono::duration<double>(SteadyClock::now() - impl_->pub.decided_at).count();
  return age <= 3.0 * impl_->opt.tick_s + 1.0;
}

}  // namespace llmscale_scaler
