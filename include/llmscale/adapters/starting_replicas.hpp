// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// StartingReplicas: the fleet as a host that sees only the serving replicas (the endpoints a
// scaler scrapes) can know it. Replicas asked for and not serving yet count as starting, from
// the tick the count was last raised, until they appear or until `give_up_after` has passed
// since (a replica that has not come up by then is not coming: a failed start, a quota, a
// scheduler that said no). Where the host knows the starting count (an endpoint file that lists
// it), that count is used instead.
//
//     llmscale::StartingReplicas starting;                       // gives up after 20 minutes
//     const llmscale::FleetState fleet = starting.fleet(now, endpoints, std::nullopt);
//     const llmscale::Decision& d = scaler.tick(now, signals, fleet);
//     starting.decided(now, d.desired_replicas);
#ifndef LLMSCALE_ADAPTERS_STARTING_REPLICAS_HPP
#define LLMSCALE_ADAPTERS_STARTING_REPLICAS_HPP

#include <algorithm>
#include <optional>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The starting replicas a host that sees only the serving ones infers from its own decisions
/// (see the top of this file).
class StartingReplicas {
 public:
  /// 20 minutes: the longest scale-up llmscale plans for (a GPU node provisioned, the image
  /// pulled, the weights loaded), so a slow start is still counted while it is plausible.
  static constexpr double default_give_up_s = 1200;

  /// Replicas asked for stop counting as starting `give_up_after` after the last raise.
  explicit StartingReplicas(Duration give_up_after = from_seconds(default_give_up_s)) noexcept
      : give_up_after_(give_up_after) {}

  /// The fleet at `now` with `ready` replicas serving: `reported` replicas starting when the
  /// host knows them, else what the last decisions asked for beyond `ready` while within
  /// `give_up_after` of the last raise. Starting replicas carry the time of that raise.
  [[nodiscard]] FleetState fleet(TimePoint now, int ready, std::optional<int> reported) const noexcept {
    ready = std::clamp(ready, 0, FleetState::max_replicas);
    int starting = 0;
    if (reported) {
      starting = std::max(0, *reported);
    } else if (last_desired_ > ready && now - raised_at_ < give_up_after_) {
      starting = last_desired_ - ready;
    }
    FleetState f(ready);
    if (starting > 0) f.add_starting(std::min(starting, FleetState::max_replicas - ready), raised_at_);
    return f;
  }

  /// Records the decision taken at `now`.
  void decided(TimePoint now, int desired) noexcept {
    if (desired > last_desired_) raised_at_ = now;
    last_desired_ = desired;
  }

  /// The desired count of the last decision recorded (0 before any).
  [[nodiscard]] int last_desired() const noexcept { return last_desired_; }
  /// When a decision last raised the desired count (TimePoint{} before any).
  [[nodiscard]] TimePoint raised_at() const noexcept { return raised_at_; }

 private:
  Duration give_up_after_;
  int last_desired_ = 0;
  TimePoint raised_at_{};
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_STARTING_REPLICAS_HPP
