// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// EngineGauges: what each replica's engine reports about itself, set by the host for each
// replica slot (the number of slots is fixed at construction): queue length, running requests,
// the largest batch it runs, KV-cache tokens used and capacity (with a block size where the
// engine counts blocks), and when the sample was taken. `summarize` gives fleet sums and means
// and per-replica extremes: the largest queue and KV use, and how many replicas are saturated
// (llm-d's saturation analyzer: KV use at or above a threshold, or queue at or above a
// threshold; the thresholds are fixed at construction); replicas whose batch is full are
// counted apart (a full batch is not saturation).
//
// What a summary needs of each sample (masked figures, KV use, saturation flags) is worked out
// once in `set`, which also keeps the fleet's sums up to date (adding the new sample's share and
// taking the old one's away, in integers, so nothing drifts) and the extremes in a tournament
// tree over the slots (each node: the earliest sample time, the largest queue and the largest KV
// use below it; a set walks from its slot towards the root and stops where nothing changes).
// `summarize` reads the sums and the root; only when the earliest sample is stale does it go
// down the tree, into the subtrees that hold a stale slot, taking those slots' shares back out of
// the sums. A summary costs the same for 8 slots or 10^6 while every replica reports; k stale
// slots add about k log2(slots) node reads.
//
// Threading: any thread may `set` or `clear` any slot; writers take turns on a spin lock held
// for a few dozen nanoseconds. `summarize` may run concurrently (on the control thread): the
// sums and the tree are one sequence lock, so a summary never mixes two samples of one replica
// or a half-applied update; when it keeps finding a writer mid-update (one preempted inside
// `set`), it waits for that writer.
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
#include <thread>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/detail/hardware.hpp"
#include "llmscale/signals/snapshot.hpp"

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
  TimePoint sampled_at{};               ///< when the engine reported it (its age decides staleness)

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

/// Each replica slot's engine sample, set by any thread, summarised into fleet figures (see the
/// top of this file).
class EngineGauges {
 public:
  /// `replica_slots` slots, allocated here, in [1, 10^6]; throws std::invalid_argument for a
  /// slot count or threshold out of range.
  explicit EngineGauges(std::size_t replica_slots, const SaturationThresholds& thresholds = {});

  /// How many replica slots there are.
  [[nodiscard]] std::size_t slots() const noexcept { return slot_count_; }
  /// The thresholds replicas are counted saturated at.
  [[nodiscard]] const SaturationThresholds& thresholds() const noexcept { return thresholds_; }

  /// Sets slot `slot`'s sample. False (and counted as invalid) for a bad slot, an invalid
  /// sample or a sample time more than 2^61 ns (73 years) from the clock's epoch; false (and counted as out of order) for a sample older than the slot's last.
  bool set(std::size_t slot, const ReplicaGauges& sample) noexcept;
  /// Empties slot `slot` (its replica is gone).
  void clear(std::size_t slot) noexcept;

  /// Fleet figures over the slots whose sample is at most `stale_after` old at `now`.
  [[nodiscard]] FleetGauges summarize(TimePoint now, Duration stale_after) const noexcept;

  /// set() calls refused as invalid: a bad slot, an invalid sample or an out-of-range time.
  [[nodiscard]] std::uint64_t invalid_samples() const noexcept { return invalid_.load(std::memory_order_relaxed); }
  /// set() calls refused because the sample was older than the slot's last.
  [[nodiscard]] std::uint64_t out_of_order_samples() const noexcept {
    return out_of_order_.load(std::memory_order_relaxed);
  }

