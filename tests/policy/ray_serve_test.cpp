// RayServePolicy against Ray Serve's own unit tests: the cases of ray-project/ray
// python/ray/serve/tests/unit/test_autoscaling_policy.py for the default policy
// (replica_queue_length_autoscaling_policy as _apply_autoscaling_config wraps it), with their
// numbers: `decide` takes Ray's total_num_requests; the fleet's ready replicas are its
// current_num_replicas and ready plus starting its target_num_replicas. Ray's bounds
// (min/max_replicas) are the Governor's, so the policy's answers here are unbounded, as the
// wrapper's are in Ray's tests.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

#include "llmscale/policy/ray_serve.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::RayServeConfig;
using llmscale::RayServePolicy;
using llmscale::Signals;
using llmscale::TimePoint;

namespace {

FleetState fleet(int running, int target) {
  FleetState f(running);
  if (target > running) f.add_starting(target - running, at_seconds(0));
  return f;
}

// Ray's decision at `t` (seconds) on `total` requests with `running` replicas of `target`.
int decide(RayServePolicy& ray, TimePoint t, double total, int running, int target) {
  return ray.decide(t, total, fleet(running, target)).replicas;
}
int decide(RayServePolicy& ray, double t, double total, int running, int target) {
  return decide(ray, at_seconds(t), total, running, target);
}

// _run_upscale_downscale_flow: each call is one control-loop step of 0.1 s.
void upscale_downscale_flow(RayServePolicy& ray, double overload, int start, int upscale_target) {
  const RayServeConfig& c = ray.config();
  const int up_wait = static_cast<int>(std::ceil(c.upscale_delay_s * 10));
  const int down_wait = static_cast<int>(std::ceil(c.downscale_delay_s * 10));
  const int zero_wait = static_cast<int>(
      std::ceil((c.downscale_to_zero_delay_s > 0 ? c.downscale_to_zero_delay_s : c.downscale_delay_s) * 10));
  long long tick = 0;
  const auto step = [&](double total, int running, int target) {
    return decide(ray, TimePoint(std::chrono::milliseconds(100 * tick++)), total, running, target);
  };
  // scale up only after enough consecutive scale-up decisions
  for (int i = 0; i < up_wait; ++i) REQUIRE(step(overload, start, start) == start);
  CHECK(step(overload, start, start) == upscale_target);
  // scale down (to 1 first) only after enough consecutive scale-down decisions
  for (int i = 0; i < down_wait; ++i) REQUIRE(step(0, upscale_target, upscale_target) == upscale_target);
  CHECK(step(0, upscale_target, upscale_target) == 1);
  // 1 -> 0 only after enough consecutive downscale-to-zero decisions
  for (int i = 0; i < zero_wait; ++i) REQUIRE(step(0, 1, 1) == 1);
  CHECK(step(0, 1, 1) == 0);
  // some scale-up decisions, interrupted by a scale-down one: the count starts again
  for (int i = 0; i < up_wait / 2; ++i) REQUIRE(step(overload, 1, 1) == 1);
  (void)step(0, 1, 1);
  for (int i = 0; i < up_wait; ++i) REQUIRE(step(overload, 1, 1) == 1);
  CHECK(step(overload, 1, 1) == upscale_target);
  // some scale-down decisions, interrupted by the overload
  for (int i = 0; i < down_wait / 2; ++i) REQUIRE(step(0, upscale_target, upscale_target) == upscale_target);
  (void)step(overload, upscale_target, upscale_target);
  for (int i = 0; i < down_wait; ++i) REQUIRE(step(0, upscale_target, upscale_target) == upscale_target);
  CHECK(step(0, upscale_target, upscale_target) == 1);
  // some downscale-to-zero decisions, interrupted by a scale-up one
  for (int i = 0; i < zero_wait / 2; ++i) REQUIRE(step(0, 1, 1) == 1);
  (void)step(overload, 1, 1);
  for (int i = 0; i < zero_wait; ++i) REQUIRE(step(0, 1, 1) == 1);
  CHECK(step(0, 1, 1) == 0);
}

Signals load(double in_flight) {
  Signals s;
  s.running_now = in_flight;
  return s;
}

}  // namespace

