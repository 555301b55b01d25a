// KpaPolicy against Knative Serving's own unit tests: the cases of
// knative/serving pkg/autoscaler/scaling/autoscaler_test.go that KpaConfig can express, with
// their numbers (stable and panic averages fed to `scale`, as Knative's tests feed its metric
// client), and the behaviours that differed from autoscaler.go before.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "llmscale/policy/kpa.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::KpaConfig;
using llmscale::KpaPolicy;
using llmscale::Signals;

namespace {

// Knative's test DeciderSpec (newTestAutoscaler): TargetValue `target`, PanicThreshold 2,
// MaxScaleUpRate 10, MaxScaleDownRate 10, StableWindow 60 s.
KpaConfig spec(double target) {
  KpaConfig c;
  c.container_concurrency = target;
  c.target_utilization = 1.0;
  c.stable_window_s = 60;
  c.panic_threshold = 2;
  c.max_scale_up_rate = 10;
  c.max_scale_down_rate = 10;
  return c;
}

// A KPA as Knative's tests make one: created at t0 with one ready pod (not in panic).
KpaPolicy fresh(const KpaConfig& c, double t0 = 0, int ready = 1) { return KpaPolicy(c, at_seconds(t0), ready); }

int scale(KpaPolicy& kpa, double t, double stable, double panic, int ready) {
  return kpa.scale(at_seconds(t), stable, panic, ready).replicas;
}

Signals load(double in_flight) {
  Signals s;
  s.running_now = in_flight;
  return s;
}

}  // namespace

TEST_CASE("knative: scale-down delay - simple, then gradual (TestAutoscalerScaleDownDelay)") {
  KpaConfig c = spec(10);
  c.panic_threshold = 100;
  c.scale_down_delay_s = 300;  // 5 minutes; the window's buckets are the 2 s tick
  KpaPolicy kpa = fresh(c, 0, 0);
  // simple
  CHECK(scale(kpa, 2, 40, 40, 0) == 4);
  CHECK(scale(kpa, 300, 0, 0, 0) == 4);  // 5 minutes at no load: still within the delay
  CHECK(scale(kpa, 302, 0, 0, 0) == 0);  // 4 (recorded at 2 s) is exactly 300 s old: gone
  // gradual
  CHECK(scale(kpa, 540, 40, 40, 0) == 4);
  CHECK(scale(kpa, 600, 30, 30, 0) == 4);  // 4 still dominates
  CHECK(scale(kpa, 660, 0, 0, 0) == 4);
  CHECK(scale(kpa, 840, 0, 0, 0) == 3);  // 4 scrolls out, drop to 3
  CHECK(scale(kpa, 900, 0, 0, 0) == 0);  // everything scrolled out
}

TEST_CASE("knative: no scale-down delay means no window at all (TestAutoscalerScaleDownDelayZero)") {
  KpaConfig c = spec(10);
  c.panic_threshold = 100;
  KpaPolicy kpa = fresh(c, 0, 0);
  CHECK(scale(kpa, 0, 40, 40, 0) == 4);
  CHECK(scale(kpa, 0.5, 20, 20, 0) == 2);
}

TEST_CASE("knative: stable mode up and down, scale to zero, activation scale") {
  {  // TestAutoscalerStableModeIncreaseWithConcurrencyDefault
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 50, 10, 1) == 5);
    CHECK(scale(kpa, 0, 100, 10, 1) == 10);
  }
  {  // TestAutoscalerStableModeDecrease
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 100, 100, 8) == 10);
    CHECK(scale(kpa, 0, 50, 50, 8) == 5);
  }
  {  // TestAutoscalerStableModeNoTrafficScaleToZero
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 1, 0, 1) == 1);
    CHECK(scale(kpa, 0, 0, 0, 1) == 0);
  }
  {  // TestAutoscalerActivationScale
    KpaConfig c = spec(10);
    c.activation_scale = 2;
    KpaPolicy kpa = fresh(c);
    CHECK(scale(kpa, 0, 0, 0, 1) == 0);
    CHECK(scale(kpa, 0, 1, 0, 1) == 2);
  }
}

