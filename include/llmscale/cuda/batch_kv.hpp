// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The CUDA sampler's plain part: where an engine keeps its batch and KV-cache state on the
// device (BatchKvView), what one sample of it holds (BatchKvSample), the reference reduction on
// the CPU that the device kernel must agree with (reduce_batch_kv), and the engine gauges a
// sample gives (to_replica_gauges). Plain C++17: compiles with any compiler, touches no CUDA.
//
// What the GPU reliably holds in vLLM, SGLang, TensorRT-LLM and llama.cpp is a per-slot int32
// sequence-length array (and block tables); the allocator's state lives on the host. So the
// sampler always reads the lengths (active slots = count(len > 0), tokens = sum, blocks = sum
// ceil(len / block_size)) and, where an engine keeps one on the device, a block refcount array,
// a used-block bitmask or a free-block count for the blocks in use.
#ifndef LLMSCALE_CUDA_BATCH_KV_HPP
#define LLMSCALE_CUDA_BATCH_KV_HPP

#include <cstddef>
#include <cstdint>
#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/engine_gauges.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Where the KV blocks in use are counted from.
enum class KvBlockSource : std::uint8_t {
  lengths,     ///< sum over slots of ceil(seq_len / block_size): every engine
  refcounts,   ///< blocks whose refcount is > 0 (`block_refcounts`, `total_blocks` entries)
  bitmask,     ///< set bits of `used_block_mask` (bit b of word b / 32; `total_blocks` bits)
  free_count,  ///< total_blocks - *free_blocks (one scalar the engine keeps on the device)
};

/// Where one replica's engine keeps its batch and KV state. The pointers are device pointers
/// for the CUDA sampler and host pointers for `reduce_batch_kv`; they must stay valid while a
/// sampler uses them.
struct BatchKvView {
  const std::int32_t* seq_lens = nullptr;  ///< per batch slot: tokens of its sequence (<= 0: empty)
  std::int32_t slots = 0;                  ///< batch slots, [1, 2^24]: the engine's max batch
  std::int32_t block_size = 16;            ///< tokens per KV block, [1, 2^20]
  std::int64_t total_blocks = 0;           ///< KV blocks in the cache, [0, 2^36] (0: unknown)
  KvBlockSource source = KvBlockSource::lengths;
  const std::int32_t* block_refcounts = nullptr;   ///< `total_blocks` entries (source refcounts)
  const std::uint32_t* used_block_mask = nullptr;  ///< ceil(total_blocks / 32) words (source bitmask)
  const std::int64_t* free_blocks = nullptr;       ///< one scalar (source free_count)

  /// Empty when the view is usable; otherwise the field, its value and what is allowed.
  /// Allocates (call it at set-up, not per tick).
  [[nodiscard]] std::string problem() const;
};

/// One sample of a replica's batch and KV state.
struct BatchKvSample {
  std::uint64_t sequence = 0;         ///< which launch produced it: 1, 2, ... in launch order
  TimePoint sampled_at{};             ///< when it was requested: it reflects the engine's work enqueued before
  std::int32_t slots = 0;             ///< batch slots
  std::int32_t active_slots = 0;      ///< slots with a sequence (seq_len > 0)
  std::int64_t tokens = 0;            ///< tokens of the active sequences
  std::int64_t blocks_from_lengths = 0;  ///< sum of ceil(seq_len / block_size)
  std::int64_t blocks_used = 0;       ///< KV blocks in use, by the view's source
  std::int64_t total_blocks = 0;      ///< KV blocks in the cache (0: unknown)
  std::int32_t block_size = 0;        ///< tokens per block

  /// Active slots / slots (0 without slots).
  [[nodiscard]] double batch_occupancy() const noexcept {
    return slots > 0 ? static_cast<double>(active_slots) / static_cast<double>(slots) : 0.0;
  }
  /// Blocks used / total blocks, at most 1 (0 when the total is unknown).
  [[nodiscard]] double kv_utilization() const noexcept {
    if (total_blocks <= 0) return 0.0;
    const double u = static_cast<double>(blocks_used) / static_cast<double>(total_blocks);
    return u < 1.0 ? u : 1.0;
  }
};

/// The reference reduction, on the CPU, of a view whose pointers are host pointers: what the
/// device kernel computes. The view must be usable (`problem()` empty). Lengths <= 0 are empty
/// slots; refcounts <= 0 are free blocks; mask bits beyond `total_blocks` are ignored; a free
/// count is clamped to [0, total_blocks]. `sequence` and `sampled_at` are left for the caller.
[[nodiscard]] BatchKvSample reduce_batch_kv(const BatchKvView& host_view) noexcept;

