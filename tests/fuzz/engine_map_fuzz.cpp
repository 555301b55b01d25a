// Fuzz target: any bytes as an --engine-map (key=value lines naming the metrics a custom
// engine exposes). It fails if anything crashes (run under ASan/UBSan), if a refused map
// leaves no error message, or if an accepted map, used on a page built from its own names,
// does not read that page back.
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-engine_map, and everywhere
// as a plain test that replays the corpus and a fixed set of random inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llmscale/adapters/engine_metrics.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto map = llmscale::parse_engine_map(text, error);
  if (!map) {
    if (error.empty()) std::abort();
    return 0;
  }
  // whatever it names, reading any page through it must not crash, and a page must not be
  // believed when it claims more than the bounds allow
  llmscale::PrometheusParser parser;
  const std::string page = "# a page whose names the map may or may not use\n" + std::string(text) +
                           "\nvllm:num_requests_running 1e308\nvllm:num_requests_waiting 3\n";
  const llmscale::EngineScrape s = llmscale::read_engine_metrics(page, *map, parser);
  if (s.usable() && s.running && *s.running > llmscale::EngineBounds{}.max_requests) std::abort();
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
