// The Governor against the HPA's documented behaviour worked out by hand: stabilization
// windows, Pods/Percent rate policies with selectPolicy, cooldowns, stale signals, scale to
// zero and activation, bounds.
#include <doctest/doctest.h>

#include "llmscale/policy/governor.hpp"

using llmscale::at_seconds;
using llmscale::Constraint;
using llmscale::FleetState;
using llmscale::Governor;
using llmscale::GovernorConfig;
using llmscale::Proposal;
using llmscale::SelectPolicy;
using llmscale::SignalState;

namespace {
Proposal want(int n) { return Proposal{"test", n, static_cast<double>(n), "test"}; }
// Decides at t with a fleet of `current` ready replicas.
int decide(Governor& g, double t, int current, int proposal, SignalState s = {false, true}) {
  return g.decide(at_seconds(t), "test", want(proposal), FleetState(current), s).desired_replicas;
}
}  // namespace

TEST_CASE("scale-down stabilization: the greatest recommendation of the last 300 s") {
  Governor g(GovernorConfig{}, at_seconds(0));
  CHECK(decide(g, 0, 10, 10) == 10);
  CHECK(decide(g, 15, 10, 4) == 10);   // 10 recommended at t = 0 is in the window
  CHECK(decide(g, 150, 10, 6) == 10);
  CHECK(decide(g, 299, 10, 5) == 10);
  CHECK(decide(g, 301, 10, 5) == 6);   // t = 0 left the window; the greatest since is 6 (t = 150)
  const auto d = g.decide(at_seconds(451), "test", want(5), FleetState(6), {false, true});
  CHECK(d.desired_replicas == 5);      // 6 (t = 150) left too
  CHECK(d.binding == Constraint::none);
}

TEST_CASE("scale-up rate: 4 pods or 100 % per 15 s, selectPolicy max and min") {
  GovernorConfig c;
  c.scale_down_stabilization_s = 0;
  Governor g(c, at_seconds(0));
  CHECK(decide(g, 0, 2, 20) == 6);   // max(2 + 4, ceil(2 x 2) = 4) = 6
  CHECK(decide(g, 5, 6, 20) == 6);   // the period started at 2: 6 is still the limit
  CHECK(decide(g, 16, 6, 20) == 12); // a new period from 6: max(10, 12)
  c.scale_up_select = SelectPolicy::min;
  Governor h(c, at_seconds(0));
  CHECK(decide(h, 0, 2, 20) == 4);   // min(6, 4)
  c.scale_up_select = SelectPolicy::disabled;
  Governor k(c, at_seconds(0));
  const auto d = k.decide(at_seconds(0), "test", want(20), FleetState(2), {false, true});
  CHECK(d.desired_replicas == 2);
  CHECK(d.binding == Constraint::rate_limit);
}

TEST_CASE("scale-down rate: Percent floor(start (1 - p)) and Pods, combined by selectPolicy") {
  GovernorConfig c;
  c.scale_down_stabilization_s = 0;
  c.scale_down_percent = 50;
  Governor g(c, at_seconds(0));
  CHECK(decide(g, 0, 10, 1) == 5);   // floor(10 x 0.5)
  CHECK(decide(g, 5, 5, 1) == 5);    // the period started at 10: 5 is the limit
  CHECK(decide(g, 16, 5, 1) == 2);   // floor(5 x 0.5)
  c.scale_down_pods = 1;             // Pods 1 and Percent 50: max picks the larger change
  Governor h(c, at_seconds(0));
  CHECK(decide(h, 0, 10, 1) == 5);
  c.scale_down_select = SelectPolicy::min;  // the smaller change
  Governor k(c, at_seconds(0));
  CHECK(decide(k, 0, 10, 1) == 9);
}

