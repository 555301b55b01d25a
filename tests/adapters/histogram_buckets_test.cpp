// Histogram buckets on the Kubernetes path: the quantile of bucket increases against hand
// computations of PromQL's histogram_quantile, restart-safe increases, bounds that differ, and
// ScrapedSignals' windowed TTFT/TPOT/queue quantiles and token means from real vLLM-shaped pages.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "llmscale/adapters/histogram_buckets.hpp"
#include "llmscale/adapters/scraped_signals.hpp"

using llmscale::at_seconds;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

llmscale::HistogramBuckets buckets(const std::vector<double>& le, const std::vector<double>& cumulative) {
  llmscale::HistogramBuckets b;
  for (std::size_t i = 0; i < le.size(); ++i) b.add(le[i], cumulative[i]);
  return b;
}

// a vLLM-shaped page: running/waiting, the e2e count, a TTFT histogram of `n` requests that all
// took `ttft` seconds (buckets 0.1, 0.25, 0.5, 1, 2.5, +Inf), and the token counters
std::string vllm_page(double n, double ttft, double prompt_total, double output_total) {
  std::string p = "vllm:num_requests_running 3\nvllm:num_requests_waiting 0\n";
  for (double le : {0.1, 0.25, 0.5, 1.0, 2.5}) {
    p += "vllm:time_to_first_token_seconds_bucket{le=\"" + std::to_string(le) + "\"} " + std::to_string(ttft <= le ? n : 0.0) + "\n";
  }
  p += "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} " + std::to_string(n) + "\n";
  p += "vllm:time_to_first_token_seconds_sum " + std::to_string(n * ttft) + "\n";
  p += "vllm:time_to_first_token_seconds_count " + std::to_string(n) + "\n";
  p += "vllm:e2e_request_latency_seconds_sum " + std::to_string(n * 5) + "\n";
  p += "vllm:e2e_request_latency_seconds_count " + std::to_string(n) + "\n";
  p += "vllm:prompt_tokens_total " + std::to_string(prompt_total) + "\n";
  p += "vllm:generation_tokens_total " + std::to_string(output_total) + "\n";
  return p;
}

// ScrapedSignals' config for these tests: `slots` replicas, a 10 s window of 1 s buckets, a
// replica stale after 5 s without a usable scrape
llmscale::SignalsConfig ten_second_window(int slots) {
  llmscale::SignalsConfig config;
  config.replica_slots = slots;
  config.window_s = 10;
  config.granularity_s = 1;
  config.stale_after_s = 5;
  return config;
}

}  // namespace

TEST_CASE("bucket_quantile: PromQL's histogram_quantile by hand") {
  // 100 observations: 10 <= 0.1, 50 <= 0.5, 90 <= 1, 100 <= +Inf
  const double le[] = {0.1, 0.5, 1.0, inf};
  const double c[] = {10, 50, 90, 100};
  // rank 50 is reached at le 0.5: 0.1 + (0.5 - 0.1) * (50 - 10) / (50 - 10) = 0.5
  CHECK(llmscale::bucket_quantile(le, c, 4, 0.5) == doctest::Approx(0.5));
  // rank 5 in the first bucket, lower bound 0: 0.1 * 5 / 10 = 0.05
  CHECK(llmscale::bucket_quantile(le, c, 4, 0.05) == doctest::Approx(0.05));
  // rank 70: 0.5 + 0.5 * (70 - 50) / 40 = 0.75
  CHECK(llmscale::bucket_quantile(le, c, 4, 0.7) == doctest::Approx(0.75));
  // rank 99 falls in +Inf: the highest finite bound
  CHECK(llmscale::bucket_quantile(le, c, 4, 0.99) == doctest::Approx(1.0));
  const double none[] = {0, 0, 0, 0};
  CHECK(std::isnan(llmscale::bucket_quantile(le, none, 4, 0.5)));
  CHECK(std::isnan(llmscale::bucket_quantile(le, c, 4, 1.5)));
}

