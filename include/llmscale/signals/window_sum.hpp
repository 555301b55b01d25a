// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// WindowSums<N> / WindowSum and the estimators built on them:
//  - EventRate: events (or tokens) per second over a window;
//  - TimeWeightedAverage: the time-weighted average of a quantity (e.g. requests in flight)
//    from its integrals over successive intervals.
// Each keeps per-bucket sums (N channels side by side) in a fixed ring and running totals, so
// adding and querying at the newest time are O(N); the totals are recomputed exactly whenever
// the ring has turned once, so rounding never accumulates. Rates and averages divide by the
// time the window actually covers: from the later of `start` and the window's oldest bucket
// up to `now`, so a young estimator is not diluted by time before it existed.
#ifndef LLMSCALE_SIGNALS_WINDOW_SUM_HPP
#define LLMSCALE_SIGNALS_WINDOW_SUM_HPP

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// N sums of values added over a time window (bucketed by `granularity`).
template <std::size_t N>
class WindowSums {
 public:
  using Values = std::array<double, N>;  ///< one value per channel

  /// Allocates ceil(window / granularity) buckets; throws std::invalid_argument unless
  /// granularity > 0 and that is within [1, 10^6].
  WindowSums(Duration window, Duration granularity = std::chrono::seconds(1))
      : ring_(granularity, detail::buckets_for(window, granularity), Values{}, "window_sum") {}

  /// Adds `v` at time `t`; false (and counted) when a value is not finite or `t` is older than
  /// the window ending at the newest time seen.
  bool add(TimePoint t, const Values& v) noexcept {
    if (!finite(v)) {
      ++dropped_;
      return false;
    }
    const std::int64_t i = detail::bucket_index(t, ring_.granularity());
    advance_to(i);
    if (!ring_.live(i)) {
      ++dropped_;
      return false;
    }
    accumulate(ring_.at(i), v, 1.0);
    return true;
  }

  /// Splits `amounts` uniformly over [t0, t1] across the buckets it covers (the part older
  /// than the window is dropped).
  void add_spread(TimePoint t0, TimePoint t1, const Values& amounts) noexcept {
    if (!finite(amounts) || t1 < t0) {
      ++dropped_;
      return;
    }
    const Duration g = ring_.granularity();
    const std::int64_t first_index = detail::bucket_index(t0, g);
    const std::int64_t last = detail::bucket_index(t1, g);
    advance_to(last);
    if (first_index == last) {  // the common case: the interval lies in one bucket
      accumulate(ring_.at(last), amounts, 1.0);
      return;
    }
    if (first_index + 1 == last && t1 == TimePoint(g * last) && ring_.live(first_index)) {
      // as common: an interval ending on a bucket boundary (ticks on whole seconds) lies in
      // the bucket before it
      accumulate(ring_.at(first_index), amounts, 1.0);
      return;
    }
    const double span = static_cast<double>((t1 - t0).count());
    const auto n = static_cast<std::int64_t>(ring_.size());
    const std::int64_t first = std::max(first_index, last - n + 1);
    for (std::int64_t i = first; i <= last; ++i) {
      const TimePoint b0 = std::max(t0, TimePoint(g * i));
      const TimePoint b1 = std::min(t1, TimePoint(g * (i + 1)));
      if (b1 <= b0) continue;
      accumulate(ring_.at(i), amounts, static_cast<double>((b1 - b0).count()) / span);
    }
  }

  /// Empties every bucket; the clock and the window stay (for sums whose meaning changed, such
  /// as histogram buckets whose bounds did). Allocates nothing.
  void clear() noexcept {
    const auto n = static_cast<std::int64_t>(ring_.size());
    for (std::int64_t i = 0; i < n; ++i) ring_.at(i) = Values{};  // every slot, whichever index maps to it
    totals_ = Values{};
  }

  /// Moves the window's end to `now` (dropping what falls out of it).
  void advance(TimePoint now) noexcept { advance_to(detail::bucket_index(now, ring_.granularity())); }

