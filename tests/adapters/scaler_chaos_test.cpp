// llmscale-scaler against broken and hostile peers, over loopback, in-process: engines that are
// down, hang, drip bytes, send 50 MB pages, impossible figures, duplicate series, restart, or
// flip between two replicas; 1,000 half-open HTTP connections and 1,000 KEDA streams at once;
// the process out of file descriptors; a stalled tick loop. What must hold: memory and threads
// stay bounded, /healthz and /metrics answer afterwards (and /healthz says 503 while the loop
// is stalled), the fleet is never scaled down on stale data, the flipping endpoint's rate is
// read within 2x of the truth, and each problem is logged once, not once a tick.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "adapters/fake_engines.hpp"
#include "externalscaler.grpc.pb.h"
#include "log.hpp"
#include "scaler.hpp"

namespace es = externalscaler;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LLMSCALE_CHAOS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LLMSCALE_CHAOS_SANITIZED 1
#endif
#endif

namespace {

using llmscale_test::eventually;

// A figure of /proc/self/status (VmRSS in kB, Threads).
long proc_status(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::string(key).size());
  }
  return -1;
}

// The scaler's log, captured.
class LogCapture {
 public:
  LogCapture() {
    llmscale_scaler::log::set_sink([this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { llmscale_scaler::log::set_sink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  /// Lines holding every one of `parts`.
  std::size_t count(const std::vector<std::string>& parts) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
      return std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return l.find(p) != std::string::npos; });
    }));
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    for (const auto& l : lines_) s += l + "\n";
    return s;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// GET http://127.0.0.1:port/path within `timeout`; the body, and the status (0: no answer).
std::string http_get(unsigned short port, const std::string& path, int* status, std::chrono::milliseconds timeout = 1000ms) {
  namespace http = boost::beast::http;
  *status = 0;
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  std::string body;
  stream.async_connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), [&](const boost::system::error_code& ec) {
    if (ec) return;
    auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, path, 11);
    req->set(http::field::host, "127.0.0.1");
    http::async_write(stream, *req, [&, req](const boost::system::error_code& wec, std::size_t) {
      if (wec) return;
      auto buffer = std::make_shared<boost::beast::flat_buffer>();
      auto res = std::make_shared<http::response<http::string_body>>();
      http::async_read(stream, *buffer, *res, [&, buffer, res](const boost::system::error_code& rec, std::size_t) {
        if (rec && rec != http::error::end_of_stream) return;
        *status = res->result_int();
        body = res->body();
      });
    });
  });
  io.run();
  return body;
}

int answer(unsigned short port, const std::string& path) {
  int status = 0;
  http_get(port, path, &status);
  return status;
}

double metric(const std::string& page, const std::string& series) {
  const std::size_t at = page.find("\n" + series + " ");
  return at == std::string::npos ? std::nan("") : std::atof(page.c_str() + at + series.size() + 2);
}

// A TCP connection to 127.0.0.1:port that sends nothing; -1 when the process is out of fds.
int connect_silent(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the other side has closed `fd` (EOF or reset), without waiting.
bool closed_by_peer(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// A vLLM page with the figures as text (so that NaN, +Inf and 1e308 can be written), the e2e
// histogram's count and the process start time; `extra` appended.
std::string page(const char* running, const char* waiting, const char* kv, double finished, double start_time,
                 const std::string& extra = "") {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} %s\n"
                "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} %s\n"
                "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} %s\n"
                "vllm:e2e_request_latency_seconds_sum{engine=\"0\",model_name=\"m\"} %.3f\n"
                "vllm:e2e_request_latency_seconds_count{engine=\"0\",model_name=\"m\"} %.0f\n"
                "process_start_time_seconds %.1f\n",
                running, waiting, kv, 0.5 * finished, finished, start_time);
  return buf + extra;
}

llmscale_scaler::Options chaos_options(double tick_s) {
  llmscale_scaler::Options o;
  o.policy = "ray-serve";
  o.tick_s = tick_s;
  o.scrape_timeout_s = 0.8 * tick_s;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.min_replicas = 1;
  o.max_replicas = 64;
  o.quiet = true;
  o.http_read_timeout_s = 1;  // 10 s in production; the test waits for the reaping
  // no stabilization: a scale-down on believed data would show at once
  o.sets = {"ray_serve.look_back_period_s=1",      "ray_serve.upscale_delay_s=0",         "ray_serve.downscale_delay_s=0",
            "ray_serve.target_ongoing_requests=2", "governor.scale_up_stabilization_s=0", "governor.scale_down_stabilization_s=0",
            "signals.window_s=3",                  "signals.granularity_s=0.25",          "signals.stale_after_s=1"};
  return o;
}

