// HpaPolicy against Kubernetes' own unit tests: the cases of kubernetes/kubernetes
// pkg/controller/podautoscaler/replica_calculator_test.go that llmscale's signals can express,
// with their numbers. A pod with metrics is a ready replica that reports; a ready pod without
// is a missing replica; a pending or unready pod is a starting replica; failed or deleted pods
// are draining replicas (out of the count). Every pod's request is 1.0 (the per-replica metric
// is a fraction of the replica), so a case with unequal requests is ported with the
// utilisation Kubernetes computes from them ("adapted" below).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "llmscale/policy/hpa.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::HpaConfig;
using llmscale::HpaMetric;
using llmscale::HpaPerReplicaRule;
using llmscale::Signals;

namespace {

FleetState pods(int ready, int starting = 0, int draining = 0) {
  FleetState f(ready, draining);
  if (starting > 0) f.add_starting(starting, at_seconds(0));
  return f;
}

// `reporting` replicas whose per-replica metric averages `mean` (KV use and queue length both)
Signals metric(int reporting, double mean) {
  Signals s;
  s.engines.replicas_reporting = reporting;
  s.engines.kv_utilization = mean;
  s.engines.queue_length_mean = mean;
  return s;
}

Signals total(double concurrency) {
  Signals s;
  s.concurrency = concurrency;
  return s;
}

// A Resource (CPU-like) utilisation target in whole percent.
HpaConfig resource(int target_percent, double down = 0.1, double up = 0.1) {
  HpaConfig c;
  c.metric_1 = HpaMetric::kv_utilization;
  c.target_1 = target_percent / 100.0;
  c.per_replica_rule = HpaPerReplicaRule::resource;
  c.tolerance_down = down;
  c.tolerance_up = up;
  return c;
}

// A Pods metric with an AverageValue target.
HpaConfig pods_metric(double target, double up = 0.1) {
  HpaConfig c;
  c.metric_1 = HpaMetric::queue_length;
  c.target_1 = target;
  c.per_replica_rule = HpaPerReplicaRule::pods;
  c.tolerance_up = up;
  return c;
}

// An External metric with an AverageValue (per pod) target.
HpaConfig external(double target, double up = 0.1) {
  HpaConfig c;
  c.metric_1 = HpaMetric::concurrency;
  c.target_1 = target;
  c.tolerance_up = up;
  return c;
}

int once(const HpaConfig& c, const Signals& s, const FleetState& f) {
  return llmscale::HpaPolicy(c).propose(at_seconds(0), s, f).replicas;
}

}  // namespace

TEST_CASE("kubernetes: TestReplicaCalcResourceScale (Resource rule, whole-percent utilisation)") {
  // levels per pod in milli-CPU of a 1.0 request: the mean utilisation
  CHECK(once(resource(30), metric(3, 0.5), pods(3)) == 5);                   // scale up: 300, 500, 700
  CHECK(once(resource(30), metric(2, 0.6), pods(2, 1)) == 4);                // scale up: unready pod scales less
  CHECK(once(resource(30), metric(1, 0.4), pods(1, 2)) == 3);                // no scale: unready pods ignored
  CHECK(once(resource(30), metric(2, 0.6), pods(2, 0, 2)) == 4);             // scale up: failed pods ignored
  CHECK(once(resource(50), metric(5, 1.4 / 5), pods(5)) == 3);               // scale down: 100 300 500 250 250 (28 %)
  CHECK(once(resource(50), metric(3, 0.3), pods(3, 2)) == 2);                // scale down: exclude unready pods
  CHECK(once(resource(50), metric(1, 0.1), pods(1, 4)) == 1);                // scale down: exclude unscheduled pods
  CHECK(once(resource(50), metric(5, 1.4 / 5), pods(5, 0, 2)) == 3);         // scale down: failed pods ignored
}

TEST_CASE("kubernetes: missing metrics (TestReplicaCalcMissingMetrics*)") {
  CHECK(once(resource(100), metric(2, 0.495 / 2), pods(4)) == 3);  // MissingMetrics: 400, 95 of 4 (24 % -> 62 %)
  CHECK(once(resource(100), metric(1, 1.0), pods(2)) == 2);        // NoChangeEq: at 100 % missing pods stay out
  CHECK(once(resource(100), metric(1, 1.9), pods(2)) == 2);        // NoChangeGt: (190 + 0) / 2 = 95 %, within
  CHECK(once(resource(100), metric(1, 0.6), pods(2)) == 2);        // NoChangeLt: (60 + 100) / 2 = 80 %: ceil(1.6)
  CHECK(once(resource(50), metric(1, 0.45), pods(2, 1)) == 3);     // UnreadyChange: 45 % -> 72 %: the direction flips
  CHECK(once(resource(50), metric(1, 2.0), pods(2, 1)) == 4);      // UnreadyScaleUp: 200 % -> 66 %: ceil(3.96)
  CHECK(once(resource(50), metric(2, 0.1), pods(3, 1)) == 3);      // UnreadyScaleDown: 10 % -> 40 %: ceil(2.4)
  // ScaleDownTargetOver100 (adapted: 6 % on pods 1 and 2, the target 300 %): the missing pod
  // at 300 % of its request: (6 + 6 + 300) / 3 = 104 % -> ceil(0.3467 x 3) = 2
  CHECK(once(resource(300), metric(2, 0.06), pods(3, 1)) == 2);
}