 private:
  // The fleet's sums over live (non-empty) slots; each slot keeps its own share to take back.
  enum Sum : std::size_t {
    live, queue_total, running_total,
    batch_running, batch_total,  // running and max batch over slots that know their max batch
    kv_used, kv_capacity,        // over slots that know their capacity
    batch_full, kv_high, queue_high, saturated,  // saturation counts
    unsaturated_queue, unsaturated_use,          // queue and KV use (fixed point) where not saturated
    sum_count
  };
  // KV use fractions are summed as integers in units of 2^-40 (exact sums; 2^60 at 10^6 slots).
  static constexpr double use_scale = 1099511627776.0;  // 2^40
  // A node of the extremes' tree: over the live slots below it, the earliest sample time in ns
  // (`no_sample` when none), the largest queue length and the largest KV use fraction (its bits:
  // non-negative doubles order as their bits). Slot i is leaf leaves_ + i; node n's children are
  // 2n and 2n + 1; the root is node 1.
  static constexpr std::int64_t no_sample = INT64_MAX;
  struct Node {
    std::atomic<std::int64_t> time;
    std::atomic<std::int64_t> queue;
    std::atomic<std::uint64_t> use_bits;
  };
  // A slot's share of the sums.
  struct Share {
    std::atomic<std::uint64_t> v[sum_count];
  };
  // Written by writers holding the lock; read by summaries.
  struct alignas(64) Fleet {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> sums[sum_count] = {};
  };

  void lock() const noexcept;
  void unlock() const noexcept { locked_.store(false, std::memory_order_release); }
  // Replaces slot i's share of the sums and its leaf (then the nodes above it that change),
  // inside the sequence lock; the caller holds the writer lock.
  void write_slot(std::size_t i, const std::uint64_t (&share)[sum_count], std::int64_t time, std::int64_t queue,
                  std::uint64_t use_bits) noexcept;
  // One consistent pass, or false when a writer was seen mid-update.
  bool try_summarize(TimePoint now, Duration stale_after, FleetGauges& out) const noexcept;

  std::size_t slot_count_;
  SaturationThresholds thresholds_;
  std::size_t leaves_;              // a power of two, at least slot_count_
  std::unique_ptr<Node[]> tree_;   // 2 leaves_ nodes (node 0 unused)
  std::unique_ptr<Share[]> shares_;
  Fleet fleet_;
  alignas(64) mutable std::atomic<bool> locked_{false};
  std::atomic<std::uint64_t> invalid_{0};
  std::atomic<std::uint64_t> out_of_order_{0};
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline EngineGauges::EngineGauges(std::size_t replica_slots, const SaturationThresholds& thresholds)
    : slot_count_(replica_slots), thresholds_(thresholds), leaves_(1) {
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
  while (leaves_ < replica_slots) leaves_ *= 2;
  tree_.reset(new Node[2 * leaves_]());
  shares_.reset(new Share[replica_slots]());
  for (std::size_t n = 0; n < 2 * leaves_; ++n) tree_[n].time.store(no_sample, std::memory_order_relaxed);
}

inline void EngineGauges::lock() const noexcept {
  for (int spins = 0;; ++spins) {
    if (!locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire)) return;
    if (spins < 1000) {
      detail::spin_pause();
    } else {
      std::this_thread::yield();  // the holder may have been preempted
    }
  }
}

inline void EngineGauges::write_slot(std::size_t i, const std::uint64_t (&share)[sum_count], std::int64_t time,
                                     std::int64_t queue, std::uint64_t use_bits) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  constexpr auto release = std::memory_order_release;
  Share& old = shares_[i];
  const std::uint64_t q = fleet_.seq.load(relaxed);
  fleet_.seq.store(q + 1, relaxed);  // the release stores below cannot pass it
  for (std::size_t k = 0; k < sum_count; ++k) {
    const std::uint64_t before = old.v[k].load(relaxed);
    fleet_.sums[k].store(fleet_.sums[k].load(relaxed) + share[k] - before, release);  // modulo 2^64
    old.v[k].store(share[k], release);
  }
  std::size_t n = leaves_ + i;
  tree_[n].time.store(time, release);
  tree_[n].queue.store(queue, release);
  tree_[n].use_bits.store(use_bits, release);
  // up towards the root, while the node's extremes change (above an unchanged node nothing does)
  for (; n > 1; n /= 2) {
    const Node& sibling = tree_[n ^ 1];
    time = std::min(time, sibling.time.load(relaxed));
    queue = std::max(queue, sibling.queue.load(relaxed));
    use_bits = std::max(use_bits, sibling.use_bits.load(relaxed));
    Node& parent = tree_[n / 2];
    if (parent.time.load(relaxed) == time && parent.queue.load(relaxed) == queue &&
        parent.use_bits.load(relaxed) == use_bits) {
      break;
    }
    parent.time.store(time, release);
    parent.queue.store(queue, release);
    parent.use_bits.store(use_bits, release);
  }
  fleet_.seq.store(q + 2, release);
}

