// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// BatchQueueModel: one batching replica as a state-dependent birth-death queue (llm-d's
// M/M/1/K, ../shared/ANCHORS.md). State n = requests at the replica, n = 0..K with
// K = max batch N + max queue. Arrivals are Poisson at lambda (blocked at K); with m = min(n, N)
// requests running, requests complete at mu(n) = batch_throughput(m) (replica_capacity.hpp).
// The stationary distribution is p(n) ~ prod_{k<=n} lambda / mu(k), computed in log space.
//
// Queueing delay: an arrival that finds n >= N waits for n - N + 1 completions at rate mu(N)
// (the batch is full, FIFO), an Erlang(n - N + 1, mu(N)) time; so
//     P(W > t) = sum_{n=N}^{K-1} p(n) / (1 - p(K)) P(Poisson(mu(N) t) <= n - N).
// TTFT = W + one request's prefill. Time per output token in state n is tau(m); its mean is
// weighted by the running requests.
//
// The per-request tail of the time per output token (replica_capacity.hpp): a request decodes
// at the step its running neighbours see (the decode step weighted by the running requests),
// and meets the prefill chunks of the prompts its replica receives, at the admitted rate, from
// its own arrival on.
//
// `max_arrival_rate` bisects for the largest lambda whose TTFT quantile meets the target and
// whose share of requests missing the per-token target is within the quantile's share (the
// per-token target bounds N's mean already). Construction allocates; queries allocate nothing,
// nor does `configure` within the sizes already seen.
#ifndef LLMSCALE_MODEL_BATCH_QUEUE_HPP
#define LLMSCALE_MODEL_BATCH_QUEUE_HPP

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/replica_capacity.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// One replica's figures at an arrival rate (BatchQueueModel::at).
struct BatchQueueMetrics {
  double arrival_rate = 0;        ///< lambda, requests per second offered
  double throughput = 0;          ///< completed requests per second: lambda (1 - p(K))
  double blocking = 0;            ///< p(K): the share of arrivals turned away
  double mean_in_system = 0;      ///< L
  double mean_running = 0;        ///< requests in the batch, on average
  double mean_queued = 0;         ///< requests waiting, on average
  double wait_probability = 0;    ///< P(W > 0)
  double mean_wait_s = 0;         ///< mean queueing delay (Little's law on the queue)
  double wait_quantile_s = 0;     ///< at the quantile asked for
  double ttft_quantile_s = 0;     ///< wait quantile + prefill
  double mean_ttft_s = 0;         ///< mean wait + prefill
  double mean_tpot_s = 0;         ///< per output token, weighted by running requests
  double tpot_miss_share = 0;     ///< requests whose own time per output token misses the target asked for
  double utilization = 0;         ///< throughput / mu(N)
};

/// One batching replica as a birth-death queue (see the top of this file).
class BatchQueueModel {
 public:
  /// A replica running at most `max_batch` requests with room for `max_queue` more waiting,
  /// prefilling at most `chunk_tokens` prompt tokens an iteration (0: a whole prompt). Throws
  /// std::invalid_argument for a batch, queue or chunk out of range.
  BatchQueueModel(const LatencyProfile& profile, const TokenLengths& tokens, long long max_batch, long long max_queue,
                  long long chunk_tokens = default_prefill_chunk_tokens) {
    configure(profile, tokens, max_batch, max_queue, chunk_tokens);
  }

