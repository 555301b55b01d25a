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
//
// The per-request tail. tau(n) is the mean; a request's own time per output token is the mean
// over its m = o - 1 decode iterations, and an iteration that carries a prefill chunk (at most C
// prompt tokens: vLLM's chunked prefill) takes decode_step(n) + prefill(chunk). A short output
// that meets one chunk misses a target the mean meets (a 2,048-token chunk makes an iteration
// 0.2 s instead of 0.03 s on the Splitwise profile). A prompt, exponential with the mean I,
// takes a geometric number of chunk iterations, of mean E = 1 / (1 - exp(-C / I)), of
// prefill(1, I / E) each (`prefill_chunks`); the output o is a rounded lognormal of mean O and
// log standard deviation sigma (`output_sigma`: 1.0 fits the development trace, whose outputs
// have mean 211 and median 129; the short outputs that miss are its left tail, so the shape
// matters: a geometric of the same mean has 4.6 % of its outputs at 10 tokens or fewer, the
// trace 0.02 %). Chunks are served first come first served, one an iteration, so the
// chunks a request meets are those of the prompts its replica receives from its own arrival on:
// in its own prefill (E (d + c), d the decode step, c a chunk's prefill) and its m decode
// iterations, stretched by the chunks they carry: a window T_m = (E (d + c) + m d) / (1 - rho),
// rho = lambda E c the share of time prefill takes at an arrival rate lambda. The prompts a
// replica receives behind a join-the-shortest-queue router come more regularly than Poisson (a
// replica that just took one is the last to take the next), so their gaps are taken as
// Erlang-k (`arrival_shape`, k = 1 Poisson; 5 matches the simulator's router, bench/RESULTS.md).
// K is the chunks of the prompts in T_m (a renewal count from an arrival, each a geometric
// number of chunks). A request misses when d + K c / m > target, and `tpot_miss_share` is the
// share that do (a one-token output meets it). The queue model (batch_queue.hpp) bounds a
// replica's arrival rate by this share.
#ifndef LLMSCALE_MODEL_REPLICA_CAPACITY_HPP
#define LLMSCALE_MODEL_REPLICA_CAPACITY_HPP

