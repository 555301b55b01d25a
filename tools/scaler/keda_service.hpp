// KEDA's external-scaler gRPC service over a running Scaler (keda_service.cpp holds the gRPC
// code, so that only one translation unit includes its headers).
#ifndef LLMSCALE_TOOLS_KEDA_SERVICE_HPP
#define LLMSCALE_TOOLS_KEDA_SERVICE_HPP

#include <memory>

namespace llmscale_scaler {

class Scaler;

/// Serves IsActive, StreamIsActive, GetMetricSpec and GetMetrics from `scaler`'s published
/// state on its options' grpc_listen address (TLS when tls_cert/tls_key are set; client
/// certificates required when tls_client_ca is).
class KedaServer {
 public:
  explicit KedaServer(Scaler& scaler);
  ~KedaServer();
  KedaServer(const KedaServer&) = delete;
  KedaServer& operator=(const KedaServer&) = delete;

  /// Throws std::runtime_error when the address cannot be bound.
  void start();
  /// Ends open streams and shuts the server down (waits at most 2 s for calls in flight).
  void stop();
  [[nodiscard]] int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_KEDA_SERVICE_HPP
