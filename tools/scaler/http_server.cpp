// llmscale-scaler: the HTTP listener for /metrics and /healthz, on a thread of its own. It must
// not die: an accept that fails (out of file descriptors, a connection reset while queued) is
// retried, after 100 ms when the process is out of descriptors or memory (the pending connection
// stays queued, so an immediate retry would spin). Connections are capped (http_sessions_max:
// more are closed at once) and each must send its request within http_read_timeout_s, so
// half-open connections are reaped and cost a bounded number of descriptors.
#include <cerrno>
#include <cstdio>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "log.hpp"
#include "scaler_impl.hpp"

namespace llmscale_scaler {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct HttpSession : std::enable_shared_from_this<HttpSession> {
  Scaler::Impl& s;
  beast::tcp_stream stream;
  beast::flat_buffer buffer{64 * 1024};
  http::request_parser<http::empty_body> parser;
  http::response<http::string_body> response;

  HttpSession(Scaler::Impl& scaler, tcp::socket socket) : s(scaler), stream(std::move(socket)) {
    parser.header_limit(16 * 1024);
    ++s.counters.http_sessions_open;
  }
  ~HttpSession() { --s.counters.http_sessions_open; }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void run() {
    // the whole exchange (request in, response out) within the deadline: a client that
    // connects and says nothing, or reads nothing, is closed when it passes
    stream.expires_after(std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s.opt.http_read_timeout_s)));
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
      response.body() = s.owner->metrics_page();
    } else if (path == "/healthz") {
      const std::string problem = s.owner->health_problem();
      response.result(problem.empty() ? http::status::ok : http::status::service_unavailable);
      response.body() = problem.empty() ? "ok\n" : problem + "\n";
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

bool out_of_resources(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category() && ec.category() != boost::system::generic_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

}  // namespace

void Scaler::Impl::listen_http() {
  const tcp::endpoint ep = detail::listen_endpoint("--http-listen", opt.http_listen);
  http_acceptor.open(ep.protocol());
  http_acceptor.set_option(asio::socket_base::reuse_address(true));
  boost::system::error_code ec;
  http_acceptor.bind(ep, ec);
  if (ec) throw std::runtime_error("--http-listen " + opt.http_listen + ": " + ec.message());
  http_acceptor.listen(asio::socket_base::max_listen_connections);
  bound_http_port = http_acceptor.local_endpoint().port();
  accepting = true;
}

void Scaler::Impl::accept() {
  http_acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (!http_acceptor.is_open()) {  // stop() closed it: the only way out of the loop
      accepting = false;
      return;
    }
    if (ec) return accept_failed(ec);
    accept_errors_in_a_row = 0;
    if (counters.http_sessions_open.load() >= opt.http_sessions_max) {
      ++counters.http_sessions_refused;
      boost::system::error_code ignored;
      socket.close(ignored);
      char why[160];
      std::snprintf(why, sizeof why, "HTTP: a connection closed at once: %d are open already (silent ones are closed after %g s)",
                    opt.http_sessions_max, opt.http_read_timeout_s);
      log::limited(log::Level::warn, "http-refused", why);
    } else {
      std::make_shared<HttpSession>(*this, std::move(socket))->run();
    }
    accept();
  });
}

void Scaler::Impl::accept_failed(const boost::system::error_code& ec) {
  ++counters.http_accept_errors;
  const bool starved = out_of_resources(ec);
  // a few unexplained failures in a row (a connection reset while queued) are retried at once;
  // out of descriptors, or failing on and on, every 100 ms
  if (!starved && ++accept_errors_in_a_row <= 8) {
    log::limited(log::Level::warn, "http-accept", "HTTP accept failed: " + ec.message() + "; retrying");
    return accept();
  }
  log::limited(log::Level::error, "http-accept", "HTTP accept failed: " + ec.message() + "; retrying every 100 ms");
  accept_backoff.expires_after(std::chrono::milliseconds(100));
  accept_backoff.async_wait([this](const boost::system::error_code& wait_ec) {
    if (wait_ec || !http_acceptor.is_open()) {
      accepting = false;
      return;
    }
    accept();
  });
}

}  // namespace llmscale_scaler