#include <algorithm>
#include <cmath>
#include <limits>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"
#include "llmscale/model/latency_profile.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The requests' token lengths: their means, and the spread of the outputs.
struct TokenLengths {
  double input_tokens = 1024;  ///< prompt, mean, (0, 10^7]
  double output_tokens = 256;  ///< generated, mean, [1, 10^7]
  double output_sigma = 1.0;   ///< generated, lognormal: the standard deviation of its log, [0.05, 3]
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

/// vLLM's default prefill chunk (`max_num_batched_tokens` with chunked prefill), in tokens.
inline constexpr long long default_prefill_chunk_tokens = 2048;

namespace detail {
// The ranges the sizing takes: a prefill chunk in tokens (0: a whole prompt), and the outputs'
// log standard deviation.
[[nodiscard]] constexpr bool chunk_tokens_ok(long long chunk_tokens) noexcept {
  return chunk_tokens >= 0 && chunk_tokens <= 10'000'000;
}
[[nodiscard]] constexpr bool output_sigma_ok(double sigma) noexcept { return sigma >= 0.05 && sigma <= 3; }
}  // namespace detail

/// How a request's prompt reaches the iterations (see the top of this file).
struct PrefillChunks {
  double per_request = 1;  ///< iterations that carry a chunk of its prompt, on average
  double chunk_s = 0;      ///< the prefill time one such iteration adds, on average
};

/// The chunks of prompts of mean `tokens.input_tokens`, at most `chunk_tokens` each (0: a whole
/// prompt an iteration).
[[nodiscard]] inline PrefillChunks prefill_chunks(const LatencyProfile& profile, const TokenLengths& tokens,
                                                  long long chunk_tokens) noexcept {
  PrefillChunks c;
  const double I = tokens.input_tokens;
  c.per_request = chunk_tokens > 0 && I > 0 ? 1.0 / -std::expm1(-static_cast<double>(chunk_tokens) / I) : 1.0;
  c.chunk_s = profile.prefill_s(1, I / c.per_request);
  return c;
}

/// The Erlang order of the gaps between the prompts one replica receives (see the top of this
/// file): 5, what the simulator's join-the-shortest-queue router gives (bench/RESULTS.md).
inline constexpr int default_arrival_shape = 5;

namespace detail {

// P(S > s), S the chunks of the prompts arriving in a window after an arrival: their count N is
// the renewal count of Erlang-`shape` gaps of mean 1 / rate in `window` seconds (N >= j when
// Poisson(shape rate window) >= j shape), each prompt a geometric number of chunks (success
// probability p, on 1, 2, ...). Exact while small, else normal.
[[nodiscard]] inline double chunks_exceed(double rate, double window, int shape, double p, long long s) noexcept {
  if (s < 0) return 1.0;
  const double arrivals = rate * window;  // E[N], about
  if (arrivals <= 0) return 0.0;
  const double k = static_cast<double>(shape);
  const double mu = k * arrivals;  // the Poisson count of Erlang phases
  if (s > 256 || mu > 500) {
    const double keep = 1.0 - p;
    const double mean = arrivals / p;
    const double var = arrivals / k / (p * p) + arrivals * keep / (p * p);
    return 0.5 * std::erfc((static_cast<double>(s) + 0.5 - mean) / std::sqrt(2.0 * var));
  }
  // P(S <= s) = sum_{j=0..s} P(N = j) P(G_1 + ... + G_j <= s), and G_1 + ... + G_j <= s exactly
  // when Binomial(s, p) >= j: the binomial's upper tail, built from the top
  double below = 0;  // P(S <= s)
  // Binomial(s, p) pmf from j = 0, its tail P(B >= j) = 1 - P(B <= j - 1)
  double bin_term = std::pow(1.0 - p, static_cast<double>(s));  // P(B = 0)
  double bin_cdf = 0;                                            // P(B <= j - 1)
  // Poisson(mu) pmf term by term, grouped k at a time: P(N = j) = P(jk <= Poisson < (j + 1) k)
  double pois_term = std::exp(-mu);  // P(Poisson = 0)
  long long phase = 0;
  const double odds = p < 1 ? p / (1.0 - p) : 0.0;
  for (long long j = 0; j <= s; ++j) {
    double p_n = 0;
    for (int i = 0; i < shape; ++i, ++phase) {
      p_n += pois_term;
      pois_term *= mu / static_cast<double>(phase + 1);
    }
    const double tail = p < 1 ? std::max(0.0, 1.0 - bin_cdf) : 1.0;  // P(B >= j); every G is 1 when p is 1
    below += p_n * tail;
    if (p < 1) {
      bin_cdf += bin_term;
      bin_term *= static_cast<double>(s - j) / static_cast<double>(j + 1) * odds;
    }
  }
  return std::min(1.0, std::max(0.0, 1.0 - below));
}

}  // namespace detail

/// The share of requests whose own time per output token exceeds `tpot_s` (see the top of this
/// file): decode iterations of `decode_s`, prompts reaching the replica at `arrival_rate` per
/// second with Erlang-`arrival_shape` gaps, in `chunks`, outputs a rounded lognormal of mean
/// `output_tokens` and log standard deviation `output_sigma`. Once the share passes
/// `stop_above` it returns what it has summed so far (more than `stop_above`). 0 for an
/// infinite target or a mean output of one token; all but the one-token outputs when the decode
/// step alone, or the prefill work, exceeds what there is; NaN for an argument out of range.
[[nodiscard]] inline double tpot_miss_share(double decode_s, double arrival_rate, const PrefillChunks& chunks,
                                            double output_tokens, double output_sigma, double tpot_s,
                                            double stop_above = 1.0,
                                            int arrival_shape = default_arrival_shape) noexcept {
  if (!(decode_s >= 0 && arrival_rate >= 0 && std::isfinite(arrival_rate) && chunks.per_request >= 1 &&
        chunks.chunk_s >= 0 && output_tokens >= 1 && detail::output_sigma_ok(output_sigma) && tpot_s > 0 &&
        arrival_shape >= 1 && arrival_shape <= 64)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (std::isinf(tpot_s) || !(output_tokens > 1)) return 0.0;  // every output one token: nothing to miss
  // o = round(X), X lognormal of mean O: P(o - 1 < m) = P(X < m + 0.5) (o at least 1)
  const double mu = std::log(output_tokens) - 0.5 * output_sigma * output_sigma;
  const double scale = 1.0 / (output_sigma * std::sqrt(2.0));
  const auto below = [&](double x) { return 0.5 * std::erfc(-(std::log(x) - mu) * scale); };  // P(X < x)
  const double one_token = below(1.5);
  const double slack = tpot_s - decode_s;
  const double E = chunks.per_request, c = chunks.chunk_s;
  const double rho = arrival_rate * E * c;  // the share of time prefill takes
  if (slack < 0 || rho >= 1) return 1.0 - one_token;  // every request past one token misses
  if (c <= 0 || arrival_rate <= 0) return 0.0;
  const double x = slack / c;  // chunks per decode iteration a request absorbs
  const double p = 1.0 / E;    // the chunks of one prompt: geometric with mean E
  // over m = o - 1 >= 1: each m alone up to 64, then blocks of m / 32 (the miss probability
  // moves smoothly there), until the weight left is negligible, or the chunks' mean grows slower
  // than what a request absorbs and sits 8 sd below it
  const double grow = arrival_rate * decode_s / (1.0 - rho) * E;  // chunks met per decode iteration
  double share = 0;
  double lower = one_token;  // P(X < m + 0.5)
  for (long long m = 1;;) {
    const long long width = m <= 64 ? 1 : m / 32;
    const long long at = m + (width - 1) / 2;
    const auto atd = static_cast<double>(at);
    // the weight of m .. m + width - 1: P(m + 0.5 <= X < m + width + 0.5)
    const double upper = below(static_cast<double>(m + width) + 0.5);
    const double weight = upper - lower;
    lower = upper;
    const double window = (E * (decode_s + c) + atd * decode_s) / (1.0 - rho);
    const double absorbed = std::floor(x * atd + 1e-9);
    if (absorbed < atd) {
      share += weight * detail::chunks_exceed(arrival_rate, window, arrival_shape, p, static_cast<long long>(absorbed));
    }
    if (share > stop_above) return share;
    m += width;
    if (1.0 - lower < 1e-9) break;
    const double n = arrival_rate * window;
    const double sd = std::sqrt(n / arrival_shape + n * (1.0 - p)) / p;
    if (grow < x && x * atd - n / p > 8.0 * sd) break;
    if (m > 1'000'000'000) break;  // outputs past 10^9 tokens: nothing left to weigh
  }
  return std::min(share, 1.0);
}

namespace detail {

// The argument of replica_capacity out of range, or nullptr.
[[nodiscard]] inline const char* replica_capacity_problem(const TokenLengths& tokens, const LatencyTargets& targets,
                                                          double kv_tokens, long long engine_max_batch) noexcept {
  if (!(tokens.input_tokens > 0 && tokens.input_tokens <= 1e7)) return "input_tokens";
  if (!(tokens.output_tokens >= 1 && tokens.output_tokens <= 1e7)) return "output_tokens";
  if (!detail::output_sigma_ok(tokens.output_sigma)) return "output_sigma";
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
  detail::check_arg(detail::output_sigma_ok(tokens.output_sigma), "replica_capacity", "output_sigma",
                    tokens.output_sigma, "[0.05, 3]");
  detail::check_arg(kv_tokens > 0 && kv_tokens <= 1e12, "replica_capacity", "kv_tokens", kv_tokens, "(0, 1e12]");
  detail::check_arg(targets.tpot_s > 0, "replica_capacity", "tpot_s", targets.tpot_s, "(0, inf]");
  detail::check_arg(engine_max_batch >= 0 && engine_max_batch <= 1'000'000, "replica_capacity", "engine_max_batch",
                    static_cast<double>(engine_max_batch), "[0, 1e6]");
  return detail::replica_capacity_unchecked(profile, tokens, targets, kv_tokens, engine_max_batch);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_REPLICA_CAPACITY_HPP
