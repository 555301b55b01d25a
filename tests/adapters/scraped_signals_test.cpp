// ScrapedSignals: the snapshot of a fleet seen through its engines' pages, against hand-computed
// rates, means and time-weighted averages; replicas that stop answering (or never answer) read
// as stale, never as idle; counter resets; bad input counted.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <optional>

#include "llmscale/adapters/scraped_signals.hpp"

using llmscale::at_seconds;

namespace {

llmscale::EngineScrape page(double running, double waiting, double kv, double e2e_count, double e2e_sum,
                            std::optional<double> ttft_count = std::nullopt, double ttft_sum = 0,
                            std::uint64_t series = 0) {
  llmscale::EngineScrape s;
  s.series = series;
  s.running = running;
  s.waiting = waiting;
  s.kv_fraction = kv;
  s.e2e = {e2e_sum, e2e_count, true};
  if (ttft_count) s.ttft = {ttft_sum, *ttft_count, true};
  return s;
}

llmscale::SignalsConfig config() {
  llmscale::SignalsConfig c;
  c.replica_slots = 4;
  c.window_s = 10;
  c.granularity_s = 1;
  c.stale_after_s = 5;
  return c;
}

}  // namespace

TEST_CASE("ScrapedSignals: rates, means and time-weighted concurrency from two replicas' pages") {
  llmscale::ScrapedSignals sig(config(), at_seconds(0));
  REQUIRE(sig.watch(0));
  REQUIRE(sig.watch(1));
  CHECK(sig.watched() == 2);

  REQUIRE(sig.observe(0, page(4, 2, 0.5, 100, 200, 100, 10), at_seconds(1)));
  REQUIRE(sig.observe(1, page(2, 0, 0.25, 50, 100), at_seconds(1)));
  const llmscale::Signals& s1 = sig.tick(at_seconds(1));
  CHECK(s1.running_now == 6);
  CHECK(s1.queued_now == 2);
  CHECK(s1.completion_rate == 0);  // one scrape each: nothing between scrapes yet
  CHECK(s1.arrival_rate == 0);     // what was in the system before we looked is not an arrival
  CHECK(s1.engines.replicas_reporting == 2);
  CHECK(s1.engines.kv_utilization_max == doctest::Approx(0.5));
  CHECK_FALSE(s1.engine.stale);

  // one second later: replica 0 finished 10 (30 s of e2e, mean 3; TTFT +2 s over 10, mean 0.2),
  // replica 1 finished 10 (20 s, mean 2)
  REQUIRE(sig.observe(0, page(4, 2, 0.5, 110, 230, 110, 12), at_seconds(2)));
  REQUIRE(sig.observe(1, page(2, 0, 0.25, 60, 120), at_seconds(2)));
  const llmscale::Signals& s2 = sig.tick(at_seconds(2));
  CHECK(s2.completion_rate == doctest::Approx(20.0 / 2.0));  // 20 over the 2 s the window covers
  CHECK(s2.arrival_rate == doctest::Approx(20.0 / 2.0));     // nothing more in the system
  CHECK(s2.mean_e2e_latency_s == doctest::Approx(50.0 / 20.0));
  CHECK(s2.mean_ttft_s == doctest::Approx(2.0 / 10.0));
  CHECK(s2.running == doctest::Approx(6.0));  // 6 held over [0, 2]
  CHECK(s2.queued == doctest::Approx(2.0));
  CHECK(s2.concurrency == doctest::Approx(8.0));

  // replica 0's queue grows by 4 and it finishes nothing; replica 1's scrape fails (its last
  // sample, 1 s old, still counts)
  REQUIRE(sig.observe(0, page(4, 6, 0.5, 110, 230, 110, 12), at_seconds(3)));
  sig.scrape_failed(1);
  const llmscale::Signals& s3 = sig.tick(at_seconds(3));
  CHECK(s3.queued_now == 6);
  CHECK(s3.arrival_rate == doctest::Approx((20.0 + 4.0) / 3.0));  // completions + growth
  CHECK(s3.queued == doctest::Approx((2.0 + 2.0 + 6.0) / 3.0));
  CHECK(sig.scrapes_failed() == 1);
  CHECK_FALSE(s3.engine.stale);
}

