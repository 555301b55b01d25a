// What every Signals snapshot must satisfy, whatever the input: no NaN, no infinity, no
// negative figure, fractions within [0, 1].
#ifndef LLMSCALE_TESTS_SNAPSHOT_CHECKS_HPP
#define LLMSCALE_TESTS_SNAPSHOT_CHECKS_HPP

#include <cmath>

#include "llmscale/signals/snapshot.hpp"

namespace llmscale_test {
inline bool snapshot_is_sane(const llmscale::Signals& s) {
  const double values[] = {s.arrival_rate, s.completion_rate, s.prompt_token_rate, s.output_token_rate,
                           s.mean_prompt_tokens, s.mean_output_tokens, s.output_sigma, s.concurrency, s.running,
                           s.queued, s.running_now, s.queued_now, s.mean_queue_wait_s, s.mean_ttft_s,
                           s.mean_e2e_latency_s, s.queue_wait_p50_s, s.queue_wait_p90_s, s.queue_wait_p99_s,
                           s.ttft_p50_s, s.ttft_p90_s, s.ttft_p99_s, s.engines.queue_length_mean,
                           s.engines.batch_occupancy, s.engines.kv_utilization, s.engines.kv_utilization_max,
                           s.engines.oldest_sample_age_s, s.requests.age_s, s.queue_wait.age_s, s.ttft.age_s,
                           s.engine.age_s};
  for (double v : values) {
    if (!std::isfinite(v) || v < 0) return false;
  }
  // a spread only where lengths are measured, never past a lognormal of 10^9 tokens at most
  if (s.output_sigma > 0 && (s.mean_output_tokens < 1 || s.output_sigma > 6.5)) return false;
  return s.engines.kv_utilization_max <= 1.0 && s.engines.batch_occupancy <= 1.0;
}
}  // namespace llmscale_test

#endif  // LLMSCALE_TESTS_SNAPSHOT_CHECKS_HPP
