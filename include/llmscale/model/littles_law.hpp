// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Little's law, L = lambda W, in every direction: the concurrency a rate and a latency give,
// the rate a concurrency sustains at a latency, the latency a concurrency and a rate imply, and
// the replicas a load needs for a per-replica concurrency target. Units: requests, seconds,
// requests per second. Every argument is checked: a NaN, an infinity or a value out of range
// throws std::invalid_argument naming it.
#ifndef LLMSCALE_MODEL_LITTLES_LAW_HPP
#define LLMSCALE_MODEL_LITTLES_LAW_HPP

#include <cmath>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// L = lambda W: requests in the system at `arrival_rate` (/s) with `latency_s` each.
inline double concurrency_for(double arrival_rate, double latency_s) {
  detail::check_non_negative("concurrency_for", "arrival_rate", arrival_rate);
  detail::check_non_negative("concurrency_for", "latency_s", latency_s);
  return arrival_rate * latency_s;
}

/// lambda = L / W: the rate `concurrency` requests sustain when each takes `latency_s` (> 0).
inline double rate_for(double concurrency, double latency_s) {
  detail::check_non_negative("rate_for", "concurrency", concurrency);
  detail::check_positive("rate_for", "latency_s", latency_s);
  return concurrency / latency_s;
}

/// W = L / lambda: the time in system `concurrency` requests at `arrival_rate` (> 0) imply.
inline double latency_for(double concurrency, double arrival_rate) {
  detail::check_non_negative("latency_for", "concurrency", concurrency);
  detail::check_positive("latency_for", "arrival_rate", arrival_rate);
  return concurrency / arrival_rate;
}

/// ceil(lambda W / target): replicas for `arrival_rate` at `latency_s` each, with at most
/// `per_replica_concurrency` (> 0) requests per replica. 0 when there is no load. A ratio
/// within 1e-9 of an integer below it counts as that integer (so 10.0000000001 is 10).
inline long long replicas_for(double arrival_rate, double latency_s, double per_replica_concurrency) {
  detail::check_positive("replicas_for", "per_replica_concurrency", per_replica_concurrency);
  const double load = concurrency_for(arrival_rate, latency_s) / per_replica_concurrency;
  detail::check_arg(load < 1e15, "replicas_for", "arrival_rate * latency_s / per_replica_concurrency", load,
                    "[0, 1e15)");
  return static_cast<long long>(std::ceil(load - 1e-9 * std::fmax(1.0, load)));
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_LITTLES_LAW_HPP