void add(llmscale_scaler::Options& o, const std::string& endpoint) {
  std::string error;
  o.endpoints.push_back(*llmscale_scaler::parse_endpoint(endpoint, error));
}

// n StreamIsActive calls held open at once (the async API: one thread drives them all), as a
// misbehaving client would.
class StreamFlood {
 public:
  StreamFlood(es::ExternalScaler::Stub& stub, int n) : calls_(static_cast<std::size_t>(n)) {
    es::ScaledObjectRef ref;
    ref.set_name("flood");
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      calls_[i].reader = stub.PrepareAsyncStreamIsActive(&calls_[i].ctx, ref, &cq_);
      calls_[i].reader->StartCall(tag(i, 0));
    }
    driver_ = std::thread([this] { drive(); });
  }
  ~StreamFlood() { stop(); }
  StreamFlood(const StreamFlood&) = delete;
  StreamFlood& operator=(const StreamFlood&) = delete;

  [[nodiscard]] int finished() const { return finished_.load(); }
  [[nodiscard]] int exhausted() const { return exhausted_.load(); }  ///< RESOURCE_EXHAUSTED
  [[nodiscard]] int answered() const { return answered_.load(); }    ///< calls that got a value pushed
  [[nodiscard]] int size() const { return static_cast<int>(calls_.size()); }

  void stop() {
    if (!driver_.joinable()) return;
    for (Call& c : calls_) c.ctx.TryCancel();
    eventually([&] { return finished() == size(); }, 10000ms);
    cq_.Shutdown();
    driver_.join();
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    es::IsActiveResponse message;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncReader<es::IsActiveResponse>> reader;
    bool answered = false;
  };
  static void* tag(std::size_t i, std::size_t kind) { return reinterpret_cast<void*>(i * 4 + kind + 4); }

  void drive() {
    void* t = nullptr;
    bool ok = false;
    while (cq_.Next(&t, &ok)) {
      const std::size_t v = reinterpret_cast<std::size_t>(t) - 4, i = v / 4, kind = v % 4;
      Call& c = calls_[i];
      if (kind == 2) {
        ++finished_;
        if (c.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++exhausted_;
      } else if (ok) {
        if (kind == 1 && !c.answered) {
          c.answered = true;
          ++answered_;
        }
        c.reader->Read(&c.message, tag(i, 1));
      } else {
        c.reader->Finish(&c.status, tag(i, 2));
      }
    }
  }

  grpc::CompletionQueue cq_;
  std::vector<Call> calls_;
  std::atomic<int> finished_{0}, exhausted_{0}, answered_{0};
  std::thread driver_;
};

}  // namespace

