// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The policy concept: what a type must offer so the governor, the Autoscaler and the simulator
// can drive it. llmscale's own policies and the anchor baselines satisfy it, and so can a
// policy a user writes:
//
//     struct MyPolicy {
//       const char* name() const noexcept { return "mine"; }
//       llmscale::Proposal propose(llmscale::TimePoint now, const MySignals& signals,
//                                  const llmscale::FleetState& fleet);
//     };
//     static_assert(llmscale::is_policy_v<MyPolicy, MySignals>);
//
// It is parameterised on the signals type, so a policy can read llmscale's signals snapshot
// or any struct of the host's own. In C++20 `llmscale::Policy<P, Signals>` is a concept; in
// C++17 `llmscale::is_policy_v<P, Signals>` is the same test as a trait.
#ifndef LLMSCALE_POLICY_POLICY_HPP
#define LLMSCALE_POLICY_POLICY_HPP

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L && __has_include(<concepts>)
#include <concepts>
#if defined(__cpp_lib_concepts) && __cpp_lib_concepts >= 202002L
#define LLMSCALE_HAS_CONCEPTS 1
#endif
#endif
#ifndef LLMSCALE_HAS_CONCEPTS
#define LLMSCALE_HAS_CONCEPTS 0
#endif

LLMSCALE_NAMESPACE_BEGIN

namespace detail {
template <class P, class Signals>
using propose_result_t = decltype(std::declval<P&>().propose(
    std::declval<TimePoint>(), std::declval<const Signals&>(), std::declval<const FleetState&>()));
template <class P>
using name_result_t = decltype(std::declval<const P&>().name());
}  // namespace detail

/// True when `P` is a policy over `Signals`: `p.propose(now, signals, fleet)` returns a
/// Proposal and `p.name()` (callable on a const policy) gives a `const char*` with static
/// storage duration (it is copied into every Decision without allocation).
template <class P, class Signals, class = void>
struct is_policy : std::false_type {};

template <class P, class Signals>
struct is_policy<P, Signals,
                 std::void_t<detail::propose_result_t<P, Signals>, detail::name_result_t<P>>>
    : std::bool_constant<std::is_same_v<detail::propose_result_t<P, Signals>, Proposal> &&
                         std::is_convertible_v<detail::name_result_t<P>, const char*>> {};

/// Whether `P` is a policy over `Signals` (see is_policy).
template <class P, class Signals>
inline constexpr bool is_policy_v = is_policy<P, Signals>::value;

#if LLMSCALE_HAS_CONCEPTS
/// The C++20 spelling of `is_policy_v`.
template <class P, class Signals>
concept Policy = requires(P& p, const P& cp, TimePoint now, const Signals& signals,
                          const FleetState& fleet) {
  { p.propose(now, signals, fleet) } -> std::same_as<Proposal>;
  { cp.name() } -> std::convertible_to<const char*>;
};
#endif

namespace detail {
template <class P, class = void>
struct has_observe : std::false_type {};
template <class P>
struct has_observe<P, std::void_t<decltype(std::declval<P&>().observe(std::declval<const Decision&>()))>>
    : std::true_type {};
}  // namespace detail

/// Calls `policy.observe(decision)` when the policy has one: a policy that wants to see the
/// governed decision of its own proposal (the PID's back-calculation) declares
/// `void observe(const llmscale::Decision&) noexcept`; the Autoscaler calls it every tick.
template <class P>
void observe_decision(P& policy, const Decision& d) noexcept {
  if constexpr (detail::has_observe<P>::value) policy.observe(d);
}

/// True when `P` keeps a state that a restart would lose (learned ratios, forecasters, a PID's
/// integral) and can save it: `p.save_state(now)` returns it as text, `p.load_state(text, now)`
/// restores it (false, the policy unchanged, for a text that is not such a state). Times are
/// written as ages at `now`, so a state saved on one clock loads on another. A host persists
/// it with adapters/state_file.hpp (`llmscale-scaler --state-file`).
template <class P, class = void>
struct has_saved_state : std::false_type {};
template <class P>
struct has_saved_state<P, std::void_t<decltype(std::string(std::declval<const P&>().save_state(std::declval<TimePoint>()))),
                                      decltype(bool(std::declval<P&>().load_state(std::declval<std::string_view>(), std::declval<TimePoint>())))>>
    : std::true_type {};
/// Whether `P` keeps a state it can save and load (see has_saved_state).
template <class P>
inline constexpr bool has_saved_state_v = has_saved_state<P>::value;

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_POLICY_HPP
