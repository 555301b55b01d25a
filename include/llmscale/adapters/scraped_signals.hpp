// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// ScrapedSignals: the Signals snapshot of a fleet seen only from outside, through its engines'
// Prometheus pages (the Kubernetes path: llmscale-scaler). Where SignalCollector drains a
// Recorder the request path writes to, this one is fed one EngineScrape per replica per round:
//
//     llmscale::ScrapedSignals signals(config, start);
//     signals.watch(slot);                             // an endpoint appeared
//     signals.observe(slot, read_engine_metrics(page, map, parser), scraped_at);
//     signals.scrape_failed(slot);                     // a timeout, a refused connection, a 502
//     const llmscale::Signals& s = signals.tick(now);  // then Autoscaler::tick(now, s, fleet)
//
// What the pages give, and how it becomes the snapshot:
//  - queue length, running requests and KV use per replica -> EngineGauges (fleet sums, means,
//    extremes, saturated replicas), and running_now / queued_now;
//  - running and queued held from tick to tick -> time-weighted concurrency over window_s;
//  - the end-to-end histogram's _count increase between two scrapes of a replica -> completions;
//    arrivals over the window = completions + the growth of requests in the system;
//  - the TTFT, queue-time and end-to-end histograms' _sum/_count increases -> the means.
// Latency quantiles are not derived (the snapshot's quantile fields stay 0 with 0 samples).
//
// Counters are believed only as far as a replica can go: each slot keeps the last totals of up
// to four series, told apart by their identity (EngineScrape::series) and by continuity (a
// count rising no faster than EngineBounds::max_completion_rate). So an endpoint that a load
// balancer flips between replicas is read as several series, each with its own increase, never
// as a reset per scrape that adds a whole counter; a counter that falls is a restart counted
// from 0 only if its new value could have been counted since the last scrape; anything else
// starts a new series with nothing added (series_changes()).
//
// Health: a replica whose page is unusable (no running/waiting figures, a truncated page) or
// whose scrapes fail keeps its last sample, which ages into stale after stale_after_s; a
// watched replica not yet scraped successfully is stale until it is (its load is unknown, and
// unknown is not zero). So a dead engine reads as stale (the governor holds the fleet), never
// as an idle replica, and neither does a fleet the scaler has only just started watching.
#ifndef LLMSCALE_ADAPTERS_SCRAPED_SIGNALS_HPP
#define LLMSCALE_ADAPTERS_SCRAPED_SIGNALS_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/engine_gauges.hpp"
#include "llmscale/signals/collector.hpp"
#include "llmscale/signals/window_sum.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The Signals snapshot of a fleet built from its engines' scraped /metrics pages (see the top
/// of this file).
class ScrapedSignals {
 public:
  /// Uses config's replica_slots, window_s, granularity_s, stale_after_s, kv_saturation and
  /// queue_saturation (the recorder and quantile keys do not apply). Allocates everything;
  /// throws std::invalid_argument for an invalid config.
  ScrapedSignals(const SignalsConfig& config, TimePoint start, const EngineBounds& bounds = {});

  /// How many replica slots there are (config's replica_slots).
  [[nodiscard]] std::size_t slots() const noexcept { return slots_.size(); }

  /// Slot `slot` now holds a replica: until its first usable scrape it counts
  /// as stale. Forgets what the slot held before. False for a slot out of range.
  bool watch(std::size_t slot) noexcept;
  /// The replica in `slot` is gone (scaled down, removed from the endpoint list).
  void forget(std::size_t slot) noexcept;

  /// One scrape of the replica in `slot`, taken at `at`. A usable one sets its engine gauges
  /// and adds what its histograms and counters say happened since the slot's previous usable
  /// scrape; true. An unusable one, a slot not watched or out of range, or an `at` not after
  /// the previous scrape: counted, nothing changes; false.
  bool observe(std::size_t slot, const EngineScrape& scrape, TimePoint at,
               std::int64_t kv_capacity_tokens = 1'000'000) noexcept;
  /// A scrape of `slot` that gave no page (timeout, connection refused, HTTP error, too large).
  void scrape_failed(std::size_t slot) noexcept;

