// SignalCollector end to end: a steady load worked out by hand, engine gauges, staleness,
// garbage input never reaching the snapshot as NaN, and no allocation per event or tick.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "support/counting_allocator.hpp"
#include "support/snapshot_checks.hpp"

#include "llmscale/signals/collector.hpp"

using llmscale::at_seconds;
using llmscale::EngineGauges;
using llmscale::FleetGauges;
using llmscale::ReplicaGauges;
using llmscale::SaturationThresholds;
using llmscale::SignalCollector;
using llmscale::SignalsConfig;
using namespace std::chrono_literals;

namespace {
// 10 requests/s; each waits 0.5 s in the queue, gets its first token 0.7 s after arriving and
// finishes 2.5 s after arriving, with 1000 prompt and 200 output tokens.
void steady_load(SignalCollector& c, double from, double to) {
  struct Ev {
    double t;
    int kind;
  };
  std::vector<Ev> evs;
  for (int i = static_cast<int>(std::lround(from * 10)); i < std::lround(to * 10); ++i) {
    const double a = i / 10.0;
    evs.push_back({a, 0});
    evs.push_back({a + 0.5, 1});
    evs.push_back({a + 0.7, 2});
    evs.push_back({a + 2.5, 3});
  }
  std::stable_sort(evs.begin(), evs.end(), [](const Ev& x, const Ev& y) { return x.t < y.t; });
  std::size_t next = 0;
  for (double tick = from + 1; tick <= to + 3; tick += 1) {
    for (; next < evs.size() && evs[next].t <= tick; ++next) {
      const auto at = at_seconds(evs[next].t);
      switch (evs[next].kind) {
        case 0: c.recorder().arrived(at); break;
        case 1: c.recorder().admitted(at, 500ms); break;
        case 2: c.recorder().first_token(at, 700ms); break;
        default: c.recorder().finished(at, 2500ms, 1000, 200); break;
      }
    }
    if (tick <= to) c.tick(at_seconds(tick));
  }
}

}  // namespace

TEST_CASE("a steady load: rates, Little's-law concurrency, latency quantiles and means") {
  SignalsConfig config;
  SignalCollector c(config, at_seconds(0));
  steady_load(c, 0, 180);
  const auto& s = c.signals();
  CHECK(s.at == at_seconds(180));
  CHECK(s.arrival_rate == doctest::Approx(10.0).epsilon(0.02));
  CHECK(s.completion_rate == doctest::Approx(10.0).epsilon(0.02));
  CHECK(s.queued == doctest::Approx(10 * 0.5).epsilon(0.02));   // L = lambda W
  CHECK(s.running == doctest::Approx(10 * 2.0).epsilon(0.02));
  CHECK(s.concurrency == doctest::Approx(25.0).epsilon(0.02));
  CHECK(s.queue_wait_p50_s == doctest::Approx(0.5).epsilon(0.01));
  CHECK(s.queue_wait_p99_s == doctest::Approx(0.5).epsilon(0.01));
  CHECK(s.ttft_p90_s == doctest::Approx(0.7).epsilon(0.01));
  CHECK(s.mean_queue_wait_s == doctest::Approx(0.5));
  CHECK(s.mean_ttft_s == doctest::Approx(0.7));
  CHECK(s.mean_e2e_latency_s == doctest::Approx(2.5));
  CHECK(s.mean_prompt_tokens == doctest::Approx(1000.0));
  CHECK(s.mean_output_tokens == doctest::Approx(200.0));
  CHECK(s.prompt_token_rate == doctest::Approx(10000.0).epsilon(0.02));
  CHECK(s.output_token_rate == doctest::Approx(2000.0).epsilon(0.02));
  CHECK(s.output_sigma == 0.01);  // every output the same length: the floor, not "unmeasured"
  CHECK_FALSE(s.requests.stale);
  CHECK(s.queue_wait.samples >= 500);  // the quantile window spans 50 to 60 s
  CHECK(llmscale_test::snapshot_is_sane(s));
}