TEST_CASE("ray: the upscaling factor from 0 replicas (test_scaling_factor_scale_up_from_0_replicas)") {
  RayServeConfig c;
  c.upscaling_factor = 10;
  RayServePolicy ray(c);
  CHECK(decide(ray, 0, 1, 0, 0) == 10);  // 1 x 10
  c.upscaling_factor = 0.5;
  RayServePolicy half(c);
  CHECK(decide(half, 0, 1, 0, 0) == 1);  // ceil(1 x 0.5)
}

TEST_CASE("ray: down to 0 through 1 (test_scaling_factor_scale_down_to_0_replicas)") {
  RayServeConfig c;
  c.downscaling_factor = 10;
  c.upscale_delay_s = 0;
  c.downscale_delay_s = 0;
  RayServePolicy ray(c);
  CHECK(decide(ray, 0, 0, 5, 5) == 1);  // first stops at 1
  CHECK(decide(ray, 1, 0, 1, 1) == 0);
  c.downscaling_factor = 0.2;  // never stuck at a positive count: 4, 3, 2, 1, 0
  RayServePolicy slow(c);
  int n = 5;
  for (int i = 0; i < 5; ++i) n = decide(slow, i, 0, n, n);
  CHECK(n == 0);
}

TEST_CASE("ray: upscale, downscale and downscale-to-zero delays (test_upscale_downscale_delay)") {
  for (const double to_zero : {-1.0, 300.0}) {  // None, 300
    CAPTURE(to_zero);
    RayServeConfig c;
    c.target_ongoing_requests = 1;
    c.upscale_delay_s = 30;
    c.downscale_delay_s = 600;
    c.downscale_to_zero_delay_s = to_zero;
    RayServePolicy ray(c);
    CHECK(decide(ray, 0, 1, 0, 0) == 1);  // 0 replicas and a request: at once
    RayServePolicy flow(c);
    upscale_downscale_flow(flow, 2, 1, 2);
  }
}

TEST_CASE("ray: replicas slow to start (test_replicas_delayed_startup)") {
  RayServeConfig c;
  c.upscale_delay_s = 0;
  c.downscale_delay_s = 86400;  // Ray: 100000, past the config's range (86400): the same here
  c.target_ongoing_requests = 1;
  RayServePolicy ray(c);
  CHECK(decide(ray, 0, 100, 1, 1) == 100);
  CHECK(decide(ray, 1, 100, 1, 100) == 100);  // none of the 99 started yet
  CHECK(decide(ray, 2, 123, 3, 100) == 123);  // 2 started
  CHECK(decide(ray, 3, 10, 4, 123) == 123);   // drained, but the downscale delay holds
}

TEST_CASE("ray: fluctuating load never waits out a delay (test_fluctuating_ongoing_requests)") {
  for (const double delay : {30.0, 0.0}) {
    CAPTURE(delay);
    RayServeConfig c;
    c.upscale_delay_s = delay;
    c.downscale_delay_s = delay;
    c.target_ongoing_requests = 50;
    RayServePolicy ray(c);
    for (int trial = 0; trial < 1000; ++trial) {
      CAPTURE(trial);
      const double t = trial * 0.1;
      if (trial % 2 == 0) {
        REQUIRE(decide(ray, t, 100, 1, 1) == (delay > 0 ? 1 : 2));
      } else {
        REQUIRE(decide(ray, t, 40, 2, 2) == (delay > 0 ? 2 : 1));
      }
    }
  }
}

TEST_CASE("ray: one replica receives all the requests (test_single_replica_receives_all_requests)") {
  RayServeConfig c;
  c.target_ongoing_requests = 5;
  c.upscale_delay_s = 0;
  c.downscale_delay_s = 0;
  for (const double ongoing : {20.0, 100.0, 10.0}) {
    RayServePolicy ray(c);
    CHECK(decide(ray, 0, ongoing, 4, 4) == static_cast<int>(ongoing / 5));
  }
}

