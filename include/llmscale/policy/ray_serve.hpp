// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// RayServePolicy: Ray Serve's default autoscaling policy as its controller runs it
// (python/ray/serve/autoscaling_policy.py: replica_queue_length_autoscaling_policy wrapped by
// _apply_autoscaling_config, which applies the scaling factors and the delays):
//   total = the average over look_back_period_s (30) of requests running plus queued
//   running = ready replicas (Ray's current_num_replicas); target = ready plus starting
//   (target_num_replicas, what the deployment is scaling to)
//   cold start: no running replica and total > 0: max(ceil(upscaling_factor), target) at once
//   desired = total / target_ongoing_requests (running x the error ratio), or the target with
//   no running replica;
//   _apply_scaling_factors: from 0 running, ceil(desired); else ceil(running + factor x
//   (desired - running)), factor = upscaling_factor when desired > running, else
//   downscaling_factor; a scale-down that the rounding leaves at `running` (ceil(desired) <
//   running) steps down by 1 instead;
//   from 0 running with a count above 0: that count at once;
//   _apply_delay_logic against the target: a change happens only once the same direction has
//   been decided continuously for upscale_delay_s (30) or downscale_delay_s (600) of wall
//   clock (the first such decision starts the clock); a scale-down stops at 1 (the count is at
//   least 1 unless the target is 1), and 1 -> 0 waits downscale_to_zero_delay_s (unset:
//   downscale_delay_s); a decision for the target resets the clock, so does acting.
// The average is time-bucketed (1 s buckets; seconds between ticks hold the last value) over
// the look-back period; Ray's bounds (min/max replicas) are the Governor's.
#ifndef LLMSCALE_POLICY_RAY_SERVE_HPP
#define LLMSCALE_POLICY_RAY_SERVE_HPP

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/policy/detail/second_sampler.hpp"
#include "llmscale/signals/knative_window.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// RayServePolicy's settings (defaults: Ray Serve's).
struct RayServeConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "ray_serve";

  double target_ongoing_requests = 2;  ///< Ray's default; the simulator uses 0.7 x max batch
  double look_back_period_s = 30;      ///< seconds the ongoing requests are averaged over
  double upscaling_factor = 1;         ///< share of the gap closed when scaling up
  double downscaling_factor = 1;       ///< share of the gap closed when scaling down
  double upscale_delay_s = 30;         ///< seconds of consecutive scale-up decisions before acting
  double downscale_delay_s = 600;      ///< seconds of consecutive scale-down decisions before acting
  double downscale_to_zero_delay_s = -1;  ///< negative: unset (downscale_delay_s applies)

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("target_ongoing_requests", self.target_ongoing_requests, open_closed(0.0, 1e6), "requests per replica to aim at");
    v("look_back_period_s", self.look_back_period_s, closed(1.0, 3600.0), "seconds the ongoing count is averaged over");
    v("upscaling_factor", self.upscaling_factor, open_closed(0.0, 100.0), "share of the gap closed when scaling up");
    v("downscaling_factor", self.downscaling_factor, open_closed(0.0, 100.0), "share of the gap closed when scaling down");
    v("upscale_delay_s", self.upscale_delay_s, closed(0.0, 86400.0), "seconds of consecutive scale-up decisions before acting");
    v("downscale_delay_s", self.downscale_delay_s, closed(0.0, 86400.0), "seconds of consecutive scale-down decisions before acting");
    v("downscale_to_zero_delay_s", self.downscale_to_zero_delay_s, closed(-1.0, 86400.0),
      "seconds of consecutive 1 -> 0 decisions before scaling to zero (negative: downscale_delay_s)");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// Ray Serve's default autoscaling policy, with its scaling factors and delays (see the top of
