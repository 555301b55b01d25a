// Many writer threads and one ticking thread (labels: signals, concurrency; run under tsan).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "llmscale/signals/snapshot.hpp"

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
