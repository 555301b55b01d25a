// Many writer threads and one ticking thread (labels: signals, concurrency; run under tsan).
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "llmscale/signals/collector.hpp"

using llmscale::at_seconds;
using namespace std::chrono_literals;

TEST_CASE("N writers and a draining thread: every event counted exactly once") {
  constexpr int writers = 4;
  constexpr int requests = 20000;
  llmscale::RecorderConfig config;
  config.writer_shards = 2;  // two writers share the locked overflow shard
  llmscale::Recorder recorder(config, at_seconds(0));
  std::atomic<std::int64_t> clock_ns{1'000'000'000};  // a virtual clock the drainer advances
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < requests; ++i) {
        const auto t = llmscale::TimePoint(llmscale::Duration(clock_ns.load(std::memory_order_relaxed)));
        recorder.arrived(t);
        recorder.admitted(t, std::chrono::microseconds(100 + (i % 50)));
        recorder.first_token(t, std::chrono::milliseconds(1 + w));
        if (i % 10 == 0) {
          recorder.cancelled(t, true);
        } else {
          recorder.finished(t, 5ms, 10, 1);
        }
      }
      done.fetch_add(1);
    });
  }
  std::uint64_t arrivals = 0, admitted = 0, firsts = 0, finished = 0, cancelled = 0, stale = 0;
  std::uint64_t wait_samples = 0;
  const auto add = [&](const llmscale::RecorderDelta& d) {
    arrivals += d.arrivals;
    admitted += d.admitted;
    firsts += d.first_tokens;
    finished += d.finished;
    cancelled += d.cancelled;
    stale += d.dropped_stale;
    wait_samples += d.queue_wait_samples;
    REQUIRE(d.dropped_invalid == 0);
  };
  while (done.load() < writers) {
    const std::int64_t now = clock_ns.fetch_add(100'000) + 100'000;  // +0.1 ms per drain
    add(recorder.drain(llmscale::TimePoint(llmscale::Duration(now))));
  }
  for (auto& t : threads) t.join();
  const auto last = recorder.drain(llmscale::TimePoint(llmscale::Duration(clock_ns.load() + 1)));
  add(last);
  CHECK(arrivals == writers * requests);
  CHECK(admitted == writers * requests);
  CHECK(firsts == writers * requests);
  CHECK(finished + cancelled == writers * requests);
  CHECK(cancelled == writers * requests / 10);
  // a stale admission keeps its transition and drops only its wait sample
  CHECK(wait_samples <= writers * requests);
  CHECK(wait_samples + stale >= writers * requests);
  CHECK(last.queued_now == 0);
  CHECK(last.running_now == 0);
  CHECK(recorder.writers() == 3);  // 2 own shards + the shared one
}

TEST_CASE("a collector ticking while request threads record and a host thread sets gauges") {
  llmscale::SignalsConfig config;
  config.replica_slots = 8;
  llmscale::SignalCollector collector(config, at_seconds(0));
  std::atomic<std::int64_t> clock_ns{1'000'000'000};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> recorded{0};
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t = llmscale::TimePoint(llmscale::Duration(clock_ns.load(std::memory_order_relaxed)));
        collector.recorder().arrived(t);
        collector.recorder().admitted(t, 1ms);
        collector.recorder().finished(t, 2ms, 5, 5);
        recorded.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  threads.emplace_back([&] {
    llmscale::ReplicaGauges g;
    g.max_batch = 16;
    g.kv_tokens_capacity = 1000;
    std::int64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      g.running = i % 17;
      g.kv_tokens_used = (i * 37) % 1001;
      g.sampled_at = llmscale::TimePoint(llmscale::Duration(clock_ns.load(std::memory_order_relaxed)));
      collector.gauges().set(static_cast<std::size_t>(i % 8), g);
      ++i;
    }
  });
  std::uint64_t ticks = 0;
  while (ticks < 200 || recorded.load() < 20000) {
    const std::int64_t now = clock_ns.fetch_add(1'000'000) + 1'000'000;
    const auto& s = collector.tick(llmscale::TimePoint(llmscale::Duration(now)));
    REQUIRE(s.engines.kv_utilization_max <= 1.0);
    REQUIRE(s.engines.replicas_reporting <= 8);
    ++ticks;
  }
  stop = true;
  for (auto& t : threads) t.join();
  CHECK(ticks > 0);
}

