// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// LatencyProfile: how long one replica takes to prefill a batch of prompts and to run one
// decode step, as functions of the batch.
//
//   prefill_ms = a + b P + c Q      P = total prompt tokens in the batch; Q = the sum of each
//                                   prompt's length squared (DistServe's form) or P^2
//   or, from a measured table, a piecewise-linear function of P through the measured medians
//   decode_ms  = a + b X + c n      X = total context tokens of the n running requests
//                                   (DistServe's form; small- and large-batch coefficients)
//
// Sources (the files are read by model/profile_io.hpp, a table's trials fitted by
// model/profile_fit.hpp with Eigen; this header holds the model alone, with no Eigen):
//   - a measured table in the Splitwise format (`fit_latency_profile` over its rows): one model, hardware and
//     tensor parallelism; medians of the repeated trials. The table is a star (batch varies at
//     prompt 512, prompt at batch 1), so prefill is a function of the batch's total prompt
//     tokens P taken from both arms: piecewise linear through the medians (arms measured at
//     the same P averaged), flat below the smallest P (the fixed cost of an iteration) and
//     extended beyond the largest with the slope of its last segment. A quadratic in P cannot
//     follow this hardware's knee (flat to about 512 tokens, then linear): it misses by 30 %.
//     Decode steps are a least-squares fit of DistServe's form to the medians, weighted by
//     1/value so every point counts by its relative error. Residuals of both are reported. A
//     point whose prefill falls as the batch's tokens grow (the TP2 batch-64 rows) is left out
//     of the prefill and counted;
//   - DistServe's fitted coefficients (`from_coefficients`, as a file: refuses a free prefill);
//   - coefficients you pass (`from_coefficients`).
// Queries outside the measured range use the fit and say so (`extrapolated`).
// Every profile is checked when it is made: coefficients finite and within +-10^6 ms per unit,
// the batch threshold within [1, 10^9], and positive times for one 1-token prompt, one prompt of
// 32,768 tokens and a decode step at batch 1 (and just above the threshold): a profile that
// claims 0 s or a negative time would size every fleet to nothing. Coefficients passed in code
// may make prefill free (exactly 0, an idealisation tests use); a file may not. Times in the
// API are seconds.
#ifndef LLMSCALE_MODEL_LATENCY_PROFILE_HPP
#define LLMSCALE_MODEL_LATENCY_PROFILE_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/detail/check.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A profile file that cannot be used; `line()` is the line at fault (0: the file as a whole).
class ProfileError : public std::runtime_error {
 public:
  /// `what` at `line` (0: the file as a whole); what() starts with "line N: " when N > 0.
  ProfileError(const std::string& what, int line)
      : std::runtime_error(line > 0 ? "line " + std::to_string(line) + ": " + what : what), line_(line) {}
  /// The line at fault (0: the file as a whole).
  [[nodiscard]] int line() const noexcept { return line_; }

 private:
  int line_;
};

/// prefill_ms = a + b P + c Q (see the header comment).
struct PrefillCoefficients {
  /// What Q is: P^2 (total_squared) or the sum of each prompt's length squared (sum_of_squares).
  enum class Quadratic : std::uint8_t { total_squared, sum_of_squares };
  /// \var a
  /// The fixed cost, in ms.
  /// \var b
  /// ms per prompt token (P).
  /// \var c
  /// ms per unit of Q.
  double a = 0, b = 0, c = 0;
  Quadratic quadratic = Quadratic::sum_of_squares;  ///< which Q the `c` term uses
};

/// decode_ms = a + b X + c n.
struct DecodeCoefficients {
  /// \var a
  /// The fixed cost of a step, in ms.
  /// \var b
  /// ms per context token held by the batch (X).
  /// \var c
  /// ms per running request (n).
  double a = 0, b = 0, c = 0;
};