inline bool EngineGauges::set(std::size_t slot, const ReplicaGauges& g) noexcept {
  const std::int64_t t = g.sampled_at.time_since_epoch().count();
  constexpr std::int64_t time_limit = INT64_MAX / 4;  // keeps `now - t` far from overflow
  if (slot >= slot_count_ || !g.valid() || t <= -time_limit || t >= time_limit) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const bool batch_known = g.max_batch > 0;
  const bool kv_known = g.kv_tokens_capacity > 0;
  const double use =
      kv_known ? static_cast<double>(g.kv_tokens_used) / static_cast<double>(g.kv_tokens_capacity) : 0.0;
  std::uint64_t use_bits = 0;
  std::memcpy(&use_bits, &use, sizeof use);
  const bool full = batch_known && g.running >= g.max_batch;
  const bool kv = kv_known && use >= thresholds_.kv_utilization;
  const bool queued = g.queue_length >= thresholds_.queue_length;
  const bool saturated_now = kv || queued;  // llm-d: KV use or waiting queue, not a full batch
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };  // all non-negative (valid())
  std::uint64_t share[sum_count] = {};
  share[live] = 1;
  share[queue_total] = u(g.queue_length);
  share[running_total] = u(g.running);
  share[batch_running] = batch_known ? u(g.running) : 0;
  share[batch_total] = batch_known ? u(g.max_batch) : 0;
  share[kv_used] = kv_known ? u(g.kv_tokens_used) : 0;
  share[kv_capacity] = u(g.kv_tokens_capacity);
  share[batch_full] = full;
  share[kv_high] = kv;
  share[queue_high] = queued;
  share[saturated] = saturated_now;
  share[unsaturated_queue] = saturated_now ? 0 : u(g.queue_length);
  share[unsaturated_use] = saturated_now ? 0 : static_cast<std::uint64_t>(use * use_scale + 0.5);
  lock();
  const std::int64_t last = tree_[leaves_ + slot].time.load(std::memory_order_relaxed);
  if (last != no_sample && t < last) {
    unlock();
    out_of_order_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  write_slot(slot, share, t, g.queue_length, use_bits);
  unlock();
  return true;
}

inline void EngineGauges::clear(std::size_t slot) noexcept {
  if (slot >= slot_count_) return;
  const std::uint64_t none[sum_count] = {};
  lock();
  write_slot(slot, none, no_sample, 0, 0);
  unlock();
}

inline FleetGauges EngineGauges::summarize(TimePoint now, Duration stale_after) const noexcept {
  FleetGauges f;
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (try_summarize(now, stale_after, f)) return f;
    detail::spin_pause();
  }
  // A writer stayed mid-update (preempted inside set): wait for it, then read undisturbed.
  lock();
  try_summarize(now, stale_after, f);  // no writer can move the sequence now: consistent
  unlock();
  return f;
}