TEST_CASE("TPOT quantiles: the per-request times the host gives, over the quantile window") {
  // 10 requests/s for 3 minutes; request i's time per output token is 20 + (i mod 100) ms,
  // so every window of whole seconds holds each of 20..119 ms equally often: the nearest-rank
  // p50 is 69 ms, p90 109 ms and p99 118 ms (within the histogram's 1 %)
  SignalCollector c(SignalsConfig{}, at_seconds(0));
  auto& r = c.recorder();
  int i = 0;
  for (int second = 0; second < 180; ++second) {
    for (int k = 0; k < 10; ++k, ++i) {
      const double a = second + k / 10.0;
      r.arrived(at_seconds(a));
      r.admitted(at_seconds(a), 0ms);
      r.first_token(at_seconds(a + 0.05), 50ms);
      const auto tpot = std::chrono::milliseconds(20 + i % 100);
      // a request without a TPOT (one output token, or a host that does not time it) adds none
      if (k == 0) r.finished(at_seconds(a + 0.1), 100ms, 100, 1);
      else r.finished(at_seconds(a + 0.1), 100ms + 9 * tpot, 100, 10, tpot);
    }
    c.tick(at_seconds(second + 1));
  }
  const auto& s = c.signals();
  CHECK(s.tpot_p50_s == doctest::Approx(0.069).epsilon(0.015));
  CHECK(s.tpot_p90_s == doctest::Approx(0.109).epsilon(0.015));
  CHECK(s.tpot_p99_s == doctest::Approx(0.118).epsilon(0.015));
  CHECK(s.tpot.samples == s.ttft.samples / 10 * 9);  // one request in ten gave none
  CHECK(s.tpot.samples >= 450);
  CHECK(s.tpot.dropped_invalid == 0);
  CHECK(llmscale_test::snapshot_is_sane(s));

  // without TPOTs (the four-argument finished) the quantiles stay 0 and nothing is dropped
  SignalCollector plain(SignalsConfig{}, at_seconds(0));
  steady_load(plain, 0, 120);
  CHECK(plain.signals().tpot_p99_s == 0.0);
  CHECK(plain.signals().tpot.samples == 0);
  CHECK(plain.signals().requests.dropped_invalid == 0);
}

TEST_CASE("windows decay across a gap: an hour without requests reads as zero load") {
  SignalCollector c(SignalsConfig{}, at_seconds(0));
  steady_load(c, 0, 60);
  // the load stops; every request finishes by 63 s
  const auto& s = c.tick(at_seconds(3700));
  CHECK(s.arrival_rate == 0.0);
  // the last tick's integral (requests finishing after 60 s) is spread over the whole hour:
  // what falls in the last minute is a trace
  CHECK(s.concurrency < 0.01);
  CHECK(s.queue_wait.samples == 0);
  CHECK(s.queue_wait_p99_s == 0.0);
  CHECK_FALSE(s.requests.stale);  // idle is fresh data, not missing data
}

TEST_CASE("requests in flight with no events for longer than stale_after: stale") {
  SignalsConfig config;
  config.stale_after_s = 30;
  SignalCollector c(config, at_seconds(0));
  c.recorder().arrived(at_seconds(1));
  c.recorder().admitted(at_seconds(1), 0s);
  CHECK_FALSE(c.tick(at_seconds(2)).requests.stale);
  CHECK_FALSE(c.tick(at_seconds(31)).requests.stale);
  const auto& s = c.tick(at_seconds(33));
  CHECK(s.requests.stale);
  CHECK(s.requests.age_s == doctest::Approx(31.0));
  CHECK(s.queue_wait.stale);
}

