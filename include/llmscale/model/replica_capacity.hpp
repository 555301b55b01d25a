// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// What one replica carries within the latency targets, from a LatencyProfile, the requests'
// token lengths and the KV-cache capacity.
//
// With continuous batching, a request of I prompt and O output tokens is prefilled once and
// decodes O steps. At a batch of n the iteration time is one decode step of n requests holding
// I + O/2 context tokens each on average, plus the prefill work of new requests spread over the
// iterations: tau(n) = decode_step(n, I + O/2) + n prefill(1, I) / O. The time per output token
// is tau(n); a replica completes n / (O tau(n)) requests per second.
//
// The batch is bounded by the time-per-output-token target (tau(n) <= target), by the KV cache
// (n (I + O) <= KV tokens: every running request at its largest) and by the engine's max batch.
// `replica_capacity` gives the largest such batch and the throughput at it.
#ifndef LLMSCALE_MODEL_REPLICA_CAPACITY_HPP
#define LLMSCALE_MODEL_REPLICA_CAPACITY_HPP

#include <algorithm>
#include <cmath>
#include <limits>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"
#include "llmscale/model/latency_profile.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Mean token lengths of the requests.
struct TokenLengths {
  double input_tokens = 1024;  ///< prompt, (0, 10^7]
  double output_tokens = 256;  ///< generated, [1, 10^7]
};

/// Latency targets; infinity means none.
struct LatencyTargets {
  double ttft_s = std::numeric_limits<double>::infinity();  ///< time to first token
  double tpot_s = std::numeric_limits<double>::infinity();  ///< time per output token
  double quantile = 0.99;                                     ///< which TTFT quantile, (0, 1)
};

/// What one replica carries within the targets (replica_capacity) and what bounds it.
struct ReplicaCapacity {
  long long max_batch = 0;        ///< the largest batch within every bound (0: none fits)
  long long batch_limit_tpot = 0;  ///< the largest within the per-token target
  long long batch_limit_kv = 0;    ///< the largest the KV cache holds
  long long batch_limit_engine = 0;  ///< the engine's max batch (the profile's measured one, or 256, when not given)
  double tpot_s = 0;              ///< time per output token at max_batch
  double throughput = 0;          ///< requests per second at max_batch
  double prefill_s = 0;           ///< one request's prefill
  bool extrapolated = false;      ///< the profile was used beyond what was measured
};

/// The iteration time tau(n) in seconds (see the header comment).
[[nodiscard]] inline double iteration_time_s(const LatencyProfile& profile, const TokenLengths& tokens,
                                             double batch) noexcept {
  const double context = tokens.input_tokens + 0.5 * tokens.output_tokens;
  return profile.decode_step_s(batch, context) + batch * profile.prefill_s(1, tokens.input_tokens) / tokens.output_tokens;
}

/// Requests per second a replica completes at a batch of `batch`.
[[nodiscard]] inline double batch_throughput(const LatencyProfile& profile, const TokenLengths& tokens,
                                             double batch) noexcept {
  const double tau = iteration_time_s(profile, tokens, batch);
  return tau > 0 ? batch / (tokens.output_tokens * tau) : 0.0;
}

namespace detail {

// The argument of replica_capacity out of range, or nullptr.
[[nodiscard]] inline const char* replica_capacity_problem(const TokenLengths& tokens, const LatencyTargets& targets,
                                                          double kv_tokens, long long engine_max_batch) noexcept {
  if (!(tokens.input_tokens > 0 && tokens.input_tokens <= 1e7)) return "input_tokens";
  if (!(tokens.output_tokens >= 1 && tokens.output_tokens <= 1e7)) return "output_tokens";
  if (!(kv_tokens > 0 && kv_tokens <= 1e12)) return "kv_tokens";
  if (!(targets.tpot_s > 0)) return "tpot_s";
  if (!(engine_max_batch >= 0 && engine_max_batch <= 1'000'000)) return "engine_max_batch";
  return nullptr;
}

// replica_capacity for arguments already in range.
[[nodiscard]] inline ReplicaCapacity replica_capacity_unchecked(const LatencyProfile& profile, const TokenLengths& tokens,
                                                                const LatencyTargets& targets, double kv_tokens,
                                                                long long engine_max_batch) noexcept {
  ReplicaCapacity c;
  c.batch_limit_engine = engine_max_batch > 0 ? engine_max_batch
                         : profile.measured().max_batch > 0 ? profile.measured().max_batch
                                                            : 256;
  c.batch_limit_kv = static_cast<long long>(
      std::min(1e6, std::floor(kv_tokens / (tokens.input_tokens + tokens.output_tokens))));
  // tau(n) grows with n: the largest n within the target by bisection over [0, engine limit]
  long long lo = 0, hi = c.batch_limit_engine;
  while (lo < hi) {
    const long long mid = lo + (hi - lo + 1) / 2;
    if (iteration_time_s(profile, tokens, static_cast<double>(mid)) <= targets.tpot_s) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  c.batch_limit_tpot = lo;
  c.max_batch = std::min({c.batch_limit_tpot, c.batch_limit_kv, c.batch_limit_engine});
  c.prefill_s = profile.prefill_s(1, tokens.input_tokens);
  if (c.max_batch > 0) {
    const auto n = static_cast<double>(c.max_batch);
    c.tpot_s = iteration_time_s(profile, tokens, n);
    c.throughput = batch_throughput(profile, tokens, n);
    c.extrapolated = profile.extrapolated(n, tokens.input_tokens, tokens.input_tokens + tokens.output_tokens);
  }
  c.extrapolated = c.extrapolated || profile.extrapolated(1, tokens.input_tokens, tokens.input_tokens);
  return c;
}

}  // namespace detail

/// The largest batch within the targets' per-token bound, the KV cache (`kv_tokens`) and the
/// engine's max batch (`engine_max_batch`; 0: the profile's measured max, else 256), and the
/// throughput at it. Throws std::invalid_argument for token lengths or capacities out of range.
[[nodiscard]] inline ReplicaCapacity replica_capacity(const LatencyProfile& profile, const TokenLengths& tokens,
                                                      const LatencyTargets& targets, double kv_tokens,
                                                      long long engine_max_batch = 0) {
  detail::check_arg(tokens.input_tokens > 0 && tokens.input_tokens <= 1e7, "replica_capacity", "input_tokens",
                    tokens.input_tokens, "(0, 1e7]");
  detail::check_arg(tokens.output_tokens >= 1 && tokens.output_tokens <= 1e7, "replica_capacity", "output_tokens",
                    tokens.output_tokens, "[1, 1e7]");
  detail::check_arg(kv_tokens > 0 && kv_tokens <= 1e12, "replica_capacity", "kv_tokens", kv_tokens, "(0, 1e12]");
  detail::check_arg(targets.tpot_s > 0, "replica_capacity", "tpot_s", targets.tpot_s, "(0, inf]");
  detail::check_arg(engine_max_batch >= 0 && engine_max_batch <= 1'000'000, "replica_capacity", "engine_max_batch",
                    static_cast<double>(engine_max_batch), "[0, 1e6]");
  return detail::replica_capacity_unchecked(profile, tokens, targets, kv_tokens, engine_max_batch);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_REPLICA_CAPACITY_HPP
