// llmscale-scaler end to end over loopback: three fake vLLM engines following a script, the
// scaler (in-process, ticking every 0.1 s) and a gRPC client acting as KEDA. The expected
// replica counts are Ray Serve's formula by hand: ceil(total ongoing / 2).
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "adapters/fake_engines.hpp"
#include "externalscaler.grpc.pb.h"
#include "llmscale/adapters/prometheus.hpp"
#include "llmscale/adapters/state_file.hpp"
#include "log.hpp"
#include "scaler.hpp"

namespace es = externalscaler;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using llmscale_test::eventually;

// KEDA's side of the contract.
class Keda {
 public:
  explicit Keda(int port)
      : stub_(es::ExternalScaler::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()))) {
    ref_.set_name("vllm");
    ref_.set_namespace_("llm");
    (*ref_.mutable_scalermetadata())["scalerAddress"] = "llmscale-scaler.llm:9090";
  }

  std::optional<long> metric() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    es::GetMetricsRequest req;
    *req.mutable_scaledobjectref() = ref_;
    req.set_metricname("llmscale_desired_replicas");
    es::GetMetricsResponse res;
    if (!stub_->GetMetrics(&ctx, req, &res).ok() || res.metricvalues_size() != 1) return std::nullopt;
    const es::MetricValue& v = res.metricvalues(0);
    // both fields set, and equal: KEDA reads the float one when > 0, older KEDA the int one
    if (static_cast<double>(v.metricvalue()) != v.metricvaluefloat() || v.metricname() != "llmscale_desired_replicas") return std::nullopt;
    return static_cast<long>(v.metricvalue());
  }

  std::optional<bool> active() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    es::IsActiveResponse res;
    if (!stub_->IsActive(&ctx, ref_, &res).ok()) return std::nullopt;
    return res.result();
  }

  es::GetMetricSpecResponse spec() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    es::GetMetricSpecResponse res;
    REQUIRE(stub_->GetMetricSpec(&ctx, ref_, &res).ok());
    return res;
  }

  // StreamIsActive, read on a thread of its own.
  void open_stream() {
    stream_ctx_ = std::make_unique<grpc::ClientContext>();
    reader_ = stub_->StreamIsActive(stream_ctx_.get(), ref_);
    stream_thread_ = std::thread([this] {
      es::IsActiveResponse r;
      while (reader_->Read(&r)) {
        std::lock_guard<std::mutex> lock(mu_);
        pushed_.push_back(r.result());
      }
    });
  }
  std::vector<bool> pushed() {
    std::lock_guard<std::mutex> lock(mu_);
    return pushed_;
  }
  void close_stream() {
    if (!stream_ctx_) return;
    stream_ctx_->TryCancel();
    stream_thread_.join();
    reader_->Finish();
    stream_ctx_.reset();
  }
  ~Keda() { close_stream(); }

 private:
  std::unique_ptr<es::ExternalScaler::Stub> stub_;
  es::ScaledObjectRef ref_;
  std::unique_ptr<grpc::ClientContext> stream_ctx_;
  std::unique_ptr<grpc::ClientReader<es::IsActiveResponse>> reader_;
  std::thread stream_thread_;
  std::mutex mu_;
  std::vector<bool> pushed_;
};

// GET http://127.0.0.1:port/path; the body, or "" on failure.
std::string http_get(unsigned short port, const std::string& path, int* status = nullptr) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  boost::system::error_code ec;
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return "";
  http::request<http::empty_body> req(http::verb::get, path, 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req, ec);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec && ec != http::error::end_of_stream) return "";
  if (status) *status = res.result_int();
  return res.body();
}

llmscale_scaler::Options loopback_options() {
  llmscale_scaler::Options o;
  o.policy = "ray-serve";
  o.tick_s = 0.1;
  o.scrape_timeout_s = 0.08;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.min_replicas = 1;
  o.max_replicas = 30;
  o.quiet = true;
  o.sets = {"ray_serve.look_back_period_s=1",        "ray_serve.upscale_delay_s=0",        "ray_serve.downscale_delay_s=0",
            "ray_serve.target_ongoing_requests=2",   "governor.scale_up_stabilization_s=0", "governor.scale_down_stabilization_s=2",
            "governor.scale_up_period_s=0.1",        "governor.scale_down_period_s=0.1",    "governor.scale_up_percent=1000",
            "governor.scale_down_percent=100",       "signals.window_s=1",                  "signals.granularity_s=0.1",
            "signals.stale_after_s=0.6"};
  return o;
}