TEST_CASE("engine gauges: fleet sums, means, extremes and saturated replicas") {
  SignalsConfig config;
  config.replica_slots = 8;
  config.kv_saturation = 0.8;
  config.queue_saturation = 5;
  SignalCollector c(config, at_seconds(0));
  const auto set = [&](std::size_t slot, std::int64_t queue, std::int64_t running, std::int64_t kv_used, double t) {
    ReplicaGauges g;
    g.queue_length = queue;
    g.running = running;
    g.max_batch = 32;
    g.kv_tokens_used = kv_used;
    g.kv_tokens_capacity = 100000;
    g.kv_block_size = 16;
    g.sampled_at = at_seconds(t);
    return c.gauges().set(slot, g);
  };
  CHECK(set(0, 0, 10, 20000, 99));   // fine
  CHECK(set(1, 6, 32, 50000, 99));   // queue high and batch full
  CHECK(set(2, 2, 20, 85000, 100));  // KV high
  CHECK(set(5, 1, 8, 10000, 100));   // fine
  CHECK(set(6, 9, 32, 99000, 40));   // stale: 60 s old at 100
  CHECK_FALSE(set(7, -1, 1, 1, 100));       // invalid: negative queue
  CHECK_FALSE(set(3, 0, 40, 1, 100));       // invalid: running above max batch
  CHECK_FALSE(set(4, 0, 1, 200000, 100));   // invalid: KV above capacity
  CHECK_FALSE(set(99, 0, 1, 1, 100));       // no such slot
  CHECK_FALSE(set(0, 0, 1, 1, 50));         // older than slot 0's sample
  const auto& s = c.tick(at_seconds(100));
  const auto& e = s.engines;
  CHECK(e.replicas_reporting == 4);
  CHECK(e.replicas_stale == 1);
  CHECK(e.queue_length_total == 9);
  CHECK(e.queue_length_max == 6);
  CHECK(e.queue_length_mean == doctest::Approx(9.0 / 4));
  CHECK(e.running_total == 70);
  CHECK(e.batch_occupancy == doctest::Approx(70.0 / 128));
  CHECK(e.kv_tokens_used == 165000);
  CHECK(e.kv_utilization == doctest::Approx(165000.0 / 400000));
  CHECK(e.kv_utilization_max == doctest::Approx(0.85));
  CHECK(e.replicas_batch_full == 1);
  CHECK(e.replicas_kv_high == 1);
  CHECK(e.replicas_queue_high == 1);
  CHECK(e.replicas_saturated == 2);
  CHECK(e.unsaturated_kv_use_sum == doctest::Approx(0.2 + 0.1));  // slots 0 and 5
  CHECK(e.unsaturated_queue_total == 0 + 1);
  CHECK(e.oldest_sample_age_s == doctest::Approx(1.0));
  CHECK(s.engine.stale);
  CHECK(s.engine.dropped_invalid == 4);
  CHECK(s.engine.dropped_stale == 1);
  c.gauges().clear(6);
  CHECK_FALSE(c.tick(at_seconds(101)).engine.stale);
}