/// this file).
class RayServePolicy {
 public:
  /// Throws std::invalid_argument for an invalid config.
  explicit RayServePolicy(const RayServeConfig& config = {})
      : config_((require_valid(config), config)),
        ongoing_(from_seconds(config.look_back_period_s)),
        sampler_(config.look_back_period_s),
        upscale_delay_(from_seconds(config.upscale_delay_s)),
        downscale_delay_(from_seconds(config.downscale_delay_s)),
        to_zero_delay_(config.downscale_to_zero_delay_s >= 0 ? from_seconds(config.downscale_to_zero_delay_s)
                                                              : downscale_delay_) {}

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "ray-serve"; }
  /// The configuration it was built with.
  [[nodiscard]] const RayServeConfig& config() const noexcept { return config_; }

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    sampler_.sample(now, std::max(0.0, s.running_now + s.queued_now),
                    [this](TimePoint at, double v) { ongoing_.record(at, v); });
    return decide(now, ongoing_.average(now), fleet);
  }

  /// The wrapped default policy at `now` on a look-back average already taken: `total_requests`
  /// (Ray's total_num_requests), with `fleet.ready()` running and `fleet.current()` the target.
  /// A NaN, infinite or negative total holds the target.
  Proposal decide(TimePoint now, double total_requests, const FleetState& fleet) noexcept {
    const int running = fleet.ready();
    const int target = fleet.current();
    Proposal p{name(), target, std::numeric_limits<double>::quiet_NaN(), "at the target"};
    if (!(std::isfinite(total_requests) && total_requests >= 0)) {
      p.reason = "no usable load: hold";
      return p;
    }
    if (running == 0 && total_requests > 0) {  // cold start: no delay
      p.replicas = std::max(detail::ceil_replicas(config_.upscaling_factor), target);
      p.raw = total_requests / config_.target_ongoing_requests;
      p.reason = "traffic and no running replica: scale up at once";
      return p;
    }
    const double desired = running == 0 ? static_cast<double>(target) : total_requests / config_.target_ongoing_requests;
    p.raw = desired;
    int scaled;
    if (running == 0) {
      scaled = detail::ceil_replicas(desired);
    } else {
      const double delta = desired - running;
      const double factor = delta > 0 ? config_.upscaling_factor : config_.downscaling_factor;
      scaled = detail::ceil_replicas(running + factor * delta);
      // stuck by the rounding on the way down: one step
      if (detail::ceil_replicas(desired) < running && scaled == running) scaled -= 1;
    }
    if (running == 0 && scaled > 0) {
      p.replicas = scaled;
      p.reason = "no running replica: scale up at once";
      return p;
    }
    return delay(now, scaled, target, p);
  }

 private:
  // _apply_delay_logic: the same direction for the whole delay (wall clock) before acting.
  Proposal delay(TimePoint now, int wanted, int target, Proposal p) noexcept {
    const Duration slack = std::chrono::microseconds(1);  // Ray's _DELAY_ELAPSED_EPS_S
    if (wanted > target) {
      if (direction_ < 0) direction_ = 0;
      if (direction_ == 0) since_ = now;
      direction_ = 1;
      if (now - since_ + slack >= upscale_delay_) {
        direction_ = 0;
        p.replicas = wanted;
        p.reason = "above target for the upscale delay";
      } else {
        p.reason = "above target: waiting out the upscale delay";
      }
    } else if (wanted < target) {
      if (direction_ > 0) direction_ = 0;
      if (direction_ == 0) since_ = now;
      direction_ = -1;
      const bool to_zero = target == 1;
      if (!to_zero) wanted = std::max(1, wanted);  // stop at 1: 1 -> 0 has its own delay
      if (now - since_ + slack >= (to_zero ? to_zero_delay_ : downscale_delay_)) {
        direction_ = 0;
        p.replicas = wanted;
        p.reason = to_zero ? "idle at 1 replica for the downscale-to-zero delay" : "below target for the downscale delay";
      } else {
        p.reason = to_zero ? "idle at 1 replica: waiting out the downscale-to-zero delay"
                           : "below target: waiting out the downscale delay";
      }
    } else {
      direction_ = 0;
    }
    return p;
  }

  RayServeConfig config_;
  KnativeWindow ongoing_;
  detail::SecondSampler sampler_;
  Duration upscale_delay_, downscale_delay_, to_zero_delay_;
  int direction_ = 0;  // +1 deciding up, -1 deciding down, 0 neither (Ray's decision counter's sign)
  TimePoint since_{};  // the first decision of the current direction (Ray's decision timestamp)
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_RAY_SERVE_HPP
