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
// parts of time). An update reads only the bucket-group totals; a snapshot copies the buckets
// of the groups that changed since the previous one; a quantile reads the buckets of the one
// group that holds its rank. Accuracy is the layout's: within 1 % of the exact nearest-rank
// quantile of the window's samples for values of at least 64 us.
//
// Snapshots keep the low 32 bits of each count; differences are taken modulo 2^32, exact as
// long as one window holds fewer than 2^32 samples in a bucket.
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
        head_(detail::bucket_index(start, part_)) {}

  /// Reads the recorder's group totals at `now` and moves the window (taking snapshots at part
  /// boundaries). Times earlier than the last update's part are treated as that part.
  void update(TimePoint now) noexcept {
    recorder_->read_groups(which_, current_groups_.data());
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
    // the window's histogram: current minus the snapshot of its oldest part
    const std::uint32_t* base = &snap_groups_[slot(head_ - static_cast<std::int64_t>(parts_) + 1) * Layout::group_count];
    std::uint64_t total = 0;
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      window_groups_[g] = static_cast<std::uint32_t>(current_groups_[g]) - base[g];  // modulo 2^32
      total += window_groups_[g];
    }
    total_ = total;
  }

  /// Samples in the window at the last update.
  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }

  /// Quantiles (each q in (0, 1], ascending) in seconds at the last update; 0 when empty.
  template <std::size_t K>
  void quantiles(const std::array<double, K>& qs, std::array<double, K>& out) const noexcept {
    const std::size_t base = slot(head_ - static_cast<std::int64_t>(parts_) + 1);
    detail::nearest_rank_quantiles(
        total_, qs, [this](std::size_t g) { return window_groups_[g]; },
        [&](std::size_t g, std::uint64_t* counts) {
          recorder_->read_group_buckets(which_, g, counts);
          const std::uint32_t* snap = &snap_buckets_[base * Layout::bucket_count + g * Layout::group_size];
          for (std::size_t i = 0; i < Layout::group_size; ++i) {
            counts[i] = static_cast<std::uint32_t>(static_cast<std::uint32_t>(counts[i]) - snap[i]);
          }
        },
        out);
  }

  [[nodiscard]] Duration window() const noexcept { return part_ * static_cast<Duration::rep>(parts_); }

 private:
  [[nodiscard]] std::size_t slot(std::int64_t p) const noexcept { return detail::ring_slot(p, parts_); }

  void copy_snapshot(std::size_t from, std::size_t to) noexcept {
    if (from == to) return;
    std::memcpy(&snap_groups_[to * Layout::group_count], &snap_groups_[from * Layout::group_count],
                Layout::group_count * sizeof(std::uint32_t));
    std::memcpy(&snap_buckets_[to * Layout::bucket_count], &snap_buckets_[from * Layout::bucket_count],
                Layout::bucket_count * sizeof(std::uint32_t));
  }

  // Snapshot `to` = the current cumulative histogram; groups unchanged since snapshot `prev`
  // keep prev's buckets, the others are read from the recorder.
  void take_snapshot(std::size_t prev, std::size_t to) noexcept {
    std::uint32_t* groups = &snap_groups_[to * Layout::group_count];
    std::uint32_t* buckets = &snap_buckets_[to * Layout::bucket_count];
    const std::uint32_t* prev_groups = &snap_groups_[prev * Layout::group_count];
    const std::uint32_t* prev_buckets = &snap_buckets_[prev * Layout::bucket_count];
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      std::uint32_t* b = buckets + g * Layout::group_size;
      const auto now = static_cast<std::uint32_t>(current_groups_[g]);
      if (now == prev_groups[g]) {
        if (to != prev) std::memcpy(b, prev_buckets + g * Layout::group_size, Layout::group_size * sizeof(std::uint32_t));
      } else {
        std::uint64_t counts[Layout::group_size];
        recorder_->read_group_buckets(which_, g, counts);
        for (std::size_t i = 0; i < Layout::group_size; ++i) b[i] = static_cast<std::uint32_t>(counts[i]);
      }
      groups[g] = now;
    }
  }

  const Recorder* recorder_;
  LatencyHistogram which_;
  Duration part_;
  std::size_t parts_;
  std::vector<std::uint32_t> snap_groups_;   // parts x groups, modulo 2^32
  std::vector<std::uint32_t> snap_buckets_;  // parts x buckets, modulo 2^32
  std::array<std::uint64_t, Layout::group_count> current_groups_{};
  std::array<std::uint32_t, Layout::group_count> window_groups_{};
  std::uint64_t total_ = 0;
  std::int64_t head_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_LATENCY_WINDOW_HPP