TEST_CASE("bucket_quantile: within one bucket of the true quantile for thousands of random samples") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(-1.0, 0.8);
  const std::vector<double> le = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, inf};
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> x(2000);
    for (double& v : x) v = d(rng);
    std::vector<double> c(le.size(), 0.0);
    for (double v : x) {
      for (std::size_t i = 0; i < le.size(); ++i) c[i] += v <= le[i] ? 1.0 : 0.0;
    }
    std::sort(x.begin(), x.end());
    for (double q : {0.5, 0.9, 0.99}) {
      const double truth = x[static_cast<std::size_t>(q * (x.size() - 1))];
      const double got = llmscale::bucket_quantile(le.data(), c.data(), le.size(), q);
      // the same bucket as the truth: between the bounds around it
      std::size_t i = 0;
      while (le[i] < truth) ++i;
      const double lower = i > 0 ? le[i - 1] : 0.0;
      CHECK(got >= lower - 1e-12);
      CHECK(got <= (std::isinf(le[i]) ? le[i - 1] : le[i]) + 1e-12);
    }
  }
}

TEST_CASE("HistogramBuckets: label sets summed per bound, bounds kept sorted, too many refused") {
  llmscale::HistogramBuckets b;
  b.add(1.0, 5);
  b.add(0.5, 2);
  b.add(inf, 6);
  b.add(0.5, 1);  // a second label set
  b.add(1.0, 4);
  b.add(inf, 4);
  REQUIRE(b.size == 3);
  CHECK(b.le[0] == 0.5);
  CHECK(b.count[0] == 3);
  CHECK(b.count[1] == 9);
  CHECK(b.count[2] == 10);
  CHECK(b.usable());
  llmscale::HistogramBuckets falling = buckets({0.5, 1.0, inf}, {5, 3, 6});
  CHECK_FALSE(falling.usable());
  llmscale::HistogramBuckets no_total = buckets({0.5, 1.0}, {3, 5});  // no +Inf: no total to rank by
  CHECK_FALSE(no_total.usable());
  llmscale::HistogramBuckets many;
  for (std::size_t i = 0; i <= llmscale::HistogramBuckets::max_buckets; ++i) many.add(static_cast<double>(i), static_cast<double>(i));
  CHECK_FALSE(many.usable());
  llmscale::HistogramBuckets nan;
  nan.add(std::nan(""), 1);
  CHECK_FALSE(nan.usable());
}

TEST_CASE("bucket_increase: a restart counts from 0 - counts that cannot be true are refused") {
  llmscale::BucketCounts a{}, b{}, d{};
  a[0] = 10, a[1] = 20, a[2] = 30;
  b[0] = 12, b[1] = 25, b[2] = 40;
  REQUIRE(llmscale::bucket_increase(a, b, 3, d));
  CHECK(d[0] == 2);
  CHECK(d[1] == 5);
  CHECK(d[2] == 10);
  llmscale::BucketCounts restarted{};
  restarted[0] = 1, restarted[1] = 2, restarted[2] = 3;
  REQUIRE(llmscale::bucket_increase(b, restarted, 3, d));
  CHECK(d[2] == 3);
  llmscale::BucketCounts odd{};  // the +Inf bucket grew less than a lower one
  odd[0] = 20, odd[1] = 25, odd[2] = 41;
  CHECK_FALSE(llmscale::bucket_increase(b, odd, 3, d));
  CHECK(d[2] == 3);  // untouched
  // a restart that has grown past the old total: one bucket fell, so it is read from 0
  llmscale::BucketCounts grown{};
  grown[0] = 5, grown[1] = 30, grown[2] = 50;
  REQUIRE(llmscale::bucket_increase(b, grown, 3, d));
  CHECK(d[0] == 5);
  CHECK(d[2] == 50);
  // summed fractional label sets round: a fall of 1e-12 is evened out, not refused
  llmscale::BucketCounts x{}, y{};
  x[0] = 0.1 + 0.2, x[1] = 0.3;
  y[0] = 10.3 + 1e-12, y[1] = 10.3;
  REQUIRE(llmscale::bucket_increase(x, y, 2, d));
  CHECK(d[1] >= d[0]);
}

