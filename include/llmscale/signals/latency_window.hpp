// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// LatencyWindow: quantiles of one of a Recorder's latency histograms (queue wait or TTFT) over
// a sliding time window, at a cost per tick that does not depend on how many requests there
// were or how their latencies spread.
//
// The Recorder's histograms are cumulative. The window is split into `parts` equal parts; at
// the first update in each new part the window takes a snapshot of the cumulative histogram,
// and the histogram of the window is the current cumulative one minus the snapshot taken at
// the start of the oldest part still in it (so the window covers between parts - 1 and parts
// parts of time).
//
// Snapshots are kept as changes, so that taking one writes only what changed: each snapshot
// keeps its bucket-group totals, a mask of the groups that changed since the previous snapshot
// and, for those groups only, their buckets as they are now, in a block (32 buckets) from a
// pool. When a snapshot leaves the window its blocks become the floor: for each group, its
// buckets at the last snapshot older than the window that changed it. A bucket group of the
// oldest snapshot is its own block if it changed the group, else the floor's. Blocks move
// between snapshots, the floor and the pool by index: no bucket is copied twice.
//
// An update reads one count per writer; a snapshot (once per part) reads the group totals and
// the buckets of the groups that changed; quantiles read the group totals and the buckets of
// the groups that hold the wanted ranks. Accuracy is the layout's: within 1 % of the exact
// nearest-rank quantile of the window's samples for values of at least 64 us.
//
// Snapshots keep the low 32 bits of each count; differences are taken modulo 2^32, exact as
// long as one window holds fewer than 2^31 samples.
//
// After a gap of one or more parts with no update, the parts missed start where the last
// snapshot did, so samples recorded during the gap stay in the window until it moves past
// them; after a gap of a whole window the window starts empty. All memory is allocated at
// construction.
#ifndef LLMSCALE_SIGNALS_LATENCY_WINDOW_HPP
#define LLMSCALE_SIGNALS_LATENCY_WINDOW_HPP

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"
#include "llmscale/signals/detail/hardware.hpp"
#include "llmscale/signals/log_histogram.hpp"
#include "llmscale/signals/recorder.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Quantiles of one of a Recorder's latency histograms over a sliding window (see the top of
/// this file).
class LatencyWindow {
 public:
  using Layout = LogHistogramLayout;  ///< the histograms' bucket layout

  /// A window over `recorder`'s `which` histogram; throws std::invalid_argument unless
  /// window > 0 and 1 <= parts <= 3600. The recorder must outlive the window.
  LatencyWindow(const Recorder& recorder, LatencyHistogram which, Duration window, std::size_t parts, TimePoint start)
      : recorder_(&recorder),
        which_(which),
        part_(detail::part_length(window, parts, "latency_window")),
        parts_(parts),
        snap_groups_(parts * Layout::group_count, 0),
        snap_totals_(parts, 0),
        changed_(parts, 0),
        block_of_(parts * Layout::group_count, zero_block),
        blocks_(pool_blocks(parts) * Layout::group_size, 0),
        free_(pool_blocks(parts) - 1) {
    // every snapshot and the floor start as the empty histogram (the zero block, never written)
    floor_.fill(zero_block);
    for (std::size_t b = 0; b < free_.size(); ++b) free_[b] = static_cast<std::uint32_t>(b + 1);
    free_count_ = free_.size();
    move_head(detail::bucket_index(start, part_));
  }

  /// Moves the window to `now` (taking a snapshot at a part boundary) and counts its samples.
  /// Times earlier than the last update's part are treated as that part.
  void update(TimePoint now) noexcept {
    if (now.time_since_epoch().count() >= next_part_ns_) {
      const std::int64_t p = detail::bucket_index(now, part_);
      if (p - head_ >= static_cast<std::int64_t>(parts_)) {
        // a whole window without updates: what was recorded meanwhile cannot be placed in
        // time, so the window starts empty now (every part starts at this snapshot)
        restart();
      } else {
        // parts missed in a shorter gap start where the last snapshot did: samples recorded
        // during the gap stay in the window until it moves past the gap
        for (std::int64_t k = head_ + 1; k <= p; ++k) {
          const std::size_t s = slot(k);
          retire(s);
          if (k < p) {
            copy_snapshot(head_slot_, s);
          } else {
            take_snapshot(head_slot_, s);
          }
        }
      }
      move_head(p);
      prefetch();  // the oldest snapshot moved: what the quantiles will read is elsewhere now
    }
    // Read after the snapshot: a writer caught between publishing a sample's group and its
    // count can make the difference briefly negative; it counts as none.
    const std::uint32_t in_window = recorder_->read_count(which_) - snap_totals_[base_slot_];
    total_ = in_window < (std::uint32_t{1} << 31) ? in_window : 0;
  }

