// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Queueing sizing for a wait target: M/M/c (Erlang C) and M/G/c (Allen-Cunneen).
//
// A load is Poisson arrivals at `arrival_rate` (/s) of requests taking `service_time_s` each
// (mean; coefficient of variation `service_cv` for M/G/c), offered load a = arrival_rate x
// service_time_s. With c > a servers:
//   - Erlang C, C(c, a): the probability an arrival waits. Computed by the Erlang B recursion
//     in the form R(k) = 1/B(k) = 1 + (k/a) R(k-1), which never overflows before the answer and
//     costs one multiply-add per server; terms more than 9 standard deviations below a (a
//     Poisson mass under 1e-17) are left out, so the cost is O(sqrt(a) + c - a), and stable for
//     c up to 10^7 and loads within 1e-9 of c.
//   - M/M/c: P(W > t) = C exp(-(c mu - lambda) t), mean wait C / (c mu - lambda).
//   - M/G/c (Allen-Cunneen): the conditional wait is stretched by (1 + cv^2) / 2 (exact for
//     the mean with cv = 1, an approximation otherwise; the tail is taken as exponential with
//     that mean).
// `min_servers` is the smallest c > a with P(W > t) <= 1 - q: c - 1 misses the target.
#ifndef LLMSCALE_MODEL_QUEUEING_HPP
#define LLMSCALE_MODEL_QUEUEING_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The queue a pool is modelled as: M/M/c (exponential service) or M/G/c (service with a given
/// coefficient of variation).
enum class QueueModel : std::uint8_t { mmc, mgc };

/// The name of `m`: "mmc" or "mgc".
[[nodiscard]] inline const char* to_string(QueueModel m) noexcept { return m == QueueModel::mmc ? "mmc" : "mgc"; }

/// What a pool of identical servers is offered.
struct QueueLoad {
  double arrival_rate = 0;    ///< requests per second, [0, inf)
  double service_time_s = 1;  ///< mean service time, (0, inf)
  double service_cv = 1;      ///< service-time coefficient of variation (M/G/c only), [0, 100]
  QueueModel model = QueueModel::mmc;  ///< M/M/c or M/G/c

  /// a = lambda S: the servers busy on average.
  [[nodiscard]] double offered_load() const noexcept { return arrival_rate * service_time_s; }
  /// Throws std::invalid_argument naming the first field out of range.
  void validate() const;
};

/// A pool of `servers` under a QueueLoad.
struct QueueMetrics {
  long long servers = 0;             ///< c
  double offered_load = 0;           ///< a = lambda S (busy servers on average)
  double utilization = 0;            ///< a / c
  bool stable = false;               ///< c > a; otherwise the waits below are infinite
  double wait_probability = 0;       ///< P(W > 0): Erlang C
  double mean_wait_s = 0;            ///< mean queueing delay before service
  double wait_quantile_s = 0;        ///< the q-quantile of the queueing delay
  double mean_in_system = 0;         ///< L = a + lambda * mean wait
  double per_server_concurrency = 0;  ///< L / c
};

/// C(c, a), the probability an arrival waits; 1 when c <= a. Throws for c < 1, a < 0 or a
/// above 10^7.
[[nodiscard]] double erlang_c(long long servers, double offered_load);

/// The figures of `servers` servers under `load`, with the wait quantile at `quantile`.
[[nodiscard]] QueueMetrics queue_metrics(const QueueLoad& load, long long servers, double quantile);

/// The smallest number of servers c > a with P(W > wait_target_s) <= 1 - quantile.
[[nodiscard]] long long min_servers(const QueueLoad& load, double wait_target_s, double quantile);

// ---------------------------------------------------------------------------------------------
// Implementation.

