// Fuzz target: any bytes as llmscale-replay's --set assignments (one per line,
// name.key=value), applied to a fresh set of contestants the way the replay applies them. It
// fails if anything crashes (run under ASan/UBSan), if a refusal is anything but the usage
// error the tool turns into exit status 2, or if an accepted assignment leaves a config that
// its own validate() rejects (a value past its range, NaN).
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-set, and everywhere as a
// plain test that replays the corpus and a fixed set of random inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llmscale/sim/contestants.hpp"
#include "replay_set.hpp"

namespace {

template <class... Config>
bool all_valid(const Config&... c) {
  return (!c.validate() && ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const llmscale::SimConfig sim;
  llmscale::Contestants c = llmscale::Contestants::for_run(sim, 1, 64);
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string line(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    try {
      llmscale_replay::apply_set(c, line);
    } catch (const llmscale_replay::UsageError& e) {
      if (std::string_view(e.what()).empty()) std::abort();
    }
  }
  if (!all_valid(c.hpa_gpu_util, c.hpa_gpu_mem, c.hpa_tuned, c.kpa, c.kpa_tuned, c.ray_serve, c.ray_serve_tuned,
                 c.aibrix_apa, c.aibrix_tuned, c.llmd_saturation, c.llmd_tuned, c.slo, c.pid, c.predictive,
                 c.pid_planner, c.hpa_behaviour, c.neutral)) {
    std::abort();
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