/// The measured medians behind a fitted profile, and how well the fit reproduces them.
struct ProfileFit {
  /// One measured (prompt, batch, output) point: the medians of its trials.
  struct Point {
    /// \var prompt_tokens
    /// Tokens in each prompt.
    /// \var batch
    /// Prompts in the batch.
    /// \var output_tokens
    /// Tokens each request generated.
    long long prompt_tokens = 0, batch = 0, output_tokens = 0;
    int trials = 0;  ///< how many trials measured it
    /// \var prefill_ms
    /// The batch's median prefill, in ms.
    /// \var decode_ms
    /// The median mean decode step, in ms.
    double prefill_ms = 0, decode_ms = 0;  // medians
    bool prefill_excluded = false;         ///< left out of the prefill fit as anomalous
  };
  std::vector<Point> points;         ///< one per measured (prompt, batch, output) point
  int excluded = 0;                  ///< points left out of the prefill
  double prefill_max_abs_ms = 0;     ///< largest |fit - median| over the points fitted
  double prefill_max_rel = 0;        ///< the same relative to the median
  double prefill_rms_rel = 0;        ///< the root mean square of the relative errors
  double decode_max_abs_ms = 0;      ///< largest |fit - median| of the decode step over all points
  double decode_max_rel = 0;         ///< the same relative to the median
  double decode_rms_rel = 0;         ///< the root mean square of the relative errors
};

/// One measured trial: a batch of `batch` prompts of `prompt_tokens`, each generating
/// `output_tokens`, its prefill and its mean decode step (ms).
struct ProfileTrial {
  long long prompt_tokens = 0;  ///< tokens in each prompt
  long long batch = 0;          ///< prompts in the batch
  long long output_tokens = 0;  ///< tokens each request generated
  double prefill_ms = 0;        ///< the batch's prefill, in ms
  double decode_ms = 0;         ///< the mean decode step, in ms
};

/// Where the profile was measured; queries beyond it are extrapolations.
struct ProfileRange {
  long long max_batch = 0;          ///< 0: unknown (coefficients only)
  double max_prompt_tokens = 0;     ///< one prompt
  double max_batch_prompt_tokens = 0;  ///< a batch's total
  double max_context_tokens = 0;    ///< a decode batch's total
};

/// A replica's prefill and decode-step times as functions of the batch (see the top of this
/// file).
class LatencyProfile {
 public:
  /// From coefficients (ms); decode coefficients switch from `small` to `large` above
  /// `large_batch_threshold` requests. Throws std::invalid_argument naming the coefficient
  /// (`prefill.a`, `decode_small.b`, ...) for a value that is not finite or beyond +-10^6, a
  /// threshold below 1, a negative prefill, or a decode step of 0 or below.
  static LatencyProfile from_coefficients(const PrefillCoefficients& prefill, const DecodeCoefficients& small,
                                          const DecodeCoefficients& large, long long large_batch_threshold,
                                          const ProfileRange& measured = {}, std::string source = "coefficients");
  /// From coefficients (ms) with one set of decode coefficients for every batch.
  static LatencyProfile from_coefficients(const PrefillCoefficients& prefill, const DecodeCoefficients& decode) {
    return from_coefficients(prefill, decode, decode, std::numeric_limits<long long>::max());
  }
  /// As above, with the provenance and measured range of a file; `allow_free_prefill` false
  /// (a file's coefficients) refuses a prefill of exactly 0 s.
  static LatencyProfile from_coefficients(const PrefillCoefficients& prefill, const DecodeCoefficients& small,
                                          const DecodeCoefficients& large, long long large_batch_threshold,
                                          const ProfileRange& measured, std::string source,
                                          bool allow_free_prefill);
  // fit_latency_profile (model/profile_fit.hpp, the Eigen fit) builds a profile from measured trials
  friend LatencyProfile fit_latency_profile(const std::vector<ProfileTrial>& trials, const std::string& selection,
                                            std::string source);

