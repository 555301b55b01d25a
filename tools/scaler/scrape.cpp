// llmscale-scaler: one scrape per engine per tick (resolve names only, connect, GET, read with a
// size limit, all before a deadline), what its page says, and what the log says about it.
#include <algorithm>
#include <cstdio>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "log.hpp"
#include "scaler_impl.hpp"

namespace llmscale_scaler {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using detail::Reason;

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
  std::size_t max_bytes = 0;
  bool finished = false;

  Scrape(Scaler::Impl& scaler, std::size_t i, asio::io_context& io, std::unique_ptr<Scaler::Impl::PageBuffers> buffers)
      : s(scaler), index(i), resolver(io), stream(io), resolve_deadline(io), page(std::move(buffers)) {
    page->wire.clear();
    page->body.clear();  // keeps its capacity
    parser.get().body().swap(page->body);
  }

  void run(const Endpoint& e, double timeout_s, std::size_t max_bytes);
  void send();
  void read_failed(const boost::system::error_code& ec);
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

void Scrape::run(const Endpoint& e, double timeout_s, std::size_t max_page_bytes) {
  deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
  max_bytes = max_page_bytes;
  // The body stops at max_bytes (a Content-Length above it fails before anything is read:
  // send()); the headers at 16 kB, and the wire buffer at its own limit (PageBuffers).
  parser.body_limit(max_bytes);
  parser.header_limit(16 * 1024);
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
                           if (err) return self->done(false, err == beast::error::timeout ? detail::r_timeout : detail::r_connect);
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
    if (err) return self->done(false, err == asio::error::operation_aborted ? detail::r_timeout : detail::r_resolve);
    self->stream.expires_at(self->deadline);
    self->stream.async_connect(r, [self](const boost::system::error_code& cerr, const tcp::endpoint&) {
      if (cerr) return self->done(false, cerr == beast::error::timeout ? detail::r_timeout : detail::r_connect);
      self->send();
    });
  });
}

void Scrape::send() {
  stream.expires_at(deadline);
  http::async_write(stream, request, [self = shared_from_this()](const boost::system::error_code& werr, std::size_t) {
    if (werr) return self->done(false, werr == beast::error::timeout ? detail::r_timeout : detail::r_connect);
    self->stream.expires_at(self->deadline);
    // The headers first, then the body. Beast (1.74) checks a Content-Length against the body
    // limit when the headers end, but a whole-message read (eager parsing) loses that error when
    // the first body bytes arrive with the headers, and then reads (and reserves) all of it: a
    // page declaring 50 MB was read in full. Checked here instead, before a byte of the body.
    http::async_read_header(self->stream, self->page->wire, self->parser, [self](const boost::system::error_code& herr, std::size_t) {
      if (herr) return self->read_failed(herr);
      if (self->parser.content_length() && *self->parser.content_length() > self->max_bytes) return self->done(false, detail::r_too_large);
      http::async_read(self->stream, self->page->wire, self->parser, [self](const boost::system::error_code& rerr, std::size_t) {
        if (rerr) return self->read_failed(rerr);
        if (self->parser.get().result_int() != 200) return self->done(false, detail::r_http_status);
        self->done(true, detail::r_read);
      });
    });
  });
}

void Scrape::read_failed(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return done(false, detail::r_too_large);
  }
  done(false, ec == beast::error::timeout ? detail::r_timeout : detail::r_read);
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

namespace {

// Why a page was not usable, in an operator's words.
std::string unusable_detail(const llmscale::EngineScrape& scrape) {
  if (scrape.implausible != nullptr) return std::string("page not believed: ") + scrape.implausible;
  if (scrape.parse.truncated) return "page cut short: too many malformed lines or bytes";
  if (!scrape.running || !scrape.waiting) {
    std::string why = "no running or waiting requests on the page (a wrong --engine, or not an engine's page?)";
    if (scrape.parse.errors > 0) {
      why += "; line " + std::to_string(scrape.parse.first_error.line) + ": " + scrape.parse.first_error.message;
    }
    return why;
  }
  return "running or waiting requests are negative or not finite";
}

}  // namespace

void Scaler::Impl::scraped(std::size_t index, bool ok, Reason why, std::unique_ptr<PageBuffers> page) {
  Target& t = targets[index];
  const Target::State was = t.state;
  std::string detail_text;
  if (ok) {
    const std::uint64_t changes = signals.series_changes();
    const llmscale::EngineScrape scrape = llmscale::read_engine_metrics(page->body, map, parser);
    ok = signals.observe(t.slot, scrape, now(), opt.kv_capacity_tokens);
    why = detail::r_unusable;
    if (!ok) detail_text = unusable_detail(scrape);
    if (ok) {
      const double n = static_cast<double>(page->body.size());
      typical_page_bytes = typical_page_bytes == 0 ? n : 0.9 * typical_page_bytes + 0.1 * n;
      if (scrape.parse.errors > 0) {
        log::limited(log::Level::warn, "malformed:" + t.endpoint.text(),
                     t.endpoint.text() + ": " + std::to_string(scrape.parse.errors) + " malformed lines skipped; the first, line " +
                         std::to_string(scrape.parse.first_error.line) + ": " + scrape.parse.first_error.message);
      }
      if (signals.series_changes() != changes) {
        log::limited(log::Level::info, "series:" + t.endpoint.text(),
                     t.endpoint.text() + ": its counters continue none of the series seen (the engine restarted, or another "
                                         "replica answered): a new baseline, nothing added");
      }
    }
  } else {
    signals.scrape_failed(t.slot);
  }
  recycle(std::move(page));
  t.state = ok ? Target::State::up : Target::State::down;
  if (!ok) {
    ++errors[why];
    ++t.errors;
  }
  // State changes, and an engine bad from its first scrape; once per key a minute at most, so a
  // flapping engine cannot flood the log.
  if (was != t.state && !(ok && was == Target::State::unknown)) {
    const std::string& name = t.endpoint.text();
    std::string line = name + (ok ? " is up" : was == Target::State::unknown ? " is down from its first scrape: " : " is down: ");
    if (!ok) line += detail::reason_names[why];
    if (!detail_text.empty()) line += " (" + detail_text + ")";
    log::limited(ok ? log::Level::info : log::Level::warn, (ok ? "up:" : "down:") + name, line);
  }
  --outstanding;
  if (next < targets.size()) {
    launch_next();
  } else if (outstanding == 0) {
    finish_round();
  }
}

// A buffer comes back: kept as it is when it is no bigger than the pages usually are (twice the
// typical usable page, at least 1 MiB), released otherwise, so that a 50 MB page (read up to
// --max-page-bytes and refused) does not leave --max-page-bytes behind in every pooled buffer.
void Scaler::Impl::recycle(std::unique_ptr<PageBuffers> page) {
  constexpr std::size_t mib = 1u << 20;
  const std::size_t usual = std::max(mib, static_cast<std::size_t>(2 * typical_page_bytes));
  const std::size_t keep = std::min(usual, std::max(opt.max_page_bytes, mib));
  if (page->body.capacity() > keep) std::string().swap(page->body);
  if (page->wire.capacity() > 64 * 1024) {
    page->wire.clear();
    page->wire.shrink_to_fit();
    page->wire.reserve(64 * 1024);
  }
  buffer_pool.push_back(std::move(page));
}

std::size_t Scaler::Impl::pooled_bytes() const {
  std::size_t n = 0;
  for (const auto& b : buffer_pool) n += b->body.capacity() + b->wire.capacity();
  return n;
}

}  // namespace llmscale_scaler
