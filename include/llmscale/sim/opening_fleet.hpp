// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// What a run starts from and how far it may go, both derived from the load (docs/simulator.md):
//   opening_fleet()  the smallest fixed fleet, all ready at t = 0, that meets the attainment
//                    target for the requests arriving before the first cold start plus one
//                    minute has passed: the fleet a well-run service already has when the trace
//                    begins. Found by doubling then bisection, each trial a run of the opening
//                    window's arrivals (to their end) on that many replicas.
//   replica_bound()  the default --max-replicas: `factor` (8) times the peak fluid need, the
//                    most replicas any minute's token work needs at full-chunk prefill and
//                    full-batch decode speed, and at least twice the opening fleet.
#ifndef LLMSCALE_SIM_OPENING_FLEET_HPP
#define LLMSCALE_SIM_OPENING_FLEET_HPP

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/sim/oracle.hpp"
#include "llmscale/sim/simulator.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The opening fleet and how it was found.
struct OpeningFleet {
  int replicas = 1;             ///< the fleet the run opens with
  double window_s = 0;          ///< arrivals in [0, window_s) were served
  long long requests = 0;       ///< that many
  double attainment = 1;        ///< with `replicas`
  double attainment_fewer = 0;  ///< with one replica fewer (0 when replicas is 1)
};

/// The opening fleet (see the header) for the stream `make_source()` returns, within [1, most].
/// Faults are ignored (the well-run service's fleet is sized for the load).
template <class MakeSource>
OpeningFleet opening_fleet(MakeSource&& make_source, const LatencyProfile& profile, const SimConfig& sim,
                           double attainment_target, int most = FleetState::max_replicas) {
  SimConfig trial = sim;
  trial.crash_per_replica_hour = 0;
  trial.failed_start_probability = 0;
  trial.slow_start_factor = 1;
  trial.metric_outage_s = 0;
  trial.keep_timeseries = false;
  OpeningFleet out;
  out.window_s = sim.cold_start_s + 60.0;
  const auto attainment = [&](int n, long long* requests) {
    auto source = make_source();
    using Source = std::decay_t<decltype(source)>;
    detail::Simulation<detail::NoPolicy, Source> run(source, profile, trial, n);
    run.end_arrivals_at(out.window_s);
    const SimResult r = run.run();
    if (requests != nullptr) *requests = r.requests;
    return r.requests > 0 ? static_cast<double>(r.met) / static_cast<double>(r.requests) : 1.0;
  };
  const auto meets = [&](int n) { return attainment(n, nullptr) >= attainment_target - 1e-12; };
  int good = 1, bad = 0;
  while (!meets(good)) {
    bad = good;
    if (good >= most) {  // out of reach: the most allowed
      good = most;
      bad = most;
      break;
    }
    good = std::min(most, good * 2);
  }
  while (good - bad > 1) {
    const int mid = bad + (good - bad) / 2;
    if (meets(mid)) {
      good = mid;
    } else {
      bad = mid;
    }
  }
  out.replicas = good;
  out.attainment = attainment(good, &out.requests);
  out.attainment_fewer = good > 1 ? attainment(good - 1, nullptr) : 0.0;
  return out;
}

/// The most replicas any minute's token work needs at the fluid bound's speeds (at least 1).
template <class Source>
double peak_fluid_replicas(Source& source, const LatencyProfile& profile, const SimConfig& sim) {
  std::vector<double> prompt, output, count;
  TraceRequest r;
  while (source.next(r)) {
    const auto m = static_cast<std::size_t>(std::max(0.0, r.arrival_s) / 60.0);
    if (m >= prompt.size()) {
      if (m > 100'000'000) break;  // an absurd span: the minutes so far decide
      prompt.resize(m + 1, 0.0);
      output.resize(m + 1, 0.0);
      count.resize(m + 1, 0.0);
    }
    prompt[m] += static_cast<double>(r.prompt_tokens);
    output[m] += static_cast<double>(r.output_tokens);
    count[m] += 1;
  }
  double peak = 1;
  SimConfig one = sim;
  one.gpus_per_replica = 1;
  for (std::size_t m = 0; m < prompt.size(); ++m) {
    // GPU-hours of one replica for the minute's work, over the minute's hours
    peak = std::max(peak, fluid_bound_gpu_hours(prompt[m], output[m], count[m], profile, one) * 60.0);
  }
  return peak;
}

/// The default --max-replicas: `factor` x the peak fluid need, at least twice the opening fleet.
[[nodiscard]] inline int replica_bound(double peak_fluid_replicas, int opening, double factor = 8) {
  const double bound = std::max(std::ceil(factor * peak_fluid_replicas), 2.0 * opening);
  return static_cast<int>(std::clamp(bound, 2.0, static_cast<double>(FleetState::max_replicas)));
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_OPENING_FLEET_HPP
