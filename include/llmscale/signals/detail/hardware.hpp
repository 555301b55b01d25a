// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// detail: the few processor hints the signals use, each a no-op where the compiler offers
// nothing portable.
#ifndef LLMSCALE_SIGNALS_DETAIL_HARDWARE_HPP
#define LLMSCALE_SIGNALS_DETAIL_HARDWARE_HPP

#include <cstddef>
#include <cstdint>

#include "llmscale/core/abi.hpp"

/// Before a loop with a fixed, small trip count on the control thread's hot path: unrolls it
/// (GCC and Clang do not unroll loops over atomics, or prefix sums, by themselves).
#if defined(__clang__)
#define LLMSCALE_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define LLMSCALE_UNROLL _Pragma("GCC unroll 32")
#else
#define LLMSCALE_UNROLL
#endif

/// A rare path kept out of line, and the branch to it, so that the hot path around it stays
/// small (request threads' event functions).
#if defined(__GNUC__) || defined(__clang__)
#define LLMSCALE_NOINLINE __attribute__((noinline))
#define LLMSCALE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#elif defined(_MSC_VER)
#define LLMSCALE_NOINLINE __declspec(noinline)
#define LLMSCALE_UNLIKELY(x) (x)
#else
#define LLMSCALE_NOINLINE
#define LLMSCALE_UNLIKELY(x) (x)
#endif

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

/// Tells the processor a spin-wait is in progress.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Starts loading the cache line holding `p` for reading (a hint; nothing happens without
/// compiler support).
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

/// Starts loading the cache line holding `p` for writing (a hint, as prefetch).
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 1, 3);
#else
  (void)p;
#endif
}

/// The index of the lowest set bit of `m` (m != 0).
inline std::size_t lowest_bit(std::uint64_t m) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return static_cast<std::size_t>(__builtin_ctzll(m));
#else
  std::size_t i = 0;
  while ((m & 1U) == 0) {
    m >>= 1;
    ++i;
  }
  return i;
#endif
}

/// The number of set bits of `m`.
inline std::size_t popcount(std::uint64_t m) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return static_cast<std::size_t>(__builtin_popcountll(m));
#else
  std::size_t n = 0;
  for (; m != 0; m &= m - 1) ++n;
  return n;
#endif
}

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_DETAIL_HARDWARE_HPP
