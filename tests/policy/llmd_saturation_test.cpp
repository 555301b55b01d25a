// LlmdSaturationPolicy against llm-d's workload-variant-autoscaler: the cases of
// internal/saturation/analyzer_test.go with their numbers, each replica's KV use and queue set
// on EngineGauges (whose saturation count the policy reads), then the 1-minute peaks.
#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <utility>

#include "llmscale/policy/llmd_saturation.hpp"
#include "llmscale/signals/engine_gauges.hpp"

using llmscale::at_seconds;
using llmscale::EngineGauges;
using llmscale::FleetState;
using llmscale::LlmdSaturationPolicy;
using llmscale::ReplicaGauges;
using llmscale::Signals;
using llmscale::TimePoint;

namespace {

struct Replica {
  double kv;
  int queue;
  bool batch_full = false;
};

// The engines' summary with each replica's KV use and waiting queue, at llm-d's thresholds
// (KV 0.8, queue 5).
Signals replicas(std::initializer_list<Replica> rs, TimePoint at = at_seconds(0)) {
  EngineGauges gauges(64, llmscale::SaturationThresholds{0.8, 5});
  std::size_t slot = 0;
  for (const Replica& r : rs) {
    ReplicaGauges g;
    g.kv_tokens_capacity = 100'000;
    g.kv_tokens_used = static_cast<std::int64_t>(r.kv * 100'000 + 0.5);
    g.queue_length = r.queue;
    g.max_batch = 32;
    g.running = r.batch_full ? 32 : 8;
    g.sampled_at = at;
    REQUIRE(gauges.set(slot++, g));
  }
  Signals s;
  s.engines = gauges.summarize(at, std::chrono::seconds(30));
  return s;
}

int decide(const Signals& s, const FleetState& f) {
  return LlmdSaturationPolicy().propose(at_seconds(0), s, f).replicas;
}

}  // namespace

TEST_CASE("llm-d: TestAnalyzeModelSaturation_ScaleUp") {
  CHECK(decide(replicas({{0.75, 2}, {0.76, 2}}), FleetState(2)) == 3);  // avg spare KV 0.045 < 0.1
  CHECK(decide(replicas({{0.50, 3}, {0.50, 3}}), FleetState(2)) == 3);  // avg spare queue 2 < 3
  CHECK(decide(replicas({{0.50, 1}, {0.50, 1}}), FleetState(2)) == 2);  // healthy: 0.30 and 4 (and 2 -> 1 unsafe)
}

TEST_CASE("llm-d: TestAnalyzeModelSaturation_ScaleDownSafety") {
  CHECK(decide(replicas({{0.20, 1}, {0.30, 1}, {0.25, 1}}), FleetState(3)) == 2);  // safe: adequate headroom
  // unsafe: insufficient headroom (0.725 x 2 is past the threshold); the spare KV 0.075 also
  // asks for a scale-up
  const LlmdSaturationPolicy p;
  const auto a = p.analyze(2, 0, 0.725, 2);
  CHECK_FALSE(a.scale_down_safe);
  CHECK(a.scale_up);
  CHECK(decide(replicas({{0.70, 2}, {0.75, 2}}), FleetState(2)) == 3);
  CHECK_FALSE(p.analyze(1, 0, 0.5, 2).scale_down_safe);                   // only one non-saturated replica
  CHECK(decide(replicas({{0.50, 2}}), FleetState(1)) == 1);
}

TEST_CASE("llm-d: saturated replicas, all saturated, none reporting (TestAnalyzeVariant_SaturatedReplicas, ...AllSaturated, ...EmptyMetrics)") {
  const Signals s = replicas({{0.85, 2}, {0.50, 6}, {0.60, 2}});  // KV, queue, neither
  CHECK(s.engines.replicas_saturated == 2);
  CHECK(decide(s, FleetState(3)) == 3);  // 1 non-saturated: spare 0.2 and 3, no trigger; too few to scale down
  const Signals all = replicas({{0.85, 2}, {0.50, 6}, {0.90, 7}});
  CHECK(all.engines.replicas_saturated == 3);
  const auto a = LlmdSaturationPolicy().analyze(3, 3, 0, 0);
  CHECK(a.spare_kv == 0);
  CHECK(a.spare_queue == 0);
  CHECK(a.scale_up);  // 0 spare is under both triggers
  CHECK_FALSE(a.scale_down_safe);
  CHECK(decide(all, FleetState(3)) == 4);
  CHECK(decide(Signals{}, FleetState(3)) == 3);  // no metrics: no change
}

TEST_CASE("llm-d: replicas of two variants summed (TestAnalyzeModelSaturation_MultiVariant)") {
  // 4 non-saturated: spare KV 0.8 - 0.675 = 0.125, spare queue 3: no trigger; 0.675 x 4 / 3
  // is past the threshold: no scale-down
  const Signals s = replicas({{0.70, 2}, {0.75, 3}, {0.60, 1}, {0.65, 2}});
  CHECK(s.engines.replicas_saturated == 0);
  CHECK(decide(s, FleetState(4)) == 4);
}

TEST_CASE("llm-d: targets from the reporting replicas, held in transition (TestCalculatesaturationTargets_*)") {
  CHECK(decide(replicas({{0.75, 2}, {0.76, 2}}), FleetState(2)) == 3);  // ScaleUp (one variant): 2 + 1
  CHECK(decide(replicas({{0.2, 0}, {0.2, 0}}), FleetState(2)) == 1);    // ScaleDown (one variant): 2 - 1
  // MetricsMismatchBlocksScaling: 3 replicas, 2 reporting: hold 3
  CHECK(decide(replicas({{0.75, 2}, {0.76, 2}}), FleetState(3)) == 3);
  FleetState starting(2);
  starting.add_starting(1, at_seconds(0));
  CHECK(decide(replicas({{0.75, 2}, {0.76, 2}}), starting) == 3);  // pending replicas: hold
}

// What analyzer.go does and llmscale's llm-d policy did not: each fails on the earlier code.
TEST_CASE("llm-d: a full batch is not saturation") {
  // two replicas with full batches and light KV and queue: not saturated, both spare, so
  // 2 -> 1 is safe (0.1 x 2 = 0.2 KV, 1 x 2 = 2 waiting after)
  const Signals s = replicas({{0.1, 1, true}, {0.1, 1, true}});
  CHECK(s.engines.replicas_saturated == 0);
  CHECK(s.engines.replicas_batch_full == 2);
  CHECK(decide(s, FleetState(2)) == 1);
}

TEST_CASE("llm-d: a saturated replica does not block a safe scale-down") {
  // one replica at KV 0.85; the other three idle: spread over two they still clear both triggers
  CHECK(decide(replicas({{0.85, 0}, {0.1, 0}, {0.1, 0}, {0.1, 0}}), FleetState(4)) == 3);
}

TEST_CASE("llm-d: the gauges are read as their 1-minute peaks") {
  LlmdSaturationPolicy p;
  const Signals calm = replicas({{0.2, 0}, {0.2, 0}, {0.2, 0}});
  const Signals burst = replicas({{0.2, 9}, {0.2, 9}, {0.2, 9}});  // every queue at 9: all saturated
  CHECK(p.propose(at_seconds(0), calm, FleetState(3)).replicas == 2);  // calm: 3 -> 2 is safe
  for (int t = 1; t < 30; ++t) (void)p.propose(at_seconds(t), t == 10 ? burst : calm, FleetState(3));
  // at 30 s the queues are calm again, but the burst at 10 s is within the minute: +1
  CHECK(p.propose(at_seconds(30), calm, FleetState(3)).replicas == 4);
  for (int t = 31; t < 90; ++t) (void)p.propose(at_seconds(t), calm, FleetState(3));
  CHECK(p.propose(at_seconds(90), calm, FleetState(3)).replicas == 2);  // the burst has left the minute
  llmscale::LlmdSaturationConfig now_only;
  now_only.peak_window_s = 0;
  LlmdSaturationPolicy q(now_only);
  for (int t = 0; t < 30; ++t) (void)q.propose(at_seconds(t), t == 10 ? burst : calm, FleetState(3));
  CHECK(q.propose(at_seconds(30), calm, FleetState(3)).replicas == 2);
}