TEST_CASE("knative: panic begins, extends, and ends a whole stable window after the last time over") {
  {  // TestAutoscalerUnpanicAfterSlowIncrease
    KpaPolicy kpa = fresh(spec(1));
    CHECK(scale(kpa, 100, 11, 25, 10) == 25);  // 25 / 10 = 2.5 >= 2: panic
    CHECK(kpa.panicking());
    CHECK(kpa.panic_time() == at_seconds(100));
    CHECK(scale(kpa, 130, 30, 41, 40) == 41);  // 41 / 40 < 2: panic holds, its time stays
    CHECK(kpa.panic_time() == at_seconds(100));
    CHECK(scale(kpa, 162, 50, 56, 55) == 50);  // 62 s after: no longer in panic
    CHECK_FALSE(kpa.panicking());
  }
  {  // TestAutoscalerExtendPanicWindow
    KpaPolicy kpa = fresh(spec(1));
    CHECK(scale(kpa, 100, 11, 25, 10) == 25);
    CHECK(scale(kpa, 130, 30, 80, 40) == 80);  // 80 / 40 = 2: still over, the panic time moves
    CHECK(kpa.panic_time() == at_seconds(130));
  }
  {  // TestAutoscalerPanicModeExponentialTrackAndStabilize
    KpaPolicy kpa = fresh(spec(1));
    CHECK(scale(kpa, 10, 6, 6, 1) == 6);
    CHECK(scale(kpa, 10, 36, 36, 6) == 36);
    CHECK(kpa.panic_time() == at_seconds(10));
    CHECK(scale(kpa, 11, 216, 216, 36) == 216);
    CHECK(kpa.panic_time() == at_seconds(11));
    CHECK(scale(kpa, 11, 1296, 1296, 216) == 1296);
    CHECK(scale(kpa, 12, 1296, 1296, 1296) == 1296);
  }
  {  // TestAutoscalerPanicThenUnPanicScaleDown
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 100, 100, 1) == 10);
    CHECK(scale(kpa, 1, 100, 1000, 10) == 100);
    CHECK(scale(kpa, 31, 1, 1, 10) == 100);  // traffic dropped: still in panic
    CHECK(scale(kpa, 61, 1, 1, 10) == 100);  // exactly a stable window after: Knative's Before() is strict
    CHECK(scale(kpa, 62, 1, 1, 10) == 1);    // a stable window has passed (Knative checks 61 s after)
  }
}

TEST_CASE("knative: the TestAutoscalerScale table (the cases KpaConfig can express)") {
  struct Row {
    const char* label;
    double target, stable, panic;
    int ready;
    int want;
  };
  const Row rows[] = {
      {"AutoscalerNoDataAtZeroNoAutoscale", 10, 0, 0, 1, 0},
      {"AutoscalerStableModeUnlimitedTBC", 181, 21, 26, 1, 1},
      {"Autoscaler0TBC", 10, 50, 49, 1, 5},
      {"AutoscalerStableModeNoChange", 10, 50, 50, 1, 5},
      {"AutoscalerStableModeNoChangeAlreadyScaled", 10, 50, 50, 5, 5},
      {"AutoscalerPanicModeDoublePodCount", 10, 50, 100, 1, 10},
  };
  for (const Row& r : rows) {
    CAPTURE(r.label);
    KpaPolicy kpa = fresh(spec(r.target));
    CHECK(scale(kpa, 0, r.stable, r.panic, r.ready) == r.want);
  }
  // AutoscalerPanicStableLargerThanPanic / LessThanPanic: in panic since 5 s ago holding 5
  // (here: created 5 s ago with 5 ready, so it starts in panic holding 5)
  KpaPolicy larger(spec(1), at_seconds(0), 5);
  CHECK(scale(larger, 5, 50, 30, 5) == 50);  // the stable count, it being larger
  KpaPolicy less(spec(1), at_seconds(0), 5);
  CHECK(scale(less, 5, 20, 30, 5) == 30);
  // AutoscalerStableModeIncreaseWithSmallScaleUpRate: maxUp = ceil(1.1 x 2) = 3
  KpaConfig up = spec(1);
  up.max_scale_up_rate = 1.1;
  KpaPolicy small_up = fresh(up);
  CHECK(scale(small_up, 0, 3, 3.1, 2) == 3);
  // AutoscalerStableModeDecreaseWithSmallScaleDownRate: maxDown = floor(100 / 1.1) = 90
  KpaConfig down = spec(10);
  down.max_scale_down_rate = 1.1;
  KpaPolicy small_down = fresh(down);
  CHECK(scale(small_down, 0, 1, 1, 100) == 90);
}

