// llmscale-predictive on scripted daily loads with a 20-minute cold start: replicas are asked
// for a lead time before the load they serve, and capacity the forecast says will be needed
// again within the lead is not released. llmscale-slo alone (reactive) is run on the same load
// to show each check can fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <type_traits>
#include <vector>

#include "llmscale/policy/autoscaler.hpp"
#include "llmscale/policy/pid.hpp"
#include "llmscale/policy/predictive.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {

constexpr double day = 86400;
constexpr double cold_start = 1200;  // 20 minutes

llmscale::LatencyProfile simple() {  // decode 10 ms + 1 ms per request, prefill 0.1 ms per token
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{10, 0, 1});
}

// requests per second one replica takes within the targets (the sizing under test elsewhere)
double per_replica() {
  llmscale::SloPolicy slo(simple());
  return 1.0 / slo.replicas_for(1.0, 0, llmscale::TokenLengths{1024, 256});
}

struct Trace {
  std::vector<int> ready;    // replicas serving, each second
  std::vector<int> desired;  // the decision, each second
  std::vector<double> planned;  // llmscale-predictive's plan, each second
};

// `days` days at rate(t) (+-2 % noise) through Autoscaler<P>; replicas are ready cold_start
// after they are asked for; a scale-down cancels starting replicas first.
template <class P, class Rate>
Trace simulate(P policy, Rate rate, double days) {
  llmscale::GovernorConfig g;
  g.max_replicas = 1000;
  llmscale::Autoscaler<P> scaler(std::move(policy), g, at_seconds(0));
  FleetState fleet(1);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> noise(0.98, 1.02);
  Trace out;
  for (double t = 1; t <= days * day; t += 1) {
    const int due = fleet.ready_by(at_seconds(t), llmscale::from_seconds(cold_start)) - fleet.ready();
    if (due > 0) fleet.mark_ready(due);
    Signals s;
    s.arrival_rate = rate(t) * noise(rng);
    s.mean_prompt_tokens = 1024;
    s.mean_output_tokens = 256;
    const int desired = scaler.tick(at_seconds(t), s, fleet).desired_replicas;
    const int current = fleet.current();
    if (desired > current) {
      fleet.add_starting(desired - current, at_seconds(t));
    } else if (desired < current) {
      const int cancelled = fleet.cancel_starting(current - desired);
      fleet.set_ready(fleet.ready() - (current - desired - cancelled));
    }
    out.ready.push_back(fleet.ready());
    out.desired.push_back(desired);
    if constexpr (std::is_same_v<P, llmscale::PredictivePolicy<>>) out.planned.push_back(scaler.policy().planned());
  }
  return out;
}

llmscale::PredictiveConfig predictive_config() {
  llmscale::PredictiveConfig c;
  c.cold_start_s = cold_start;
  return c;
}

