// llmscale-scaler: the Kubernetes path. Scrapes the engines' Prometheus pages every tick, feeds
// ScrapedSignals, runs the configured Autoscaler and publishes the decision: to KEDA over its
// external-scaler gRPC service (keda_service.hpp), on /metrics and /healthz, and as one JSON
// line per tick on stdout. docs/kubernetes.md is the user's guide.
//
// Threads: one I/O thread runs the tick timer and the scrapes (Boost.Beast, with a deadline and a
// concurrency limit); it alone touches the signals and the autoscaler. A second one serves HTTP,
// so that /healthz can say the tick loop has stalled rather than stall with it. gRPC's threads
// (at most grpc_streams_max + 16) and the HTTP thread read the published state under a mutex.
//
// Against broken or hostile peers, memory and threads are bounded by the options: pages by
// max_page_bytes (at most scrape_concurrency in flight; buffers kept between rounds shrink
// back to max(1 MiB, twice the typical page)), HTTP connections by http_sessions_max and
// http_read_timeout_s, KEDA streams by grpc_streams_max (docs/kubernetes.md, "Memory").
#ifndef LLMSCALE_TOOLS_SCALER_HPP
#define LLMSCALE_TOOLS_SCALER_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "endpoints.hpp"
#include "llmscale/core/decision.hpp"

namespace llmscale_scaler {

/// A mistake on the command line or in a file named there: the tool exits 2 with the message.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Options {
  std::vector<Endpoint> endpoints;  ///< --endpoints
  std::string endpoints_file;       ///< --endpoints-file (re-read when it changes)
  std::string engine = "vllm";      ///< --engine preset
  std::string engine_map_file;      ///< --engine-map key=value file (instead of a preset)
  std::string policy = "llmd-saturation";
  std::string profile, model = "llama2-70b", hardware = "h100-80gb";
  int tp = 4;
  int min_replicas = 1;
  int max_replicas = 64;
  std::vector<std::string> sets;  ///< name.key=value
  double tick_s = 1.0;
  double scrape_timeout_s = 0.5;
  int scrape_concurrency = 32;
  std::size_t max_page_bytes = 8u << 20;
  std::int64_t kv_capacity_tokens = 1'000'000;
  int replica_slots = 1024;
  std::string grpc_listen = "0.0.0.0:9090";
  std::string http_listen = "0.0.0.0:8080";
  std::string tls_cert, tls_key, tls_client_ca;
  std::string metric_name = "llmscale_desired_replicas";
  bool quiet = false;   ///< no JSON lines on stdout
  double run_for_s = 0; ///< stop after this long (0: until SIGTERM/SIGINT)
  std::string state_file;         ///< --state-file: the policy's learned state, kept across restarts
  int state_every = 60;           ///< --state-every: ticks between writes (and one at stop)
  double state_max_age_s = 86400; ///< --state-max-age: an older file is not loaded
  std::string record_file;                 ///< --record: one CSV row per window (record.hpp)
  double record_window_s = 60;             ///< --record-window
  std::uintmax_t record_max_bytes = 64u << 20;  ///< --record-max-bytes: then FILE becomes FILE.1
  bool shadow = false;        ///< --shadow: decide and expose, but answer KEDA with the current count
  double slo_ttft_s = 2;      ///< --slo-ttft: the TTFT target the shadow summary counts misses against
  double hpa_tolerance = 0.1; ///< --hpa-tolerance: the HPA's, to count the decisions it would swallow
  int fleets = 0;             ///< --fleets: the most fleets served from KEDA's scalerMetadata (0: none; fleets.hpp)
  std::string fleet_dir;      ///< --fleet-dir: where metadata fleets' profiles, records and states are
  double fleet_idle_s = 600;  ///< a metadata fleet KEDA has not asked for this long is stopped
  bool headless = false;      ///< a metadata fleet: no listeners of its own (the parent serves it)
  std::string fleet;          ///< a metadata fleet's NAMESPACE/NAME (its label and log prefix)
  // Limits against broken or hostile peers; not on the command line (the tests lower them).
  int http_sessions_max = 64;       ///< concurrent HTTP connections; more are closed at once (counted)
  double http_read_timeout_s = 10;  ///< a connection's request must arrive within this (half-open ones are reaped)
  int grpc_streams_max = 64;        ///< concurrent StreamIsActive streams; more get RESOURCE_EXHAUSTED
};

