// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Ewma: an exponentially weighted moving average with a half-life, correct for irregular
// sample intervals: a sample `dt` after the previous one gets weight 1 - 2^(-dt / half_life),
// so the weight of old data halves every half-life whatever the sampling rate.
#ifndef LLMSCALE_SIGNALS_EWMA_HPP
#define LLMSCALE_SIGNALS_EWMA_HPP

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// An exponentially weighted moving average with a half-life, for irregular sample intervals
/// (see the top of this file).
class Ewma {
 public:
  /// Throws std::invalid_argument unless half_life > 0.
  explicit Ewma(Duration half_life) : half_life_s_(to_seconds(half_life)) {
    if (!(half_life_s_ > 0)) {
      throw std::invalid_argument("ewma.half_life_s = " + std::to_string(half_life_s_) +
                                  " is out of range; allowed: (0, inf)");
    }
  }

  /// Adds sample `x` taken at `now`. NaN or infinite samples and a `now` earlier than the last
  /// sample's are ignored and counted; returns whether the sample was used.
  bool update(TimePoint now, double x) noexcept {
    if (!std::isfinite(x)) {
      ++invalid_;
      return false;
    }
    if (!guard_.accept(now)) return false;
    if (!has_value_) {
      value_ = x;
      has_value_ = true;
    } else {
      const double dt = to_seconds(now - last_);
      const double alpha = 1.0 - std::exp2(-dt / half_life_s_);
      value_ += alpha * (x - value_);
    }
    last_ = now;
    return true;
  }

  /// The average (0 before the first sample).
  [[nodiscard]] double value() const noexcept { return value_; }
  /// Whether a sample has been taken yet.
  [[nodiscard]] bool has_value() const noexcept { return has_value_; }
  /// When the last sample was taken.
  [[nodiscard]] TimePoint last_update() const noexcept { return last_; }
  /// Samples ignored as NaN/infinite, plus updates whose time went backwards.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return invalid_ + guard_.rejected(); }

  /// The average and the last sample's time, as text for load_state.
  [[nodiscard]] std::string save_state() const {
    detail::StateWriter w("ewma/1");
    w << has_value_ << value_ << last_.time_since_epoch().count();
    return std::move(w).str();
  }
  /// Restores a saved state; false (and unchanged) if `state` is not one.
  bool load_state(std::string_view state) noexcept {
    bool has = false;
    double v = 0;
    Duration::rep t = 0;
    detail::StateReader r(state, "ewma/1");
    r >> has >> v >> t;
    if (!r.done() || !std::isfinite(v)) return false;
    has_value_ = has;
    value_ = v;
    last_ = TimePoint(Duration(t));
    guard_ = MonotonicGuard();
    if (has) guard_.accept(last_);
    return true;
  }

 private:
  double half_life_s_;
  double value_ = 0;
  TimePoint last_{};
  bool has_value_ = false;
  std::uint64_t invalid_ = 0;
  MonotonicGuard guard_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_EWMA_HPP