TEST_CASE("kubernetes: the two rules differ for a missing pod under a target below 100 %") {
  // UnreadyScaleDown's fleet read as a Pods metric: the missing pod counts at the target (50 %):
  // (0.1 + 0.1 + 0.5) / 3 / 0.5 = 0.467 -> ceil(1.4) = 2 (the Resource rule: 3, above)
  HpaConfig c = resource(50);
  c.per_replica_rule = HpaPerReplicaRule::pods;
  CHECK(once(c, metric(2, 0.1), pods(3, 1)) == 2);
  // whole percent: 1.1005 is 110 % as a Resource, within the band; as a Pods value it is past
  // 1.1: ceil(11.005) = 12
  CHECK(once(resource(100), metric(10, 1.1005), pods(10)) == 10);
  c = resource(100);
  c.per_replica_rule = HpaPerReplicaRule::pods;
  CHECK(once(c, metric(10, 1.1005), pods(10)) == 12);
}

TEST_CASE("kubernetes: tolerance (TestReplicaCalcTolerance, TestReplicaCalcConfigurableTolerance, adapted)") {
  CHECK(once(resource(100), metric(3, 1.02), pods(3)) == 3);             // 102 %: within 10 %
  CHECK(once(resource(100, 0, 0), metric(3, 1.01), pods(3)) == 4);       // outside a 0 % tolerance
  CHECK(once(resource(100, 0.1, 2.0), metric(3, 1.9), pods(3)) == 3);    // within a 200 % scale-up tolerance
  CHECK(once(resource(100, 1.0, 0.08), metric(3, 1.09), pods(3)) == 4);  // outside 8 % up (down: 1, the range's top, for 2)
  CHECK(once(resource(100, 0.36), metric(3, 0.65), pods(3)) == 3);       // within a 36 % scale-down tolerance
  CHECK(once(resource(100, 0.34), metric(3, 0.65), pods(3)) == 2);       // outside a 34 % scale-down tolerance
  // TestReplicaCalcComputedToleranceAlgImplementation: 50 % used against int32(56.56) = 56 %
  // is 0.893, past the 10 % band: ceil(8.93) = 9; against 55 % it is 0.909, within: 10
  CHECK(once(resource(56), metric(10, 0.5), pods(10)) == 9);
  CHECK(once(resource(55), metric(10, 0.5), pods(10)) == 10);
}

TEST_CASE("kubernetes: Pods metrics (TestReplicaCalc*CM)") {
  CHECK(once(pods_metric(15), metric(3, 20), pods(3)) == 4);                // ScaleUpCM: 20, 10, 30
  CHECK(once(pods_metric(15), metric(3, 30), pods(3)) == 6);                // ScaleUpCMUnreadyHotCpuNoLessScale: 50, 10, 30
  CHECK(once(pods_metric(15), metric(3, 95.0 / 3), pods(3)) == 7);          // ...ScaleWouldScaleDown: 50, 15, 30
  CHECK(once(pods_metric(20), metric(5, 12), pods(5)) == 3);                // ScaleDownCM
  CHECK(once(pods_metric(20), metric(3, 62.0 / 3), pods(3)) == 3);          // ToleranceCM: 20, 21, 21
  CHECK(once(pods_metric(20, 0.01), metric(3, 62.0 / 3), pods(3)) == 4);    // ConfigurableToleranceCM
  CHECK(once(pods_metric(20), metric(3, 20), pods(5)) == 5);                // PlainMetric...MissingMetricsNoChangeEq
}

TEST_CASE("kubernetes: External metrics with a per-pod target (TestReplicaCalc*PerPodCMExternal)") {
  CHECK(once(external(2150), total(8600), pods(3)) == 4);        // ScaleUpPerPodCMExternal
  CHECK(once(external(2867), total(8600), pods(5)) == 3);        // ScaleDownPerPodCMExternal
  CHECK(once(external(2900), total(8600), pods(3)) == 3);        // TolerancePerPodCMExternal
  CHECK(once(external(2800, 0.01), total(8600), pods(3)) == 4);  // ConfigurableTolerancePerPodCMExternal
  // TestExternalPerPodMetricReplicaOverflow (adapted): clamped to llmscale's 10^6, not int32's
  CHECK(once(external(1), total(1e300), pods(1)) == FleetState::max_replicas);
}

TEST_CASE("HPA: a negative, NaN or infinite value is no data, not a scale-down") {
  HpaConfig c;
  c.metric_1 = HpaMetric::kv_utilization;
  CHECK(once(c, metric(4, -0.5), pods(4)) == 4);
  CHECK(once(c, metric(4, std::nan("")), pods(4)) == 4);
  CHECK(once(c, metric(4, std::numeric_limits<double>::infinity()), pods(4)) == 4);
  CHECK(once(external(8), total(std::nan("")), pods(4)) == 4);
  CHECK(once(external(8), total(-3), pods(4)) == 4);
}
