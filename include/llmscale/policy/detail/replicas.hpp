// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// to_replicas: the one way the policies turn a real-valued count into an int. A ratio of two
// metrics can be huge, infinite, negative or NaN (a host's gauge gone wrong, a target near 0);
// casting such a double to int is undefined behaviour. Here NaN gives a fallback the caller
// chooses (0, or the count to hold), and every other value is clamped to
// [0, FleetState::max_replicas] before the cast, which then truncates towards zero.
#ifndef LLMSCALE_POLICY_DETAIL_REPLICAS_HPP
#define LLMSCALE_POLICY_DETAIL_REPLICAS_HPP

#include <cmath>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/fleet_state.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

/// `x` as a replica count: NaN gives `if_nan`; otherwise clamped to [0, 10^6], then truncated.
[[nodiscard]] constexpr int to_replicas(double x, int if_nan = 0) noexcept {
  if (x != x) return if_nan;  // NaN
  if (x <= 0.0) return 0;
  constexpr double most = static_cast<double>(FleetState::max_replicas);
  if (x >= most) return FleetState::max_replicas;
  return static_cast<int>(x);
}

/// ceil(x) as a replica count (NaN gives `if_nan`).
[[nodiscard]] inline int ceil_replicas(double x, int if_nan = 0) noexcept { return to_replicas(std::ceil(x), if_nan); }

/// floor(x) as a replica count (NaN gives `if_nan`).
[[nodiscard]] inline int floor_replicas(double x, int if_nan = 0) noexcept { return to_replicas(std::floor(x), if_nan); }

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_DETAIL_REPLICAS_HPP