  /// The same model for other token lengths, batch, queue or chunk; allocates only when the
  /// batch or the queue exceeds every earlier one.
  void configure(const LatencyProfile& profile, const TokenLengths& tokens, long long max_batch, long long max_queue,
                 long long chunk_tokens = default_prefill_chunk_tokens) {
    detail::check_arg(max_batch >= 1 && max_batch <= 100'000, "batch_queue", "max_batch",
                      static_cast<double>(max_batch), "[1, 100000]");
    detail::check_arg(max_queue >= 0 && max_queue <= 1'000'000, "batch_queue", "max_queue",
                      static_cast<double>(max_queue), "[0, 1000000]");
    detail::check_arg(detail::chunk_tokens_ok(chunk_tokens), "batch_queue", "chunk_tokens",
                      static_cast<double>(chunk_tokens), "[0, 10000000]");
    detail::check_arg(detail::output_sigma_ok(tokens.output_sigma), "batch_queue", "output_sigma",
                      tokens.output_sigma, "[0.05, 3]");
    mu_.resize(std::max(mu_.size(), static_cast<std::size_t>(max_batch) + 1));
    tpot_.resize(mu_.size());
    decode_.resize(mu_.size());
    const std::size_t states = std::max(log_p_.size(), static_cast<std::size_t>(max_batch + max_queue) + 1);
    log_p_.resize(states);
    p_.resize(states);
    tail_.resize(states);
    fill(profile, tokens, max_batch, max_queue, chunk_tokens);
  }

  /// configure() on the tick path: false (the model unchanged) when the batch, queue or chunk is
  /// out of range or larger than any held before, so it never allocates and never throws.
  [[nodiscard]] bool try_configure(const LatencyProfile& profile, const TokenLengths& tokens, long long max_batch,
                                   long long max_queue,
                                   long long chunk_tokens = default_prefill_chunk_tokens) noexcept {
    if (!(max_batch >= 1 && max_batch <= 100'000 && max_queue >= 0 && max_queue <= 1'000'000 &&
          detail::chunk_tokens_ok(chunk_tokens) && detail::output_sigma_ok(tokens.output_sigma))) {
      return false;
    }
    if (static_cast<std::size_t>(max_batch) + 1 > mu_.size() ||
        static_cast<std::size_t>(max_batch + max_queue) + 1 > p_.size()) {
      return false;
    }
    fill(profile, tokens, max_batch, max_queue, chunk_tokens);
    return true;
  }

  /// N: the most requests running at once.
  [[nodiscard]] long long max_batch() const noexcept { return max_batch_; }
  /// K: the most requests at the replica, running plus waiting (more are turned away).
  [[nodiscard]] long long capacity() const noexcept { return capacity_; }
  /// Completions per second with the batch full: the most a replica sustains.
  [[nodiscard]] double saturation_rate() const noexcept { return mu_[static_cast<std::size_t>(max_batch_)]; }
  /// mu(n), completions per second at n requests.
  [[nodiscard]] double service_rate(long long n) const noexcept {
    return mu_[static_cast<std::size_t>(std::min(std::max(n, 0LL), max_batch_))];
  }
  /// One request's prefill time alone, in seconds (part of each TTFT).
  [[nodiscard]] double prefill_s() const noexcept { return prefill_s_; }

  /// The replica's figures at `arrival_rate`, with the wait and TTFT quantile at `quantile` and
  /// the share of requests missing `tpot_s` per output token (0 with no target).
  [[nodiscard]] BatchQueueMetrics at(double arrival_rate, double quantile,
                                     double tpot_s = std::numeric_limits<double>::infinity()) {
    detail::check_non_negative("batch_queue", "arrival_rate", arrival_rate);
    detail::check_quantile("batch_queue", "quantile", quantile);
    detail::check_positive("batch_queue", "tpot_s", std::isinf(tpot_s) ? 1.0 : tpot_s);
    return metrics(arrival_rate, quantile, tpot_s, 1.0);
  }
  /// P(W > t) at the arrival rate of the last `at` call.
  [[nodiscard]] double wait_exceeds(double t) const noexcept {
    const auto K = static_cast<std::size_t>(capacity_);
    const auto N = static_cast<std::size_t>(max_batch_);
    const double admitted = 1.0 - p_[K];
    if (admitted <= 0) return 1.0;
    const double x = mu_[N] * t;  // Poisson mean
    // P(Poisson(x) <= j) built up term by term in log space
    double cdf = 0;
    double sum = 0;
    const double log_x = x > 0 ? std::log(x) : -std::numeric_limits<double>::infinity();
    double log_term = -x;  // log P(Poisson(x) = 0)
    for (std::size_t n = N; n < K; ++n) {
      const std::size_t j = n - N;
      if (j > 0) log_term += log_x - std::log(static_cast<double>(j));
      if (log_term > -700) cdf = std::min(1.0, cdf + std::exp(log_term));  // below, the term is 0 in double
      if (cdf >= 1.0 - 1e-15) {  // the rest all wait longer than t: their probability at once
        sum += tail_[n];
        break;
      }
      sum += p_[n] * cdf;
    }
    return std::min(1.0, sum / admitted);
  }

