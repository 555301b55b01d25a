// size_replicas: the one sizing chain llmscale-size and the SLO policy share. Its no-throw form
// against the allocating form and against the chain written out by hand (replica_capacity, then
// BatchQueueModel::max_arrival_rate), over random mixes, targets and queues; and the SLO
// policy's replicas at no queue against it.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "llmscale/model/batch_queue.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/replica_capacity.hpp"
#include "llmscale/model/replica_sizing.hpp"
#include "llmscale/policy/slo.hpp"

using llmscale::LatencyProfile;
using llmscale::LatencyTargets;
using llmscale::TokenLengths;

namespace {
// decode = 12 ms + 0.9 ms per request + a little per context token; prefill 0.12 ms per token
LatencyProfile profile() {
  return LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{2, 0.12, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{12, 0.00002, 0.9});
}
}  // namespace

TEST_CASE("size_replicas: the no-throw form, the allocating form and the chain by hand agree") {
  const LatencyProfile p = profile();
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<double> in(50, 4000), out(10, 800), ttft(0.05, 5), tpot(0.008, 0.2), kv(5e4, 8e5);
  std::uniform_int_distribution<int> batches(0, 20);
  llmscale::BatchQueueModel reused(p, TokenLengths{1000, 100}, 256, 256 * 20);  // the largest batch and queue
  int feasible = 0;
  for (int i = 0; i < 300; ++i) {
    const TokenLengths tokens{in(rng), out(rng)};
    LatencyTargets targets;
    targets.ttft_s = ttft(rng);
    targets.tpot_s = tpot(rng);
    targets.quantile = i % 2 == 0 ? 0.99 : 0.9;
    const double kv_tokens = kv(rng);
    const llmscale::QueueBound queue{static_cast<double>(batches(rng))};
    CAPTURE(i);
    const long long chunk = llmscale::default_prefill_chunk_tokens;
    const llmscale::ReplicaSizing fast =
        llmscale::size_replicas(p, tokens, targets, kv_tokens, 256, chunk, queue, reused);
    const llmscale::ReplicaSizing alloc = llmscale::size_replicas(p, tokens, targets, kv_tokens, 256, chunk, queue);
    REQUIRE(fast.problem == nullptr);
    // by hand
    const llmscale::ReplicaCapacity cap = llmscale::replica_capacity(p, tokens, targets, kv_tokens, 256);
    double rate = 0;
    if (cap.max_batch > 0) {
      const long long q = static_cast<long long>(queue.batches) * cap.max_batch;
      llmscale::BatchQueueModel m(p, tokens, cap.max_batch, q);
      rate = m.max_arrival_rate(targets);
      CHECK(fast.max_queue == q);
    }
    CHECK(fast.capacity.max_batch == cap.max_batch);
    CHECK(alloc.capacity.max_batch == cap.max_batch);
    CHECK(fast.max_rate == rate);
    CHECK(alloc.max_rate == rate);
    if (rate > 0) {
      ++feasible;
      CHECK(fast.replicas_for(3 * rate) == doctest::Approx(3.0));
      CHECK(fast.replicas_for(-1) == 0.0);
    } else {
      CHECK(std::isnan(fast.replicas_for(1)));
    }
  }
  CHECK(feasible > 100);  // the draws cover feasible and infeasible targets both
  CHECK(feasible < 300);
}

TEST_CASE("size_replicas' no-throw form names what stopped it and allocates nothing beyond its model") {
  const LatencyProfile p = profile();
  LatencyTargets targets;
  targets.ttft_s = 2;
  targets.tpot_s = 0.1;
  llmscale::BatchQueueModel small(p, TokenLengths{1000, 100}, 8, 80);
  const long long chunk = llmscale::default_prefill_chunk_tokens;
  // a batch of 8 and queue of 80 were held: a larger batch is refused, not allocated
  const auto big = llmscale::size_replicas(p, TokenLengths{1000, 100}, targets, 4e5, 64, chunk, {}, small);
  REQUIRE(big.problem != nullptr);
  CHECK(std::string(big.problem).find("has not held") != std::string::npos);
  CHECK_FALSE(big.feasible());
  CHECK(small.max_batch() == 8);  // the model unchanged
  const auto fits = llmscale::size_replicas(p, TokenLengths{1000, 100}, targets, 4e5, 8, chunk, {}, small);
  CHECK(fits.problem == nullptr);
  CHECK(fits.feasible());
  const auto problem = [&](const TokenLengths& tokens, const LatencyTargets& t, double kv, long long chunk_tokens) {
    return std::string(llmscale::size_replicas(p, tokens, t, kv, 8, chunk_tokens, {}, small).problem);
  };
  CHECK(problem(TokenLengths{0, 100}, targets, 4e5, chunk) == "input_tokens");
  CHECK(problem(TokenLengths{10, 100}, targets, -1, chunk) == "kv_tokens");
  CHECK(problem(TokenLengths{10, 100, 9.0}, targets, 4e5, chunk) == "output_sigma");
  CHECK(problem(TokenLengths{10, 100}, targets, 4e5, -1) == "prefill_chunk_tokens");
  LatencyTargets bad = targets;
  bad.quantile = 1.5;
  CHECK(problem(TokenLengths{10, 100}, bad, 4e5, chunk) == "ttft_s or quantile");
  // the allocating form throws instead, naming the argument
  CHECK_THROWS_WITH_AS((void)llmscale::size_replicas(p, TokenLengths{0, 100}, targets, 4e5), doctest::Contains("input_tokens"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS((void)llmscale::size_replicas(p, TokenLengths{10, 100}, bad, 4e5), doctest::Contains("quantile"),
                       std::invalid_argument);
  static_assert(
      noexcept(llmscale::size_replicas(p, TokenLengths{}, targets, 1.0, 0, chunk, llmscale::QueueBound{}, small)));
}

TEST_CASE("the SLO policy's replicas at no queue are size_replicas' for its targets") {
  const LatencyProfile p = profile();
  llmscale::SloConfig c;
  c.ttft_s = 1.5;
  c.tpot_s = 0.08;
  c.kv_tokens = 3e5;
  c.max_batch = 128;
  c.token_mix_tolerance = 0;  // size every mix afresh
  llmscale::SloPolicy slo(p, c);
  LatencyTargets targets;
  targets.ttft_s = c.ttft_s;
  targets.tpot_s = c.tpot_s;
  targets.quantile = c.quantile;
  for (const TokenLengths tokens : {TokenLengths{200, 50}, TokenLengths{1500, 300}, TokenLengths{3000, 20}}) {
    const auto sizing = llmscale::size_replicas(p, tokens, targets, c.kv_tokens, c.max_batch, c.prefill_chunk_tokens,
                                                llmscale::QueueBound{static_cast<double>(c.max_queue_batches)});
    REQUIRE(sizing.feasible());
    for (const double rate : {0.5, 7.0, 95.0}) {
      CAPTURE(rate);
      CHECK(slo.replicas_for(rate, 0, tokens) == doctest::Approx(sizing.replicas_for(rate)).epsilon(1e-12));
    }
  }
}
