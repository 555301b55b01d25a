// Each anchor policy against its anchor's formulas, worked out by hand on scripted scenarios.
#include <doctest/doctest.h>

#include <cmath>

#include "llmscale/policy/policies.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {
static_assert(llmscale::is_policy_v<llmscale::HpaPolicy, Signals>);
static_assert(llmscale::is_policy_v<llmscale::KpaPolicy, Signals>);
static_assert(llmscale::is_policy_v<llmscale::RayServePolicy, Signals>);
static_assert(llmscale::is_policy_v<llmscale::AibrixApaPolicy, Signals>);
static_assert(llmscale::is_policy_v<llmscale::LlmdSaturationPolicy, Signals>);

Signals engines(int reporting, double kv, double occupancy, double queue_mean) {
  Signals s;
  s.engines.replicas_reporting = reporting;
  s.engines.kv_utilization = kv;
  s.engines.batch_occupancy = occupancy;
  s.engines.queue_length_mean = queue_mean;
  s.engine.samples = static_cast<std::uint64_t>(reporting);
  return s;
}
FleetState fleet(int ready, int starting = 0) {
  FleetState f(ready);
  if (starting > 0) f.add_starting(starting, at_seconds(0));
  return f;
}
Signals load(double in_flight) {
  Signals s;
  s.running_now = in_flight;
  s.arrival_rate = in_flight > 0 ? 1 : 0;
  return s;
}
}  // namespace

TEST_CASE("HPA: tolerance, ceil(ratio x ready), missing and unready replicas, AverageValue, several metrics") {
  llmscale::HpaConfig c;
  c.metric_1 = llmscale::HpaMetric::kv_utilization;
  c.target_1 = 0.7;
  const auto once = [&](const Signals& s, const FleetState& f) { return llmscale::HpaPolicy(c).propose(at_seconds(0), s, f).replicas; };
  CHECK(once(engines(4, 0.75, 0, 0), fleet(4)) == 4);  // ratio 1.071: within 10 %
  CHECK(once(engines(4, 0.80, 0, 0), fleet(4)) == 5);  // ceil(1.143 x 4) = ceil(4.57)
  CHECK(once(engines(4, 0.60, 0, 0), fleet(4)) == 4);  // 0.857 < 0.9: ceil(3.43) = 4
  CHECK(once(engines(4, 0.35, 0, 0), fleet(4)) == 2);  // ceil(0.5 x 4)
  // a ready replica without metrics counts at the target on a scale-down:
  // (0.35 x 4 + 0.7) / (0.7 x 5) = 0.6 -> ceil(0.6 x 5) = 3
  CHECK(once(engines(4, 0.35, 0, 0), fleet(5)) == 3);
  // starting replicas count as 0 on a scale-up: 1.4 x 4 / (0.7 x 6) = 1.333 -> ceil(8.0) = 8
  CHECK(once(engines(4, 1.4, 0, 0), fleet(4, 2)) == 8);
  // ... and if that flips the direction, nothing changes: 0.8 x 4 / (0.7 x 8) = 0.571 < 1
  CHECK(once(engines(4, 0.8, 0, 0), fleet(4, 4)) == 8);
  // AverageValue: 30 requests at 8 per replica on 3: ratio 1.25 -> ceil(30 / 8) = 4
  c.metric_1 = llmscale::HpaMetric::concurrency;
  c.target_1 = 8;
  Signals s;
  s.concurrency = 30;
  CHECK(once(s, fleet(3)) == 4);
  s.concurrency = 25;  // 25 / 24 = 1.04: within tolerance
  CHECK(once(s, fleet(3)) == 3);
  // two metrics: the larger proposal wins
  c.metric_2 = llmscale::HpaMetric::kv_utilization;
  c.target_2 = 0.5;
  Signals both = engines(3, 1.0, 0, 0);  // kv: ceil(2 x 3) = 6
  both.concurrency = 30;                 // concurrency: 4
  CHECK(once(both, fleet(3)) == 6);
  // a metric without data and the other scaling down: no change
  Signals down;
  down.concurrency = 8;  // 1 replica's worth
  CHECK(once(down, fleet(3)) == 3);
  // decisions every 15 s: in between the last proposal stands
  llmscale::HpaPolicy p(c);
  CHECK(p.propose(at_seconds(0), both, fleet(3)).replicas == 6);
  CHECK(p.propose(at_seconds(10), engines(3, 0.1, 0, 0), fleet(3)).replicas == 6);
  CHECK(p.propose(at_seconds(15), engines(3, 0.5, 0, 0), fleet(3)).replicas == 3);
}

