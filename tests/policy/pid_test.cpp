// llmscale-pid in closed loop against a plant (tests/support/fluid_plant.hpp): a fluid queue
// in front of M/M/c replicas whose scale-ups take a provisioning delay. The feed-forward is a
// deliberately wrong model (it thinks a replica serves 25 % more than it does), so the PID has
// real work to do. Then the terms against hand computations.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "support/fluid_plant.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;
using llmscale_test::OptimisticModel;
using llmscale_test::Plant;
using llmscale_test::pid_config;
using llmscale_test::replicas_needed;
using llmscale_test::run;
using llmscale_test::Run;

TEST_CASE("the plant's sizing is Erlang C's: 40 req/s at a 0.5 s p99 wait needs 47 replicas of 1 req/s") {
  // independent check of the plant the PID is judged on: C(47, 40) from the textbook recursion
  double b = 1;
  for (int k = 1; k <= 47; ++k) b = 40.0 * b / (k + 40.0 * b);
  const double C = 47 * b / (47 - 40.0 * (1 - b));
  CHECK(std::log(C / 0.01) / 7.0 <= 0.5);
  CHECK(replicas_needed(40, 0.5) == 47);
  CHECK(replicas_needed(20, 0.5) == 26);
}

TEST_CASE("after a step in load the PID settles within 3 lead times: peak-to-peak at most 1 replica") {
  // the default governor (HPA behaviour: 300 s down-stabilization); the PID at its defaults
  const double step_at = 1800;
  for (const double lead : {300.0, 600.0}) {
    for (const double to : {40.0, 60.0}) {
      const Run r = run([&](double t) { return t < step_at ? 20.0 : to; }, step_at + 3 * lead + 3600, pid_config(), {}, lead);
      const auto settled_from = static_cast<std::ptrdiff_t>(step_at + 3 * lead);
      const auto lo = *std::min_element(r.replicas.begin() + settled_from, r.replicas.end());
      const auto hi = *std::max_element(r.replicas.begin() + settled_from, r.replicas.end());
      const int needed = replicas_needed(to, 0.5);
      INFO("lead " << lead << " s, 20 -> " << to << " req/s: replicas after 3 leads " << lo << " .. " << hi
                   << ", Erlang C needs " << needed);
      CHECK(hi - lo <= 1);
      // and it settles where the target is met, not merely somewhere
      CHECK(lo >= needed - 1);
      CHECK(hi <= needed + 1);
      // the model alone (rate / 1.25) would be far short: the PID did the correcting
      CHECK(lo >= to / 1.25 + 0.25 * to);
    }
  }
}

TEST_CASE("anti-windup shortens the recovery after a saturation episode by at least 30 %") {
  // 15 minutes at 40 req/s with max_replicas = 30 (the target cannot be met), then back to 20
  llmscale::GovernorConfig g;
  g.max_replicas = 30;
  const double drop_at = 1800 + 900;
  const auto rate = [&](double t) { return t >= 1800 && t < drop_at ? 40.0 : 20.0; };
  const int settled = replicas_needed(20, 0.5);
  const auto recovery = [&](const Run& r) {  // seconds after the drop until within 1 of settled for good
    std::size_t last_off = static_cast<std::size_t>(drop_at);
    for (std::size_t i = static_cast<std::size_t>(drop_at); i < r.replicas.size(); ++i) {
      if (std::abs(r.replicas[i] - settled) > 1) last_off = i;
    }
    return static_cast<double>(last_off) - drop_at;
  };
  const Run with = run(rate, drop_at + 7200, pid_config(true), g);
  const Run without = run(rate, drop_at + 7200, pid_config(false), g);
  const double a = recovery(with), b = recovery(without);
  INFO("recovery with anti-windup " << a << " s, without " << b << " s");
  CHECK(a <= 0.7 * b);
  CHECK(a < 3600);  // and it does recover within the run
}

namespace {
Signals waiting(double p99) {
  Signals s;
  s.queue_wait_p99_s = p99;
  return s;
}
llmscale::PidConfig hand_config() {
  llmscale::PidConfig c = pid_config();  // the classic two-sided PID on queue wait
  c.target = 1.0;
  c.kp = 0.5;
  c.ki = 0.1;
  c.kd = 0;
  c.deadband = 0.2;
  return c;
}
}  // namespace