  /// The snapshot at `now` (see the header comment). A `now` earlier than the last tick's is
  /// ignored and counted; the previous snapshot is returned. Allocates nothing.
  const Signals& tick(TimePoint now) noexcept;
  /// The snapshot the last tick returned.
  [[nodiscard]] const Signals& last() const noexcept { return last_; }

  /// Scrapes observe() took (it returned true).
  [[nodiscard]] std::uint64_t scrapes_usable() const noexcept { return usable_; }
  /// Scrapes observe() refused: unusable or implausible pages, slots out of range or not
  /// watched, times not after the slot's previous scrape.
  [[nodiscard]] std::uint64_t scrapes_unusable() const noexcept { return unusable_; }
  /// Scrapes that gave no page (scrape_failed() calls).
  [[nodiscard]] std::uint64_t scrapes_failed() const noexcept { return failed_; }
  /// Scrapes whose page was not believed (EngineScrape::implausible), a part of the unusable.
  [[nodiscard]] std::uint64_t scrapes_implausible() const noexcept { return implausible_; }
  /// Latency histogram rises not believed in usable scrapes, among those whose `_count` rose
  /// (an interval without completions is not judged): a `_sum` that fell without a reset, or
  /// rose by more than EngineBounds::max_observation_s per observation counted. The histogram
  /// adds nothing for that interval; the rest of the scrape is used.
  [[nodiscard]] std::uint64_t histogram_rises_dropped() const noexcept { return histogram_drops_; }
  /// Usable scrapes (after a slot's first) whose counters continue none of the series the slot
  /// keeps: a new identity (a restarted process, another replica behind the same endpoint), or
  /// a count that rose faster than a replica finishes requests or fell to more than it could
  /// have counted since a restart. Baselines: nothing added.
  [[nodiscard]] std::uint64_t series_changes() const noexcept { return series_changes_; }
  /// Replicas watched (slots in use).
  [[nodiscard]] int watched() const noexcept { return watched_; }

 private:
  // the last totals of one series identity
  struct Series {
    std::uint64_t id = 0;
    bool used = false;
    TimePoint at{};
    HistogramTotals ttft, queue_time, e2e;
  };
  struct Slot {
    bool watched = false;
    bool seen = false;  ///< a usable scrape since watch()
    TimePoint at{};     ///< the last usable scrape's time
    std::array<Series, 4> series{};
  };
  enum Channel : std::size_t { completions, ttft_sum, ttft_n, wait_sum, wait_n, e2e_sum, e2e_n, in_system_growth, channels };
  enum Level : std::size_t { running_integral, queued_integral, levels };