TEST_CASE("KPA: stable window, panic on a burst, held until a stable window passes, then rate-limited down") {
  llmscale::KpaConfig c;
  c.container_concurrency = 10;  // target 7 per replica
  c.stable_window_s = 60;        // panic window 6 s
  llmscale::KpaPolicy kpa(c, at_seconds(0));
  // starts in panic holding the ready count: 4 ready, load for 1 replica
  CHECK(kpa.propose(at_seconds(0), load(7), fleet(4)).replicas == 4);
  CHECK(kpa.panicking());
  int r = 0;
  for (int t = 2; t <= 58; t += 2) r = kpa.propose(at_seconds(t), load(7), fleet(4)).replicas;
  CHECK(r == 4);  // still inside the first stable window
  r = kpa.propose(at_seconds(60), load(7), fleet(4)).replicas;
  CHECK(kpa.panicking());  // exactly a stable window after: Knative's Before() is strict
  CHECK(r == 4);
  r = kpa.propose(at_seconds(62), load(7), fleet(4)).replicas;
  CHECK_FALSE(kpa.panicking());
  CHECK(r == 2);  // stable ceil(7 / 7) = 1, but maxDown = floor(4 / 2) = 2
  // a burst: 2 ready, 70 in flight from t = 100 on. At t = 100 the panic window (6 buckets,
  // first write 6 s back at most) averages (5 x 7 + 70) / 6 = 17.5: ceil(17.5 / 7) / 2 = 1.5 < 2.
  for (int t = 64; t < 100; t += 2) kpa.propose(at_seconds(t), load(7), fleet(2));
  r = kpa.propose(at_seconds(100), load(70), fleet(2)).replicas;
  CHECK_FALSE(kpa.panicking());
  // t = 101 (a sample), t = 102: the panic window holds buckets 97..102:
  // (7 + 7 + 7 + 70 + 70 + 70) / 6 = 38.5 -> ceil(38.5 / 7) / 2 = 3 >= 2: panic
  kpa.propose(at_seconds(101), load(70), fleet(2));
  r = kpa.propose(at_seconds(102), load(70), fleet(2)).replicas;
  CHECK(kpa.panicking());
  CHECK(r == 6);  // panic pods ceil(38.5 / 7) = 6 (maxUp = 2000); stable is lower
  // load drops at t = 110: panic holds the most seen, never less
  for (int t = 103; t < 110; ++t) r = kpa.propose(at_seconds(t), load(70), fleet(6)).replicas;
  const int held = r;
  CHECK(held >= 6);
  for (int t = 110; t < 160; ++t) r = kpa.propose(at_seconds(t), load(7), fleet(held)).replicas;
  CHECK(r == held);  // within 60 s of the last time over the threshold
  for (int t = 160; t <= 175; ++t) r = kpa.propose(at_seconds(t), load(7), fleet(held)).replicas;
  CHECK_FALSE(kpa.panicking());
  CHECK(r == held / 2);  // maxDown = floor(held / 2)
}

TEST_CASE("KPA: scale-up rate and activation scale") {
  llmscale::KpaConfig c;
  c.container_concurrency = 10;
  c.max_scale_up_rate = 2;
  c.activation_scale = 3;
  llmscale::KpaPolicy kpa(c, at_seconds(0));
  // ready 2 and 700 in flight: maxUp = ceil(2 x 2) = 4
  CHECK(kpa.propose(at_seconds(0), load(700), fleet(2)).replicas == 4);
  llmscale::KpaPolicy small(c, at_seconds(0));
  (void)small.propose(at_seconds(0), load(1), fleet(0));  // 0 ready: not in panic (only more than 1 is)
  int r = 0;
  for (int t = 2; t <= 70; t += 2) r = small.propose(at_seconds(t), load(1), fleet(1)).replicas;
  CHECK(r == 3);  // dspc = ceil(1 / 7) = 1 > 0: the stable count is raised to the activation scale
}

TEST_CASE("Ray Serve: delays against the target count, factors from the running count, the from-zero path") {
  llmscale::RayServeConfig c;  // target 2, delays 30 s up / 600 s down
  llmscale::RayServePolicy ray(c);
  // 3 replicas (2 ready + 1 starting), 16 ongoing: wants 8
  int r = 0;
  for (int t = 0; t < 30; ++t) r = ray.propose(at_seconds(t), load(16), fleet(2, 1)).replicas;
  CHECK(r == 3);  // the upscale delay has not passed
  // at t = 30 the look-back average is 16 (30 one-second buckets of 16): 16 / 2 = 8
  CHECK(ray.propose(at_seconds(30), load(16), fleet(2, 1)).replicas == 8);
  // down: 8 replicas, load 4 -> wants 2, after 600 s of consecutive decisions
  llmscale::RayServePolicy down(c);
  for (int t = 0; t < 600; t += 5) r = down.propose(at_seconds(t), load(4), fleet(8)).replicas;
  CHECK(r == 8);
  CHECK(down.propose(at_seconds(600), load(4), fleet(8)).replicas == 2);
  // factors: downscaling_factor 0.5 closes half the gap, ceil(8 + 0.5 (2 - 8)) = 5
  c.downscaling_factor = 0.5;
  c.downscale_delay_s = 0;
  llmscale::RayServePolicy half(c);
  for (int t = 0; t < 30; ++t) half.propose(at_seconds(t), load(4), fleet(9));
  CHECK(half.propose(at_seconds(30), load(4), fleet(8)).replicas == 5);
  // from zero: at once, max(ceil(upscaling_factor), target) (the cold-start path)
  llmscale::RayServePolicy zero(llmscale::RayServeConfig{});
  CHECK(zero.propose(at_seconds(0), load(5), fleet(0)).replicas == 1);
  CHECK(zero.propose(at_seconds(1), load(5), fleet(0, 2)).replicas == 2);  // 2 on their way
}

