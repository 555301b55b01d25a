// llmscale-scaler's insides, shared by its translation units (scaler.hpp says what runs where):
// scaler.cpp (the policy, the endpoint list, the tick and the decision), scrape.cpp (one page
// per engine per tick), metrics_page.cpp (/metrics), http_server.cpp (the HTTP listener) and
// options.cpp (the command line).
#ifndef LLMSCALE_TOOLS_SCALER_IMPL_HPP
#define LLMSCALE_TOOLS_SCALER_IMPL_HPP

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "fleets.hpp"
#include "keda_service.hpp"
#include "record.hpp"
#include "shadow.hpp"
#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/adapters/scraped_signals.hpp"
#include "llmscale/adapters/starting_replicas.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/policy/registry.hpp"
#include "llmscale/signals/collector.hpp"
#include "scaler.hpp"

namespace llmscale_scaler {

using SteadyClock = std::chrono::steady_clock;

namespace detail {

// options.cpp
double number(const std::string& flag, const std::string& v, double lo, double hi);
long long whole(const std::string& flag, const std::string& v, long long lo, long long hi);
std::string read_file(const std::string& path);
/// --grpc-listen / --http-listen's ADDRESS:PORT; throws UsageError.
boost::asio::ip::tcp::endpoint listen_endpoint(const std::string& flag, const std::string& text);

// metrics_page.cpp: Prometheus text-format lines
void gauge(std::string& out, const char* name, const std::string& labels, double v);
void help(std::string& out, const char* name, const char* type, const char* text);
std::string label_value(std::string_view v);

/// Every --set-able config: the signals, the governor and each policy's (the registry's).
struct Configs {
  llmscale::SignalsConfig signals;
  llmscale::GovernorConfig governor;
  llmscale::PolicyConfigs policies;
};

/// Policy-specific gauges for /metrics (PID terms, forecasts; scaler.cpp).
void policy_metrics(llmscale::AnyAutoscaler& scaler, std::string& out);

enum Reason : std::size_t { r_resolve, r_connect, r_timeout, r_http_status, r_too_large, r_read, r_unusable, reason_count };
constexpr std::array<const char*, reason_count> reason_names{"resolve", "connect", "timeout", "http_status", "too_large", "read", "unusable"};

}  // namespace detail

struct Scaler::Impl {
  struct Target {
    Endpoint endpoint;
    std::size_t slot = 0;
    /// unknown until the first scrape: an engine bad from the start is logged as such
    enum class State : unsigned char { unknown, up, down } state = State::unknown;
    std::uint64_t errors = 0;
    [[nodiscard]] bool up() const { return state == State::up; }
  };

  Impl(const Options& o, const detail::Configs& c);

  Options opt;
  Scaler* owner = nullptr;  ///< for KedaServer and /healthz (set by start())
  llmscale::EngineMetricMap map;
  SteadyClock::time_point origin = SteadyClock::now();
  std::optional<llmscale::AnyAutoscaler> policy;  ///< set in the constructor
  llmscale::ScrapedSignals signals;
  llmscale::PrometheusParser parser;
  ServeCounters counters;

  // the tick loop's thread
  boost::asio::io_context io;
  boost::asio::steady_timer tick_timer{io};
  SteadyClock::time_point next_tick;
  std::thread io_thread;
  std::atomic<std::int64_t> last_tick_ns{0};  ///< SteadyClock, when on_tick last ran (read by healthy())

  // the HTTP thread
  boost::asio::io_context http_io;
  boost::asio::ip::tcp::acceptor http_acceptor{http_io};
  boost::asio::steady_timer accept_backoff{http_io};
  int accept_errors_in_a_row = 0;
  std::atomic<bool> accepting{false};
  unsigned short bound_http_port = 0;
  std::thread http_thread;

  std::unique_ptr<KedaServer> keda;
  bool started = false;
  /// false for a scaler whose only fleets come from KEDA's metadata (--fleets, no endpoints)
  bool own_fleet = true;
  std::unique_ptr<Fleets> fleets;  ///< --fleets

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
  std::array<std::uint64_t, detail::reason_count> errors{};
  std::uint64_t scrapes = 0, overruns = 0, file_errors = 0, slots_exhausted = 0;
  llmscale::StartingReplicas starting;

  // --record and --shadow (the tick thread)
  std::optional<RecordFile> record;
  std::optional<WindowRecorder> windows;
  ShadowSummary shadow;
  llmscale::BucketCounts last_ttft{};  ///< the TTFT buckets' totals at the previous decision
  std::uint32_t last_ttft_epoch = 0;   ///< their layout's epoch then
  llmscale::TimePoint last_decided{};
  bool decided_once = false;
  std::uint64_t ticks_since_shadow_log = 0;
  void account(const llmscale::Signals& s, const llmscale::FleetState& fleet, int desired);

  // --state-file (state_file.cpp): loaded by the constructor, written by the tick thread
  std::uint64_t ticks_since_save = 0, state_saves = 0, state_save_errors = 0;
  bool state_loaded = false;
  void load_state_file();
  void save_state_file();

  // Page buffers, reused from scrape to scrape (no allocation per page once warm). One that a
  // big page grew is released when it comes back (recycle()), so that memory follows the
  // pages in flight, not the biggest page ever seen.
  // The wire buffer holds the headers and one read's worth of body at a time (the body moves on
  // to `body`, at most max_page_bytes): its limit stops a header or chunk line that never ends.
  static constexpr std::size_t wire_limit = 256 * 1024;
  struct PageBuffers {
    boost::beast::flat_buffer wire{wire_limit};
    std::string body;
  };
  std::vector<std::unique_ptr<PageBuffers>> buffer_pool;
  double typical_page_bytes = 0;  ///< a moving mean of usable pages' sizes

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  Published pub;
  bool stopping = false;
  std::string metrics_text = "# no decision yet\n";

  [[nodiscard]] llmscale::TimePoint now() const {
    return llmscale::TimePoint(std::chrono::duration_cast<llmscale::Duration>(SteadyClock::now() - origin));
  }

  // -- endpoints (scaler.cpp) --
  void note_file_state();
  void reload_if_changed();
  void set_targets(const EndpointList& list);

  // -- the tick and the decision (scaler.cpp) --
  void schedule_tick();
  void on_tick();
  void finish_round();
  void decide();
  [[nodiscard]] std::uint64_t total_errors() const;

  // -- scrapes (scrape.cpp) --
  void launch_next();
  void scraped(std::size_t index, bool ok, detail::Reason why, std::unique_ptr<PageBuffers> page);
  void recycle(std::unique_ptr<PageBuffers> page);
  [[nodiscard]] std::size_t pooled_bytes() const;

  // -- /metrics (metrics_page.cpp) --
  std::string render(const llmscale::Decision& d, const llmscale::Signals& s, const llmscale::FleetState& fleet, bool active);
  void render_listeners(std::string& out);  ///< the scaler-wide series (HTTP, KEDA, fleets)

  // -- the HTTP listener (http_server.cpp) --
  void listen_http();  ///< binds; throws std::runtime_error
  void accept();
  void accept_failed(const boost::system::error_code& ec);
};

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_SCALER_IMPL_HPP