  /// Prefill of `batch` prompts of `prompt_tokens` each, in seconds.
  [[nodiscard]] double prefill_s(double batch, double prompt_tokens) const noexcept {
    const double p = batch * prompt_tokens;
    if (!knots_.empty()) return interpolate(p) * 1e-3;
    const double q = prefill_.quadratic == PrefillCoefficients::Quadratic::total_squared ? p * p
                                                                                        : batch * prompt_tokens * prompt_tokens;
    return std::max(0.0, prefill_.a + prefill_.b * p + prefill_.c * q) * 1e-3;
  }
  /// One decode step of `batch` requests holding `context_tokens` each, in seconds.
  [[nodiscard]] double decode_step_s(double batch, double context_tokens) const noexcept {
    const DecodeCoefficients& d = batch > static_cast<double>(threshold_) ? large_ : small_;
    return std::max(0.0, d.a + d.b * batch * context_tokens + d.c * batch) * 1e-3;
  }
  /// Whether a query lies outside what was measured (always false without a measured range).
  [[nodiscard]] bool extrapolated(double batch, double prompt_tokens, double context_tokens) const noexcept {
    if (range_.max_batch == 0) return false;
    return batch > static_cast<double>(range_.max_batch) || prompt_tokens > range_.max_prompt_tokens ||
           batch * prompt_tokens > range_.max_batch_prompt_tokens || batch * context_tokens > range_.max_context_tokens;
  }

  /// The prefill polynomial (unused when the profile holds measured knots).
  [[nodiscard]] const PrefillCoefficients& prefill() const noexcept { return prefill_; }
  /// Measured prefill medians (total prompt tokens, ms) the prefill is interpolated through;
  /// empty for coefficient profiles.
  [[nodiscard]] const std::vector<std::pair<double, double>>& prefill_knots() const noexcept { return knots_; }
  /// The decode coefficients up to large_batch_threshold() requests.
  [[nodiscard]] const DecodeCoefficients& decode_small() const noexcept { return small_; }
  /// The decode coefficients above large_batch_threshold() requests.
  [[nodiscard]] const DecodeCoefficients& decode_large() const noexcept { return large_; }
  /// The batch above which decode_large() applies (the largest long long: never).
  [[nodiscard]] long long large_batch_threshold() const noexcept { return threshold_; }
  /// Where the profile was measured (max_batch 0: unknown).
  [[nodiscard]] const ProfileRange& measured() const noexcept { return range_; }
  /// The measured points and the fit's errors (empty unless fitted from a table).
  [[nodiscard]] const ProfileFit& fit() const noexcept { return fit_; }
  /// Where the profile came from, e.g. "coefficients" or "splitwise MODEL HARDWARE tpN".
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

 private:
  double interpolate(double p) const noexcept {
    if (p <= knots_.front().first) return knots_.front().second;
    const auto it = std::lower_bound(knots_.begin(), knots_.end(), p,
                                     [](const std::pair<double, double>& k, double v) { return k.first < v; });
    const auto hi = it == knots_.end() ? std::prev(knots_.end()) : it;
    const auto lo = std::prev(hi);
    const double slope = (hi->second - lo->second) / (hi->first - lo->first);
    // past the last knot a prefill never gets faster with more tokens (a last segment that falls,
    // one noisy median, would extrapolate to negative times)
    if (it == knots_.end() && slope < 0) return hi->second;
    return lo->second + slope * (p - lo->first);
  }

  // the coefficients checked one by one, without the times (a table's prefill comes from knots)
  static LatencyProfile make(const PrefillCoefficients& prefill, const DecodeCoefficients& small,
                             const DecodeCoefficients& large, long long large_batch_threshold,
                             const ProfileRange& measured, std::string source);
  // positive, finite times at the smallest and a long prompt, at batch 1 and past the threshold
  // (a prefill of exactly 0 allowed only when `free_prefill`)
  void check_times(bool free_prefill) const;

  PrefillCoefficients prefill_;
  std::vector<std::pair<double, double>> knots_;  // (P, ms), P ascending, at least 2
  DecodeCoefficients small_, large_;
  long long threshold_ = std::numeric_limits<long long>::max();
  ProfileRange range_;
  ProfileFit fit_;
  std::string source_;
};

