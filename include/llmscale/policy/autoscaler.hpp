// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Autoscaler<P, S>: a policy composed with the Governor, the object a host calls every tick:
//
//     llmscale::Autoscaler<llmscale::KpaPolicy> scaler(llmscale::KpaPolicy{{}, start}, {}, start);
//     const llmscale::Decision& d = scaler.tick(now, collector.tick(now), fleet);
//     // act on d.desired_replicas; log d.format_json_to(buf, size)
//
// S is the signals type the policy reads: llmscale::Signals by default, or any struct of the
// host's own. The governor needs one view of it, a SignalState (are the signals stale, is there
// demand), which it gets from the customisation point `signal_state(const S&)`, found by
// argument-dependent lookup: declare it in S's namespace (llmscale declares it for Signals).
//
//     namespace host {
//     struct MySignals { double qps; bool fresh; };
//     llmscale::SignalState signal_state(const MySignals& s) noexcept { return {!s.fresh, s.qps > 0}; }
//     }
//     llmscale::Autoscaler<MyPolicy, host::MySignals> scaler(MyPolicy{}, {}, start);
//
// A tick whose `now` is earlier than the last is ignored and counted; the previous decision
// stands (binding: ignored_tick). A policy with `observe(const Decision&)` sees each governed
// decision (see observe_decision). Signals are stale when the request source or the engine
// source says so (SignalHealth); demand is any arrival or any request in flight.
#ifndef LLMSCALE_POLICY_AUTOSCALER_HPP
#define LLMSCALE_POLICY_AUTOSCALER_HPP

#include <type_traits>
#include <utility>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/governor.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The governor's view of a Signals snapshot.
[[nodiscard]] inline SignalState signal_state(const Signals& s) noexcept {
  SignalState st;
  st.stale = s.requests.stale || s.engine.stale;
  st.demand = s.arrival_rate > 0 || s.running_now > 0 || s.queued_now > 0;
  return st;
}

namespace detail {
template <class S, class = void>
struct has_signal_state : std::false_type {};
template <class S>
struct has_signal_state<S, std::void_t<decltype(signal_state(std::declval<const S&>()))>>
    : std::bool_constant<std::is_same_v<decltype(signal_state(std::declval<const S&>())), SignalState> &&
                         noexcept(signal_state(std::declval<const S&>()))> {};
}  // namespace detail

/// A policy P over signals S composed with the Governor: what a host calls every tick (see the
/// top of this file).
template <class P, class S = Signals>
class Autoscaler {
  static_assert(is_policy_v<P, S>, "P must be a policy over the signals type S (see policy.hpp)");
  static_assert(detail::has_signal_state<S>::value,
                "declare `llmscale::SignalState signal_state(const S&) noexcept` in S's namespace: the governor's view "
                "of the signals (stale, demand)");

 public:
  /// Throws std::invalid_argument for an invalid governor config.
  Autoscaler(P policy, const GovernorConfig& governor, TimePoint start)
      : policy_(std::move(policy)), governor_(governor, start) {
    guard_.accept(start);
  }

  /// The signals type the policy reads.
  using signals_type = S;

  /// The decision at `now`.
  const Decision& tick(TimePoint now, const S& signals, const FleetState& fleet) noexcept {
    if (!guard_.accept(now)) {
      last_.binding = Constraint::ignored_tick;
      return last_;
    }
    const Proposal p = policy_.propose(now, signals, fleet);
    governor_.decide(now, policy_.name(), p, fleet, signal_state(signals), last_);
    observe_decision(policy_, last_);
    return last_;
  }

  /// The last decision (a default Decision before the first tick).
  [[nodiscard]] const Decision& last() const noexcept { return last_; }
  /// The policy, e.g. to save or load its state.
  [[nodiscard]] P& policy() noexcept { return policy_; }
  /// The policy.
  [[nodiscard]] const P& policy() const noexcept { return policy_; }
  /// The governor, with its config.
  [[nodiscard]] const Governor& governor() const noexcept { return governor_; }
  /// Ticks ignored because `now` went backwards.
  [[nodiscard]] std::uint64_t ignored_ticks() const noexcept { return guard_.rejected(); }

 private:
  P policy_;
  Governor governor_;
  MonotonicGuard guard_;
  Decision last_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_AUTOSCALER_HPP
