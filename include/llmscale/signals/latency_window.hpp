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
// parts of time). An update reads one count per writer; a snapshot (once per part) reads the
// bucket-group totals and copies the buckets of the groups that changed since the previous
// one; quantiles read the group totals up to the highest one wanted and the buckets of the
// groups that hold the wanted ranks. Accuracy is the layout's: within 1 % of the exact
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
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/detail/bucket_ring.hpp"
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
        snap_buckets_(parts * Layout::bucket_count, 0),
        snap_totals_(parts, 0),
        head_(detail::bucket_index(start, part_)) {}

  /// Moves the window to `now` (taking a snapshot at a part boundary) and counts its samples.
  /// Times earlier than the last update's part are treated as that part.
  void update(TimePoint now) noexcept {
    const std::int64_t p = detail::bucket_index(now, part_);
    if (p > head_) {
      const auto n = static_cast<std::int64_t>(parts_);
      take_snapshot(slot(head_), slot(p));
      if (p - head_ >= n) {
        // a whole window without updates: what was recorded meanwhile cannot be placed in
        // time, so the window starts empty now
        for (std::int64_t k = p - n + 1; k < p; ++k) copy_snapshot(slot(p), slot(k));
      } else {
        // parts missed in a shorter gap start where the last snapshot did: samples recorded
        // during the gap stay in the window until it moves past the gap
        for (std::int64_t k = head_ + 1; k < p; ++k) copy_snapshot(slot(head_), slot(k));
      }
      head_ = p;
    }
    // Read after the snapshot: a writer caught between publishing a sample's group and its
    // count can make the difference briefly negative; it counts as none.
    const std::uint32_t in_window = recorder_->read_count(which_) - snap_totals_[oldest()];
    total_ = in_window < (std::uint32_t{1} << 31) ? in_window : 0;
  }

  /// Samples in the window at the last update.
  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }

  /// Quantiles (each q in (0, 1], ascending) in seconds of the samples counted at the last
  /// update; 0 when empty.
  template <std::size_t K>
  void quantiles(const std::array<double, K>& qs, std::array<double, K>& out) const noexcept {
    const std::size_t base = oldest();
    const std::uint32_t* base_groups = &snap_groups_[base * Layout::group_count];
    // Groups and buckets are read after the count, so they hold at least its samples; per
    // group and per bucket, differences are exact modulo 2^32 (counts only grow).
    std::array<std::uint32_t, Layout::group_count> groups;
    recorder_->read_groups(which_, groups.data());
    detail::nearest_rank_quantiles(
        total_, qs, [&](std::size_t g) -> std::uint64_t { return groups[g] - base_groups[g]; },
        [&](std::size_t g, std::uint64_t* running) {
          std::uint32_t now[Layout::group_size];
          recorder_->read_group_buckets(which_, g, now);
          const std::uint32_t* snap = &snap_buckets_[base * Layout::bucket_count + g * Layout::group_size];
          std::uint64_t sum = 0;
          for (std::size_t i = 0; i < Layout::group_size; ++i) running[i] = sum += static_cast<std::uint32_t>(now[i] - snap[i]);
        },
        out);
  }

  [[nodiscard]] Duration window() const noexcept { return part_ * static_cast<Duration::rep>(parts_); }

 private:
  [[nodiscard]] std::size_t slot(std::int64_t p) const noexcept { return detail::ring_slot(p, parts_); }
  // the snapshot at the start of the oldest part in the window
  [[nodiscard]] std::size_t oldest() const noexcept { return slot(head_ - static_cast<std::int64_t>(parts_) + 1); }

  void copy_snapshot(std::size_t from, std::size_t to) noexcept {
    if (from == to) return;
    std::memcpy(&snap_groups_[to * Layout::group_count], &snap_groups_[from * Layout::group_count],
                Layout::group_count * sizeof(std::uint32_t));
    std::memcpy(&snap_buckets_[to * Layout::bucket_count], &snap_buckets_[from * Layout::bucket_count],
                Layout::bucket_count * sizeof(std::uint32_t));
    snap_totals_[to] = snap_totals_[from];
  }

  // Snapshot `to` = the current cumulative histogram; groups unchanged since snapshot `prev`
  // keep prev's buckets, the others are read from the recorder.
  void take_snapshot(std::size_t prev, std::size_t to) noexcept {
    std::array<std::uint32_t, Layout::group_count> current;
    recorder_->read_groups(which_, current.data());
    std::uint32_t* groups = &snap_groups_[to * Layout::group_count];
    std::uint32_t* buckets = &snap_buckets_[to * Layout::bucket_count];
    const std::uint32_t* prev_groups = &snap_groups_[prev * Layout::group_count];
    const std::uint32_t* prev_buckets = &snap_buckets_[prev * Layout::bucket_count];
    std::uint32_t total = 0;  // modulo 2^32
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      std::uint32_t* b = buckets + g * Layout::group_size;
      const std::uint32_t now = current[g];
      if (now == prev_groups[g]) {
        if (to != prev) std::memcpy(b, prev_buckets + g * Layout::group_size, Layout::group_size * sizeof(std::uint32_t));
      } else {
        recorder_->read_group_buckets(which_, g, b);
      }
      groups[g] = now;
      total += now;
    }
    snap_totals_[to] = total;
  }

  const Recorder* recorder_;
  LatencyHistogram which_;
  Duration part_;
  std::size_t parts_;
  std::vector<std::uint32_t> snap_groups_;   // parts x groups, modulo 2^32
  std::vector<std::uint32_t> snap_buckets_;  // parts x buckets, modulo 2^32
  std::vector<std::uint32_t> snap_totals_;   // parts: each snapshot's groups summed, modulo 2^32
  std::uint64_t total_ = 0;
  std::int64_t head_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LATENCY_WINDOW_HPP