llmscale_test::EngineState load(double running, double waiting) {
  llmscale_test::EngineState s;
  s.running = running;
  s.waiting = waiting;
  s.kv = 0.1 * running;
  return s;
}

}  // namespace

TEST_CASE("scaler over loopback: KEDA sees the metric rise with the queue, fall after stabilization, and hold when an engine dies") {
  llmscale_test::FakeEngines engines(3);
  llmscale_scaler::Options o = loopback_options();
  for (std::size_t i = 0; i < 3; ++i) {
    std::string error;
    o.endpoints.push_back(*llmscale_scaler::parse_endpoint(engines.endpoint(i), error));
  }
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  REQUIRE(scaler.grpc_port() > 0);
  Keda keda(scaler.grpc_port());
  const auto all = [&](double running, double waiting) {
    for (std::size_t i = 0; i < engines.size(); ++i) engines.set(i, load(running, waiting));
  };

  // The metric KEDA hands the HPA: the desired count, target 1 (both fields).
  const es::GetMetricSpecResponse spec = keda.spec();
  REQUIRE(spec.metricspecs_size() == 1);
  CHECK(spec.metricspecs(0).metricname() == "llmscale_desired_replicas");
  CHECK(spec.metricspecs(0).targetsize() == 1);
  CHECK(spec.metricspecs(0).targetsizefloat() == 1.0);

  // Zero load: not active, the minimum.
  REQUIRE(eventually([&] { return keda.active() == false; }));
  REQUIRE(eventually([&] { return keda.metric() == 1; }));
  keda.open_stream();
  REQUIRE(eventually([&] { return keda.pushed().size() == 1; }));
  CHECK(keda.pushed().front() == false);

  // The queue grows: 3 x (2 running + q waiting) ongoing -> ceil(total / 2).
  std::vector<long> seen;
  for (const double q : {1.0, 3.0, 6.0}) {
    all(2, q);
    const long expected = static_cast<long>(std::ceil(3.0 * (2.0 + q) / 2.0));  // 5, 8, 12
    CHECK_MESSAGE(eventually([&] { return keda.metric() == expected; }), "queue ", q, ": want ", expected, ", have ",
                  keda.metric().value_or(-1));
    seen.push_back(keda.metric().value_or(-1));
  }
  CHECK(seen == std::vector<long>{5, 8, 12});
  CHECK(keda.active() == true);
  REQUIRE(eventually([&] { return keda.pushed().size() >= 2; }));
  CHECK(keda.pushed()[1] == true);

  // The load falls to 3 ongoing (2 replicas' worth): held for the 2 s stabilization window,
  // then down.
  all(1, 0);
  const auto dropped = Clock::now();
  while (Clock::now() - dropped < 1500ms) {
    CHECK(keda.metric() == 12);
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(eventually([&] { return keda.metric() == 2; }));
  CHECK(Clock::now() - dropped >= 1900ms);

  // No load at all: KEDA's stream is told, without asking.
  all(0, 0);
  REQUIRE(eventually([&] { return keda.pushed().size() >= 3; }));
  CHECK(keda.pushed()[2] == false);
  CHECK(keda.active() == false);

  // Load again, then one engine dies: its signals go stale, the count does not drop.
  all(2, 3);
  REQUIRE(eventually([&] { return keda.metric() == 8; }));
  engines.down(2);
  const auto died = Clock::now();
  while (Clock::now() - died < 3500ms) {  // past stale_after_s (0.6) + the stabilization window (2)
    CHECK(keda.metric().value_or(0) >= 8);
    std::this_thread::sleep_for(100ms);
  }
  const std::string metrics = http_get(scaler.http_port(), "/metrics");
  // the scaler's own page is valid exposition text (read back with the library's parser)
  std::size_t series = 0;
  const llmscale::PrometheusResult parsed = llmscale::parse_prometheus(metrics, [&](const llmscale::PrometheusSample&) { ++series; });
  CHECK(parsed.ok());
  CHECK(series > 40);
  CHECK(metrics.find("llmscale_signal_stale{signal=\"engine\"} 1\n") != std::string::npos);
  CHECK(metrics.find("llmscale_endpoint_up{endpoint=\"" + engines.endpoint(2) + "\"} 0\n") != std::string::npos);
  CHECK(metrics.find("llmscale_endpoint_up{endpoint=\"" + engines.endpoint(0) + "\"} 1\n") != std::string::npos);
  CHECK(metrics.find("llmscale_endpoint_scrape_errors_total{endpoint=\"" + engines.endpoint(0) + "\"} 0\n") != std::string::npos);
  CHECK(metrics.find("llmscale_endpoint_scrape_errors_total{endpoint=\"" + engines.endpoint(2) + "\"} 0\n") == std::string::npos);
  CHECK(metrics.find("llmscale_binding_constraint{constraint=\"stale_signals\"} 1\n") != std::string::npos);
  CHECK(metrics.find("llmscale_scrape_errors_total{reason=\"connect\"} 0\n") == std::string::npos);  // refused: counted
  CHECK(keda.active() == true);  // blind is not idle
  int status = 0;
  CHECK(http_get(scaler.http_port(), "/healthz", &status) == "ok\n");
  CHECK(status == 200);
  keda.close_stream();
  scaler.stop();
  // Stopped: KEDA's calls fail, so its fallback (and no scale-down) takes over.
  CHECK_FALSE(keda.metric().has_value());
}

TEST_CASE("scaler: the endpoint file is re-read when it changes, a bad one keeps the last list") {
  llmscale_test::FakeEngines engines(3);
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("llmscale-endpoints-" + std::to_string(::getpid()) + ".txt");
  const auto write = [&](const std::string& text) {
    const auto tmp = file.string() + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, file);  // as a ConfigMap update does: replaced, never half-written
  };
  std::filesystem::remove(file);
  llmscale_scaler::Options o = loopback_options();
  o.endpoints_file = file.string();
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  // No file yet (its sidecar has not written it): no decision, so KEDA gets UNAVAILABLE and
  // keeps the fleet (its fallback) rather than a count made from nothing.
  Keda keda(scaler.grpc_port());
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(keda.metric().has_value());
  int status = 0;
  http_get(scaler.http_port(), "/healthz", &status);
  CHECK(status == 503);
  write("# two replicas\n" + engines.endpoint(0) + "\n" + engines.endpoint(1) + "\n");
  const auto listed = [&](int n) {
    return http_get(scaler.http_port(), "/metrics").find("llmscale_endpoints{state=\"listed\"} " + std::to_string(n) + "\n") !=
           std::string::npos;
  };
  REQUIRE(eventually([&] { return listed(2); }));
  CHECK(eventually([&] { return keda.metric().has_value(); }));
  std::this_thread::sleep_for(20ms);  // a different modification time
  write(engines.endpoint(0) + "\n" + engines.endpoint(1) + "\n" + engines.endpoint(2) + "\nstarting 2\n");
  REQUIRE(eventually([&] { return listed(3); }));
  CHECK(eventually([&] {
    return http_get(scaler.http_port(), "/metrics").find("llmscale_starting_replicas 2\n") != std::string::npos;
  }));
  std::this_thread::sleep_for(20ms);
  write("not an endpoint\n");
  CHECK(eventually([&] {
    return http_get(scaler.http_port(), "/metrics").find("llmscale_endpoints_file_errors_total 1\n") != std::string::npos;
  }));
  CHECK(listed(3));
  scaler.stop();
  std::filesystem::remove(file);
}

