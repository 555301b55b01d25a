// llmscale-scaler: what the decisions would have done, beside what the fleet did. In shadow
// mode (--shadow) the policy decides every tick but KEDA is answered with the fleet's current
// size; this summary says how often, and by how much, the policy disagreed with that size, and
// how many requests missed the TTFT target while the fleet was smaller than the policy wanted.
// In both modes it counts the decisions the HPA between KEDA and the Deployment would swallow:
// a desired count within the HPA's tolerance of the current one is not acted on
// (|desired / current - 1| <= tolerance; Kubernetes' default 0.1, so at 10 replicas, 11 is
// swallowed). Header-only and free of I/O: tests drive it with scripted sequences.
#ifndef LLMSCALE_TOOLS_SCALER_SHADOW_HPP
#define LLMSCALE_TOOLS_SCALER_SHADOW_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace llmscale_scaler {

/// Disagreement between the policy's desired count and the fleet's size, summed over ticks.
struct ShadowSummary {
  std::uint64_t ticks = 0;          ///< decisions compared
  std::uint64_t disagreed = 0;      ///< ticks the policy wanted another size than the fleet's
  std::uint64_t wanted_more = 0;    ///< ... a larger one
  std::uint64_t wanted_fewer = 0;   ///< ... a smaller one
  double replica_seconds_short = 0; ///< sum over ticks of (desired - current)+ x the tick's length
  double replica_seconds_over = 0;  ///< sum over ticks of (current - desired)+ x the tick's length
  std::uint64_t abs_difference = 0; ///< sum of |desired - current| over ticks
  int largest_shortfall = 0;        ///< the largest desired - current seen
  double requests = 0;              ///< requests whose TTFT was observed (histogram counts)
  double ttft_misses = 0;           ///< of those, over the TTFT target
  double ttft_misses_while_smaller = 0;  ///< misses in ticks where the fleet was below the desired count
  std::uint64_t tolerance_swallowed = 0; ///< ticks whose desired count the HPA's tolerance would not act on

  /// One tick: the policy wanted `desired`, the fleet had `current` (ready + starting), `dt_s`
  /// seconds since the previous tick; `observed` requests had their TTFT observed since then,
  /// `misses` of them over the target. `tolerance`: the HPA's (0: none).
  void tick(int desired, int current, double dt_s, double observed, double misses, double tolerance) noexcept {
    ++ticks;
    const int diff = desired - current;
    const double dt = dt_s > 0 && std::isfinite(dt_s) ? dt_s : 0.0;
    if (diff != 0) ++disagreed;
    if (diff > 0) {
      ++wanted_more;
      replica_seconds_short += diff * dt;
      if (diff > largest_shortfall) largest_shortfall = diff;
    } else if (diff < 0) {
      ++wanted_fewer;
      replica_seconds_over += -diff * dt;
    }
    abs_difference += static_cast<std::uint64_t>(std::abs(diff));
    const double seen = observed > 0 && std::isfinite(observed) ? observed : 0.0;
    const double missed = misses > 0 && std::isfinite(misses) ? std::min(misses, seen) : 0.0;
    requests += seen;
    ttft_misses += missed;
    if (diff > 0) ttft_misses_while_smaller += missed;
    if (swallowed(desired, current, tolerance)) ++tolerance_swallowed;
  }

  /// Whether an HPA with `tolerance` leaves `current` replicas as they are when asked for
  /// `desired`: an external metric of value `desired` against an average target of 1 gives the
  /// usage ratio desired / current, and the HPA acts only outside [1 - tolerance, 1 + tolerance]
  /// (Kubernetes' replica_calculator.go, Tolerances.isWithin, computed in the same doubles).
  [[nodiscard]] static bool swallowed(int desired, int current, double tolerance) noexcept {
    if (desired == current || current <= 0 || !(tolerance > 0)) return false;
    const double ratio = static_cast<double>(desired) / (1.0 * static_cast<double>(current));
    return 1.0 - tolerance <= ratio && ratio <= 1.0 + tolerance;
  }

  /// One line for the log.
  [[nodiscard]] std::string line() const {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "shadow: %llu ticks, disagreed in %llu (%.1f %%: wanted more in %llu, fewer in %llu; mean |difference| "
                  "%.2f replicas, largest shortfall %d), %.0f replica-seconds short and %.0f over; TTFT misses %.0f of %.0f "
                  "requests, %.0f of them while the fleet was smaller than wanted; %llu decisions within the HPA tolerance",
                  static_cast<unsigned long long>(ticks), static_cast<unsigned long long>(disagreed),
                  ticks > 0 ? 100.0 * static_cast<double>(disagreed) / static_cast<double>(ticks) : 0.0,
                  static_cast<unsigned long long>(wanted_more), static_cast<unsigned long long>(wanted_fewer),
                  ticks > 0 ? static_cast<double>(abs_difference) / static_cast<double>(ticks) : 0.0, largest_shortfall,
                  replica_seconds_short, replica_seconds_over, ttft_misses, requests, ttft_misses_while_smaller,
                  static_cast<unsigned long long>(tolerance_swallowed));
    return buf;
  }
};

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_SCALER_SHADOW_HPP
