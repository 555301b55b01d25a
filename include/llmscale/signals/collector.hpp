// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// SignalCollector: owns a Recorder (request events) and EngineGauges (what each replica's
// engine reports) and turns them, through windowed estimators, into the Signals snapshot
// (signals/snapshot.hpp) a policy reads once per tick. SignalsConfig holds its windows.
#ifndef LLMSCALE_SIGNALS_COLLECTOR_HPP
#define LLMSCALE_SIGNALS_COLLECTOR_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/engine_gauges.hpp"
#include "llmscale/signals/latency_window.hpp"
#include "llmscale/signals/recorder.hpp"
#include "llmscale/signals/snapshot.hpp"
#include "llmscale/signals/window_sum.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// SignalCollector's settings (ScrapedSignals reads some of them).
struct SignalsConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "signals";

  RecorderConfig recorder;  ///< its keys: writer_shards, event_skew_s, max_duration_s, max_tokens
  /// Replica slots for engine gauges.
  int replica_slots = 64;
  /// Seconds over which rates, concurrency and means are averaged.
  double window_s = 60.0;
  /// Seconds per bucket of those windows.
  double granularity_s = 1.0;
  /// Seconds over which latency quantiles are taken.
  double quantile_window_s = 60.0;
  /// Parts the quantile window moves by.
  int quantile_subwindows = 6;
  /// A source with no fresh data for this many seconds (while data is expected) is stale.
  double stale_after_s = 30.0;
  /// A replica with KV use at or above this fraction is saturated.
  double kv_saturation = 0.8;
  /// A replica with at least this many queued requests is saturated.
  int queue_saturation = 5;

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    RecorderConfig::describe(self.recorder, v);
    v("replica_slots", self.replica_slots, closed(1, 1'000'000), "replica slots for engine gauges");
    v("window_s", self.window_s, open_closed(0.0, 86400.0), "seconds over which rates and concurrency average");
    v("granularity_s", self.granularity_s, open_closed(0.0, 60.0), "seconds per window bucket");
    v("quantile_window_s", self.quantile_window_s, open_closed(0.0, 86400.0),
      "seconds over which latency quantiles are taken");
    v("quantile_subwindows", self.quantile_subwindows, closed(1, 3600), "parts the quantile window moves by");
    v("stale_after_s", self.stale_after_s, open_closed(0.0, 86400.0),
      "seconds without fresh data before a source is stale");
    v("kv_saturation", self.kv_saturation, open_closed(0.0, 1.0), "KV use fraction at which a replica is saturated");
    v("queue_saturation", self.queue_saturation, closed(1, 1'000'000),
      "queued requests at which a replica is saturated");
  }

  /// The first field out of range, a granularity longer than the window or making over 100,000
  /// buckets, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (granularity_s > window_s) {
      return ConfigProblem{config_name, "granularity_s", detail::format_number(granularity_s),
                           "(0, window_s = " + detail::format_number(window_s) + "]", "is longer than the window", 0};
    }
    if (window_s / granularity_s > 100000) {
      return ConfigProblem{config_name, "granularity_s", detail::format_number(granularity_s),
                           "[window_s / 100000, window_s]", "makes too many buckets", 0};
    }
    return std::nullopt;
  }
};

/// Owns the Recorder and the EngineGauges a host writes to, and turns them into a Signals
/// snapshot once per tick. `tick` is for one control thread; it allocates nothing.
class SignalCollector {
 public:
  /// Allocates everything; throws std::invalid_argument for an invalid config.
  SignalCollector(const SignalsConfig& config, TimePoint start)
      : config_((require_valid(config), config)),
        recorder_(config.recorder, start),
        gauges_(static_cast<std::size_t>(config.replica_slots),
                SaturationThresholds{config.kv_saturation, config.queue_saturation}),
        start_(start),
        last_activity_(start),
        stale_after_(from_seconds(config.stale_after_s)),
        sums_(from_seconds(config.window_s), from_seconds(config.granularity_s)),
        wait_q_(recorder_, LatencyHistogram::queue_wait, from_seconds(config.quantile_window_s),
                static_cast<std::size_t>(config.quantile_subwindows), start),
        ttft_q_(recorder_, LatencyHistogram::ttft, from_seconds(config.quantile_window_s),
                static_cast<std::size_t>(config.quantile_subwindows), start),
        tpot_q_(recorder_, LatencyHistogram::tpot, from_seconds(config.quantile_window_s),
                static_cast<std::size_t>(config.quantile_subwindows), start) {
    guard_.accept(start);
    signals_.at = start;
  }