TEST_CASE("PID terms by hand: continuous deadband, bumpless start, integral, ceil") {
  llmscale::PidPolicy<llmscale::FixedFeedForward> pid({10}, hand_config());
  const FleetState fleet(10);
  // e = (2 - 1) / 1 = 1, less the deadband: 0.8; P = 0.4; bumpless: I = (10 - 10) / 10 - 0.4
  llmscale::Proposal p = pid.propose(at_seconds(0), waiting(2), fleet);
  CHECK(pid.terms().error == doctest::Approx(0.8));
  CHECK(pid.terms().proportional == doctest::Approx(0.4));
  CHECK(pid.terms().integral == doctest::Approx(-0.4));
  CHECK(p.raw == doctest::Approx(10.0));
  CHECK(p.replicas == 10);
  // one second later: I = -0.4 + 0.1 * 0.8 = -0.32; raw = 10 + (0.4 - 0.32) * 10 = 10.8 -> 11
  p = pid.propose(at_seconds(1), waiting(2), fleet);
  CHECK(pid.terms().integral == doctest::Approx(-0.32));
  CHECK(p.raw == doctest::Approx(10.8));
  CHECK(p.replicas == 11);
  // inside the deadband: no error, the integral rests
  p = pid.propose(at_seconds(2), waiting(1.15), fleet);
  CHECK(pid.terms().error == 0.0);
  CHECK(pid.terms().integral == doctest::Approx(-0.32));
  // just outside it the error is small (continuous), not 0.25
  pid.propose(at_seconds(3), waiting(1.25), fleet);
  CHECK(pid.terms().error == doctest::Approx(0.05));
}

TEST_CASE("PID derivative acts on the low-pass filtered measurement") {
  llmscale::PidConfig c = hand_config();
  c.kp = 0;
  c.ki = 0;
  c.deadband = 0;
  c.kd = 10;
  c.derivative_filter_s = 1;  // a = dt / (1 + dt) = 0.5 at dt = 1
  llmscale::PidPolicy<llmscale::FixedFeedForward> pid({10}, c);
  const FleetState fleet(10);
  pid.propose(at_seconds(0), waiting(1), fleet);  // filtered = 1
  pid.propose(at_seconds(1), waiting(3), fleet);  // filtered = 1 + 0.5 (3 - 1) = 2: D = -10 (2 - 1) / 1
  CHECK(pid.terms().derivative == doctest::Approx(-10.0));
  pid.propose(at_seconds(2), waiting(3), fleet);  // filtered = 2.5: D = -10 * 0.5
  CHECK(pid.terms().derivative == doctest::Approx(-5.0));
  // a target change does not kick the derivative (it reads the measurement)
}

TEST_CASE("PID scale-down waits for the hysteresis - scale-up does not") {
  llmscale::PidConfig c = hand_config();
  c.kp = 0;
  c.ki = 0;
  c.bumpless_start = false;
  // the output is the feed-forward's raw value (arrival rate / 1.0) with no correction
  llmscale::PidPolicy<OptimisticModel> pid({OptimisticModel{1.0}}, c);
  Signals s = waiting(1);
  s.arrival_rate = 9.4;
  CHECK(pid.propose(at_seconds(0), s, FleetState(10)).replicas == 10);  // ceil(9.4 + 0.5) = 10: hold
  s.arrival_rate = 9.6;
  CHECK(pid.propose(at_seconds(1), s, FleetState(9)).replicas == 10);   // up: ceil(9.6)
  s.arrival_rate = 8.4;
  CHECK(pid.propose(at_seconds(2), s, FleetState(10)).replicas == 9);   // down: ceil(8.9)
}