inline bool EngineGauges::try_summarize(TimePoint now, Duration stale_after, FleetGauges& f) const noexcept {
  // acquire loads: the second sequence load cannot pass them (no fence, which ThreadSanitizer
  // cannot see; on x86 these are plain moves)
  constexpr auto acquire = std::memory_order_acquire;
  const std::uint64_t seq = fleet_.seq.load(acquire);
  if ((seq & 1U) != 0) return false;
  std::uint64_t sums[sum_count];
  for (std::size_t k = 0; k < sum_count; ++k) sums[k] = fleet_.sums[k].load(acquire);
  // A slot is stale when its sample time is before `fresh_from`. Down the tree from the root: a
  // node whose earliest sample is fresh gives its extremes whole; one that is not is opened,
  // down to its stale leaves. While every replica reports, that is the root alone.
  const std::int64_t now_ns = now.time_since_epoch().count();
  const std::int64_t stale_ns = stale_after.count();
  std::int64_t fresh_from = INT64_MIN;  // now - stale_after, saturated
  if (stale_ns < 0) {
    fresh_from = now_ns > INT64_MAX + stale_ns ? INT64_MAX : now_ns - stale_ns;
  } else if (now_ns >= INT64_MIN + stale_ns) {
    fresh_from = now_ns - stale_ns;
  }
  std::int64_t stale = 0, queue_max = 0, earliest = no_sample;
  std::uint64_t use_max = 0;
  std::size_t open[64];  // nodes still to look at: at most one per level below the root, plus one
  std::size_t pending = 0;
  open[pending++] = 1;
  while (pending > 0) {
    const std::size_t n = open[--pending];
    const Node& node = tree_[n];
    const std::int64_t t = node.time.load(acquire);
    if (t >= fresh_from) {  // no stale slot below (an empty subtree reads no_sample)
      earliest = std::min(earliest, t);
      queue_max = std::max(queue_max, node.queue.load(acquire));
      use_max = std::max(use_max, node.use_bits.load(acquire));
    } else if (n >= leaves_) {  // a stale slot: its share comes back out
      ++stale;
      const Share& share = shares_[n - leaves_];
      for (std::size_t k = 0; k < sum_count; ++k) sums[k] -= share.v[k].load(acquire);
    } else {  // (the tree is at most 21 levels deep: 10^6 slots)
      open[pending++] = 2 * n + 1;
      open[pending++] = 2 * n;
    }
  }
  const std::int64_t oldest = earliest == no_sample ? 0 : std::max<std::int64_t>(0, now_ns - earliest);
  double max_use;
  std::memcpy(&max_use, &use_max, sizeof max_use);
  if (fleet_.seq.load(std::memory_order_relaxed) != seq) return false;
  const auto sum = [&sums](Sum k) { return static_cast<std::int64_t>(sums[k]); };
  f = FleetGauges{};
  f.replicas_reporting = static_cast<int>(sum(live));
  f.replicas_stale = static_cast<int>(stale);
  f.replicas_batch_full = static_cast<int>(sum(batch_full));
  f.replicas_kv_high = static_cast<int>(sum(kv_high));
  f.replicas_queue_high = static_cast<int>(sum(queue_high));
  f.replicas_saturated = static_cast<int>(sum(saturated));
  f.unsaturated_kv_use_sum = static_cast<double>(sum(unsaturated_use)) / use_scale;
  f.unsaturated_queue_total = sum(unsaturated_queue);
  f.queue_length_total = sum(queue_total);
  f.queue_length_max = queue_max;
  f.running_total = sum(running_total);
  f.max_batch_total = sum(batch_total);
  f.kv_tokens_used = sum(kv_used);
  f.kv_tokens_capacity = sum(kv_capacity);
  f.oldest_sample_age_s = to_seconds(Duration(oldest));
  f.kv_utilization_max = max_use;
  const std::int64_t reporting = sum(live);
  if (reporting > 0) f.queue_length_mean = static_cast<double>(f.queue_length_total) / static_cast<double>(reporting);
  if (f.max_batch_total > 0) {
    f.batch_occupancy = static_cast<double>(sum(batch_running)) / static_cast<double>(f.max_batch_total);
  }
  if (f.kv_tokens_capacity > 0) {
    f.kv_utilization = static_cast<double>(f.kv_tokens_used) / static_cast<double>(f.kv_tokens_capacity);
  }
  return true;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_ENGINE_GAUGES_HPP
