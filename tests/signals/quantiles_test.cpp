// LogHistogramLayout, WindowedQuantiles and StreamingStats against exact values.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "llmscale/signals/latency_window.hpp"
#include "llmscale/signals/log_histogram.hpp"
#include "llmscale/signals/recorder.hpp"
#include "llmscale/signals/streaming_stats.hpp"
#include "llmscale/signals/windowed_quantiles.hpp"

#if defined(LLMSCALE_NO_SIMD)  // the signals-scalar build: the portable searches
static_assert(LLMSCALE_SIGNALS_SSE2 == 0, "LLMSCALE_NO_SIMD keeps the quantile searches portable");
#endif

using llmscale::at_seconds;
using llmscale::LogHistogramLayout;
using namespace std::chrono_literals;

TEST_CASE("every bucket maps back to itself and buckets are ordered") {
  for (std::size_t b = 0; b + 1 < LogHistogramLayout::bucket_count; ++b) {
    const auto lo = static_cast<std::uint64_t>(LogHistogramLayout::lower_us(b));
    REQUIRE(LogHistogramLayout::bucket_of_us(lo) == b);
    const auto hi = static_cast<std::uint64_t>(LogHistogramLayout::lower_us(b) + LogHistogramLayout::width_us(b)) - 1;
    REQUIRE(LogHistogramLayout::bucket_of_us(hi) == b);
    REQUIRE(LogHistogramLayout::lower_us(b + 1) == LogHistogramLayout::lower_us(b) + LogHistogramLayout::width_us(b));
  }
  CHECK(LogHistogramLayout::bucket_of_us(~std::uint64_t{0}) == LogHistogramLayout::bucket_count - 1);
}

TEST_CASE("a bucket's midpoint is within 1/128 of every value in it (values >= 64 us)") {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t us = 64 + rng() % (std::uint64_t{1} << (6 + (i % 30)));
    const double mid = LogHistogramLayout::midpoint_seconds(LogHistogramLayout::bucket_of_us(us)) * 1e6;
    REQUIRE(std::fabs(mid - static_cast<double>(us)) <= static_cast<double>(us) / 128.0 + 0.5);
  }
}

namespace {
double exact_quantile(std::vector<double> v, double q) {  // nearest rank: the ceil(q n)-th smallest
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(rank, 1) - 1];
}

template <class Dist>
void check_heavy_tail(Dist dist, const char* name) {
  CAPTURE(name);
  std::mt19937_64 rng(99);
  llmscale::WindowedQuantiles w(60s, 6);
  std::vector<double> xs(1'000'000);
  for (auto& x : xs) {
    const double seconds = std::clamp(dist(rng), 1e-4, 3600.0);  // >= 100 us, where the 1 % bound holds
    const llmscale::Duration d = llmscale::from_seconds(seconds);
    // the histogram sees whole microseconds: compare against exactly what it was given
    x = static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) * 1e-6;
    w.add(at_seconds(10), d);
  }
  w.advance(at_seconds(10));
  REQUIRE(w.count() == xs.size());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    CAPTURE(q);
    const double want = exact_quantile(xs, q);
    const double got = *w.quantile(q);
    CHECK(std::fabs(got - want) <= 0.01 * want);
  }
}
}  // namespace

TEST_CASE("windowed quantiles are within 1% of the exact quantile on 10^6 heavy-tailed samples") {
  check_heavy_tail(std::lognormal_distribution<double>(std::log(0.2), 2.0), "lognormal sigma 2");
  // Pareto with alpha 1.2 (infinite variance): x_min / U^(1/alpha)
  std::uniform_real_distribution<double> u(1e-12, 1.0);
  check_heavy_tail([&u](std::mt19937_64& r) { return 0.01 / std::pow(u(r), 1.0 / 1.2); }, "pareto alpha 1.2");
}

