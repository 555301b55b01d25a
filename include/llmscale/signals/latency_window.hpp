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
// Snapshots are kept as changes, so that taking one writes only what changed: the window keeps
// the buckets of the newest snapshot in full, and each snapshot keeps its bucket-group totals,
// a mask of the groups that changed since the previous snapshot and, for those groups only,
// their buckets as they were before. A bucket group of an older snapshot is the `before` copy
// of the first later snapshot that changed it, or the newest snapshot's if none did.
//
// An update reads one count per writer; a snapshot (once per part) reads the group totals and
// the buckets of the groups that changed; quantiles read the group totals up to the highest
// one wanted and the buckets of the groups that hold the wanted ranks. Accuracy is the
// layout's: within 1 % of the exact nearest-rank quantile of the window's samples for values
// of at least 64 us.
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
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/detail/bucket_ring.hpp"
#include "llmscale/signals/detail/hardware.hpp"
#include "llmscale/signals/log_histogram.hpp"
#include "llmscale/signals/recorder.hpp"

LLMSCALE_NAMESPACE_BEGIN

class LatencyWindow {
 public:
  using Layout = LogHistogramLayout;

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
        buckets_((parts + 1) * Layout::bucket_count, 0) {
    move_head(detail::bucket_index(start, part_));
  }

  /// Moves the window to `now` (taking a snapshot at a part boundary) and counts its samples.
  /// Times earlier than the last update's part are treated as that part.
  void update(TimePoint now) noexcept {
    if (now.time_since_epoch().count() >= next_part_ns_) {
      const std::int64_t p = detail::bucket_index(now, part_);
      const auto n = static_cast<std::int64_t>(parts_);
      const std::size_t to = slot(p);
      take_snapshot(head_slot_, to);
      if (p - head_ >= n) {
        // a whole window without updates: what was recorded meanwhile cannot be placed in
        // time, so the window starts empty now (every part starts at this snapshot)
        for (std::int64_t k = p - n + 1; k < p; ++k) copy_snapshot(to, slot(k));
        changed_[to] = 0;
      } else {
        // parts missed in a shorter gap start where the last snapshot did: samples recorded
        // during the gap stay in the window until it moves past the gap
        for (std::int64_t k = head_ + 1; k < p; ++k) copy_snapshot(head_slot_, slot(k));
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
          const std::uint32_t* snap = &buckets_[base_buckets_[g]];
          for (std::size_t i = 0; i < Layout::group_size; ++i) counts[i] -= snap[i];
        },
        out);
  }

  /// A hint, for a caller with other work to do before `update` and `quantiles`: starts
  /// loading the memory they will probably read (the oldest snapshot's group totals, and the
  /// buckets of the groups the last `quantiles` used, in the recorder and in the snapshots).
  void prefetch() const noexcept {
    const std::uint32_t* groups = &snap_groups_[base_slot_ * Layout::group_count];
    for (std::size_t i = 0; i < Layout::group_count; i += 16) detail::prefetch(groups + i);
    detail::prefetch(&snap_totals_[base_slot_]);
    for (std::size_t i = 0; i < recent_count_; ++i) {
      recorder_->prefetch(which_, recent_[i]);
      const std::uint32_t* buckets = &buckets_[base_buckets_[recent_[i]]];
      detail::prefetch(buckets);
      detail::prefetch(buckets + 16);
    }
  }

  [[nodiscard]] Duration window() const noexcept { return part_ * static_cast<Duration::rep>(parts_); }

 private:
  static_assert(Layout::group_count <= 64, "a snapshot's changed groups are one 64-bit mask");
  // buckets_ holds the newest snapshot's buckets, then each part's `before` buckets
  static constexpr std::uint32_t newest = 0;

  [[nodiscard]] std::size_t slot(std::int64_t p) const noexcept { return detail::ring_slot(p, parts_); }
  [[nodiscard]] std::uint32_t before(std::size_t s) const noexcept {
    return static_cast<std::uint32_t>((s + 1) * Layout::bucket_count);
  }

