// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// AibrixApaPolicy: AIBrix's APA (vllm-project/aibrix pkg/controller/podautoscaler: algorithm/
// apa.go, the metric window of metrics/client.go and types/metrics.go, the multi-metric max of
// autoscaler.go and the cooldown windows of podautoscaler_controller.go), on KV-cache
// utilisation (vLLM's gpu_cache_usage_perc) and, optionally, waiting requests per replica
// (num_requests_waiting): AIBrix's documented multi-metric use.
// Every period_s (10, the controller's resync):
//   N = the scale target's spec.replicas: ready plus starting (FleetState::current); with
//   N = 0 the APA does nothing (AIBrix: "scaling disabled: current replicas is 0").
//   Each metric's fleet value is recorded into its window (window_s, 180: observeWindowSeconds;
//   1 s buckets, a bucket keeps the latest sample; samples from buckets older than
//   floor((now - window_s) / 1 s) are gone) and averaged over the samples the window holds.
//   Per metric, ratio = average / target: above 1 + up_tolerance,
//   min(ceil(N x ratio), ceil(max_scale_up_rate x N)); below 1 - down_tolerance,
//   max(ceil(N x ratio), floor(N / max_scale_down_rate)); else N. The largest answer wins.
//   Cooldown windows (stabilizeRecommendation): every answer is kept; an answer above N is
//   raised to the largest answer of the last scale_up_cooldown_s (0), one below N lowered to
//   the smallest of the last scale_down_cooldown_s (300), both taken strictly after now - window
//   (AIBrix's windows pick the extreme in the direction of the move); an answer of N stays N.
//   No engine reports this round: no metric is valid, nothing changes and nothing is recorded.
// min/max replicas are the Governor's.
#ifndef LLMSCALE_POLICY_AIBRIX_APA_HPP
#define LLMSCALE_POLICY_AIBRIX_APA_HPP

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
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// AibrixApaPolicy's settings (defaults: AIBrix's).
struct AibrixApaConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "aibrix_apa";

  double target_kv_utilization = 0.5;  ///< KV-cache use per replica to aim at, (0, 1]
  double up_tolerance = 0.1;           ///< no scale-up while use / target <= 1 + this
  double down_tolerance = 0.1;         ///< no scale-down while use / target >= 1 - this
  double max_scale_up_rate = 2;        ///< at most ceil(this x N) replicas per decision
  double max_scale_down_rate = 2;      ///< at least floor(N / this) replicas per decision
  double period_s = 10;                ///< seconds between decisions (the controller's resync)
  double window_s = 180;               ///< AIBrix's observeWindowSeconds
  double target_waiting_requests = 0;  ///< 0: the waiting-requests metric is unused
  double scale_up_cooldown_s = 0;      ///< AIBrix's scale-up-cooldown-window
  double scale_down_cooldown_s = 300;  ///< AIBrix's scale-down-cooldown-window

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("target_kv_utilization", self.target_kv_utilization, open_closed(0.0, 1.0), "KV use per replica to aim at");
    v("up_tolerance", self.up_tolerance, closed(0.0, 10.0), "no scale-up while use / target <= 1 + this");
    v("down_tolerance", self.down_tolerance, closed(0.0, 1.0), "no scale-down while use / target >= 1 - this");
    v("max_scale_up_rate", self.max_scale_up_rate, closed(1.0, 1e6), "at most ceil(this x N) per decision");
    v("max_scale_down_rate", self.max_scale_down_rate, closed(1.0, 1e6), "at least floor(N / this) per decision");
    v("period_s", self.period_s, open_closed(0.0, 3600.0), "seconds between decisions");
    v("window_s", self.window_s, closed(1.0, 3600.0), "seconds each metric is averaged over (observeWindowSeconds)");
    v("target_waiting_requests", self.target_waiting_requests, closed(0.0, 1e6),
      "second metric: waiting requests per replica to aim at (num_requests_waiting; 0: unused)");
    v("scale_up_cooldown_s", self.scale_up_cooldown_s, closed(0.0, 86400.0),
      "a scale-up goes to the largest answer of this many seconds");
    v("scale_down_cooldown_s", self.scale_down_cooldown_s, closed(0.0, 86400.0),
      "a scale-down goes to the smallest answer of this many seconds");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// AIBrix's APA on KV-cache use and, optionally, waiting requests (see the top of this file).
