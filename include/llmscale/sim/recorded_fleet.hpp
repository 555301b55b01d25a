// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The fleet a live cluster had, replayed: llmscale-replay's `recorded` contestant on an llmscale
// record with ready counts (docs/simulator.md, "Replaying a record"):
//   RecordedFleet        the record's ready replicas as a step function of the replay's time:
//                        each window's count from its start until the next window starts (a gap,
//                        the scaler down, keeps the count before it; the last window's count
//                        holds to the end); a blank count is the one before it (before any, the
//                        first known); a fractional one is rounded. A record writes the count at
//                        the window's end; it is taken as the window's throughout.
//   RecordedFleetPolicy  proposes the most the step function holds from now to one cold start
//                        plus a tick ahead, as OraclePolicy carries out its plan: a window's
//                        replicas are asked for at the last tick a cold start or more before it
//                        starts, so they serve from its start (at most a tick early); a drop is
//                        carried out at the first tick of its window unless a window within the
//                        next cold start needs more again: a dip shorter than a cold
//                        start is held, as no fleet could refill it in time without starting
//                        replicas during it. The run opens with the most any window within the
//                        first cold start has, ready at 0, so every window is served by at least
//                        its recorded count from the start.
//   recorded_governor()  lets every proposal through (no stabilization or rate limit, scale to
//                        zero at once, bounded by the record's peak): the record's counts are
//                        what the cluster's own autoscaler already decided. Nothing of it can be
//                        tuned.
//   WindowLatencyMeter   the run's latencies per record window, measured as llmscale-scaler
//                        measures the cluster's (the engines' histograms observe a TTFT when the
//                        first token comes, a TPOT when the request ends): a TTFT counts in the
//                        window its first token came in, a TPOT (requests of more than one output
//                        token: one token has no time per output token) in the window it ended
//                        in; one in no window (a gap) is not counted.
//   run_recorded()       the contestant's run: simulate() under the policy and the governor,
//                        without the warm-up minute (it reads no signal: nothing to fill before
//                        it decides) and with the meter.
#ifndef LLMSCALE_SIM_RECORDED_FLEET_HPP
#define LLMSCALE_SIM_RECORDED_FLEET_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/sim/simulator.hpp"
#include "llmscale/sim/trace.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The contestant's name in llmscale-replay's table, JSON and picture.
inline constexpr std::string_view recorded_contestant = "recorded";

/// A record's ready replicas (and starting ones, for its cost) as a step function of the
/// replay's time, window by window (see the top of this file).
class RecordedFleet {
 public:
  RecordedFleet() = default;
  /// The fleet of a record's windows, in the order TraceReader::next_window gave them.
  explicit RecordedFleet(const std::vector<RateWindow>& windows) {
    double carried = std::numeric_limits<double>::quiet_NaN();
    for (const RateWindow& w : windows) {
      if (!std::isnan(w.fleet.ready)) {
        carried = w.fleet.ready;
        break;
      }
    }
    if (std::isnan(carried)) return;  // no ready count anywhere: no fleet to replay
    double from = 0;
    for (const RateWindow& w : windows) {
      // windows out of order by the reader's allowed disorder start where the one before did
      from = std::max(from, w.start_s);
      starts_.push_back(from);
      ends_.push_back(w.start_s + w.length_s);
      if (!std::isnan(w.fleet.ready)) carried = w.fleet.ready;
      ready_.push_back(replicas(carried));
      starting_.push_back(std::isnan(w.fleet.starting) ? 0 : replicas(w.fleet.starting));
    }
  }

  /// Whether the record has no ready count at all (then there is nothing to replay).
  [[nodiscard]] bool empty() const noexcept { return ready_.empty(); }
  /// The record's windows (all of them, a count carried into those without one).
  [[nodiscard]] std::size_t windows() const noexcept { return ready_.size(); }
  /// The ready replicas at time `t` (s from the record's start).
  [[nodiscard]] int at(double t) const noexcept { return empty() ? 0 : ready_[index(t)]; }
  /// The most ready replicas any window overlapping [from, to] has.
  [[nodiscard]] int most(double from, double to) const noexcept {
    if (empty()) return 0;
    int n = 0;
    for (std::size_t w = index(from), last = index(to); w <= last; ++w) n = std::max(n, ready_[w]);
    return n;
  }
  /// The most ready replicas of any window.
  [[nodiscard]] int peak() const noexcept { return empty() ? 0 : *std::max_element(ready_.begin(), ready_.end()); }
  /// Window `w`'s ready replicas (its own, or the one carried into it).
  [[nodiscard]] int ready(std::size_t w) const noexcept { return ready_[w]; }
  /// The window that measured time `t`: the latest starting at or before `t`, if `t` is before
  /// its end; windows() for none (before the first, or in a gap).
  [[nodiscard]] std::size_t window_at(double t) const noexcept {
    const auto after = std::upper_bound(starts_.begin(), starts_.end(), t);
    if (after == starts_.begin()) return windows();
    const auto w = static_cast<std::size_t>(after - starts_.begin()) - 1;
    return t < ends_[w] ? w : windows();
  }
  /// Replica-hours the record's fleet held: its ready plus starting replicas (a blank count of
  /// starting ones: none) over the step function, from the first window's start to the last
  /// one's end, gaps included as the step function holds them.
  [[nodiscard]] double replica_hours() const noexcept {
    double seconds = 0;
    for (std::size_t w = 0; w < ready_.size(); ++w) {
      const double until = w + 1 < ready_.size() ? starts_[w + 1] : std::max(starts_[w], ends_[w]);
      seconds += static_cast<double>(ready_[w] + starting_[w]) * (until - starts_[w]);
    }
    return seconds / 3600.0;
  }

