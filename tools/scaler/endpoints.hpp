// llmscale-scaler: the engines it scrapes, as written on the command line and in the endpoint
// file. Standard C++ only, so the fuzz target compiles it without gRPC or Boost.
#ifndef LLMSCALE_TOOLS_SCALER_ENDPOINTS_HPP
#define LLMSCALE_TOOLS_SCALER_ENDPOINTS_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmscale_scaler {

/// One engine's metrics page: http://host:port/path.
struct Endpoint {
  std::string host;
  std::string port;
  std::string target = "/metrics";
  /// host:port, with an IPv6 host in brackets (the HTTP Host header, and how it is written).
  [[nodiscard]] std::string authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  }
  [[nodiscard]] std::string text() const { return authority() + target; }
  friend bool operator==(const Endpoint& a, const Endpoint& b) { return a.text() == b.text(); }
};

/// The most endpoints one list holds (the scaler's replica slots are bounded the same way), and
/// the longest host (DNS's 253) and path an endpoint may have.
inline constexpr std::size_t max_endpoints = 10'000;
inline constexpr std::size_t max_host_bytes = 253;
inline constexpr std::size_t max_target_bytes = 2048;

/// "host:port", "host:port/path" or "http://host:port/path" ([v6]:port for IPv6); nullopt
/// and `error` saying why otherwise.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error);

/// The endpoint file (one endpoint per line; `#` comments and blank lines skipped; a line
/// `starting N` says N replicas are starting and not yet listed, as a Kubernetes Endpoints
/// object's notReadyAddresses would).
struct EndpointList {
  std::vector<Endpoint> ready;
  std::optional<int> starting;  ///< nullopt: not said (the scaler estimates it)
};
std::optional<EndpointList> parse_endpoint_list(std::string_view text, std::string& error);

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_SCALER_ENDPOINTS_HPP