TEST_CASE("scaler chaos: broken engines, 50 MB pages, 1,000 half-open connections and 1,000 KEDA streams") {
  // enough descriptors for 1,000 connections and their server side (or as many as allowed)
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  const rlimit saved = fds;
  fds.rlim_cur = std::min<rlim_t>(fds.rlim_max, 8192);
  setrlimit(RLIMIT_NOFILE, &fds);
  const int half_open = static_cast<int>(std::min<rlim_t>(1000, fds.rlim_cur > 600 ? fds.rlim_cur - 400 : 100));

  enum : std::size_t { e_down, e_hang, e_drip, e_nan, e_inf, e_1e308, e_duplicate, e_restart, e_flip, e_declared, e_huge };
  constexpr std::size_t huge_count = 16, n = e_huge + huge_count;
  llmscale_test::FakeEngines engines(n);
  engines.down(e_down);
  engines.behave(e_hang, llmscale_test::Behaviour::hang);
  engines.behave(e_drip, llmscale_test::Behaviour::drip);
  engines.set_page(e_nan, page("NaN", "0", "0.1", 10, 1.7e9));
  engines.set_page(e_inf, page("0", "0", "+Inf", 10, 1.7e9));
  engines.set_page(e_1e308, page("1e308", "0", "0.1", 10, 1.7e9));
  engines.set_page(e_duplicate, page("1", "0", "0.1", 10, 1.7e9, "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1\n"));
  engines.behave(e_declared, llmscale_test::Behaviour::huge_declared);
  for (std::size_t i = e_huge; i < n; ++i) engines.behave(i, llmscale_test::Behaviour::huge);
  const auto t0 = Clock::now();
  const auto since = [t0] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  // restarts every 1.5 s: a new start time, counters from 0 again
  engines.set_generator(e_restart, [&] {
    const double t = since();
    const double phase = std::floor(t / 1.5);
    return page("0", "0", "0.1", std::floor(2 * (t - 1.5 * phase)), 1.7e9 + phase);
  });
  // a Service in front of two replicas: each scrape reaches the other one (different counters
  // and start times). The truth: 30 + 10 requests per second.
  constexpr double rate_a = 30, rate_b = 10;
  auto flips = std::make_shared<int>(0);
  engines.set_generator(e_flip, [&, flips] {
    const double t = since();
    return (*flips)++ % 2 == 0 ? page("0", "0", "0.1", 5000 + std::floor(rate_a * t), 1.7e9)
                               : page("0", "0", "0.1", 200 + std::floor(rate_b * t), 1.7e9 + 3600);
  });

  LogCapture log;
#ifdef LLMSCALE_CHAOS_SANITIZED
  llmscale_scaler::Options o = chaos_options(0.5);  // sanitizers slow the rounds of 2 MiB pages 2-3x
#else
  llmscale_scaler::Options o = chaos_options(0.25);
#endif
  o.max_page_bytes = 2u << 20;
  for (std::size_t i = 0; i < n; ++i) add(o, engines.endpoint(i));
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  REQUIRE(eventually([&] { return scaler.published().decided; }));
  const long rss_start = proc_status("VmRSS:"), threads_start = proc_status("Threads:");

  // watch memory, threads and the decision all along
  std::atomic<bool> watching{true};
  std::atomic<long> rss_peak{rss_start}, threads_peak{threads_start};
  std::atomic<int> lowest_desired{1 << 30};
  std::thread watcher([&] {
    while (watching) {
      rss_peak = std::max(rss_peak.load(), proc_status("VmRSS:"));
      threads_peak = std::max(threads_peak.load(), proc_status("Threads:"));
      const llmscale_scaler::Published p = scaler.published();
      if (p.decided) lowest_desired = std::min(lowest_desired.load(), p.desired);
      std::this_thread::sleep_for(25ms);
    }
  });

  // 1,000 connections that never send a request
  std::vector<int> silent;
  for (int i = 0; i < half_open; ++i) {
    const int fd = connect_silent(scaler.http_port());
    if (fd >= 0) silent.push_back(fd);
  }
  CHECK(static_cast<int>(silent.size()) == half_open);

  // 1,000 KEDA streams at once, and KEDA's own calls still answered meanwhile
  auto stub = es::ExternalScaler::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(scaler.grpc_port()), grpc::InsecureChannelCredentials()));
  StreamFlood flood(*stub, 1000);
  CHECK(eventually([&] { return flood.finished() >= flood.size() - o.grpc_streams_max; }, 20000ms));
  const auto keda_metric = [&]() -> long {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    es::GetMetricsRequest req;
    req.set_metricname("llmscale_desired_replicas");
    es::GetMetricsResponse res;
    const grpc::Status s = stub->GetMetrics(&ctx, req, &res);
    return s.ok() && res.metricvalues_size() == 1 ? static_cast<long>(res.metricvalues(0).metricvalue()) : -1;
  };
  CHECK(eventually([&] { return keda_metric() >= static_cast<long>(n); }, 3000ms));
  CHECK(flood.answered() <= o.grpc_streams_max);
  CHECK(flood.exhausted() >= flood.size() - o.grpc_streams_max);
  CHECK(threads_peak.load() - threads_start < 200);  // one thread per stream would be 1,000

  // the big pages go on for a few rounds
  std::this_thread::sleep_for(2500ms);

  // the silent connections: closed at once beyond the cap, reaped after the read timeout
  CHECK(eventually([&] { return std::all_of(silent.begin(), silent.end(), closed_by_peer); }, 4000ms));
  for (int fd : silent) ::close(fd);
  CHECK(eventually([&] { return answer(scaler.http_port(), "/healthz") == 200; }, 3000ms));
  CHECK(eventually([&] { return answer(scaler.http_port(), "/metrics") == 200; }, 3000ms));
  flood.stop();
  watching = false;
  watcher.join();

  int status = 0;
  const std::string m = http_get(scaler.http_port(), "/metrics", &status);
  REQUIRE(status == 200);
  const double mib = 1 << 20;
  const double rss_growth_mb = static_cast<double>(rss_peak.load() - rss_start) / 1024.0;
  MESSAGE("RSS ", rss_start / 1024, " MB at the start, peak ", rss_peak.load() / 1024, " MB (+", rss_growth_mb, " MB); threads ",
          threads_start, " -> peak ", threads_peak.load(), "; pooled page buffers ", metric(m, "llmscale_scrape_buffer_bytes") / mib,
          " MiB; 50 MB pages: ", engines.huge_written() / mib, " MiB written; rounds ", metric(m, "llmscale_scrape_round_seconds"),
          " s, flip endpoint's failed scrapes ",
          metric(m, "llmscale_endpoint_scrape_errors_total{endpoint=\"" + engines.endpoint(e_flip) + "\"}"));
  // Memory: pages in flight are at most 27 x 2 MiB (their strings may double once while they
  // grow): well under the 300 MB allowed above the start, and buffers kept between rounds shrink
  // back (16 x 2 MiB if they did not).
