// Signals/...: the request path's cost per event and the control thread's cost per tick.
// Baseline in the same run: Signals/Baseline/atomic_add, one relaxed atomic add.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>

#include "llmscale/signals/recorder.hpp"
#include "llmscale/signals/collector.hpp"

namespace {

using llmscale::at_seconds;
using llmscale::Duration;
using llmscale::TimePoint;
using namespace std::chrono_literals;

std::atomic<std::uint64_t> baseline_counter{0};

void Signals_Baseline_atomic_add(benchmark::State& state) {
  for (auto _ : state) baseline_counter.fetch_add(1, std::memory_order_relaxed);
}
BENCHMARK(Signals_Baseline_atomic_add)->Name("Signals/Baseline/atomic_add");
BENCHMARK(Signals_Baseline_atomic_add)->Name("Signals/Baseline/atomic_add")->Threads(2);

// One event per iteration, cycling through a request's life: arrived, admitted (with its queue
// wait), first token (TTFT), finished (tokens, output lengths of 13-1,024 in turn, and TPOT).
// Times advance 1 us per event.
void Signals_Recorder_record(benchmark::State& state) {
  // One recorder for every run and thread (never drained, so times never go stale).
  static llmscale::Recorder r([] {
    llmscale::RecorderConfig config;
    config.event_skew_s = 60;
    return config;
  }(), at_seconds(0));
  TimePoint t = at_seconds(1);
  std::uint32_t i = 0;
  const Duration waits[4] = {Duration(3ms), Duration(40ms), Duration(250ms), Duration(1200ms)};
  const long long outputs[4] = {13, 128, 211, 1024};
  for (auto _ : state) {
    switch (i & 3U) {
      case 0: r.arrived(t); break;
      case 1: r.admitted(t, waits[(i >> 2) & 3U]); break;
      case 2: r.first_token(t, waits[(i >> 3) & 3U] + 80ms); break;
      default: r.finished(t, 4s, 512, outputs[(i >> 5) & 3U], waits[(i >> 4) & 3U] / 16 + 20ms); break;
    }
    ++i;
    t += 1us;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(Signals_Recorder_record)->Name("Signals/Recorder/record");
BENCHMARK(Signals_Recorder_record)->Name("Signals/Recorder/record")->Threads(2)->UseRealTime();

// One tick with 10,000 events recorded since the last (2,500 requests through their four
// events; queue waits and TTFTs spread log-normally over several octaves; with tick_tpot each
// request's TPOT too, so the third latency window fills) and 64 replica slots
// reporting. Google Benchmark's PauseTiming costs about 1.5 us itself here, so the events for
// a batch of 8 collectors are recorded with the timers paused once, and each timed iteration
// ticks the next collector; Signals/Snapshot/tick_baseline measures the same loop without the
// tick (the pause's share). A ticked collector's data was last touched while the batch was
// recorded, so it is partly out of cache, as a control thread finds what request threads
// recorded.
void Signals_Snapshot_tick(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(1));
  const bool with_tpot = state.range(2) != 0;
  llmscale::SignalsConfig config;
  config.replica_slots = 64;
  config.recorder.writer_shards = 1;
  std::vector<std::unique_ptr<llmscale::SignalCollector>> collectors;
  for (std::size_t i = 0; i < batch; ++i) collectors.push_back(std::make_unique<llmscale::SignalCollector>(config, at_seconds(0)));
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> wait_s(std::log(0.05), 1.0);
  std::lognormal_distribution<double> ttft_s(std::log(0.4), 0.5);
  std::lognormal_distribution<double> tpot_s(std::log(0.05), 0.3);
  std::vector<Duration> waits(4096), ttfts(4096), tpots(4096);
  for (auto& w : waits) w = llmscale::from_seconds(wait_s(rng));
  for (auto& w : ttfts) w = llmscale::from_seconds(ttft_s(rng));
  for (auto& w : tpots) w = llmscale::from_seconds(tpot_s(rng));
  llmscale::ReplicaGauges g;
  g.max_batch = 64;
  g.kv_tokens_capacity = 400000;
  g.kv_block_size = 16;
  TimePoint now = at_seconds(0);
  std::size_t k = 0;
  std::size_t next = batch;
  const auto record_batch = [&] {
    const TimePoint t0 = now;
    now += 1s;
    for (auto& c : collectors) {
      for (int i = 0; i < 2500; ++i) {
        const TimePoint t = t0 + Duration(i * 400000);  // spread over the 1 s tick
        c->recorder().arrived(t);
        c->recorder().admitted(t, waits[k & 4095]);
        c->recorder().first_token(t, ttfts[k & 4095]);
        c->recorder().finished(t, 3s, 700, 180, with_tpot ? tpots[k & 4095] : Duration(-1));
        ++k;
      }
      for (std::size_t s = 0; s < 64; ++s) {
        g.queue_length = static_cast<std::int64_t>((s * 7 + k) % 9);
        g.running = static_cast<std::int64_t>((s * 13 + k) % 65);
        g.kv_tokens_used = g.running * 3000;
        g.sampled_at = now;
        c->gauges().set(s, g);
      }
    }
  };
  for (auto _ : state) {
    if (next == batch) {
      state.PauseTiming();
      record_batch();
      next = 0;
      state.ResumeTiming();
    }
    if (state.range(0) != 0) {
      benchmark::DoNotOptimize(collectors[next]->tick(now));
    }
    ++next;
  }
}
BENCHMARK(Signals_Snapshot_tick)->Name("Signals/Snapshot/tick")->Args({1, 8, 0})->MinTime(0.2);
// A host that gives Recorder::finished each request's TPOT: three latency windows, not two.
BENCHMARK(Signals_Snapshot_tick)->Name("Signals/Snapshot/tick_tpot")->Args({1, 8, 1})->MinTime(0.2);
// The same loop without the tick: what the paused recording costs the measurement.
BENCHMARK(Signals_Snapshot_tick)->Name("Signals/Snapshot/tick_baseline")->Args({0, 8, 0})->Iterations(200000);

}  // namespace
