// The Recorder against hand-computed integrals and counts, its bad-input rules, counter
// wrap, and Little's law on a simulated M/M/1 queue.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "llmscale/signals/recorder.hpp"
#include "llmscale/signals/collector.hpp"

using llmscale::at_seconds;
using llmscale::Recorder;
using llmscale::RecorderConfig;
using namespace std::chrono_literals;

TEST_CASE("queued and running integrals and counts, worked out by hand") {
  Recorder r(RecorderConfig{}, at_seconds(0));
  r.arrived(at_seconds(1));
  r.arrived(at_seconds(2));
  r.admitted(at_seconds(3), 2s);
  r.admitted(at_seconds(3), 1s);
  r.first_token(at_seconds(3.5), 2500ms);
  r.first_token(at_seconds(3.5), 1500ms);
  r.finished(at_seconds(5), 4s, 100, 20);
  auto d = r.drain(at_seconds(6));
  // queued: [1,3] and [2,3] = 3 request-seconds; running: [3,5] and [3,6] = 5
  CHECK(d.queued_integral == doctest::Approx(3.0));
  CHECK(d.running_integral == doctest::Approx(5.0));
  CHECK(d.queued_now == 0);
  CHECK(d.running_now == 1);
  CHECK(d.arrivals == 2);
  CHECK(d.admitted == 2);
  CHECK(d.first_tokens == 2);
  CHECK(d.finished == 1);
  CHECK(d.queue_wait_samples == 2);
  CHECK(d.queue_wait_sum_s == doctest::Approx(3.0));
  CHECK(d.ttft_sum_s == doctest::Approx(4.0));
  CHECK(d.e2e_sum_s == doctest::Approx(4.0));
  CHECK(d.prompt_tokens == 100);
  CHECK(d.output_tokens == 20);
  CHECK(d.from == at_seconds(0));
  CHECK(d.to == at_seconds(6));

  d = r.drain(at_seconds(8));  // one request still running: 1 x 2 s
  CHECK(d.running_integral == doctest::Approx(2.0));
  CHECK(d.queued_integral == doctest::Approx(0.0));
  CHECK(d.events() == 0);

  r.finished(at_seconds(9), 7s, 50, 10);
  d = r.drain(at_seconds(10));  // running [8, 9]
  CHECK(d.running_integral == doctest::Approx(1.0));
  CHECK(d.running_now == 0);
  r.rejected(at_seconds(10.5));  // a queue exit without arrival: the host's bug, counted
  r.arrived(at_seconds(10.2));
  r.cancelled(at_seconds(10.4), false);
  d = r.drain(at_seconds(11));
  CHECK(d.rejected == 1);
  CHECK(d.cancelled == 1);
  CHECK(d.queued_now == -1);
}

TEST_CASE("bad samples are dropped and counted - transitions still count") {
  Recorder r(RecorderConfig{}, at_seconds(0));
  r.drain(at_seconds(10));  // horizon: 10 - 1 s skew = 9 s
  r.arrived(at_seconds(9.5));   // within the skew: fine
  r.arrived(at_seconds(2));     // too old: timing dropped, arrival still counted
  r.admitted(at_seconds(10.5), -1s);  // negative wait
  r.admitted(at_seconds(10.5), std::chrono::hours(24 * 365));  // absurd wait
  r.first_token(at_seconds(10.6), -5ms);
  r.finished(at_seconds(10.8), 1s, -4, 10, std::chrono::hours(24 * 365));  // negative tokens, absurd TPOT
  r.finished(at_seconds(10.9), 1s, 10, 1'000'000'000'000LL);  // absurd tokens
  r.arrived(at_seconds(10 + 3 * 86400));  // days ahead: absurd time
  auto d = r.drain(at_seconds(11));
  CHECK(d.arrivals == 3);
  CHECK(d.admitted == 2);
  CHECK(d.finished == 2);
  CHECK(d.queue_wait_samples == 0);
  CHECK(d.ttft_samples == 0);
  CHECK(d.tpot_samples == 0);
  CHECK(d.token_samples == 0);
  CHECK(d.e2e_samples == 2);
  CHECK(d.dropped_stale == 1);
  CHECK(d.dropped_invalid == 7);
  CHECK(d.running_now == 0);
  CHECK(d.queued_now == 1);
  // the stale arrival counts from the horizon (9 s), the absurd one from the horizon too
  // queued: (11 - 9.5) + (11 - 9) + (11 - 9) - 2 x (11 - 10.5) = 4.5
  CHECK(d.queued_integral == doctest::Approx(4.5));

  // a drain whose time goes backwards is ignored and counted
  d = r.drain(at_seconds(5));
  CHECK(d.events() == 0);
  CHECK(r.ignored_drains() == 1);
  CHECK(d.queued_now == 1);
  CHECK_THROWS_AS(Recorder(RecorderConfig{0}, at_seconds(0)), std::invalid_argument);
}