class AibrixApaPolicy {
 public:
  /// Allocates its windows; throws std::invalid_argument for an invalid config.
  explicit AibrixApaPolicy(const AibrixApaConfig& config = {})
      : config_((require_valid(config), config)),
        periodic_(from_seconds(config.period_s)),
        window_(from_seconds(config.window_s)),
        up_cooldown_(from_seconds(config.scale_up_cooldown_s)),
        down_cooldown_(from_seconds(config.scale_down_cooldown_s)),
        kv_(samples_for(config.window_s, config.period_s)),
        waiting_(samples_for(config.window_s, config.period_s)),
        history_(samples_for(std::max(config.scale_up_cooldown_s, config.scale_down_cooldown_s), config.period_s)) {}

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "aibrix-apa"; }
  /// The configuration it was built with.
  [[nodiscard]] const AibrixApaConfig& config() const noexcept { return config_; }

  /// The replica count this policy proposes at `now` (never throws, allocates nothing).
  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    if (!periodic_.due(now)) return periodic_.last();
    const int n = fleet.current();
    Proposal p{name(), n, 0, "within the tolerance band"};
    if (n == 0) {
      p.reason = "no replicas: scaling disabled";
      return periodic_.ran(now, p);
    }
    const FleetGauges& g = s.engines;
    const bool kv_ok = g.replicas_reporting > 0 && std::isfinite(g.kv_utilization) && g.kv_utilization >= 0;
    const bool waiting_on = config_.target_waiting_requests > 0;
    const bool waiting_ok =
        waiting_on && g.replicas_reporting > 0 && std::isfinite(g.queue_length_mean) && g.queue_length_mean >= 0;
    if (!kv_ok && !waiting_ok) {
      p.reason = "no engine data: no change";
      return periodic_.ran(now, p);
    }
    int best = -1;
    if (kv_ok) {
      kv_.record(now, g.kv_utilization);
      best = apa(n, kv_.average(now, window_), config_.target_kv_utilization, p);
      p.reason = best > n ? "KV use above target" : best < n ? "KV use below target" : "within the tolerance band";
    }
    if (waiting_ok) {
      waiting_.record(now, g.queue_length_mean);
      Proposal w = p;
      const int r = apa(n, waiting_.average(now, window_), config_.target_waiting_requests, w);
      if (r > best) {
        best = r;
        p.raw = w.raw;
        p.reason = r > n ? "waiting requests above target" : r < n ? "waiting requests below target" : p.reason;
      }
    }
    const int stabilized = stabilize(now, best, n);
    if (stabilized != best) p.reason = best > n ? "scale-up cooldown window: its largest" : "scale-down cooldown window: its smallest";
    p.replicas = stabilized;
    return periodic_.ran(now, p);
  }

 private:
  // A ring's length for `window_s` of samples taken every `period_s` (at most one per 1 s
  // bucket), and no more than 65,536.
  static std::size_t samples_for(double window_s, double period_s) noexcept {
    return static_cast<std::size_t>(std::min(65536.0, std::ceil(window_s / std::max(period_s, 1.0)) + 2));
  }

  // apa.go computeTargetReplicas
  int apa(int n, double use, double target, Proposal& p) const noexcept {
    const double ratio = use / target;
    p.raw = n * ratio;
    if (ratio > 1.0 + config_.up_tolerance) {
      return std::min(detail::ceil_replicas(p.raw, n), detail::ceil_replicas(config_.max_scale_up_rate * n, n));
    }
    if (ratio < 1.0 - config_.down_tolerance) {
      return std::max(detail::ceil_replicas(p.raw, n), detail::floor_replicas(n / config_.max_scale_down_rate, n));
    }
    return n;
  }

  // podautoscaler_controller.go stabilizeRecommendation
  int stabilize(TimePoint now, int recommendation, int current) noexcept {
    history_.push(now, static_cast<double>(recommendation));
    history_.drop_up_to(now - std::max(up_cooldown_, down_cooldown_));
    if (recommendation == current) return current;
    const bool up = recommendation > current;
    const TimePoint cutoff = now - (up ? up_cooldown_ : down_cooldown_);
    bool found = false;
    double best = recommendation;
    history_.for_each([&](TimePoint at, double v) {
      if (at <= cutoff) return;
      if (!found || (up ? v > best : v < best)) best = v;
      found = true;
    });
    return detail::to_replicas(best, recommendation);
  }

  // Time-stamped samples, oldest first, in a ring of fixed length (the oldest is dropped when
  // full).
  class Samples {
   public:
    explicit Samples(std::size_t n) : items_(std::max<std::size_t>(n, 1)) {}
    void push(TimePoint at, double v) noexcept {
      if (size_ == items_.size()) pop();
      items_[(head_ + size_) % items_.size()] = Item{at, v};
      ++size_;
    }
    // AIBrix's TimeWindow.Record: one sample per 1 s bucket (the latest), then the buckets
    // before floor((now - window) / 1 s) are dropped
    void record(TimePoint now, double v) noexcept {
      if (size_ > 0 && bucket(back().at) == bucket(now)) {
        back() = Item{now, v};
      } else {
        push(now, v);
      }
    }
    [[nodiscard]] double average(TimePoint now, Duration window) noexcept {
      const std::int64_t cutoff = bucket(now - window);
      while (size_ > 0 && bucket(items_[head_].at) < cutoff) pop();
      double sum = 0;
      for_each([&](TimePoint, double v) { sum += v; });
      return size_ > 0 ? sum / static_cast<double>(size_) : 0.0;
    }
    // drops the samples at or before `t`
    void drop_up_to(TimePoint t) noexcept {
      while (size_ > 0 && items_[head_].at <= t) pop();
    }
    template <class F>
    void for_each(F&& f) const {
      for (std::size_t k = 0; k < size_; ++k) {
        const Item& i = items_[(head_ + k) % items_.size()];
        f(i.at, i.v);
      }
    }

   private:
    struct Item {
      TimePoint at{};
      double v = 0;
    };
    static std::int64_t bucket(TimePoint t) noexcept {
      return static_cast<std::int64_t>(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
    }
    Item& back() noexcept { return items_[(head_ + size_ - 1) % items_.size()]; }
    void pop() noexcept {
      head_ = (head_ + 1) % items_.size();
      --size_;
    }
    std::vector<Item> items_;
    std::size_t head_ = 0, size_ = 0;
  };

  AibrixApaConfig config_;
  detail::Periodic periodic_;
  Duration window_, up_cooldown_, down_cooldown_;
  Samples kv_, waiting_, history_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_AIBRIX_APA_HPP
