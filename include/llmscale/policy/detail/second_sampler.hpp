// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// SecondSampler: feeds a once-a-second metric (as Knative scrapes, as Ray's look-back sees it)
// from ticks that may come faster or slower than a second. The first tick in a second records
// its value for that second; the seconds a slower host skipped hold the last value seen; at
// most a window's worth of seconds is written.
#ifndef LLMSCALE_POLICY_DETAIL_SECOND_SAMPLER_HPP
#define LLMSCALE_POLICY_DETAIL_SECOND_SAMPLER_HPP

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

class SecondSampler {
 public:
  explicit SecondSampler(double window_s) noexcept
      : window_seconds_(static_cast<std::int64_t>(std::ceil(window_s))) {}

  /// Calls record(at, value) for every second owed at `now` (none if now's second is done).
  template <class Record>
  void sample(TimePoint now, double value, Record&& record) noexcept {
    const std::int64_t second = bucket_index(now, std::chrono::seconds(1));
    if (sampled_ && second <= last_) return;
    const std::int64_t from = sampled_ ? std::max(last_ + 1, second - window_seconds_ + 1) : second;
    for (std::int64_t k = from; k <= second; ++k) {
      record(TimePoint(std::chrono::seconds(k)), k == second ? value : last_value_);
    }
    last_value_ = value;
    sampled_ = true;
    last_ = second;
  }

 private:
  std::int64_t window_seconds_;
  bool sampled_ = false;
  std::int64_t last_ = 0;
  double last_value_ = 0;
};

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_DETAIL_SECOND_SAMPLER_HPP