TEST_CASE("cooldowns, bounds, stale signals") {
  GovernorConfig c;
  c.scale_down_stabilization_s = 0;
  c.scale_up_cooldown_s = 60;
  c.min_replicas = 2;
  c.max_replicas = 12;
  Governor g(c, at_seconds(0));
  CHECK(decide(g, 0, 4, 5) == 5);
  CHECK(decide(g, 30, 5, 7) == 5);   // within the scale-up cooldown
  CHECK(decide(g, 61, 5, 7) == 7);
  CHECK(decide(g, 62, 7, 1) == 2);   // min_replicas
  CHECK(decide(g, 200, 2, 40) == 6); // the rate limit (2 + 4) ...
  CHECK(decide(g, 300, 10, 40) == 12);  // ... and max_replicas
  // stale: a proposed scale-down holds; floor goes to max(current, floor)
  const auto d = g.decide(at_seconds(400), "test", want(3), FleetState(8), {true, true});
  CHECK(d.desired_replicas == 8);
  CHECK(d.binding == Constraint::stale_signals);
  c.stale_fallback = llmscale::StaleFallback::floor;
  c.stale_floor_replicas = 10;
  c.scale_up_cooldown_s = 0;
  Governor f(c, at_seconds(0));
  CHECK(decide(f, 0, 8, 3, {true, true}) == 10);
  CHECK(decide(f, 100, 11, 3, {true, true}) == 11);
}

TEST_CASE("scale to zero after the grace period - activation from zero on demand") {
  GovernorConfig c;
  c.min_replicas = 0;
  c.scale_down_stabilization_s = 0;
  c.activation_replicas = 2;
  Governor g(c, at_seconds(0));
  CHECK(decide(g, 0, 1, 0, {false, true}) == 1);    // demand now
  CHECK(decide(g, 20, 1, 0, {false, false}) == 1);  // 20 s idle < 30 s grace
  const auto d = g.decide(at_seconds(31), "test", want(0), FleetState(1), {false, false});
  CHECK(d.desired_replicas == 0);
  const auto a = g.decide(at_seconds(40), "test", want(0), FleetState(0), {false, true});
  CHECK(a.desired_replicas == 2);
  CHECK(a.binding == Constraint::activation);
}

TEST_CASE("the stabilization windows start out holding the fleet first seen (the HPA's recordInitialRecommendation)") {
  // kubernetes horizontal.go seeds a new HPA's recommendations with the current replicas, so a
  // first tick that sees no load yet does not drop a fleet sized for the load on its way
  GovernorConfig c;  // scale-down stabilization 300 s
  Governor g(c, at_seconds(0));
  CHECK(decide(g, 0, 18, 1) == 18);
  CHECK(decide(g, 299, 18, 1) == 18);
  CHECK(decide(g, 301, 18, 1) < 18);  // the seed has left the window
  c.scale_down_stabilization_s = 0;   // a window of 0 s holds nothing from before now
  Governor h(c, at_seconds(0));
  CHECK(decide(h, 0, 18, 1) < 18);
}

// The rate limits and stabilization against Kubernetes' horizontal_test.go (TestScalingWithRules,
// TestCalculateScale*Limit*, TestNormalizeDesiredReplicas), with their numbers. Kubernetes'
// tests hand the controller a list of past scale events; here those events are made by
// earlier decisions at the same ages (generateEventsUniformDistribution puts 3 events over
// 120 s at 100, 60 and 20 s ago, 1 event at 60 s ago). Each policy's period is one per
// direction here (scale_up_period_s, scale_down_period_s), so cases whose two policies have
// different periods are left out; so are those whose events a single policy could not have made.
namespace {
// A governor with Kubernetes' HPA rules: no stabilization unless given, the named policies.
GovernorConfig rules(int up_pods, double up_percent, double up_period, int down_pods, double down_percent,
                     double down_period) {
  GovernorConfig c;
  c.min_replicas = 1;
  c.max_replicas = 1000;
  c.scale_up_stabilization_s = 0;
  c.scale_down_stabilization_s = 0;
  c.scale_up_pods = up_pods;
  c.scale_up_percent = up_percent;
  c.scale_up_period_s = up_period;
  c.scale_down_pods = down_pods;
  c.scale_down_percent = down_percent;
  c.scale_down_period_s = down_period;
  return c;
}
GovernorConfig up_rules(int pods, double percent, double period) { return rules(pods, percent, period, 0, 100, 15); }
GovernorConfig down_rules(int pods, double percent, double period) { return rules(4, 100, 15, pods, percent, period); }
}  // namespace