TEST_CASE("bucket_spread: a hand computation over midpoints") {
  // 2 observations in (0, 2] (midpoint 1), 2 in (2, 4] (midpoint 3); mean 2: sd 1
  const double le[] = {2.0, 4.0, inf};
  const double c[] = {2, 4, 4};
  CHECK(llmscale::bucket_spread(le, c, 3, 2.0) == doctest::Approx(1.0));
}

TEST_CASE("ScrapedSignals: TTFT quantiles, token means and totals from vLLM pages, restart-safe") {
  const llmscale::SignalsConfig config = ten_second_window(2);
  llmscale::ScrapedSignals sig(config, at_seconds(0));
  const auto map = *llmscale::engine_preset("vllm");
  llmscale::PrometheusParser parser;
  REQUIRE(sig.watch(0));
  REQUIRE(sig.observe(0, llmscale::read_engine_metrics(vllm_page(100, 0.2, 1e5, 2e4), map, parser), at_seconds(1)));
  sig.tick(at_seconds(1));
  // a page of n_fast requests at 0.2 s and n_slow at 2 s (cumulative buckets)
  const auto scrape = [&](double n_fast, double n_slow, double prompt, double output) {
    std::string page = "vllm:num_requests_running 3\nvllm:num_requests_waiting 0\n";
    const double les[] = {0.1, 0.25, 0.5, 1.0, 2.5};
    for (double le : les) {
      const double c = (le >= 0.2 ? n_fast : 0.0) + (le >= 2.0 ? n_slow : 0.0);
      page += "vllm:time_to_first_token_seconds_bucket{le=\"" + std::to_string(le) + "\"} " + std::to_string(c) + "\n";
    }
    const double n = n_fast + n_slow;
    page += "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} " + std::to_string(n) + "\n";
    page += "vllm:time_to_first_token_seconds_sum " + std::to_string(n_fast * 0.2 + n_slow * 2) + "\n";
    page += "vllm:time_to_first_token_seconds_count " + std::to_string(n) + "\n";
    page += "vllm:e2e_request_latency_seconds_sum " + std::to_string(n * 5) + "\n";
    page += "vllm:e2e_request_latency_seconds_count " + std::to_string(n) + "\n";
    page += "vllm:prompt_tokens_total " + std::to_string(prompt) + "\n";
    page += "vllm:generation_tokens_total " + std::to_string(output) + "\n";
    return llmscale::read_engine_metrics(page, map, parser);
  };
  const llmscale::EngineScrape second = scrape(190, 10, 1e5 + 100 * 1000, 2e4 + 100 * 150);
  // 100 more requests: 90 at 0.2 s and 10 at 2 s
  REQUIRE(second.buckets_of(llmscale::BucketedHistogram::ttft).usable());
  REQUIRE(sig.observe(0, second, at_seconds(2)));
  const llmscale::Signals& s = sig.tick(at_seconds(2));
  // the window holds the 100 new observations: 90 in (0.1, 0.25], 10 in (1, 2.5]
  // p50: rank 50 in (0.1, 0.25]: 0.1 + 0.15 * 50 / 90
  CHECK(s.ttft_p50_s == doctest::Approx(0.1 + 0.15 * 50.0 / 90.0));
  // p99: rank 99 in (1, 2.5]: 1 + 1.5 * (99 - 90) / 10
  CHECK(s.ttft_p99_s == doctest::Approx(1.0 + 1.5 * 9.0 / 10.0));
  CHECK(s.ttft.samples == 100);
  CHECK(s.mean_prompt_tokens == doctest::Approx(1000));  // counters over completions
  CHECK(s.mean_output_tokens == doctest::Approx(150));
  CHECK(sig.totals().completions == doctest::Approx(100));
  CHECK(sig.totals().prompt_tokens == doctest::Approx(100 * 1000));

  // the engine restarts: its counters start again from small values; nothing negative, nothing
  // doubled (30 requests since the restart)
  const llmscale::EngineScrape after = scrape(30, 0, 30 * 1000, 30 * 150);
  REQUIRE(sig.observe(0, after, at_seconds(3)));
  sig.tick(at_seconds(3));
  CHECK(sig.totals().completions == doctest::Approx(130));
  CHECK(sig.totals().buckets[0][5] == doctest::Approx(130));  // +Inf of TTFT
  CHECK(sig.totals().prompt_tokens == doctest::Approx(130 * 1000));
}

