// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Periodic: runs a policy's decision at most once per period (its anchor's sync period);
// between runs the last proposal stands, as the anchor's desired count does between syncs.
#ifndef LLMSCALE_POLICY_DETAIL_PERIODIC_HPP
#define LLMSCALE_POLICY_DETAIL_PERIODIC_HPP

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

class Periodic {
 public:
  explicit Periodic(Duration period) noexcept : period_(period) {}
  /// True when a decision is due at `now` (the first call, or a period after the last run).
  [[nodiscard]] bool due(TimePoint now) const noexcept { return !ran_ || now - last_ >= period_; }
  /// Records a run at `now` with its proposal.
  const Proposal& ran(TimePoint now, const Proposal& p) noexcept {
    ran_ = true;
    last_ = now;
    proposal_ = p;
    return proposal_;
  }
  [[nodiscard]] const Proposal& last() const noexcept { return proposal_; }

 private:
  Duration period_;
  TimePoint last_{};
  bool ran_ = false;
  Proposal proposal_{};
};

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_DETAIL_PERIODIC_HPP
