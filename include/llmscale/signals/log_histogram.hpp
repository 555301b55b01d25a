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
/// (ascending, in (0, 1]) the midpoint of the bucket holding sample ceil(q total). Group counts
/// come from `group_count(g)`, asked for in order and only up to the group holding the highest
/// wanted rank; bucket counts of group g are fetched only for groups that hold a wanted rank,
/// by `group_running(g, running)`, which writes the group's running sums (running[i]: samples in
/// its buckets 0..i; group_size values). If the buckets of a group sum to less than its count
/// (a concurrent writer between the two reads) the group's last non-empty bucket answers; if the groups sum to less than `total`, the ranks beyond them take the answer of
/// the highest rank found. `out` is 0 for every q when `total` is 0.
template <std::size_t K, class GroupCount, class GroupRunning>
void nearest_rank_quantiles(std::uint64_t total, const std::array<double, K>& qs, GroupCount&& group_count,
                            GroupRunning&& group_running, std::array<double, K>& out) noexcept {
  using Layout = LogHistogramLayout;
  out.fill(0.0);
  if (total == 0) return;
  std::array<std::uint64_t, K> ranks{};
  for (std::size_t k = 0; k < K; ++k) {
    const double r = std::ceil(qs[k] * static_cast<double>(total));
    ranks[k] = r < 1 ? 1 : (r > static_cast<double>(total) ? total : static_cast<std::uint64_t>(r));
  }
  std::size_t k = 0;
  std::uint64_t before = 0;  // samples in the groups already passed
  for (std::size_t g = 0; g < Layout::group_count && k < K; ++g) {
    const std::uint64_t end = before + group_count(g);
    if (end < ranks[k]) {
      before = end;
      continue;
    }
    // Without data-dependent branches (which buckets are empty varies from tick to tick): the
    // bucket of in-group rank r is the number of buckets whose running sum stays below r, found
    // by a branch-free binary search. If the buckets hold fewer than r, r is cut to what they
    // hold, which picks the last non-empty one.
    static_assert(Layout::group_size == 32, "the search below halves 32");
    std::uint64_t running[Layout::group_size];  // the group's samples up to each bucket
    group_running(g, running);
    const std::uint64_t held = running[Layout::group_size - 1];
    for (; k < K && ranks[k] <= end; ++k) {
      const std::uint64_t r = ranks[k] - before < held ? ranks[k] - before : held;  // ranks[k] > before
      std::size_t below = 0;
      for (std::size_t step = 16; step > 0; step >>= 1) below += running[below + step - 1] < r ? step : 0;
      out[k] = Layout::midpoint_seconds(g * Layout::group_size + below);
    }
    before = end;
  }
  for (; k > 0 && k < K; ++k) out[k] = out[k - 1];
}

}  // namespace detail

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LOG_HISTOGRAM_HPP