TEST_CASE("ScrapedSignals: a replica with other bucket bounds adds no buckets and is counted") {
  llmscale::SignalsConfig config;
  config.replica_slots = 2;
  config.window_s = 10;
  config.stale_after_s = 5;
  llmscale::ScrapedSignals sig(config, at_seconds(0));
  sig.watch(0);
  sig.watch(1);
  llmscale::EngineScrape a;
  a.running = 1;
  a.waiting = 0;
  a.buckets[0] = buckets({0.5, 1.0, inf}, {1, 2, 3});
  llmscale::EngineScrape b = a;
  b.buckets[0] = buckets({0.4, 1.0, inf}, {1, 2, 3});
  REQUIRE(sig.observe(0, a, at_seconds(1)));
  REQUIRE(sig.observe(1, b, at_seconds(1)));  // the scrape is used, its buckets are not
  CHECK(sig.bucket_mismatches() == 1);
  CHECK(sig.layout(llmscale::BucketedHistogram::ttft).le[0] == 0.5);
}

TEST_CASE("bucket_count_below: exact at a bound, interpolated inside a bucket") {
  const double le[] = {0.5, 1.0, 2.0, inf};
  const double c[] = {10, 50, 90, 100};
  CHECK(llmscale::bucket_count_below(le, c, 4, 1.0) == doctest::Approx(50));
  CHECK(llmscale::bucket_count_below(le, c, 4, 1.5) == doctest::Approx(70));   // half of (1, 2]
  CHECK(llmscale::bucket_count_below(le, c, 4, 0.25) == doctest::Approx(5));   // half of (0, 0.5]
  CHECK(llmscale::bucket_count_below(le, c, 4, 5.0) == doctest::Approx(90));   // +Inf's 10 are not known below 5
  CHECK(llmscale::bucket_count_below(le, c, 4, inf) == doctest::Approx(100));
  CHECK(llmscale::bucket_count_below(le, c, 4, -1.0) == doctest::Approx(0));
}

TEST_CASE("ScrapedSignals: after a rolling upgrade to other bucket bounds the layout moves and its counts start again") {
  llmscale::SignalsConfig config;
  config.replica_slots = 1;
  config.window_s = 10;
  config.stale_after_s = 5;
  llmscale::ScrapedSignals sig(config, at_seconds(0));
  sig.watch(0);
  llmscale::EngineScrape page;
  page.running = 1;
  page.waiting = 0;
  page.buckets[0] = buckets({0.5, 1.0, inf}, {10, 20, 30});
  REQUIRE(sig.observe(0, page, at_seconds(1)));
  page.buckets[0] = buckets({0.5, 1.0, inf}, {20, 40, 60});
  REQUIRE(sig.observe(0, page, at_seconds(2)));
  CHECK(sig.totals().buckets[0][2] == doctest::Approx(30));
  CHECK(sig.totals().layout_epoch[0] == 0);
  // the new engine version's bounds: a mismatch while the old layout is recent...
  page.buckets[0] = buckets({0.25, 1.0, inf}, {5, 10, 12});
  REQUIRE(sig.observe(0, page, at_seconds(3)));
  CHECK(sig.bucket_mismatches() == 1);
  CHECK(sig.layout(llmscale::BucketedHistogram::ttft).le[0] == 0.5);
  // ...and the layout once no replica has shown the old one for stale_after_s (5 s)
  page.buckets[0] = buckets({0.25, 1.0, inf}, {6, 12, 14});
  REQUIRE(sig.observe(0, page, at_seconds(9)));
  CHECK(sig.layout(llmscale::BucketedHistogram::ttft).le[0] == 0.25);
  CHECK(sig.totals().layout_epoch[0] == 1);
  CHECK(sig.totals().buckets[0][2] == 0);  // counts on the old bounds are not carried over
  page.buckets[0] = buckets({0.25, 1.0, inf}, {8, 15, 20});
  REQUIRE(sig.observe(0, page, at_seconds(10)));
  CHECK(sig.totals().buckets[0][2] == doctest::Approx(6));  // counted again from the new layout
  const llmscale::Signals& s = sig.tick(at_seconds(10));
  CHECK(s.ttft.samples == 6);
}

