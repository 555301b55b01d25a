// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Workloads the project generates itself (seeded, streamed in time order):
//   LengthModel      lognormal prompt and output lengths given by mean and median; the default
//                    is docs/simulator.md's fit to the Azure 2023 conversation trace (prompt mean
//                    1,155, median 1,020; output mean 211, median 129)
//   RateSeriesTrace  requests from a rate series (ServeGen's 600 s windows, or an llmscale
//                    record's): in each window a renewal process with Gamma inter-arrival times of
//                    the window's rate and CV; a record's window ends after its own length (a gap
//                    to the next is silent) and draws lengths with its own token moments
//   ScenarioTrace    the built-in scenarios (`--scenario`):
//                      chat-day     24 h: a daily cycle (0.35x the peak at 04:00, the peak of 12 req/s
//                                   at 16:00) modulated by a two-state Markov chain (bursts of 1.6x
//                                   lasting 10 min on average, one every 2 h on average); Azure
//                                   conversation lengths
//                      code-bursts  2 h of on/off load: silences of 2 min plus an exponential mean
//                                   4 min (the first: 10 min), then bursts of 1 to 3 min at
//                                   400-600 req/min; code-like
//                                   lengths (prompt mean 2,048, median 1,500; output mean 28, median 13)
//                      flash-crowd  2 h at 4 req/s with a 10x step (40 req/s) from 45 to 60 min;
//                                   Azure conversation lengths
//                    Arrivals within the rate function are Poisson (thinning), x `rate_scale`.
#ifndef LLMSCALE_SIM_WORKLOAD_HPP
#define LLMSCALE_SIM_WORKLOAD_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/sim/trace.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Lognormal lengths from their mean and median (mean >= median), clamped to [1, max].
struct LengthModel {
  /// \var prompt_mean
  /// The prompt tokens' mean.
  /// \var prompt_median
  /// The prompt tokens' median.
  double prompt_mean = 1155, prompt_median = 1020;
  /// \var output_mean
  /// The output tokens' mean.
  /// \var output_median
  /// The output tokens' median.
  double output_mean = 211, output_median = 129;
  /// \var prompt_max
  /// The longest prompt drawn.
  /// \var output_max
  /// The longest output drawn.
  double prompt_max = 32768, output_max = 4096;

  /// Code completion: long prompts, short outputs.
  static LengthModel code() noexcept { return LengthModel{2048, 1500, 28, 13, 32768, 4096}; }

  /// `base` fitted to a window's measured token moments (NaN: unknown; an llmscale record's):
  /// a known mean m with standard deviation s gives the lognormal's median m / sqrt(1 + s^2/m^2);
  /// with s unknown the median keeps `base`'s median/mean ratio; with m unknown the lengths are
  /// `base`'s. The clamps are `base`'s. All unknown: `base` itself (a ServeGen window's draws).
  [[nodiscard]] static LengthModel fitted(const LengthModel& base, double prompt_mean, double prompt_sd, double output_mean,
                                          double output_sd) noexcept {
    LengthModel m = base;
    fit(m.prompt_mean, m.prompt_median, prompt_mean, prompt_sd);
    fit(m.output_mean, m.output_median, output_mean, output_sd);
    return m;
  }

  /// Draws `r`'s prompt and output tokens with `rng` (its arrival is left as it is).
  template <class Rng>
  void draw(Rng& rng, TraceRequest& r) const {
    r.prompt_tokens = draw_one(rng, prompt_mean, prompt_median, prompt_max);
    r.output_tokens = draw_one(rng, output_mean, output_median, output_max);
  }

 private:
  static void fit(double& mean, double& median, double measured_mean, double measured_sd) noexcept {
    if (!(measured_mean >= 1)) return;  // unknown
    const double cv = measured_sd / measured_mean;
    median = std::isnan(measured_sd) ? measured_mean * (median / mean) : measured_mean / std::sqrt(1.0 + cv * cv);
    mean = measured_mean;
  }

