// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Signals: the snapshot a policy reads every tick, and what it is made of (SignalHealth,
// FleetGauges, GpuGauges). This is the vocabulary only: a leaf header with no recorder, no
// atomics, no threads. SignalCollector (signals/collector.hpp) makes a Signals from request
// events and engine gauges; a host with its own collection fills one itself. Units: seconds,
// requests, tokens, rates per second. No field is ever NaN or infinite: an estimate with no
// data is 0 and its health says so.
#ifndef LLMSCALE_SIGNALS_SNAPSHOT_HPP
#define LLMSCALE_SIGNALS_SNAPSHOT_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The fleet as the engines report it.
struct FleetGauges {
  int replicas_reporting = 0;  ///< slots with a fresh, valid sample
  int replicas_stale = 0;      ///< slots whose sample is older than the staleness limit
  std::int64_t queue_length_total = 0;  ///< requests waiting in the engines, summed
  std::int64_t queue_length_max = 0;    ///< the longest queue of one replica
  double queue_length_mean = 0;  ///< per reporting replica
  std::int64_t running_total = 0;    ///< requests running in the engines, summed
  std::int64_t max_batch_total = 0;  ///< max batches summed over replicas that report one
  double batch_occupancy = 0;  ///< running / max batch over replicas that report max batch
  std::int64_t kv_tokens_used = 0;      ///< KV-cache tokens in use over replicas that report a capacity
  std::int64_t kv_tokens_capacity = 0;  ///< KV-cache capacity in tokens, summed
  double kv_utilization = 0;      ///< fleet KV used / capacity
  double kv_utilization_max = 0;  ///< the fullest replica's
  int replicas_batch_full = 0;  ///< replicas running their max batch
  int replicas_kv_high = 0;     ///< replicas with KV use at or above the saturation threshold
  int replicas_queue_high = 0;  ///< replicas with a queue at or above the saturation threshold
  int replicas_saturated = 0;  ///< KV high or queue high (a full batch alone is not saturated)
  /// Over the reporting replicas that are not saturated (llm-d's spare-capacity inputs):
  double unsaturated_kv_use_sum = 0;          ///< the sum of their KV use fractions
  std::int64_t unsaturated_queue_total = 0;   ///< the sum of their queue lengths
  double oldest_sample_age_s = 0;  ///< among reporting replicas
};

/// How much one signal can be trusted.
struct SignalHealth {
  double age_s = 0;               ///< seconds since its source last gave fresh data
  bool stale = false;             ///< data is expected but older than stale_after_s
  std::uint64_t samples = 0;      ///< samples behind the current value (in its window)
  std::uint64_t dropped_invalid = 0;  ///< samples dropped as NaN, negative or absurd (since start)
  std::uint64_t dropped_stale = 0;    ///< samples dropped as too old or out of order (since start)
};

/// GPU metrics the host reads itself (DCGM, NVML, the CUDA sampler) and sets on its copy of the
/// snapshot; SignalCollector leaves them empty. What the utilisation-based HPA baselines scale on.
struct GpuGauges {
  int replicas_reporting = 0;   ///< replicas whose GPU metrics are in the means (0: none known)
  double busy_fraction = 0;     ///< mean share of the last interval the GPU ran work (DCGM GR_ENGINE_ACTIVE)
  double memory_fraction = 0;   ///< mean memory in use / total (DCGM FB_USED / FB_TOTAL)
};

/// The log standard deviation of a lognormal whose mean is `mean` and whose log's mean is
/// `mean_log`: sqrt(2 (ln mean - mean_log)), at least 0.01 (lengths all alike: the recorder sums
/// the logs to 1/65,536, which alone can read as up to 0.005), 0 for a mean below 1 or either
/// not finite (nothing measured).
[[nodiscard]] inline double output_sigma_of(double mean, double mean_log) noexcept {
  if (!(mean >= 1 && mean < 1e300 && std::isfinite(mean_log))) return 0;
  return std::max(0.01, std::sqrt(std::max(0.0, 2 * (std::log(mean) - mean_log))));
}

/// One tick's view of the load.
struct Signals {
  TimePoint at{};  ///< the tick's `now`
  // ---- requests, from the Recorder (over window_s) --------------------------------------------
  double arrival_rate = 0;        ///< requests arriving per second
  double completion_rate = 0;     ///< requests finishing per second
  double prompt_token_rate = 0;   ///< prompt tokens of finished requests per second
  double output_token_rate = 0;   ///< output tokens of finished requests per second
  double mean_prompt_tokens = 0;  ///< per finished request
  double mean_output_tokens = 0;  ///< per finished request
  /// The output lengths' spread: the log standard deviation of the lognormal with their mean
  /// and their mean log, sqrt(2 (ln mean - mean ln)) (output_sigma_of); 0 while none is
  /// measured (no request finished, or a source without the lengths' logs or histogram).
  double output_sigma = 0;
  double concurrency = 0;  ///< time-weighted average requests in the system (running + queued)
  double running = 0;      ///< time-weighted average requests running
  double queued = 0;       ///< time-weighted average requests queued
  double running_now = 0;  ///< at this tick
  double queued_now = 0;          ///< at this tick
  double mean_queue_wait_s = 0;   ///< mean queue wait of the requests admitted
  double mean_ttft_s = 0;         ///< mean time to first token
  double mean_e2e_latency_s = 0;  ///< mean end-to-end latency of the requests finished
  // ---- latency quantiles (over quantile_window_s; within 1 %) ---------------------------------
  double queue_wait_p50_s = 0;  ///< the median queue wait
  double queue_wait_p90_s = 0;  ///< the 90th percentile queue wait
  double queue_wait_p99_s = 0;  ///< the 99th percentile queue wait
  double ttft_p50_s = 0;        ///< the median time to first token
  double ttft_p90_s = 0;        ///< the 90th percentile time to first token
  double ttft_p99_s = 0;        ///< the 99th percentile time to first token
  /// \var tpot_p50_s
  /// The median time per output token: SignalCollector's over the requests that finished in
  /// its quantile window whose host gave Recorder::finished a TPOT (else 0); ScrapedSignals'
  /// from the engines' inter-token histograms.
  /// \var tpot_p90_s
  /// The 90th percentile time per output token.
  /// \var tpot_p99_s
  /// The 99th percentile time per output token.
  double tpot_p50_s = 0, tpot_p90_s = 0, tpot_p99_s = 0;
  // ---- engines, from EngineGauges -------------------------------------------------------------
  FleetGauges engines;  ///< queue length mean/max, batch occupancy, KV use, saturated replicas
  GpuGauges gpu;        ///< set by the host when it reads GPU metrics
  // ---- health ---------------------------------------------------------------------------------
  SignalHealth requests;    ///< of the request figures (rates, concurrency, means)
  SignalHealth queue_wait;  ///< of the queue-wait quantiles
  SignalHealth ttft;        ///< of the TTFT quantiles
  SignalHealth tpot;        ///< of the TPOT quantiles
  SignalHealth engine;      ///< of the engine gauges
  std::uint64_t ignored_ticks = 0;  ///< ticks whose `now` went backwards
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_SNAPSHOT_HPP
