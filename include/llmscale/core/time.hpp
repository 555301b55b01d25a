// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Time. No llmscale object reads a clock: every call takes `now`. Production passes
// `llmscale::Clock::now()`; tests and the simulator pass virtual time. The C++ API speaks
// std::chrono durations; configuration, the CLIs and JSON speak seconds (as `double`).
#ifndef LLMSCALE_CORE_TIME_HPP
#define LLMSCALE_CORE_TIME_HPP

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

#include "llmscale/core/abi.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The clock production code passes `now` from: monotonic, never adjusted.
using Clock = std::chrono::steady_clock;
/// A point in time on `Clock` (or on a virtual clock with the same representation).
using TimePoint = Clock::time_point;
/// A span of time in the clock's resolution (integer nanoseconds on common platforms).
using Duration = Clock::duration;

/// `d` in seconds.
constexpr double to_seconds(Duration d) noexcept {
  return std::chrono::duration<double>(d).count();
}

/// `t` in seconds since the clock's epoch (for logs and JSON).
constexpr double to_seconds(TimePoint t) noexcept { return to_seconds(t.time_since_epoch()); }

/// `s` seconds as a Duration, rounded to the nearest tick. NaN gives zero; values beyond the
/// representable range saturate, so a bad configuration value can never overflow.
inline Duration from_seconds(double s) noexcept {
  if (std::isnan(s)) return Duration::zero();
  constexpr double ticks_per_second =
      static_cast<double>(Duration::period::den) / static_cast<double>(Duration::period::num);
  const double ticks = s * ticks_per_second;
  constexpr auto hi = static_cast<double>(std::numeric_limits<Duration::rep>::max());
  constexpr auto lo = static_cast<double>(std::numeric_limits<Duration::rep>::min());
  if (ticks >= hi) return Duration::max();
  if (ticks <= lo) return Duration::min();
  // round half away from zero, as std::llround (a libm call) would: the truncation's remainder
  // is exact below 2^53, and above it every double is already whole
  auto whole = static_cast<Duration::rep>(ticks);
  const double rest = ticks - static_cast<double>(whole);
  whole += rest >= 0.5 ? 1 : rest <= -0.5 ? -1 : 0;
  return Duration(whole);
}

/// A virtual time point `s` seconds after the clock's epoch (tests, the simulator, examples).
inline TimePoint at_seconds(double s) noexcept { return TimePoint(from_seconds(s)); }

/// Accepts a sequence of `now` values that must not go backwards, and counts the ones that
/// do. Every stateful part of llmscale guards its `tick(now)` with one: a tick earlier than the
/// last accepted one is ignored and counted, never acted on. Equal times are accepted (two
/// ticks in the same clock tick are legitimate). One control thread per instance.
class MonotonicGuard {
 public:
  /// True when `now` is not earlier than the last accepted time; then it becomes the last.
  bool accept(TimePoint now) noexcept {
    if (has_last_ && now < last_) {
      ++rejected_;
      return false;
    }
    last_ = now;
    has_last_ = true;
    return true;
  }

  /// Whether any time has been accepted yet.
  [[nodiscard]] bool started() const noexcept { return has_last_; }
  /// The last accepted time (the epoch before the first).
  [[nodiscard]] TimePoint last() const noexcept { return last_; }
  /// How many times went backwards and were ignored.
  [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_; }

 private:
  TimePoint last_{};
  std::uint64_t rejected_ = 0;
  bool has_last_ = false;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_TIME_HPP
