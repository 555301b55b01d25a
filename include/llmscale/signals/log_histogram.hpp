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
#include <type_traits>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/detail/hardware.hpp"

// The quantile searches use SSE2 where the compiler targets it (every x86-64 compiler does);
// defining LLMSCALE_NO_SIMD keeps them portable C++ (the tests build both).
#if defined(__SSE2__) && !defined(LLMSCALE_NO_SIMD)
#include <emmintrin.h>
#define LLMSCALE_SIGNALS_SSE2 1
#else
#define LLMSCALE_SIGNALS_SSE2 0
#endif

LLMSCALE_NAMESPACE_BEGIN

/// The bucket layout of every latency histogram in llmscale (see the top of this file).
struct LogHistogramLayout {
  /// Sub-buckets per octave, as a power of two: 2^6 = 64.
  static constexpr unsigned sub_bucket_bits = 6;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;  ///< 64 buckets per octave
  /// Octaves above the linear range: values up to 2^(6 + 31) us.
  static constexpr unsigned octaves = 31;
  /// Buckets in all (the last one also holds everything larger).
  static constexpr std::size_t bucket_count = static_cast<std::size_t>(sub_buckets * (octaves + 1));
  /// Buckets per group: the unit in which changed buckets are found cheaply.
  static constexpr std::size_t group_size = 32;
  static constexpr std::size_t group_count = bucket_count / group_size;  ///< groups in all
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

#if LLMSCALE_SIGNALS_SSE2
/// rank_position within one block of 8 32-bit counts `v` whose samples rank after `base`:
/// running sums in two vectors, compared with the rank all at once.
inline std::size_t rank_in_block(const std::uint32_t* v, std::uint64_t base, std::uint64_t r,
                                 std::uint64_t& before) noexcept {
  const std::uint64_t want = r - base;  // r > base
  const std::uint32_t t = want < 0xFFFFFFFFU ? static_cast<std::uint32_t>(want) : 0xFFFFFFFFU;
  __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v));
  __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + 4));
  lo = _mm_add_epi32(lo, _mm_slli_si128(lo, 4));
  lo = _mm_add_epi32(lo, _mm_slli_si128(lo, 8));
  hi = _mm_add_epi32(hi, _mm_slli_si128(hi, 4));
  hi = _mm_add_epi32(hi, _mm_slli_si128(hi, 8));
  hi = _mm_add_epi32(hi, _mm_shuffle_epi32(lo, 0xFF));
  // unsigned a < t as signed (a ^ 2^31) < (t ^ 2^31)
  const __m128i bias = _mm_set1_epi32(INT32_MIN);
  const __m128i tb = _mm_xor_si128(_mm_set1_epi32(static_cast<std::int32_t>(t)), bias);
  const int below_lo = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmplt_epi32(_mm_xor_si128(lo, bias), tb)));
  const int below_hi = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmplt_epi32(_mm_xor_si128(hi, bias), tb)));
  const auto below = static_cast<std::uint64_t>(below_lo | (below_hi << 4));
  std::size_t j = lowest_bit(~below);  // the first count whose running sum reaches the rank
  j = j < 7 ? j : 7;
  alignas(16) std::uint32_t run[8];
  _mm_store_si128(reinterpret_cast<__m128i*>(run), lo);
  _mm_store_si128(reinterpret_cast<__m128i*>(run + 4), hi);
  before = base + (j > 0 ? run[j - 1] : 0);
  return j;
}
#endif