// ---------------------------------------------------------------------------------------------
// Implementation.


/// The largest coefficient, in ms per unit, a profile may hold (a prefill of 10^6 ms per token
/// is 17 minutes per token; real ones are below 1).
inline constexpr double max_profile_coefficient = 1e6;
/// The largest large-batch threshold (a batch of a billion requests).
inline constexpr long long max_profile_threshold = 1000000000;

inline LatencyProfile LatencyProfile::make(const PrefillCoefficients& prefill, const DecodeCoefficients& small,
                                           const DecodeCoefficients& large, long long large_batch_threshold,
                                           const ProfileRange& measured, std::string source) {
  const auto check = [](double v, const char* name) {
    detail::check_arg(std::isfinite(v) && std::fabs(v) <= max_profile_coefficient, "latency_profile", name, v,
                      "[-1e6, 1e6] ms per unit");
  };
  check(prefill.a, "prefill.a");
  check(prefill.b, "prefill.b");
  check(prefill.c, "prefill.c");
  check(small.a, "decode_small.a");
  check(small.b, "decode_small.b");
  check(small.c, "decode_small.c");
  check(large.a, "decode_large.a");
  check(large.b, "decode_large.b");
  check(large.c, "decode_large.c");
  detail::check_arg(large_batch_threshold >= 1, "latency_profile", "large_batch_threshold",
                    static_cast<double>(large_batch_threshold), "[1, inf)");
  LatencyProfile p;
  p.prefill_ = prefill;
  p.small_ = small;
  p.large_ = large;
  // at or above the bound the large-batch coefficients are never reached
  p.threshold_ = large_batch_threshold;
  p.range_ = measured;
  p.source_ = std::move(source);
  return p;
}

inline void LatencyProfile::check_times(bool free_prefill) const {
  // the formulas, not prefill_s/decode_step_s, which clamp at 0 and so would hide the fault
  const auto prefill_ms = [&](double prompt) {
    if (!knots_.empty()) return interpolate(prompt);
    return prefill_.a + prefill_.b * prompt + prefill_.c * prompt * prompt;  // one prompt: Q = P^2 either way
  };
  const auto decode_ms = [](const DecodeCoefficients& d, double batch) { return d.a + d.b * batch + d.c * batch; };
  const auto positive = [](double ms, const char* what) {
    detail::check_arg(std::isfinite(ms) && ms > 0, "latency_profile", what, ms, "(0, inf) ms: a latency is positive");
  };
  const auto prefill = [&](double ms, const char* what) {
    if (free_prefill && ms == 0) return;
    positive(ms, what);
  };
  prefill(prefill_ms(1), "prefill of one 1-token prompt");
  prefill(prefill_ms(32768), "prefill of one 32768-token prompt");
  positive(decode_ms(small_, 1), "decode step at batch 1, context 1");
  if (threshold_ < max_profile_threshold) {
    positive(decode_ms(large_, static_cast<double>(threshold_) + 1), "decode step past the large-batch threshold");
  }
}

inline LatencyProfile LatencyProfile::from_coefficients(const PrefillCoefficients& prefill,
                                                        const DecodeCoefficients& small,
                                                        const DecodeCoefficients& large,
                                                        long long large_batch_threshold, const ProfileRange& measured,
                                                        std::string source) {
  return from_coefficients(prefill, small, large, large_batch_threshold, measured, std::move(source), true);
}

inline LatencyProfile LatencyProfile::from_coefficients(const PrefillCoefficients& prefill,
                                                        const DecodeCoefficients& small,
                                                        const DecodeCoefficients& large,
                                                        long long large_batch_threshold, const ProfileRange& measured,
                                                        std::string source, bool allow_free_prefill) {
  LatencyProfile p = make(prefill, small, large, large_batch_threshold, measured, std::move(source));
  p.check_times(allow_free_prefill);
  return p;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_LATENCY_PROFILE_HPP
