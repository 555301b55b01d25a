// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// size_replicas: the one sizing chain from latency targets to replicas, which llmscale-size and
// the SLO policy (and every policy built on it) both call.
//
//   1. the batch a replica runs: the largest within the per-token target, the KV cache and the
//      engine's max batch (replica_capacity);
//   2. the rate it takes: that batch with a bounded queue in front (BatchQueueModel), the largest
//      arrival rate whose TTFT quantile meets the target, whose requests missing the per-token
//      target (a short output meeting a prefill chunk) and whose arrivals turned away each stay
//      within the quantile's share (max_arrival_rate);
//   3. the replicas a load needs: its arrival rate over that rate (ReplicaSizing::replicas_for).
//
// Two forms: one that allocates and throws std::invalid_argument on arguments out of range (for
// tools and set-up), and one that never throws or allocates, for the tick path: it reuses a
// BatchQueueModel that has already held a batch and queue as large, and says in `problem` what
// stopped it.
#ifndef LLMSCALE_MODEL_REPLICA_SIZING_HPP
#define LLMSCALE_MODEL_REPLICA_SIZING_HPP

#include <algorithm>
#include <cmath>
#include <limits>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/batch_queue.hpp"
#include "llmscale/model/detail/check.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/replica_capacity.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A replica's queue: `batches` times its batch, or `requests` when that is set (>= 0); at most
/// 10^6 requests.
struct QueueBound {
  double batches = 10;      ///< the queue in batches of the replica (used when `requests` < 0)
  long long requests = -1;  ///< the queue in requests (-1: use `batches`)

  /// The queue, in requests, of a replica whose batch is `batch`.
  [[nodiscard]] long long for_batch(long long batch) const noexcept {
    if (requests >= 0) return std::min<long long>(requests, 1'000'000);
    const double q = std::floor(std::max(0.0, batches) * static_cast<double>(batch));
    return static_cast<long long>(std::min(q, 1e6));
  }
};

/// What one replica carries within the targets.
struct ReplicaSizing {
  ReplicaCapacity capacity;     ///< its batch and the bound that set it (max_batch 0: none fits)
  long long max_queue = 0;      ///< requests its queue holds
  double max_rate = 0;          ///< requests/s it takes within the TTFT target (0: none)
  const char* problem = nullptr;  ///< the no-throw form only: what stopped it (nullptr: nothing)

  /// Whether a replica meets the targets at some load.
  [[nodiscard]] bool feasible() const noexcept { return problem == nullptr && max_rate > 0; }
  /// The unrounded replicas `arrival_rate` requests/s need (NaN when none meets the targets;
  /// a negative or non-finite rate counts as 0).
  [[nodiscard]] double replicas_for(double arrival_rate) const noexcept {
    if (!feasible()) return std::numeric_limits<double>::quiet_NaN();
    return (std::isfinite(arrival_rate) && arrival_rate > 0 ? arrival_rate : 0.0) / max_rate;
  }
};

/// One replica sized for requests of `tokens` under `targets`, with `kv_tokens` of KV cache, the
/// engine's max batch (0: the profile's measured max, else 256) and its prefill chunk
/// (`chunk_tokens`, 0: a whole prompt an iteration). Never throws and never
/// allocates: `model` must have held a batch and queue as large before (construct it at the
/// largest batch the engine runs); otherwise, or for an argument out of range, `problem` names
/// it and the sizing is infeasible.
[[nodiscard]] inline ReplicaSizing size_replicas(const LatencyProfile& profile, const TokenLengths& tokens,
                                                 const LatencyTargets& targets, double kv_tokens,
                                                 long long engine_max_batch, long long chunk_tokens,
                                                 QueueBound queue, BatchQueueModel& model) noexcept {
  ReplicaSizing s;
  if (const char* p = detail::replica_capacity_problem(tokens, targets, kv_tokens, engine_max_batch)) {
    s.problem = p;
    return s;
  }
  if (!detail::chunk_tokens_ok(chunk_tokens)) {
    s.problem = "prefill_chunk_tokens";
    return s;
  }
  s.capacity = detail::replica_capacity_unchecked(profile, tokens, targets, kv_tokens, engine_max_batch);
  if (s.capacity.max_batch == 0) return s;
  s.max_queue = queue.for_batch(s.capacity.max_batch);
  if (!model.try_configure(profile, tokens, s.capacity.max_batch, s.max_queue, chunk_tokens)) {
    s.problem = "the queue model has not held a batch and queue this large";
    return s;
  }
  const double rate = model.try_max_arrival_rate(targets);
  if (std::isnan(rate)) {
    s.problem = "ttft_s or quantile";
    return s;
  }
  s.max_rate = rate;
  return s;
}

/// The same, allocating what it needs; throws std::invalid_argument for an argument out of
/// range (naming it).
[[nodiscard]] inline ReplicaSizing size_replicas(const LatencyProfile& profile, const TokenLengths& tokens,
                                                 const LatencyTargets& targets, double kv_tokens,
                                                 long long engine_max_batch = 0,
                                                 long long chunk_tokens = default_prefill_chunk_tokens,
                                                 QueueBound queue = {}) {
  const ReplicaCapacity cap = replica_capacity(profile, tokens, targets, kv_tokens, engine_max_batch);
  detail::check_arg(detail::chunk_tokens_ok(chunk_tokens), "size_replicas", "prefill_chunk_tokens",
                    static_cast<double>(chunk_tokens), "[0, 1e7]");
  detail::check_positive("size_replicas", "ttft_s", std::isinf(targets.ttft_s) ? 1.0 : targets.ttft_s);
  detail::check_quantile("size_replicas", "quantile", targets.quantile);
  if (cap.max_batch == 0) {
    ReplicaSizing s;
    s.capacity = cap;
    return s;
  }
  BatchQueueModel model(profile, tokens, cap.max_batch, queue.for_batch(cap.max_batch), chunk_tokens);
  return size_replicas(profile, tokens, targets, kv_tokens, engine_max_batch, chunk_tokens, queue, model);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_REPLICA_SIZING_HPP
