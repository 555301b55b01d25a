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