TEST_CASE("AIBrix APA: ceil(N x use / target) outside the band, rate-capped") {
  llmscale::AibrixApaConfig c;  // target 0.5, +-10 %, rates 2
  const auto once = [&](double kv, int ready) {
    return llmscale::AibrixApaPolicy(c).propose(at_seconds(0), engines(ready, kv, 0, 0), fleet(ready)).replicas;
  };
  CHECK(once(0.54, 4) == 4);  // 1.08: inside the band
  CHECK(once(0.56, 4) == 5);  // ceil(4 x 1.12) = ceil(4.48)
  CHECK(once(0.44, 4) == 4);  // 0.88: ceil(3.52) = 4
  CHECK(once(0.30, 4) == 3);  // ceil(2.4)
  CHECK(once(1.00, 3) == 6);  // ceil(3 x 2) = 6 = the cap 2 x 3
  CHECK(once(0.05, 10) == 5); // ceil(1) capped at floor(10 / 2)
}

TEST_CASE("llm-d saturation: +1 on low spare capacity, -1 only if one fewer keeps spare, wait in transition") {
  llmscale::LlmdSaturationConfig c;  // KV 0.8, queue 5, triggers 0.1 and 3
  const auto once = [&](int reporting, int saturated, double kv_sum, long long queue_total, FleetState f) {
    Signals s;
    s.engines.replicas_reporting = reporting;
    s.engines.replicas_saturated = saturated;
    s.engines.unsaturated_kv_use_sum = kv_sum;
    s.engines.unsaturated_queue_total = queue_total;
    return llmscale::LlmdSaturationPolicy(c).propose(at_seconds(0), s, f).replicas;
  };
  CHECK(once(4, 4, 0, 0, fleet(4)) == 5);        // all saturated
  CHECK(once(4, 1, 3 * 0.75, 0, fleet(4)) == 5); // spare KV 0.05 < 0.1
  CHECK(once(4, 0, 4 * 0.3, 4 * 3, fleet(4)) == 5);  // spare queue 5 - 3 = 2 < 3
  CHECK(once(4, 0, 4 * 0.3, 4, fleet(4)) == 3);  // over 3: KV 0.8 - 0.4 = 0.4, queue 5 - 1.33: both spare
  CHECK(once(4, 0, 4 * 0.55, 4, fleet(4)) == 4); // over 3: KV 0.8 - 0.733 = 0.067 < 0.1: stay
  CHECK(once(4, 1, 3 * 0.2, 0, fleet(4)) == 3);  // a saturated replica does not block it: 0.3 and 0 over 2
  CHECK(once(4, 4, 0, 0, fleet(4, 1)) == 5);     // starting: wait (5 = current, ready + starting)
  CHECK(once(3, 0, 0, 0, fleet(4)) == 4);        // 3 of 4 reporting: in transition, wait
}

TEST_CASE("HPA on GPU metrics the host sets: busy fraction and memory, as per-replica averages") {
  llmscale::HpaConfig c;
  c.metric_1 = llmscale::HpaMetric::gpu_busy;
  c.target_1 = 0.7;
  Signals s;
  s.engines.replicas_reporting = 4;  // engine gauges are not what it reads
  s.engines.kv_utilization = 0.1;
  // no GPU metrics set: no data, no proposal of its own
  CHECK(llmscale::HpaPolicy(c).propose(at_seconds(0), s, fleet(4)).replicas == 4);
  s.gpu.replicas_reporting = 4;
  s.gpu.busy_fraction = 0.9;  // ratio 1.286: ceil(1.286 x 4) = ceil(5.14) = 6
  CHECK(llmscale::HpaPolicy(c).propose(at_seconds(0), s, fleet(4)).replicas == 6);
  // memory held at 0.9 whatever the load (preallocated KV) against 0.8: never below the fleet
  c.metric_1 = llmscale::HpaMetric::gpu_memory;
  c.target_1 = 0.8;
  s.gpu.memory_fraction = 0.9;  // ratio 1.125: ceil(4.5) = 5
  CHECK(llmscale::HpaPolicy(c).propose(at_seconds(0), s, fleet(4)).replicas == 5);
  CHECK(llmscale::set_config(c, "metric_2=gpu_busy") == std::nullopt);
}