/// Where the `r`-th sample (r >= 1, at most the samples in `v`) lies among the N counts `v`
/// whose running sums at the end of each block of 8 are `block_end`: its index, and in
/// `before` the samples in the counts before it. Independent comparisons rather than a search
/// over running sums, so the work does not wait on a chain of loads.
template <std::size_t N, class Count>
std::size_t rank_position(const Count* v, const std::uint64_t* block_end, std::uint64_t r,
                          std::uint64_t& before) noexcept {
  constexpr std::size_t block = 8;
  std::size_t b = 0;  // blocks whose samples all rank below r
  LLMSCALE_UNROLL for (std::size_t i = 0; i + 1 < N / block; ++i) b += block_end[i] < r ? 1 : 0;
  std::uint64_t run = b > 0 ? block_end[b - 1] : 0;
#if LLMSCALE_SIGNALS_SSE2
  if constexpr (std::is_same<Count, std::uint32_t>::value) {
    return b * block + rank_in_block(v + b * block, run, r, before);
  }
#endif
  before = run;
  std::size_t j = 0;  // counts in block b whose samples all rank below r
  LLMSCALE_UNROLL for (std::size_t i = 0; i + 1 < block; ++i) {
    run += v[b * block + i];
    const bool below = run < r;
    j += below ? 1 : 0;
    before = below ? run : before;
  }
  return b * block + j;
}

/// The running sums at the end of each block of 8 of N counts.
template <std::size_t N, class Count>
std::uint64_t block_ends(const Count* v, std::uint64_t* block_end) noexcept {
  std::uint64_t sum = 0;
#if LLMSCALE_SIGNALS_SSE2
  if constexpr (std::is_same<Count, std::uint32_t>::value) {
    for (std::size_t b = 0; b < N / 8; ++b) {
      __m128i s = _mm_add_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + b * 8)),
                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + b * 8 + 4)));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));  // lanes 2 3 0 1
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));  // lanes 1 0 3 2
      block_end[b] = sum += static_cast<std::uint32_t>(_mm_cvtsi128_si32(s));
    }
    return sum;
  }
#endif
  LLMSCALE_UNROLL for (std::size_t b = 0; b < N / 8; ++b) {
    Count s = 0;  // 32-bit counts add modulo 2^32: exact while a window holds under 2^31 samples
    LLMSCALE_UNROLL for (std::size_t i = 0; i < 8; ++i) s += v[b * 8 + i];
    block_end[b] = sum += s;
  }
  return sum;
}

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
/// Without data-dependent branches (which buckets are empty varies from tick to tick): sums
/// per block of 8 groups (or buckets), then the block and the place in it found by counting
/// the running sums below the rank.
template <std::size_t K, class Count, class GroupBuckets>
void nearest_rank_quantiles(std::uint64_t total, const std::array<double, K>& qs, const Count* group_counts,
                            GroupBuckets&& group_buckets, std::array<double, K>& out) noexcept {
  using Layout = LogHistogramLayout;
  static_assert(Layout::group_count % 8 == 0 && Layout::group_size % 8 == 0, "counts are summed in blocks of 8");
  out.fill(0.0);
  if (total == 0) return;
  std::uint64_t group_end[Layout::group_count / 8];
  const std::uint64_t sum = block_ends<Layout::group_count>(group_counts, group_end);
  if (sum == 0) return;
  std::size_t fetched = Layout::group_count;  // the group whose buckets `counts` holds
  Count counts[Layout::group_size];
  std::uint64_t bucket_end[Layout::group_size / 8] = {};
  for (std::size_t k = 0; k < K; ++k) {
    // the rank of q, at most what the groups hold
    const double x = qs[k] * static_cast<double>(total);
    std::uint64_t r = 1;  // ceil(x), at least 1 and at most what the groups hold
    if (x > 1) {
      r = x < static_cast<double>(total) ? static_cast<std::uint64_t>(x) : total;
      r += static_cast<double>(r) < x ? 1 : 0;
    }
    r = r < sum ? r : sum;
    std::uint64_t before = 0;
    const std::size_t g = rank_position<Layout::group_count>(group_counts, group_end, r, before);
    if (g != fetched) {
      group_buckets(g, counts);
      block_ends<Layout::group_size>(counts, bucket_end);
      fetched = g;
    }
    const std::uint64_t held = bucket_end[Layout::group_size / 8 - 1];
    const std::uint64_t in = r - before < held ? r - before : held;  // r > before
    std::uint64_t unused = 0;
    const std::size_t below = rank_position<Layout::group_size>(counts, bucket_end, in, unused);
    out[k] = Layout::midpoint_seconds(g * Layout::group_size + below);
  }
}

}  // namespace detail

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LOG_HISTOGRAM_HPP