  /// The sums over the window ending at the newest time seen (call advance(now) first).
  [[nodiscard]] const Values& totals() const noexcept { return totals_; }
  /// The window's length: its buckets x the granularity.
  [[nodiscard]] Duration window() const noexcept {
    return ring_.granularity() * static_cast<Duration::rep>(ring_.size());
  }
  /// The bucket width.
  [[nodiscard]] Duration granularity() const noexcept { return ring_.granularity(); }
  /// Where the window's oldest bucket starts.
  [[nodiscard]] TimePoint window_start() const noexcept {
    return TimePoint(ring_.granularity() * (ring_.head() - static_cast<std::int64_t>(ring_.size()) + 1));
  }
  /// The time the window covers at `now` (after advance(now)), starting no earlier than
  /// `start`; at least a microsecond.
  [[nodiscard]] double covered_seconds(TimePoint now, TimePoint start) const noexcept {
    return std::max(to_seconds(now - std::max(start, window_start())), 1e-6);
  }
  /// Additions dropped: values not finite, an add() older than the window, or a spread whose
  /// t1 is before t0.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

  /// The buckets and the newest bucket's index on the clock, as text for load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("window_sum/1");
    const auto n = static_cast<std::int64_t>(ring_.size());
    w << n << static_cast<long long>(N) << ring_.started() << ring_.head();
    for (std::int64_t i = ring_.head() - n + 1; i <= ring_.head(); ++i) {
      for (double x : ring_.at(i)) w << x;
    }
    return std::move(w).str();
  }
  /// Restores what save_state wrote (with as many buckets and channels); false (nothing
  /// changed) when `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, "window_sum/1");
    std::int64_t n = 0, head = 0;
    long long channels = 0;
    bool started = false;
    r >> n >> channels >> started >> head;
    if (!r.ok() || n != static_cast<std::int64_t>(ring_.size()) || channels != static_cast<long long>(N)) return false;
    std::vector<Values> values(static_cast<std::size_t>(n));
    for (Values& v : values) {
      for (double& x : v) r >> x;
    }
    if (!r.done()) return false;
    ring_.restore_head(started, head);
    for (std::int64_t k = 0; k < n; ++k) ring_.at(head - n + 1 + k) = values[static_cast<std::size_t>(k)];
    recompute_totals();
    return true;
  }

 private:
  static bool finite(const Values& v) noexcept {
    for (double x : v) {
      if (!std::isfinite(x)) return false;
    }
    return true;
  }
  void accumulate(Values& bucket, const Values& v, double weight) noexcept {
    for (std::size_t c = 0; c < N; ++c) {
      bucket[c] += v[c] * weight;
      totals_[c] += v[c] * weight;
    }
  }
  void advance_to(std::int64_t i) noexcept {
    const std::int64_t before = ring_.head();
    const bool was_started = ring_.started();
    ring_.advance(i, [this](const Values& b) {
      for (std::size_t c = 0; c < N; ++c) totals_[c] -= b[c];
    });
    if (was_started && ring_.head() != before) {
      turned_ += ring_.head() - before;
      if (turned_ >= static_cast<std::int64_t>(ring_.size())) recompute_totals();
    }
  }
  void recompute_totals() noexcept {
    const auto n = static_cast<std::int64_t>(ring_.size());
    Values t{};
    for (std::int64_t i = ring_.head() - n + 1; i <= ring_.head(); ++i) {
      for (std::size_t c = 0; c < N; ++c) t[c] += ring_.at(i)[c];
    }
    totals_ = t;
    turned_ = 0;
  }

  detail::BucketRing<Values> ring_;
  Values totals_{};
  std::int64_t turned_ = 0;
  std::uint64_t dropped_ = 0;
};

/// One sum of values added over a time window.
class WindowSum {
 public:
  /// As WindowSums: allocates the buckets; throws std::invalid_argument for a bad granularity
  /// or bucket count.
  WindowSum(Duration window, Duration granularity = std::chrono::seconds(1)) : sums_(window, granularity) {}

