// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// AibrixApaPolicy: AIBrix's APA (vllm-project/aibrix pkg/controller/podautoscaler/algorithm,
// apa.go) on KV-cache utilisation (vLLM's gpu_cache_usage_perc):
//   ratio = use / target; outside [1 - down_tolerance, 1 + up_tolerance]:
//   desired = ceil(N x ratio), capped to [floor(N / max_scale_down_rate),
//   ceil(N x max_scale_up_rate)], N = ready replicas (at least 1); inside: N.
// Decides every period_s (10, AIBrix's resync).
#ifndef LLMSCALE_POLICY_AIBRIX_APA_HPP
#define LLMSCALE_POLICY_AIBRIX_APA_HPP

#include <algorithm>
#include <cmath>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/periodic.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

struct AibrixApaConfig {
  static constexpr const char* config_name = "aibrix_apa";

  double target_kv_utilization = 0.5;
  double up_tolerance = 0.1;
  double down_tolerance = 0.1;
  double max_scale_up_rate = 2;
  double max_scale_down_rate = 2;
  double period_s = 10;

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("target_kv_utilization", self.target_kv_utilization, open_closed(0.0, 1.0), "KV use per replica to aim at");
    v("up_tolerance", self.up_tolerance, closed(0.0, 10.0), "no scale-up while use / target <= 1 + this");
    v("down_tolerance", self.down_tolerance, closed(0.0, 1.0), "no scale-down while use / target >= 1 - this");
    v("max_scale_up_rate", self.max_scale_up_rate, closed(1.0, 1e6), "at most this x ready per decision");
    v("max_scale_down_rate", self.max_scale_down_rate, closed(1.0, 1e6), "at least ready / this per decision");
    v("period_s", self.period_s, open_closed(0.0, 3600.0), "seconds between decisions");
  }
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

class AibrixApaPolicy {
 public:
  explicit AibrixApaPolicy(const AibrixApaConfig& config = {})
      : config_((require_valid(config), config)), periodic_(from_seconds(config.period_s)) {}

  [[nodiscard]] const char* name() const noexcept { return "aibrix-apa"; }
  [[nodiscard]] const AibrixApaConfig& config() const noexcept { return config_; }

  Proposal propose(TimePoint now, const Signals& s, const FleetState& fleet) noexcept {
    if (!periodic_.due(now)) return periodic_.last();
    const int n = std::max(1, fleet.ready());
    Proposal p{name(), fleet.current(), 0, "within the tolerance band"};
    if (s.engines.replicas_reporting == 0) {
      p.reason = "no KV data: no change";
      return periodic_.ran(now, p);
    }
    const double ratio = s.engines.kv_utilization / config_.target_kv_utilization;
    p.raw = n * ratio;
    if (ratio > 1.0 + config_.up_tolerance || ratio < 1.0 - config_.down_tolerance) {
      const int lo = static_cast<int>(std::floor(n / config_.max_scale_down_rate));
      const int hi = static_cast<int>(std::min(1e6, std::ceil(n * config_.max_scale_up_rate)));
      p.replicas = std::clamp(static_cast<int>(std::min(1e6, std::ceil(p.raw))), lo, hi);
      p.reason = ratio > 1.0 ? "KV use above target" : "KV use below target";
    }
    return periodic_.ran(now, p);
  }

 private:
  AibrixApaConfig config_;
  detail::Periodic periodic_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_AIBRIX_APA_HPP