TEST_CASE("scaler: endpoints and endpoint lists, and what is wrong with them") {
  std::string error;
  auto e = llmscale_scaler::parse_endpoint("http://10.0.0.7:8000/metrics", error);
  REQUIRE(e);
  CHECK(e->host == "10.0.0.7");
  CHECK(e->port == "8000");
  CHECK(e->target == "/metrics");
  e = llmscale_scaler::parse_endpoint("vllm-0.vllm.llm.svc:8000", error);
  REQUIRE(e);
  CHECK(e->target == "/metrics");
  e = llmscale_scaler::parse_endpoint("[fd00::7]:8000/m", error);
  REQUIRE(e);
  CHECK(e->host == "fd00::7");
  CHECK(e->target == "/m");
  CHECK(e->authority() == "[fd00::7]:8000");  // the Host header: brackets kept
  CHECK(e->text() == "[fd00::7]:8000/m");
  for (const char* bad : {"10.0.0.7", "10.0.0.7:0", "10.0.0.7:70000", ":8000", "10.0.0.7:80x", "https://a:443", "a b:80"}) {
    CHECK_MESSAGE(!llmscale_scaler::parse_endpoint(bad, error), bad);
    CHECK(error.find(bad) != std::string::npos);
  }
  auto list = llmscale_scaler::parse_endpoint_list("# pods\n10.0.0.1:8000\n\n10.0.0.2:8000 # second\n10.0.0.1:8000\nstarting 3\n", error);
  REQUIRE(list);
  CHECK(list->ready.size() == 2);  // the duplicate once
  CHECK(list->starting == 3);
  CHECK_FALSE(llmscale_scaler::parse_endpoint_list("10.0.0.1:8000\nstarting many\n", error));
  CHECK(error.find("line 2") != std::string::npos);
  CHECK_FALSE(llmscale_scaler::parse_endpoint_list("10.0.0.1:8000\n10.0.0.2\n", error));
  CHECK(error.find("line 2") != std::string::npos);
}

