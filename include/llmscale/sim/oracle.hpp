// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The reference points of docs/simulator.md that know the whole run:
//   plan_oracle()   for each 60 s window from the start, the fewest replicas that keep the
//                   cumulative attainment (requests arrived so far meeting the SLO, over those
//                   arrived) at or above the target. Found window by window by trial: the
//                   simulation (same router, engines and billing, without a cold start) is
//                   copied at the window's start, set to a candidate fleet, fed the window's
//                   arrivals and the next window's (whose prefills slow the decode of requests
//                   still running at the window's end) and run until they finish; a galloping search from the previous
//                   window's size then a bisection finds the fewest that passes. Before the first
//                   cold start has elapsed no replica can be added: the fleet can only shrink.
//                   A window where no fleet reaches the cumulative target (after a backlog the
//                   initial fleet could not serve) gets, when it starts with requests waiting in
//                   the router, the fewest replicas that leave no more waiting at its end than the
//                   most allowed would (the backlog is cleared in one window if it can be, so the
//                   next window's arrivals are served on time); otherwise the fewest meeting the
//                   target on the window's own arrivals.
//   OraclePolicy    carries a plan out in the simulator like any contestant: at each tick it asks
//                   for the most any window from now to one cold start ahead needs, so a window's
//                   replicas are requested one cold start before it begins and none is drained
//                   that a window within the cold start still needs.
//   fluid_bound_gpu_hours()  prompt tokens / prefill throughput + output tokens / decode
//                   throughput at the max batch, x GPUs per replica: the physical floor.
#ifndef LLMSCALE_SIM_ORACLE_HPP
#define LLMSCALE_SIM_ORACLE_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/sim/simulator.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Replicas per window of `window_s` seconds from the start of a run.
struct FleetPlan {
  double window_s = 60;       ///< seconds per window
  std::vector<int> replicas;  ///< the replicas each window needs, in order
  double expected_attainment = 1;  ///< what the plan's trials predict for the whole run

  /// The plan for time `t` (the last window's after the end).
  [[nodiscard]] int at(double t) const noexcept { return replicas.empty() ? 0 : replicas[index(t)]; }
  /// The most any window overlapping [from, to] needs.
  [[nodiscard]] int most(double from, double to) const noexcept {
    if (replicas.empty()) return 0;
    int n = 0;
    for (std::size_t w = index(from), last = index(to); w <= last; ++w) n = std::max(n, replicas[w]);
    return n;
  }

 private:
  [[nodiscard]] std::size_t index(double t) const noexcept {
    if (!(t > 0)) return 0;
    const double w = std::floor(t / window_s);
    return w >= static_cast<double>(replicas.size() - 1) ? replicas.size() - 1 : static_cast<std::size_t>(w);
  }
};

/// Carries out a FleetPlan with requests `lead_s` (the cold start) ahead.
class OraclePolicy {
 public:
  /// Follows `plan` (kept by pointer: it must outlive the policy), `lead_s` seconds ahead.
  OraclePolicy(const FleetPlan& plan, double lead_s) noexcept : plan_(&plan), lead_s_(lead_s) {}
  /// The policy's name, as in decisions and reports.
  [[nodiscard]] const char* name() const noexcept { return "oracle"; }
  /// The most the plan needs from `now` to `now + lead_s`, its windows counted from the
  /// simulation's start (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals&, const FleetState&) const noexcept {
    const double t = to_seconds(now - simulation_start());
    const int n = plan_->most(t, t + lead_s_);
    return Proposal{name(), n, static_cast<double>(n), "the plan's most over the next cold start"};
  }

 private:
  const FleetPlan* plan_;
  double lead_s_;
};

namespace detail {

// The policy type of the oracle's trials, which have none (their fleet is set directly).
struct NoPolicy {
  [[nodiscard]] const char* name() const noexcept { return "none"; }
  Proposal propose(TimePoint, const Signals&, const FleetState& fleet) const noexcept {
    return Proposal{name(), fleet.current(), static_cast<double>(fleet.current()), "no policy"};
  }
};

// The smallest n in [lo, hi] with ok(n) for a monotone ok (false below some n, true from it),
// searching from `guess`; hi + 1 when none.
template <class Ok>
int fewest(int lo, int hi, int guess, Ok&& ok) {
  if (lo > hi) return hi + 1;
  guess = std::clamp(guess, lo, hi);
  int good, bad;
  if (ok(guess)) {
    good = guess;
    bad = lo - 1;
    for (int step = 1; good - step >= lo; step *= 2) {
      if (!ok(good - step)) {
        bad = good - step;
        break;
      }
      good -= step;
    }
  } else {
    bad = guess;
    for (int step = 1;; step *= 2) {
      if (bad + step >= hi) {
        if (!ok(hi)) return hi + 1;
        good = hi;
        break;
      }
      if (ok(bad + step)) {
        good = bad + step;
        break;
      }
      bad += step;
    }
  }
  while (good - bad > 1) {
    const int mid = bad + (good - bad) / 2;
    if (ok(mid)) {
      good = mid;
    } else {
      bad = mid;
    }
  }
  return good;
}

}  // namespace detail

