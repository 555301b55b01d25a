// A plant for closed-loop tests of the PID: a fluid queue in front of M/M/c replicas (mu
// requests/s each) whose scale-ups take a provisioning delay, and a feed-forward model that
// overrates a replica by 25 %. Used by tests/policy/pid_test.cpp and by llmscale-pid-sweep
// (the tuning table in docs/tuning.md).
#ifndef LLMSCALE_TEST_FLUID_PLANT_HPP
#define LLMSCALE_TEST_FLUID_PLANT_HPP

#include <algorithm>
#include <cmath>
#include <vector>

#include "llmscale/model/queueing.hpp"
#include "llmscale/policy/autoscaler.hpp"
#include "llmscale/policy/pid.hpp"

namespace llmscale_test {

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;


// The model the PID corrects: arrival rate / (what it believes one replica serves).
struct OptimisticModel {
  double believed_rate = 1.25;
  const char* name() const noexcept { return "model"; }
  llmscale::Proposal propose(llmscale::TimePoint, const Signals& s, const FleetState&) const noexcept {
    const double raw = s.arrival_rate / believed_rate;
    return {"model", static_cast<int>(std::ceil(raw)), raw, "model"};
  }
};

// mu requests/s per ready replica; a replica asked for is ready lead_s later.
struct Plant {
  double mu = 1.0;
  double lead_s = 300;
  double backlog = 0;  // requests beyond what the M/M/c queue holds in steady state
  FleetState fleet{26};  // steady state for 20 req/s (see replicas_needed)

  // the p99 queue wait with `ready` replicas at arrival rate `rate`
  double wait_p99(double rate) const {
    const int c = fleet.ready();
    if (c == 0) return backlog > 0 || rate > 0 ? 1e3 : 0.0;
    const double capacity = c * mu;
    double w = backlog / capacity;
    if (rate < capacity) {
      const double C = llmscale::erlang_c(c, rate / mu);
      if (C > 0.01) w += std::log(C / 0.01) / (capacity - rate);
    } else {
      w += 60;  // no steady state: the queue grows without bound
    }
    return w;
  }

  // one second: requests arrive and are served; replicas asked for lead_s ago become ready
  Signals step(double now_s, double rate) {
    const int due = fleet.ready_by(at_seconds(now_s), llmscale::from_seconds(lead_s)) - fleet.ready();
    if (due > 0) fleet.mark_ready(due);
    backlog = std::max(0.0, backlog + rate - fleet.ready() * mu);
    Signals s;
    s.arrival_rate = rate;
    s.queue_wait_p99_s = wait_p99(rate);
    s.queued_now = backlog;
    return s;
  }

  void apply(double now_s, int desired) {
    const int current = fleet.current();
    if (desired > current) {
      fleet.add_starting(desired - current, at_seconds(now_s));
    } else if (desired < current) {
      const int cancelled = fleet.cancel_starting(current - desired);
      fleet.set_ready(fleet.ready() - (current - desired - cancelled));
    }
  }
};

// The classic PID these plant tests judge (llmscale's defaults before the censored-signal
// rework): p99 queue wait, two-sided integration, bumpless start, back-calculation against the
// rate limits too, the wider limits.
inline llmscale::PidConfig pid_config(bool anti_windup = true) {
  llmscale::PidConfig c;
  c.signal = llmscale::PidSignal::queue_wait_p99;
  c.censored_below = false;
  c.bumpless_start = true;
  c.track_rate_limit = true;
  c.kp = 0.2;
  c.error_limit = 4.0;
  c.integral_limit = 1.0;
  c.target = 0.5;  // p99 queue wait, seconds
  c.anti_windup = anti_windup;
  if (!anti_windup) c.integral_limit = 100;
  return c;
}

struct Run {
  std::vector<int> replicas;  // fleet.current() after each second's decision
  std::vector<double> wait;
};

// rate(t) for `seconds` seconds through Autoscaler<PidPolicy<OptimisticModel>>
template <class Rate>
Run run(Rate rate, double seconds, const llmscale::PidConfig& pid, llmscale::GovernorConfig governor = {},
        double lead_s = 300) {
  Plant plant;
  plant.lead_s = lead_s;
  llmscale::Autoscaler<llmscale::PidPolicy<OptimisticModel>> scaler({OptimisticModel{}, pid}, governor, at_seconds(0));
  Run r;
  for (double t = 1; t <= seconds; t += 1) {
    const Signals s = plant.step(t, rate(t));
    const llmscale::Decision& d = scaler.tick(at_seconds(t), s, plant.fleet);
    plant.apply(t, d.desired_replicas);
    r.replicas.push_back(plant.fleet.current());
    r.wait.push_back(s.queue_wait_p99_s);
  }
  return r;
}

// the fewest M/M/c replicas (mu = 1) whose p99 wait meets `target` at `rate`
inline int replicas_needed(double rate, double target) {
  Plant p;
  for (int c = 1;; ++c) {
    p.fleet = FleetState(c);
    if (p.wait_p99(rate) <= target) return c;
  }
}


}  // namespace llmscale_test

#endif  // LLMSCALE_TEST_FLUID_PLANT_HPP