TEST_CASE("scaler: gRPC over TLS from certificate files, and a client certificate when a CA is given") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("llmscale-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string d = dir.string();
  // a CA, the scaler's certificate for 127.0.0.1 signed by it, and a client certificate
  const std::string make =
      "cd '" + d + "' && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem"
      " && openssl req -newkey rsa:2048 -nodes -subj /CN=llmscale-scaler -keyout server.key -out server.csr"
      " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.pem"
      " && openssl req -newkey rsa:2048 -nodes -subj /CN=keda -keyout client.key -out client.csr"
      " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out client.pem";
  REQUIRE_MESSAGE(std::system((make + " >/dev/null 2>&1").c_str()) == 0, "openssl could not make the test certificates");
  const auto slurp = [&](const char* name) {
    std::ifstream in(dir / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  llmscale_test::FakeEngines engines(1);
  llmscale_scaler::Options o = loopback_options();
  std::string error;
  o.endpoints.push_back(*llmscale_scaler::parse_endpoint(engines.endpoint(0), error));
  o.tls_cert = d + "/server.pem";
  o.tls_key = d + "/server.key";
  o.tls_client_ca = d + "/ca.pem";
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  const std::string address = "127.0.0.1:" + std::to_string(scaler.grpc_port());
  const auto active = [&](const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    auto stub = es::ExternalScaler::NewStub(grpc::CreateChannel(address, credentials));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    es::ScaledObjectRef ref;
    es::IsActiveResponse res;
    return stub->IsActive(&ctx, ref, &res);
  };
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = slurp("ca.pem");
  with_cert.pem_private_key = slurp("client.key");
  with_cert.pem_cert_chain = slurp("client.pem");
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = slurp("ca.pem");
  // KEDA with the CA and its client certificate: answered (once a decision exists)
  CHECK(eventually([&] { return active(grpc::SslCredentials(with_cert)).ok(); }));
  // no client certificate, or no TLS at all: refused
  CHECK_FALSE(active(grpc::SslCredentials(without_cert)).ok());
  CHECK_FALSE(active(grpc::InsecureChannelCredentials()).ok());
  scaler.stop();
  std::filesystem::remove_all(dir);
}

TEST_CASE("scaler: KEDA's requests are checked: an unknown metric or an over-long field is INVALID_ARGUMENT, naming the field") {
  llmscale_test::FakeEngines engines(1);
  llmscale_scaler::Options o = loopback_options();
  std::string error;
  o.endpoints.push_back(*llmscale_scaler::parse_endpoint(engines.endpoint(0), error));
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  auto stub = es::ExternalScaler::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(scaler.grpc_port()), grpc::InsecureChannelCredentials()));
  es::GetMetricsRequest good;
  good.mutable_scaledobjectref()->set_name("vllm");
  good.mutable_scaledobjectref()->set_namespace_("llm");
  (*good.mutable_scaledobjectref()->mutable_scalermetadata())["scalerAddress"] = "llmscale-scaler.llm:9090";
  // metadata is read by no one yet, but allowed up to the bound (a later version will read it)
  (*good.mutable_scaledobjectref()->mutable_scalermetadata())["later"] = std::string(4096, 'x');
  good.set_metricname("llmscale_desired_replicas");
  const auto get = [&](const es::GetMetricsRequest& req, es::GetMetricsResponse* res) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    return stub->GetMetrics(&ctx, req, res);
  };
  es::GetMetricsResponse res;
  REQUIRE(eventually([&] { return get(good, &res).ok(); }));
  REQUIRE(res.metricvalues_size() == 1);
  CHECK(res.metricvalues(0).metricname() == "llmscale_desired_replicas");
  es::GetMetricsRequest unnamed = good;  // older KEDA may leave it empty: the one metric
  unnamed.clear_metricname();
  CHECK(get(unnamed, &res).ok());

  // each bad request: INVALID_ARGUMENT, the message naming the field, and short (nothing echoed back in bulk)
  const auto refused = [&](const es::GetMetricsRequest& req, const std::string& field) {
    es::GetMetricsResponse r;
    const grpc::Status s = get(req, &r);
    CHECK_MESSAGE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT, field, ": ", s.error_message().substr(0, 200));
    CHECK_MESSAGE(s.error_message().find(field) != std::string::npos, field, ": ", s.error_message().substr(0, 200));
    CHECK(s.error_message().size() < 400);
    CHECK(r.metricvalues_size() == 0);
  };
  es::GetMetricsRequest bad = good;
  bad.set_metricname("some_other_metric");
  refused(bad, "some_other_metric");
  bad.set_metricname(std::string(3u << 20, 'm'));  // 3 MiB
  refused(bad, "metricName");
  bad = good;
  bad.mutable_scaledobjectref()->set_name(std::string(254, 'n'));
  refused(bad, "scaledObjectRef.name");
  bad = good;
  bad.mutable_scaledobjectref()->set_namespace_(std::string(300, 'n'));
  refused(bad, "scaledObjectRef.namespace");
  bad = good;
  (*bad.mutable_scaledobjectref()->mutable_scalermetadata())["later"] = std::string(4097, 'x');
  refused(bad, "scalerMetadata[\"later\"]");
  bad = good;
  (*bad.mutable_scaledobjectref()->mutable_scalermetadata())[std::string(300, 'k')] = "v";
  refused(bad, "scalerMetadata key");
  bad = good;
  for (int i = 0; i < 65; ++i) (*bad.mutable_scaledobjectref()->mutable_scalermetadata())["k" + std::to_string(i)] = "v";
  refused(bad, "scalerMetadata has 67 entries");
  // the other calls check the same reference
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 2s);
    es::ScaledObjectRef ref;
    ref.set_name(std::string(1000, 'n'));
    es::IsActiveResponse r;
    const grpc::Status s = stub->IsActive(&ctx, ref, &r);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("name") != std::string::npos);
  }
  CHECK(scaler.counters().keda_requests_invalid.load() == 8);
  CHECK(eventually([&] { return http_get(scaler.http_port(), "/metrics").find("llmscale_keda_requests_invalid_total 8\n") != std::string::npos; }));
  CHECK(get(good, &res).ok());  // and the good ones still answered
  scaler.stop();
}

