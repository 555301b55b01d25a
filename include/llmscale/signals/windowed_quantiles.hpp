// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// WindowedQuantiles: quantiles of a latency (queue wait, TTFT) over a sliding time window,
// from rotating fixed-size histograms. The window is split into `subwindows` equal parts, each
// with its own histogram (LogHistogramLayout: within 0.79 % of the true value for values of at
// least 64 us); the window's histogram is their sum, kept current as parts enter and expire.
// A quantile is the midpoint of the bucket holding the nearest-rank sample ceil(q n), so it is
// within 1 % of the exact sorted quantile of the samples in the window. The window moves in
// steps of one part: it covers between (subwindows - 1) and subwindows parts of time.
//
// All memory is allocated at construction; adding, advancing and querying never allocate.
#ifndef LLMSCALE_SIGNALS_WINDOWED_QUANTILES_HPP
#define LLMSCALE_SIGNALS_WINDOWED_QUANTILES_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/detail/bucket_ring.hpp"
#include "llmscale/signals/log_histogram.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Quantiles of a latency over a sliding window, from rotating histograms (see the top of this
/// file).
class WindowedQuantiles {
 public:
  using Layout = LogHistogramLayout;  ///< the histograms' bucket layout

  /// Throws std::invalid_argument unless window > 0 and 1 <= subwindows <= 3600.
  explicit WindowedQuantiles(Duration window, std::size_t subwindows = 6)
      : part_(detail::part_length(window, subwindows, "windowed_quantiles")),
        parts_(subwindows),
        counts_(subwindows * Layout::bucket_count, 0),
        part_groups_(subwindows * Layout::group_count, 0),
        totals_(Layout::bucket_count, 0),
        group_totals_(Layout::group_count, 0) {}

  /// Adds one sample of `value` at `t`. Negative values, and times older than the window, are
  /// dropped and counted.
  bool add(TimePoint t, Duration value) noexcept {
    if (value < Duration::zero()) {
      ++dropped_;
      return false;
    }
    return add_bucket(t, Layout::bucket_of(value), 1);
  }

  /// Adds `count` samples already mapped to `bucket` (as the Recorder's drain delivers them).
  bool add_bucket(TimePoint t, std::size_t bucket, std::uint64_t count) noexcept {
    if (bucket >= Layout::bucket_count) {
      dropped_ += count;
      return false;
    }
    const std::int64_t p = detail::bucket_index(t, part_);
    advance_to(p);
    if (p <= head_ - static_cast<std::int64_t>(parts_)) {
      dropped_ += count;
      return false;
    }
    const std::size_t part = slot(p);
    counts_[part * Layout::bucket_count + bucket] += static_cast<std::uint32_t>(count);
    part_groups_[part * Layout::group_count + bucket / Layout::group_size] += static_cast<std::uint32_t>(count);
    totals_[bucket] += count;
    group_totals_[bucket / Layout::group_size] += count;
    total_ += count;
    return true;
  }

  /// Moves the window's end to `now`, expiring the parts that fall out.
  void advance(TimePoint now) noexcept { advance_to(detail::bucket_index(now, part_)); }