  std::vector<Slot> slots_;
  EngineGauges gauges_;
  WindowSums<channels> events_;
  WindowSums<levels> levels_;
  Duration stale_after_;
  TimePoint start_;
  MonotonicGuard guard_;
  TimePoint last_tick_;
  double in_system_last_ = 0;
  bool primed_ = false;
  int watched_ = 0;
  double max_completion_rate_;
  double max_observation_s_;
  std::uint64_t usable_ = 0, unusable_ = 0, failed_ = 0, implausible_ = 0, series_changes_ = 0, histogram_drops_ = 0;
  Signals last_;
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline ScrapedSignals::ScrapedSignals(const SignalsConfig& config, TimePoint start, const EngineBounds& bounds)
    : slots_((require_valid(config), static_cast<std::size_t>(config.replica_slots))),
      gauges_(static_cast<std::size_t>(config.replica_slots),
              SaturationThresholds{config.kv_saturation, config.queue_saturation}),
      events_(from_seconds(config.window_s), from_seconds(config.granularity_s)),
      levels_(from_seconds(config.window_s), from_seconds(config.granularity_s)),
      stale_after_(from_seconds(config.stale_after_s)),
      start_(start),
      last_tick_(start),
      max_completion_rate_(bounds.max_completion_rate),
      max_observation_s_(bounds.max_observation_s) {
  if (!(max_completion_rate_ > 0)) throw std::invalid_argument("EngineBounds::max_completion_rate must be > 0");
  if (!(max_observation_s_ > 0) || !std::isfinite(max_observation_s_))
    throw std::invalid_argument("EngineBounds::max_observation_s must be finite and > 0");
  guard_.accept(start);
  last_.at = start;
}

inline bool ScrapedSignals::watch(std::size_t slot) noexcept {
  if (slot >= slots_.size()) return false;
  forget(slot);
  slots_[slot].watched = true;
  ++watched_;
  return true;
}

inline void ScrapedSignals::forget(std::size_t slot) noexcept {
  if (slot >= slots_.size()) return;
  if (slots_[slot].watched) --watched_;
  slots_[slot] = Slot{};
  gauges_.clear(slot);
}

inline bool ScrapedSignals::observe(std::size_t slot, const EngineScrape& scrape, TimePoint at,
                                    std::int64_t kv_capacity_tokens) noexcept {
  if (slot >= slots_.size() || !slots_[slot].watched || !scrape.usable() ||
      (slots_[slot].seen && at <= slots_[slot].at)) {
    ++unusable_;
    implausible_ += scrape.implausible != nullptr;
    return false;
  }
  if (!gauges_.set(slot, to_replica_gauges(scrape, at, kv_capacity_tokens))) {
    ++unusable_;
    return false;
  }
  Slot& s = slots_[slot];
  // The series this page continues: same identity, and (where the page has the end-to-end
  // count) a count that rose no faster than a replica finishes requests; the smallest such rise.
  // Failing that, a count small enough to have been counted from 0 since the identity's last
  // scrape is that series restarted; anything else is a new series.
  Series* series = nullptr;
  double best = std::numeric_limits<double>::infinity();
  for (Series& c : s.series) {
    if (!c.used || c.id != scrape.series || !(at > c.at)) continue;
    const double most = max_completion_rate_ * to_seconds(at - c.at);
    if (!scrape.e2e.present || !c.e2e.present) {
      if (series == nullptr || c.at > series->at) series = &c;
      continue;
    }
    const double rise = scrape.e2e.count - c.e2e.count;
    if (rise >= 0 && rise <= most && rise < best) {
      best = rise;
      series = &c;
    } else if (!std::isfinite(best) && rise < 0 && scrape.e2e.count <= most && (series == nullptr || c.at > series->at)) {
      series = &c;  // a restart (counter_increase reads the fall as one), unless a continuation turns up
    }
  }
  if (series != nullptr) {
    // what happened between this series' two scrapes, spread over the interval between them
    const double most = max_completion_rate_ * to_seconds(at - series->at);
    typename WindowSums<channels>::Values v{};
    // the observations counted (0 when none or not believed); sum and n for the mean: 0 when the
    // sum is not believed
    const auto delta = [&](const HistogramTotals& a, const HistogramTotals& b, double& sum, double& n) {
      if (!a.present || !b.present) return 0.0;
      const double counted = counter_increase(a.count, b.count);
      n = counted > most ? 0.0 : counted;  // a latency histogram without the e2e count to check it by
      sum = n > 0 ? (b.count >= a.count ? b.sum - a.sum : b.sum) : 0.0;
      // a histogram's sum never falls without a reset, nor rises by more than its observations can add
      if (!(sum >= 0) || sum > n * max_observation_s_) {
        histogram_drops_ += n > 0;
        sum = 0;
        return std::exchange(n, 0.0);
      }
      return n;
    };
    v[completions] = delta(series->e2e, scrape.e2e, v[e2e_sum], v[e2e_n]);
    delta(series->ttft, scrape.ttft, v[ttft_sum], v[ttft_n]);
    delta(series->queue_time, scrape.queue_time, v[wait_sum], v[wait_n]);
    events_.add_spread(series->at, at, v);
  } else {
    // a series this slot has not seen: its baseline; it replaces the one seen longest ago
    series = &s.series[0];
    for (Series& c : s.series) {
      if (!c.used) {
        series = &c;
        break;
      }
      if (c.at < series->at) series = &c;
    }
    series_changes_ += s.seen;
    series->used = true;
    series->id = scrape.series;
  }
  series->at = at;
  series->ttft = scrape.ttft;
  series->queue_time = scrape.queue_time;
  series->e2e = scrape.e2e;
  s.seen = true;
  s.at = at;
  ++usable_;
  return true;
}

inline void ScrapedSignals::scrape_failed(std::size_t slot) noexcept {
  (void)slot;
  ++failed_;
}

inline const Signals& ScrapedSignals::tick(TimePoint now) noexcept {
  if (!guard_.accept(now)) {
    last_.ignored_ticks = guard_.rejected();
    return last_;
  }
  Signals& s = last_;
  s.at = now;
  s.engines = gauges_.summarize(now, stale_after_);
  // watched replicas not yet scraped successfully are stale too
  int pending_stale = 0;
  for (const Slot& slot : slots_) pending_stale += slot.watched && !slot.seen;
  s.engines.replicas_stale += pending_stale;

  const double running = static_cast<double>(s.engines.running_total);
  const double queued = static_cast<double>(s.engines.queue_length_total);
  const double dt = to_seconds(now - last_tick_);
  if (dt > 0) levels_.add_spread(last_tick_, now, {running * dt, queued * dt});
  if (primed_) {
    typename WindowSums<channels>::Values growth{};
    growth[in_system_growth] = running + queued - in_system_last_;
    events_.add(now, growth);
  }
  // what was in the system when the first replica reported arrived before we looked
  primed_ = primed_ || s.engines.replicas_reporting > 0;
  in_system_last_ = running + queued;
  last_tick_ = now;
  events_.advance(now);
  levels_.advance(now);

  const double covered = events_.covered_seconds(now, start_);
  const auto& e = events_.totals();
  const auto& l = levels_.totals();
  const auto ratio = [&](Channel num, Channel den) { return e[den] > 0.5 ? std::max(0.0, e[num]) / e[den] : 0.0; };
  s.completion_rate = std::max(0.0, e[completions]) / covered;
  // arrivals = completions + growth of the requests in the system, over the window
  s.arrival_rate = std::max(0.0, e[completions] + e[in_system_growth]) / covered;
  s.running = std::max(0.0, l[running_integral]) / levels_.covered_seconds(now, start_);
  s.queued = std::max(0.0, l[queued_integral]) / levels_.covered_seconds(now, start_);
  s.concurrency = s.running + s.queued;
  s.running_now = running;
  s.queued_now = queued;
  s.mean_queue_wait_s = ratio(wait_sum, wait_n);
  s.mean_ttft_s = ratio(ttft_sum, ttft_n);
  s.mean_e2e_latency_s = ratio(e2e_sum, e2e_n);
  s.ignored_ticks = guard_.rejected();

  s.engine.age_s = s.engines.oldest_sample_age_s;
  s.engine.stale = s.engines.replicas_stale > 0;
  s.engine.samples = static_cast<std::uint64_t>(s.engines.replicas_reporting);
  s.engine.dropped_invalid = unusable_ + gauges_.invalid_samples();
  s.engine.dropped_stale = gauges_.out_of_order_samples();
  // the request figures come from the same pages: as healthy as they are
  s.requests = s.engine;
  s.requests.samples = static_cast<std::uint64_t>(std::max(0.0, e[completions]) + 0.5);
  s.queue_wait = s.engine;
  s.queue_wait.samples = 0;  // no quantiles from means
  s.ttft = s.queue_wait;
  return s;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_SCRAPED_SIGNALS_HPP