// seconds of day 3 when the replicas serving were fewer than the load needs
template <class Rate>
int seconds_short(const Trace& tr, Rate rate, double r) {
  int n = 0;
  for (std::size_t i = static_cast<std::size_t>(2 * day); i < tr.ready.size(); ++i) {
    const double need = std::ceil(rate(static_cast<double>(i + 1)) / r - 1e-9);
    if (tr.ready[i] < need) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("predictive: on a daily ramp replicas are asked for a lead time before the load they serve") {
  const double r = per_replica();
  REQUIRE(r > 0);
  // from 1 to 40 replicas' worth and back, once a day
  const auto rate = [&](double t) { return r * (1 + 39 * (1 - std::cos(2 * M_PI * t / day)) / 2); };
  llmscale::PredictivePolicy<> predictive(llmscale::SloPolicy(simple()), predictive_config());
  const Trace tr = simulate(std::move(predictive), rate, 3);
  // every second of day 3 the replicas serving (asked for at least cold_start earlier) cover it
  CHECK(seconds_short(tr, rate, r) == 0);
  // the reactive policy asks when the load is already there, and is short for much of the rise
  const Trace reactive = simulate(llmscale::SloPolicy(simple()), rate, 3);
  CHECK(seconds_short(reactive, rate, r) > 3600);
}

TEST_CASE("predictive: no scale-down the forecast says would be reversed within the lead time") {
  const double r = per_replica();
  // 30 replicas' worth, with a 10-minute dip to 10 at noon every day: shorter than the lead,
  // so capacity released in it could not be back when the load returns
  const double dip = day / 2;
  const auto rate = [&](double t) {
    const double in_day = std::fmod(t, day);
    return r * (in_day >= dip && in_day < dip + 600 ? 10.0 : 30.0);
  };
  const auto lowest_in_dip = [&](const Trace& tr) {  // day 3, from the dip to its end plus 5 minutes
    const auto from = static_cast<std::ptrdiff_t>(2 * day + dip);
    return *std::min_element(tr.desired.begin() + from, tr.desired.begin() + from + 900);
  };
  const auto before_dip = [&](const Trace& tr) { return tr.desired[static_cast<std::size_t>(2 * day + dip - 2)]; };
  const Trace tr = simulate(llmscale::PredictivePolicy<>(llmscale::SloPolicy(simple()), predictive_config()), rate, 3);
  INFO("predictive: " << before_dip(tr) << " before the dip, at least " << lowest_in_dip(tr) << " in it");
  CHECK(lowest_in_dip(tr) >= before_dip(tr));
  // the reactive policy drops capacity in the dip (and must ask for it again when it ends)
  const Trace reactive = simulate(llmscale::SloPolicy(simple()), rate, 3);
  INFO("reactive: " << before_dip(reactive) << " before the dip, " << lowest_in_dip(reactive) << " in it");
  CHECK(lowest_in_dip(reactive) <= 15);
  // and whenever the predictive policy did scale down on day 3, its own plan (the forecast's
  // need over the lead) was within the new count
  for (std::size_t i = static_cast<std::size_t>(2 * day) + 1; i < tr.desired.size(); ++i) {
    if (tr.desired[i] < tr.desired[i - 1]) CHECK(tr.planned[i] <= tr.desired[i]);
  }
}

TEST_CASE("predictive: best picks the predictor with the lowest recent error, a forecaster only when it beats last value") {
  const double r = per_replica();
  const auto rate = [&](double t) { return r * (10 + 8 * std::sin(2 * M_PI * t / day)); };
  llmscale::PredictivePolicy<> policy(llmscale::SloPolicy(simple()), predictive_config());
  FleetState fleet(10);
  for (double t = 1; t <= 2.5 * day; t += 10) {
    Signals s;
    s.arrival_rate = rate(t);
    policy.propose(at_seconds(t), s, fleet);
  }
  const double hw = policy.forecast_error(llmscale::ForecasterChoice::holt_winters);
  const double kt = policy.forecast_error(llmscale::ForecasterChoice::kalman_trend);
  const double ar = policy.forecast_error(llmscale::ForecasterChoice::autoregressive);
  INFO("lead-horizon errors: holt-winters " << hw << ", kalman " << kt << ", ar " << ar);
  const double last = policy.forecast_error(llmscale::ForecasterChoice::last_value);
  INFO("last value " << last);
  const double lowest = std::min({hw, kt, ar});
  const llmscale::ForecasterChoice chosen = policy.planning_forecaster();
  // a smooth daily sine: a forecaster beats last value by far, and the best one plans
  REQUIRE(lowest < 0.9 * last);
  CHECK(policy.forecast_error(chosen) == lowest);
  // on white noise around a constant, no forecaster beats last value by 10 %: last value plans
  llmscale::PredictivePolicy<> flat(llmscale::SloPolicy(simple()), predictive_config());
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 0.5);
  for (double t = 1; t <= 0.5 * day; t += 10) {
    Signals s;
    s.arrival_rate = r * (10 + noise(rng));
    flat.propose(at_seconds(t), s, fleet);
  }
  INFO("flat: last value " << flat.forecast_error(llmscale::ForecasterChoice::last_value));
  if (flat.planning_forecaster() != llmscale::ForecasterChoice::last_value) {
    CHECK(flat.forecast_error(flat.planning_forecaster()) <
          0.9 * flat.forecast_error(llmscale::ForecasterChoice::last_value));
  }
  // and a fixed choice is kept whatever the errors
  llmscale::PredictiveConfig fixed = predictive_config();
  fixed.forecaster = llmscale::ForecasterChoice::autoregressive;
  llmscale::PredictivePolicy<> kept(llmscale::SloPolicy(simple()), fixed);
  for (double t = 1; t <= 7200; t += 10) {
    Signals s;
    s.arrival_rate = rate(t);
    kept.propose(at_seconds(t), s, fleet);
  }
  CHECK(kept.planning_forecaster() == llmscale::ForecasterChoice::autoregressive);
}

TEST_CASE("predictive: the plan spans the lead: a known step one lead ahead is already asked for") {
  // a Holt-Winters season that has seen the step before: the plan at a lead before it is the step's need
  const double r = per_replica();
  llmscale::PredictiveConfig c = predictive_config();
  c.forecaster = llmscale::ForecasterChoice::holt_winters;
  llmscale::ForecasterConfigs f;
  f.holt_winters.season_buckets = 120;  // a two-hour "day" keeps the test short
  llmscale::PredictivePolicy<> policy{llmscale::SloPolicy{simple()}, llmscale::SloPolicy{simple()}, c, f};
  const auto rate = [&](double t) { return r * (std::fmod(t, 7200) >= 3600 ? 20.0 : 5.0); };
  FleetState fleet(5);
  double planned_before_step = 0;
  for (double t = 1; t <= 3 * 7200; t += 1) {
    Signals s;
    s.arrival_rate = rate(t);
    const llmscale::Proposal p = policy.propose(at_seconds(t), s, fleet);
    if (t == 2 * 7200 + 3600 - cold_start) planned_before_step = p.raw;
  }
  // a lead before the step the load is still 5 replicas' worth, but the plan is already ~20
  CHECK(planned_before_step >= 19.0);
}

TEST_CASE("predictive config: bad values are named") {
  llmscale::PredictiveConfig c;
  c.quantile = 1.0;
  REQUIRE(c.validate());
  CHECK(c.validate()->field == "quantile");
  c = llmscale::PredictiveConfig{};
  c.cold_start_s = 86400;
  c.bucket_s = 10;  // 8,640 buckets of lead
  REQUIRE(c.validate());
  CHECK(c.validate()->field == "cold_start_s");
  CHECK_THROWS_AS(llmscale::PredictivePolicy<>(llmscale::SloPolicy(simple()), c), std::invalid_argument);
}

TEST_CASE("predictive with a PID as its feedback: the PID sees the governed decision through it") {
  llmscale::PidConfig pid;
  pid.signal = llmscale::PidSignal::queue_wait_p99;
  pid.target = 0.5;
  pid.integral_limit = 1.0;
  pid.censored_below = false;
  using Pid = llmscale::PidPolicy<llmscale::SloPolicy>;
  llmscale::GovernorConfig g;
  g.max_replicas = 3;  // the max bound binds: the PID's back-calculation must see it
  llmscale::Autoscaler<llmscale::PredictivePolicy<Pid>> scaler(
      {llmscale::SloPolicy{simple()}, Pid{llmscale::SloPolicy{simple()}, pid}, predictive_config()}, g, at_seconds(0));
  FleetState fleet(3);
  Signals s;
  s.arrival_rate = 20 * per_replica();
  s.queue_wait_p99_s = 5;
  for (int t = 1; t <= 600; ++t) {
    const llmscale::Decision& d = scaler.tick(at_seconds(t), s, fleet);
    CHECK(d.desired_replicas == 3);
  }
  // without the decision fed back the integral would have reached its limit (1) long ago;
  // back-calculation holds it where the bound is
  CHECK(scaler.policy().feedback().terms().integral < 1.0);
}
