// Fuzz target: random sequences of request events, engine gauges and ticks (with any times,
// durations and counts) through a SignalCollector. It fails if a snapshot holds a NaN, an
// infinity or a negative figure, or if anything crashes (run under ASan/UBSan).
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-signals (CI runs it for
// 60 s), and everywhere as a plain test that replays a fixed set of random inputs.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz/fuzz_input.hpp"
#include "llmscale/signals/collector.hpp"
#include "support/snapshot_checks.hpp"

namespace {

class Input : public llmscale_fuzz::FuzzInput {
 public:
  using FuzzInput::FuzzInput;
  // a time near `base` most of the time, anything at all sometimes
  llmscale::TimePoint time(double base) {
    const std::uint8_t how = byte();
    if (how < 16) return llmscale::TimePoint(llmscale::Duration(i64()));
    if (how < 32) return llmscale::at_seconds(f64());
    return llmscale::at_seconds(base + (static_cast<double>(byte()) - 128.0) / 64.0);
  }
  llmscale::Duration duration() {
    const std::uint8_t how = byte();
    if (how < 32) return llmscale::Duration(i64());
    return std::chrono::microseconds(static_cast<std::int64_t>(byte()) << (byte() % 24));
  }
};


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  llmscale::SignalsConfig config;
  config.recorder.writer_shards = 1;
  config.replica_slots = 4;
  config.quantile_subwindows = 3;
  llmscale::SignalCollector c(config, llmscale::at_seconds(1000));
  Input in(data, size);
  double now = 1000;
  while (!in.empty()) {
    switch (in.byte() % 9) {
      case 0: c.recorder().arrived(in.time(now)); break;
      case 1: c.recorder().admitted(in.time(now), in.duration()); break;
      case 2: c.recorder().first_token(in.time(now), in.duration()); break;
      case 3: c.recorder().finished(in.time(now), in.duration(), in.i64(), in.i64() % 100000); break;
      case 4: c.recorder().rejected(in.time(now)); break;
      case 5: c.recorder().cancelled(in.time(now), in.byte() % 2 == 0); break;
      case 6: {
        llmscale::ReplicaGauges g;
        g.queue_length = in.byte() - 8;
        g.running = in.byte();
        g.max_batch = in.byte();
        g.kv_tokens_used = in.i64() % 5000;
        g.kv_tokens_capacity = in.i64() % 5000;
        g.kv_block_size = in.byte() % 32;
        g.sampled_at = in.time(now);
        c.gauges().set(in.byte() % 6, g);
        break;
      }
      case 7: c.gauges().clear(in.byte() % 6); break;
      default: {
        const std::uint8_t step = in.byte();
        // mostly forward by up to ~4 s, sometimes backwards, sometimes hours ahead
        const double t = step < 16 ? now - 2 : (step > 250 ? now + 7200 : now + step / 64.0);
        if (t >= now) now = t;
        if (!llmscale_test::snapshot_is_sane(c.tick(llmscale::at_seconds(t)))) std::abort();
      }
    }
  }
  if (!llmscale_test::snapshot_is_sane(c.tick(llmscale::at_seconds(now + 1)))) std::abort();
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 500
#include "fuzz/replay_main.hpp"