TEST_CASE("kubernetes: rate limits count the period's scale-ups and scale-downs both (previous scale up and down events)") {
  {  // scaleUp with percent policy and previous scale up and down events: 6 - 4 + 2 = 4, +300 %
    Governor g(up_rules(0, 300, 300), at_seconds(0));
    CHECK(decide(g, 0, 4, 2) == 2);  // 2 removed ...
    CHECK(decide(g, 1, 2, 6) == 6);  // ... 4 added, both 60 s before the next
    CHECK(decide(g, 61, 6, 24) == 16);
  }
  {  // scaleDown with percent policy and previous scale up and down events: 10 - 2 + 4 = 12, -50 %
    Governor g(down_rules(0, 50, 180), at_seconds(0));
    CHECK(decide(g, 0, 12, 8) == 8);    // 4 removed ...
    CHECK(decide(g, 1, 8, 10) == 10);   // ... 2 added
    CHECK(decide(g, 61, 10, 1) == 6);
  }
}

TEST_CASE("kubernetes: TestScalingWithRules without earlier events") {
  GovernorConfig d = rules(4, 100, 15, 0, 100, 15);  // the default behaviour
  {
    Governor g(d, at_seconds(0));
    CHECK(decide(g, 0, 10, 50) == 20);  // scaleUp with default behavior
  }
  const struct {
    const char* name;
    GovernorConfig config;
    int current, desired, want;
  } rows[] = {
      {"scaleUp with pods policy larger than percent policy", up_rules(100, 100, 60), 10, 500, 110},
      {"scaleUp with percent policy larger than pods policy", up_rules(2, 100, 60), 10, 500, 20},
      {"scaleUp with spec MaxReplicas limitation with large pod policy", up_rules(100, 0, 60), 10, 50, 50},
      {"scaleUp with spec MaxReplicas limitation with large percent policy", up_rules(10000, 0, 60), 10, 50, 50},
      {"scaleUp with pod policy limitation", up_rules(30, 0, 60), 10, 50, 40},
      {"scaleUp with percent policy limitation", up_rules(0, 200, 60), 10, 50, 30},
      {"scaleDown with percent policy larger than pod policy", down_rules(20, 1, 60), 100, 2, 80},
      {"scaleDown with pod policy larger than percent policy", down_rules(2, 1, 60), 100, 2, 98},
      {"scaleDown with spec MinReplicas=nil limitation with large pod policy", down_rules(100, 0, 60), 10, 0, 1},
      {"scaleDown with pod policy limitation", down_rules(5, 0, 60), 10, 2, 5},
      {"scaleDown with percent policy limitation", down_rules(0, 50, 60), 10, 5, 5},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    Governor g(r.config, at_seconds(0));
    CHECK(decide(g, 0, r.current, r.desired) == r.want);
  }
  GovernorConfig min5 = down_rules(0, 100, 60);  // scaleDown with spec MinReplicas limitation with large percent policy
  min5.min_replicas = 5;
  Governor g(min5, at_seconds(0));
  CHECK(decide(g, 0, 10, 2) == 5);
}

TEST_CASE("kubernetes: TestScalingWithRules with earlier events") {
  {  // scaleUp with pod policy and previous scale up events: 100 - 15 + 150
    Governor g(up_rules(150, 0, 120), at_seconds(0));
    CHECK(decide(g, 0, 85, 86) == 86);
    CHECK(decide(g, 40, 86, 91) == 91);
    CHECK(decide(g, 80, 91, 100) == 100);
    CHECK(decide(g, 100, 100, 500) == 235);
  }
  {  // scaleUp with percent policy and previous scale up events: (100 - 15) + 200 %
    Governor g(up_rules(0, 200, 120), at_seconds(0));
    CHECK(decide(g, 0, 85, 86) == 86);
    CHECK(decide(g, 40, 86, 91) == 91);
    CHECK(decide(g, 80, 91, 100) == 100);
    CHECK(decide(g, 100, 100, 500) == 255);
  }
  {  // scaleUp with spec MaxReplicas limitation with large pod policy and events
    GovernorConfig c = up_rules(300, 0, 60);
    c.max_replicas = 200;
    Governor g(c, at_seconds(0));
    CHECK(decide(g, 0, 85, 86) == 86);
    CHECK(decide(g, 40, 86, 91) == 91);
    CHECK(decide(g, 80, 91, 100) == 100);
    CHECK(decide(g, 100, 100, 500) == 200);
  }
  {  // scaleDown with percent policy limitation and previous events: (100 + 12) - 50 %
    Governor g(down_rules(0, 50, 120), at_seconds(0));
    CHECK(decide(g, 0, 112, 110) == 110);
    CHECK(decide(g, 40, 110, 106) == 106);
    CHECK(decide(g, 80, 106, 100) == 100);
    CHECK(decide(g, 100, 100, 0) == 56);
  }
}

