// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// FleetState: what the fleet is right now, as the host sees it. Replicas are ready (serving),
// draining (finishing their work before they go), or starting (requested, not yet serving).
// Starting replicas are kept with the time they were requested, because a scale-up takes
// minutes (provisioning plus model loading): a policy must count them as capacity arriving at
// a known time, not as zero and not as already there.
#ifndef LLMSCALE_CORE_FLEET_STATE_HPP
#define LLMSCALE_CORE_FLEET_STATE_HPP

#include <array>
#include <cstddef>
#include <cstdint>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Replicas requested together at one time and not yet ready.
struct StartingBatch {
  int count = 0;             ///< replicas in the batch
  TimePoint requested_at{};  ///< when they were requested
};

/// The replicas of one deployment. A value type with fixed storage: copying it or updating it
/// never allocates. Invalid updates (negative counts, totals above `max_replicas`) are ignored
/// and counted in `rejected_updates()`, so a host bug never becomes a scaling decision.
class FleetState {
 public:
  /// Starting batches kept apart; when more are requested, the two closest in time merge at
  /// the later time (capacity is then reported as arriving later than it may: never earlier).
  static constexpr std::size_t max_starting_batches = 32;
  /// The largest replica count any field may hold.
  static constexpr int max_replicas = 1'000'000;

  FleetState() = default;
  /// A fleet with `ready` serving and `draining` leaving replicas, none starting.
  FleetState(int ready, int draining = 0) noexcept {  // NOLINT: implicit from a count is handy
    set_ready(ready);
    set_draining(draining);
  }

  /// Replicas serving traffic.
  [[nodiscard]] int ready() const noexcept { return ready_; }
  /// Replicas finishing their work before they are removed (not capacity for new work).
  [[nodiscard]] int draining() const noexcept { return draining_; }
  /// Replicas requested and not yet ready.
  [[nodiscard]] int starting() const noexcept { return starting_; }
  /// Replicas serving or on their way: what a scale decision is compared with.
  [[nodiscard]] int current() const noexcept { return ready_ + starting_; }

  /// Sets the ready count; false (and counted) when `n` is negative or too large.
  bool set_ready(int n) noexcept {
    if (n < 0 || n > max_replicas - starting_) return reject();
    ready_ = n;
    return true;
  }

  /// Sets the draining count; false (and counted) when `n` is negative or too large.
  bool set_draining(int n) noexcept {
    if (n < 0 || n > max_replicas) return reject();
    draining_ = n;
    return true;
  }

  /// Records `count` replicas requested at `requested_at`. Batches stay ordered by time, so
  /// requests may be recorded out of order. False (and counted) for a count below 1 or a total
  /// above `max_replicas`.
  bool add_starting(int count, TimePoint requested_at) noexcept {
    if (count < 1 || count > max_replicas - ready_ - starting_) return reject();
    std::size_t pos = batch_count_;
    while (pos > 0 && batches_[pos - 1].requested_at > requested_at) --pos;
    if (pos > 0 && batches_[pos - 1].requested_at == requested_at) {
      batches_[pos - 1].count += count;
    } else {
      for (std::size_t i = batch_count_; i > pos; --i) batches_[i] = batches_[i - 1];
      batches_[pos] = StartingBatch{count, requested_at};
      ++batch_count_;
      if (batch_count_ > max_starting_batches) merge_closest_pair();
    }
    starting_ += count;
    return true;
  }

  /// Moves up to `count` starting replicas, oldest request first, to ready; returns how many
  /// moved. Use it when the host sees replicas become ready.
  int mark_ready(int count) noexcept {
    const int moved = take_oldest(count);
    ready_ += moved;
    return moved;
  }

  /// Forgets up to `count` starting replicas, newest request first (a cancelled scale-up or a
  /// failed start); returns how many were removed.
  int cancel_starting(int count) noexcept {
    int left = count < 0 ? 0 : count;
    int removed = 0;
    while (left > 0 && batch_count_ > 0) {
      StartingBatch& newest = batches_[batch_count_ - 1];
      const int n = newest.count < left ? newest.count : left;
      newest.count -= n;
      left -= n;
      removed += n;
      if (newest.count == 0) --batch_count_;
    }
    starting_ -= removed;
    return removed;
  }

  /// The replicas serving at time `t` if every starting replica becomes ready `lead_time`
  /// after its request: ready now plus those requested at or before `t - lead_time`.
  [[nodiscard]] int ready_by(TimePoint t, Duration lead_time) const noexcept {
    int n = ready_;
    for (std::size_t i = 0; i < batch_count_; ++i) {
      if (batches_[i].requested_at + lead_time > t) break;
      n += batches_[i].count;
    }
    return n;
  }

  /// The starting batches, oldest request first.
  [[nodiscard]] const StartingBatch* begin() const noexcept { return batches_.data(); }
  /// One past the newest starting batch.
  [[nodiscard]] const StartingBatch* end() const noexcept { return batches_.data() + batch_count_; }
  /// How many starting batches there are.
  [[nodiscard]] std::size_t starting_batch_count() const noexcept { return batch_count_; }

  /// How many invalid updates were ignored.
  [[nodiscard]] std::uint64_t rejected_updates() const noexcept { return rejected_; }

 private:
  bool reject() noexcept {
    ++rejected_;
    return false;
  }

  int take_oldest(int count) noexcept {
    int left = count < 0 ? 0 : count;
    int taken = 0;
    std::size_t drop = 0;
    while (left > 0 && drop < batch_count_) {
      StartingBatch& oldest = batches_[drop];
      const int n = oldest.count < left ? oldest.count : left;
      oldest.count -= n;
      left -= n;
      taken += n;
      if (oldest.count == 0) ++drop;
    }
    for (std::size_t i = drop; i < batch_count_; ++i) batches_[i - drop] = batches_[i];
    batch_count_ -= drop;
    starting_ -= taken;
    return taken;
  }

  // Merges the two adjacent batches closest in time into the later one.
  void merge_closest_pair() noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < batch_count_; ++i) {
      if (batches_[i + 1].requested_at - batches_[i].requested_at <
          batches_[best + 1].requested_at - batches_[best].requested_at) {
        best = i;
      }
    }
    batches_[best + 1].count += batches_[best].count;
    for (std::size_t i = best; i + 1 < batch_count_; ++i) batches_[i] = batches_[i + 1];
    --batch_count_;
  }

  std::array<StartingBatch, max_starting_batches + 1> batches_{};  // +1: room before a merge
  std::size_t batch_count_ = 0;
  int ready_ = 0;
  int draining_ = 0;
  int starting_ = 0;
  std::uint64_t rejected_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_FLEET_STATE_HPP
