// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// A Prometheus histogram's buckets, as the Kubernetes path reads them: the cumulative counts
// at each upper bound `le`, summed over a page's label sets (HistogramBuckets), the increase
// between two scrapes of one replica (bucket_increase, restart-safe), and a quantile of such
// an increase the way PromQL's histogram_quantile(q, rate(..._bucket[w])) computes it
// (bucket_quantile: linear within the bucket the rank falls in; the highest finite bound when
// it falls in +Inf). A replica's counts are kept on the fleet's layout (bucket_counts_on: the
// first usable buckets seen fix it; a page with other bounds gives no buckets). bucket_spread estimates a standard deviation from the same counts (each
// observation at its bucket's midpoint), for token-length histograms whose `_sum` gives the
// exact mean.
#ifndef LLMSCALE_ADAPTERS_HISTOGRAM_BUCKETS_HPP
#define LLMSCALE_ADAPTERS_HISTOGRAM_BUCKETS_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "llmscale/core/abi.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A histogram's cumulative bucket counts on one page, summed over its label sets.
struct HistogramBuckets {
  /// The most distinct bounds read (engines export 10-30); a page with more is not used.
  static constexpr std::size_t max_buckets = 40;
  std::array<double, max_buckets> le{};     ///< upper bounds, ascending (the last may be +Inf)
  std::array<double, max_buckets> count{};  ///< observations <= le, cumulative
  std::uint8_t size = 0;                    ///< bounds in use
  bool overflow = false;  ///< more than max_buckets distinct bounds, or a bad bound or count: not used

  /// Adds `n` observations at bound `bound` (a label set's `_bucket{le="bound"}` sample); the
  /// same bound from another label set adds to it.
  void add(double bound, double n) noexcept {
    if (std::isnan(bound) || !(n >= 0) || !std::isfinite(n)) {
      overflow = true;
      return;
    }
    std::size_t i = 0;
    while (i < size && le[i] < bound) ++i;
    if (i < size && le[i] == bound) {
      count[i] += n;
      return;
    }
    if (size == max_buckets) {
      overflow = true;
      return;
    }
    for (std::size_t j = size; j > i; --j) {
      le[j] = le[j - 1];
      count[j] = count[j - 1];
    }
    le[i] = bound;
    count[i] = n;
    ++size;
  }
  /// Buckets were read, and they can be used: a +Inf bucket (the total; PromQL has no quantile
  /// without one either), and counts that never fall as the bound rises (beyond the rounding of
  /// summed label sets, 1e-9 relative).
  [[nodiscard]] bool usable() const noexcept {
    if (size == 0 || overflow || !std::isinf(le[size - 1])) return false;
    for (std::size_t i = 1; i < size; ++i) {
      if (count[i] < count[i - 1] - 1e-9 * std::max(1.0, count[i - 1])) return false;
    }
    return true;
  }
  /// Whether `other` has the same bounds (bounds equal within 1e-9 relative).
  [[nodiscard]] bool same_bounds(const HistogramBuckets& other) const noexcept {
    if (size != other.size) return false;
    for (std::size_t i = 0; i < size; ++i) {
      const double a = le[i], b = other.le[i];
      if (a == b) continue;
      if (!(std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b)))) return false;
    }
    return true;
  }
};

/// The cumulative counts of one bucket layout (the fleet's: the first usable buckets seen).
using BucketCounts = std::array<double, HistogramBuckets::max_buckets>;

/// The counts of `page` on the bounds of `layout` (the fleet's), into `out`; false, and `out`
/// untouched, when `page` is not usable or its bounds differ.
[[nodiscard]] inline bool bucket_counts_on(const HistogramBuckets& page, const HistogramBuckets& layout, BucketCounts& out) noexcept {
  if (!page.usable() || !page.same_bounds(layout)) return false;
  out = page.count;
  return true;
}

/// Observations per bound between two scrapes of one replica (`n` bounds, the same layout),
/// into `out` (cumulative, like the counts): `after - before`, or `after` alone where any
/// bucket's count fell (a restart, counted from 0, as PromQL's rate() reads a fall per series). False, and `out` untouched, where an increase would fall as
/// the bound rises (counts that cannot be true; a fall within 1e-9 relative, the rounding of
/// fractional counts, is evened out).
[[nodiscard]] inline bool bucket_increase(const BucketCounts& before, const BucketCounts& after, std::size_t n,
                                         BucketCounts& out) noexcept {
  if (n == 0 || n > out.size()) return false;
  bool restart = false;
  for (std::size_t i = 0; i < n; ++i) restart = restart || after[i] < before[i];
  BucketCounts d{};
  for (std::size_t i = 0; i < n; ++i) {
    d[i] = restart ? after[i] : after[i] - before[i];
    const double floor = i > 0 ? d[i - 1] : 0.0;
    if (!(d[i] >= floor - 1e-9 * std::max(1.0, floor))) return false;
    d[i] = std::max(d[i], floor);
  }
  out = d;
  return true;
}

