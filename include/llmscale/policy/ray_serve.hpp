// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// RayServePolicy: Ray Serve's default autoscaling policy
// (python/ray/serve/autoscaling_policy.py, replica_queue_length_autoscaling_policy):
//   ongoing = the average over look_back_period_s (30) of requests running plus queued
//   desired = ongoing / target_ongoing_requests
//   cur = the target count (ready plus starting replicas)
//   new = ceil(cur + factor x (desired - cur)), factor = upscaling_factor or
//         downscaling_factor
//   a change happens only once the same direction has been decided continuously for
//   upscale_delay_s (30) or downscale_delay_s (600); a decision for cur resets it.
//   From 0 replicas with traffic: scale up at once.
// The average is time-bucketed (1 s buckets; seconds between ticks hold the last value) over
// the look-back period; Ray counts
// consecutive decisions of its 0.1 s loop, llmscale the time since the streak began.
#ifndef LLMSCALE_POLICY_RAY_SERVE_HPP
#define LLMSCALE_POLICY_RAY_SERVE_HPP

#include <algorithm>
#include <cmath>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/second_sampler.hpp"
#include "llmscale/signals/knative_window.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

struct RayServeConfig {
  static constexpr const char* config_name = "ray_serve";

  double target_ongoing_requests = 2;  ///< Ray's default; the simulator uses 0.7 x max batch
  double look_back_period_s = 30;
  double upscaling_factor = 1;
  double downscaling_factor = 1;
  double upscale_delay_s = 30;
  double downscale_delay_s = 600;

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("target_ongoing_requests", self.target_ongoing_requests, open_closed(0.0, 1e6), "requests per replica to aim at");
    v("look_back_period_s", self.look_back_period_s, closed(1.0, 3600.0), "seconds the ongoing count is averaged over");
    v("upscaling_factor", self.upscaling_factor, open_closed(0.0, 100.0), "share of the gap closed when scaling up");
    v("downscaling_factor", self.downscaling_factor, open_closed(0.0, 100.0), "share of the gap closed when scaling down");
    v("upscale_delay_s", self.upscale_delay_s, closed(0.0, 86400.0), "seconds of consecutive scale-up decisions before acting");
    v("downscale_delay_s", self.downscale_delay_s, closed(0.0, 86400.0), "seconds of consecutive scale-down decisions before acting");
  }
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

class RayServePolicy {
 public:
  explicit RayServePolicy(const RayServeConfig& config = {})
      : config_((require_valid(config), config)),
        ongoing_(from_seconds(config.look_back_period_s)),
        sampler_(config.look_back_period_s),
        upscale_delay_(from_seconds(config.upscale_delay_s)),
        downscale_delay_(from_seconds(config.downscale_delay_s)) {}

  [[nodiscard]] const char* name() const noexcept { return "ray-serve"; }
  [[nodiscard]] const RayServeConfig& config() const noexcept { return config_; }

  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    sampler_.sample(now, std::max(0.0, s.running_now + s.queued_now),
                    [this](TimePoint at, double v) { ongoing_.record(at, v); });
    const double ongoing = ongoing_.average(now);
    const double wanted = ongoing / config_.target_ongoing_requests;
    const int cur = fleet.current();
    Proposal p{name(), cur, wanted, "within target"};
    if (cur == 0) {
      streak_ = 0;
      if (ongoing > 0 || s.queued_now > 0 || s.running_now > 0) {
        p.replicas = std::max(1, static_cast<int>(std::min(1e6, std::ceil(wanted))));
        p.reason = "traffic at zero replicas: scale up at once";
      }
      return p;
    }
    const double factor = wanted > cur ? config_.upscaling_factor : config_.downscaling_factor;
    const int next = std::max(0, static_cast<int>(std::min(1e6, std::ceil(cur + factor * (wanted - cur)))));
    const int direction = next > cur ? 1 : next < cur ? -1 : 0;
    if (direction == 0) {
      streak_ = 0;
      return p;
    }
    if (direction != streak_) {
      streak_ = direction;
      streak_since_ = now;
    }
    if (now - streak_since_ >= (direction > 0 ? upscale_delay_ : downscale_delay_)) {
      p.replicas = next;
      p.reason = direction > 0 ? "above target for the upscale delay" : "below target for the downscale delay";
      streak_ = 0;  // Ray resets its counter after acting
    } else {
      p.reason = direction > 0 ? "above target: waiting out the upscale delay" : "below target: waiting out the downscale delay";
    }
    return p;
  }

 private:
  RayServeConfig config_;
  KnativeWindow ongoing_;
  detail::SecondSampler sampler_;
  Duration upscale_delay_, downscale_delay_;
  int streak_ = 0;  // +1 up, -1 down, 0 none
  TimePoint streak_since_{};
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_RAY_SERVE_HPP