namespace detail {

constexpr double max_offered_load = 1e7;

// How much the conditional wait is stretched: 1 for M/M/c, (1 + cv^2)/2 for M/G/c.
inline double wait_stretch(const QueueLoad& load) noexcept {
  return load.model == QueueModel::mmc ? 1.0 : 0.5 * (1.0 + load.service_cv * load.service_cv);
}

// Calls step(k, R(k)) for k = first, first + 1, ... while it returns true, where R(k) = 1/B(k, a)
// (Erlang B); the terms of the Poisson sum more than 9 standard deviations below a are left
// out (relative error below 1e-17).
template <class Step>
void erlang_b_inverse(double a, long long first, Step&& step) {
  const long long start =
      a > 0 ? std::max(0LL, static_cast<long long>(std::floor(a - 9.0 * std::sqrt(a))) - 1) : 0;
  double r = 1.0;  // R(start), with the sum truncated at start
  const double inv_a = a > 0 ? 1.0 / a : std::numeric_limits<double>::infinity();
  for (long long k = start + 1;; ++k) {
    r = 1.0 + static_cast<double>(k) * inv_a * r;
    if (k >= first && !step(k, r)) return;
  }
}

// C(c, a) from R(c) = 1/B(c, a), for c > a.
inline double erlang_c_from(double c, double a, double r) noexcept {
  if (std::isinf(r)) return 0.0;
  return c / (r * (c - a) + a);
}

}  // namespace detail

inline void QueueLoad::validate() const {
  detail::check_non_negative("queue_load", "arrival_rate", arrival_rate);
  detail::check_positive("queue_load", "service_time_s", service_time_s);
  detail::check_arg(service_cv >= 0 && service_cv <= 100, "queue_load", "service_cv", service_cv, "[0, 100]");
  detail::check_arg(offered_load() <= detail::max_offered_load, "queue_load", "arrival_rate * service_time_s",
                    offered_load(), "[0, 1e7]");
}

inline double erlang_c(long long servers, double offered_load) {
  detail::check_arg(servers >= 1, "erlang_c", "servers", static_cast<double>(servers), "[1, inf)");
  detail::check_arg(std::isfinite(offered_load) && offered_load >= 0 && offered_load <= detail::max_offered_load,
                    "erlang_c", "offered_load", offered_load, "[0, 1e7]");
  const double c = static_cast<double>(servers);
  if (c <= offered_load) return 1.0;
  if (offered_load == 0) return 0.0;
  double result = 1.0;
  detail::erlang_b_inverse(offered_load, servers, [&](long long, double r) {
    result = detail::erlang_c_from(c, offered_load, r);
    return false;
  });
  return result;
}

inline QueueMetrics queue_metrics(const QueueLoad& load, long long servers, double quantile) {
  load.validate();
  detail::check_quantile("queue_metrics", "quantile", quantile);
  detail::check_arg(servers >= 1, "queue_metrics", "servers", static_cast<double>(servers), "[1, inf)");
  QueueMetrics m;
  m.servers = servers;
  m.offered_load = load.offered_load();
  const double c = static_cast<double>(servers);
  m.utilization = m.offered_load / c;
  m.stable = c > m.offered_load;
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (!m.stable) {
    m.wait_probability = 1.0;
    m.mean_wait_s = m.wait_quantile_s = m.mean_in_system = m.per_server_concurrency = inf;
    return m;
  }
  m.wait_probability = erlang_c(servers, m.offered_load);
  // conditional wait: exponential with mean stretch / (c mu - lambda)
  const double conditional_mean = detail::wait_stretch(load) * load.service_time_s / (c - m.offered_load);
  m.mean_wait_s = m.wait_probability * conditional_mean;
  m.wait_quantile_s =
      m.wait_probability <= 1.0 - quantile ? 0.0 : conditional_mean * std::log(m.wait_probability / (1.0 - quantile));
  m.mean_in_system = m.offered_load + load.arrival_rate * m.mean_wait_s;
  m.per_server_concurrency = m.mean_in_system / c;
  return m;
}

inline long long min_servers(const QueueLoad& load, double wait_target_s, double quantile) {
  load.validate();
  detail::check_non_negative("min_servers", "wait_target_s", wait_target_s);
  detail::check_quantile("min_servers", "quantile", quantile);
  const double a = load.offered_load();
  const long long first = static_cast<long long>(std::floor(a)) + 1;  // the least c > a
  if (a == 0) return 1;
  // P(W > t) at c = C(c) exp(-(c - a) tau): the exponential advances by one factor per server
  const double tau = wait_target_s / (load.service_time_s * detail::wait_stretch(load));
  const double step_factor = std::exp(-tau);
  double tail = std::exp(-(static_cast<double>(first) - a) * tau);
  const double allowed = 1.0 - quantile;
  long long answer = first;
  detail::erlang_b_inverse(a, first, [&](long long k, double r) {
    if (detail::erlang_c_from(static_cast<double>(k), a, r) * tail <= allowed) {
      answer = k;
      return false;
    }
    tail *= step_factor;
    return true;
  });
  return answer;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_QUEUEING_HPP