  /// Adds `v` at time `t` (WindowSums::add).
  bool add(TimePoint t, double v) noexcept { return sums_.add(t, {v}); }
  /// Splits `amount` uniformly over [t0, t1] (WindowSums::add_spread).
  void add_spread(TimePoint t0, TimePoint t1, double amount) noexcept { sums_.add_spread(t0, t1, {amount}); }
  /// Moves the window's end to `now`.
  void advance(TimePoint now) noexcept { sums_.advance(now); }
  /// The sum over the window ending at the newest time seen (call advance(now) first).
  [[nodiscard]] double total() const noexcept { return sums_.totals()[0]; }
  /// The window's length.
  [[nodiscard]] Duration window() const noexcept { return sums_.window(); }
  /// The bucket width.
  [[nodiscard]] Duration granularity() const noexcept { return sums_.granularity(); }
  /// Where the window's oldest bucket starts.
  [[nodiscard]] TimePoint window_start() const noexcept { return sums_.window_start(); }
  /// The time the window covers at `now`, from no earlier than `start` (WindowSums::covered_seconds).
  [[nodiscard]] double covered_seconds(TimePoint now, TimePoint start) const noexcept {
    return sums_.covered_seconds(now, start);
  }
  /// Additions dropped (WindowSums::dropped).
  [[nodiscard]] std::uint64_t dropped() const noexcept { return sums_.dropped(); }
  /// The buckets, as text for load_state (WindowSums::save_state).
  [[nodiscard]] std::string save_state() const { return sums_.save_state(); }
  /// Restores what save_state wrote; false (nothing changed) when `s` is not such a state.
  bool load_state(std::string_view s) { return sums_.load_state(s); }

 private:
  WindowSums<1> sums_;
};

/// Events (or any counted quantity, e.g. tokens) per second over a window.
class EventRate {
 public:
  /// A rate over `window` counted from `start`; throws std::invalid_argument for a bad
  /// granularity or bucket count (as WindowSums).
  EventRate(Duration window, TimePoint start, Duration granularity = std::chrono::seconds(1))
      : sum_(window, granularity), start_(start) {}

  /// Counts `n` events at `t` (negative or non-finite `n`, or `t` older than the window, are
  /// dropped and counted).
  bool record(TimePoint t, double n = 1.0) noexcept {
    if (!(n >= 0)) {
      ++negative_;
      return false;
    }
    return sum_.add(t, n);
  }
  /// Counts `n` events spread uniformly over [t0, t1].
  void record_spread(TimePoint t0, TimePoint t1, double n) noexcept {
    if (!(n >= 0)) {
      ++negative_;
      return;
    }
    sum_.add_spread(t0, t1, n);
  }
  /// Events per second over the window ending at `now`.
  [[nodiscard]] double rate(TimePoint now) noexcept {
    sum_.advance(now);
    return std::max(0.0, sum_.total()) / sum_.covered_seconds(now, start_);
  }
  /// Counts dropped: negative or non-finite, or older than the window.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return sum_.dropped() + negative_; }
  /// The window's buckets, as text for load_state (not `start` nor the drop counts).
  [[nodiscard]] std::string save_state() const { return sum_.save_state(); }
  /// Restores what save_state wrote; false (nothing changed) when `s` is not such a state.
  bool load_state(std::string_view s) { return sum_.load_state(s); }

 private:
  WindowSum sum_;
  TimePoint start_;
  std::uint64_t negative_ = 0;
};

/// The time-weighted average of a quantity over a window, from its integrals over intervals:
/// add(t0, t1, integral) says the quantity integrated to `integral` (e.g. request-seconds)
/// over [t0, t1]; the average is the window's integral over the time it covers.
class TimeWeightedAverage {
 public:
  /// An average over `window` counted from `start`; throws std::invalid_argument for a bad
  /// granularity or bucket count (as WindowSums).
  TimeWeightedAverage(Duration window, TimePoint start, Duration granularity = std::chrono::seconds(1))
      : sum_(window, granularity), start_(start) {}

  /// Adds the integral over [t0, t1] (spread uniformly across it).
  void add(TimePoint t0, TimePoint t1, double integral) noexcept { sum_.add_spread(t0, t1, integral); }
  /// Adds a quantity that held `value` throughout [t0, t1].
  void add_constant(TimePoint t0, TimePoint t1, double value) noexcept {
    add(t0, t1, value * to_seconds(t1 - t0));
  }
  /// The average over the window ending at `now`.
  [[nodiscard]] double average(TimePoint now) noexcept {
    sum_.advance(now);
    return std::max(0.0, sum_.total()) / sum_.covered_seconds(now, start_);
  }
  /// Integrals dropped: not finite, or t1 before t0.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return sum_.dropped(); }
  /// The window's buckets, as text for load_state (not `start` nor the drop count).
  [[nodiscard]] std::string save_state() const { return sum_.save_state(); }
  /// Restores what save_state wrote; false (nothing changed) when `s` is not such a state.
  bool load_state(std::string_view s) { return sum_.load_state(s); }

 private:
  WindowSum sum_;
  TimePoint start_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_WINDOW_SUM_HPP
