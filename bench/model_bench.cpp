// Model/...: what a policy pays to call the models every tick.
// Baseline in the same run: Model/Baseline/exp, one std::exp.
#include <benchmark/benchmark.h>

#include <cmath>

#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/queueing.hpp"
#include "llmscale/model/replica_capacity.hpp"

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

}  // namespace
