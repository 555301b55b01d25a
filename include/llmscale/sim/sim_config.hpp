// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// SimConfig: the simulator's settings (engine, SLO, lifecycle, faults, metric path), validated
// through describe() like every config (docs/simulator.md says what each one means).
#ifndef LLMSCALE_SIM_SIM_CONFIG_HPP
#define LLMSCALE_SIM_SIM_CONFIG_HPP

#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The simulator's settings. Defaults: a vLLM-like engine serving llama2-70b on TP4 H100s,
/// a 300 s cold start, a 1 s tick, the SLO TTFT <= 2 s and TPOT <= 0.1 s.
struct SimConfig {
  long long max_batch = 256;       ///< per replica: vLLM's max_num_seqs
  double kv_tokens = 400000;       ///< per replica (kv_cache_tokens() of llama2-70b, TP4 on H100-80GB)
  long long chunk_tokens = 2048;   ///< prefill chunk
  long long max_num_batched_tokens = 0;  ///< vLLM's per-iteration token budget (0: none)
  bool exact_steps = false;        ///< step every iteration instead of the closed form
  int gpus_per_replica = 4;        ///< tensor parallelism, for GPU-hours
  double cold_start_s = 300;       ///< request to ready
  double tick_s = 1;               ///< seconds between control ticks
  double slo_ttft_s = 2;           ///< time-to-first-token target (s)
  double slo_tpot_s = 0.1;         ///< time-per-output-token target (s)
  long long router_queue_limit = 0;  ///< 0: unbounded
  double gpu_memory_fraction = 0.9;  ///< what a ready replica reports (weights + preallocated KV)
  bool keep_timeseries = false;      ///< keep one SimTick per tick in SimResult::series
  double max_drain_s = 7 * 86400.0;  ///< after the last arrival, a run stops (what is left counts as rejected)
  // faults (docs/simulator.md): all off by default
  double crash_per_replica_hour = 0;    ///< a ready replica crashes at this Poisson rate
  double failed_start_probability = 0;  ///< a starting replica fails at the end of its cold start
  double slow_start_factor = 1;         ///< every cold start lasts cold_start_s x this
  double metric_outage_start_s = 0;     ///< engine metrics stop at this time...
  double metric_outage_s = 0;           ///< ...for this long (0: no outage)
  long long fault_seed = 1;             ///< seed of the crash and failed-start draws
  // the metric path (docs/simulator.md: each contestant sees the signals the way its users run it)
  double warmup_s = 60;        ///< no policy is asked before this: the signals' windows fill first
  double metric_scrape_s = 0;  ///< the policy sees the snapshot of the last scrape, taken every this many seconds (0: every tick)
  double hpa_sync_s = 0;       ///< >0: decisions reach the fleet through an HPA syncing this often (KEDA's path)
  double hpa_tolerance = 0.1;  ///< ...which ignores a desired/current ratio within 1 +- this
  double hpa_scale_up_percent = 100;  ///< ...and adds at most this percent of the fleet per sync

  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "sim";
  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("max_batch", self.max_batch, closed(1LL, 100000LL), "requests a replica runs at once");
    v("kv_tokens", self.kv_tokens, closed(1.0, 1e12), "KV-cache tokens per replica");
    v("chunk_tokens", self.chunk_tokens, closed(1LL, 10000000LL), "prefill tokens per iteration");
    v("exact_steps", self.exact_steps, "step every iteration instead of the closed form");
    v("gpus_per_replica", self.gpus_per_replica, closed(1, 1024), "GPUs a replica bills (tensor parallelism)");
    v("cold_start_s", self.cold_start_s, closed(0.0, 86400.0), "seconds from requesting a replica to its serving");
    v("tick_s", self.tick_s, closed(0.001, 3600.0), "seconds between control ticks");
    v("slo_ttft_s", self.slo_ttft_s, open_closed(0.0, 3600.0), "time-to-first-token target");
    v("slo_tpot_s", self.slo_tpot_s, open_closed(0.0, 60.0), "time-per-output-token target");
    v("router_queue_limit", self.router_queue_limit, closed(0LL, 1000000000LL), "router queue bound (0: none)");
    v("gpu_memory_fraction", self.gpu_memory_fraction, closed(0.0, 1.0), "GPU memory a ready replica reports");
    v("keep_timeseries", self.keep_timeseries, "keep one row per tick");
    v("max_drain_s", self.max_drain_s, closed(0.0, 1e9), "seconds after the last arrival before giving up");
    v("crash_per_replica_hour", self.crash_per_replica_hour, closed(0.0, 3600.0), "crashes per ready replica-hour");
    v("failed_start_probability", self.failed_start_probability, closed(0.0, 1.0), "chance a cold start fails");
    v("slow_start_factor", self.slow_start_factor, closed(1.0, 100.0), "actual cold start over cold_start_s");
    v("metric_outage_start_s", self.metric_outage_start_s, closed(0.0, 1e9), "when engine metrics stop (s)");
    v("metric_outage_s", self.metric_outage_s, closed(0.0, 1e9), "how long engine metrics stay away (s)");
    v("fault_seed", self.fault_seed, closed(0LL, 1LL << 62), "seed of the crash and failed-start draws");
    v("max_num_batched_tokens", self.max_num_batched_tokens, closed(0LL, 100000000LL),
      "tokens one iteration carries, decode first (0: no budget)");
    v("warmup_s", self.warmup_s, closed(0.0, 86400.0), "seconds from the start before any policy is asked");
    v("metric_scrape_s", self.metric_scrape_s, closed(0.0, 3600.0), "seconds between the scrapes a policy sees (0: every tick)");
    v("hpa_sync_s", self.hpa_sync_s, closed(0.0, 3600.0), "seconds between an HPA's syncs carrying decisions out (0: none)");
    v("hpa_tolerance", self.hpa_tolerance, closed(0.0, 1.0), "desired/current ratio band the HPA ignores");
    v("hpa_scale_up_percent", self.hpa_scale_up_percent, closed(0.0, 1e6), "percent of the fleet the HPA adds per sync");
  }
  /// The first field out of range, a token budget below max_batch, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (max_num_batched_tokens > 0 && max_num_batched_tokens < max_batch) {
      return ConfigProblem{config_name, "max_num_batched_tokens", std::to_string(max_num_batched_tokens),
                           "0 or [max_batch = " + std::to_string(max_batch) + ", 1e8]",
                           "cannot carry one decode token for every request of a full batch (vLLM refuses it too)", 0};
    }
    return std::nullopt;
  }
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_SIM_CONFIG_HPP