  SignalCollector(const SignalCollector&) = delete;
  SignalCollector& operator=(const SignalCollector&) = delete;

  /// Where request threads record events.
  [[nodiscard]] Recorder& recorder() noexcept { return recorder_; }
  /// Where the host sets each replica's engine gauges.
  [[nodiscard]] EngineGauges& gauges() noexcept { return gauges_; }
  /// The configuration it was built with.
  [[nodiscard]] const SignalsConfig& config() const noexcept { return config_; }

  /// Drains the recorder, updates every estimator and returns the snapshot at `now`. A `now`
  /// earlier than the last tick's is ignored and counted; the previous snapshot is returned.
  const Signals& tick(TimePoint now) noexcept;

  /// The last snapshot.
  [[nodiscard]] const Signals& signals() const noexcept { return signals_; }

  /// The rate and mean windows' state, to carry their history across a restart (the latency
  /// quantiles come from the recorder's histograms, which start afresh with the process).
  [[nodiscard]] std::string save_state() const { return sums_.save_state(); }
  /// Restores what save_state wrote (with the same window and granularity); false and
  /// unchanged otherwise.
  bool load_state(std::string_view state) {
    if (!sums_.load_state(state)) return false;
    start_ = std::min(start_, sums_.window_start());  // the loaded history is real time covered
    return true;
  }

 private:
  // the channels of sums_
  enum Channel : std::size_t {
    arrivals, completions, token_samples, prompt_tokens, output_tokens, output_log_tokens, wait_n, wait_sum, ttft_n,
    ttft_sum, e2e_n, e2e_sum, queued_integral, running_integral, channel_count
  };

