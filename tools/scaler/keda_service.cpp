// KEDA's external scaler (externalscaler.proto) served from a Scaler's published state.
#include "keda_service.hpp"

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>

#include "externalscaler.grpc.pb.h"
#include "log.hpp"
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

// What KEDA sends is bounded by Kubernetes: object names are at most 253 characters, a trigger's
// metadata a few short strings. Anything longer is not KEDA, and is refused (INVALID_ARGUMENT,
// naming the field) before it is used or echoed. The metadata is checked, not forbidden: a later
// version may read it.
constexpr std::size_t max_name = 253;
constexpr std::size_t max_metadata_entries = 64;
constexpr std::size_t max_metadata_value = 4096;

// A name as it may be quoted back, in the reply and the log: control bytes (a newline forging a
// log line) become '?'.
std::string printable(const std::string& name) {
  std::string r = name;
  for (char& c : r) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return r;
}

std::optional<std::string> too_long(const std::string& field, std::size_t size, std::size_t most) {
  if (size <= most) return std::nullopt;
  return field + " is " + std::to_string(size) + " bytes long, over " + std::to_string(most);
}

std::optional<std::string> check_ref(const es::ScaledObjectRef& r, const std::string& where) {
  if (auto e = too_long(where + "name", r.name().size(), max_name)) return e;
  if (auto e = too_long(where + "namespace", r.namespace_().size(), max_name)) return e;
  if (static_cast<std::size_t>(r.scalermetadata_size()) > max_metadata_entries) {
    return where + "scalerMetadata has " + std::to_string(r.scalermetadata_size()) + " entries, over " +
           std::to_string(max_metadata_entries);
  }
  for (const auto& [key, value] : r.scalermetadata()) {
    if (auto e = too_long(where + "scalerMetadata key", key.size(), max_name)) return e;
    if (auto e = too_long(where + "scalerMetadata[\"" + printable(key) + "\"]", value.size(), max_metadata_value)) return e;
  }
  return std::nullopt;
}

class Service final : public es::ExternalScaler::Service {
 public:
  explicit Service(Scaler& scaler) : s_(scaler) {}

  // The fleet a call is for (Scaler::route): the command-line one, or the one the ScaledObject's
  // metadata describes (--fleets); an error status when none can serve it.
  struct Target {
    Scaler::Route route;
    grpc::Status status;
  };
  Target target(const char* call, const es::ScaledObjectRef& ref) {
    Target t;
    const std::map<std::string, std::string> metadata(ref.scalermetadata().begin(), ref.scalermetadata().end());
    t.route = s_.route(ref.namespace_(), ref.name(), metadata);
    if (t.route.scaler != nullptr) return t;
    if (t.route.unavailable) {
      t.status = {grpc::StatusCode::UNAVAILABLE, t.route.why};
    } else if (t.route.exhausted) {
      log::limited(log::Level::warn, "keda-fleets", "KEDA: " + std::string(call) + " refused: " + t.route.why);
      t.status = {grpc::StatusCode::RESOURCE_EXHAUSTED, t.route.why};
    } else {
      t.status = invalid(call, printable(t.route.why));
    }
    return t;
  }

  grpc::Status IsActive(grpc::ServerContext*, const es::ScaledObjectRef* in, es::IsActiveResponse* out) override {
    if (auto e = check_ref(*in, "")) return invalid("IsActive", *e);
    const Target t = target("IsActive", *in);
    if (t.route.scaler == nullptr) return t.status;
    const Published p = t.route.scaler->published();
    if (!p.decided) return {grpc::StatusCode::UNAVAILABLE, "llmscale-scaler has not decided yet"};
    out->set_result(p.active);
    return grpc::Status::OK;
  }