TEST_CASE("hours between drains: the integral covers the whole gap") {
  Recorder r(RecorderConfig{}, at_seconds(0));
  r.arrived(at_seconds(1));
  r.admitted(at_seconds(1), 0s);
  auto d = r.drain(at_seconds(2));
  d = r.drain(at_seconds(2 + 5 * 3600));
  CHECK(d.running_integral == doctest::Approx(5 * 3600.0));
}

TEST_CASE("the time sums wrap around 2^64 and the integral stays exact") {
  Recorder r(RecorderConfig{}, at_seconds(0));
  // 2e6 arrivals at 10 h: the sum of their times in ns (~7e19) wraps a 64-bit counter
  for (int i = 0; i < 2'000'000; ++i) r.arrived(at_seconds(36000));
  const auto d = r.drain(at_seconds(36001));
  CHECK(d.arrivals == 2'000'000);
  CHECK(d.queued_integral == doctest::Approx(2'000'000.0).epsilon(1e-12));  // each queued exactly 1 s
}

TEST_CASE("a thread recording into more recorders than it remembers keeps its own shard in each") {
  // One thread, 40 recorders used in turn (more than the 16 a thread remembers, and some sharing
  // a cache entry): each recorder must see one writer, on an own shard, and every event. A
  // thread that fell back to the overflow shard would show as two writers.
  RecorderConfig config;
  config.writer_shards = 2;
  std::vector<std::unique_ptr<Recorder>> recorders;
  for (int i = 0; i < 40; ++i) recorders.push_back(std::make_unique<Recorder>(config, at_seconds(0)));
  for (int round = 0; round < 3; ++round) {
    for (auto& r : recorders) {
      for (int i = 0; i < 5; ++i) r->arrived(at_seconds(0.5));
    }
  }
  for (auto& r : recorders) {
    CHECK(r->writers() == 1);
    CHECK(r->drain(at_seconds(1)).arrivals == 15);
  }
}

TEST_CASE("Little's law: an M/M/1 run's time-weighted concurrency equals arrival rate x time in system") {
  const double lambda = 5.0, mu = 8.0;
  std::mt19937_64 rng(2024);
  std::exponential_distribution<double> gap(lambda), service(mu);
  struct Event {
    double t;
    int kind;  // 0 arrive, 1 admit, 2 finish
    double arrived_at;
  };
  std::vector<Event> events;
  double t = 0, free_at = 0, total_sojourn = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    t += gap(rng);
    const double start = std::max(t, free_at);
    free_at = start + service(rng);
    total_sojourn += free_at - t;
    events.push_back({t, 0, t});
    events.push_back({start, 1, t});
    events.push_back({free_at, 2, t});
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.t < b.t; });
  const double end = events.back().t + 1;

  llmscale::SignalsConfig config;
  config.window_s = 86400;  // one window over the whole run
  config.quantile_window_s = 86400;
  llmscale::SignalCollector collector(config, at_seconds(0));
  Recorder& rec = collector.recorder();
  double integral = 0;
  std::size_t next = 0;
  for (double tick = 10; tick < end + 10; tick += 10) {
    for (; next < events.size() && events[next].t <= tick; ++next) {
      const Event& e = events[next];
      const auto at = at_seconds(e.t);
      if (e.kind == 0) rec.arrived(at);
      if (e.kind == 1) rec.admitted(at, llmscale::from_seconds(e.t - e.arrived_at));
      if (e.kind == 2) rec.finished(at, llmscale::from_seconds(e.t - e.arrived_at), 100, 10);
    }
    collector.tick(at_seconds(tick));
  }
  (void)integral;
  const auto& s = collector.signals();
  const double duration = llmscale::to_seconds(s.at.time_since_epoch());
  const double arrival_rate = n / duration;
  const double mean_sojourn = total_sojourn / n;
  const double littles_l = arrival_rate * mean_sojourn;
  CHECK(s.concurrency == doctest::Approx(littles_l).epsilon(0.03));
  // and both near the M/M/1 value rho / (1 - rho) = 5/3
  CHECK(s.concurrency == doctest::Approx(5.0 / 3.0).epsilon(0.05));
  CHECK(s.arrival_rate == doctest::Approx(arrival_rate).epsilon(1e-6));
  CHECK(s.queued_now == 0);
  CHECK(s.running_now == 0);
}