TEST_CASE("engine gauges: thresholds checked at construction - counts past 65535 replicas stay exact") {
  CHECK_THROWS_WITH_AS(EngineGauges(4, SaturationThresholds{1.5, 5}),
                       doctest::Contains("engine_gauges.kv_utilization = 1.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(EngineGauges(4, SaturationThresholds{0.8, 0}),
                       doctest::Contains("engine_gauges.queue_length = 0"), std::invalid_argument);
  CHECK_THROWS_AS(EngineGauges(0), std::invalid_argument);
  // Queue, running and max batch must be below 2^31.
  ReplicaGauges g;
  g.queue_length = (std::int64_t{1} << 31) - 1;
  CHECK(g.valid());
  g.queue_length = std::int64_t{1} << 31;
  CHECK_FALSE(g.valid());
  // 70,000 saturated slots: past what a 16-bit count would hold.
  const std::size_t n = 70'000;
  EngineGauges gauges(n, SaturationThresholds{0.5, 3});
  ReplicaGauges full;
  full.queue_length = 3;  // queue high
  full.running = 8;
  full.max_batch = 8;  // batch full
  full.kv_tokens_used = 600;
  full.kv_tokens_capacity = 1000;  // KV high
  full.sampled_at = at_seconds(10);
  for (std::size_t i = 0; i < n; ++i) REQUIRE(gauges.set(i, full));
  const FleetGauges f = gauges.summarize(at_seconds(10), 5s);
  CHECK(f.replicas_reporting == 70'000);
  CHECK(f.replicas_batch_full == 70'000);
  CHECK(f.replicas_kv_high == 70'000);
  CHECK(f.replicas_queue_high == 70'000);
  CHECK(f.replicas_saturated == 70'000);
  CHECK(f.queue_length_total == 210'000);
  CHECK(f.kv_utilization == doctest::Approx(0.6));
  const FleetGauges later = gauges.summarize(at_seconds(16), 5s);  // all stale
  CHECK(later.replicas_reporting == 0);
  CHECK(later.replicas_stale == 70'000);
  CHECK(later.replicas_saturated == 0);
}

TEST_CASE("engine gauges: the summary equals a recount of the live samples over thousands of random sets") {
  // Independent value: a shadow copy of every slot's last accepted sample, summed from scratch
  // at each summary (staleness, saturation, spare capacity by their definitions). The gauges
  // keep their sums by adding each sample's share and taking the old one's back (on a new
  // sample, a clear, or a slot found stale): any slip shows as a difference here.
  // Slot counts that fill the gauges' extremes tree (1, 64) and leave empty leaves (5, 24).
  for (const std::size_t slots : {std::size_t{1}, std::size_t{5}, std::size_t{24}, std::size_t{64}}) {
    CAPTURE(slots);
    const SaturationThresholds th{0.7, 4};
    EngineGauges gauges(slots, th);
    std::vector<ReplicaGauges> shadow(slots);
    std::vector<bool> live(slots, false);
    std::mt19937_64 rng(17);
    double now = 1000;
    std::size_t summaries = 0, stale_seen = 0, all_fresh = 0;
    for (int step = 0; step < 20000; ++step) {
      const std::size_t slot = rng() % slots;
      const std::uint64_t op = rng() % 10;
      if (op < 7) {
        ReplicaGauges g;
        g.max_batch = (rng() % 4 == 0) ? 0 : static_cast<std::int64_t>(1 + rng() % 64);
        g.running = g.max_batch > 0 ? static_cast<std::int64_t>(rng() % (static_cast<std::uint64_t>(g.max_batch) + 1))
                                    : static_cast<std::int64_t>(rng() % 50);
        g.queue_length = static_cast<std::int64_t>(rng() % 9);
        g.kv_tokens_capacity = (rng() % 5 == 0) ? 0 : static_cast<std::int64_t>(1000 + rng() % 100000);
        g.kv_tokens_used = g.kv_tokens_capacity > 0
                               ? static_cast<std::int64_t>(rng() % (static_cast<std::uint64_t>(g.kv_tokens_capacity) + 1))
                               : 0;
        g.sampled_at = at_seconds(now - static_cast<double>(rng() % 40));  // some arrive old, some out of order
        const bool newer = !live[slot] || g.sampled_at >= shadow[slot].sampled_at;
        REQUIRE(gauges.set(slot, g) == newer);
        if (newer) {
          shadow[slot] = g;
          live[slot] = true;
        }
      } else if (op < 8) {
        gauges.clear(slot);
        live[slot] = false;
      } else {
        now += static_cast<double>(rng() % 20);
      }
      if (step % 7 != 0) continue;
      // a short limit finds stale slots; a long one, often none (the summary's quick path)
      const int stale_s = (step / 7) % 2 == 0 ? 15 : 1000;
      const auto stale_after = std::chrono::seconds(stale_s);
      FleetGauges want;
      std::int64_t batch_running = 0;
      double oldest = 0;
      for (std::size_t i = 0; i < slots; ++i) {
        if (!live[i]) continue;
        const ReplicaGauges& g = shadow[i];
        const double age = now - llmscale::to_seconds(g.sampled_at.time_since_epoch());
        if (age > stale_s) {
          ++want.replicas_stale;
          continue;
        }
        ++want.replicas_reporting;
        oldest = std::max(oldest, age);
        want.queue_length_total += g.queue_length;
        want.queue_length_max = std::max(want.queue_length_max, g.queue_length);
        want.running_total += g.running;
        if (g.max_batch > 0) {
          want.max_batch_total += g.max_batch;
          batch_running += g.running;
        }
        const double use = g.kv_tokens_capacity > 0
                               ? static_cast<double>(g.kv_tokens_used) / static_cast<double>(g.kv_tokens_capacity)
                               : 0.0;
        if (g.kv_tokens_capacity > 0) {
          want.kv_tokens_used += g.kv_tokens_used;
          want.kv_tokens_capacity += g.kv_tokens_capacity;
        }
        want.kv_utilization_max = std::max(want.kv_utilization_max, use);
        const bool full = g.max_batch > 0 && g.running >= g.max_batch;
        const bool kv = g.kv_tokens_capacity > 0 && use >= th.kv_utilization;
        const bool queued = g.queue_length >= th.queue_length;
        want.replicas_batch_full += full;
        want.replicas_kv_high += kv;
        want.replicas_queue_high += queued;
        if (kv || queued) {  // llm-d's saturation: a full batch alone is not saturated
          ++want.replicas_saturated;
        } else {
          want.unsaturated_queue_total += g.queue_length;
          want.unsaturated_kv_use_sum += use;
        }
      }
      const FleetGauges got = gauges.summarize(at_seconds(now), stale_after);
      CAPTURE(step);
      REQUIRE(got.replicas_reporting == want.replicas_reporting);
      REQUIRE(got.replicas_stale == want.replicas_stale);
      REQUIRE(got.queue_length_total == want.queue_length_total);
      REQUIRE(got.queue_length_max == want.queue_length_max);
      REQUIRE(got.running_total == want.running_total);
      REQUIRE(got.max_batch_total == want.max_batch_total);
      REQUIRE(got.kv_tokens_used == want.kv_tokens_used);
      REQUIRE(got.kv_tokens_capacity == want.kv_tokens_capacity);
      REQUIRE(got.kv_utilization_max == want.kv_utilization_max);
      REQUIRE(got.replicas_batch_full == want.replicas_batch_full);
      REQUIRE(got.replicas_kv_high == want.replicas_kv_high);
      REQUIRE(got.replicas_queue_high == want.replicas_queue_high);
      REQUIRE(got.replicas_saturated == want.replicas_saturated);
      REQUIRE(got.unsaturated_queue_total == want.unsaturated_queue_total);
      // KV use fractions are summed in units of 2^-40: within half a unit per replica
      REQUIRE(std::fabs(got.unsaturated_kv_use_sum - want.unsaturated_kv_use_sum) <= slots * 0.5 / 1099511627776.0);
      REQUIRE(got.oldest_sample_age_s == doctest::Approx(oldest));
      if (want.max_batch_total > 0) {
        REQUIRE(got.batch_occupancy == doctest::Approx(static_cast<double>(batch_running) / static_cast<double>(want.max_batch_total)));
      }
      ++summaries;
      stale_seen += want.replicas_stale > 0 ? 1 : 0;
      all_fresh += want.replicas_stale == 0 && want.replicas_reporting > 0 ? 1 : 0;
    }
    CHECK(summaries > 2000);
    MESSAGE(slots, " slots: ", summaries, " summaries, ", stale_seen, " with stale slots, ", all_fresh, " all fresh");
    CHECK(stale_seen > 200);  // slots went stale and came back
    CHECK(all_fresh > 200);
  }
}

TEST_CASE("garbage in, never a NaN out: thousands of random events, gauges and ticks") {
  SignalsConfig config;
  config.replica_slots = 4;
  SignalCollector c(config, at_seconds(1000));
  std::mt19937_64 rng(3);
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), -1.0, 1e300, -1e300, 0.0};
  const auto any_time = [&](double base) {
    const int pick = static_cast<int>(rng() % 10);
    if (pick == 0) return at_seconds(specials[rng() % 7]);
    if (pick == 1) return at_seconds(base - 1e6 * std::ldexp(1.0, -static_cast<int>(rng() % 20)));
    return at_seconds(base + static_cast<double>(rng() % 2000) / 1000.0 - 1.0);
  };
  const auto any_duration = [&]() {
    if (rng() % 8 == 0) return llmscale::from_seconds(specials[rng() % 7]);
    return llmscale::from_seconds(static_cast<double>(rng() % 100000) / 1000.0);
  };
  double now = 1000;
  std::uint64_t backwards = 0;
  for (int i = 0; i < 20000; ++i) {
    switch (rng() % 8) {
      case 0: c.recorder().arrived(any_time(now)); break;
      case 1: c.recorder().admitted(any_time(now), any_duration()); break;
      case 2: c.recorder().first_token(any_time(now), any_duration()); break;
      case 3:
        c.recorder().finished(any_time(now), any_duration(), static_cast<long long>(rng() % 3000) - 100,
                              static_cast<long long>(rng()));
        break;
      case 4: c.recorder().rejected(any_time(now)); break;
      case 5: c.recorder().cancelled(any_time(now), rng() % 2 == 0); break;
      case 6: {
        ReplicaGauges g;
        g.queue_length = static_cast<std::int64_t>(rng() % 20) - 2;
        g.running = static_cast<std::int64_t>(rng() % 70);
        g.max_batch = static_cast<std::int64_t>(rng() % 70);
        g.kv_tokens_capacity = static_cast<std::int64_t>(rng() % 1000);
        g.kv_tokens_used = static_cast<std::int64_t>(rng() % 1200);
        g.sampled_at = any_time(now);
        c.gauges().set(rng() % 6, g);
        break;
      }
      default: {
        const bool back = rng() % 5 == 0;
        const double t = back ? now - 3 : (rng() % 50 == 0 ? now + 7200 : now + 0.5);
        if (back) ++backwards; else now = t;
        const auto& s = c.tick(at_seconds(t));
        REQUIRE(llmscale_test::snapshot_is_sane(s));
      }
    }
  }
  CHECK(c.signals().ignored_ticks == backwards);
  CHECK(c.signals().requests.dropped_invalid > 0);
  CHECK(c.signals().requests.dropped_stale > 0);
}

TEST_CASE("recording events and ticking allocate nothing") {
  SignalsConfig config;
  SignalCollector c(config, at_seconds(0));
  c.recorder().arrived(at_seconds(0.1));  // this thread claims its shard (no allocation either)
  ReplicaGauges g;
  g.max_batch = 8;
  g.kv_tokens_capacity = 1000;
  llmscale_test::AllocationCounter counter;
  for (int tick = 1; tick <= 300; ++tick) {
    for (int i = 0; i < 50; ++i) {
      const auto t = at_seconds(tick - 1 + i * 0.02);
      c.recorder().arrived(t);
      c.recorder().admitted(t, std::chrono::milliseconds(i * 7));
      c.recorder().first_token(t, std::chrono::milliseconds(100 + i * 13));
      c.recorder().finished(t, 2s, 300, 40);
    }
    g.sampled_at = at_seconds(tick);
    c.gauges().set(static_cast<std::size_t>(tick % 64), g);
    c.tick(at_seconds(tick));
  }
  const long long allocations = counter.count();
  CHECK(allocations == 0);
}

TEST_CASE("save and load carry the rate windows across a restart") {
  SignalCollector a(SignalsConfig{}, at_seconds(0));
  steady_load(a, 0, 90);
  SignalCollector b(SignalsConfig{}, at_seconds(90));
  REQUIRE(b.load_state(a.save_state()));
  const auto& s = b.tick(at_seconds(91));
  // the restarted collector still knows the last minute's arrival rate
  CHECK(s.arrival_rate == doctest::Approx(10.0).epsilon(0.1));
  SignalsConfig other;
  other.window_s = 30;
  SignalCollector c(other, at_seconds(0));
  CHECK_FALSE(c.load_state(a.save_state()));
}

TEST_CASE("the outputs' spread: a lognormal's from the window's mean and mean log, 0 before any finish") {
  SignalsConfig config;
  config.window_s = 600;
  SignalCollector c(config, at_seconds(0));
  auto& r = c.recorder();
  CHECK(c.tick(at_seconds(1)).output_sigma == 0.0);
  // 10 requests a second, outputs alternating 10 and 1,000 tokens: mean 505, mean log ln 100,
  // so sqrt(2 ln 5.05) = 1.7995
  for (int second = 1; second <= 700; ++second) {
    for (int k = 0; k < 10; ++k) {
      const double a = second - 1 + k / 10.0;
      r.arrived(at_seconds(a));
      r.finished(at_seconds(a + 0.05), 50ms, 500, k % 2 == 0 ? 10 : 1000);
    }
    c.tick(at_seconds(second));
  }
  CHECK(c.signals().mean_output_tokens == doctest::Approx(505.0));
  CHECK(c.signals().output_sigma == doctest::Approx(std::sqrt(2 * std::log(5.05))).epsilon(1e-4));
  // lognormal draws of spread 1.24 (code-bursts' outputs: mean 28, median 13), rounded to whole
  // tokens as the simulator draws them: within 5 % over a window's 12,000 requests (the
  // estimate's own standard error there is about 1.5 %)
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(std::log(13.0), std::sqrt(2 * std::log(28.0 / 13.0)));
  for (int second = 701; second <= 1400; ++second) {
    for (int k = 0; k < 20; ++k) {
      const double a = second - 1 + k / 20.0;
      r.arrived(at_seconds(a));
      const auto output = static_cast<long long>(std::max(1.0, std::round(std::exp(z(rng)))));
      r.finished(at_seconds(a + 0.01), 10ms, 2048, output);
    }
    c.tick(at_seconds(second));
  }
  CHECK(c.signals().output_sigma == doctest::Approx(1.239).epsilon(0.05));
  // a silence: nothing finished in the window, nothing measured
  for (int second = 1401; second <= 2100; ++second) c.tick(at_seconds(second));
  CHECK(c.signals().mean_output_tokens == 0.0);
  CHECK(c.signals().output_sigma == 0.0);
}
