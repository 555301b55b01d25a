// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// LlmdSaturationPolicy: llm-d's workload-variant-autoscaler saturation analyzer (V1,
// internal/saturation/analyzer.go) for one variant, on the engines' KV use and waiting queue:
//   a replica is saturated when KV use >= kv_threshold or its queue >= queue_threshold (the
//   SignalCollector's kv_saturation / queue_saturation, which count them: keep them equal to
//   these); a full batch is not saturation;
//   over the n - s non-saturated replicas, the average spare KV = kv_threshold - their mean KV
//   use and the average spare queue = queue_threshold - their mean queue (both 0 when every
//   replica is saturated);
//   scale up by one when a spare falls below its trigger (kv_spare_trigger 0.1,
//   queue_spare_trigger 3);
//   otherwise scale down by one when it is safe: at least 2 non-saturated replicas, and their
//   load spread over one fewer of them (mean x (n - s) / (n - s - 1)) still leaves both spares
//   at or above their triggers; never below 1;
//   the base is the replicas that report; while the fleet is in transition (replicas starting,
//   or not every replica reporting) nothing changes.
// llm-d reads each gauge as its 1-minute peak (max_over_time(...[1m]) per pod). Signals carry
// fleet figures, not per-replica ones, so the policy keeps the peak of each fleet figure over
// peak_window_s (60): the saturated count, and the non-saturated replicas' mean KV use and mean
// queue, each sampled every tick in 1 s buckets; a decision uses the peaks (the saturated count
// at most the replicas reporting).
// Decides every period_s (30, the saturation engine's interval).
#ifndef LLMSCALE_POLICY_LLMD_SATURATION_HPP
#define LLMSCALE_POLICY_LLMD_SATURATION_HPP

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/periodic.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// LlmdSaturationPolicy's settings (defaults: llm-d's).
struct LlmdSaturationConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "llmd_saturation";

  double kv_threshold = 0.8;       ///< KV use at which a replica is saturated, (0, 1]
  double queue_threshold = 5;      ///< waiting requests at which a replica is saturated
  double kv_spare_trigger = 0.1;   ///< scale up when the average spare KV falls below this
  double queue_spare_trigger = 3;  ///< scale up when the average spare queue falls below this
  double period_s = 30;            ///< seconds between decisions
  double peak_window_s = 60;  ///< llm-d's max_over_time(...[1m]); 0: the values of the tick

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("kv_threshold", self.kv_threshold, open_closed(0.0, 1.0), "KV use at which a replica is saturated");
    v("queue_threshold", self.queue_threshold, closed(1.0, 1e6), "waiting requests at which a replica is saturated");
    v("kv_spare_trigger", self.kv_spare_trigger, closed(0.0, 1.0), "scale up when the average spare KV falls below this");
    v("queue_spare_trigger", self.queue_spare_trigger, closed(0.0, 1e6), "scale up when the average spare queue falls below this");
    v("period_s", self.period_s, open_closed(0.0, 3600.0), "seconds between decisions");
    v("peak_window_s", self.peak_window_s, closed(0.0, 3600.0),
      "seconds over which the gauges' peaks are taken (max_over_time; 0: the current values)");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// llm-d's saturation analyzer for one variant: one replica more or fewer on spare KV and queue
