// Fuzz target: any bytes as llmscale-scaler's endpoint file (and each line as a --endpoints
// item). It fails if anything crashes (run under ASan/UBSan), if a refusal has no message, or
// if an accepted endpoint breaks the rules a scrape relies on: a host of 1-253 bytes without
// spaces, quotes or control characters, a port in [1, 65535], a path starting with '/', and
// its written form parsing back to the same endpoint; a list holds each endpoint once.
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-endpoints, and everywhere as
// a plain test that replays the corpus and a fixed set of random inputs.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "endpoints.hpp"

namespace {

void check(const llmscale_scaler::Endpoint& e) {
  if (e.host.empty() || e.host.size() > llmscale_scaler::max_host_bytes) std::abort();
  for (const char c : e.host + e.target) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u) || c == '"' || u < 0x20 || u >= 0x7f) std::abort();
  }
  const int port = std::stoi(e.port);
  if (port < 1 || port > 65535 || e.target.empty() || e.target.front() != '/') std::abort();
  std::string error;
  const auto again = llmscale_scaler::parse_endpoint(e.text(), error);
  if (!again || !(*again == e) || again->host != e.host || again->port != e.port) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (const auto list = llmscale_scaler::parse_endpoint_list(text, error)) {
    std::set<std::string> seen;
    for (const auto& e : list->ready) {
      check(e);
      if (!seen.insert(e.text()).second) std::abort();
    }
    if (list->starting && (*list->starting < 0 || *list->starting > 1'000'000)) std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  const std::string_view first = text.substr(0, text.find('\n'));
  error.clear();
  if (const auto e = llmscale_scaler::parse_endpoint(first, error)) {
    check(*e);
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
