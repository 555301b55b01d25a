// A policy written in a few lines, driven by the Autoscaler over a built-in load ramp.
//
// Load ramps from 2 to 30 requests/s and back over 90 minutes; each request spends 6 s in the
// system, so by Little's law the requests in flight are rate x 6. A minimal policy written here
// (requests in flight / a per-replica target) over signals of the host's own type proposes a
// replica count each minute; llmscale's Autoscaler puts the governor over it (replica bounds,
// scale-down stabilization, rate limits), and the host carries the decision out and lets
// requested replicas become ready only after the cold start (300 s). It shows how a user's own
// policy and signals plug into the core types: FleetState with starting replicas, Decision
// with its reasons, and `signal_state`, the governor's view of the host's signals.
//
//   load_ramp [--json] [--set key=value]...   keys: those of llmscale::GovernorConfig and
//                                              target_in_flight (default 12)
#include <llmscale/core/decision.hpp>
#include <llmscale/core/fleet_state.hpp>
#include <llmscale/core/time.hpp>
#include <llmscale/policy/autoscaler.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

struct RampSignals {
  double in_flight = 0;  // time-averaged requests running + queued
};

// The governor's view of the host's signals (found by argument-dependent lookup): these are
// never stale, and there is demand while anything is in flight.
llmscale::SignalState signal_state(const RampSignals& s) noexcept { return {false, s.in_flight > 0}; }

// The user's policy: one replica per `target` requests in flight.
class InFlightPolicy {
 public:
  explicit InFlightPolicy(double target) : target_(target) {}
  const char* name() const noexcept { return "in-flight"; }
  llmscale::Proposal propose(llmscale::TimePoint, const RampSignals& s, const llmscale::FleetState&) {
    const double raw = s.in_flight / target_;
    return {name(), static_cast<int>(std::ceil(raw - 1e-9)), raw, "ceil(in_flight / target)"};
  }

 private:
  double target_;
};
static_assert(llmscale::is_policy_v<InFlightPolicy, RampSignals>);

// The built-in load: requests per second at minute m.
double arrival_rate(double minute) {
  if (minute < 10) return 2.0;
  if (minute < 40) return 2.0 + (30.0 - 2.0) * (minute - 10) / 30.0;
  if (minute < 60) return 30.0;
  if (minute < 80) return 30.0 - (30.0 - 4.0) * (minute - 60) / 20.0;
  return 4.0;
}

int usage(const char* why) {
  std::fprintf(stderr, "load_ramp: %s\nusage: load_ramp [--json] [--set key=value]...\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr double tick_s = 60, cold_start_s = 300;
  llmscale::GovernorConfig config;
  config.min_replicas = 1;
  config.max_replicas = 12;
  double target_in_flight = 12;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
      const std::string kv = argv[++i];
      if (kv.rfind("target_in_flight=", 0) == 0) {
        char* end = nullptr;
        target_in_flight = std::strtod(kv.c_str() + 17, &end);
        if (*end != '\0' || !(target_in_flight > 0 && target_in_flight <= 1e6)) {
          return usage(("target_in_flight = " + kv.substr(17) + " is out of range; allowed: (0, 1000000]").c_str());
        }
      } else if (const auto problem = llmscale::set_config(config, kv)) {
        return usage(problem->message().c_str());
      }
    } else {
      return usage((std::string("unknown argument '") + argv[i] + "'").c_str());
    }
  }

  if (const auto problem = config.validate()) return usage(problem->message().c_str());
  llmscale::Autoscaler<InFlightPolicy, RampSignals> scaler(InFlightPolicy(target_in_flight), config,
                                                           llmscale::at_seconds(0));
  llmscale::FleetState fleet(config.min_replicas);
  std::printf("# load ramp: 2 -> 30 -> 4 req/s, 6 s per request, target %.0f in flight per replica,"
              " cold start %.0f s, tick %.0f s\n",
              target_in_flight, cold_start_s, tick_s);
  for (double t = 0; t <= 90 * 60; t += tick_s) {
    const auto now = llmscale::at_seconds(t);
    // replicas whose cold start has passed are serving now
    fleet.mark_ready(fleet.ready_by(now, llmscale::from_seconds(cold_start_s)) - fleet.ready());

    const RampSignals signals{arrival_rate(t / 60) * 6.0};  // Little's law: L = lambda * W
    llmscale::Decision d = scaler.tick(now, signals, fleet);
    d.add_input("in_flight", signals.in_flight);
    d.add_input("in_flight_per_ready", signals.in_flight / std::max(1, fleet.ready()));

    char line[1024];
    if (json) {
      d.format_json_to(line, sizeof line);
    } else {
      d.format_to(line, sizeof line);
    }
    std::puts(line);

    // carry it out: scale up by requesting replicas, scale down by cancelling starts first
    const int delta = d.desired_replicas - fleet.current();
    if (delta > 0) fleet.add_starting(delta, now);
    if (delta < 0) {
      const int cancelled = fleet.cancel_starting(-delta);
      fleet.set_ready(fleet.ready() - (-delta - cancelled));
    }
  }
  return 0;
}