/// The oracle's plan for `requests` (time order) from `initial` replicas, within [min, max].
/// The simulator config's faults are ignored (the oracle knows the load, not the failures).
inline FleetPlan plan_oracle(const std::vector<TraceRequest>& requests, const LatencyProfile& profile,
                             const SimConfig& sim, int initial, int min_replicas, int max_replicas,
                             double attainment_target, double window_s = 60) {
  SimConfig trial_config = sim;
  trial_config.cold_start_s = 0;
  trial_config.crash_per_replica_hour = 0;
  trial_config.failed_start_probability = 0;
  trial_config.slow_start_factor = 1;
  trial_config.metric_outage_s = 0;
  trial_config.keep_timeseries = false;
  using Sim = detail::Simulation<detail::NoPolicy, InMemoryTrace>;
  InMemoryTrace source(requests);
  Sim main(source, profile, trial_config, initial);

  FleetPlan plan;
  plan.window_s = window_s;
  const double last = requests.empty() ? 0.0 : requests.back().arrival_s;
  const auto windows = static_cast<std::size_t>(std::floor(last / window_s)) + 1;
  int previous = std::clamp(initial, min_replicas, max_replicas);
  int early_cap = initial;  // before the first cold start the fleet can only shrink
  for (std::size_t w = 0; w < windows; ++w) {
    const double t0 = static_cast<double>(w) * window_s, t1 = t0 + window_s;
    main.run_until(t0);
    const bool early = t0 < sim.cold_start_s;
    const int hi = early ? std::clamp(early_cap, min_replicas, max_replicas) : max_replicas;
    const int lo = std::min(min_replicas, hi);
    struct Trial {
      long long met, arrived;                // arriving before t1 (and meeting the SLO), once done
      long long window_met, window_arrived;  // arriving in [t0, t1)
      long long waiting;                     // in the router queue at t1
    };
    std::map<int, Trial> tried;
    const auto trial = [&](int n) {
      const auto it = tried.find(n);
      if (it != tried.end()) return it->second;
      Sim copy = main;
      InMemoryTrace rest = source;
      copy.set_source(rest);
      copy.count_arrivals(t0, t1);
      copy.end_arrivals_at(t1 + window_s);
      copy.set_fleet(n, t0);
      copy.run_until(t1);
      const long long waiting = copy.waiting();
      copy.run_until(std::numeric_limits<double>::infinity());
      return tried[n] = Trial{copy.met(), copy.arrived(), copy.window_met(), copy.window_arrived(), waiting};
    };
    const auto meets = [&](long long met, long long arrived) {
      return static_cast<double>(met) >= attainment_target * static_cast<double>(arrived) - 1e-9;
    };
    int n = detail::fewest(lo, hi, previous, [&](int k) { return meets(trial(k).met, trial(k).arrived); });
    if (n > hi && main.waiting() == 0) {  // out of reach cumulatively: the target on the window's own arrivals
      n = detail::fewest(lo, hi, previous, [&](int k) { return meets(trial(k).window_met, trial(k).window_arrived); });
    }
    if (n > hi) {  // behind a backlog: clear it by the window's end (or do as well as the most allowed)
      const long long goal = trial(hi).waiting;
      n = detail::fewest(lo, hi, previous, [&](int k) { return trial(k).waiting <= goal; });
    }
    if (early) early_cap = n;
    main.set_fleet(n, t0);
    plan.replicas.push_back(n);
    previous = n;
    const Trial& chosen = trial(n);
    plan.expected_attainment = chosen.arrived > 0 ? static_cast<double>(chosen.met) / static_cast<double>(chosen.arrived) : 1.0;
  }
  return plan;
}

/// docs/simulator.md's fluid bound in GPU-hours for `requests` requests of `prompt_tokens` and
/// `output_tokens` in all: every prompt token at the prefill throughput of a full chunk, every
/// output token at the decode throughput of a full batch (at the mean context), x GPUs per
/// replica. No schedule can do better.
inline double fluid_bound_gpu_hours(double prompt_tokens, double output_tokens, double requests,
                                    const LatencyProfile& profile, const SimConfig& sim) {
  if (!(requests > 0)) return 0.0;
  const auto chunk = static_cast<double>(sim.chunk_tokens);
  const auto batch = static_cast<double>(sim.max_batch);
  const double prefill_per_s = chunk / profile.prefill_s(1, chunk);
  const double context = prompt_tokens / requests + output_tokens / requests / 2;
  const double decode_per_s = batch / profile.decode_step_s(batch, context);
  return (prompt_tokens / prefill_per_s + output_tokens / decode_per_s) * sim.gpus_per_replica / 3600.0;
}

/// The fluid bound of every request `source` gives.
template <class Source>
double fluid_bound_gpu_hours(Source& source, const LatencyProfile& profile, const SimConfig& sim) {
  double prompt = 0, output = 0, n = 0;
  TraceRequest r;
  while (source.next(r)) {
    prompt += r.prompt_tokens;
    output += r.output_tokens;
    n += 1;
  }
  return fluid_bound_gpu_hours(prompt, output, n, profile, sim);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_ORACLE_HPP
