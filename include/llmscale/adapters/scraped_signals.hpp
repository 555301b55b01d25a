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
//  - the TTFT, queue-time and end-to-end histograms' _sum/_count increases -> the means;
//  - the TTFT, time-per-token and queue-time histograms' _bucket increases, summed over the
//    fleet and the window -> the quantiles, as PromQL's histogram_quantile over a rate (a
//    replica whose buckets differ from the fleet's layout adds none: bucket_mismatches(); the
//    layout is the first usable one seen, and moves to a new one when no replica has shown the
//    old for stale_after_s, as after a rolling upgrade: its counts then start again, and
//    ScrapedTotals::layout_epoch says so);
//  - the prompt and output length histograms' _sum/_count increases (else the token counters'
//    increases over the completions) -> the mean lengths and token rates; the output length
//    histogram's _bucket increases over the window -> the outputs' spread (bucket_mean_log).
// Everything counted since the start is kept in totals(): a recorder diffs two of them to get a
// window's arrivals, token means and spread, and latency quantiles, at any window length.
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
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/adapters/histogram_buckets.hpp"
#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/engine_gauges.hpp"
#include "llmscale/signals/collector.hpp"
#include "llmscale/signals/window_sum.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// What a fleet's pages have shown since ScrapedSignals started, all believed increases summed
/// (restarts and series changes handled as for the window): two of them, taken at a window's
/// two ends, give the window's figures.
struct ScrapedTotals {
  double completions = 0;   ///< finished requests
  double in_system = 0;     ///< running + queued at the last tick (arrivals = completions + its growth)
  bool primed = false;      ///< a replica has reported (in_system is known)
  double prompt_tokens = 0;    ///< prompt tokens of the requests counted in prompt_requests
  double prompt_requests = 0;  ///< requests whose prompt tokens are in prompt_tokens
  double output_tokens = 0;    ///< output tokens of the requests counted in output_requests
  double output_requests = 0;  ///< requests whose output tokens are in output_tokens
  double ttft_sum = 0;         ///< TTFT seconds observed
  double ttft_n = 0;           ///< TTFT observations
  double tpot_sum = 0;         ///< time-per-output-token seconds observed
  double tpot_n = 0;           ///< time-per-output-token observations
  /// Cumulative bucket counts per BucketedHistogram, on the fleet's layout (layout()).
  std::array<BucketCounts, bucketed_histograms> buckets{};
  /// Per BucketedHistogram, how many times its layout has changed: two totals whose epochs
  /// differ cannot be subtracted (their buckets have other bounds).
  std::array<std::uint32_t, bucketed_histograms> layout_epoch{};
};

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
  /// Everything counted since the start (see ScrapedTotals); in_system as of the last tick.
  [[nodiscard]] const ScrapedTotals& totals() const noexcept { return totals_; }
  /// The fleet's bucket bounds for histogram `h` (size 0: none seen yet).
  [[nodiscard]] const HistogramBuckets& layout(BucketedHistogram h) const noexcept {
    return layouts_[static_cast<std::size_t>(h)];
  }
  /// Usable scrapes whose buckets for some histogram had bounds other than the fleet's layout,
  /// or counts that cannot be true: those buckets added nothing (the rest of the scrape did).
  [[nodiscard]] std::uint64_t bucket_mismatches() const noexcept { return bucket_mismatches_; }

 private:
  static WindowSums<HistogramBuckets::max_buckets> bucket_window(const SignalsConfig& config) {
    return WindowSums<HistogramBuckets::max_buckets>(from_seconds(config.window_s), from_seconds(config.granularity_s));
  }
  // the last totals of one series identity
  struct Series {
    std::uint64_t id = 0;
    bool used = false;
    TimePoint at{};
    HistogramTotals ttft, queue_time, e2e, tpot, prompt_tokens, output_tokens;
    std::optional<double> prompt_tokens_total, output_tokens_total;
    std::array<BucketCounts, bucketed_histograms> buckets{};  ///< on the fleet's layouts
    std::uint8_t has_buckets = 0;  ///< bit h: buckets[h] was read from the page
  };
  struct Slot {
    bool watched = false;
    bool seen = false;  ///< a usable scrape since watch()
    TimePoint at{};     ///< the last usable scrape's time
    std::array<Series, 4> series{};
  };
  enum Channel : std::size_t {
    completions, ttft_sum, ttft_n, wait_sum, wait_n, e2e_sum, e2e_n, in_system_growth,
    prompt_sum, prompt_n, output_sum, output_n, channels
  };
  // the histograms whose windowed buckets the snapshot reads: the first three's quantiles, the
  // output lengths' spread
  static constexpr std::array<BucketedHistogram, 4> quantiled{BucketedHistogram::ttft, BucketedHistogram::tpot,
                                                              BucketedHistogram::queue_time,
                                                              BucketedHistogram::output_tokens};
  static constexpr std::size_t latency_quantiled = 3;
  enum Level : std::size_t { running_integral, queued_integral, levels };

  std::vector<Slot> slots_;
  EngineGauges gauges_;
  WindowSums<channels> events_;
  WindowSums<levels> levels_;
  std::array<WindowSums<HistogramBuckets::max_buckets>, quantiled.size()> quantile_windows_;
  std::array<HistogramBuckets, bucketed_histograms> layouts_{};
  std::array<TimePoint, bucketed_histograms> layout_seen_{};  ///< the last scrape that showed each layout
  ScrapedTotals totals_;
  void adopt_layout(std::size_t h, const HistogramBuckets& b, TimePoint at) noexcept;
  std::uint64_t bucket_mismatches_ = 0;
  Duration stale_after_;
  TimePoint start_;
  MonotonicGuard guard_;
  TimePoint last_tick_;
  double in_system_last_ = 0;
  bool primed_ = false;
  int watched_ = 0;
  double max_completion_rate_;
  double max_observation_s_;
  static constexpr double max_tokens_per_request = 1e7;
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
      quantile_windows_{bucket_window(config), bucket_window(config), bucket_window(config), bucket_window(config)},
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
  // this page's buckets on the fleet's layouts (the first usable ones seen fix a layout)
  std::array<BucketCounts, bucketed_histograms> page_buckets{};
  std::uint8_t page_has = 0;
  bool mismatch = false;
  for (std::size_t h = 0; h < bucketed_histograms; ++h) {
    const HistogramBuckets& b = scrape.buckets[h];
    if (b.size == 0) continue;
    // the first usable layout, or a new one once the old has not been seen for stale_after_s
    if (b.usable() && (layouts_[h].size == 0 || (!b.same_bounds(layouts_[h]) && at - layout_seen_[h] > stale_after_))) {
      adopt_layout(h, b, at);
    }
    if (bucket_counts_on(b, layouts_[h], page_buckets[h])) {
      page_has |= static_cast<std::uint8_t>(1u << h);
      layout_seen_[h] = at;
    } else {
      mismatch = true;
    }
  }
  bucket_mismatches_ += mismatch;
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
    double tpot_sum = 0, tpot_n = 0;
    delta(series->tpot, scrape.tpot, tpot_sum, tpot_n);
    // token lengths: the length histogram's increase, else the token counter's over the requests
    // finished; never more than max_tokens_per_request a request
    const auto tokens = [&](const HistogramTotals& a, const HistogramTotals& b, const std::optional<double>& ca,
                            const std::optional<double>& cb, double& sum, double& n) {
      if (a.present && b.present) {
        const double counted = counter_increase(a.count, b.count);
        n = counted > most ? 0.0 : counted;
        sum = n > 0 ? (b.count >= a.count ? b.sum - a.sum : b.sum) : 0.0;
      } else if (ca && cb && v[completions] > 0) {
        n = v[completions];
        sum = counter_increase(*ca, *cb);
      }
      if (!(sum >= 0) || sum > n * max_tokens_per_request) {
        histogram_drops_ += n > 0;
        sum = n = 0;
      }
    };
    tokens(series->prompt_tokens, scrape.prompt_tokens, series->prompt_tokens_total, scrape.prompt_tokens_total, v[prompt_sum],
           v[prompt_n]);
    tokens(series->output_tokens, scrape.output_tokens, series->output_tokens_total, scrape.output_tokens_total, v[output_sum],
           v[output_n]);
    events_.add_spread(series->at, at, v);
    totals_.completions += v[completions];
    totals_.prompt_tokens += v[prompt_sum];
    totals_.prompt_requests += v[prompt_n];
    totals_.output_tokens += v[output_sum];
    totals_.output_requests += v[output_n];
    totals_.ttft_sum += v[ttft_sum];
    totals_.ttft_n += v[ttft_n];
    totals_.tpot_sum += tpot_sum;
    totals_.tpot_n += tpot_n;
    // the buckets' increases: into the totals, and the latency ones into the quantile windows
    for (std::size_t h = 0; h < bucketed_histograms; ++h) {
      const std::uint8_t bit = static_cast<std::uint8_t>(1u << h);
      if (!(page_has & bit) || !(series->has_buckets & bit)) continue;
      BucketCounts d{};
      const std::size_t n = layouts_[h].size;
      if (!bucket_increase(series->buckets[h], page_buckets[h], n, d) || d[n - 1] > most) {
        ++bucket_mismatches_;
        continue;
      }
      for (std::size_t i = 0; i < n; ++i) totals_.buckets[h][i] += d[i];
      for (std::size_t q = 0; q < quantiled.size(); ++q) {
        if (static_cast<std::size_t>(quantiled[q]) == h) quantile_windows_[q].add_spread(series->at, at, d);
      }
    }
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
  series->tpot = scrape.tpot;
  series->prompt_tokens = scrape.prompt_tokens;
  series->output_tokens = scrape.output_tokens;
  series->prompt_tokens_total = scrape.prompt_tokens_total;
  series->output_tokens_total = scrape.output_tokens_total;
  series->buckets = page_buckets;
  series->has_buckets = page_has;
  s.seen = true;
  s.at = at;
  ++usable_;
  return true;
}