  SignalsConfig config_;
  Recorder recorder_;
  EngineGauges gauges_;
  TimePoint start_;
  TimePoint last_activity_;
  TimePoint last_wait_sample_{};
  TimePoint last_ttft_sample_{};
  TimePoint last_tpot_sample_{};
  Duration stale_after_;
  WindowSums<channel_count> sums_;
  LatencyWindow wait_q_;
  LatencyWindow ttft_q_;
  LatencyWindow tpot_q_;
  std::uint64_t dropped_invalid_ = 0;
  std::uint64_t dropped_stale_ = 0;
  MonotonicGuard guard_;
  Signals signals_;
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline const Signals& SignalCollector::tick(TimePoint now) noexcept {
  if (!guard_.accept(now)) {
    signals_.ignored_ticks = guard_.rejected();
    return signals_;
  }
  // What the quantiles read last is likely read again: start loading it now, while the
  // drain, the sums and the engine gauges run.
  wait_q_.prefetch();
  ttft_q_.prefetch();
  tpot_q_.prefetch();
  const RecorderDelta d = recorder_.drain(now);
  // The latency windows move first: at a part boundary they start loading the new oldest
  // snapshot, which the sums and the engine gauges then give time to arrive.
  wait_q_.update(now);
  ttft_q_.update(now);
  tpot_q_.update(now);
  const TimePoint from = d.from < now ? d.from : now;
  const auto u = [](std::uint64_t v) { return static_cast<double>(v); };
  sums_.add_spread(from, now,
                   {u(d.arrivals), u(d.finished), u(d.token_samples), u(d.prompt_tokens), u(d.output_tokens),
                    d.output_log_tokens, u(d.queue_wait_samples), d.queue_wait_sum_s, u(d.ttft_samples),
                    d.ttft_sum_s, u(d.e2e_samples), d.e2e_sum_s, d.queued_integral, d.running_integral});
  sums_.advance(now);
  dropped_invalid_ += d.dropped_invalid;
  dropped_stale_ += d.dropped_stale;
  Signals& s = signals_;
  s.engines = gauges_.summarize(now, stale_after_);

  const auto& t = sums_.totals();
  const double covered = sums_.covered_seconds(now, start_);
  const auto rate = [&](Channel c) { return std::max(0.0, t[c]) / covered; };
  const auto ratio = [&](Channel num, Channel den) { return t[den] > 0.5 ? std::max(0.0, t[num]) / t[den] : 0.0; };

  s.at = now;
  s.ignored_ticks = guard_.rejected();
  s.arrival_rate = rate(arrivals);
  s.completion_rate = rate(completions);
  s.prompt_token_rate = rate(prompt_tokens);
  s.output_token_rate = rate(output_tokens);
  s.mean_prompt_tokens = ratio(prompt_tokens, token_samples);
  s.mean_output_tokens = ratio(output_tokens, token_samples);
  s.output_sigma =
      t[token_samples] > 0.5 ? output_sigma_of(s.mean_output_tokens, ratio(output_log_tokens, token_samples)) : 0.0;
  s.queued = rate(queued_integral);
  s.running = rate(running_integral);
  s.concurrency = s.queued + s.running;
  s.queued_now = static_cast<double>(std::max<std::int64_t>(0, d.queued_now));
  s.running_now = static_cast<double>(std::max<std::int64_t>(0, d.running_now));
  s.mean_queue_wait_s = ratio(wait_sum, wait_n);
  s.mean_ttft_s = ratio(ttft_sum, ttft_n);
  s.mean_e2e_latency_s = ratio(e2e_sum, e2e_n);
  constexpr std::array<double, 3> qs{0.50, 0.90, 0.99};
  std::array<double, 3> q{};
  wait_q_.quantiles(qs, q);
  s.queue_wait_p50_s = q[0];
  s.queue_wait_p90_s = q[1];
  s.queue_wait_p99_s = q[2];
  ttft_q_.quantiles(qs, q);
  s.ttft_p50_s = q[0];
  s.ttft_p90_s = q[1];
  s.ttft_p99_s = q[2];
  tpot_q_.quantiles(qs, q);
  s.tpot_p50_s = q[0];
  s.tpot_p90_s = q[1];
  s.tpot_p99_s = q[2];

  // Requests: idle (nothing in flight, nothing happening) is fresh data; no events while
  // requests are in flight is not.
  const bool idle = d.queued_now <= 0 && d.running_now <= 0;
  if (d.events() > 0 || idle) last_activity_ = now;
  if (d.queue_wait_samples > 0) last_wait_sample_ = now;
  if (d.ttft_samples > 0) last_ttft_sample_ = now;
  if (d.tpot_samples > 0) last_tpot_sample_ = now;
  s.requests.age_s = to_seconds(now - last_activity_);
  s.requests.stale = now - last_activity_ > stale_after_;
  s.requests.samples = static_cast<std::uint64_t>(std::max(0.0, t[arrivals]) + 0.5);
  s.requests.dropped_invalid = dropped_invalid_;
  s.requests.dropped_stale = dropped_stale_;
  s.queue_wait = s.requests;
  s.queue_wait.samples = wait_q_.count();
  if (wait_q_.count() > 0) s.queue_wait.age_s = to_seconds(now - last_wait_sample_);
  s.ttft = s.requests;
  s.ttft.samples = ttft_q_.count();
  if (ttft_q_.count() > 0) s.ttft.age_s = to_seconds(now - last_ttft_sample_);
  s.tpot = s.requests;
  s.tpot.samples = tpot_q_.count();
  if (tpot_q_.count() > 0) s.tpot.age_s = to_seconds(now - last_tpot_sample_);

  s.engine.age_s = s.engines.oldest_sample_age_s;
  s.engine.stale = s.engines.replicas_stale > 0;
  s.engine.samples = static_cast<std::uint64_t>(s.engines.replicas_reporting);
  s.engine.dropped_invalid = gauges_.invalid_samples();
  s.engine.dropped_stale = gauges_.out_of_order_samples();
  return s;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_COLLECTOR_HPP