 private:
  static int replicas(double v) noexcept {
    return static_cast<int>(std::lround(std::clamp(v, 0.0, static_cast<double>(FleetState::max_replicas))));
  }
  // the window whose step holds at `t` (the first before it starts)
  [[nodiscard]] std::size_t index(double t) const noexcept {
    const auto after = std::upper_bound(starts_.begin(), starts_.end(), t);
    return after == starts_.begin() ? 0 : static_cast<std::size_t>(after - starts_.begin()) - 1;
  }

  std::vector<double> starts_, ends_;  // each window's step start (never before the one before) and its own end
  std::vector<int> ready_, starting_;
};

/// Asks for the recorded fleet `lead_s` (a cold start plus a tick) ahead.
class RecordedFleetPolicy {
 public:
  /// Follows `fleet` (kept by pointer: it must outlive the policy), `lead_s` seconds ahead.
  RecordedFleetPolicy(const RecordedFleet& fleet, double lead_s) noexcept : fleet_(&fleet), lead_s_(lead_s) {}
  /// The policy's name, as in decisions and reports.
  [[nodiscard]] const char* name() const noexcept { return "recorded"; }
  /// The most the record holds from `now` to `now + lead_s`, its windows counted from the
  /// simulation's start (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals&, const FleetState&) const noexcept {
    const double t = to_seconds(now - simulation_start());
    const int n = fleet_->most(t, t + lead_s_);
    return Proposal{name(), n, static_cast<double>(n), "the record's most over the next cold start"};
  }

 private:
  const RecordedFleet* fleet_;
  double lead_s_;
};

/// The governor the recorded fleet runs under: every proposal carried out at once, within
/// [0, the record's peak] (at least 1 as the most).
[[nodiscard]] inline GovernorConfig recorded_governor(const RecordedFleet& fleet) noexcept {
  GovernorConfig g;
  g.min_replicas = 0;
  g.max_replicas = std::max(1, fleet.peak());
  g.scale_down_stabilization_s = 0;
  g.scale_up_pods = FleetState::max_replicas;  // from zero too (a percentage of 0 adds none)
  g.scale_up_percent = 0;
  g.scale_down_percent = 100;
  g.zero_grace_s = 0;  // a recorded 0 is the cluster's
  return g;
}

/// simulate()'s latency observer for the recorded fleet's run: each TTFT and TPOT kept in the
/// record's window that measured it (see the top of this file), then per-window quantiles.
class WindowLatencyMeter {
 public:
  /// Windows as `fleet`'s (which must outlive the meter).
  explicit WindowLatencyMeter(const RecordedFleet& fleet) : fleet_(&fleet), ttft_(fleet.windows()), tpot_(fleet.windows()) {}
  /// A first token at `t`, `ttft` seconds after its request arrived.
  void first_token(double t, double ttft) {
    if (const std::size_t w = fleet_->window_at(t); w < ttft_.size()) ttft_[w].push_back(static_cast<float>(ttft));
  }
  /// A request's end at `t`, `tpot` seconds per output token after its first.
  void finished(double t, double tpot, std::int64_t output_tokens) {
    if (output_tokens < 2) return;  // no time per output token to observe
    if (const std::size_t w = fleet_->window_at(t); w < tpot_.size()) tpot_[w].push_back(static_cast<float>(tpot));
  }
  /// Each window's quantiles (nearest rank; NaN where nothing was measured), in the record's
  /// order; the values kept are released.
  [[nodiscard]] std::vector<WindowLatency> quantiles() {
    std::vector<WindowLatency> out(ttft_.size());
    for (std::size_t w = 0; w < out.size(); ++w) {
      WindowLatency& q = out[w];
      q.first_tokens = static_cast<long long>(ttft_[w].size());
      q.finished = static_cast<long long>(tpot_[w].size());
      if (!ttft_[w].empty()) {
        q.ttft_p50 = detail::nearest_rank(ttft_[w], 0.50);
        q.ttft_p99 = detail::nearest_rank(ttft_[w], 0.99);
      }
      if (!tpot_[w].empty()) {
        q.tpot_p50 = detail::nearest_rank(tpot_[w], 0.50);
        q.tpot_p99 = detail::nearest_rank(tpot_[w], 0.99);
      }
      std::vector<float>().swap(ttft_[w]);
      std::vector<float>().swap(tpot_[w]);
    }
    return out;
  }

 private:
  const RecordedFleet* fleet_;
  std::vector<std::vector<float>> ttft_, tpot_;  // by window
};

/// Replays the recorded fleet over a fresh source from `make_source()` (a callable returning an
/// object with `bool next(TraceRequest&)`) under `sim` (its cold start, tick, engine and
/// faults), with the run's latencies per record window in `window_latencies`. Throws
/// std::invalid_argument for a fleet without a ready count or an invalid config.
template <class MakeSource>
SimResult run_recorded(const RecordedFleet& fleet, const LatencyProfile& profile, const SimConfig& sim, MakeSource&& make_source) {
  if (fleet.empty()) throw std::invalid_argument("the record has no ready count: there is no recorded fleet to replay");
  SimConfig run = sim;
  run.warmup_s = 0;  // it reads no signal: nothing to fill before it decides
  run.metric_scrape_s = 0;
  run.hpa_sync_s = 0;
  const double lead_s = sim.cold_start_s + sim.tick_s;  // the last tick a cold start or more before a window asks for it
  WindowLatencyMeter meter(fleet);
  auto source = make_source();
  SimResult r = simulate(RecordedFleetPolicy(fleet, lead_s), recorded_governor(fleet), source, profile, run,
                         fleet.most(0, lead_s), meter);
  r.policy = std::string(recorded_contestant);
  r.window_latencies = meter.quantiles();
  return r;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_RECORDED_FLEET_HPP