TEST_CASE("latency window: quantiles of exactly the samples since its oldest snapshot, tick by tick") {
  // Independent value: the window holds the samples recorded after the update that took the
  // snapshot of its oldest part (updates every second, parts of 10 s, 6 parts); the exact
  // nearest-rank quantile of those is computed by sorting.
  llmscale::RecorderConfig rc;
  rc.writer_shards = 2;
  llmscale::Recorder r(rc, at_seconds(0));
  llmscale::LatencyWindow w(r, llmscale::LatencyHistogram::ttft, 60s, 6, at_seconds(0));
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> dist(std::log(0.3), 1.5);
  std::vector<std::pair<int, double>> samples;  // (second recorded in, value in whole us as seconds)
  std::vector<int> snapshot_tick(400, 0);       // second at which each part's snapshot was taken
  for (int sec = 1; sec <= 300; ++sec) {
    const int n = static_cast<int>(rng() % 400);  // some seconds nearly empty, spread shifting
    for (int i = 0; i < n; ++i) {
      const double v = std::clamp(dist(rng) * (1.0 + sec / 100.0), 1e-4, 3000.0);
      const llmscale::Duration d = llmscale::from_seconds(v);
      r.first_token(at_seconds(sec - 0.5), d);
      samples.emplace_back(sec, static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) * 1e-6);
    }
    w.update(at_seconds(sec));
    if (sec % 10 == 0) snapshot_tick[static_cast<std::size_t>(sec / 10)] = sec;
    const int oldest_part = std::max(0, sec / 10 - 5);
    const int from = snapshot_tick[static_cast<std::size_t>(oldest_part)];  // samples recorded after this update
    std::vector<double> in;
    for (const auto& [t, v] : samples) {
      if (t > from) in.push_back(v);
    }
    CAPTURE(sec);
    REQUIRE(w.count() == in.size());
    if (in.empty()) continue;
    constexpr std::array<double, 4> qs{0.5, 0.9, 0.99, 1.0};
    std::array<double, 4> got{};
    w.quantiles(qs, got);
    for (std::size_t k = 0; k < qs.size(); ++k) {
      CAPTURE(qs[k]);
      const double want = exact_quantile(in, qs[k]);
      CHECK(std::fabs(got[k] - want) <= 0.01 * want);
    }
  }
}

