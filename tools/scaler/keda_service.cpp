// KEDA's external scaler (externalscaler.proto) served from a Scaler's published state.
#include "keda_service.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <grpcpp/grpcpp.h>

#include "externalscaler.grpc.pb.h"
#include "scaler.hpp"

namespace llmscale_scaler {

namespace {

namespace es = externalscaler;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class Service final : public es::ExternalScaler::Service {
 public:
  explicit Service(Scaler& scaler) : s_(scaler) {}

  grpc::Status IsActive(grpc::ServerContext*, const es::ScaledObjectRef*, es::IsActiveResponse* out) override {
    const Published p = s_.published();
    if (!p.decided) return {grpc::StatusCode::UNAVAILABLE, "llmscale-scaler has not decided yet"};
    out->set_result(p.active);
    return grpc::Status::OK;
  }

  // The current value at once, then each change, until KEDA hangs up or the scaler stops.
  grpc::Status StreamIsActive(grpc::ServerContext* context, const es::ScaledObjectRef*,
                              grpc::ServerWriter<es::IsActiveResponse>* writer) override {
    std::uint64_t seen = ~std::uint64_t{0};
    bool sent = false, last = false;
    while (!context->IsCancelled() && !s_.stopping()) {
      const Published p = s_.wait_for_change(seen, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
      seen = p.version;
      if (!p.decided || (sent && p.active == last)) continue;
      es::IsActiveResponse r;
      r.set_result(p.active);
      if (!writer->Write(r)) break;
      sent = true;
      last = p.active;
    }
    return grpc::Status::OK;
  }

  // The desired replica count as the metric, target 1: the HPA's AverageValue arithmetic
  // (ceil(value / target)) then gives back the count itself.
  grpc::Status GetMetricSpec(grpc::ServerContext*, const es::ScaledObjectRef*, es::GetMetricSpecResponse* out) override {
    es::MetricSpec* m = out->add_metricspecs();
    m->set_metricname(s_.options().metric_name);
    m->set_targetsize(1);
    m->set_targetsizefloat(1.0);
    return grpc::Status::OK;
  }

  // UNAVAILABLE while no recent decision exists (starting, or the tick loop stuck): KEDA then
  // counts a failure and, past the ScaledObject's fallback.failureThreshold, uses its fallback.
  grpc::Status GetMetrics(grpc::ServerContext*, const es::GetMetricsRequest* in, es::GetMetricsResponse* out) override {
    if (!s_.healthy()) return {grpc::StatusCode::UNAVAILABLE, "llmscale-scaler has no recent decision"};
    const Published p = s_.published();
    es::MetricValue* v = out->add_metricvalues();
    v->set_metricname(in->metricname().empty() ? s_.options().metric_name : in->metricname());
    v->set_metricvalue(p.desired);
    v->set_metricvaluefloat(static_cast<double>(p.desired));
    return grpc::Status::OK;
  }

 private:
  Scaler& s_;
};

}  // namespace

struct KedaServer::Impl {
  Scaler& scaler;
  Service service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  explicit Impl(Scaler& s) : scaler(s), service(s) {}
};

KedaServer::KedaServer(Scaler& scaler) : impl_(new Impl(scaler)) {}
KedaServer::~KedaServer() { stop(); }

void KedaServer::start() {
  const Options& o = impl_->scaler.options();
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!o.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions ssl(o.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                                   : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    if (!o.tls_client_ca.empty()) ssl.pem_root_certs = slurp(o.tls_client_ca);
    ssl.pem_key_cert_pairs.push_back({slurp(o.tls_key), slurp(o.tls_cert)});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.grpc_listen, credentials, &impl_->port);
  builder.RegisterService(&impl_->service);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    throw std::runtime_error("--grpc-listen " + o.grpc_listen + ": cannot listen there");
  }
}

void KedaServer::stop() {
  if (!impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->server->Wait();
  impl_->server.reset();
}

int KedaServer::port() const { return impl_->port; }

}  // namespace llmscale_scaler
