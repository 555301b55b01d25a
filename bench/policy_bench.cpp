// Policy/<Name>/tick: one Autoscaler tick (the anchor policy and the governor) per iteration,
// one tick a second of virtual time, over 1,024 pre-made varying signal snapshots.
// Baseline in the same run: Policy/Baseline/governor, the governor alone on a fixed proposal.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "llmscale/policy/policies.hpp"

namespace {

std::vector<llmscale::Signals> make_signals() {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<llmscale::Signals> out(1024);
  for (auto& s : out) {
    s.running_now = std::floor(100 + 50 * u(rng));
    s.queued_now = std::floor(10 * u(rng));
    s.concurrency = s.running_now + s.queued_now;
    s.queued = s.queued_now;
    s.arrival_rate = 20 + 5 * u(rng);
    s.engines.replicas_reporting = 8;
    s.engines.replicas_saturated = static_cast<int>(3 * u(rng));
    s.engines.kv_utilization = 0.4 + 0.3 * u(rng);
    s.engines.batch_occupancy = 0.5 + 0.3 * u(rng);
    s.engines.queue_length_mean = 3 * u(rng);
    s.engines.unsaturated_kv_use_sum = 5 * 0.5;
    s.engines.unsaturated_queue_total = 6;
    s.mean_prompt_tokens = 1155 + 20 * u(rng);  // a steady mix: within the 5 % recompute band
    s.mean_output_tokens = 211 + 5 * u(rng);
    s.queue_wait_p99_s = 0.5 + u(rng);  // around the PID's 1 s target
  }
  return out;
}

template <class P>
void tick(benchmark::State& state, P policy, const std::vector<llmscale::Signals>& signals = make_signals(),
          long long untimed_ticks = 0) {
  llmscale::Autoscaler<P> scaler(std::move(policy), llmscale::GovernorConfig{}, llmscale::at_seconds(0));
  llmscale::FleetState fleet(8);
  long long i = 0;
  for (; i < untimed_ticks; ++i) {
    (void)scaler.tick(llmscale::at_seconds(static_cast<double>(i + 1)), signals[(i + 1) & 1023], fleet);
  }
  for (auto _ : state) {
    ++i;
    const llmscale::Decision& d = scaler.tick(llmscale::at_seconds(static_cast<double>(i)), signals[i & 1023], fleet);
    benchmark::DoNotOptimize(d.desired_replicas);
  }
}

void Policy_Baseline_governor(benchmark::State& state) {
  llmscale::Governor g(llmscale::GovernorConfig{}, llmscale::at_seconds(0));
  llmscale::FleetState fleet(8);
  long long i = 0;
  for (auto _ : state) {
    ++i;
    const llmscale::Proposal p{"x", 8 + static_cast<int>(i & 3), 8, "x"};
    benchmark::DoNotOptimize(g.decide(llmscale::at_seconds(static_cast<double>(i)), "x", p, fleet, {false, true}));
  }
}
BENCHMARK(Policy_Baseline_governor)->Name("Policy/Baseline/governor");

void Policy_Hpa_tick(benchmark::State& state) { tick(state, llmscale::HpaPolicy{}); }
BENCHMARK(Policy_Hpa_tick)->Name("Policy/Hpa/tick");
void Policy_Kpa_tick(benchmark::State& state) {
  llmscale::KpaConfig c;
  c.container_concurrency = 64;
  tick(state, llmscale::KpaPolicy{c, llmscale::at_seconds(0)});
}
BENCHMARK(Policy_Kpa_tick)->Name("Policy/Kpa/tick");
void Policy_RayServe_tick(benchmark::State& state) { tick(state, llmscale::RayServePolicy{}); }
BENCHMARK(Policy_RayServe_tick)->Name("Policy/RayServe/tick");
void Policy_AibrixApa_tick(benchmark::State& state) { tick(state, llmscale::AibrixApaPolicy{}); }
BENCHMARK(Policy_AibrixApa_tick)->Name("Policy/AibrixApa/tick");
void Policy_LlmdSaturation_tick(benchmark::State& state) { tick(state, llmscale::LlmdSaturationPolicy{}); }
BENCHMARK(Policy_LlmdSaturation_tick)->Name("Policy/LlmdSaturation/tick");

// The SLO policy on a steady token mix (its per-replica rate computed once, on the first tick).
llmscale::SloPolicy slo_policy() {
  return llmscale::SloPolicy{llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 1e-7, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26})};
}
void Policy_Slo_tick(benchmark::State& state) { tick(state, slo_policy()); }
BENCHMARK(Policy_Slo_tick)->Name("Policy/Slo/tick");

// The PID alone: a fixed feed-forward, the p99 queue wait varying around its target.
void Policy_Pid_tick(benchmark::State& state) {
  llmscale::PidConfig c;
  c.kd = 5;  // every term computed
  tick(state, llmscale::PidPolicy<llmscale::FixedFeedForward>{{8}, c});
}
BENCHMARK(Policy_Pid_tick)->Name("Policy/Pid/tick");

// The predictive policy with a 20-minute cold start (a 21-bucket plan): a tick a second, so a
// bucket closes every 60 iterations and the three forecasters' updates, the scoring, the
// autoregressive refits (every 10 buckets) and the plan are amortised over them. Run long
// enough (min time 2 s: a day and a half of ticks) that Holt-Winters passes its first season.
void Policy_Predictive_tick(benchmark::State& state) {
  llmscale::PredictiveConfig c;
  c.cold_start_s = 1200;
  tick(state, llmscale::PredictivePolicy<>{slo_policy(), c});
}
BENCHMARK(Policy_Predictive_tick)->Name("Policy/Predictive/tick")->MinTime(2.0);

// The same with a token mix that moves every tick (the development trace's per-minute mean
// output runs from 114 to 307 tokens, its prompt from 900 to 1,400, and a minute's measured
// outputs' spread on chat-day from 0.90 to 1.05): the planner sizes on the mix smoothed over
// mix_time_s, its llmscale-slo feedback on the raw mix (re-sized when it moves more than 5 %,
// 1,024 sizings remembered, one per mix cell).
std::vector<llmscale::Signals> moving_mix_signals() {
  std::vector<llmscale::Signals> signals = make_signals();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& s : signals) {
    s.mean_output_tokens = 114 + 193 * u(rng);
    s.mean_prompt_tokens = 900 + 500 * u(rng);
    s.output_sigma = 0.90 + 0.15 * u(rng);
  }
  return signals;
}
void Policy_Predictive_tick_moving_mix(benchmark::State& state) {
  llmscale::PredictiveConfig c;
  c.cold_start_s = 300;
  tick(state, llmscale::PredictivePolicy<>{slo_policy(), c}, moving_mix_signals());
}
BENCHMARK(Policy_Predictive_tick_moving_mix)->Name("Policy/Predictive/tick_moving_mix")->MinTime(2.0);

// The same once every mix cell the snapshots visit has been sized (three passes over them
// before the timing): what a tick costs when the mix wanders within ranges it has seen. The
// cold run above adds each first visit's sizing (milliseconds) over the ticks its 2 s hold.
void Policy_Predictive_tick_moving_mix_warm(benchmark::State& state) {
  llmscale::PredictiveConfig c;
  c.cold_start_s = 300;
  tick(state, llmscale::PredictivePolicy<>{slo_policy(), c}, moving_mix_signals(), 3 * 1024);
}
BENCHMARK(Policy_Predictive_tick_moving_mix_warm)->Name("Policy/Predictive/tick_moving_mix_warm")->MinTime(2.0);

}  // namespace