inline void ScrapedSignals::adopt_layout(std::size_t h, const HistogramBuckets& b, TimePoint at) noexcept {
  const bool moved = layouts_[h].size > 0;
  layouts_[h] = b;
  layout_seen_[h] = at;
  if (!moved) return;
  // counts on the old bounds cannot be carried over: everything on this histogram starts again
  ++totals_.layout_epoch[h];
  totals_.buckets[h] = BucketCounts{};
  const std::uint8_t keep = static_cast<std::uint8_t>(~(1u << h));
  for (Slot& s : slots_) {
    for (Series& c : s.series) c.has_buckets &= keep;
  }
  for (std::size_t q = 0; q < quantiled.size(); ++q) {
    if (static_cast<std::size_t>(quantiled[q]) != h) continue;
    quantile_windows_[q].clear();
  }
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
  totals_.primed = primed_;
  totals_.in_system = in_system_last_;
  last_tick_ = now;
  events_.advance(now);
  levels_.advance(now);
  for (auto& w : quantile_windows_) w.advance(now);

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
  s.mean_prompt_tokens = ratio(prompt_sum, prompt_n);
  s.mean_output_tokens = ratio(output_sum, output_n);
  s.prompt_token_rate = std::max(0.0, e[prompt_sum]) / covered;
  s.output_token_rate = std::max(0.0, e[output_sum]) / covered;
  s.ignored_ticks = guard_.rejected();
  // quantiles of the window's bucket increases (0 without observations)
  std::array<std::uint64_t, latency_quantiled> observed{};
  std::array<std::array<double, 3>, latency_quantiled> q{};
  for (std::size_t k = 0; k < latency_quantiled; ++k) {
    const HistogramBuckets& layout = layouts_[static_cast<std::size_t>(quantiled[k])];
    const auto& c = quantile_windows_[k].totals();
    const std::size_t n = layout.size;
    if (n == 0 || !(c[n - 1] > 0.5)) continue;
    observed[k] = static_cast<std::uint64_t>(c[n - 1] + 0.5);
    const double levels[3] = {0.5, 0.9, 0.99};
    for (std::size_t j = 0; j < 3; ++j) {
      const double x = bucket_quantile(layout.le.data(), c.data(), n, levels[j]);
      q[k][j] = std::isfinite(x) ? x : 0.0;
    }
  }
  s.ttft_p50_s = q[0][0], s.ttft_p90_s = q[0][1], s.ttft_p99_s = q[0][2];
  s.tpot_p50_s = q[1][0], s.tpot_p90_s = q[1][1], s.tpot_p99_s = q[1][2];
  s.queue_wait_p50_s = q[2][0], s.queue_wait_p90_s = q[2][1], s.queue_wait_p99_s = q[2][2];
  // the outputs' spread: their mean (the _sum/_count's) against their mean log (the buckets'),
  // only where both count the same requests: a replica whose buckets are on other bounds, or
  // a layout that just moved, adds to the mean and not to the buckets, and a mean log over a
  // few of them against a mean over all would give any spread
  s.output_sigma = 0;
  {
    const HistogramBuckets& layout = layouts_[static_cast<std::size_t>(BucketedHistogram::output_tokens)];
    const auto& c = quantile_windows_[latency_quantiled].totals();
    const double counted = layout.size > 0 ? c[layout.size - 1] : 0.0;
    if (counted > 0.5 && s.mean_output_tokens >= 1 && std::fabs(counted - e[output_n]) <= 0.02 * e[output_n]) {
      const double mean_log = bucket_mean_log(layout.le.data(), c.data(), layout.size);
      s.output_sigma = output_sigma_of(s.mean_output_tokens, mean_log);
    }
  }

  s.engine.age_s = s.engines.oldest_sample_age_s;
  s.engine.stale = s.engines.replicas_stale > 0;
  s.engine.samples = static_cast<std::uint64_t>(s.engines.replicas_reporting);
  s.engine.dropped_invalid = unusable_ + gauges_.invalid_samples();
  s.engine.dropped_stale = gauges_.out_of_order_samples();
  // the request figures come from the same pages: as healthy as they are
  s.requests = s.engine;
  s.requests.samples = static_cast<std::uint64_t>(std::max(0.0, e[completions]) + 0.5);
  s.queue_wait = s.engine;
  s.queue_wait.samples = observed[2];  // the observations behind the quantiles
  s.ttft = s.engine;
  s.ttft.samples = observed[0];
  s.tpot = s.engine;
  s.tpot.samples = observed[1];
  return s;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_SCRAPED_SIGNALS_HPP