TEST_CASE("engine gauges: writers on many threads, a summary never mixes two samples or half an update") {
  // Each sample a writer sets holds queue = running = k and KV used = 1000 k (k varies), so
  // every consistent summary has queue total = running total and KV used = 1000 x running
  // total; a summary that read half of a writer's update, or one replica's sample half old and
  // half new, breaks an equality. Two writers own 8 slots each and clear them now and then; a
  // third sets and clears any of the 16 (writers may share slots). At the end, with the
  // writers done, the summary must equal the recount of the samples they left.
  llmscale::EngineGauges gauges(16);
  std::atomic<bool> stop{false};
  std::atomic<int> done_writers{0};
  std::vector<std::thread> threads;
  const auto sample = [](std::int64_t k, double t) {
    llmscale::ReplicaGauges g;
    g.queue_length = k;
    g.running = k;
    g.max_batch = 64;
    g.kv_tokens_used = 1000 * k;
    g.kv_tokens_capacity = 100000;
    g.sampled_at = at_seconds(t);
    return g;
  };
  std::atomic<int> refused{0};  // samples an owner set that were refused (none may be)
  std::array<std::int64_t, 16> final_k{};
  std::array<bool, 16> final_live{};
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::int64_t i = 0;
      std::array<std::int64_t, 8> k{};
      std::array<bool, 8> live{};
      while (!stop.load(std::memory_order_relaxed) || i < 20000) {
        const auto s = static_cast<std::size_t>(i % 8);
        if (i % 13 == 0) {
          gauges.clear(static_cast<std::size_t>(w * 8) + s);
          live[s] = false;
        } else {
          k[s] = (i * 7 + w) % 64;
          if (!gauges.set(static_cast<std::size_t>(w * 8) + s, sample(k[s], 100.0 + static_cast<double>(i) * 1e-6))) {
            refused.fetch_add(1);
          }
          live[s] = true;
        }
        ++i;
      }
      for (std::size_t s = 0; s < 8; ++s) {
        final_k[static_cast<std::size_t>(w * 8) + s] = k[s];
        final_live[static_cast<std::size_t>(w * 8) + s] = live[s];
      }
      done_writers.fetch_add(1);
    });
  }
  // the third writer: older samples than the owners' (rejected as out of order once an owner
  // has written the slot) and clears, racing the owners on the same slots
  threads.emplace_back([&] {
    std::int64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const auto s = static_cast<std::size_t>((i * 5) % 16);
      if (i % 3 == 0) {
        gauges.clear(s);
      } else {
        (void)gauges.set(s, sample(i % 64, 99.0));
      }
      ++i;
    }
  });
  std::uint64_t summaries = 0, inconsistent = 0;
  while (summaries < 20000 || done_writers.load() < 2) {
    const llmscale::FleetGauges f = gauges.summarize(at_seconds(100.5), 10s);
    const bool consistent = f.queue_length_total == f.running_total && f.kv_tokens_used == 1000 * f.running_total &&
                            f.replicas_reporting <= 16 && f.kv_tokens_capacity == 100000 * f.replicas_reporting;
    inconsistent += consistent ? 0 : 1;
    ++summaries;
    if (summaries == 20000) stop = true;
  }
  stop = true;
  for (auto& t : threads) t.join();
  CHECK(inconsistent == 0);
  CHECK(refused.load() == 0);
  // the third writer may have cleared an owner's slot last: set them all again, then recount
  std::int64_t running = 0;
  int reporting = 0;
  for (std::size_t s = 0; s < 16; ++s) {
    if (!final_live[s]) {
      gauges.clear(s);
      continue;
    }
    REQUIRE(gauges.set(s, sample(final_k[s], 200.0)));
    running += final_k[s];
    ++reporting;
  }
  const llmscale::FleetGauges f = gauges.summarize(at_seconds(200.0), 10s);
  CHECK(f.replicas_reporting == reporting);
  CHECK(f.running_total == running);
  CHECK(f.queue_length_total == running);
  CHECK(f.kv_tokens_used == 1000 * running);
}
