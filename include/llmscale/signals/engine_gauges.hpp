// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// EngineGauges: what each replica's engine reports about itself, set by the host for each
// replica slot (the number of slots is fixed at construction): queue length, running requests,
// the largest batch it runs, KV-cache tokens used and capacity (with a block size where the
// engine counts blocks), and when the sample was taken. `summarize` gives fleet sums and means
// and per-replica extremes: the largest queue and KV use, and how many replicas are saturated
// (batch full, KV use at or above a threshold, or queue at or above a threshold; the thresholds
// are fixed at construction).
//
// What a summary needs of each sample (masked figures, KV use, saturation flags) is worked out
// once in `set`, so `summarize` reads one cache line per slot and adds.
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

  /// Whether the sample is usable: queue, running and max batch non-negative and below 2^31,
  /// KV figures non-negative and below 2^40, used KV not above capacity, running not above max
  /// batch (when known).
  [[nodiscard]] bool valid() const noexcept {
    const auto ok = [](std::int64_t v, int bits) { return v >= 0 && v < (std::int64_t{1} << bits); };
    if (!ok(queue_length, 31) || !ok(running, 31) || !ok(max_batch, 31) || !ok(kv_tokens_used, 40) ||
        !ok(kv_tokens_capacity, 40) || !ok(kv_block_size, 40)) {
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
  double kv_utilization = 0.8;    ///< in (0, 1]
  std::int64_t queue_length = 5;  ///< at least 1
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
  /// Over the reporting replicas that are not saturated (llm-d's spare-capacity inputs):
  double unsaturated_kv_use_sum = 0;          ///< the sum of their KV use fractions
  std::int64_t unsaturated_queue_total = 0;   ///< the sum of their queue lengths
  double oldest_sample_age_s = 0;  ///< among reporting replicas
};

class EngineGauges {
 public:
  /// `replica_slots` slots, allocated here, in [1, 10^6]; throws std::invalid_argument for a
  /// slot count or threshold out of range.
  explicit EngineGauges(std::size_t replica_slots, const SaturationThresholds& thresholds = {});

  [[nodiscard]] std::size_t slots() const noexcept { return slot_count_; }
  [[nodiscard]] const SaturationThresholds& thresholds() const noexcept { return thresholds_; }

  /// Sets slot `slot`'s sample. False (and counted as invalid) for a bad slot, an invalid
  /// sample or a sample time more than 2^61 ns (73 years) from the clock's epoch; false (and counted as out of order) for a sample older than the slot's last.
  bool set(std::size_t slot, const ReplicaGauges& sample) noexcept;
  /// Empties slot `slot` (its replica is gone).
  void clear(std::size_t slot) noexcept;

  /// Fleet figures over the slots whose sample is at most `stale_after` old at `now`.
  [[nodiscard]] FleetGauges summarize(TimePoint now, Duration stale_after) const noexcept;

  [[nodiscard]] std::uint64_t invalid_samples() const noexcept { return invalid_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t out_of_order_samples() const noexcept {
    return out_of_order_.load(std::memory_order_relaxed);
  }

 private:
  // A slot's fields, as `set` stores them.
  enum Field : std::size_t {
    time,           // the sample time in ns; `empty` while the slot has no replica
    queue_running,  // queue length | running << 32
    batch,          // running | max batch << 32, both 0 when the max batch is unknown
    kv_used,        // KV tokens used, 0 when the capacity is unknown
    kv_capacity,
    kv_use,         // the bits of the double used / capacity (0 when unknown)
    flags,          // saturation flags, one per 16-bit lane (see flag_lane)
    field_count
  };
  // Lanes of the flags field; a summary adds flags words for up to 65535 slots at a time.
  enum FlagLane : unsigned { batch_full = 0, kv_high = 16, queue_high = 32, saturated = 48 };
  static constexpr std::size_t flag_chunk = 65535;
  static constexpr std::int64_t empty = INT64_MIN;
  struct alignas(64) Slot {  // one cache line
    std::atomic<std::uint64_t> seq;
    std::atomic<std::int64_t> fields[field_count];
  };
  static_assert(sizeof(Slot) == 64, "a slot is one cache line");

  bool read(const Slot& s, std::int64_t (&v)[field_count]) const noexcept;
  template <bool Retry>
  FleetGauges summarize_slots(TimePoint now, Duration stale_after, bool& torn) const noexcept;

  std::size_t slot_count_;
  SaturationThresholds thresholds_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::uint64_t> invalid_{0};
  std::atomic<std::uint64_t> out_of_order_{0};
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline EngineGauges::EngineGauges(std::size_t replica_slots, const SaturationThresholds& thresholds)
    : slot_count_(replica_slots), thresholds_(thresholds), slots_(nullptr) {
  if (replica_slots < 1 || replica_slots > 1'000'000) {
    throw std::invalid_argument("engine_gauges.replica_slots = " + std::to_string(replica_slots) +
                                " is out of range; allowed: [1, 1000000]");
  }
  if (!(thresholds.kv_utilization > 0.0 && thresholds.kv_utilization <= 1.0)) {
    throw std::invalid_argument("engine_gauges.kv_utilization = " + std::to_string(thresholds.kv_utilization) +
                                " is out of range; allowed: (0, 1]");
  }
  if (thresholds.queue_length < 1 || thresholds.queue_length > (std::int64_t{1} << 31)) {
    throw std::invalid_argument("engine_gauges.queue_length = " + std::to_string(thresholds.queue_length) +
                                " is out of range; allowed: [1, 2147483648]");
  }
  slots_.reset(new Slot[replica_slots]());
  for (std::size_t i = 0; i < replica_slots; ++i) slots_[i].fields[time].store(empty, std::memory_order_relaxed);
}

inline bool EngineGauges::set(std::size_t slot, const ReplicaGauges& g) noexcept {
  const std::int64_t t = g.sampled_at.time_since_epoch().count();
  constexpr std::int64_t time_limit = INT64_MAX / 4;  // keeps `now - t` far from overflow
  if (slot >= slot_count_ || !g.valid() || t <= -time_limit || t >= time_limit) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Slot& s = slots_[slot];
  if (t < s.fields[time].load(std::memory_order_relaxed)) {  // (`empty` is below every time)
    out_of_order_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const bool batch_known = g.max_batch > 0;
  const bool kv_known = g.kv_tokens_capacity > 0;
  const double use =
      kv_known ? static_cast<double>(g.kv_tokens_used) / static_cast<double>(g.kv_tokens_capacity) : 0.0;
  std::int64_t use_bits = 0;
  std::memcpy(&use_bits, &use, sizeof use);
  const bool full = batch_known && g.running >= g.max_batch;
  const bool kv = kv_known && use >= thresholds_.kv_utilization;
  const bool queued = g.queue_length >= thresholds_.queue_length;
  const auto lane = [](bool on, FlagLane l) { return static_cast<std::int64_t>(on) << l; };
  std::int64_t values[field_count] = {};
  values[time] = t;
  values[queue_running] = g.queue_length | (g.running << 32);  // both below 2^31 (valid())
  values[batch] = batch_known ? g.running | (g.max_batch << 32) : 0;
  values[kv_used] = kv_known ? g.kv_tokens_used : 0;
  values[kv_capacity] = g.kv_tokens_capacity;
  values[kv_use] = use_bits;
  values[flags] = lane(full, batch_full) | lane(kv, kv_high) | lane(queued, queue_high) |
                  lane(full || kv || queued, saturated);
  const std::uint64_t q = s.seq.load(std::memory_order_relaxed);
  s.seq.store(q + 1, std::memory_order_relaxed);  // the release stores below cannot pass it
  for (std::size_t i = 0; i < field_count; ++i) s.fields[i].store(values[i], std::memory_order_release);
  s.seq.store(q + 2, std::memory_order_release);
  return true;
}

inline void EngineGauges::clear(std::size_t slot) noexcept {
  if (slot >= slot_count_) return;
  Slot& s = slots_[slot];
  const std::uint64_t q = s.seq.load(std::memory_order_relaxed);
  s.seq.store(q + 1, std::memory_order_relaxed);  // the release stores below cannot pass it
  s.fields[time].store(empty, std::memory_order_release);
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

inline FleetGauges EngineGauges::summarize(TimePoint now, Duration stale_after) const noexcept {
  // The usual case: no writer in the middle of a slot; otherwise once more, retrying such slots.
  bool torn = false;
  const FleetGauges f = summarize_slots<false>(now, stale_after, torn);
  return torn ? summarize_slots<true>(now, stale_after, torn) : f;
}

template <bool Retry>
FleetGauges EngineGauges::summarize_slots(TimePoint now, Duration stale_after, bool& torn) const noexcept {
  // Written for speed: sums in locals, and the usual slot (consistent, live, fresh) takes one
  // well-predicted branch into plain additions; an empty or stale slot leaves early.
  std::int64_t reporting = 0, stale = 0, queue_total = 0, queue_max = 0, running_total = 0;
  std::int64_t batch_running = 0, batch_total = 0, kv_used_total = 0, kv_capacity_total = 0, oldest = 0;
  std::int64_t counts[4] = {};  // batch full, KV high, queue high, saturated
  std::int64_t unsaturated_queue = 0;
  double max_use = 0, unsaturated_use = 0;
  const std::int64_t now_ns = now.time_since_epoch().count();
  const std::int64_t stale_ns = stale_after.count();
  constexpr std::uint64_t low = 0xFFFFFFFFU;
  for (std::size_t start = 0; start < slot_count_; start += flag_chunk) {
    const std::size_t stop = std::min(slot_count_, start + flag_chunk);
    std::uint64_t lanes = 0;  // flags added lane by lane: at most flag_chunk per lane
    for (std::size_t i = start; i < stop; ++i) {
      const Slot& slot = slots_[i];
      constexpr auto acquire = std::memory_order_acquire;
      const std::uint64_t seq = slot.seq.load(acquire);
      std::int64_t v[field_count] = {slot.fields[0].load(acquire), slot.fields[1].load(acquire),
                                     slot.fields[2].load(acquire), slot.fields[3].load(acquire),
                                     slot.fields[4].load(acquire), slot.fields[5].load(acquire),
                                     slot.fields[6].load(acquire)};
      bool consistent = ((seq & 1U) == 0) & (slot.seq.load(std::memory_order_relaxed) == seq);
      if constexpr (Retry) {
        if (!consistent) consistent = read(slot, v);
      } else {
        torn |= !consistent;
      }
      if (!consistent || v[time] == empty) continue;
      const std::int64_t age = now_ns - v[time];  // sample times are within +-2^61 ns
      if (age > stale_ns) {
        ++stale;
        continue;
      }
      ++reporting;
      oldest = std::max(oldest, age);
      const auto qr = static_cast<std::uint64_t>(v[queue_running]);
      const auto queue = static_cast<std::int64_t>(qr & low);
      queue_total += queue;
      queue_max = std::max(queue_max, queue);
      running_total += static_cast<std::int64_t>(qr >> 32);
      const auto b = static_cast<std::uint64_t>(v[batch]);
      batch_running += static_cast<std::int64_t>(b & low);
      batch_total += static_cast<std::int64_t>(b >> 32);
      kv_used_total += v[kv_used];
      kv_capacity_total += v[kv_capacity];
      const auto use_bits = static_cast<std::uint64_t>(v[kv_use]);
      double use;
      std::memcpy(&use, &use_bits, sizeof use);
      max_use = std::max(max_use, use);
      const auto f = static_cast<std::uint64_t>(v[flags]);
      lanes += f;
      const std::uint64_t unsaturated = ((f >> saturated) & 1U) - 1U;  // all ones when not saturated
      unsaturated_queue += static_cast<std::int64_t>(qr & unsaturated & low);
      const std::uint64_t spare_bits = use_bits & unsaturated;
      double spare_use;
      std::memcpy(&spare_use, &spare_bits, sizeof spare_use);
      unsaturated_use += spare_use;
    }
    for (int l = 0; l < 4; ++l) counts[l] += static_cast<std::int64_t>((lanes >> (16 * l)) & 0xFFFFU);
  }
  FleetGauges f;
  f.replicas_reporting = static_cast<int>(reporting);
  f.replicas_stale = static_cast<int>(stale);
  f.replicas_batch_full = static_cast<int>(counts[0]);
  f.replicas_kv_high = static_cast<int>(counts[1]);
  f.replicas_queue_high = static_cast<int>(counts[2]);
  f.replicas_saturated = static_cast<int>(counts[3]);
  f.unsaturated_kv_use_sum = unsaturated_use;
  f.unsaturated_queue_total = unsaturated_queue;
  f.queue_length_total = queue_total;
  f.queue_length_max = queue_max;
  f.running_total = running_total;
  f.max_batch_total = batch_total;
  f.kv_tokens_used = kv_used_total;
  f.kv_tokens_capacity = kv_capacity_total;
  f.oldest_sample_age_s = to_seconds(Duration(oldest));
  f.kv_utilization_max = max_use;
  if (reporting > 0) f.queue_length_mean = static_cast<double>(queue_total) / static_cast<double>(reporting);
  if (batch_total > 0) f.batch_occupancy = static_cast<double>(batch_running) / static_cast<double>(batch_total);
  if (kv_capacity_total > 0) {
    f.kv_utilization = static_cast<double>(kv_used_total) / static_cast<double>(kv_capacity_total);
  }
  return f;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_ENGINE_GAUGES_HPP