TEST_CASE("scaler: --state-file keeps the policy's learned state across a restart; a file it must not load is named and replaced") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("llmscale-state-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path profile = dir / "profile.json", state = dir / "state";
  std::ofstream(profile) << R"({"m": {"1": {"decoding_large_small_bs_threshold": 95, "prefill": [10.0, 0.02, 0.000001],
    "decoding_smallbs": [20.0, 0.0006, 0.04], "decoding_largebs": [7.0, 0.0006, 0.16]}}})";
  std::vector<std::string> log;
  std::mutex log_mu;
  llmscale_scaler::log::set_sink([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(log_mu);
    log.emplace_back(line);
  });
  struct Unhook {  // the sink points at this test's locals: unhooked however the test ends
    ~Unhook() { llmscale_scaler::log::set_sink(nullptr); }
  } unhook;
  const auto logged = [&](const std::string& part) {
    std::lock_guard<std::mutex> lock(log_mu);
    return std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; });
  };
  const auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  llmscale_test::FakeEngines engines(2);
  for (std::size_t i = 0; i < 2; ++i) engines.set(i, load(4, 1));
  const auto options = [&](const std::string& policy) {
    llmscale_scaler::Options o = loopback_options();
    std::string error;
    o.endpoints = {*llmscale_scaler::parse_endpoint(engines.endpoint(0), error),
                   *llmscale_scaler::parse_endpoint(engines.endpoint(1), error)};
    o.policy = policy;
    o.profile = profile.string();
    o.model = "m";
    o.tp = 1;
    o.state_file = state.string();
    o.state_every = 5;
    return o;
  };
  const auto metric = [](unsigned short port, const std::string& line) {
    return http_get(port, "/metrics").find(line) != std::string::npos;
  };

  {  // first start: no file yet; one is written every 5 ticks and at stop
    llmscale_scaler::Scaler scaler(options("llmscale-predictive"));
    CHECK(logged("does not exist yet: starting afresh"));
    scaler.start();
    CHECK(eventually([&] { return metric(scaler.http_port(), "llmscale_state_saves_total 2\n"); }));
    CHECK(metric(scaler.http_port(), "llmscale_state_loaded 0\n"));
    scaler.stop();
  }
  const std::string first = read(state);
  CHECK(first.rfind("llmscale-state 1\nlibrary " + llmscale::library_version() + "\npolicy llmscale-predictive\n", 0) == 0);
  CHECK(first.find("\npredictive/4 ") != std::string::npos);
  CHECK_FALSE(fs::exists(state.string() + ".tmp"));

  {  // restart: loaded
    llmscale_scaler::Scaler scaler(options("llmscale-predictive"));
    CHECK(logged("loaded: llmscale-predictive's state as of"));
    scaler.start();
    CHECK(eventually([&] { return metric(scaler.http_port(), "llmscale_state_loaded 1\n"); }));
    scaler.stop();
  }
  {  // another policy: not loaded, with the reason, and replaced by its own
    llmscale_scaler::Scaler scaler(options("llmscale-pid"));
    CHECK(logged("not loaded: it holds the state of llmscale-predictive, not of llmscale-pid; starting afresh"));
    scaler.start();
    CHECK(eventually([&] { return metric(scaler.http_port(), "llmscale_state_saves_total 1\n"); }));
    scaler.stop();
  }
  CHECK(read(state).find("\npolicy llmscale-pid\n") != std::string::npos);
  const std::string intact = read(state);
  {  // a torn file: not loaded, the reason named
    const std::string whole = intact;
    std::ofstream(state, std::ios::binary | std::ios::trunc) << whole.substr(0, whole.size() - 4);
    llmscale_scaler::Scaler scaler(options("llmscale-pid"));
    CHECK(logged("(a torn or edited file); starting afresh"));
  }
  {  // too old
    std::string whole = intact;
    const std::size_t at = whole.find("saved_unix_s ");
    whole.replace(at, whole.find('\n', at) - at, "saved_unix_s 1000");
    std::ofstream(state, std::ios::binary | std::ios::trunc) << whole;
    llmscale_scaler::Scaler scaler(options("llmscale-pid"));
    CHECK(logged("s old, more than --state-max-age 86400"));
  }
  {  // a directory that does not exist is a usage error (exit 2), not a silent loss at every save
    llmscale_scaler::Options o = options("llmscale-pid");
    o.state_file = (dir / "missing" / "state").string();
    CHECK_THROWS_WITH_AS(llmscale_scaler::Scaler{o}, doctest::Contains("does not exist"), llmscale_scaler::UsageError);
  }
  fs::remove_all(dir);
}