TEST_CASE("kubernetes: selectPolicy Min (TestCalculateScaleUpLimitWithScalingRules, ...DownLimitWithBehaviors)") {
  GovernorConfig up = up_rules(2, 50, 60);
  up.scale_up_select = SelectPolicy::min;
  Governor g(up, at_seconds(0));
  CHECK(decide(g, 0, 1, 100) == 2);  // min(1 + 2, ceil(1.5))
  GovernorConfig down = down_rules(2, 50, 60);
  down.scale_down_select = SelectPolicy::min;
  Governor h(down, at_seconds(0));
  CHECK(decide(h, 0, 5, 1) == 3);  // the smaller change: max(5 - 2, floor(2.5))
}

TEST_CASE("kubernetes: TestNormalizeDesiredReplicas (a 5-minute scale-down stabilization window)") {
  GovernorConfig c = rules(4, 100, 15, 0, 100, 15);
  c.scale_down_stabilization_s = 300;
  {  // stabilize: 4 two minutes ago, 5 one minute ago, 3 now: 5
    Governor g(c, at_seconds(0));
    CHECK(decide(g, 0, 4, 4) == 4);
    CHECK(decide(g, 60, 4, 5) == 5);
    CHECK(decide(g, 120, 5, 3) == 5);
  }
  {  // no stabilize: 1, 2, then 3
    Governor g(c, at_seconds(0));
    CHECK(decide(g, 0, 1, 1) == 1);
    CHECK(decide(g, 60, 1, 2) == 2);
    CHECK(decide(g, 120, 2, 3) == 3);
  }
  {  // no stabilize - old recommendations: 10 and 9 ten and nine minutes ago, 3 now
    Governor g(c, at_seconds(0));
    CHECK(decide(g, 0, 10, 10) == 10);
    CHECK(decide(g, 60, 10, 9) == 10);
    CHECK(decide(g, 600, 10, 3) == 3);
  }
  {  // stabilize - old recommendations: 10, 9 (too old), 5 and 4 (within), 3 now: 5
    Governor g(c, at_seconds(0));
    CHECK(decide(g, 0, 10, 10) == 10);
    CHECK(decide(g, 60, 10, 9) == 10);
    CHECK(decide(g, 480, 10, 5) == 5);
    CHECK(decide(g, 540, 5, 4) == 5);
    CHECK(decide(g, 600, 5, 3) == 5);
  }
}

TEST_CASE("governor: a decision repeated while the fleet has not followed is one scale event, not one a tick") {
  // behind llmscale-scaler, KEDA's HPA carries the count out on its own sync (and may hold it
  // within its tolerance): the fleet stays at 29 while the governor is asked for 40 every tick.
  // The default rate limit (4 pods or 100 % per 15 s) allows 58; counted anew each tick, the
  // period's start (current - added) fell to 18, then 11, and froze the answer at 29.
  Governor g(GovernorConfig{}, at_seconds(0));
  for (int t = 1; t <= 10; ++t) {
    INFO("t = " << t);
    CHECK(decide(g, t, 29, 40) == 40);
  }
  // the fleet follows at t = 11; a further rise within the same 15 s period starts from
  // 40 - 11 added = 29: at most 58
  CHECK(decide(g, 11, 40, 80) == 58);
}
