// Core/...: the cost of the per-tick core types. Baselines in the same run: Core/Baseline/*.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"

namespace {

llmscale::Decision sample_decision() {
  llmscale::Decision d;
  d.at = llmscale::at_seconds(12345.5);
  d.current_replicas = 17;
  d.desired_replicas = 21;
  d.policy = "llmscale-slo";
  d.reason = "queue wait p99 above target";
  d.binding = llmscale::Constraint::rate_limit;
  d.add_proposal({"slo", 24, 23.4, "replicas for the TTFT target"});
  d.add_proposal({"governor", 21, 21.0, "rate_limit"});
  d.add_input("arrival_rate", 41.25);
  d.add_input("queue_wait_p99_s", 2.75);
  d.add_input("kv_utilization", 0.83);
  return d;
}

// A baseline in the same run: one snprintf of a few numbers.
void Core_Baseline_snprintf(benchmark::State& state) {
  char buf[256];
  double x = 1.25;
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::snprintf(buf, sizeof buf, "%d %d %g %g", 17, 21, x, 2.75));
    x += 1e-9;
  }
}
BENCHMARK(Core_Baseline_snprintf)->Name("Core/Baseline/snprintf");

void Core_Decision_format_text(benchmark::State& state) {
  const llmscale::Decision d = sample_decision();
  char buf[512];
  for (auto _ : state) benchmark::DoNotOptimize(d.format_to(buf, sizeof buf));
}
BENCHMARK(Core_Decision_format_text)->Name("Core/Decision/format_text");

void Core_Decision_format_json(benchmark::State& state) {
  const llmscale::Decision d = sample_decision();
  char buf[512];
  for (auto _ : state) benchmark::DoNotOptimize(d.format_json_to(buf, sizeof buf));
}
BENCHMARK(Core_Decision_format_json)->Name("Core/Decision/format_json");

void Core_FleetState_ready_by(benchmark::State& state) {
  llmscale::FleetState fleet(10);
  const auto batches = static_cast<int>(state.range(0));
  for (int i = 0; i < batches; ++i) fleet.add_starting(1, llmscale::at_seconds(i * 15.0));
  const auto lead = llmscale::from_seconds(600);
  double t = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fleet.ready_by(llmscale::at_seconds(t), lead));
    t += 1.0;
    if (t > 1200) t = 0;
  }
}
BENCHMARK(Core_FleetState_ready_by)->Name("Core/FleetState/ready_by")->Arg(1)->Arg(32);

}  // namespace
