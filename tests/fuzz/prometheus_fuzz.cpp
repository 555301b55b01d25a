// Fuzz target: any bytes as a Prometheus /metrics page, fed whole and again in chunks whose
// sizes come from the input. It fails if anything crashes (run under ASan/UBSan), if the two
// feedings disagree, if a sample's views leave the page or its label count passes the limit,
// or if counts are inconsistent (more samples than lines, errors past max_errors).
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-prometheus (CI runs it for
// 60 s), and everywhere as a plain test that replays a fixed set of random inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/adapters/prometheus.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  llmscale::PrometheusLimits limits;
  limits.max_line_bytes = 64 + data[0] % 200;  // small limits: the bounds are exercised
  limits.max_labels = 1 + data[0] % 5;
  limits.max_errors = 1 + data[0] % 50;
  const std::string_view page(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<double> whole, chunked;
  const auto check = [&](const llmscale::PrometheusSample& s) {
    if (s.label_count > limits.max_labels || s.name.empty() || s.name.size() > limits.max_line_bytes) std::abort();
    for (std::size_t i = 0; i < s.label_count; ++i) {
      if (s.labels[i].name.empty() || s.labels[i].value.size() > limits.max_line_bytes) std::abort();
    }
  };
  llmscale::PrometheusParser parser(limits);
  const auto r1 = llmscale::parse_prometheus(
      page, [&](const llmscale::PrometheusSample& s) { check(s); whole.push_back(s.value); }, limits);
  std::size_t at = 0;
  std::size_t k = 0;
  while (at < page.size()) {
    const std::size_t len = std::min<std::size_t>(page.size() - at, 1 + data[k++ % size] % 97);
    parser.feed(page.substr(at, len), [&](const llmscale::PrometheusSample& s) { check(s); chunked.push_back(s.value); });
    at += len;
  }
  const auto r2 = parser.finish([&](const llmscale::PrometheusSample& s) { check(s); chunked.push_back(s.value); });
  if (r1.samples != r2.samples || r1.errors != r2.errors || r1.lines != r2.lines) std::abort();
  if (whole.size() != chunked.size() || r1.samples != whole.size()) std::abort();
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (!(whole[i] == chunked[i] || (whole[i] != whole[i] && chunked[i] != chunked[i]))) std::abort();  // NaN == NaN
  }
  if (r1.samples > r1.lines || r1.errors > limits.max_errors || r1.errors + r1.samples > r1.lines) std::abort();
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
