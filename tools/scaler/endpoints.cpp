// llmscale-scaler: parsing endpoints and the endpoint file (see endpoints.hpp).
#include "endpoints.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <unordered_set>

namespace llmscale_scaler {

std::optional<Endpoint> parse_endpoint(std::string_view t, std::string& error) {
  const std::string original(t);
  if (t.substr(0, 7) == "http://") t.remove_prefix(7);
  if (t.substr(0, 8) == "https://") {
    error = "endpoint '" + original + "': https is not supported (engines' /metrics are plain HTTP)";
    return std::nullopt;
  }
  Endpoint e;
  const std::size_t slash = t.find('/');
  if (slash != std::string_view::npos) {
    e.target = std::string(t.substr(slash));
    t = t.substr(0, slash);
  }
  std::size_t colon;
  if (!t.empty() && t.front() == '[') {
    const std::size_t close = t.find(']');
    if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') {
      error = "endpoint '" + original + "': want [ipv6]:port";
      return std::nullopt;
    }
    e.host = std::string(t.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = t.rfind(':');
    if (colon == std::string_view::npos) {
      error = "endpoint '" + original + "': want host:port[/path]";
      return std::nullopt;
    }
    e.host = std::string(t.substr(0, colon));
  }
  e.port = std::string(t.substr(colon + 1));
  const bool port_ok = !e.port.empty() && e.port.size() <= 5 &&
                       std::all_of(e.port.begin(), e.port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
                       std::stoi(e.port) >= 1 && std::stoi(e.port) <= 65535;
  if (e.host.size() > max_host_bytes || e.target.size() > max_target_bytes) {
    error = "endpoint '" + original.substr(0, 64) + "...': a host is at most 253 bytes, a path at most 2048";
    return std::nullopt;
  }
  if (e.host.empty() || !port_ok) {
    error = "endpoint '" + original + "': want host:port[/path] with a port in [1, 65535]";
    return std::nullopt;
  }
  // a host is a DNS name or an IPv4 address, or an IPv6 address in brackets (':' only there, and
  // '%' for a zone): anything else would not be written back the way it was read
  const bool bracketed = !t.empty() && t.front() == '[';
  for (char c : e.host) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
                    (bracketed && (c == ':' || c == '%'));
    if (!ok || (bracketed && e.host.find(':') == std::string::npos)) {
      error = "endpoint '" + original + "': a host is a DNS name, an IPv4 address or [an IPv6 address]";
      return std::nullopt;
    }
  }
  for (char c : e.host + e.target) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u) || c == '"' || c == '\\' || u < 0x20 || u >= 0x7f) {  // an HTTP target is visible ASCII
      error = "endpoint '" + original + "': spaces, quotes, control characters and non-ASCII bytes are not allowed";
      return std::nullopt;
    }
  }
  return e;
}

std::optional<EndpointList> parse_endpoint_list(std::string_view text, std::string& error) {
  EndpointList list;
  std::unordered_set<std::string> seen;  // a file repeating an endpoint lists it once
  int line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.substr(0, 9) == "starting ") {
      const std::string n(line.substr(9));
      char* end = nullptr;
      const long v = std::strtol(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 0 || v > 1'000'000) {
        error = "line " + std::to_string(line_no) + ": 'starting " + n + "': want a count in [0, 1000000]";
        return std::nullopt;
      }
      list.starting = static_cast<int>(v);
      continue;
    }
    std::string why;
    auto e = parse_endpoint(line, why);
    if (!e) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return std::nullopt;
    }
    if (seen.insert(e->text()).second) {
      if (list.ready.size() == max_endpoints) {
        error = "line " + std::to_string(line_no) + ": more than " + std::to_string(max_endpoints) + " endpoints";
        return std::nullopt;
      }
      list.ready.push_back(std::move(*e));
    }
  }
  return list;
}

}  // namespace llmscale_scaler
