// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// LogHistogramLayout: the bucket layout every latency histogram in llmscale shares (the
// recorder's per-thread histograms, WindowedQuantiles). Values are durations counted in whole
// microseconds. Below 64 us each microsecond has its own bucket; from there on each octave
// [2^k, 2^(k+1)) us is split into 64 equal buckets, so a bucket is at most 1/64 of its lower
// edge wide and its midpoint is within 1/128 (0.79 %) of any value in it. The top bucket
// (2^36 us, about 19 hours, and above) collects overflow.
//
// Mapping a value to its bucket is a count-leading-zeros and two shifts: cheap enough for the
// request path.
#ifndef LLMSCALE_SIGNALS_LOG_HISTOGRAM_HPP
#define LLMSCALE_SIGNALS_LOG_HISTOGRAM_HPP

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/detail/hardware.hpp"

LLMSCALE_NAMESPACE_BEGIN

struct LogHistogramLayout {
  /// Sub-buckets per octave, as a power of two: 2^6 = 64.
  static constexpr unsigned sub_bucket_bits = 6;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
  /// Octaves above the linear range: values up to 2^(6 + 31) us.
  static constexpr unsigned octaves = 31;
  /// Buckets in all (the last one also holds everything larger).
  static constexpr std::size_t bucket_count = static_cast<std::size_t>(sub_buckets * (octaves + 1));
  /// Buckets per group: the unit in which changed buckets are found cheaply.
  static constexpr std::size_t group_size = 32;
  static constexpr std::size_t group_count = bucket_count / group_size;
  /// The largest relative error of a bucket's midpoint for values of at least 64 us.
  static constexpr double max_relative_error = 1.0 / 128.0;

  /// The bucket of a value in microseconds.
  static constexpr std::size_t bucket_of_us(std::uint64_t us) noexcept {
    if (us < sub_buckets) return static_cast<std::size_t>(us);
    const unsigned msb = 63u - static_cast<unsigned>(count_leading_zeros(us));
    const unsigned shift = msb - sub_bucket_bits;
    if (shift >= octaves) return bucket_count - 1;
    const std::uint64_t sub = (us >> shift) & (sub_buckets - 1);
    return static_cast<std::size_t>((shift + 1) * sub_buckets + sub);
  }

  /// The bucket of a (non-negative) duration.
  static constexpr std::size_t bucket_of(Duration d) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return bucket_of_us(us < 0 ? 0 : static_cast<std::uint64_t>(us));
  }

  /// The smallest value (us) in a bucket.
  static constexpr double lower_us(std::size_t bucket) noexcept {
    if (bucket < sub_buckets) return static_cast<double>(bucket);
    const std::uint64_t shift = bucket / sub_buckets - 1;
    const std::uint64_t sub = bucket % sub_buckets;
    return static_cast<double>((sub_buckets + sub) << shift);
  }

  /// The width (us) of a bucket.
  static constexpr double width_us(std::size_t bucket) noexcept {
    if (bucket < sub_buckets) return 1.0;
    return static_cast<double>(std::uint64_t{1} << (bucket / sub_buckets - 1));
  }

  /// The value reported for a bucket, in seconds: its midpoint.
  static constexpr double midpoint_seconds(std::size_t bucket) noexcept {
    return (lower_us(bucket) + 0.5 * width_us(bucket)) * 1e-6;
  }

 private:
  static constexpr int count_leading_zeros(std::uint64_t v) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_clzll(v);
#else
    int n = 0;
    for (std::uint64_t bit = std::uint64_t{1} << 63; (v & bit) == 0; bit >>= 1) ++n;
    return n;
#endif
  }
};

namespace detail {

/// Nearest-rank quantiles of a LogHistogramLayout histogram with `total` samples: for each q
/// (ascending, in (0, 1]) the midpoint of the bucket holding sample ceil(q total).
/// `group_counts` holds the samples of each bucket group (group_count values, a 32- or 64-bit
/// unsigned type); bucket counts of group g are fetched only for groups that hold a wanted
/// rank, by `group_buckets(g, counts)`, which writes the group's group_size bucket counts (of
/// the same type). Counts read while writers run may disagree a little: a rank beyond what the
/// groups hold is taken as their last sample, and within a group a rank beyond what its buckets
/// hold as its last non-empty bucket. `out` is 0 for every q when `total` is 0 or the groups
/// are empty.
///
/// Without data-dependent branches (which buckets are empty varies from tick to tick): running
/// sums over the groups and over a group's buckets, searched by branch-free binary searches.
template <std::size_t K, class Count, class GroupBuckets>
void nearest_rank_quantiles(std::uint64_t total, const std::array<double, K>& qs, const Count* group_counts,
                            GroupBuckets&& group_buckets, std::array<double, K>& out) noexcept {
  using Layout = LogHistogramLayout;
  static_assert(Layout::group_count == 64 && Layout::group_size == 32, "the searches below halve 64 and 32");
  out.fill(0.0);
  if (total == 0) return;
  std::uint64_t running[Layout::group_count];  // samples in groups 0..g
  std::uint64_t sum = 0;
  LLMSCALE_UNROLL for (std::size_t g = 0; g < Layout::group_count; ++g) running[g] = sum += group_counts[g];
  if (sum == 0) return;
  // the rank of each q, at most what the groups hold
  std::array<std::uint64_t, K> ranks{};
  for (std::size_t k = 0; k < K; ++k) {
    const double r = std::ceil(qs[k] * static_cast<double>(total));
    const std::uint64_t rank = r < 1 ? 1 : (r > static_cast<double>(total) ? total : static_cast<std::uint64_t>(r));
    ranks[k] = rank < sum ? rank : sum;
  }
  std::size_t fetched = Layout::group_count;  // the group whose buckets `in_group` holds
  Count counts[Layout::group_size];
  std::uint64_t in_group[Layout::group_size] = {};  // samples in the fetched group's buckets 0..i
  for (std::size_t k = 0; k < K; ++k) {
    const std::uint64_t r = ranks[k];
    std::size_t g = 0;  // groups whose running sum stays below r: r lies in group g
    for (std::size_t step = 32; step > 0; step >>= 1) g += running[g + step - 1] < r ? step : 0;
    if (g != fetched) {
      group_buckets(g, counts);
      std::uint64_t s = 0;
      LLMSCALE_UNROLL for (std::size_t i = 0; i < Layout::group_size; ++i) in_group[i] = s += counts[i];
      fetched = g;
    }
    const std::uint64_t before = g > 0 ? running[g - 1] : 0;
    const std::uint64_t held = in_group[Layout::group_size - 1];
    const std::uint64_t in = r - before < held ? r - before : held;  // r > before
    std::size_t below = 0;
    for (std::size_t step = 16; step > 0; step >>= 1) below += in_group[below + step - 1] < in ? step : 0;
    out[k] = Layout::midpoint_seconds(g * Layout::group_size + below);
  }
}

}  // namespace detail

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LOG_HISTOGRAM_HPP
