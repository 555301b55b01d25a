// Fake vLLM engines for the scaler's end-to-end test and CPU harness: N HTTP servers on
// loopback (one I/O thread for all), each serving a vLLM-format /metrics page whose running,
// waiting, KV and finished-request figures the test sets as its script goes. An engine can be
// taken down (its listener closed: connections refused) and brought back.
#ifndef LLMSCALE_TESTS_FAKE_ENGINES_HPP
#define LLMSCALE_TESTS_FAKE_ENGINES_HPP

#include <atomic>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace llmscale_test {

struct EngineState {
  double running = 0;
  double waiting = 0;
  double kv = 0;         ///< KV-cache use fraction
  double finished = 0;   ///< requests finished since the engine started (the e2e histogram's count)
  double e2e_sum = 0;    ///< their total end-to-end seconds
};

/// A vLLM page for `s`; `padding_bytes` more of realistic histogram lines (per-model bucket
/// series) so that a page can be as big as a busy engine's.
inline std::string vllm_page(const EngineState& s, std::size_t padding_bytes = 0) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
                "# TYPE vllm:num_requests_running gauge\n"
                "vllm:num_requests_running{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} %.1f\n"
                "# TYPE vllm:num_requests_waiting gauge\n"
                "vllm:num_requests_waiting{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} %.1f\n"
                "# TYPE vllm:kv_cache_usage_perc gauge\n"
                "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} %.4f\n"
                "# TYPE vllm:e2e_request_latency_seconds histogram\n"
                "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"meta-llama/Llama-3.1-8B\"} %.1f\n"
                "vllm:e2e_request_latency_seconds_sum{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} %.6f\n"
                "vllm:e2e_request_latency_seconds_count{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B\"} %.1f\n",
                s.running, s.waiting, s.kv, s.finished, s.e2e_sum, s.finished);
  std::string page = buf;
  static const char* const buckets[] = {"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5",
                                        "0.75",  "1.0",   "2.5",  "5.0",  "7.5",  "10.0", "20.0", "40.0", "80.0", "+Inf"};
  for (int series = 0; page.size() < padding_bytes; ++series) {
    page += "# TYPE vllm:inter_token_latency_seconds histogram\n";
    for (const char* le : buckets) {
      std::snprintf(buf, sizeof buf,
                    "vllm:inter_token_latency_seconds_bucket{engine=\"%d\",le=\"%s\",model_name=\"meta-llama/Llama-3.1-8B\"} %d\n",
                    series, le, 1000 + series);
      page += buf;
    }
  }
  return page;
}

class FakeEngines {
  using tcp = boost::asio::ip::tcp;

 public:
  explicit FakeEngines(std::size_t n, std::size_t padding_bytes = 0) : padding_(padding_bytes) {
    for (std::size_t i = 0; i < n; ++i) {
      engines_.push_back(std::make_unique<Engine>(io_));
      Engine& e = *engines_.back();
      e.acceptor.open(tcp::v4());
      e.acceptor.set_option(boost::asio::socket_base::reuse_address(true));
      e.acceptor.bind(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
      e.acceptor.listen(boost::asio::socket_base::max_listen_connections);
      e.port = e.acceptor.local_endpoint().port();
      pages_.push_back(std::make_shared<const std::string>(vllm_page(EngineState{}, padding_)));
      accept(i);
    }
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeEngines() {
    io_.stop();
    thread_.join();
  }
  FakeEngines(const FakeEngines&) = delete;
  FakeEngines& operator=(const FakeEngines&) = delete;

  [[nodiscard]] std::size_t size() const { return engines_.size(); }
  [[nodiscard]] unsigned short port(std::size_t i) const { return engines_[i]->port; }
  [[nodiscard]] std::string endpoint(std::size_t i) const { return "127.0.0.1:" + std::to_string(port(i)) + "/metrics"; }
  /// Pages served so far (all engines).
  [[nodiscard]] std::uint64_t served() const { return served_.load(); }

  void set(std::size_t i, const EngineState& s) {
    auto page = std::make_shared<const std::string>(vllm_page(s, padding_));
    std::lock_guard<std::mutex> lock(mu_);
    pages_[i] = std::move(page);
  }
  /// Closes engine i's listener: new connections are refused.
  void down(std::size_t i) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      boost::system::error_code ignored;
      engines_[i]->acceptor.close(ignored);
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  struct Engine {
    explicit Engine(boost::asio::io_context& io) : acceptor(io) {}
    tcp::acceptor acceptor;
    unsigned short port = 0;
  };
  struct Session : std::enable_shared_from_this<Session> {
    Session(FakeEngines& o, tcp::socket s, std::shared_ptr<const std::string> p)
        : owner(o), stream(std::move(s)), page(std::move(p)) {}
    FakeEngines& owner;
    boost::beast::tcp_stream stream;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::empty_body> request;
    boost::beast::http::response<boost::beast::http::string_body> response;
    std::shared_ptr<const std::string> page;
    void run() {
      namespace http = boost::beast::http;
      http::async_read(stream, buffer, request, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) return;
        self->response.result(http::status::ok);
        self->response.version(11);
        self->response.set(http::field::content_type, "text/plain; version=0.0.4");
        self->response.body() = *self->page;
        self->response.keep_alive(false);
        self->response.prepare_payload();
        http::async_write(self->stream, self->response, [self](const boost::system::error_code& werr, std::size_t) {
          if (!werr) self->owner.served_.fetch_add(1);
          boost::system::error_code ignored;
          self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        });
      });
    }
  };

  void accept(std::size_t i) {
    engines_[i]->acceptor.async_accept([this, i](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;  // closed: the engine is down
      std::shared_ptr<const std::string> page;
      {
        std::lock_guard<std::mutex> lock(mu_);
        page = pages_[i];
      }
      std::make_shared<Session>(*this, std::move(socket), std::move(page))->run();
      accept(i);
    });
  }

  std::size_t padding_;
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::mutex mu_;
  std::vector<std::shared_ptr<const std::string>> pages_;
  std::atomic<std::uint64_t> served_{0};
  std::thread thread_;
};

}  // namespace llmscale_test

#endif  // LLMSCALE_TESTS_FAKE_ENGINES_HPP
