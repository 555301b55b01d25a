// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// StreamingStats: whole-run statistics of a stream in constant memory: count, mean, variance,
// min, max and quantile estimates by the extended P-square algorithm (Jain and Chlamtac 1985,
// extended to several quantiles), on Boost.Accumulators behind llmscale's own interface.
// P-square keeps a few markers per quantile and adjusts them by parabolic interpolation, so it
// is approximate (typically within a few percent on smooth distributions, with no guaranteed
// bound); use WindowedQuantiles where a bound matters. Unlike the windowed estimators it has
// no save/load: it summarises one run.
#ifndef LLMSCALE_SIGNALS_STREAMING_STATS_HPP
#define LLMSCALE_SIGNALS_STREAMING_STATS_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/count.hpp>
#include <boost/accumulators/statistics/extended_p_square.hpp>
#include <boost/accumulators/statistics/max.hpp>
#include <boost/accumulators/statistics/mean.hpp>
#include <boost/accumulators/statistics/min.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#include <boost/accumulators/statistics/variance.hpp>

#include "llmscale/core/abi.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Whole-run count, mean, variance, extremes and approximate quantiles of a stream in constant
/// memory (see the top of this file).
class StreamingStats {
 public:
  /// Tracks the given quantiles (1 to 16, each in (0, 1)); throws std::invalid_argument
  /// otherwise.
  explicit StreamingStats(std::initializer_list<double> probabilities = {0.5, 0.9, 0.99})
      : probabilities_(checked(probabilities)),
        acc_(boost::accumulators::tag::extended_p_square::probabilities = probabilities_) {}

  /// Adds a sample; NaN and infinities are dropped and counted.
  bool add(double x) noexcept {
    if (!std::isfinite(x)) {
      ++dropped_;
      return false;
    }
    acc_(x);
    return true;
  }

  /// Samples added (the dropped ones not included).
  [[nodiscard]] std::uint64_t count() const noexcept {
    return static_cast<std::uint64_t>(boost::accumulators::count(acc_));
  }
  /// The mean (0 before any sample).
  [[nodiscard]] double mean() const noexcept { return count() ? boost::accumulators::mean(acc_) : 0.0; }
  /// The population variance (divides by n).
  [[nodiscard]] double variance() const noexcept { return count() ? boost::accumulators::variance(acc_) : 0.0; }
  /// The smallest sample (0 before any).
  [[nodiscard]] double min() const noexcept { return count() ? boost::accumulators::min(acc_) : 0.0; }
  /// The largest sample (0 before any).
  [[nodiscard]] double max() const noexcept { return count() ? boost::accumulators::max(acc_) : 0.0; }
  /// The estimate of the i-th quantile given at construction; empty before any sample.
  [[nodiscard]] std::optional<double> quantile(std::size_t i) const noexcept {
    if (count() == 0 || i >= probabilities_.size()) return std::nullopt;
    return boost::accumulators::extended_p_square(acc_)[i];
  }
  /// The quantiles tracked, in the order given at construction.
  [[nodiscard]] const std::vector<double>& probabilities() const noexcept { return probabilities_; }
  /// Samples dropped as NaN or infinite.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  static std::vector<double> checked(std::initializer_list<double> p) {
    if (p.size() == 0 || p.size() > 16) throw std::invalid_argument("streaming_stats: give 1 to 16 probabilities");
    for (double q : p) {
      if (!(q > 0.0 && q < 1.0)) {
        throw std::invalid_argument("streaming_stats.probability = " + std::to_string(q) +
                                    " is out of range; allowed: (0, 1)");
      }
    }
    return std::vector<double>(p);
  }

  using Features = boost::accumulators::stats<boost::accumulators::tag::count, boost::accumulators::tag::mean,
                                              boost::accumulators::tag::variance, boost::accumulators::tag::min,
                                              boost::accumulators::tag::max,
                                              boost::accumulators::tag::extended_p_square>;
  std::vector<double> probabilities_;
  boost::accumulators::accumulator_set<double, Features> acc_;
  std::uint64_t dropped_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_STREAMING_STATS_HPP
