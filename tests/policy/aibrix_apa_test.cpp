// AibrixApaPolicy against AIBrix: the cases of vllm-project/aibrix
// pkg/controller/podautoscaler/algorithm/apa_test.go (TestAPAAlgorithm_ComputeTargetReplicas)
// with their numbers, on the waiting-requests metric (whose targets, unlike KV use, may be
// 30), and the controller's metric window, multi-metric max and cooldown windows.
#include <doctest/doctest.h>

#include "llmscale/policy/aibrix_apa.hpp"

using llmscale::AibrixApaConfig;
using llmscale::AibrixApaPolicy;
using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {

Signals engines(double kv, double waiting = 0, int reporting = 1) {
  Signals s;
  s.engines.replicas_reporting = reporting;
  s.engines.kv_utilization = kv;
  s.engines.queue_length_mean = waiting;
  return s;
}

FleetState fleet(int ready, int starting = 0) {
  FleetState f(ready);
  if (starting > 0) f.add_starting(starting, at_seconds(0));
  return f;
}

// One decision of a fresh APA with `pods` replicas on `waiting` requests per replica against
// a target of 30 (apa_test.go's), KV use 0: the KV metric then asks for floor(N / down rate),
// the least any waiting-requests answer can be, so the larger answer is the waiting one.
int apa_waiting(int pods, double waiting, double up_rate = 2, double down_rate = 2) {
  AibrixApaConfig c;
  c.target_waiting_requests = 30;
  c.up_tolerance = 0.1;
  c.down_tolerance = 0.1;
  c.max_scale_up_rate = up_rate;
  c.max_scale_down_rate = down_rate;
  return AibrixApaPolicy(c).propose(at_seconds(0), engines(0, waiting), fleet(pods)).replicas;
}

}  // namespace

TEST_CASE("aibrix: TestAPAAlgorithm_ComputeTargetReplicas") {
  CHECK(apa_waiting(2, 45) == 3);              // basic_scale_up
  CHECK(apa_waiting(2, 35) == 3);              // scale_up_upto_ceiling: ceil(2.33)
  CHECK(apa_waiting(2, 90) == 4);              // scale_up_upto_max_scale_up: ceil(2 x 2)
  CHECK(apa_waiting(2, 90, 2.5) == 5);         // scale_up_upto_max_scale_up_ceiling: ceil(2.5 x 2)
  CHECK(apa_waiting(6, 20) == 4);              // basic_scale_down
  CHECK(apa_waiting(6, 18) == 4);              // scale_down_upto_ceiling: ceil(3.6)
  CHECK(apa_waiting(6, 10) == 3);              // scale_down_upto_max_scale_down: floor(6 / 2)
  CHECK(apa_waiting(6, 5, 2, 2.5) == 2);       // scale_down_upto_max_scale_down_floor: floor(6 / 2.5)
  CHECK(apa_waiting(2, 33) == 2);              // no_scaling_as_within_up_tolerance: 1.1
  CHECK(apa_waiting(2, 27) == 2);              // no_scaling_as_within_down_tolerance: 0.9
}

TEST_CASE("APA: N is the scale target's replicas, ready and starting") {
  // 2 ready and 2 starting at KV 0.75 against 0.5: ceil(4 x 1.5) = 6 (on the 2 ready: 3)
  CHECK(AibrixApaPolicy().propose(at_seconds(0), engines(0.75), fleet(2, 2)).replicas == 6);
  CHECK(AibrixApaPolicy().propose(at_seconds(0), engines(0.75), fleet(0)).replicas == 0);  // 0: disabled
}

TEST_CASE("APA: each metric is averaged over its window (180 s)") {
  AibrixApaPolicy apa;
  CHECK(apa.propose(at_seconds(0), engines(1.0), fleet(4)).replicas == 8);   // 2 x target: capped at 2 x 4
  CHECK(apa.propose(at_seconds(10), engines(0.5), fleet(4)).replicas == 6);  // (1.0 + 0.5) / 2 = 0.75
  int r = 0;
  for (int t = 20; t <= 180; t += 10) r = apa.propose(at_seconds(t), engines(0.5), fleet(4)).replicas;
  CHECK(r == 4);  // (1.0 + 17 x 0.5) / 18 = 0.528: within 10 %
  AibrixApaConfig c;
  c.window_s = 30;
  AibrixApaPolicy short_window(c);
  (void)short_window.propose(at_seconds(0), engines(1.0), fleet(4));
  for (int t = 10; t <= 30; t += 10) r = short_window.propose(at_seconds(t), engines(0.5), fleet(4)).replicas;
  CHECK(r == 5);  // at 30 s the sample at 0 s is still in (bucket 0 >= floor(30 - 30)): 0.625
  CHECK(short_window.propose(at_seconds(40), engines(0.5), fleet(4)).replicas == 4);  // gone: 0.5
}

TEST_CASE("APA: KV use with waiting requests, the larger answer wins") {
  AibrixApaConfig c;
  c.target_waiting_requests = 100;
  // KV 0.5 is on target; 250 waiting per replica against 100: ceil(4 x 2.5) = 10, capped at 8
  CHECK(AibrixApaPolicy(c).propose(at_seconds(0), engines(0.5, 250), fleet(4)).replicas == 8);
  // KV 1.0 asks for 8; waiting 10 against 100 asks for floor(4 / 2) = 2
  CHECK(AibrixApaPolicy(c).propose(at_seconds(0), engines(1.0, 10), fleet(4)).replicas == 8);
  // no engine reports: no metric is valid, nothing changes
  CHECK(AibrixApaPolicy(c).propose(at_seconds(0), engines(1.0, 250, 0), fleet(4)).replicas == 4);
}

TEST_CASE("APA: the cooldown windows pick the extreme answer in the direction of the move") {
  AibrixApaPolicy apa;  // down 300 s, up 0 s
  // 10 replicas at KV 0.15: ceil(3) under floor(10 / 2) = 5
  CHECK(apa.propose(at_seconds(0), engines(0.15), fleet(10)).replicas == 5);
  // (0.15 + 0.45) / 2 = 0.3: ceil(6) = 6, but the smallest answer of the last 300 s is 5
  CHECK(apa.propose(at_seconds(10), engines(0.45), fleet(10)).replicas == 5);
  // then KV 0.4: the average (0.6 + 0.4 k) / (k + 2) asks for 7 at 20-50 s, 8 from 60 s on
  // (0.4 / 0.5 = 0.8: ceil(8) once the first two samples have left the 180 s window)
  for (int t = 20; t < 310; t += 10) (void)apa.propose(at_seconds(t), engines(0.4), fleet(10));
  CHECK(apa.propose(at_seconds(310), engines(0.4), fleet(10)).replicas == 7);  // 7 (20-50 s) still within 300 s
  for (int t = 320; t < 360; t += 10) (void)apa.propose(at_seconds(t), engines(0.4), fleet(10));
  CHECK(apa.propose(at_seconds(360), engines(0.4), fleet(10)).replicas == 8);  // all since 70 s: 8
  AibrixApaConfig c;
  c.scale_up_cooldown_s = 60;
  AibrixApaPolicy up(c);
  CHECK(up.propose(at_seconds(0), engines(1.0), fleet(4)).replicas == 8);
  CHECK(up.propose(at_seconds(10), engines(0.0), fleet(4)).replicas == 4);  // avg 0.5, on target: N stays N
  // avg (1 + 0 + 0.7) / 3 = 0.567: ratio 1.13, ceil(4.53) = 5, raised to the largest answer of
  // the last 60 s, 8
  CHECK(up.propose(at_seconds(20), engines(0.7), fleet(4)).replicas == 8);
}
