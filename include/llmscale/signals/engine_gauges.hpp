// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// EngineGauges: what each replica's engine reports about itself, set by the host for each
// replica slot (the number of slots is fixed at construction): queue length, running requests,
// the largest batch it runs, KV-cache tokens used and capacity (with a block size where the
// engine counts blocks), and when the sample was taken. `summarize` gives fleet sums and means
// and per-replica extremes: the largest queue and KV use, and how many replicas are saturated
// (batch full, KV use at or above a threshold, or queue at or above a threshold).
//
// Threading: each slot may be written by one thread at a time (the host's thread for that
// replica, or the control thread); `summarize` may run concurrently on the control thread.
// Each slot is a sequence lock, so a summary never mixes two samples of one replica.
#ifndef LLMSCALE_SIGNALS_ENGINE_GAUGES_HPP
#define LLMSCALE_SIGNALS_ENGINE_GAUGES_HPP

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// One replica's engine state at `sampled_at`.
struct ReplicaGauges {
  std::int64_t queue_length = 0;        ///< requests waiting in the engine
  std::int64_t running = 0;             ///< requests in the running batch
  std::int64_t max_batch = 0;           ///< the largest batch the engine runs (0: unknown)
  std::int64_t kv_tokens_used = 0;      ///< KV-cache tokens in use (blocks x block size)
  std::int64_t kv_tokens_capacity = 0;  ///< KV-cache capacity in tokens (0: unknown)
  std::int64_t kv_block_size = 0;       ///< tokens per block where the engine counts blocks (0: n/a;
                                        ///< checked, not summarised: used and capacity are tokens)
  TimePoint sampled_at{};

  /// Whether the sample is usable: counts non-negative and below 2^40, used KV not above
  /// capacity, running not above max batch (when known).
  [[nodiscard]] bool valid() const noexcept {
    constexpr std::int64_t limit = std::int64_t{1} << 40;
    const auto ok = [&](std::int64_t v) { return v >= 0 && v < limit; };
    if (!ok(queue_length) || !ok(running) || !ok(max_batch) || !ok(kv_tokens_used) ||
        !ok(kv_tokens_capacity) || !ok(kv_block_size)) {
      return false;
    }
    if (kv_tokens_capacity > 0 && kv_tokens_used > kv_tokens_capacity) return false;
    if (max_batch > 0 && running > max_batch) return false;
    return true;
  }
};

/// Thresholds for counting a replica as saturated (llm-d's saturation analyzer: KV >= 0.8 or
/// queue >= 5).
struct SaturationThresholds {
  double kv_utilization = 0.8;
  std::int64_t queue_length = 5;
};

/// The fleet as the engines report it.
struct FleetGauges {
  int replicas_reporting = 0;  ///< slots with a fresh, valid sample
  int replicas_stale = 0;      ///< slots whose sample is older than the staleness limit
  std::int64_t queue_length_total = 0;
  std::int64_t queue_length_max = 0;
  double queue_length_mean = 0;  ///< per reporting replica
  std::int64_t running_total = 0;
  std::int64_t max_batch_total = 0;
  double batch_occupancy = 0;  ///< running / max batch over replicas that report max batch
  std::int64_t kv_tokens_used = 0;
  std::int64_t kv_tokens_capacity = 0;
  double kv_utilization = 0;      ///< fleet KV used / capacity
  double kv_utilization_max = 0;  ///< the fullest replica's
  int replicas_batch_full = 0;
  int replicas_kv_high = 0;
  int replicas_queue_high = 0;
  int replicas_saturated = 0;  ///< batch full, KV high or queue high
  double oldest_sample_age_s = 0;  ///< among reporting replicas
};

class EngineGauges {
 public:
  /// `replica_slots` slots, allocated here (at least 1).
  explicit EngineGauges(std::size_t replica_slots);

  [[nodiscard]] std::size_t slots() const noexcept { return slot_count_; }

  /// Sets slot `slot`'s sample. False (and counted as invalid) for a bad slot, an invalid
  /// sample or a sample time more than 2^61 ns (73 years) from the clock's epoch; false (and counted as out of order) for a sample older than the slot's last.
  bool set(std::size_t slot, const ReplicaGauges& sample) noexcept;
  /// Empties slot `slot` (its replica is gone).
  void clear(std::size_t slot) noexcept;

  /// Fleet figures over the slots whose sample is at most `stale_after` old at `now`.
  [[nodiscard]] FleetGauges summarize(TimePoint now, Duration stale_after,
                                      const SaturationThresholds& thresholds = {}) const noexcept;

