// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The simulator against the cluster at the recorded fleet (docs/simulator.md, "Replaying a
// record"): does the replay of the fleet the cluster had see the latencies the cluster saw?
//   weighted_median()  the smallest value whose weight, with every smaller value's, reaches half
//                      the total (the lower weighted median); NaN without weight.
//   check_record()     each of TTFT p50, TTFT p99, TPOT p50 and TPOT p99, observed: the
//                      arrivals-weighted median over the record's windows of the window's value
//                      (a typical request's window: a window of 1,000 arrivals counts ten times
//                      one of 100, and a few windows with few requests and noisy quantiles move
//                      it little); simulated: the same rule over the recorded fleet's run,
//                      measured per window as the scaler measures (WindowLatencyMeter), with the
//                      same windows and weights: those where the record has the value and the
//                      run measured one, each weighted by the record's arrivals. A record keeps
//                      only per-window quantiles, so the same rule on both sides is what makes
//                      the two comparable; the whole run's nearest-rank quantiles are in the
//                      table. GPU-hours: the run's billing against the record's ready plus
//                      starting replicas over its windows (RecordedFleet::replica_hours), x the
//                      GPUs per replica.
#ifndef LLMSCALE_SIM_RECORD_CHECK_HPP
#define LLMSCALE_SIM_RECORD_CHECK_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "llmscale/sim/sim_result.hpp"
#include "llmscale/sim/trace.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The lower weighted median of (value, weight) pairs: the smallest value whose weight, with
/// every smaller value's, reaches half the total; NaN when the weights add up to nothing.
/// Pairs with a NaN value or a weight not above 0 are left out.
[[nodiscard]] inline double weighted_median(std::vector<std::pair<double, double>> values) {
  values.erase(std::remove_if(values.begin(), values.end(),
                              [](const std::pair<double, double>& v) { return std::isnan(v.first) || !(v.second > 0); }),
               values.end());
  double total = 0;
  for (const auto& v : values) total += v.second;
  if (!(total > 0)) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  double below = 0;
  for (const auto& v : values) {
    below += v.second;
    if (below >= total / 2) return v.first;
  }
  return values.back().first;  // rounding: the largest
}

/// One latency quantile, simulated against observed (NaN: unknown).
struct LatencyComparison {
  double simulated = std::numeric_limits<double>::quiet_NaN();  ///< the rule over the run's windows (s)
  double observed = std::numeric_limits<double>::quiet_NaN();   ///< the rule over the record's windows (s)
  std::size_t windows = 0;  ///< the windows compared (the record has the value and the run measured one)
  /// simulated / observed - 1 (-0.16: the simulator 16 % below the cluster); NaN when either is
  /// unknown or observed is 0.
  [[nodiscard]] double difference() const noexcept {
    return observed > 0 ? simulated / observed - 1 : std::numeric_limits<double>::quiet_NaN();
  }
};

/// The simulator against the cluster at the recorded fleet (see the top of this file).
struct RecordCheck {
  LatencyComparison ttft_p50;  ///< the windows' median TTFT
  LatencyComparison ttft_p99;  ///< their 99th percentile TTFT
  LatencyComparison tpot_p50;  ///< their median time per output token
  LatencyComparison tpot_p99;  ///< its 99th percentile
  double gpu_hours_simulated = 0;  ///< the recorded fleet's run's billing
  double gpu_hours_recorded = std::numeric_limits<double>::quiet_NaN();  ///< the record's fleet's (NaN: no ready count)
  /// gpu_hours_simulated / gpu_hours_recorded - 1; NaN without a recorded cost.
  [[nodiscard]] double gpu_hours_difference() const noexcept {
    return gpu_hours_recorded > 0 ? gpu_hours_simulated / gpu_hours_recorded - 1 : std::numeric_limits<double>::quiet_NaN();
  }
};

/// Compares `run` (the recorded fleet's, run_recorded(): its window_latencies in the order of
/// `windows`) with the record's `windows` (TraceReader::next_window's, as `fleet` was made
/// from); GPU-hours at `gpus_per_replica`. A run without per-window latencies compares nothing
/// (simulated and observed NaN).
[[nodiscard]] inline RecordCheck check_record(const std::vector<RateWindow>& windows, const RecordedFleet& fleet,
                                              const SimResult& run, int gpus_per_replica) {
  RecordCheck out;
  const bool measured = run.window_latencies.size() == windows.size();
  const auto compare = [&](double FleetObservation::*observed, double WindowLatency::*simulated) {
    LatencyComparison c;
    if (!measured) return c;
    std::vector<std::pair<double, double>> seen, simulated_values;
    for (std::size_t w = 0; w < windows.size(); ++w) {
      const double o = windows[w].fleet.*observed, s = run.window_latencies[w].*simulated;
      const double arrivals = windows[w].rate * windows[w].length_s;
      if (std::isnan(o) || std::isnan(s) || !(arrivals > 0)) continue;
      seen.emplace_back(o, arrivals);
      simulated_values.emplace_back(s, arrivals);
    }
    c.windows = seen.size();
    c.observed = weighted_median(std::move(seen));
    c.simulated = weighted_median(std::move(simulated_values));
    return c;
  };
  out.ttft_p50 = compare(&FleetObservation::ttft_p50_s, &WindowLatency::ttft_p50);
  out.ttft_p99 = compare(&FleetObservation::ttft_p99_s, &WindowLatency::ttft_p99);
  out.tpot_p50 = compare(&FleetObservation::tpot_p50_s, &WindowLatency::tpot_p50);
  out.tpot_p99 = compare(&FleetObservation::tpot_p99_s, &WindowLatency::tpot_p99);
  out.gpu_hours_simulated = run.gpu_hours;
  if (!fleet.empty()) out.gpu_hours_recorded = fleet.replica_hours() * gpus_per_replica;
  return out;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_RECORD_CHECK_HPP
