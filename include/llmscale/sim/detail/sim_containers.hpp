// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The simulator's bookkeeping containers: nearest-rank quantiles, a min-heap of replicas by their
// next event time, time-weighted quantiles of a fraction. Internal to simulate().
#ifndef LLMSCALE_SIM_DETAIL_SIM_CONTAINERS_HPP
#define LLMSCALE_SIM_DETAIL_SIM_CONTAINERS_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "llmscale/core/abi.hpp"

LLMSCALE_NAMESPACE_BEGIN

namespace detail {

// The q-quantile (nearest rank) of `v` (reordered); 0 when empty.
inline double nearest_rank(std::vector<float>& v, double q) {
  if (v.empty()) return 0.0;
  auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  k = std::clamp<std::size_t>(k, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// A min-heap of replicas by their next event time, one entry per replica (set() moves it).
class ReplicaEventHeap {
 public:
  void set(std::size_t r, double t) {
    if (r >= pos_.size()) pos_.resize(r + 1, -1);
    if (!(t < std::numeric_limits<double>::infinity())) {
      erase(r);
      return;
    }
    if (pos_[r] < 0) {
      pos_[r] = static_cast<std::ptrdiff_t>(heap_.size());
      heap_.push_back(Entry{t, r});
      up(heap_.size() - 1);
      return;
    }
    const auto i = static_cast<std::size_t>(pos_[r]);
    const double old = heap_[i].t;
    if (t == old) return;
    heap_[i].t = t;
    if (t < old) {
      up(i);
    } else {
      down(i);
    }
  }
  [[nodiscard]] std::size_t top() const noexcept { return heap_.front().r; }
  [[nodiscard]] double top_time() const noexcept {
    return heap_.empty() ? std::numeric_limits<double>::infinity() : heap_.front().t;
  }

 private:
  struct Entry {
    double t;
    std::size_t r;
  };
  void erase(std::size_t r) {
    if (pos_[r] < 0) return;
    const auto i = static_cast<std::size_t>(pos_[r]);
    pos_[r] = -1;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    heap_[i] = last;
    pos_[last.r] = static_cast<std::ptrdiff_t>(i);
    up(i);
    down(static_cast<std::size_t>(pos_[last.r]));
  }
  // ties by replica index, so the order of events never depends on the heap's history
  static bool before(const Entry& a, const Entry& b) noexcept { return a.t < b.t || (a.t == b.t && a.r < b.r); }
  void up(std::size_t i) noexcept {
    const Entry e = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      pos_[heap_[i].r] = static_cast<std::ptrdiff_t>(i);
      i = parent;
    }
    heap_[i] = e;
    pos_[e.r] = static_cast<std::ptrdiff_t>(i);
  }
  void down(std::size_t i) noexcept {
    const Entry e = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], e)) break;
      heap_[i] = heap_[child];
      pos_[heap_[i].r] = static_cast<std::ptrdiff_t>(i);
      i = child;
    }
    heap_[i] = e;
    pos_[e.r] = static_cast<std::ptrdiff_t>(i);
  }
  std::vector<Entry> heap_;
  std::vector<std::ptrdiff_t> pos_;
};

// Time-weighted quantiles of a fraction in [0, 1], in 1/1000 steps (a bin's upper edge).
class FractionHistogram {
 public:
  void add(double fraction, double weight) noexcept {
    if (!(weight > 0) || !std::isfinite(fraction)) return;
    const double f = std::clamp(fraction, 0.0, 1.0);
    bins_[static_cast<std::size_t>(std::min(f * bins, bins - 1.0))] += weight;
    total_ += weight;
  }
  [[nodiscard]] double quantile(double q) const noexcept {
    if (!(total_ > 0)) return 0.0;
    double seen = 0;
    for (std::size_t i = 0; i < bins_.size(); ++i) {
      seen += bins_[i];
      if (seen >= q * total_) return static_cast<double>(i + 1) / bins;
    }
    return 1.0;
  }

 private:
  static constexpr double bins = 1000;
  std::array<double, 1000> bins_{};
  double total_ = 0;
};

}  // namespace detail

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_DETAIL_SIM_CONTAINERS_HPP