/// (see the top of this file).
class LlmdSaturationPolicy {
 public:
  /// Allocates the peak window; throws std::invalid_argument for an invalid config.
  explicit LlmdSaturationPolicy(const LlmdSaturationConfig& config = {})
      : config_((require_valid(config), config)),
        periodic_(from_seconds(config.period_s)),
        peaks_(static_cast<std::size_t>(std::ceil(config.peak_window_s)) + 1) {}

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "llmd-saturation"; }
  /// The configuration it was built with.
  [[nodiscard]] const LlmdSaturationConfig& config() const noexcept { return config_; }

  /// The analyzer's view of the fleet at a decision.
  struct Analysis {
    int replicas = 0;       ///< reporting
    int saturated = 0;      ///< (the peak count)
    double spare_kv = 0;    ///< average over the non-saturated replicas (0 with none)
    double spare_queue = 0;         ///< the same for the queue: queue_threshold - mean queue
    bool scale_up = false;          ///< a spare is below its trigger: +1
    bool scale_down_safe = false;   ///< at least 2 non-saturated replicas, and one fewer keeps both spares at their triggers
  };

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    const FleetGauges& g = s.engines;
    sample(now, g);
    if (!periodic_.due(now)) return periodic_.last();
    const int current = fleet.current();
    Proposal p{name(), current, 0, "spare capacity within triggers"};
    if (g.replicas_reporting <= 0) {
      p.reason = "no engine data: no change";
      return periodic_.ran(now, p);
    }
    if (fleet.starting() > 0 || g.replicas_reporting != current) {
      p.reason = "in transition (starting, or not every replica reporting): wait";
      return periodic_.ran(now, p);
    }
    const Peak peak = peak_at(now);
    const Analysis a = analyze(g.replicas_reporting, peak.saturated, peak.kv, peak.queue);
    p.raw = a.spare_kv;
    if (a.scale_up) {
      p.replicas = a.replicas + 1;
      p.reason = a.saturated >= a.replicas ? "every replica saturated: +1" : "spare capacity below a trigger: +1";
    } else if (a.scale_down_safe && a.replicas > 1) {
      p.replicas = a.replicas - 1;
      p.reason = "one fewer replica keeps spare capacity: -1";
    } else {
      p.replicas = a.replicas;
    }
    return periodic_.ran(now, p);
  }

  /// The analyzer on `replicas` reporting of which `saturated` are saturated, the others at
  /// mean KV use `kv_load` and mean queue `queue_load` (analyzer.go AnalyzeModelSaturation).
  [[nodiscard]] Analysis analyze(int replicas, int saturated, double kv_load, double queue_load) const noexcept {
    Analysis a;
    a.replicas = std::max(0, replicas);
    a.saturated = std::clamp(saturated, 0, a.replicas);
    const int free = a.replicas - a.saturated;
    if (free > 0) {
      a.spare_kv = config_.kv_threshold - kv_load;
      a.spare_queue = config_.queue_threshold - queue_load;
    }
    a.scale_up = a.replicas > 0 && (a.spare_kv < config_.kv_spare_trigger || a.spare_queue < config_.queue_spare_trigger);
    if (free >= 2) {  // MinNonSaturatedReplicasForScaleDown
      const double grow = static_cast<double>(free) / static_cast<double>(free - 1);
      const double kv_after = config_.kv_threshold - (config_.kv_threshold - a.spare_kv) * grow;
      const double queue_after = config_.queue_threshold - (config_.queue_threshold - a.spare_queue) * grow;
      a.scale_down_safe = kv_after >= config_.kv_spare_trigger && queue_after >= config_.queue_spare_trigger;
    }
    return a;
  }

 private:
  struct Peak {
    std::int64_t second = 0;
    bool used = false;
    int saturated = 0;
    bool loaded = false;  // a non-saturated replica's load was sampled in this second
    double kv = 0, queue = 0;
  };

  static std::int64_t second_of(TimePoint t) noexcept {
    return static_cast<std::int64_t>(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
  }

  // Each tick's fleet figures into its 1 s bucket (the bucket keeps the largest).
  void sample(TimePoint now, const FleetGauges& g) noexcept {
    if (g.replicas_reporting <= 0) return;
    const std::int64_t sec = second_of(now);
    const auto n = static_cast<std::int64_t>(peaks_.size());
    Peak& b = peaks_[static_cast<std::size_t>(((sec % n) + n) % n)];
    if (!b.used || b.second != sec) b = Peak{sec, true, 0, false, 0, 0};
    const int saturated = std::clamp(g.replicas_saturated, 0, g.replicas_reporting);
    b.saturated = std::max(b.saturated, saturated);
    const int free = g.replicas_reporting - saturated;
    if (free > 0) {
      const double kv = g.unsaturated_kv_use_sum / free;
      const double queue = static_cast<double>(g.unsaturated_queue_total) / free;
      if (std::isfinite(kv) && std::isfinite(queue)) {
        b.kv = b.loaded ? std::max(b.kv, kv) : kv;
        b.queue = b.loaded ? std::max(b.queue, queue) : queue;
        b.loaded = true;
      }
    }
  }

  // The peaks over the buckets of the last peak_window_s (this second's included).
  Peak peak_at(TimePoint now) const noexcept {
    const std::int64_t sec = second_of(now);
    const auto span = static_cast<std::int64_t>(std::max<std::size_t>(1, peaks_.size() - 1));
    Peak out;
    for (const Peak& b : peaks_) {
      if (!b.used || b.second > sec || sec - b.second >= span) continue;
      out.saturated = std::max(out.saturated, b.saturated);
      if (b.loaded) {
        out.kv = out.loaded ? std::max(out.kv, b.kv) : b.kv;
        out.queue = out.loaded ? std::max(out.queue, b.queue) : b.queue;
        out.loaded = true;
      }
    }
    return out;
  }

  LlmdSaturationConfig config_;
  detail::Periodic periodic_;
  std::vector<Peak> peaks_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_LLMD_SATURATION_HPP