  template <class Rng>
  static std::int32_t draw_one(Rng& rng, double mean, double median, double max) {
    const double mu = std::log(median);
    const double sigma = std::sqrt(std::max(0.0, 2.0 * std::log(mean / median)));
    const double v = std::exp(mu + sigma * std::normal_distribution<double>(0.0, 1.0)(rng));
    return static_cast<std::int32_t>(std::clamp(std::round(v), 1.0, max));
  }
};

/// Requests from a rate series read by `reader` (format servegen or llmscale): rates x
/// `rate_scale`, Gamma inter-arrival times with each window's CV (clamped to [0.05, 20]), lengths
/// from `lengths` fitted to the window's token moments where it has them (LengthModel::fitted).
/// A window with a length (an llmscale record's) ends after it: a gap to the next window has no
/// arrivals (the scaler was down), and an overlap goes to the earlier window. A ServeGen window
/// lasts until the next one starts (a malformed row's window merges into the one before it); the
/// last lasts as long as the shortest before it (600 s if it is the only one).
class RateSeriesTrace {
 public:
  /// `reader` must outlive the trace; `seed` drives the arrivals and lengths. Throws
  /// std::invalid_argument for a rate_scale outside (0, 10^6].
  RateSeriesTrace(TraceReader& reader, double rate_scale, std::uint64_t seed, LengthModel lengths = {})
      : reader_(&reader), scale_(rate_scale), lengths_(lengths), rng_(seed) {
    if (!(rate_scale > 0) || rate_scale > 1e6) {
      throw std::invalid_argument("rate_scale = " + std::to_string(rate_scale) + " is out of range; allowed: (0, 1000000]");
    }
    have_ = reader_->next_window(window_);
    have_next_ = have_ && reader_->next_window(next_);
    window_lengths_ = lengths_of(window_);
  }

  /// The next request, in time order, into `out`; false at the end of the series.
  bool next(TraceRequest& out) {
    while (have_) {
      const double end = window_end();
      const double rate = window_.rate * scale_;
      if (rate > 0) {
        if (!(t_ >= window_.start_s)) t_ = window_.start_s;
        const double cv = std::clamp(window_.cv, 0.05, 20.0);
        const double shape = 1.0 / (cv * cv);
        const double gap = std::gamma_distribution<double>(shape, 1.0 / (rate * shape))(rng_);
        if (t_ + gap < end) {
          t_ += gap;
          out.arrival_s = t_;
          window_lengths_.draw(rng_, out);
          return true;
        }
      }
      // on to the next window (the draw that overshot is discarded: a renewal restarted there);
      // never back in time: a window that ends before the last arrival (rows out of order by the
      // disorder the reader allows, or a record's overlapping windows) must not reopen the past
      t_ = std::max(t_, end);
      if (end > window_.start_s) step_ = std::min(step_, end - window_.start_s);
      have_ = have_next_;
      window_ = next_;
      window_lengths_ = lengths_of(window_);
      have_next_ = have_ && reader_->next_window(next_);
    }
    return false;
  }

 private:
  [[nodiscard]] LengthModel lengths_of(const RateWindow& w) const noexcept {
    return LengthModel::fitted(lengths_, w.prompt_mean, w.prompt_sd, w.output_mean, w.output_sd);
  }
  [[nodiscard]] double window_end() const noexcept {
    if (window_.length_s > 0) return window_.start_s + window_.length_s;
    if (have_next_) return std::max(next_.start_s, window_.start_s);
    return window_.start_s + (std::isfinite(step_) ? step_ : 600.0);
  }

  TraceReader* reader_;
  double scale_;
  LengthModel lengths_;
  LengthModel window_lengths_;  // lengths_ fitted to the current window's token moments
  std::mt19937_64 rng_;
  RateWindow window_, next_;
  bool have_ = false, have_next_ = false;
  double t_ = -std::numeric_limits<double>::infinity();
  double step_ = std::numeric_limits<double>::infinity();  // the shortest window so far
};

/// A built-in workload (ScenarioTrace): a day of chat, two hours of code bursts, or a flash crowd.
enum class Scenario : std::uint8_t { chat_day, code_bursts, flash_crowd };

