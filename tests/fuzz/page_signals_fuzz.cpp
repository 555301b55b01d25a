// Fuzz target: the whole page-to-signals path of llmscale-scaler, with any bytes as the pages.
// A script of scrapes over four replica slots (which slot, how much time passes, a failed
// scrape or a page: bytes from the input after a vLLM-like preamble whose figures the input
// also picks, NaN, 1e308 and negative values included), each page read by read_engine_metrics
// and fed to ScrapedSignals::observe, with a tick after each. It fails if anything crashes (run
// under ASan/UBSan), if a snapshot holds a NaN, an infinity, a negative figure or a fraction
// above 1, or if the completion rate passes what the watched replicas can finish
// (EngineBounds::max_completion_rate each): a page must not make the fleet look busier than
// it can be.
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-page_signals, and everywhere
// as a plain test that replays the corpus and a fixed set of random inputs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/adapters/scraped_signals.hpp"
#include "support/snapshot_checks.hpp"

namespace {

class Input : public llmscale_fuzz::FuzzInput {
 public:
  using FuzzInput::FuzzInput;
  // a figure as a page would write it: mostly plausible, sometimes anything
  std::string figure() {
    static const char* const odd[] = {"NaN", "+Inf", "-Inf", "1e308", "-5", "1e15", "4.9e-324", "0"};
    const std::uint8_t how = byte();
    if (how < 32) return odd[how % 8];
    return std::to_string(how * (1 + byte()));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  llmscale::SignalsConfig config;
  config.replica_slots = 4;
  config.window_s = 30;
  config.stale_after_s = 20;
  llmscale::ScrapedSignals signals(config, llmscale::at_seconds(0));
  const llmscale::EngineMetricMap map = *llmscale::engine_preset((in.byte() & 1) != 0 ? "vllm" : "sglang");
  llmscale::PrometheusParser parser;
  const double max_rate = llmscale::EngineBounds{}.max_completion_rate;
  double t = 0;
  for (std::size_t s = 0; s < 4; ++s) signals.watch(s);
  while (!in.empty()) {
    const std::uint8_t op = in.byte();
    const std::size_t slot = op % 4;
    t += (op >> 2) % 16 * 0.5;  // 0 to 7.5 s: sometimes no time at all
    if ((op & 0xC0) == 0xC0) {
      signals.scrape_failed(slot);
    } else if ((op & 0xC0) == 0x80) {
      signals.forget(slot);
      signals.watch(slot);
    } else {
      std::string page = "vllm:num_requests_running " + in.figure() + "\nvllm:num_requests_waiting " + in.figure() +
                         "\nvllm:gpu_cache_usage_perc " + in.figure() + "\nvllm:e2e_request_latency_seconds_count " +
                         in.figure() + "\nvllm:e2e_request_latency_seconds_sum " + in.figure() +
                         "\nprocess_start_time_seconds " + std::to_string(in.byte() % 3) + "\n";
      page += in.bytes(in.byte());
      const llmscale::EngineScrape scrape = llmscale::read_engine_metrics(page, map, parser);
      signals.observe(slot, scrape, llmscale::at_seconds(t));
    }
    const llmscale::Signals& snap = signals.tick(llmscale::at_seconds(t));
    if (!llmscale_test::snapshot_is_sane(snap)) {
      std::fprintf(stderr, "page_signals fuzz: an insane snapshot at t = %g\n", t);
      std::abort();
    }
    if (snap.completion_rate > 4 * max_rate * 1.000001) {
      std::fprintf(stderr, "page_signals fuzz: completion rate %g over 4 replicas' %g\n", snap.completion_rate,
                   4 * max_rate);
      std::abort();
    }
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