#ifndef LLMSCALE_CHAOS_SANITIZED
  CHECK(rss_growth_mb < 300);
#endif
  CHECK(metric(m, "llmscale_scrape_buffer_bytes") < 8 * mib);
  CHECK(metric(m, "llmscale_scrape_errors_total{reason=\"too_large\"}") >= huge_count);
  // no scale-down on stale data: the dead, hanging and lying engines are stale, so the fleet
  // (27 listed) is held although the believed load asks for 1
  CHECK(lowest_desired.load() >= static_cast<int>(n));
  CHECK(metric(m, "llmscale_signal_stale{signal=\"engine\"}") == 1);
  // the flipping endpoint: both replicas' requests, not a counter reset per scrape
  // the median of a few readings a tick apart, so that one round whose flip scrape timed out
  // (its requests then counted a round later) does not decide
  std::vector<double> arrivals;
  for (int i = 0; i < 5; ++i) {
    arrivals.push_back(metric(http_get(scaler.http_port(), "/metrics", &status), "llmscale_signal{name=\"arrival_rate\"}"));
    std::this_thread::sleep_for(std::chrono::duration<double>(o.tick_s));
  }
  std::sort(arrivals.begin(), arrivals.end());
  const double arrival = arrivals[2];
  CHECK_MESSAGE((arrival > (rate_a + rate_b) / 2 && arrival < 2 * (rate_a + rate_b)), "arrival rate ", arrival);
  CHECK(metric(m, "llmscale_scrapes_implausible_total") >= 3);
  CHECK(metric(m, "llmscale_counter_series_changes_total") >= 2);
  CHECK(metric(m, "llmscale_http_sessions_refused_total") >= half_open - o.http_sessions_max - 10);
  // the service refuses the streams that reach it over the cap; gRPC's thread quota refuses
  // the rest before they do (both RESOURCE_EXHAUSTED, counted above on the client's side)
  CHECK(metric(m, "llmscale_keda_streams_refused_total") >= 1);

  // each problem once in the log, with the endpoint and what is wrong
  const auto once = [&](std::size_t i, const std::vector<std::string>& words) {
    std::vector<std::string> parts{engines.endpoint(i)};
    CHECK_MESSAGE(log.count(parts) == 1, engines.endpoint(i), " logged ", log.count(parts), " times:\n", log.all());
    parts.insert(parts.end(), words.begin(), words.end());
    CHECK_MESSAGE(log.count(parts) == 1, engines.endpoint(i), " not logged with its reason:\n", log.all());
  };
  once(e_down, {"down from its first scrape", "connect"});
  once(e_hang, {"timeout"});
  once(e_drip, {"timeout"});
  once(e_nan, {"unusable"});
  once(e_inf, {"not believed", "KV"});
  once(e_1e308, {"not believed", "running"});
  once(e_duplicate, {"not believed", "twice"});
  once(e_declared, {"too_large"});
  for (std::size_t i = e_huge; i < n; ++i) once(i, {"down from its first scrape"});
  once(e_restart, {"counters continue none"});
  once(e_flip, {"counters continue none"});
  CHECK(log.count({"HTTP: a connection closed at once"}) == 1);
  CHECK(log.count({"StreamIsActive refused"}) == 1);
  scaler.stop();
  setrlimit(RLIMIT_NOFILE, &saved);
}