/// The scenarios' names, in `--scenario` order.
inline constexpr std::array<EnumName<Scenario>, 3> scenario_names{
    {{"chat-day", Scenario::chat_day}, {"code-bursts", Scenario::code_bursts}, {"flash-crowd", Scenario::flash_crowd}}};

/// Parses a scenario's name ("chat-day", "code-bursts", "flash-crowd"); false for anything else.
inline bool parse_scenario(std::string_view s, Scenario& out) noexcept { return detail::enum_value(scenario_names, s, out); }

/// A built-in scenario's requests, seeded; rates x `rate_scale`.
class ScenarioTrace {
 public:
  /// Throws std::invalid_argument for a rate_scale outside (0, 10^6].
  ScenarioTrace(Scenario scenario, double rate_scale, std::uint64_t seed)
      : scenario_(scenario), scale_(rate_scale), rng_(seed) {
    if (!(rate_scale > 0) || rate_scale > 1e6) {
      throw std::invalid_argument("rate_scale = " + std::to_string(rate_scale) + " is out of range; allowed: (0, 1000000]");
    }
    if (scenario_ == Scenario::code_bursts) lengths_ = LengthModel::code();
    peak_ = scale_ * (scenario_ == Scenario::chat_day ? 12.0 * burst_factor : scenario_ == Scenario::code_bursts ? 10.0 : 40.0);
    if (scenario_ == Scenario::code_bursts) start_silence();
    if (scenario_ == Scenario::chat_day) next_switch_ = exponential(mean_calm_s);
  }

  /// The scenario's length in seconds.
  [[nodiscard]] double duration_s() const noexcept { return scenario_ == Scenario::chat_day ? 86400.0 : 7200.0; }

  /// The next request, in time order, into `out`; false once past duration_s().
  bool next(TraceRequest& out) {
    // thinning: candidates at the peak rate, each kept with probability rate(t) / peak
    while (true) {
      t_ += exponential(1.0 / peak_);
      if (t_ >= duration_s()) return false;
      if (uniform_(rng_) * peak_ < rate(t_)) {
        out.arrival_s = t_;
        lengths_.draw(rng_, out);
        return true;
      }
    }
  }

  /// The rate (requests/s) at `t`, for the candidates in time order (advances the bursts' state).
  double rate(double t) {
    switch (scenario_) {
      case Scenario::chat_day: {
        while (t >= next_switch_) {
          burst_ = !burst_;
          next_switch_ += exponential(burst_ ? mean_burst_s : mean_calm_s);
        }
        const double hour = t / 3600.0;
        const double daily = 0.35 + 0.65 * (0.5 - 0.5 * std::cos(2 * 3.14159265358979323846 * (hour - 4.0) / 24.0));
        return scale_ * 12.0 * daily * (burst_ ? burst_factor : 1.0);
      }
      case Scenario::code_bursts:
        while (t >= next_switch_) {
          if (burst_) {
            start_silence();
          } else {
            burst_ = true;
            burst_rate_ = (400.0 + 200.0 * uniform_(rng_)) / 60.0;
            next_switch_ += 60.0 + 120.0 * uniform_(rng_);
          }
        }
        return burst_ ? scale_ * burst_rate_ : 0.0;
      case Scenario::flash_crowd:
        return scale_ * (t >= 2700.0 && t < 3600.0 ? 40.0 : 4.0);
    }
    return 0.0;
  }

 private:
  static constexpr double burst_factor = 1.6, mean_burst_s = 600.0, mean_calm_s = 7200.0;

  double exponential(double mean) { return std::exponential_distribution<double>(1.0 / mean)(rng_); }
  void start_silence() {
    // the first silence lasts 10 minutes: a fleet started for the first minute's load (none)
    // can be grown before the first burst with a cold start of up to 10 minutes
    burst_ = false;
    next_switch_ = next_switch_ <= 0 ? 600.0 : next_switch_ + 120.0 + exponential(240.0);
  }

  Scenario scenario_;
  double scale_;
  LengthModel lengths_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  double peak_ = 1, t_ = 0;
  bool burst_ = false;
  double next_switch_ = 0, burst_rate_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_WORKLOAD_HPP