  /// Samples in the window ending at the newest time seen.
  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }

  /// The q-quantile (0 < q <= 1) in seconds of the samples in the window ending at the newest
  /// time seen (call advance(now) first); empty when there are none or q is out of range.
  [[nodiscard]] std::optional<double> quantile(double q) const noexcept {
    if (total_ == 0 || !(q > 0.0 && q <= 1.0)) return std::nullopt;
    std::array<double, 1> out{};
    quantiles(std::array<double, 1>{q}, out);
    return out[0];
  }

  /// Several quantiles at once (each q in (0, 1], ascending), in seconds; 0 when empty.
  template <std::size_t K>
  void quantiles(const std::array<double, K>& qs, std::array<double, K>& out) const noexcept {
    detail::nearest_rank_quantiles(
        total_, qs, group_totals_.data(),
        [this](std::size_t g, std::uint64_t* counts) {
          std::copy_n(&totals_[g * Layout::group_size], Layout::group_size, counts);
        },
        out);
  }

  /// The window's length: subwindows x the part length.
  [[nodiscard]] Duration window() const noexcept { return part_ * static_cast<Duration::rep>(parts_); }
  /// Samples dropped: negative, in no bucket, or older than the window.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

  /// The parts' non-zero bucket counts and the newest part's index on the clock, as text for
  /// load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("windowed_quantiles/1");
    w << static_cast<long long>(parts_) << started_ << head_;
    // sparse: (part offset, bucket, count) triples for non-zero buckets, oldest part first
    for (std::size_t k = 0; k < parts_; ++k) {
      const std::int64_t p = head_ - static_cast<std::int64_t>(parts_) + 1 + static_cast<std::int64_t>(k);
      const std::size_t part = slot(p);
      for (std::size_t b = 0; b < Layout::bucket_count; ++b) {
        const std::uint32_t c = counts_[part * Layout::bucket_count + b];
        if (c != 0) w << static_cast<long long>(k) << static_cast<long long>(b) << static_cast<long long>(c);
      }
    }
    return std::move(w).str();
  }

  /// Restores what save_state wrote (with as many subwindows; allocates); false (nothing
  /// changed) when `state` is not such a state.
  bool load_state(std::string_view state) {
    detail::StateReader r(state, "windowed_quantiles/1");
    long long parts = 0;
    bool started = false;
    std::int64_t head = 0;
    r >> parts >> started >> head;
    if (!r.ok() || parts != static_cast<long long>(parts_)) return false;
    WindowedQuantiles fresh(window(), parts_);
    fresh.started_ = started;
    fresh.head_ = head;
    while (!r.done()) {
      long long k = -1, b = -1, c = -1;
      r >> k >> b >> c;
      if (!r.ok() || k < 0 || k >= parts || b < 0 || b >= static_cast<long long>(Layout::bucket_count) || c <= 0) {
        return false;
      }
      const std::int64_t p = head - parts + 1 + k;
      fresh.add_bucket(TimePoint(part_ * p), static_cast<std::size_t>(b), static_cast<std::uint64_t>(c));
    }
    *this = std::move(fresh);
    return true;
  }

 private:
  [[nodiscard]] std::size_t slot(std::int64_t p) const noexcept { return detail::ring_slot(p, parts_); }

  void expire(std::size_t part) noexcept {
    std::uint32_t* counts = &counts_[part * Layout::bucket_count];
    std::uint32_t* groups = &part_groups_[part * Layout::group_count];
    for (std::size_t g = 0; g < Layout::group_count; ++g) {
      if (groups[g] == 0) continue;
      for (std::size_t b = g * Layout::group_size; b < (g + 1) * Layout::group_size; ++b) {
        totals_[b] -= counts[b];
        counts[b] = 0;
      }
      group_totals_[g] -= groups[g];
      total_ -= groups[g];
      groups[g] = 0;
    }
  }

  void advance_to(std::int64_t p) noexcept {
    if (!started_) {
      started_ = true;
      head_ = p;
      return;
    }
    if (p <= head_) return;
    const auto n = static_cast<std::int64_t>(parts_);
    const std::int64_t from = p - head_ >= n ? p - n + 1 : head_ + 1;
    if (p - head_ >= n) {
      for (std::size_t k = 0; k < parts_; ++k) expire(k);
    } else {
      for (std::int64_t i = from; i <= p; ++i) expire(slot(i));
    }
    head_ = p;
  }

  Duration part_;
  std::size_t parts_;
  std::vector<std::uint32_t> counts_;       // parts x buckets
  std::vector<std::uint32_t> part_groups_;  // parts x groups
  std::vector<std::uint64_t> totals_;       // the window's histogram
  std::vector<std::uint64_t> group_totals_;
  std::uint64_t total_ = 0;
  std::int64_t head_ = 0;
  bool started_ = false;
  std::uint64_t dropped_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_WINDOWED_QUANTILES_HPP