/// The q-quantile (q in [0, 1]) of observations counted cumulatively at bounds `le` (`n`
/// bounds, ascending, the last usually +Inf), as PromQL's histogram_quantile: the rank q x total
/// found in the first bucket whose count reaches it, interpolated linearly between that
/// bucket's lower bound (0 for the first, where its bound is positive) and its upper bound; the
/// highest finite bound when the rank falls in +Inf. NaN without observations.
[[nodiscard]] inline double bucket_quantile(const double* le, const double* cumulative, std::size_t n, double q) noexcept {
  if (n == 0 || !(cumulative[n - 1] > 0) || !(q >= 0 && q <= 1)) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * cumulative[n - 1];
  std::size_t i = 0;
  while (i + 1 < n && cumulative[i] < rank) ++i;
  if (std::isinf(le[i])) {
    // +Inf: the highest finite bound (none: NaN)
    return i > 0 ? le[i - 1] : std::numeric_limits<double>::quiet_NaN();
  }
  const double lower = i > 0 ? le[i - 1] : std::min(0.0, le[0]);
  const double below = i > 0 ? cumulative[i - 1] : 0.0;
  const double in_bucket = cumulative[i] - below;
  if (!(in_bucket > 0)) return le[i];
  return lower + (le[i] - lower) * (rank - below) / in_bucket;
}

/// How many of the observations counted cumulatively at bounds `le` are at most `x`: exact
/// at a bound, interpolated linearly within a bucket (as bucket_quantile is), all of them past
/// the highest finite bound only when `x` is +Inf. 0 without observations.
[[nodiscard]] inline double bucket_count_below(const double* le, const double* cumulative, std::size_t n, double x) noexcept {
  if (n == 0 || !(cumulative[n - 1] > 0) || std::isnan(x)) return 0.0;
  double lower = std::min(0.0, le[0]), below = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (x < le[i]) {
      if (std::isinf(le[i])) return below;  // past the highest finite bound: nothing known to be below x
      if (x <= lower) return below;
      return below + (cumulative[i] - below) * (x - lower) / (le[i] - lower);
    }
    below = cumulative[i];
    lower = le[i];
  }
  return cumulative[n - 1];
}

/// The mean natural log of whole-number observations of at least 1 (token counts) counted
/// cumulatively at bounds `le`: a bucket (lo, hi]'s at the middle of its logs, (ln(lo + 1) +
/// ln hi) / 2 (the first bucket's from 1, an observation of 0 counting as 1; the +Inf bucket's at
/// ln of the highest finite bound). NaN without observations. On vLLM's 1-2-5 buckets it puts
/// the lognormal spread output_sigma_of gives within 4 % of the one from the exact logs for
/// spreads of 1-1.5 (tested), about 8 % for 0.5 (the buckets are wide against the spread).
[[nodiscard]] inline double bucket_mean_log(const double* le, const double* cumulative, std::size_t n) noexcept {
  if (n == 0 || !(cumulative[n - 1] > 0)) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0, below = 0, lower = 0;
  const auto ln = [](double x) { return x > 1 ? std::log(x) : 0.0; };
  for (std::size_t i = 0; i < n; ++i) {
    const double in_bucket = cumulative[i] - below;
    const double at = std::isinf(le[i]) ? ln(lower) : 0.5 * (ln(lower + 1) + ln(le[i]));
    sum += in_bucket * at;
    below = cumulative[i];
    if (!std::isinf(le[i])) lower = std::max(lower, le[i]);
  }
  return sum / cumulative[n - 1];
}

/// The standard deviation of observations counted cumulatively at bounds `le` whose mean is
/// `mean` (from the histogram's `_sum`): each observation at its bucket's midpoint (the first
/// bucket's lower bound 0, the +Inf bucket's observations at the highest finite bound). NaN
/// without observations. A coarse figure: buckets 1-2-5 apart put it within about 30 %.
[[nodiscard]] inline double bucket_spread(const double* le, const double* cumulative, std::size_t n, double mean) noexcept {
  if (n == 0 || !(cumulative[n - 1] > 0) || !std::isfinite(mean)) return std::numeric_limits<double>::quiet_NaN();
  double squares = 0, below = 0, lower = std::min(0.0, le[0]);
  for (std::size_t i = 0; i < n; ++i) {
    const double in_bucket = cumulative[i] - below;
    const double at = std::isinf(le[i]) ? lower : 0.5 * (lower + le[i]);
    squares += in_bucket * (at - mean) * (at - mean);
    below = cumulative[i];
    if (!std::isinf(le[i])) lower = le[i];
  }
  return std::sqrt(std::max(0.0, squares / cumulative[n - 1]));
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_HISTOGRAM_BUCKETS_HPP