TEST_CASE("ScrapedSignals: a replica that stops answering, or has not answered yet, is stale, not idle") {
  llmscale::ScrapedSignals sig(config(), at_seconds(0));
  sig.watch(0);
  sig.watch(1);
  for (int t = 1; t <= 9; ++t) {
    if (t == 3) sig.watch(2);  // appears at 3 s and never gives a usable page
    REQUIRE(sig.observe(0, page(4, 1, 0.5, 10.0 * t, 20.0 * t), at_seconds(t)));
    if (t <= 2) REQUIRE(sig.observe(1, page(8, 3, 0.9, 0, 0), at_seconds(t)));
    CHECK_FALSE(sig.observe(2, llmscale::EngineScrape{}, at_seconds(t)));  // no running/waiting
    const llmscale::Signals& s = sig.tick(at_seconds(t));
    const bool one_stale = t - 2 > 5;  // replica 1's last sample is older than stale_after_s
    const bool pending_stale = t >= 3;  // from the moment it is watched: unknown is not idle
    CHECK(s.engines.replicas_stale == int{one_stale} + int{pending_stale});
    CHECK(s.engine.stale == (one_stale || pending_stale));
    CHECK(s.requests.stale == s.engine.stale);
  }
  CHECK(sig.scrapes_unusable() == 9);
  // replica 1 removed from the endpoint list: no longer counted at all
  sig.forget(1);
  sig.forget(2);
  const llmscale::Signals& s = sig.tick(at_seconds(10));
  CHECK(s.engines.replicas_stale == 0);
  CHECK_FALSE(s.engine.stale);
  CHECK(sig.watched() == 1);
}

TEST_CASE("ScrapedSignals: an engine restart (counters reset) and bad input") {
  llmscale::ScrapedSignals sig(config(), at_seconds(0));
  sig.watch(0);
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 1000, 3000), at_seconds(1)));
  // restarted: the counters start again from 0 and have 5 requests taking 15 s
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 5, 15), at_seconds(2)));
  const llmscale::Signals& s = sig.tick(at_seconds(2));
  CHECK(s.completion_rate == doctest::Approx(5.0 / 2.0));
  CHECK(s.mean_e2e_latency_s == doctest::Approx(3.0));

  CHECK_FALSE(sig.observe(0, page(1, 0, 0.1, 6, 18), at_seconds(2)));        // not after the last
  CHECK_FALSE(sig.observe(0, page(-1, 0, 0.1, 6, 18), at_seconds(3)));       // negative running
  CHECK_FALSE(sig.observe(0, page(NAN, 0, 0.1, 6, 18), at_seconds(3)));      // NaN
  CHECK_FALSE(sig.observe(3, page(1, 0, 0.1, 6, 18), at_seconds(3)));        // slot not watched
  CHECK_FALSE(sig.observe(99, page(1, 0, 0.1, 6, 18), at_seconds(3)));       // out of range
  CHECK(sig.scrapes_unusable() == 5);
  const llmscale::Signals& later = sig.tick(at_seconds(1));  // backwards: ignored, counted
  CHECK(later.ignored_ticks == 1);
  CHECK(later.at == at_seconds(2));
  CHECK(std::isfinite(later.mean_e2e_latency_s));
  CHECK_FALSE(sig.watch(4));

  llmscale::SignalsConfig bad = config();
  bad.stale_after_s = -1;
  CHECK_THROWS_WITH_AS(llmscale::ScrapedSignals(bad, at_seconds(0)), doctest::Contains("stale_after_s"),
                       std::invalid_argument);
}

TEST_CASE("ScrapedSignals: an endpoint flipping between two replicas is two series, not a reset per scrape") {
  // Two engines behind one endpoint each finish 5 requests/s; their counters stand at 1,000 and
  // 500,000. Read as one series, every flip down was a "reset" adding the whole counter
  // (489,188 req/s measured against a true 10).
  for (const bool with_identity : {true, false}) {
    CAPTURE(with_identity);
    llmscale::ScrapedSignals sig(config(), at_seconds(0));
    sig.watch(0);
    for (int t = 1; t <= 20; ++t) {
      const bool b = t % 2 == 0;
      const double count = (b ? 500'000.0 : 1'000.0) + 5.0 * t;
      const std::uint64_t id = with_identity ? (b ? 22 : 11) : 0;
      REQUIRE(sig.observe(0, page(2, 0, 0.1, count, count, std::nullopt, 0, id), at_seconds(t)));
      sig.tick(at_seconds(t));
    }
    const llmscale::Signals& s = sig.tick(at_seconds(20));
    // each series' increase over its own 2 s: 10 every 2 s each -> 10 req/s over the window;
    // without an identity the two are told apart by continuity (no count of one continues the
    // other's at a rate a replica can finish requests)
    CHECK(s.completion_rate == doctest::Approx(10.0).epsilon(0.25));
    CHECK(sig.series_changes() == 1);  // the second replica's first scrape
  }
}

