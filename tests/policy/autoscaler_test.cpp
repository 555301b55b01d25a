// Autoscaler<P, S> over signals of the host's own type: the governor reads them only through the
// customisation point signal_state(const S&), found by argument-dependent lookup.
#include <doctest/doctest.h>

#include <cmath>

#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/autoscaler.hpp"

using llmscale::at_seconds;
using llmscale::Constraint;

namespace host {

// A host's own signals: no llmscale::Signals anywhere.
struct QueueSignals {
  double queue = 0;       // requests waiting
  bool fresh = true;      // the host's source answered this tick
  bool arriving = false;  // requests arrived since the last tick
};

// The governor's view of them: stale when not fresh, demand while anything arrives or waits.
llmscale::SignalState signal_state(const QueueSignals& s) noexcept { return {!s.fresh, s.arriving || s.queue > 0}; }

// One replica per 10 waiting requests.
struct QueuePolicy {
  const char* name() const noexcept { return "queue"; }
  llmscale::Proposal propose(llmscale::TimePoint, const QueueSignals& s, const llmscale::FleetState&) noexcept {
    const double raw = s.queue / 10;
    return {name(), static_cast<int>(std::ceil(raw)), raw, "ceil(queue / 10)"};
  }
};

struct NoStateSignals {
  double queue = 0;
};
struct NoStatePolicy {
  const char* name() const noexcept { return "none"; }
  llmscale::Proposal propose(llmscale::TimePoint, const NoStateSignals&, const llmscale::FleetState&) noexcept {
    return {name(), 1, 1, ""};
  }
};
// A view that may throw cannot be called from the noexcept tick.
struct ThrowingSignals {};
llmscale::SignalState signal_state(const ThrowingSignals&) { return {}; }

}  // namespace host

static_assert(llmscale::is_policy_v<host::QueuePolicy, host::QueueSignals>);
static_assert(!llmscale::is_policy_v<host::QueuePolicy, llmscale::Signals>, "a policy reads one signals type");
static_assert(llmscale::detail::has_signal_state<host::QueueSignals>::value);
static_assert(llmscale::detail::has_signal_state<llmscale::Signals>::value, "llmscale declares it for its own");
static_assert(!llmscale::detail::has_signal_state<host::NoStateSignals>::value,
              "without signal_state, Autoscaler<NoStatePolicy, NoStateSignals> refuses to compile");
static_assert(!llmscale::detail::has_signal_state<host::ThrowingSignals>::value, "signal_state must be noexcept");
static_assert(std::is_same_v<llmscale::Autoscaler<host::QueuePolicy, host::QueueSignals>::signals_type, host::QueueSignals>);

TEST_CASE("Autoscaler over a host's own signals: the policy's proposal, governed") {
  llmscale::GovernorConfig g;
  g.min_replicas = 0;
  g.max_replicas = 20;
  g.scale_down_stabilization_s = 0;
  g.zero_grace_s = 30;
  llmscale::Autoscaler<host::QueuePolicy, host::QueueSignals> scaler(host::QueuePolicy{}, g, at_seconds(0));
  llmscale::FleetState fleet(2);

  // 45 waiting: ceil(4.5) = 5, above the fleet's 2 (the rate limit allows 4 pods or 100 % per 15 s)
  const llmscale::Decision& up = scaler.tick(at_seconds(1), {45, true, true}, fleet);
  CHECK(up.proposals[0].replicas == 5);
  CHECK(up.desired_replicas == 5);
  CHECK(std::string(up.policy) == "queue");

  // the host's source went quiet: stale, so no scale-down on it although the proposal is 0
  fleet = llmscale::FleetState(5);
  const llmscale::Decision& stale = scaler.tick(at_seconds(2), {0, false, false}, fleet);
  CHECK(stale.desired_replicas == 5);
  CHECK(stale.binding == Constraint::stale_signals);

  // fresh again, nothing arriving or waiting: scale to zero only after the 30 s grace, counted
  // from the last tick that saw demand (t = 1)
  const llmscale::Decision& early = scaler.tick(at_seconds(20), {0, true, false}, fleet);
  CHECK(early.desired_replicas == 1);
  CHECK(early.binding == Constraint::scale_to_zero);
  const llmscale::Decision& zero = scaler.tick(at_seconds(40), {0, true, false}, fleet);
  CHECK(zero.desired_replicas == 0);

  // demand at zero replicas activates one, although the queue is empty
  fleet = llmscale::FleetState(0);
  const llmscale::Decision& wake = scaler.tick(at_seconds(41), {0, true, true}, fleet);
  CHECK(wake.desired_replicas == 1);
  CHECK(wake.binding == Constraint::activation);
}