TEST_CASE("latency window: the bucket of the exact quantile, across irregular ticks and gaps") {
  // Independent value: a model of the window's documented semantics kept as sample positions
  // (each part starts at the samples recorded before its snapshot; parts missed in a short gap
  // start where the last snapshot did; after a whole window without updates every part starts
  // at the new snapshot), and the nearest-rank quantile of those samples found by sorting,
  // reported as its bucket's midpoint: the window must give exactly that.
  // Windows of 6, 3 and 1 parts of 10 s (with one part, every new part starts empty).
  for (const int parts : {6, 3, 1}) {
    CAPTURE(parts);
    constexpr double part_s = 10;
    llmscale::RecorderConfig rc;
    llmscale::Recorder r(rc, at_seconds(0));
    llmscale::LatencyWindow w(r, llmscale::LatencyHistogram::queue_wait, std::chrono::seconds(10 * parts),
                              static_cast<std::size_t>(parts), at_seconds(0));
    std::mt19937_64 rng(11);
    std::lognormal_distribution<double> dist(std::log(0.05), 2.0);
    std::vector<std::size_t> samples;           // bucket of each sample, in recording order
    std::vector<std::size_t> start_of(1, 0);    // per part index: samples before its snapshot
    std::int64_t head = 0;
    double now = 0;
    std::size_t gaps = 0, whole_window_gaps = 0, checked = 0;
    for (int step = 0; step < 3000; ++step) {
      const int n = static_cast<int>(rng() % 200);
      for (int i = 0; i < n; ++i) {
        const llmscale::Duration d = llmscale::from_seconds(std::min(dist(rng), 1e4));
        r.admitted(at_seconds(now), d);
        samples.push_back(LogHistogramLayout::bucket_of(d));
      }
      const std::uint64_t pick = rng() % 100;
      now += pick < 80 ? 0.1 + static_cast<double>(rng() % 3000) * 1e-3    // within a few seconds
             : pick < 97 ? 10.0 + static_cast<double>(rng() % 40)          // a gap of 1 to 4 parts
                         : 60.0 + static_cast<double>(rng() % 200);        // a whole window or more
      const auto p = static_cast<std::int64_t>(std::floor(now / part_s));
      if (p > head) {
        start_of.resize(static_cast<std::size_t>(p) + 1);
        if (p - head >= parts) {
          for (std::int64_t k = head + 1; k <= p; ++k) start_of[static_cast<std::size_t>(k)] = samples.size();
          ++whole_window_gaps;
        } else {
          for (std::int64_t k = head + 1; k < p; ++k) start_of[static_cast<std::size_t>(k)] = start_of[static_cast<std::size_t>(head)];
          start_of[static_cast<std::size_t>(p)] = samples.size();
          gaps += p - head > 1 ? 1 : 0;
        }
        head = p;
      }
      w.update(at_seconds(now));
      const std::size_t from = start_of[static_cast<std::size_t>(std::max<std::int64_t>(0, head - parts + 1))];
      std::vector<std::size_t> in(samples.begin() + static_cast<std::ptrdiff_t>(from), samples.end());
      CAPTURE(step);
      REQUIRE(w.count() == in.size());
      constexpr std::array<double, 4> qs{0.5, 0.9, 0.99, 1.0};
      std::array<double, 4> got{};
      w.quantiles(qs, got);
      std::sort(in.begin(), in.end());
      for (std::size_t k = 0; k < qs.size(); ++k) {
        CAPTURE(qs[k]);
        if (in.empty()) {
          CHECK(got[k] == 0.0);
          continue;
        }
        const auto rank = static_cast<std::size_t>(std::ceil(qs[k] * static_cast<double>(in.size())));
        CHECK(got[k] == LogHistogramLayout::midpoint_seconds(in[std::max<std::size_t>(rank, 1) - 1]));
        ++checked;
      }
    }
    // the run went through what it is meant to test
    if (parts > 2) CHECK(gaps > 50);  // (with fewer parts every gap of a part or more is a whole window)
    CHECK(whole_window_gaps > 20);
    CHECK(checked > 8000);
  }
}

TEST_CASE("latency window: samples from several writer shards and the shared one are summed exactly") {
  // Five threads record into a recorder with 2 own shards: two threads get one each, the other
  // three share the overflow shard (all five live until every one has recorded, so that none
  // takes over a finished thread's shard). The window's quantiles must be the buckets of the
  // exact quantiles of all the samples together.
  llmscale::RecorderConfig rc;
  rc.writer_shards = 2;
  llmscale::Recorder r(rc, at_seconds(0));
  llmscale::LatencyWindow w(r, llmscale::LatencyHistogram::ttft, 60s, 6, at_seconds(0));
  std::vector<std::vector<llmscale::Duration>> samples(5);
  std::vector<std::size_t> buckets;
  for (int t = 0; t < 5; ++t) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(100 + t));
    std::lognormal_distribution<double> dist(std::log(0.02 * (t + 1)), 1.0);
    for (int i = 0; i < 3000; ++i) samples[static_cast<std::size_t>(t)].push_back(llmscale::from_seconds(dist(rng)));
    for (const auto d : samples[static_cast<std::size_t>(t)]) buckets.push_back(LogHistogramLayout::bucket_of(d));
  }
  std::atomic<int> recorded{0};
  std::vector<std::thread> writers;
  for (std::size_t t = 0; t < 5; ++t) {
    writers.emplace_back([&, t] {
      for (const auto d : samples[t]) r.first_token(at_seconds(1), d);
      recorded.fetch_add(1);
      while (recorded.load() < 5) std::this_thread::yield();
    });
  }
  for (auto& writer : writers) writer.join();
  CHECK(r.writers() == 3);  // two own shards claimed, then the shared one
  w.update(at_seconds(2));
  REQUIRE(w.count() == buckets.size());
  std::sort(buckets.begin(), buckets.end());
  constexpr std::array<double, 5> qs{0.01, 0.5, 0.9, 0.99, 1.0};
  std::array<double, 5> got{};
  w.quantiles(qs, got);
  for (std::size_t k = 0; k < qs.size(); ++k) {
    CAPTURE(qs[k]);
    const auto rank = static_cast<std::size_t>(std::ceil(qs[k] * static_cast<double>(buckets.size())));
    CHECK(got[k] == LogHistogramLayout::midpoint_seconds(buckets[rank - 1]));
  }
}