  [[nodiscard]] std::uint64_t invalid_samples() const noexcept { return invalid_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t out_of_order_samples() const noexcept {
    return out_of_order_.load(std::memory_order_relaxed);
  }

 private:
  static constexpr std::size_t field_count = 7;
  // fields[6], the sample time, holds `empty` while the slot has no replica.
  static constexpr std::int64_t empty = INT64_MIN;
  struct alignas(64) Slot {  // one cache line
    std::atomic<std::uint64_t> seq;
    std::atomic<std::int64_t> fields[field_count];  // the ReplicaGauges fields; [6]: time
  };

  bool read(const Slot& s, std::int64_t (&v)[field_count]) const noexcept;

  std::size_t slot_count_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::uint64_t> invalid_{0};
  std::atomic<std::uint64_t> out_of_order_{0};
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline EngineGauges::EngineGauges(std::size_t replica_slots)
    : slot_count_(replica_slots), slots_(nullptr) {
  if (replica_slots < 1 || replica_slots > 1'000'000) {
    throw std::invalid_argument("engine_gauges.replica_slots = " + std::to_string(replica_slots) +
                                " is out of range; allowed: [1, 1000000]");
  }
  slots_.reset(new Slot[replica_slots]());
  for (std::size_t i = 0; i < replica_slots; ++i) slots_[i].fields[6].store(empty, std::memory_order_relaxed);
}

inline bool EngineGauges::set(std::size_t slot, const ReplicaGauges& g) noexcept {
  const std::int64_t t = g.sampled_at.time_since_epoch().count();
  constexpr std::int64_t time_limit = INT64_MAX / 4;  // keeps `now - t` far from overflow
  if (slot >= slot_count_ || !g.valid() || t <= -time_limit || t >= time_limit) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Slot& s = slots_[slot];
  if (t < s.fields[6].load(std::memory_order_relaxed)) {  // (`empty` is below every time)
    out_of_order_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const std::uint64_t q = s.seq.load(std::memory_order_relaxed);
  s.seq.store(q + 1, std::memory_order_relaxed);  // the release stores below cannot pass it
  // The KV use fraction is worked out here, once per sample, rather than in every summary;
  // it is kept as the bits of a double in place of the block size.
  const double use = g.kv_tokens_capacity > 0
                         ? static_cast<double>(g.kv_tokens_used) / static_cast<double>(g.kv_tokens_capacity)
                         : 0.0;
  std::int64_t use_bits = 0;
  std::memcpy(&use_bits, &use, sizeof use);
  const std::int64_t values[field_count] = {g.queue_length,   g.running,         g.max_batch, g.kv_tokens_used,
                                            g.kv_tokens_capacity, use_bits, t};
  for (std::size_t i = 0; i < field_count; ++i) s.fields[i].store(values[i], std::memory_order_release);
  s.seq.store(q + 2, std::memory_order_release);
  return true;
}

inline void EngineGauges::clear(std::size_t slot) noexcept {
  if (slot >= slot_count_) return;
  Slot& s = slots_[slot];
  const std::uint64_t q = s.seq.load(std::memory_order_relaxed);
  s.seq.store(q + 1, std::memory_order_relaxed);  // the release stores below cannot pass it
  s.fields[6].store(empty, std::memory_order_release);
  s.seq.store(q + 2, std::memory_order_release);
}

inline bool EngineGauges::read(const Slot& s, std::int64_t (&v)[field_count]) const noexcept {
  static_assert(field_count == 7, "the loads below are written out");
  const auto attempt = [&s, &v]() noexcept {
    // acquire loads: the second sequence load cannot pass them (no fence, which ThreadSanitizer
    // cannot see; on x86 these are plain moves)
    constexpr auto acquire = std::memory_order_acquire;
    const std::uint64_t before = s.seq.load(acquire);
    v[0] = s.fields[0].load(acquire);  // written out: compilers keep a loop over atomics as a loop
    v[1] = s.fields[1].load(acquire);
    v[2] = s.fields[2].load(acquire);
    v[3] = s.fields[3].load(acquire);
    v[4] = s.fields[4].load(acquire);
    v[5] = s.fields[5].load(acquire);
    v[6] = s.fields[6].load(acquire);
    return ((before & 1U) == 0) & (s.seq.load(std::memory_order_relaxed) == before);
  };
  if (attempt()) return true;  // the usual case: no writer active
  for (int tries = 0; tries < 256; ++tries) {
    if (attempt()) return true;
  }
  return false;  // a writer stayed mid-update: not reporting this time
}

inline FleetGauges EngineGauges::summarize(TimePoint now, Duration stale_after,
                                           const SaturationThresholds& th) const noexcept {
  // Written for speed: all sums in locals, and no data-dependent branches (which replicas are
  // full or stale is what varies from tick to tick, so such branches would mispredict): a
  // replica that is stale, empty or not reporting a figure contributes it AND-ed with a zero
  // mask.
  // Six replica counts, packed three to a word in 21-bit fields (slots are at most 10^6 < 2^21),
  // so every accumulator stays in a register.
  constexpr unsigned field = 21;
  constexpr std::int64_t field_mask = (std::int64_t{1} << field) - 1;
  std::int64_t counts_a = 0;  // reporting | batch_full << 21 | kv_high << 42
  std::int64_t counts_b = 0;  // stale | queue_high << 21 | saturated << 42
  std::int64_t queue_total = 0, queue_max = 0, running_total = 0, batch_total = 0, batch_running = 0;
  std::int64_t kv_used = 0, kv_capacity = 0, oldest = 0;
  double max_use = 0;
  const std::int64_t now_ns = now.time_since_epoch().count();
  const std::int64_t stale_ns = stale_after.count();
  for (std::size_t i = 0; i < slot_count_; ++i) {
    std::int64_t v[field_count];
    const std::int64_t live = read(slots_[i], v) & (v[6] != empty);
    const std::int64_t age = live ? now_ns - v[6] : 0;  // sample times are within +-2^61 ns
    const std::int64_t fresh = live & (age <= stale_ns);
    const std::int64_t fresh_mask = -fresh;  // all ones when fresh
    oldest = std::max(oldest, age & fresh_mask);
    const std::int64_t queue = v[0] & fresh_mask;
    queue_total += queue;
    queue_max = std::max(queue_max, queue);
    running_total += v[1] & fresh_mask;
    const std::int64_t batch_mask = fresh_mask & -static_cast<std::int64_t>(v[2] > 0);
    batch_total += v[2] & batch_mask;
    batch_running += v[1] & batch_mask;
    const std::int64_t full = batch_mask & static_cast<std::int64_t>(v[1] >= v[2]);
    const std::int64_t kv_mask = fresh_mask & -static_cast<std::int64_t>(v[4] > 0);
    kv_used += v[3] & kv_mask;
    kv_capacity += v[4] & kv_mask;
    double use;
    std::memcpy(&use, &v[5], sizeof use);
    use = kv_mask != 0 ? use : 0.0;
    max_use = std::max(max_use, use);
    const std::int64_t kv = static_cast<std::int64_t>(use >= th.kv_utilization) & kv_mask;
    const std::int64_t queued = static_cast<std::int64_t>(queue >= th.queue_length) & fresh;
    counts_a += fresh | (full << field) | ((kv & 1) << (2 * field));
    counts_b += (live - fresh) | (queued << field) | (((full | kv | queued) & 1) << (2 * field));
  }
  const std::int64_t reporting = counts_a & field_mask;
  FleetGauges f;
  f.replicas_reporting = static_cast<int>(reporting);
  f.replicas_batch_full = static_cast<int>((counts_a >> field) & field_mask);
  f.replicas_kv_high = static_cast<int>((counts_a >> (2 * field)) & field_mask);
  f.replicas_stale = static_cast<int>(counts_b & field_mask);
  f.replicas_queue_high = static_cast<int>((counts_b >> field) & field_mask);
  f.replicas_saturated = static_cast<int>((counts_b >> (2 * field)) & field_mask);
  f.queue_length_total = queue_total;
  f.queue_length_max = queue_max;
  f.running_total = running_total;
  f.max_batch_total = batch_total;
  f.kv_tokens_used = kv_used;
  f.kv_tokens_capacity = kv_capacity;
  f.oldest_sample_age_s = to_seconds(Duration(oldest));
  f.kv_utilization_max = max_use;
  if (reporting > 0) f.queue_length_mean = static_cast<double>(queue_total) / static_cast<double>(reporting);
  if (batch_total > 0) f.batch_occupancy = static_cast<double>(batch_running) / static_cast<double>(batch_total);
  if (kv_capacity > 0) f.kv_utilization = static_cast<double>(kv_used) / static_cast<double>(kv_capacity);
  return f;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_ENGINE_GAUGES_HPP
