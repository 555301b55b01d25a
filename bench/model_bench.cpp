// Model/...: what a policy pays to call the models every tick.
// Baseline in the same run: Model/Baseline/exp, one std::exp.
#include <benchmark/benchmark.h>

#include <cmath>

#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/queueing.hpp"
#include "llmscale/model/replica_capacity.hpp"
#include "llmscale/model/replica_sizing.hpp"

namespace {

void Model_Baseline_exp(benchmark::State& state) {
  double x = 0.5;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    benchmark::DoNotOptimize(std::exp(x));
  }
}
BENCHMARK(Model_Baseline_exp)->Name("Model/Baseline/exp");

// The smallest M/M/c pool for a p99 queueing delay of a tenth of the service time, at 85 %
// utilisation of about `c` servers (the answer is near c).
void Model_ErlangC_size(benchmark::State& state) {
  const double c = static_cast<double>(state.range(0));
  llmscale::QueueLoad load{0.85 * c / 2.0, 2.0, 1.0, llmscale::QueueModel::mmc};
  long long answer = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(load);
    answer = llmscale::min_servers(load, 0.2, 0.99);
    benchmark::DoNotOptimize(answer);
  }
  state.counters["servers"] = static_cast<double>(answer);
}
BENCHMARK(Model_ErlangC_size)->Name("Model/ErlangC/size")->Arg(10)->Arg(100)->Arg(1000);

// The largest batch within a per-token target and the KV cache, and its throughput, for a
// DistServe-form profile (llama2-70b-like coefficients), 64-request engine limit.
void Model_Capacity_query(benchmark::State& state) {
  const auto profile = llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 1e-7, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26});
  llmscale::TokenLengths tokens{1155, 211};
  llmscale::LatencyTargets targets;
  targets.tpot_s = 0.06;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tokens);
    benchmark::DoNotOptimize(llmscale::replica_capacity(profile, tokens, targets, 400000, 64));
  }
}
BENCHMARK(Model_Capacity_query)->Name("Model/Capacity/query");

// The share of requests missing the per-token target (the per-request tail: short outputs
// meeting prefill chunks) at one arrival rate: the development mix (0) and a code mix (1).
void Model_Tail_miss_share(benchmark::State& state) {
  const bool code = state.range(0) == 1;
  const llmscale::PrefillChunks chunks{code ? 1.58 : 1.2, code ? 0.13 : 0.1};
  const double output = code ? 28 : 211, sigma = code ? 1.24 : 1.0, rate = code ? 1.1 : 2.9;
  double share = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(output);
    share = llmscale::tpot_miss_share(0.04, rate, chunks, output, sigma, 0.1);
    benchmark::DoNotOptimize(share);
  }
  state.counters["share"] = share;
}
BENCHMARK(Model_Tail_miss_share)->Name("Model/Tail/miss_share")->Arg(0)->Arg(1);

// One replica sized from scratch, as llmscale-slo does for a token mix it has not met (then
// remembered): the batch, the queue model's bisection for the rate within the TTFT target and
// the per-token tail. The development mix (0) and a code mix (1), 256-request engine.
void Model_Sizing_size_replicas(benchmark::State& state) {
  const auto profile = llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 1e-7, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26});
  const bool code = state.range(0) == 1;
  const llmscale::TokenLengths tokens{code ? 2048.0 : 1155.0, code ? 28.0 : 211.0, code ? 1.24 : 1.0};
  llmscale::LatencyTargets targets;
  targets.ttft_s = 2;
  targets.tpot_s = 0.1;
  llmscale::BatchQueueModel model(profile, tokens, 256, 2560);
  double rate = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tokens);
    rate = llmscale::size_replicas(profile, tokens, targets, 400000, 256, 2048, llmscale::QueueBound{}, model).max_rate;
    benchmark::DoNotOptimize(rate);
  }
  state.counters["rate"] = rate;
}
BENCHMARK(Model_Sizing_size_replicas)->Name("Model/Sizing/size_replicas")->Arg(0)->Arg(1);

}  // namespace