TEST_CASE("knative: rate limits and a missing ready count") {
  {  // TestAutoscalerRateLimitScaleUp: needs 100, may only go x10
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 1000, 1001, 1) == 10);
    CHECK(scale(kpa, 0, 1000, 1001, 10) == 100);
  }
  {  // TestAutoscalerRateLimitScaleDown
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 1, 1, 100) == 10);
    CHECK(scale(kpa, 0, 1, 1, 10) == 1);
  }
  {  // TestAutoscalerUseOnePodAsMinimumIfEndpointsNotFound
    KpaPolicy kpa = fresh(spec(10));
    CHECK(scale(kpa, 0, 1000, 888, 0) == 10);
  }
}

TEST_CASE("knative: a new autoscaler starts in panic only with more than one ready pod (TestStartInPanicMode)") {
  KpaConfig c = spec(100);
  c.panic_threshold = 220;
  for (int ready = 0; ready < 2; ++ready) {
    KpaPolicy kpa(c, at_seconds(0), ready);
    CHECK_FALSE(kpa.panicking());
  }
  KpaPolicy two(c, at_seconds(0), 2);
  CHECK(two.panicking());
  CHECK(scale(two, 2, 10, 10, 2) == 2);  // holds the 2 it was created with (maxPanicPods)
}

TEST_CASE("KPA: no data leaves the last count standing - huge rates and loads stay in range") {
  KpaPolicy kpa = fresh(spec(10));
  CHECK(scale(kpa, 0, 50, 50, 1) == 5);
  CHECK(scale(kpa, 2, std::nan(""), 50, 1) == 5);
  CHECK(scale(kpa, 4, 50, std::numeric_limits<double>::infinity(), 1) == 5);
  KpaConfig big = spec(0.01);
  big.max_scale_up_rate = 1e6;
  KpaPolicy huge = fresh(big);
  const int r = scale(huge, 0, 1e300, 1e300, 100'000);  // maxUp 10^11: clamped, not overflowed
  CHECK(r == FleetState::max_replicas);
}

// What autoscaler.go does and llmscale's KPA did not, through propose() (the API that
// existed before): each fails on the earlier code.
TEST_CASE("KPA: panic compares the ceiled panic count with the ready count") {
  KpaConfig c = spec(10);
  // 31 in flight on 2 ready: 31 / 10 / 2 = 1.55 is under 2, but ceil(3.1) / 2 = 2 is not
  KpaPolicy kpa(c, at_seconds(0));
  for (int t = 0; t <= 130; t += 2) (void)kpa.propose(at_seconds(t), load(31), FleetState(2));
  CHECK(kpa.panicking());  // over the threshold at every decision: panic lasts
}

TEST_CASE("KPA: a fresh KPA with one ready replica does not start in panic") {
  KpaPolicy kpa(spec(10), at_seconds(0));
  (void)kpa.propose(at_seconds(0), load(1), FleetState(1));
  CHECK_FALSE(kpa.panicking());
  KpaPolicy four(spec(10), at_seconds(0));
  CHECK(four.propose(at_seconds(0), load(1), FleetState(4)).replicas == 4);  // in panic, holding 4
  CHECK(four.panicking());
}