TEST_CASE("bucket_mean_log: each bucket at the middle of its whole numbers' logs, by hand") {
  // 1 observation in (0, 1]: ln 1 = 0; 2 in (1, 2]: ln 2; 1 in (2, 5]: (ln 3 + ln 5) / 2;
  // 1 past 5 (+Inf): ln 5
  const double le[] = {1.0, 2.0, 5.0, inf};
  const double c[] = {1, 3, 4, 5};
  const double want = (2 * std::log(2.0) + 0.5 * (std::log(3.0) + std::log(5.0)) + std::log(5.0)) / 5;
  CHECK(llmscale::bucket_mean_log(le, c, 4) == doctest::Approx(want));
  const double none[] = {0, 0, 0, 0};
  CHECK(std::isnan(llmscale::bucket_mean_log(le, none, 4)));
}

TEST_CASE("bucket_mean_log: on vLLM's 1-2-5 buckets the outputs' spread within 4 % of the exact logs'") {
  // whole-number lognormal lengths as the simulator draws them (rounded, at least 1), medians
  // 5-500 tokens, spreads 1-1.5: the spread from the mean and the buckets' mean log against
  // the spread from the mean and the draws' own mean log
  const std::vector<double> le{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, inf};
  std::mt19937_64 rng(2026);
  std::uniform_real_distribution<double> spread(1.0, 1.5), log_median(std::log(5.0), std::log(500.0));
  for (int trial = 0; trial < 40; ++trial) {
    const double sigma = spread(rng), mu = log_median(rng);
    std::normal_distribution<double> z(mu, sigma);
    std::vector<double> cumulative(le.size(), 0.0);
    double sum = 0, sum_log = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      const double x = std::clamp(std::round(std::exp(z(rng))), 1.0, 1e7);
      sum += x;
      sum_log += std::log(x);
      for (std::size_t b = 0; b < le.size(); ++b) cumulative[b] += x <= le[b] ? 1 : 0;
    }
    const double exact = llmscale::output_sigma_of(sum / n, sum_log / n);
    const double from_buckets =
        llmscale::output_sigma_of(sum / n, llmscale::bucket_mean_log(le.data(), cumulative.data(), le.size()));
    CAPTURE(sigma);
    CAPTURE(mu);
    CHECK(exact == doctest::Approx(sigma).epsilon(0.05));  // the estimator itself, on 20,000 draws
    CHECK(from_buckets == doctest::Approx(exact).epsilon(0.04));
  }
}

