// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// SimResult: what one simulated run measured (attainment, latency quantiles, GPU-hours, events),
// SimTick, its optional per-tick row for --timeseries, --plot and --report, and WindowLatency,
// its latencies per window of an llmscale record (the recorded fleet's run only).
#ifndef LLMSCALE_SIM_SIM_RESULT_HPP
#define LLMSCALE_SIM_SIM_RESULT_HPP

#include <limits>
#include <string>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// One tick of a run, for --timeseries, --plot and --report.
struct SimTick {
  double t = 0;            ///< the tick's time, in the simulator's seconds
  long long arrivals = 0;  ///< since the previous tick
  long long queue = 0;     ///< router queue
  /// \var ready
  /// Replicas serving after the tick.
  /// \var starting
  /// Replicas starting after the tick.
  /// \var desired
  /// The count carried out: the decision's (through the HPA on KEDA's path), or the fleet's
  /// during the warm-up.
  int ready = 0, starting = 0, desired = 0;
  int current = 0;         ///< ready plus starting when the policy decided (the decision's current_replicas)
  long long misses = 0;    ///< requests that ended (finished or rejected) since the previous tick missing the SLO
  Constraint binding = Constraint::none;  ///< what bound the decision
  int proposed = 0;                       ///< what the policy itself proposed (its first stage, before the governor)
  const char* reason = "";                ///< the decision's reason (static storage, as Decision::reason)
};

/// A run's latency quantiles over one window of a record (nearest rank), measured as the scaler
/// measures a live fleet's (sim/recorded_fleet.hpp, WindowLatencyMeter); NaN: no request
/// measured in the window.
struct WindowLatency {
  double ttft_p50 = std::numeric_limits<double>::quiet_NaN();  ///< the median TTFT of the first tokens in the window (s)
  double ttft_p99 = std::numeric_limits<double>::quiet_NaN();  ///< their 99th percentile (s)
  double tpot_p50 = std::numeric_limits<double>::quiet_NaN();  ///< the median TPOT of the requests ending in the window (s)
  double tpot_p99 = std::numeric_limits<double>::quiet_NaN();  ///< their 99th percentile (s)
  long long first_tokens = 0;  ///< first tokens in the window (the TTFTs measured)
  long long finished = 0;      ///< requests of more than one output token ending in it (the TPOTs measured)
};

/// What one simulated run measured.
struct SimResult {
  std::string policy;  ///< the policy's name
  /// \var requests
  /// Requests that arrived.
  /// \var completed
  /// Requests that finished.
  /// \var rejected
  /// Requests turned away (a prompt larger than the KV cache, a full router queue) or left
  /// unfinished when max_drain_s ran out.
  /// \var preempted
  /// Preemptions (a request preempted twice counts twice).
  /// \var met
  /// Finished requests that met both SLO targets.
  long long requests = 0, completed = 0, rejected = 0, preempted = 0, met = 0;
  double slo_attainment = 0;  ///< met / requests (1 with no request)
  /// \var ttft_p50
  /// The median TTFT of the finished requests, in seconds (nearest rank).
  /// \var ttft_p99
  /// Their 99th percentile TTFT, in seconds.
  /// \var tpot_p99
  /// Their 99th percentile TPOT, in seconds.
  double ttft_p50 = 0, ttft_p99 = 0, tpot_p99 = 0;
  /// \var ttft_mean
  /// Their mean TTFT, in seconds.
  /// \var tpot_p50
  /// Their median TPOT, in seconds.
  double ttft_mean = 0, tpot_p50 = 0;
  double gpu_hours = 0;        ///< replica time billed (requested to gone) x gpus_per_replica, in hours
  long long scale_events = 0;  ///< decisions that changed the fleet's count
  double duration_s = 0;  ///< first arrival to the last request's end
  double last_arrival_s = 0;  ///< the last request's arrival (a run past it drains a backlog)
  long long unfinished = 0;  ///< left when max_drain_s ran out (counted in rejected)
  long long requeued = 0;    ///< requests sent back to the router queue by a replica crash
  /// \var crashes
  /// Ready replicas that crashed.
  /// \var failed_starts
  /// Cold starts that failed.
  long long crashes = 0, failed_starts = 0;
  /// \var prompt_tokens
  /// Prompt tokens of the requests arrived (the fluid bound's input).
  double prompt_tokens = 0, output_tokens = 0;  ///< of the requests arrived (the fluid bound's input)
  int initial_replicas = 0;           ///< the fleet the run opened with
  int peak_replicas = 0;              ///< the most replicas (ready + starting) it asked for at once
  double batch_occupancy_p95 = 0;     ///< running / max_batch, 95th percentile over ready replica-seconds
  double kv_use_p95 = 0;              ///< KV tokens used / capacity, likewise
  std::vector<SimTick> series;        ///< one row per tick with keep_timeseries (else empty)
  std::vector<WindowLatency> window_latencies;  ///< per window of a record, in its order (run_recorded(); else empty)
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_SIM_RESULT_HPP