/// The command line; throws UsageError. `help` is set for --help (the caller prints usage()).
Options parse_args(const std::vector<std::string>& args, bool& help);
const char* usage();

/// What the scaler has decided, as KEDA and /metrics see it.
struct Published {
  bool decided = false;          ///< at least one decision
  int desired = 0;
  bool active = false;           ///< demand (or stale signals): KEDA's IsActive
  std::uint64_t ticks = 0;
  std::chrono::steady_clock::time_point decided_at{};
  std::uint64_t version = 0;     ///< bumped when `active` changes
};

/// What the listeners refused or failed at, counted from any thread (shown on /metrics).
struct ServeCounters {
  std::atomic<std::uint64_t> http_sessions_refused{0};  ///< over http_sessions_max
  std::atomic<std::uint64_t> http_accept_errors{0};     ///< accept() failed (EMFILE, ...): retried
  std::atomic<std::uint64_t> keda_streams_refused{0};   ///< over grpc_streams_max
  std::atomic<std::uint64_t> keda_requests_invalid{0};  ///< INVALID_ARGUMENT answered
  std::atomic<int> http_sessions_open{0};
  std::atomic<int> keda_streams_open{0};
};

/// The running scaler. Construction checks everything (throws UsageError for what the user
/// must change); start() binds the listeners and starts the threads.
class Scaler {
 public:
  explicit Scaler(const Options& options);
  ~Scaler();
  Scaler(const Scaler&) = delete;
  Scaler& operator=(const Scaler&) = delete;

  /// Binds the HTTP and gRPC listeners (throws std::runtime_error when one cannot bind) and
  /// starts ticking.
  void start();
  /// Stops the tick loop, the listeners and open KEDA streams; idempotent.
  void stop();

  [[nodiscard]] unsigned short http_port() const;
  [[nodiscard]] int grpc_port() const;
  [[nodiscard]] const Options& options() const;

  /// The published state (a copy under the lock).
  [[nodiscard]] Published published() const;
  /// This scaler's own /metrics text (its fleet's series and, unless headless, the listeners').
  [[nodiscard]] std::string metrics_text() const;
  /// What /metrics serves: metrics_text() merged with every metadata fleet's, labelled.
  [[nodiscard]] std::string metrics_page() const;
  /// Where a KEDA call for ScaledObject `ns`/`name` with `metadata` goes: this scaler (its
  /// command-line fleet) or a metadata fleet (fleets.hpp). `scaler` is null and `why` says what is
  /// wrong when neither can serve it (`exhausted`: over --fleets).
  struct Route {
    Scaler* scaler = nullptr;
    std::shared_ptr<Scaler> keep;  ///< holds a metadata fleet while the call uses it
    bool exhausted = false;
    bool unavailable = false;  ///< the fleet is starting: KEDA asks again
    std::string why;
  };
  [[nodiscard]] Route route(const std::string& ns, const std::string& name, const std::map<std::string, std::string>& metadata);
  /// Blocks until `active` differs from `seen_version`'s value, stop(), or `until`; returns
  /// the state then. For StreamIsActive.
  Published wait_for_change(std::uint64_t seen_version, std::chrono::steady_clock::time_point until) const;
  [[nodiscard]] bool stopping() const;
  /// Whether the last decision and the last tick are recent (within three ticks) and the HTTP
  /// accept loop runs: /healthz, and GetMetrics answers UNAVAILABLE otherwise so that KEDA's
  /// fallback takes over.
  [[nodiscard]] bool healthy() const;
  /// What is wrong, in words ("" when healthy()): /healthz's 503 body.
  [[nodiscard]] std::string health_problem() const;
  [[nodiscard]] ServeCounters& counters() const;
  /// Runs `f` on the tick loop's thread (a test stalls the loop with a sleep).
  void run_on_tick_thread(std::function<void()> f);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_SCALER_HPP