TEST_CASE("windowed quantiles forget parts that leave the window") {
  llmscale::WindowedQuantiles w(60s, 6);  // parts of 10 s
  for (int i = 0; i < 100; ++i) w.add(at_seconds(5), 100ms);
  for (int i = 0; i < 100; ++i) w.add(at_seconds(25), 2s);
  w.advance(at_seconds(30));
  CHECK(w.count() == 200);
  CHECK(*w.quantile(0.5) == doctest::Approx(0.1).epsilon(0.01));
  CHECK(*w.quantile(0.51) == doctest::Approx(2.0).epsilon(0.01));
  w.advance(at_seconds(60));  // the part [0, 10) is now older than the 6 parts [10, 70)
  CHECK(w.count() == 100);
  CHECK(*w.quantile(0.5) == doctest::Approx(2.0).epsilon(0.01));
  w.advance(at_seconds(3600));  // an hour later: empty
  CHECK(w.count() == 0);
  CHECK_FALSE(w.quantile(0.5).has_value());
  CHECK_FALSE(w.add(at_seconds(100), 1s));  // older than the window
  CHECK_FALSE(w.add(at_seconds(3600), -1s));
  CHECK(w.dropped() == 2);
}

TEST_CASE("windowed quantiles save and load") {
  llmscale::WindowedQuantiles w(60s, 6);
  for (int i = 1; i <= 1000; ++i) w.add(at_seconds(i * 0.05), std::chrono::milliseconds(i));
  llmscale::WindowedQuantiles copy(60s, 6);
  REQUIRE(copy.load_state(w.save_state()));
  CHECK(copy.count() == w.count());
  CHECK(*copy.quantile(0.9) == *w.quantile(0.9));
  CHECK_FALSE(llmscale::WindowedQuantiles(60s, 5).load_state(w.save_state()));
  CHECK_FALSE(copy.load_state("windowed_quantiles/1 6 1 0 0 99999 1"));
}

TEST_CASE("streaming statistics: exact moments, P-square quantiles close to the truth") {
  llmscale::StreamingStats s({0.5, 0.9});
  std::mt19937_64 rng(5);
  std::exponential_distribution<double> e(1.0);
  std::vector<double> xs(100000);
  double sum = 0;
  for (auto& x : xs) {
    x = e(rng);
    sum += x;
    s.add(x);
  }
  const double mean = sum / static_cast<double>(xs.size());
  double var = 0;
  for (double x : xs) var += (x - mean) * (x - mean);
  var /= static_cast<double>(xs.size());
  CHECK(s.count() == xs.size());
  CHECK(s.mean() == doctest::Approx(mean).epsilon(1e-9));
  CHECK(s.variance() == doctest::Approx(var).epsilon(1e-6));
  CHECK(s.min() == *std::min_element(xs.begin(), xs.end()));
  CHECK(s.max() == *std::max_element(xs.begin(), xs.end()));
  CHECK(*s.quantile(0) == doctest::Approx(std::log(2.0)).epsilon(0.03));   // median of Exp(1)
  CHECK(*s.quantile(1) == doctest::Approx(std::log(10.0)).epsilon(0.03));  // 90th percentile
  CHECK_FALSE(s.add(std::nan("")));
  CHECK(s.dropped() == 1);
  CHECK_THROWS_AS(llmscale::StreamingStats({1.5}), std::invalid_argument);
}