TEST_CASE("ScrapedSignals: a counter faster than a replica can finish requests is dropped, a small reset is kept") {
  llmscale::EngineBounds bounds;
  bounds.max_completion_rate = 100;
  llmscale::ScrapedSignals sig(config(), at_seconds(0), bounds);
  sig.watch(0);
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 1000, 1000), at_seconds(1)));
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 1201, 1201), at_seconds(3)));  // 100.5/s: over the bound
  CHECK(sig.series_changes() == 1);                                      // a new series, nothing added
  CHECK(sig.tick(at_seconds(3)).completion_rate == 0);
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 1401, 1401), at_seconds(5)));  // exactly 100/s: believed
  CHECK(sig.tick(at_seconds(5)).completion_rate == doctest::Approx(200.0 / 5.0));
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 800, 800), at_seconds(6)));  // fell to 800: more than 5 s could count
  CHECK(sig.series_changes() == 2);
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 40, 40), at_seconds(7)));  // fell to 40 in 1 s: a restart
  CHECK(sig.series_changes() == 2);
  CHECK(sig.tick(at_seconds(7)).completion_rate == doctest::Approx((200.0 + 40.0) / 7.0));
  bounds.max_completion_rate = 0;
  CHECK_THROWS_AS(llmscale::ScrapedSignals(config(), at_seconds(0), bounds), std::invalid_argument);
}

TEST_CASE("ScrapedSignals: a latency sum rising more than a day per observation is dropped and counted") {
  llmscale::EngineBounds bounds;
  bounds.max_observation_s = 100;
  llmscale::ScrapedSignals sig(config(), at_seconds(0), bounds);
  sig.watch(0);
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 10, 20, 10, 5), at_seconds(1)));
  // 4 more requests, whose e2e sum rose by 400 (100 s each: believed) and ttft sum by 401 (not:
  // the ttft mean has no observation, the completions still count)
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 14, 420, 14, 406), at_seconds(2)));
  CHECK(sig.histogram_rises_dropped() == 1);
  const llmscale::Signals& s = sig.tick(at_seconds(2));
  CHECK(s.mean_e2e_latency_s == doctest::Approx(100.0));
  CHECK(s.mean_ttft_s == 0);  // no believed observation
  CHECK(s.completion_rate == doctest::Approx(4.0 / 2.0));
  // the 1e308-a-request sums a fuzzer found: dropped, nothing overflows
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 15, 1e308, 15, 1e308), at_seconds(3)));
  REQUIRE(sig.observe(0, page(1, 0, 0.1, 16, 1e308, 16, 1e308), at_seconds(4)));
  CHECK(sig.histogram_rises_dropped() == 3);  // e2e and ttft at 3 s; at 4 s the sums did not rise (0 per request)
  const llmscale::Signals& t = sig.tick(at_seconds(4));
  CHECK(std::isfinite(t.mean_e2e_latency_s));
  CHECK(t.mean_e2e_latency_s == doctest::Approx(400.0 / 5.0));  // the 4 believed plus one at 0 s
  CHECK(t.completion_rate == doctest::Approx(6.0 / 4.0));       // the completions all count
  bounds.max_observation_s = 0;
  CHECK_THROWS_AS(llmscale::ScrapedSignals(config(), at_seconds(0), bounds), std::invalid_argument);
}

TEST_CASE("ScrapedSignals: an implausible page is counted apart and changes nothing") {
  llmscale::ScrapedSignals sig(config(), at_seconds(0));
  sig.watch(0);
  llmscale::EngineScrape lie = page(3, 0, 0.1, 10, 10);
  lie.implausible = "running requests on one replica are negative or over EngineBounds::max_requests";
  CHECK_FALSE(sig.observe(0, lie, at_seconds(1)));
  CHECK(sig.scrapes_implausible() == 1);
  CHECK(sig.scrapes_unusable() == 1);
  CHECK(sig.tick(at_seconds(1)).engines.replicas_reporting == 0);
}