TEST_CASE("scaler --shadow: KEDA is answered with the fleet's size while the shadow decision is exposed - --record writes windows") {
  llmscale_test::FakeEngines engines(3);
  llmscale_scaler::Options o = loopback_options();
  for (std::size_t i = 0; i < 3; ++i) {
    std::string error;
    o.endpoints.push_back(*llmscale_scaler::parse_endpoint(engines.endpoint(i), error));
  }
  o.shadow = true;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("llmscale-shadow-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  o.record_file = (dir / "rec.csv").string();
  o.record_window_s = 0.5;
  llmscale_scaler::Scaler scaler(o);
  scaler.start();
  Keda keda(scaler.grpc_port());
  // 3 x (2 running + 6 waiting) ongoing: ray-serve wants 12; the fleet has 3
  llmscale_test::EngineState s = load(2, 6);
  for (std::size_t i = 0; i < engines.size(); ++i) engines.set(i, s);
  REQUIRE(eventually([&] { return http_get(scaler.http_port(), "/metrics").find("llmscale_desired_replicas{mode=\"shadow\"} 12\n") != std::string::npos; }));
  // the count KEDA receives never moves off the fleet's size
  for (int i = 0; i < 10; ++i) {
    CHECK(keda.metric() == 3);
    std::this_thread::sleep_for(50ms);
  }
  // requests finish: 20 per engine per step, so the record has arrivals
  for (int step = 1; step <= 10; ++step) {
    s.finished = 20.0 * step;
    s.e2e_sum = 40.0 * step;
    for (std::size_t i = 0; i < engines.size(); ++i) engines.set(i, s);
    std::this_thread::sleep_for(150ms);
  }
  const std::string metrics = http_get(scaler.http_port(), "/metrics");
  CHECK(metrics.find("llmscale_keda_replicas 3\n") != std::string::npos);
  CHECK(metrics.find("llmscale_shadow_ticks_total{outcome=\"wanted_more\"}") != std::string::npos);
  CHECK(metrics.find("llmscale_shadow_largest_shortfall_replicas 9\n") != std::string::npos);
  CHECK(metrics.find("llmscale_desired_replicas 12\n") == std::string::npos);  // only the labelled one
  scaler.stop();
  std::ifstream in(o.record_file);
  std::string line, first;
  std::getline(in, first);
  CHECK(first == "# llmscale-record 1");
  double arrivals = 0;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    ++rows;
    const std::size_t a = line.find(',') + 1, b = line.find(',', a) + 1;
    arrivals += std::stod(line.substr(b, line.find(',', b) - b));
  }
  CHECK(rows >= 2);
  // 3 engines x 200 finished over the run, and the queue's growth from idle to 3 x 8: at most
  // 624 arrivals recorded (what came before the first window opened is not in it)
  CHECK(arrivals > 0);
  CHECK(arrivals <= 624.0 + 1e-6);
  std::filesystem::remove_all(dir);
}