TEST_CASE("ScrapedSignals: the outputs' spread from vLLM's generation-token histogram over the window") {
  const llmscale::SignalsConfig config = ten_second_window(1);
  llmscale::ScrapedSignals sig(config, at_seconds(0));
  const auto map = *llmscale::engine_preset("vllm");
  llmscale::PrometheusParser parser;
  // n requests of 2 output tokens and m of 40 (the buckets (1, 2] and (20, 50])
  const auto page = [&](double n, double m) {
    std::string p = "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\n";
    p += "vllm:e2e_request_latency_seconds_sum " + std::to_string((n + m) * 5) + "\n";
    p += "vllm:e2e_request_latency_seconds_count " + std::to_string(n + m) + "\n";
    for (double le : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0}) {
      const double c = (le >= 2 ? n : 0.0) + (le >= 40 ? m : 0.0);
      p += "vllm:request_generation_tokens_bucket{le=\"" + std::to_string(le) + "\"} " + std::to_string(c) + "\n";
    }
    p += "vllm:request_generation_tokens_bucket{le=\"+Inf\"} " + std::to_string(n + m) + "\n";
    p += "vllm:request_generation_tokens_sum " + std::to_string(2 * n + 40 * m) + "\n";
    p += "vllm:request_generation_tokens_count " + std::to_string(n + m) + "\n";
    return llmscale::read_engine_metrics(p, map, parser);
  };
  REQUIRE(sig.watch(0));
  REQUIRE(sig.observe(0, page(1000, 1000), at_seconds(1)));  // the baseline: nothing counted
  CHECK(sig.tick(at_seconds(1)).output_sigma == 0.0);
  // 30 more of 2 tokens, 10 more of 40: mean 11.5; mean log (30 ln 2 + 10 (ln 21 + ln 50) / 2) / 40
  REQUIRE(sig.observe(0, page(1030, 1010), at_seconds(2)));
  const llmscale::Signals& s = sig.tick(at_seconds(2));
  CHECK(s.mean_output_tokens == doctest::Approx(11.5));
  const double mean_log = (30 * std::log(2.0) + 10 * 0.5 * (std::log(21.0) + std::log(50.0))) / 40;
  CHECK(s.output_sigma == doctest::Approx(std::sqrt(2 * (std::log(11.5) - mean_log))));
  // a window with nothing finished has no spread, as it has no mean
  REQUIRE(sig.observe(0, page(1030, 1010), at_seconds(14)));
  CHECK(sig.tick(at_seconds(14)).output_sigma == 0.0);
}

TEST_CASE("ScrapedSignals: no spread where the mean counts requests the buckets do not") {
  // two replicas: one exports the generation-token buckets, the other only their _sum/_count
  // (or buckets on other bounds): the mean covers both, the buckets one; their mean log set
  // against the mean of all would give a spread of neither, so none is given
  const llmscale::SignalsConfig config = ten_second_window(2);
  llmscale::ScrapedSignals sig(config, at_seconds(0));
  const auto map = *llmscale::engine_preset("vllm");
  llmscale::PrometheusParser parser;
  const auto page = [&](double n, bool buckets) {  // n requests of 40 output tokens
    std::string p = "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\n";
    p += "vllm:e2e_request_latency_seconds_sum " + std::to_string(n * 5) + "\n";
    p += "vllm:e2e_request_latency_seconds_count " + std::to_string(n) + "\n";
    if (buckets) {
      for (double le : {10.0, 20.0, 50.0}) {
        p += "vllm:request_generation_tokens_bucket{le=\"" + std::to_string(le) + "\"} " + std::to_string(le >= 40 ? n : 0.0) +
             "\n";
      }
      p += "vllm:request_generation_tokens_bucket{le=\"+Inf\"} " + std::to_string(n) + "\n";
    }
    p += "vllm:request_generation_tokens_sum " + std::to_string(40 * n) + "\n";
    p += "vllm:request_generation_tokens_count " + std::to_string(n) + "\n";
    return llmscale::read_engine_metrics(p, map, parser);
  };
  REQUIRE(sig.watch(0));
  REQUIRE(sig.watch(1));
  REQUIRE(sig.observe(0, page(100, true), at_seconds(1)));
  REQUIRE(sig.observe(1, page(100, false), at_seconds(1)));
  sig.tick(at_seconds(1));
  REQUIRE(sig.observe(0, page(120, true), at_seconds(2)));
  const llmscale::Signals& alone = sig.tick(at_seconds(2));
  CHECK(alone.mean_output_tokens == doctest::Approx(40));
  CHECK(alone.output_sigma > 0);  // the same 20 requests in both: a spread (the buckets' width)
  REQUIRE(sig.observe(1, page(140, false), at_seconds(3)));
  const llmscale::Signals& both = sig.tick(at_seconds(3));
  CHECK(both.mean_output_tokens == doctest::Approx(40));
  CHECK(both.output_sigma == 0.0);  // 60 requests in the mean, 20 in the buckets
}