TEST_CASE("scaler chaos: out of file descriptors, the HTTP accept loop backs off, then serves what queued") {
  llmscale_test::FakeEngines engines(1);
  LogCapture log;
  llmscale_scaler::Options o = chaos_options(0.1);
  add(o, engines.endpoint(0));
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  REQUIRE(eventually([&] { return answer(scaler.http_port(), "/healthz") == 200; }));

  // UBSan's vptr check opens a pipe the first time it meets a type: with no descriptor left it
  // would report the error categories the failing calls use. Meet them now.
  for (const boost::system::error_category* c :
       {&boost::system::system_category(), &boost::system::generic_category(), &boost::asio::error::get_misc_category(),
        &boost::beast::http::make_error_code(boost::beast::http::error::body_limit).category(),
        &boost::beast::make_error_code(boost::beast::error::timeout).category()}) {
    const boost::system::error_code ec(EMFILE, *c);
    CHECK_FALSE(ec.message().empty());
    CHECK_FALSE(ec == boost::beast::error::timeout);
    CHECK_FALSE(ec == boost::beast::http::error::body_limit);
    CHECK(ec.category() == *c);
  }
  // sockets made while descriptors remain, connected once none do: the scaler cannot accept them
  std::vector<int> queued;
  for (int i = 0; i < 4; ++i) queued.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  const rlimit saved = fds;
  int highest = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d)) highest = std::max(highest, std::atoi(e->d_name));
    ::closedir(d);
  }
  fds.rlim_cur = static_cast<rlim_t>(highest + 64);
  setrlimit(RLIMIT_NOFILE, &fds);
  std::vector<int> fillers;  // every descriptor below the limit taken
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  CHECK(errno == EMFILE);
  const std::uint64_t errors_before = scaler.counters().http_accept_errors.load();
  for (int fd : queued) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(scaler.http_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  // accept() fails (EMFILE) and is retried every 100 ms, not given up
  const bool failed_again = eventually([&] { return scaler.counters().http_accept_errors.load() >= errors_before + 3; }, 3000ms);
  for (int fd : fillers) ::close(fd);
  setrlimit(RLIMIT_NOFILE, &saved);
  CHECK(failed_again);

  // descriptors again: the queued connections are served, and new ones
  const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(::send(queued[0], request, sizeof request - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof request - 1));
  timeval tv{3, 0};
  setsockopt(queued[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char reply[256] = {};
  CHECK(::recv(queued[0], reply, sizeof reply - 1, 0) > 0);
  CHECK(std::string(reply).rfind("HTTP/1.1 ", 0) == 0);
  for (int fd : queued) ::close(fd);
  CHECK(eventually([&] { return answer(scaler.http_port(), "/healthz") == 200; }, 3000ms));
  CHECK(log.count({"HTTP accept failed", "Too many open files"}) == 1);
  scaler.stop();
}

TEST_CASE("scaler chaos: a stalled tick loop: /healthz answers 503 and says why, then 200 once it runs again") {
  llmscale_test::FakeEngines engines(1);
  llmscale_scaler::Options o = chaos_options(0.1);
  add(o, engines.endpoint(0));
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  REQUIRE(eventually([&] { return answer(scaler.http_port(), "/healthz") == 200; }));
  scaler.run_on_tick_thread([] { std::this_thread::sleep_for(2500ms); });  // a loop stuck (a slow disk, a bug)
  const auto stalled = Clock::now();
  std::string body;
  CHECK(eventually([&] {
    int status = 0;
    body = http_get(scaler.http_port(), "/healthz", &status, 500ms);
    return status == 503;
  }, 2000ms));
  CHECK(body.find("tick loop") != std::string::npos);
  CHECK(Clock::now() - stalled < 2400ms);  // told while stalled, not after
  CHECK_FALSE(scaler.healthy());           // KEDA's GetMetrics: UNAVAILABLE, its fallback
  CHECK(eventually([&] { return answer(scaler.http_port(), "/healthz") == 200; }, 4000ms));
  scaler.stop();
}

TEST_CASE("scaler chaos: a page declaring 50 MB is refused at its headers, never read") {
  // Beast 1.74 loses the body-limit error when the first body bytes come with the headers (as
  // on loopback, nearly always): the scaler read such pages in full before it checked itself.
  llmscale_test::FakeEngines engines(1);
  engines.behave(0, llmscale_test::Behaviour::huge_declared);
  llmscale_scaler::Options o = chaos_options(0.1);
  add(o, engines.endpoint(0));
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  std::string m;
  CHECK(eventually([&] {
    int status = 0;
    m = http_get(scaler.http_port(), "/metrics", &status);
    return metric(m, "llmscale_scrape_errors_total{reason=\"too_large\"}") >= 8;
  }));
  CHECK(metric(m, "llmscale_scrape_errors_total{reason=\"unusable\"}") == 0);  // read, then found to be no page
  CHECK(metric(m, "llmscale_scrape_errors_total{reason=\"timeout\"}") == 0);   // or still reading it at the deadline
  scaler.stop();
}