  /// Samples in the window at the last update.
  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }

  /// Quantiles (each q in (0, 1], ascending) in seconds of the samples counted at the last
  /// update; 0 when empty.
  template <std::size_t K>
  void quantiles(const std::array<double, K>& qs, std::array<double, K>& out) const noexcept {
    if (total_ == 0) {  // nothing in the window (a host that never records this latency): no reads
      out.fill(0.0);
      return;
    }
    // Groups and buckets are read after the count, so they hold at least its samples; per
    // group and per bucket, differences are exact modulo 2^32 (counts only grow).
    std::uint32_t groups[Layout::group_count];
    recorder_->read_groups(which_, groups);
    const std::uint32_t* base = &snap_groups_[base_slot_ * Layout::group_count];
    for (std::size_t g = 0; g < Layout::group_count; ++g) groups[g] -= base[g];
    recent_count_ = 0;
    detail::nearest_rank_quantiles(
        total_, qs, groups,
        [&](std::size_t g, std::uint32_t* counts) {
          if (recent_count_ < recent_.size()) recent_[recent_count_++] = static_cast<std::uint8_t>(g);
          recorder_->read_group_buckets(which_, g, counts);
          const std::uint32_t* snap = base_buckets(g);
          for (std::size_t i = 0; i < Layout::group_size; ++i) counts[i] -= snap[i];
        },
        out);
  }

  /// A hint, for a caller with other work to do before `update` and `quantiles`: starts
  /// loading the memory they will probably read (the oldest snapshot's group totals, and the
  /// buckets of the groups the last `quantiles` used, in the recorder and in the snapshots);
  /// nothing while the window held no samples at the last update.
  void prefetch() const noexcept {
    if (total_ == 0) return;  // an empty window's quantiles read nothing (see quantiles)
    const std::uint32_t* groups = &snap_groups_[base_slot_ * Layout::group_count];
    for (std::size_t i = 0; i < Layout::group_count; i += 16) detail::prefetch(groups + i);
    detail::prefetch(&snap_totals_[base_slot_]);
    recorder_->prefetch_groups(which_);
    for (std::size_t i = 0; i < recent_count_; ++i) {
      recorder_->prefetch_buckets(which_, recent_[i]);
      const std::uint32_t* buckets = base_buckets(recent_[i]);
      detail::prefetch(buckets);
      detail::prefetch(buckets + 16);
    }
  }

  /// The window's length: parts x the part length.
  [[nodiscard]] Duration window() const noexcept { return part_ * static_cast<Duration::rep>(parts_); }

 private:
  static_assert(Layout::group_count <= 64, "a snapshot's changed groups are one 64-bit mask");
  static constexpr std::uint32_t zero_block = 0;  // all zeros, never written nor freed
  // Blocks in use at most: the parts' changed groups and the floor, plus the zero block.
  static constexpr std::size_t pool_blocks(std::size_t parts) { return (parts + 1) * Layout::group_count + 1; }

  [[nodiscard]] std::size_t slot(std::int64_t p) const noexcept { return detail::ring_slot(p, parts_); }
  [[nodiscard]] const std::uint32_t* block(std::uint32_t b) const noexcept { return &blocks_[b * Layout::group_size]; }
  [[nodiscard]] std::uint32_t* block(std::uint32_t b) noexcept { return &blocks_[b * Layout::group_size]; }
  std::uint32_t allocate() noexcept {
    assert(free_count_ > 0 && "latency_window: more blocks in use than its parts and floor can hold");
    return free_[--free_count_];
  }
  void release(std::uint32_t b) noexcept {
    if (b != zero_block) free_[free_count_++] = b;
  }

  // The window's newest part becomes p: its slot, the oldest snapshot's and the next part's
  // start (fixed until the next part; worked out here, once per part).
  void move_head(std::int64_t p) noexcept {
    head_ = p;
    head_slot_ = slot(p);
    base_slot_ = slot(p - static_cast<std::int64_t>(parts_) + 1);
    const std::int64_t g = part_.count();
    next_part_ns_ = p < INT64_MAX / g - 1 ? (p + 1) * g : INT64_MAX;
  }

  // Group g's buckets in the oldest snapshot: its own block if it changed the group, else the
  // floor's.
  [[nodiscard]] const std::uint32_t* base_buckets(std::size_t g) const noexcept {
    const bool own = ((changed_[base_slot_] >> g) & 1U) != 0;
    return block(own ? block_of_[base_slot_ * Layout::group_count + g] : floor_[g]);
  }

  // The snapshot in slot s leaves the window: the groups it changed have their buckets at it as
  // the floor now (the floor's blocks for them go back to the pool).
  void retire(std::size_t s) noexcept {
    const std::uint32_t* blocks = &block_of_[s * Layout::group_count];
    for (std::uint64_t m = changed_[s]; m != 0; m &= m - 1) {
      const std::size_t g = detail::lowest_bit(m);
      release(floor_[g]);
      floor_[g] = blocks[g];
    }
    changed_[s] = 0;
  }

  // Part `to` starts at the same snapshot as part `from` (no change between them).
  void copy_snapshot(std::size_t from, std::size_t to) noexcept {
    std::memcpy(&snap_groups_[to * Layout::group_count], &snap_groups_[from * Layout::group_count],
                Layout::group_count * sizeof(std::uint32_t));
    snap_totals_[to] = snap_totals_[from];
    changed_[to] = 0;
  }

  // Snapshot `to` = the current cumulative histogram, taken after snapshot `prev`: the groups
  // whose totals moved since `prev` get a block with their buckets now.
  void take_snapshot(std::size_t prev, std::size_t to) noexcept {
    const std::uint32_t* prev_groups = &snap_groups_[prev * Layout::group_count];
    std::uint32_t* groups = &snap_groups_[to * Layout::group_count];
    for (std::size_t i = 0; i < Layout::group_count; i += 16) {
      detail::prefetch(prev_groups + i);
      detail::prefetch_for_write(groups + i);
    }
    std::array<std::uint32_t, Layout::group_count> current;
    recorder_->read_groups(which_, current.data());
    std::uint64_t changed = 0;
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      changed |= static_cast<std::uint64_t>(current[g] != prev_groups[g]) << g;
    }
    // Blocks come back to the pool a window after they were last written: ask for all of them
    // (and the recorder's buckets) before writing, so that the loads overlap.
    for (std::size_t i = 0, m = detail::popcount(changed); i < m && i < free_count_; ++i) {
      const std::uint32_t* b = block(free_[free_count_ - 1 - i]);
      detail::prefetch_for_write(b);
      detail::prefetch_for_write(b + 16);
    }
    for (std::uint64_t m = changed; m != 0; m &= m - 1) recorder_->prefetch_buckets(which_, detail::lowest_bit(m));
    std::uint32_t* blocks = &block_of_[to * Layout::group_count];
    for (std::uint64_t m = changed; m != 0; m &= m - 1) {
      const std::size_t g = detail::lowest_bit(m);
      const std::uint32_t b = allocate();
      recorder_->read_group_buckets(which_, g, block(b));
      blocks[g] = b;
    }
    std::uint32_t total = 0;  // modulo 2^32
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      groups[g] = current[g];
      total += current[g];
    }
    snap_totals_[to] = total;
    changed_[to] = changed;
  }

  // After a whole window without updates: every part starts at a snapshot taken now, kept as
  // the floor (every group's buckets now).
  void restart() noexcept {
    for (std::size_t s = 0; s < parts_; ++s) retire(s);
    std::array<std::uint32_t, Layout::group_count> current;
    recorder_->read_groups(which_, current.data());
    std::uint32_t total = 0;  // modulo 2^32
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      release(floor_[g]);
      floor_[g] = allocate();
      recorder_->read_group_buckets(which_, g, block(floor_[g]));
      total += current[g];
    }
    for (std::size_t s = 0; s < parts_; ++s) {
      std::memcpy(&snap_groups_[s * Layout::group_count], current.data(), Layout::group_count * sizeof(std::uint32_t));
      snap_totals_[s] = total;
    }
  }

  const Recorder* recorder_;
  LatencyHistogram which_;
  Duration part_;
  std::size_t parts_;
  std::vector<std::uint32_t> snap_groups_;  // parts x groups: each snapshot's group totals, modulo 2^32
  std::vector<std::uint32_t> snap_totals_;  // parts: each snapshot's groups summed, modulo 2^32
  std::vector<std::uint64_t> changed_;      // parts: the groups that changed at each snapshot
  std::vector<std::uint32_t> block_of_;     // parts x groups: the block of each changed group
  std::vector<std::uint32_t> blocks_;       // the pool: blocks of group_size bucket counts
  std::vector<std::uint32_t> free_;         // the blocks not in use (a stack)
  std::size_t free_count_ = 0;
  std::array<std::uint32_t, Layout::group_count> floor_{};        // each group's block below the window
  std::uint64_t total_ = 0;
  std::int64_t head_ = 0;          // the newest part
  std::size_t head_slot_ = 0;      // its slot
  std::size_t base_slot_ = 0;      // the oldest snapshot's slot
  std::int64_t next_part_ns_ = 0;  // where the part after head_ starts
  // the groups whose buckets the last `quantiles` read: what `prefetch` loads
  mutable std::array<std::uint8_t, 4> recent_{};
  mutable std::size_t recent_count_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LATENCY_WINDOW_HPP
