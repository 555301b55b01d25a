// Sim/Replay/...: whole simulated runs, reported per request replayed (items_per_second is
// requests per second). Synthetic Poisson load with the development trace's mean lengths and
// a llama2-70b-like profile, so the benchmark needs no data files.
//   Sim/Replay/kpa/<rate>      KPA on a load of <rate> req/s for 600 s (router, engines, signals)
//   Sim/Replay/static/<rate>   a fixed fleet sized for the load: the simulator without a policy
// Baseline in the same run: Sim/Baseline/source, generating the same requests and nothing else.
#include <benchmark/benchmark.h>

#include <random>

#include "llmscale/sim/contestants.hpp"

namespace {

struct Poisson {
  double rate, until;
  std::mt19937_64 rng{1};
  double t = 0;
  bool next(llmscale::TraceRequest& r) {
    t += std::exponential_distribution<double>(rate)(rng);
    if (t > until) return false;
    r.arrival_s = t;
    r.prompt_tokens = 200 + static_cast<std::int32_t>(rng() % 1911);  // mean 1,155
    r.output_tokens = 10 + static_cast<std::int32_t>(rng() % 403);    // mean 211
    return true;
  }
};

llmscale::LatencyProfile profile() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26});
}

void Sim_Baseline_source(benchmark::State& state) {
  long long n = 0;
  for (auto _ : state) {
    Poisson p{static_cast<double>(state.range(0)), 600};
    llmscale::TraceRequest r;
    while (p.next(r)) ++n;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(Sim_Baseline_source)->Name("Sim/Baseline/source")->Arg(200)->Unit(benchmark::kMillisecond);

void Sim_Replay_kpa(benchmark::State& state) {
  const llmscale::LatencyProfile prof = profile();
  llmscale::SimConfig sim;
  const auto contestants = llmscale::Contestants::for_run(sim, 1, 256);
  long long n = 0;
  for (auto _ : state) {
    Poisson p{static_cast<double>(state.range(0)), 600};
    const llmscale::SimResult r = llmscale::simulate(llmscale::KpaPolicy(contestants.kpa, llmscale::simulation_start()),
                                                     contestants.neutral, p, prof, sim, 20);
    n += r.requests;
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(Sim_Replay_kpa)->Name("Sim/Replay/kpa")->Arg(200)->Unit(benchmark::kMillisecond);

void Sim_Replay_static(benchmark::State& state) {
  const llmscale::LatencyProfile prof = profile();
  llmscale::SimConfig sim;
  const int fleet = static_cast<int>(state.range(0) / 3);  // about 3.4 req/s a replica
  long long n = 0;
  for (auto _ : state) {
    Poisson p{static_cast<double>(state.range(0)), 600};
    llmscale::GovernorConfig g;
    g.min_replicas = g.max_replicas = fleet;
    const llmscale::SimResult r = llmscale::simulate(llmscale::StaticPolicy{fleet}, g, p, prof, sim, fleet);
    n += r.requests;
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(Sim_Replay_static)->Name("Sim/Replay/static")->Arg(200)->Unit(benchmark::kMillisecond);

}  // namespace