  /// The largest arrival rate whose TTFT quantile is within `targets.ttft_s`; 0 when even an
  /// idle replica misses it (one prefill exceeds the target). Throws std::invalid_argument for
  /// a target or quantile out of range.
  [[nodiscard]] double max_arrival_rate(const LatencyTargets& targets) {
    detail::check_positive("batch_queue", "ttft_s", std::isinf(targets.ttft_s) ? 1.0 : targets.ttft_s);
    detail::check_quantile("batch_queue", "quantile", targets.quantile);
    return max_rate(targets);
  }

  /// max_arrival_rate() on the tick path: NaN for a target or quantile out of range.
  [[nodiscard]] double try_max_arrival_rate(const LatencyTargets& targets) noexcept {
    if (!(targets.ttft_s > 0) || !(targets.quantile > 0 && targets.quantile < 1)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    return max_rate(targets);
  }

 private:
  void fill(const LatencyProfile& profile, const TokenLengths& tokens, long long max_batch, long long max_queue,
            long long chunk_tokens) noexcept {
    max_batch_ = max_batch;
    capacity_ = max_batch + max_queue;
    mu_[0] = tpot_[0] = decode_[0] = 0.0;
    const double context = tokens.input_tokens + 0.5 * tokens.output_tokens;
    for (long long m = 1; m <= max_batch; ++m) {
      mu_[static_cast<std::size_t>(m)] = batch_throughput(profile, tokens, static_cast<double>(m));
      tpot_[static_cast<std::size_t>(m)] = iteration_time_s(profile, tokens, static_cast<double>(m));
      decode_[static_cast<std::size_t>(m)] = profile.decode_step_s(static_cast<double>(m), context);
    }
    prefill_s_ = profile.prefill_s(1, tokens.input_tokens);
    chunks_ = prefill_chunks(profile, tokens, chunk_tokens);
    output_tokens_ = tokens.output_tokens;
    output_sigma_ = tokens.output_sigma;
  }

  double max_rate(const LatencyTargets& targets) noexcept {
    if (prefill_s_ > targets.ttft_s) return 0.0;
    double lo = 0, hi = saturation_rate() * (capacity_ > max_batch_ ? 1.5 : 1.0);
    for (int i = 0; i < 60 && hi - lo > 1e-7 * hi; ++i) {
      const double mid = 0.5 * (lo + hi);
      const double share = 1.0 - targets.quantile;
      const BatchQueueMetrics m = metrics(mid, targets.quantile, std::numeric_limits<double>::infinity(), 1.0);
      // a rate whose arrivals are turned away, or whose requests miss the per-token target,
      // beyond the quantile's share misses the target too (the tail, the dearest, asked last)
      if (m.ttft_quantile_s <= targets.ttft_s && m.blocking <= share &&
          tail_share(m, targets.tpot_s, share) <= share) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  // the share of requests missing `tpot_s` at the figures `metrics` just gave, summed until it
  // passes `stop`
  double tail_share(const BatchQueueMetrics& m, double tpot_s, double stop) const noexcept {
    if (std::isinf(tpot_s)) return 0.0;
    return tpot_miss_share(decode_seen_, m.throughput, chunks_, output_tokens_, output_sigma_, tpot_s, stop);
  }

  // the figures at a rate; the TPOT miss share is summed until it passes `miss_stop`
  BatchQueueMetrics metrics(double arrival_rate, double quantile, double tpot_s, double miss_stop) noexcept {
    stationary(arrival_rate);
    BatchQueueMetrics m;
    m.arrival_rate = arrival_rate;
    const auto K = static_cast<std::size_t>(capacity_);
    const auto N = static_cast<std::size_t>(max_batch_);
    m.blocking = p_[K];
    m.throughput = arrival_rate * (1.0 - m.blocking);
    double tpot_weighted = 0, decode_weighted = 0;
    for (std::size_t n = 0; n <= K; ++n) {
      const double running = static_cast<double>(std::min(n, N));
      m.mean_in_system += static_cast<double>(n) * p_[n];
      m.mean_running += running * p_[n];
      tpot_weighted += running * p_[n] * tpot_[std::min(n, N)];
      decode_weighted += running * p_[n] * decode_[std::min(n, N)];
    }
    m.mean_queued = m.mean_in_system - m.mean_running;
    m.mean_tpot_s = m.mean_running > 0 ? tpot_weighted / m.mean_running : tpot_[1];
    decode_seen_ = m.mean_running > 0 ? decode_weighted / m.mean_running : decode_[1];
    m.tpot_miss_share = tail_share(m, tpot_s, miss_stop);
    const double admitted = 1.0 - m.blocking;
    for (std::size_t n = N; n < K; ++n) m.wait_probability += p_[n] / admitted;
    m.mean_wait_s = m.throughput > 0 ? m.mean_queued / m.throughput : 0.0;  // Little's law on the queue
    m.wait_quantile_s = wait_quantile(quantile);
    m.ttft_quantile_s = m.wait_quantile_s + prefill_s_;
    m.mean_ttft_s = m.mean_wait_s + prefill_s_;
    m.utilization = m.throughput / saturation_rate();
    return m;
  }

  void stationary(double lambda) noexcept {
    const auto K = static_cast<std::size_t>(capacity_);
    log_p_[0] = 0;
    const double log_lambda = lambda > 0 ? std::log(lambda) : -std::numeric_limits<double>::infinity();
    double top = 0;
    for (std::size_t n = 1; n <= K; ++n) {
      log_p_[n] = log_p_[n - 1] + log_lambda - std::log(service_rate(static_cast<long long>(n)));
      top = std::max(top, log_p_[n]);
    }
    double total = 0;
    for (std::size_t n = 0; n <= K; ++n) total += p_[n] = std::exp(log_p_[n] - top);
    for (std::size_t n = 0; n <= K; ++n) p_[n] /= total;
    double tail = 0;  // tail_[n] = p_[n] + ... + p_[K - 1]
    for (std::size_t n = K; n-- > 0;) tail_[n] = tail += p_[n];
  }

  double wait_quantile(double q) const noexcept {
    if (wait_exceeds(0) <= 1.0 - q) return 0.0;
    double hi = 1.0 / saturation_rate();
    for (int i = 0; i < 200 && wait_exceeds(hi) > 1.0 - q; ++i) hi *= 2;
    double lo = 0;
    for (int i = 0; i < 60 && hi - lo > 1e-9 * hi; ++i) {
      const double mid = 0.5 * (lo + hi);
      (wait_exceeds(mid) > 1.0 - q ? lo : hi) = mid;
    }
    return hi;
  }

  long long max_batch_ = 0;
  long long capacity_ = 0;
  std::vector<double> mu_;    // mu(m), m = 0..N
  std::vector<double> tpot_;  // tau(m)
  std::vector<double> decode_;  // decode_step(m) alone
  double prefill_s_ = 0;
  PrefillChunks chunks_;
  double output_tokens_ = 1;
  double output_sigma_ = 1;
  double decode_seen_ = 0;  // the decode step a running request saw at the last metrics()
  std::vector<double> log_p_;
  std::vector<double> p_;
  std::vector<double> tail_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_BATCH_QUEUE_HPP