TEST_CASE("ray: the scaling factors and the stuck downscale (test_apply_scaling_factors_*)") {
  RayServeConfig c;  // target 2 ongoing per replica: total = 2 x the desired count
  c.upscale_delay_s = 0;
  c.downscale_delay_s = 0;
  c.upscaling_factor = 0.5;
  c.downscaling_factor = 0.5;
  RayServePolicy ray(c);
  CHECK(decide(ray, 0, 40, 10, 10) == 15);  // 10 + 0.5 (20 - 10)
  CHECK(decide(ray, 1, 10, 20, 20) == 13);  // ceil(20 - 0.5 (20 - 5)) = ceil(12.5)
  CHECK(decide(ray, 2, 18, 10, 10) == 9);   // ceil(9.5) = 10 is stuck: one step down
}

TEST_CASE("ray: the delays are wall clock (test_apply_delay_logic_*, test_upscale_delay_respected_with_slow_loop_steps)") {
  {
    RayServeConfig c;
    c.target_ongoing_requests = 1;
    c.upscale_delay_s = 0.3;
    RayServePolicy ray(c);
    for (int i = 0; i < 3; ++i) CHECK(decide(ray, 1000 + i * 0.05, 5, 1, 1) == 1);
    CHECK(decide(ray, 1000.31, 5, 1, 1) == 5);
  }
  {
    RayServeConfig c;
    c.downscale_delay_s = 0.3;
    c.downscale_to_zero_delay_s = 0.4;
    RayServePolicy ray(c);
    for (int i = 0; i < 3; ++i) CHECK(decide(ray, 1000 + i * 0.05, 0, 4, 4) == 4);
    CHECK(decide(ray, 1000.31, 0, 4, 4) == 1);  // 4 -> 1 first
    for (int i = 0; i < 3; ++i) CHECK(decide(ray, 1000.5 + i * 0.1, 0, 1, 1) == 1);
    CHECK(decide(ray, 1000.91, 0, 1, 1) == 0);  // 1 -> 0 after its own 0.4 s
  }
  {  // steps of 0.6 s and a 100 s delay: the scale-up comes within one step of 100 s
    RayServeConfig c;
    c.target_ongoing_requests = 1;
    c.upscale_delay_s = 100;
    RayServePolicy ray(c);
    double fired = -1;
    for (int i = 0; i < 1000 && fired < 0; ++i) {
      const double t = i * 0.6;
      if (decide(ray, t, 5, 1, 1) != 1) fired = t;
    }
    CHECK(fired >= 100);
    CHECK(fired <= 100.6);
  }
}

// What autoscaling_policy.py does and llmscale's Ray Serve did not, through propose() (the API
// that existed before): each fails on the earlier code.
TEST_CASE("Ray Serve: from zero with traffic, max(ceil(upscaling_factor), target), not the whole demand") {
  RayServePolicy ray{RayServeConfig{}};
  CHECK(ray.propose(at_seconds(0), load(5), FleetState(0)).replicas == 1);
}

TEST_CASE("Ray Serve: a downscale the rounding leaves in place steps down by 1 - it stops at 1 first") {
  RayServeConfig c;
  c.downscaling_factor = 0.5;
  c.downscale_delay_s = 0;
  RayServePolicy ray(c);
  // 18 ongoing at 2 per replica wants 9: ceil(10 + 0.5 (9 - 10)) = 10, stuck: 9
  CHECK(ray.propose(at_seconds(0), load(18), FleetState(10)).replicas == 9);
  RayServeConfig d;
  d.downscale_delay_s = 0;
  RayServePolicy idle(d);
  CHECK(idle.propose(at_seconds(0), load(0), FleetState(4)).replicas == 1);  // not 0: 1 -> 0 waits its own delay
}
