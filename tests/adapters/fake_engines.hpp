// Fake vLLM engines for the scaler's end-to-end and chaos tests and CPU harness: N HTTP servers on
// loopback (one I/O thread for all), each serving a vLLM-format /metrics page whose running,
// waiting, KV and finished-request figures the test sets as its script goes, or a page of the
// test's own (set_page), or one made afresh for each request (set_generator). An engine can be
// taken down (its listener closed: connections refused), or misbehave (Behaviour): hang, drip
// bytes, send a 50 MB page.
#ifndef LLMSCALE_TESTS_FAKE_ENGINES_HPP
#define LLMSCALE_TESTS_FAKE_ENGINES_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
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
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace llmscale_test {

/// Polls `done` every 20 ms until it holds or `timeout` passes; its last answer.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(8000)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

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

/// How an engine answers a scrape.
enum class Behaviour {
  serve,          ///< its page
  hang,           ///< reads the request and never answers (until the scraper hangs up)
  drip,           ///< the headers, then one body byte every 50 ms
  huge,           ///< a 50 MB page without Content-Length (the reader must stop at its limit)
  huge_declared,  ///< a 50 MB page that says so in its Content-Length
};

class FakeEngines {
  using tcp = boost::asio::ip::tcp;

 public:
  static constexpr std::size_t huge_bytes = 50u << 20;

  explicit FakeEngines(std::size_t n, std::size_t padding_bytes = 0) : padding_(padding_bytes) {
    for (std::size_t i = 0; i < n; ++i) {
      engines_.push_back(std::make_unique<Engine>(io_));
      Engine& e = *engines_.back();
      e.acceptor.open(tcp::v4());
      e.acceptor.set_option(boost::asio::socket_base::reuse_address(true));
      e.acceptor.bind(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
      e.acceptor.listen(boost::asio::socket_base::max_listen_connections);
      e.port = e.acceptor.local_endpoint().port();
      e.page = std::make_shared<const std::string>(vllm_page(EngineState{}, padding_));
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
  /// Bytes of 50 MB pages written so far (all engines).
  [[nodiscard]] std::uint64_t huge_written() const { return huge_written_.load(); }

  void set(std::size_t i, const EngineState& s) { set_page(i, vllm_page(s, padding_)); }
  /// Engine i serves `page` as it is.
  void set_page(std::size_t i, std::string page) {
    auto p = std::make_shared<const std::string>(std::move(page));
    std::lock_guard<std::mutex> lock(mu_);
    engines_[i]->page = std::move(p);
    engines_[i]->generator = nullptr;
  }
  /// Engine i serves what `make` returns, called for each request on the engines' thread.
  void set_generator(std::size_t i, std::function<std::string()> make) {
    std::lock_guard<std::mutex> lock(mu_);
    engines_[i]->generator = std::move(make);
  }
  void behave(std::size_t i, Behaviour b) {
    std::lock_guard<std::mutex> lock(mu_);
    engines_[i]->behaviour = b;
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
    Behaviour behaviour = Behaviour::serve;
    std::shared_ptr<const std::string> page;
    std::function<std::string()> generator;
  };
  struct Session : std::enable_shared_from_this<Session> {
    Session(FakeEngines& o, tcp::socket s, std::size_t i) : owner(o), stream(std::move(s)), index(i) {}
    FakeEngines& owner;
    boost::beast::tcp_stream stream;
    std::size_t index;
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::empty_body> request;
    boost::beast::http::response<boost::beast::http::string_body> response;
    std::string head;
    std::size_t sent = 0;
    char sink[64];
    std::unique_ptr<boost::asio::steady_timer> timer;

    void run() {
      namespace http = boost::beast::http;
      http::async_read(stream, buffer, request, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) return;
        Behaviour b;
        std::string body;
        {
          std::lock_guard<std::mutex> lock(self->owner.mu_);
          Engine& e = *self->owner.engines_[self->index];
          b = e.behaviour;
          if (b == Behaviour::serve) body = e.generator ? e.generator() : *e.page;
        }
        switch (b) {
          case Behaviour::serve: return self->serve(std::move(body));
          case Behaviour::hang: return self->wait_for_hang_up();
          case Behaviour::drip:
            self->head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4096\r\n\r\n";
            return self->write_head([self] { self->drip(); });
          case Behaviour::huge:
          case Behaviour::huge_declared:
            self->head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n";
            if (b == Behaviour::huge_declared) self->head += "Content-Length: " + std::to_string(huge_bytes) + "\r\n";
            self->head += "\r\n";
            return self->write_head([self] { self->pour(); });
        }
      });
    }
    void serve(std::string body) {
      namespace http = boost::beast::http;
      response.result(http::status::ok);
      response.version(11);
      response.set(http::field::content_type, "text/plain; version=0.0.4");
      response.body() = std::move(body);
      response.keep_alive(false);
      response.prepare_payload();
      http::async_write(stream, response, [self = shared_from_this()](const boost::system::error_code& werr, std::size_t) {
        if (!werr) self->owner.served_.fetch_add(1);
        boost::system::error_code ignored;
        self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      });
    }
    // holds the connection until the other side closes it
    void wait_for_hang_up() {
      stream.async_read_some(boost::asio::buffer(sink), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (!ec) self->wait_for_hang_up();
      });
    }
    template <class Then>
    void write_head(Then then) {
      boost::asio::async_write(stream, boost::asio::buffer(head), [self = shared_from_this(), then](const boost::system::error_code& ec, std::size_t) {
        if (!ec) then();
      });
    }
    void drip() {
      if (!timer) timer = std::make_unique<boost::asio::steady_timer>(stream.get_executor());
      timer->expires_after(std::chrono::milliseconds(50));
      timer->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || ++self->sent > 4096) return;
        boost::asio::async_write(self->stream, boost::asio::buffer("#", 1), [self](const boost::system::error_code& werr, std::size_t) {
          if (!werr) self->drip();
        });
      });
    }
    // 64 kB blocks of histogram lines until 50 MB are written or the reader hangs up
    void pour() {
      static const std::string block = [] {
        std::string b;
        for (int n = 0; b.size() < 64 * 1024; ++n) {
          b += "vllm:inter_token_latency_seconds_bucket{engine=\"" + std::to_string(n) + "\",le=\"0.1\"} 1000\n";
        }
        return b;
      }();
      if (sent >= huge_bytes) {
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      const std::size_t n = std::min(block.size(), huge_bytes - sent);
      boost::asio::async_write(stream, boost::asio::buffer(block.data(), n), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t w) {
        self->sent += w;
        self->owner.huge_written_.fetch_add(w);
        if (!ec) self->pour();
      });
    }
  };

  void accept(std::size_t i) {
    engines_[i]->acceptor.async_accept([this, i](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;  // closed: the engine is down
      std::make_shared<Session>(*this, std::move(socket), i)->run();
      accept(i);
    });
  }

  std::size_t padding_;
  boost::asio::io_context io_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::mutex mu_;
  std::atomic<std::uint64_t> served_{0};
  std::atomic<std::uint64_t> huge_written_{0};
  std::thread thread_;
};

}  // namespace llmscale_test

#endif  // LLMSCALE_TESTS_FAKE_ENGINES_HPP