  // The window's newest part becomes p: the slots, the next part's start and where the oldest
  // snapshot's buckets are (all fixed until the next part; worked out here, once per part).
  void move_head(std::int64_t p) noexcept {
    head_ = p;
    head_slot_ = slot(p);
    base_slot_ = slot(p - static_cast<std::int64_t>(parts_) + 1);
    const std::int64_t g = part_.count();
    next_part_ns_ = p < INT64_MAX / g - 1 ? (p + 1) * g : INT64_MAX;
    // Group g of the oldest snapshot: the `before` copy of the first later snapshot that
    // changed it, else the newest snapshot's.
    std::uint64_t left = ~std::uint64_t{0} >> (64 - Layout::group_count);
    std::size_t s = base_slot_;
    for (std::size_t k = 1; k < parts_ && left != 0; ++k) {
      s = s + 1 == parts_ ? 0 : s + 1;
      const std::uint64_t hit = changed_[s] & left;
      for (std::uint64_t m = hit; m != 0; m &= m - 1) {
        const std::size_t grp = detail::lowest_bit(m);
        base_buckets_[grp] = before(s) + static_cast<std::uint32_t>(grp * Layout::group_size);
      }
      left &= ~hit;
    }
    for (std::uint64_t m = left; m != 0; m &= m - 1) {
      const std::size_t grp = detail::lowest_bit(m);
      base_buckets_[grp] = newest + static_cast<std::uint32_t>(grp * Layout::group_size);
    }
  }

  // Part `to` starts at the same snapshot as part `from` (no change between them).
  void copy_snapshot(std::size_t from, std::size_t to) noexcept {
    if (from == to) return;
    std::memcpy(&snap_groups_[to * Layout::group_count], &snap_groups_[from * Layout::group_count],
                Layout::group_count * sizeof(std::uint32_t));
    snap_totals_[to] = snap_totals_[from];
    changed_[to] = 0;
  }

  // Snapshot `to` = the current cumulative histogram, taken after snapshot `prev`: the groups
  // whose totals moved since `prev` keep their previous buckets in `to`'s `before` and read
  // their new ones into the newest buckets.
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
    std::uint32_t* saved = &buckets_[before(to)];
    // Most of what a snapshot touches was last touched a part or a window ago: ask for all of
    // it before copying, so that the loads overlap.
    for (std::uint64_t m = changed; m != 0; m &= m - 1) {
      const std::size_t g = detail::lowest_bit(m);
      for (std::size_t i = 0; i < Layout::group_size; i += 16) {
        detail::prefetch(&buckets_[newest + g * Layout::group_size + i]);
        detail::prefetch_for_write(saved + g * Layout::group_size + i);
      }
      recorder_->prefetch_buckets(which_, g);
    }
    for (std::uint64_t m = changed; m != 0; m &= m - 1) {
      const std::size_t g = detail::lowest_bit(m);
      std::uint32_t* latest = &buckets_[newest + g * Layout::group_size];
      std::memcpy(saved + g * Layout::group_size, latest, Layout::group_size * sizeof(std::uint32_t));
      recorder_->read_group_buckets(which_, g, latest);
    }
    std::uint32_t total = 0;  // modulo 2^32
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      groups[g] = current[g];
      total += current[g];
    }
    snap_totals_[to] = total;
    changed_[to] = changed;
  }

  const Recorder* recorder_;
  LatencyHistogram which_;
  Duration part_;
  std::size_t parts_;
  std::vector<std::uint32_t> snap_groups_;  // parts x groups: each snapshot's group totals, modulo 2^32
  std::vector<std::uint32_t> snap_totals_;  // parts: each snapshot's groups summed, modulo 2^32
  std::vector<std::uint64_t> changed_;      // parts: the groups that changed at each snapshot
  std::vector<std::uint32_t> buckets_;      // the newest snapshot's buckets, then parts x changed groups' before it
  std::uint64_t total_ = 0;
  std::int64_t head_ = 0;           // the newest part
  std::size_t head_slot_ = 0;       // its slot
  std::size_t base_slot_ = 0;       // the oldest snapshot's slot
  std::int64_t next_part_ns_ = 0;   // where the part after head_ starts
  std::array<std::uint32_t, Layout::group_count> base_buckets_{};  // group g of the oldest snapshot, in buckets_
  // the groups whose buckets the last `quantiles` read: what `prefetch` loads
  mutable std::array<std::uint8_t, 4> recent_{};
  mutable std::size_t recent_count_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LATENCY_WINDOW_HPP