namespace {

// KEDA's GetMetrics for ScaledObject llm/`name` with trigger metadata `metadata`.
grpc::Status fleet_metric(int port, const std::string& name, const std::map<std::string, std::string>& metadata, long& value) {
  auto stub = es::ExternalScaler::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 2s);
  es::GetMetricsRequest req;
  req.mutable_scaledobjectref()->set_name(name);
  req.mutable_scaledobjectref()->set_namespace_("llm");
  for (const auto& [k, v] : metadata) (*req.mutable_scaledobjectref()->mutable_scalermetadata())[k] = v;
  req.set_metricname("llmscale_desired_replicas");
  es::GetMetricsResponse res;
  const grpc::Status st = stub->GetMetrics(&ctx, req, &res);
  value = st.ok() && res.metricvalues_size() == 1 ? static_cast<long>(res.metricvalues(0).metricvalue()) : -1;
  return st;
}

}  // namespace

TEST_CASE("scaler --fleets: two ScaledObjects with their own engines and policies get their own decisions and state - bad metadata is refused naming the key") {
  llmscale_test::FakeEngines engines(3);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("llmscale-fleets-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  llmscale_scaler::Options o = loopback_options();
  o.fleets = 3;
  o.fleet_dir = dir.string();
  llmscale_scaler::Scaler scaler(o);  // no endpoints of its own: fleets from metadata only
  scaler.start();
  for (std::size_t i = 0; i < engines.size(); ++i) engines.set(i, load(2, 6));
  std::string sets;
  for (const std::string& s : o.sets) {
    if (s.rfind("signals.", 0) != 0) sets += s + ";";  // the signals' settings are the scaler's, and reach its fleets
  }
  // fleet a: two engines, 2 x 8 ongoing at a target of 2 per replica: 8
  const std::map<std::string, std::string> a = {{"scalerAddress", "llmscale-scaler.llm:9090"},
                                                {"endpoints", engines.endpoint(0) + "," + engines.endpoint(1)},
                                                {"policy", "ray-serve"}, {"set", sets}, {"maxReplicas", "30"}};
  // fleet b: one engine, 8 ongoing at a target of 4 per replica: 2
  const std::map<std::string, std::string> b = {{"endpoints", engines.endpoint(2)}, {"policy", "ray-serve"},
                                                {"set", sets + "ray_serve.target_ongoing_requests=4"}};
  long va = 0, vb = 0;
  CHECK(eventually([&] { return fleet_metric(scaler.grpc_port(), "a", a, va).ok() && va == 8; }));
  CHECK(eventually([&] { return fleet_metric(scaler.grpc_port(), "b", b, vb).ok() && vb == 2; }));
  // the scaler-wide series follow at its next tick
  REQUIRE(eventually([&] { return http_get(scaler.http_port(), "/metrics").find("llmscale_fleets 2\n") != std::string::npos; }));
  const std::string metrics = http_get(scaler.http_port(), "/metrics");
  CHECK(llmscale::parse_prometheus(metrics, [](const llmscale::PrometheusSample&) {}).ok());
  CHECK(metrics.find("llmscale_desired_replicas{fleet=\"llm/a\"} 8\n") != std::string::npos);
  CHECK(metrics.find("llmscale_desired_replicas{fleet=\"llm/b\"} 2\n") != std::string::npos);
  CHECK(metrics.find("llmscale_fleets 2\n") != std::string::npos);  // a and b so far
  // each family once: the text format wants a family's samples together
  std::size_t types = 0;
  for (std::size_t at = 0; (at = metrics.find("# TYPE llmscale_desired_replicas ", at)) != std::string::npos; ++at) ++types;
  CHECK(types == 1);
  // fleet p: llmscale-predictive with a profile in --fleet-dir, keeping its learned state there
  long vc = 0;
  const std::filesystem::path profile = "../shared/data/profile_splitwise_perf_model.csv";
  const bool have_profile = std::filesystem::exists(profile);
  if (have_profile) {
    std::filesystem::create_directories(dir / "profiles");
    std::filesystem::copy_file(profile, dir / "profiles" / "profile.csv");
    const std::map<std::string, std::string> p = {{"endpoints", engines.endpoint(2)}, {"policy", "llmscale-predictive"},
                                                  {"profile", "profile.csv"}, {"state", "true"}, {"shadow", "true"}};
    CHECK(eventually([&] { return fleet_metric(scaler.grpc_port(), "p", p, vc).ok(); }));
  } else {
    MESSAGE("../shared/data is absent: the predictive fleet with a state file is not run");
    CHECK(fleet_metric(scaler.grpc_port(), "p", b, vc).ok());
  }
  // a fourth fleet is over --fleets 3
  CHECK(fleet_metric(scaler.grpc_port(), "c", b, vc).error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  // bad metadata: refused, naming the key
  const grpc::Status unknown = fleet_metric(scaler.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}, {"polcy", "kpa"}}, vc);
  CHECK(unknown.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(unknown.error_message().find("'polcy'") != std::string::npos);
  const grpc::Status policy = fleet_metric(scaler.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}, {"policy", "nope"}}, vc);
  CHECK(policy.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(policy.error_message().find("scalerMetadata key 'policy'") != std::string::npos);
  const grpc::Status range = fleet_metric(scaler.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}, {"maxReplicas", "0"}}, vc);
  CHECK(range.error_message().find("scalerMetadata key 'maxReplicas'") != std::string::npos);
  const grpc::Status escape = fleet_metric(scaler.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}, {"profile", "../etc/passwd"}}, vc);
  CHECK(escape.error_message().find("must be a file name in --fleet-dir") != std::string::npos);
  const grpc::Status help = fleet_metric(scaler.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}, {"tp", "--help"}}, vc);
  CHECK(help.error_message().find("scalerMetadata key 'tp'") != std::string::npos);  // a value, never the help switch
  const grpc::Status signals = fleet_metric(scaler.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}, {"set", "signals.replica_slots=1000000"}}, vc);
  CHECK(signals.error_message().find("signals.* are the scaler's own") != std::string::npos);
  // changed metadata for b is checked at once, and b runs on until a change has settled
  auto b2 = b;
  b2["policy"] = "nope";
  const grpc::Status changed = fleet_metric(scaler.grpc_port(), "b", b2, vc);
  CHECK(changed.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  b2["policy"] = "kpa";
  CHECK(fleet_metric(scaler.grpc_port(), "b", b2, vc).ok());
  CHECK(vc == 2);  // still b's ray-serve decision: the change has not settled (30 s)
  // a ScaledObject without fleet metadata has no fleet here
  CHECK(fleet_metric(scaler.grpc_port(), "d", {{"scalerAddress", "x:9090"}}, vc).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // fleet a still answers as before (a refused call changed nothing)
  CHECK(fleet_metric(scaler.grpc_port(), "a", a, va).ok());
  CHECK(va == 8);
  scaler.stop();
  if (have_profile) CHECK(std::filesystem::exists(dir / "llm.p.state"));  // p's own state, and none for a or b
  CHECK_FALSE(std::filesystem::exists(dir / "llm.a.state"));
  std::filesystem::remove_all(dir);

  // fleet metadata sent to a one-fleet scaler is refused by its key, not served another count
  llmscale_scaler::Options one = loopback_options();
  std::string error;
  one.endpoints.push_back(*llmscale_scaler::parse_endpoint(engines.endpoint(0), error));
  llmscale_scaler::Scaler single(one);
  single.start();
  const grpc::Status refused = fleet_metric(single.grpc_port(), "a", {{"endpoints", engines.endpoint(0)}}, vc);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(refused.error_message().find("'endpoints'") != std::string::npos);
  single.stop();
}
