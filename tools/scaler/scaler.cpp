// llmscale-scaler: the policy (from the registry), the endpoint list, the tick and the decision,
// and the Scaler's life (see scaler.hpp; scrape.cpp, metrics_page.cpp, http_server.cpp and
// options.cpp hold the rest).
#include "scaler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <utility>

#include <boost/asio/post.hpp>

#include "keda_service.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/profile_io.hpp"
#include "llmscale/policy/registry.hpp"
#include "log.hpp"
#include "scaler_impl.hpp"

namespace llmscale_scaler {

namespace asio = boost::asio;

// ---- the policy, from the registry ------------------------------------------------------------

namespace detail {

void policy_metrics(llmscale::AnyAutoscaler& scaler, std::string& out) {
  if (auto* pid = scaler.policy_if<llmscale::PidPolicy<llmscale::PredictivePolicy<>>>()) {
    const llmscale::PidTerms& t = pid->terms();
    help(out, "llmscale_pid_term", "gauge", "The PID policy's terms at the last tick (fractions of the reference; feed_forward and commanded in replicas).");
    gauge(out, "llmscale_pid_term", "term=\"error\"", t.error);
    gauge(out, "llmscale_pid_term", "term=\"proportional\"", t.proportional);
    gauge(out, "llmscale_pid_term", "term=\"integral\"", t.integral);
    gauge(out, "llmscale_pid_term", "term=\"derivative\"", t.derivative);
    gauge(out, "llmscale_pid_term", "term=\"feed_forward\"", t.feed_forward);
    gauge(out, "llmscale_pid_term", "term=\"commanded\"", t.commanded);
  } else if (auto* p = scaler.policy_if<llmscale::PredictivePolicy<>>()) {
    const llmscale::Forecast f = p->forecast(p->lead_buckets());
    help(out, "llmscale_forecast", "gauge", "The predictive policy's load forecast one cold start ahead, and the replicas it plans.");
    gauge(out, "llmscale_forecast", "what=\"load_mean\"", f.mean);
    gauge(out, "llmscale_forecast", "what=\"load_upper\"", f.upper);
    gauge(out, "llmscale_forecast", "what=\"planned_replicas\"", p->planned());
    gauge(out, "llmscale_forecast", "what=\"shortfall\"", p->shortfall());
  }
}

template <class Config>
void apply(Config& c, const std::string& key_value, const std::string& whole_set) {
  if (auto problem = llmscale::set_config(c, key_value)) throw UsageError("--set '" + whole_set + "': " + problem->message());
}

Configs configs_for(const Options& o) {
  Configs c;
  c.signals.replica_slots = o.replica_slots;
  c.signals.stale_after_s = std::max(3.0 * o.tick_s, 5.0);
  c.governor.min_replicas = o.min_replicas;
  c.governor.max_replicas = o.max_replicas;
  c.policies.kpa.tick_s = o.tick_s;
  for (const std::string& s : o.sets) {
    const std::size_t dot = s.find('.');
    if (dot == std::string::npos || s.find('=') == std::string::npos) throw UsageError("--set '" + s + "': want name.key=value");
    const std::string name = s.substr(0, dot), kv = s.substr(dot + 1);
    if (name == "signals") {
      apply(c.signals, kv, s);
    } else if (name == "governor") {
      apply(c.governor, kv, s);
    } else if (auto problem = c.policies.set(s)) {
      if (problem->field.empty()) problem->allowed = "signals, governor, " + problem->allowed;
      throw UsageError("--set '" + s + "': " + problem->message());
    }
  }
  if (auto p = c.governor.validate()) throw UsageError(p->message());
  if (auto p = c.signals.validate()) throw UsageError(p->message());
  return c;
}

llmscale::AnyAutoscaler make_policy(const Options& o, const Configs& c, llmscale::TimePoint start) {
  const llmscale::RegisteredPolicy* known = llmscale::find_policy(o.policy);
  if (known == nullptr) throw UsageError("--policy '" + o.policy + "': allowed " + llmscale::registered_policy_names());
  std::optional<llmscale::LatencyProfile> profile;
  if (known->needs_profile) {
    if (o.profile.empty()) throw UsageError("--policy " + o.policy + " needs a latency profile: --profile FILE [--model M --hardware H --tp N]");
    try {
      profile = llmscale::load_latency_profile(o.profile, o.model, o.hardware, o.tp);
    } catch (const std::exception& e) {
      throw UsageError("--profile '" + o.profile + "': " + e.what());
    }
  }
  try {
    return llmscale::make_autoscaler(o.policy, c.policies, profile ? &*profile : nullptr, c.governor, start);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

}  // namespace detail

// ---- the scaler --------------------------------------------------------------------------------

namespace {

llmscale::EngineMetricMap load_map(const Options& o) {
  if (o.engine_map_file.empty()) return *llmscale::engine_preset(o.engine);
  std::string error;
  auto m = llmscale::parse_engine_map(detail::read_file(o.engine_map_file), error);
  if (!m) throw UsageError("--engine-map '" + o.engine_map_file + "': " + error);
  return *m;
}

std::int64_t ns_since_epoch(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

Scaler::Impl::Impl(const Options& o, const detail::Configs& c) : opt(o), map(load_map(o)), signals(c.signals, now()) {
  policy.emplace(detail::make_policy(opt, c, now()));
  own_fleet = !opt.endpoints.empty() || !opt.endpoints_file.empty();
  if (opt.fleets > 0) fleets = std::make_unique<Fleets>(opt);
  if (own_fleet) load_state_file();
  if (!opt.record_file.empty() && own_fleet) {
    record.emplace(opt.record_file, opt.record_max_bytes);
    windows.emplace(opt.record_window_s, opt.tick_s);
  }
  for (std::size_t i = static_cast<std::size_t>(opt.replica_slots); i-- > 0;) free_slots.push_back(i);
  if (!own_fleet) {
    // fleets from KEDA's metadata only: nothing of its own to scrape or decide
  } else if (opt.endpoints_file.empty()) {
    set_targets(EndpointList{opt.endpoints, std::nullopt});
    list_known = true;
  } else if (std::filesystem::exists(opt.endpoints_file)) {
    std::string error;
    auto list = parse_endpoint_list(detail::read_file(opt.endpoints_file), error);
    if (!list) throw UsageError("--endpoints-file '" + opt.endpoints_file + "': " + error);
    note_file_state();
    set_targets(*list);
    list_known = true;
  } else {
    // a sidecar writes it (deploy/): wait for it, deciding nothing meanwhile
    log::write(log::Level::info, opt.endpoints_file + " does not exist yet; no decision until it does");
  }
  detail::listen_endpoint("--http-listen", opt.http_listen);
  if (!opt.tls_cert.empty()) {
    detail::read_file(opt.tls_cert);
    detail::read_file(opt.tls_key);
    if (!opt.tls_client_ca.empty()) detail::read_file(opt.tls_client_ca);
  }
}

// -- endpoints --

void Scaler::Impl::note_file_state() {
  std::error_code ec;
  file_time = std::filesystem::last_write_time(opt.endpoints_file, ec);
  file_size = std::filesystem::file_size(opt.endpoints_file, ec);
  file_loaded = !ec;
}

void Scaler::Impl::reload_if_changed() {
  if (opt.endpoints_file.empty()) return;
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(opt.endpoints_file, ec);
  const auto size = ec ? 0 : std::filesystem::file_size(opt.endpoints_file, ec);
  if (ec) {  // gone: counted and logged once, until it is back
    if (!file_missing && list_known) {
      log::write(log::Level::warn, opt.endpoints_file + ": " + ec.message() + "; keeping the last list");
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
    text = detail::read_file(opt.endpoints_file);
  } catch (const UsageError& e) {
    ++file_errors;
    log::limited(log::Level::warn, "endpoints-file", std::string(e.what()) + "; keeping the last list");
    return;
  }
  auto list = parse_endpoint_list(text, error);
  file_time = t;
  file_size = size;
  file_loaded = true;
  if (!list) {
    ++file_errors;
    log::write(log::Level::warn, opt.endpoints_file + ": " + error + "; keeping the last list");
    return;
  }
  set_targets(*list);
  list_known = true;
  log::write(log::Level::info, opt.endpoints_file + ": " + std::to_string(targets.size()) + " endpoints");
}

void Scaler::Impl::set_targets(const EndpointList& list) {
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
      if (++slots_exhausted == 1) {
        log::write(log::Level::warn, "more endpoints than --replica-slots " + std::to_string(opt.replica_slots) + ": " + e.text() +
                                         " and any further ones are not scraped");
      }
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

void Scaler::Impl::schedule_tick() {
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

void Scaler::Impl::on_tick() {
  last_tick_ns = ns_since_epoch(SteadyClock::now());
  if (!own_fleet) {  // only the listeners' series to publish
    std::string m;
    render_listeners(m);
    std::lock_guard<std::mutex> lock(mu);
    metrics_text = std::move(m);
    return;
  }
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

void Scaler::Impl::finish_round() {
  last_round_s = std::chrono::duration<double>(SteadyClock::now() - round_started).count();
  round_running = false;
  if (list_known) decide();
}

void Scaler::Impl::decide() {
  const llmscale::TimePoint t = now();
  const llmscale::Signals& s = signals.tick(t);
  // the fleet as the endpoints show it: the endpoint file's starting count, else what was asked
  // for and has not appeared yet (adapters/starting_replicas.hpp)
  const llmscale::FleetState fleet = starting.fleet(t, static_cast<int>(targets.size()), file_starting);
  const llmscale::Decision& d = policy->tick(t, s, fleet);
  // in shadow mode the fleet keeps its size: KEDA is answered with it, and no replica the
  // policy wanted is counted as starting
  const int answered = opt.shadow ? fleet.current() : d.desired_replicas;
  starting.decided(t, answered);
  if (!opt.state_file.empty() && ++ticks_since_save >= static_cast<std::uint64_t>(opt.state_every)) save_state_file();
  const bool active = s.arrival_rate > 0 || s.running_now > 0 || s.queued_now > 0 || s.engine.stale;
  account(s, fleet, d.desired_replicas);

  std::string m = render(d, s, fleet, active);
  char json[2048];
  const std::size_t n = d.format_json_to(json, sizeof json);
  std::string line;
  if (!opt.quiet) {
    line.reserve(n + 256);
    line += "{";
    if (!opt.fleet.empty()) line += "\"fleet\":\"" + opt.fleet + "\",";
    line += "\"decision\":";
    line += n < sizeof json ? json : "null";
    char tail[256];
    std::snprintf(tail, sizeof tail,
                  ",\"keda\":%d,\"endpoints\":%zu,\"reporting\":%d,\"stale\":%d,\"active\":%s,\"scrape_errors\":%llu,\"round_s\":%.4f}\n",
                  answered, targets.size(), s.engines.replicas_reporting, s.engines.replicas_stale, active ? "true" : "false",
                  static_cast<unsigned long long>(total_errors()), last_round_s);
    line += tail;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    pub.decided = true;
    pub.desired = answered;
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

// The shadow summary and the record, after each decision.
void Scaler::Impl::account(const llmscale::Signals& s, const llmscale::FleetState& fleet, int desired) {
  const llmscale::TimePoint t = s.at;
  const double dt = decided_once ? llmscale::to_seconds(t - last_decided) : 0.0;
  // the requests whose TTFT was observed since the last decision, and those over the target
  const llmscale::HistogramBuckets& layout = signals.layout(llmscale::BucketedHistogram::ttft);
  const llmscale::BucketCounts& ttft = signals.totals().buckets[static_cast<std::size_t>(llmscale::BucketedHistogram::ttft)];
  double observed = 0, misses = 0;
  const std::uint32_t epoch = signals.totals().layout_epoch[static_cast<std::size_t>(llmscale::BucketedHistogram::ttft)];
  if (layout.size > 0 && epoch == last_ttft_epoch) {
    llmscale::BucketCounts d{};
    for (std::size_t i = 0; i < layout.size; ++i) d[i] = ttft[i] - last_ttft[i];
    observed = d[layout.size - 1];
    misses = observed - llmscale::bucket_count_below(layout.le.data(), d.data(), layout.size, opt.slo_ttft_s);
  }
  last_ttft = ttft;
  last_ttft_epoch = epoch;
  last_decided = t;
  decided_once = true;
  shadow.tick(desired, fleet.current(), dt, observed, misses, opt.hpa_tolerance);
  if (opt.shadow && ++ticks_since_shadow_log * opt.tick_s >= 60.0) {  // once a minute
    ticks_since_shadow_log = 0;
    log::write(log::Level::info, shadow.line());
  }
  if (!record) return;
  const double unix_now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto w = windows->tick(unix_now, signals, s, fleet, desired)) {
    std::string error;
    const bool written = record->append(format_record_row(*w), error);
    if (!error.empty()) {
      log::limited(log::Level::warn, "record:" + record->path(),
                   "--record " + record->path() + ": " + error + (written ? "" : " (this window is lost; the next is tried)"));
    }
  }
}

std::uint64_t Scaler::Impl::total_errors() const {
  std::uint64_t e = 0;
  for (auto x : errors) e += x;
  return e;
}

// ---- Scaler ------------------------------------------------------------------------------------

Scaler::Scaler(const Options& options) : impl_(new Impl(options, detail::configs_for(options))) {}

Scaler::~Scaler() { stop(); }

namespace {

// An exception out of a handler (std::bad_alloc, say) is logged and the loop goes on; what it
// interrupted (a round that never finishes) then shows as a stale decision: /healthz 503 and
// GetMetrics UNAVAILABLE, so the liveness probe restarts the pod and KEDA falls back meanwhile.
void run_logged(asio::io_context& io, const char* loop) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      log::write(log::Level::error, std::string(loop) + ": " + e.what());
    }
  }
}

}  // namespace

void Scaler::start() {
  Impl& s = *impl_;
  if (s.started) return;
  s.owner = this;
  if (!s.opt.headless) {  // a metadata fleet is served by its parent's listeners
    s.listen_http();      // throws when it cannot bind
    s.keda = std::make_unique<KedaServer>(*this);
    s.keda->start();  // throws when it cannot bind
    asio::post(s.http_io, [&s] { s.accept(); });
  }
  s.next_tick = SteadyClock::now();
  s.last_tick_ns = ns_since_epoch(s.next_tick);
  asio::post(s.io, [&s] {
    s.on_tick();
    s.schedule_tick();
  });
  s.started = true;
  s.io_thread = std::thread([&s] {
    const log::Context context(s.opt.fleet.empty() ? "" : "fleet " + s.opt.fleet);
    run_logged(s.io, "the tick loop");
  });
  if (!s.opt.headless) s.http_thread = std::thread([&s] { run_logged(s.http_io, "the HTTP loop"); });
}

void Scaler::stop() {
  Impl& s = *impl_;
  const log::Context context(s.opt.fleet.empty() ? log::detail::context : "fleet " + s.opt.fleet);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.cv.notify_all();
  if (s.keda) s.keda->stop();
  if (s.fleets) s.fleets->stop();
  if (s.started) {
    asio::post(s.http_io, [&s] {
      boost::system::error_code ignored;
      s.http_acceptor.close(ignored);
      s.accept_backoff.cancel();
    });
    asio::post(s.io, [&s] { s.tick_timer.cancel(); });
    s.io.stop();
    s.http_io.stop();
    if (s.io_thread.joinable()) s.io_thread.join();
    if (s.http_thread.joinable()) s.http_thread.join();
    if (!s.opt.state_file.empty() && s.pub.ticks > 0) s.save_state_file();  // the tick thread has ended
    if (s.opt.shadow) log::write(log::Level::info, s.shadow.line());
  }
}

unsigned short Scaler::http_port() const { return impl_->bound_http_port; }
int Scaler::grpc_port() const { return impl_->keda ? impl_->keda->port() : 0; }
const Options& Scaler::options() const { return impl_->opt; }
ServeCounters& Scaler::counters() const { return impl_->counters; }

void Scaler::run_on_tick_thread(std::function<void()> f) { asio::post(impl_->io, std::move(f)); }

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

bool Scaler::healthy() const { return health_problem().empty(); }

std::string Scaler::health_problem() const {
  const Impl& s = *impl_;
  const double limit = 3.0 * s.opt.tick_s + 1.0;  // three ticks, and a second for a slow round
  const auto now = SteadyClock::now();
  const double tick_age = std::chrono::duration<double>(std::chrono::nanoseconds(ns_since_epoch(now) - s.last_tick_ns.load())).count();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.stopping) return "stopping";
  char why[160];
  if (tick_age > limit) {
    std::snprintf(why, sizeof why, "the tick loop has not run for %.1f s (stalled)", tick_age);
    return why;
  }
  if (!s.own_fleet) return s.accepting ? "" : "the HTTP accept loop has stopped";
  if (!s.pub.decided) return "no decision yet (the endpoint list is not known yet, or the first round has not ended)";
  const double decided_age = std::chrono::duration<double>(now - s.pub.decided_at).count();
  if (decided_age > limit) {
    std::snprintf(why, sizeof why, "no decision within three ticks: the last one is %.1f s old", decided_age);
    return why;
  }
  if (!s.accepting && !s.opt.headless) return "the HTTP accept loop has stopped";
  return "";
}

std::string Scaler::metrics_text() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->metrics_text;
}

std::string Scaler::metrics_page() const {
  if (!impl_->fleets) return metrics_text();
  std::vector<std::string> pages{metrics_text()};
  for (std::string& p : impl_->fleets->pages()) pages.push_back(std::move(p));
  return merge_pages(pages);
}

Scaler::Route Scaler::route(const std::string& ns, const std::string& name, const std::map<std::string, std::string>& metadata) {
  Route r;
  if (!impl_->fleets && describes_fleet(metadata)) {
    // fleet metadata sent to a one-fleet scaler: say so, rather than serve another fleet's count
    const auto key = std::find_if(metadata.begin(), metadata.end(), [](const auto& kv) {
      return describes_fleet(std::map<std::string, std::string>{kv});
    });
    r.why = "scalerMetadata key '" + key->first + "': this scaler serves its command-line fleet only (start it with --fleets N)";
    return r;
  }
  if (!impl_->fleets || !beyond_keda(metadata)) {
    if (impl_->own_fleet) {
      r.scaler = this;
      return r;
    }
    r.why = impl_->fleets ? "this scaler's fleets come from scalerMetadata: give the ScaledObject's trigger endpoints (and its policy)"
                          : "this scaler has no fleet";
    return r;
  }
  Fleets::Found f = impl_->fleets->find(ns, name, metadata);
  r.exhausted = f.code == Fleets::Code::exhausted;
  r.unavailable = f.code == Fleets::Code::starting;
  r.why = std::move(f.message);
  r.keep = std::move(f.scaler);
  r.scaler = r.keep.get();
  return r;
}

}  // namespace llmscale_scaler