/// One replica's engine gauges from a sample: running = active slots, max batch = slots, KV
/// tokens used = blocks used x block size (at most the capacity) and capacity = total blocks x
/// block size (0, unknown, when total blocks are), the block size, the sample's time, and the
/// queue length the host's scheduler knows (the device does not hold it).
[[nodiscard]] ReplicaGauges to_replica_gauges(const BatchKvSample& sample, std::int64_t queue_length) noexcept;

// ---------------------------------------------------------------------------------------------
// Implementation.

inline std::string BatchKvView::problem() const {
  const auto bad = [](const char* field, long long value, const char* allowed) {
    return std::string("batch_kv.") + field + " = " + std::to_string(value) + " is out of range; allowed: " + allowed;
  };
  if (seq_lens == nullptr) return "batch_kv.seq_lens is null; allowed: a pointer to `slots` int32 lengths";
  if (slots < 1 || slots > (1 << 24)) return bad("slots", slots, "[1, 16777216]");
  if (block_size < 1 || block_size > (1 << 20)) return bad("block_size", block_size, "[1, 1048576]");
  if (total_blocks < 0 || total_blocks > (std::int64_t{1} << 36)) {
    return bad("total_blocks", total_blocks, "[0, 68719476736]");
  }
  switch (source) {
    case KvBlockSource::lengths:
      return {};
    case KvBlockSource::refcounts:
      if (block_refcounts == nullptr) return "batch_kv.block_refcounts is null; allowed: a pointer (source refcounts)";
      break;
    case KvBlockSource::bitmask:
      if (used_block_mask == nullptr) return "batch_kv.used_block_mask is null; allowed: a pointer (source bitmask)";
      break;
    case KvBlockSource::free_count:
      if (free_blocks == nullptr) return "batch_kv.free_blocks is null; allowed: a pointer (source free_count)";
      break;
    default:
      return bad("source", static_cast<long long>(source), "lengths, refcounts, bitmask, free_count");
  }
  if (total_blocks < 1) return bad("total_blocks", total_blocks, "[1, 68719476736] with a block source");
  return {};
}

namespace detail {
inline int popcount32(std::uint32_t v) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_popcount(v);
#else
  int n = 0;
  for (; v != 0; v &= v - 1) ++n;
  return n;
#endif
}
}  // namespace detail

inline BatchKvSample reduce_batch_kv(const BatchKvView& v) noexcept {
  BatchKvSample s;
  s.slots = v.slots;
  s.block_size = v.block_size;
  s.total_blocks = v.total_blocks;
  for (std::int32_t i = 0; i < v.slots; ++i) {
    const std::int32_t len = v.seq_lens[i];
    if (len <= 0) continue;
    ++s.active_slots;
    s.tokens += len;
    s.blocks_from_lengths += (static_cast<std::int64_t>(len) + v.block_size - 1) / v.block_size;
  }
  switch (v.source) {
    case KvBlockSource::lengths:
      s.blocks_used = s.blocks_from_lengths;
      break;
    case KvBlockSource::refcounts:
      for (std::int64_t b = 0; b < v.total_blocks; ++b) s.blocks_used += v.block_refcounts[b] > 0 ? 1 : 0;
      break;
    case KvBlockSource::bitmask: {
      const std::int64_t words = (v.total_blocks + 31) / 32;
      for (std::int64_t w = 0; w < words; ++w) {
        std::uint32_t bits = v.used_block_mask[w];
        const std::int64_t left = v.total_blocks - w * 32;  // bits of this word that are blocks
        if (left < 32) bits &= (std::uint32_t{1} << left) - 1U;
        s.blocks_used += detail::popcount32(bits);
      }
      break;
    }
    case KvBlockSource::free_count: {
      const std::int64_t free = *v.free_blocks;
      s.blocks_used = v.total_blocks - (free < 0 ? 0 : (free > v.total_blocks ? v.total_blocks : free));
      break;
    }
  }
  return s;
}

inline ReplicaGauges to_replica_gauges(const BatchKvSample& s, std::int64_t queue_length) noexcept {
  ReplicaGauges g;
  g.queue_length = queue_length;
  g.running = s.active_slots;
  g.max_batch = s.slots;
  g.kv_block_size = s.block_size;
  g.kv_tokens_used = s.blocks_used * s.block_size;
  if (s.total_blocks > 0) {
    g.kv_tokens_capacity = s.total_blocks * s.block_size;
    if (g.kv_tokens_used > g.kv_tokens_capacity) g.kv_tokens_used = g.kv_tokens_capacity;
  }
  g.sampled_at = s.sampled_at;
  return g;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CUDA_BATCH_KV_HPP