  // The current value at once, then each change, until KEDA hangs up or the scaler stops.
  // Each open stream holds one of gRPC's threads: more than grpc_streams_max are refused
  // (RESOURCE_EXHAUSTED; KEDA retries with back-off), so a flood of streams costs a bounded
  // number of threads.
  grpc::Status StreamIsActive(grpc::ServerContext* context, const es::ScaledObjectRef* in,
                              grpc::ServerWriter<es::IsActiveResponse>* writer) override {
    if (auto e = check_ref(*in, "")) return invalid("StreamIsActive", *e);
    const Target t = target("StreamIsActive", *in);
    if (t.route.scaler == nullptr) return t.status;
    Scaler& fleet = *t.route.scaler;
    ServeCounters& c = s_.counters();
    const int most = s_.options().grpc_streams_max;
    if (++c.keda_streams_open > most) {
      --c.keda_streams_open;
      ++c.keda_streams_refused;
      log::limited(log::Level::warn, "keda-streams", "KEDA: a StreamIsActive refused: " + std::to_string(most) + " streams are open already");
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, std::to_string(most) + " StreamIsActive streams are open already"};
    }
    struct Open {
      ServeCounters& c;
      ~Open() { --c.keda_streams_open; }
    } open{c};
    std::uint64_t seen = ~std::uint64_t{0};
    bool sent = false, last = false;
    while (!context->IsCancelled() && !s_.stopping() && !fleet.stopping()) {
      const Published p = fleet.wait_for_change(seen, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
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
  grpc::Status GetMetricSpec(grpc::ServerContext*, const es::ScaledObjectRef* in, es::GetMetricSpecResponse* out) override {
    if (auto e = check_ref(*in, "")) return invalid("GetMetricSpec", *e);
    const Target t = target("GetMetricSpec", *in);  // a fleet's metadata is checked when KEDA first reads it
    if (t.route.scaler == nullptr) return t.status;
    es::MetricSpec* m = out->add_metricspecs();
    m->set_metricname(s_.options().metric_name);
    m->set_targetsize(1);
    m->set_targetsizefloat(1.0);
    return grpc::Status::OK;
  }

  // UNAVAILABLE while no recent decision exists (starting, or the tick loop stuck): KEDA then
  // counts a failure and, past the ScaledObject's fallback.failureThreshold, uses its fallback.
  // The metric name must be the one GetMetricSpec gave (KEDA strips its "sN-" prefix) or empty.
  grpc::Status GetMetrics(grpc::ServerContext*, const es::GetMetricsRequest* in, es::GetMetricsResponse* out) override {
    if (auto e = check_ref(in->scaledobjectref(), "scaledObjectRef.")) return invalid("GetMetrics", *e);
    const std::string& served = s_.options().metric_name;
    if (auto e = too_long("metricName", in->metricname().size(), max_name)) return invalid("GetMetrics", *e);
    if (!in->metricname().empty() && in->metricname() != served) {
      return invalid("GetMetrics", "metricName '" + printable(in->metricname()) + "' is not served here (only '" + served + "')");
    }
    const Target t = target("GetMetrics", in->scaledobjectref());
    if (t.route.scaler == nullptr) return t.status;
    if (!t.route.scaler->healthy()) return {grpc::StatusCode::UNAVAILABLE, "llmscale-scaler has no recent decision"};
    const Published p = t.route.scaler->published();
    es::MetricValue* v = out->add_metricvalues();
    v->set_metricname(served);
    v->set_metricvalue(p.desired);
    v->set_metricvaluefloat(static_cast<double>(p.desired));
    return grpc::Status::OK;
  }

 private:
  grpc::Status invalid(const char* call, const std::string& why) {
    ++s_.counters().keda_requests_invalid;
    log::limited(log::Level::warn, std::string("keda-invalid:") + call, std::string("KEDA: ") + call + " refused: " + why);
    return {grpc::StatusCode::INVALID_ARGUMENT, why};
  }

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
  // The synchronous server runs each call on a thread of its own: the quota caps them (streams,
  // and room for the unary calls beside them); past it, gRPC answers RESOURCE_EXHAUSTED.
  grpc::ResourceQuota quota("llmscale-scaler");
  quota.SetMaxThreads(o.grpc_streams_max + 16);
  builder.SetResourceQuota(quota);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
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