TEST_CASE("PID back-calculation: a max bound pulls the integral toward what was applied") {
  llmscale::PidConfig c = hand_config();
  c.kp = 0;
  c.ki = 0.01;
  c.tracking_s = 10;
  c.integral_limit = 10;  // so the clamp is not what stops it
  c.bumpless_start = false;
  llmscale::GovernorConfig g;
  g.max_replicas = 12;
  const auto run_for = [&](const llmscale::PidConfig& pid) {
    llmscale::Autoscaler<llmscale::PidPolicy<llmscale::FixedFeedForward>> scaler({{10}, pid}, g, at_seconds(0));
    const FleetState fleet(12);
    for (int t = 0; t <= 600; ++t) scaler.tick(at_seconds(t), waiting(5), fleet);  // e = 3.8 for ten minutes
    return scaler.policy().terms().integral;
  };
  // each tick: the integral gains ki e = 0.038, the answer is 10 + 10 I' (I' = I + 0.038) and
  // the max bound (12) pulls back 1/tracking_s of the gap in fractions of the reference:
  // I <- I' - 0.1 (10 I' - 2) / 10 = 0.9 (I + 0.038) + 0.02, whose fixed point is 0.542
  CHECK(run_for(c) == doctest::Approx(0.542));
  // switched off, it integrates all ten minutes: 0.01 * 3.8 * 600
  llmscale::PidConfig off = c;
  off.anti_windup = false;
  CHECK(run_for(off) == doctest::Approx(22.8));
}

TEST_CASE("PID holds its integral on an unusable measurement and counts it") {
  llmscale::PidPolicy<llmscale::FixedFeedForward> pid({10}, hand_config());
  const FleetState fleet(10);
  pid.propose(at_seconds(0), waiting(2), fleet);
  pid.propose(at_seconds(1), waiting(2), fleet);
  const double before = pid.terms().integral;
  for (const double bad : {std::nan(""), -1.0, HUGE_VAL}) {
    const llmscale::Proposal p = pid.propose(at_seconds(2), waiting(bad), fleet);
    CHECK(std::isfinite(p.raw));
    CHECK(pid.terms().integral == before);
  }
  CHECK(pid.terms().held_ticks == 3);
  Signals stale = waiting(2);
  stale.requests.stale = true;
  pid.propose(at_seconds(3), stale, fleet);
  CHECK(pid.terms().held_ticks == 4);
  CHECK(pid.terms().integral == before);
}

TEST_CASE("PID config: bad values are named with their range") {
  llmscale::PidConfig c;
  c.target = 0;
  const auto problem = c.validate();
  REQUIRE(problem);
  CHECK(problem->field == "target");
  CHECK_THROWS_AS(llmscale::PidPolicy<llmscale::FixedFeedForward>({1}, c), std::invalid_argument);
  c.target = 2.0;
  CHECK(llmscale::set_config(c, "signal=ttft_p99") == std::nullopt);
  CHECK(c.signal == llmscale::PidSignal::ttft_p99);
  CHECK(llmscale::set_config(c, "signal=latency"));
}

TEST_CASE("PID latency_p99: a TPOT p99 over its target adds capacity while the TTFT is healthy") {
  llmscale::PidConfig c;
  c.signal = llmscale::PidSignal::latency_p99;
  c.target = 0.8;
  c.tpot_target = 0.08;
  c.kp = 0.1;
  c.deadband = 0.3;
  const FleetState fleet(40);
  Signals s;
  s.ttft_p99_s = 0.3;   // no queue to speak of
  s.tpot_p99_s = 0.12;  // batches so large each token takes 120 ms
  // measured = max(0.3, 0.12 x 0.8 / 0.08 = 1.2); y = 1.2 / 0.8 = 1.5; e = 0.5 - 0.3 = 0.2;
  // P = 0.1 x 0.2 = 0.02 of the feed-forward's 40: raw 40.8, 41 replicas
  llmscale::PidPolicy<llmscale::FixedFeedForward> pid({40}, c);
  llmscale::Proposal p = pid.propose(at_seconds(0), s, fleet);
  CHECK(pid.terms().error == doctest::Approx(0.2));
  CHECK(p.raw == doctest::Approx(40.8));
  CHECK(p.replicas == 41);
  // the same signals on the TTFT alone: healthy, nothing added
  c.signal = llmscale::PidSignal::ttft_p99;
  llmscale::PidPolicy<llmscale::FixedFeedForward> ttft_only({40}, c);
  CHECK(ttft_only.propose(at_seconds(0), s, fleet).replicas == 40);
  // without TPOT samples (0) latency_p99 is the TTFT p99: 1.36 s over 0.8 s, e = 0.7 - 0.3
  c.signal = llmscale::PidSignal::latency_p99;
  llmscale::PidPolicy<llmscale::FixedFeedForward> no_tpot({40}, c);
  Signals t;
  t.ttft_p99_s = 1.36;
  no_tpot.propose(at_seconds(0), t, fleet);
  CHECK(no_tpot.terms().error == doctest::Approx(0.4));
}
