// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// fit_latency_profile: a LatencyProfile fitted to the measured trials of one model, hardware and
// tensor parallelism (a Splitwise table's rows, read by model/profile_io.hpp). The model itself
// (model/latency_profile.hpp) needs no Eigen; only this fit does.
#ifndef LLMSCALE_MODEL_PROFILE_FIT_HPP
#define LLMSCALE_MODEL_PROFILE_FIT_HPP

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/latency_profile.hpp"

LLMSCALE_NAMESPACE_BEGIN

namespace detail {

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Weighted least squares y ~ X theta with weights 1/y (relative error); returns theta.
inline Eigen::Vector3d relative_fit(const Eigen::Matrix<double, Eigen::Dynamic, 3>& x, const Eigen::VectorXd& y) {
  const Eigen::VectorXd w = y.cwiseInverse();
  const Eigen::Matrix<double, Eigen::Dynamic, 3> xw = w.asDiagonal() * x;
  // columns scaled to unit size first: P^2 reaches 10^9 while the intercept column is 1
  Eigen::Vector3d scale;
  for (int j = 0; j < 3; ++j) scale[j] = std::max(xw.col(j).cwiseAbs().maxCoeff(), 1e-300);
  const Eigen::Matrix<double, Eigen::Dynamic, 3> xs = xw * scale.cwiseInverse().asDiagonal();
  const Eigen::Vector3d theta = xs.colPivHouseholderQr().solve(Eigen::VectorXd::Ones(y.size()));
  return theta.cwiseQuotient(scale);
}

}  // namespace detail

/// Fits measured trials of one model, hardware and tensor parallelism (a Splitwise table's
/// rows; read by model/profile_io.hpp): prefill piecewise linear through the medians by total
/// prompt tokens, decode DistServe's form by relative least squares (see the header comment).
/// `selection` names what was measured, for errors ("model 'x', hardware 'y', ..."). Throws
/// ProfileError (line 0) when fewer than 4 distinct points or 2 prefill sizes remain, or the
/// fit gives a time that is not positive.

inline LatencyProfile fit_latency_profile(const std::vector<ProfileTrial>& measured, const std::string& selection,
                                          std::string source) {
  std::map<std::tuple<long long, long long, long long>, std::pair<std::vector<double>, std::vector<double>>> trials;
  for (const ProfileTrial& m : measured) {
    auto& t = trials[{m.prompt_tokens, m.batch, m.output_tokens}];
    t.first.push_back(m.prefill_ms);
    t.second.push_back(m.decode_ms);
  }
  if (trials.size() < 4) throw ProfileError("fewer than 4 measured points for " + selection, 0);
  ProfileFit fit;
  ProfileRange range;
  for (const auto& [key, t] : trials) {
    ProfileFit::Point p;
    std::tie(p.prompt_tokens, p.batch, p.output_tokens) = key;
    p.trials = static_cast<int>(t.first.size());
    p.prefill_ms = detail::median_of(t.first);
    p.decode_ms = detail::median_of(t.second);
    fit.points.push_back(p);
    range.max_batch = std::max(range.max_batch, p.batch);
    range.max_prompt_tokens = std::max(range.max_prompt_tokens, static_cast<double>(p.prompt_tokens));
    range.max_batch_prompt_tokens =
        std::max(range.max_batch_prompt_tokens, static_cast<double>(p.batch * p.prompt_tokens));
    range.max_context_tokens = std::max(
        range.max_context_tokens, static_cast<double>(p.batch) * (static_cast<double>(p.prompt_tokens) + p.output_tokens));
  }
  // A point whose prefill is below that of a point with fewer batch tokens at the same prompt
  // (or fewer prompt tokens at the same batch) is an anomaly: left out of the prefill fit.
  for (auto& p : fit.points) {
    for (const auto& q : fit.points) {
      const bool same_prompt_fewer = q.prompt_tokens == p.prompt_tokens && q.batch < p.batch;
      const bool same_batch_fewer = q.batch == p.batch && q.prompt_tokens < p.prompt_tokens;
      if ((same_prompt_fewer || same_batch_fewer) && q.prefill_ms > p.prefill_ms * 1.05) p.prefill_excluded = true;
    }
    fit.excluded += p.prefill_excluded;
  }
  // prefill: the medians of each (prompt, batch) over every output length, then by total P
  std::map<std::pair<long long, long long>, std::vector<double>> prefill_trials;
  for (const auto& [key, t] : trials) {
    const auto& [prompt, batch, tokens] = key;
    (void)tokens;
    auto& v = prefill_trials[{prompt, batch}];
    v.insert(v.end(), t.first.begin(), t.first.end());
  }
  std::map<double, std::vector<double>> by_total;
  for (const auto& p : fit.points) {
    if (p.prefill_excluded) continue;
    const double median = detail::median_of(prefill_trials[{p.prompt_tokens, p.batch}]);
    auto& v = by_total[static_cast<double>(p.prompt_tokens * p.batch)];
    if (std::find(v.begin(), v.end(), median) == v.end()) v.push_back(median);
  }
  if (by_total.size() < 2) throw ProfileError("fewer than 2 batch sizes left for the prefill", 0);
  std::vector<std::pair<double, double>> knots;
  for (const auto& [total, medians] : by_total) {
    double sum = 0;
    for (double m : medians) sum += m;
    knots.emplace_back(total, sum / static_cast<double>(medians.size()));
  }
  const auto n_decode = static_cast<Eigen::Index>(fit.points.size());
  Eigen::Matrix<double, Eigen::Dynamic, 3> xd(n_decode, 3);
  Eigen::VectorXd yd(n_decode);
  Eigen::Index j = 0;
  for (const auto& p : fit.points) {
    // mean context of a decode step: the prompt plus half the output so far
    const double context = static_cast<double>(p.batch) * (static_cast<double>(p.prompt_tokens) + 0.5 * p.output_tokens);
    xd.row(j) << 1.0, context, static_cast<double>(p.batch);
    yd(j++) = p.decode_ms;
  }
  const Eigen::Vector3d td = detail::relative_fit(xd, yd);
  LatencyProfile out;
  try {
    out = LatencyProfile::make(PrefillCoefficients{}, DecodeCoefficients{td[0], td[1], td[2]}, DecodeCoefficients{td[0], td[1], td[2]},
               std::numeric_limits<long long>::max(), range, std::move(source));
    out.knots_ = std::move(knots);
    out.check_times(false);
  } catch (const std::invalid_argument& e) {
    throw ProfileError("the fit of " + selection + ": " + e.what(), 0);
  }
  double sum_p = 0, sum_d = 0;
  int n_prefill = 0;
  for (const auto& p : fit.points) {
    const double ctx = static_cast<double>(p.prompt_tokens) + 0.5 * p.output_tokens;
    const double ep = out.prefill_s(static_cast<double>(p.batch), static_cast<double>(p.prompt_tokens)) * 1e3 - p.prefill_ms;
    const double ed = out.decode_step_s(static_cast<double>(p.batch), ctx) * 1e3 - p.decode_ms;
    if (!p.prefill_excluded) {
      fit.prefill_max_abs_ms = std::max(fit.prefill_max_abs_ms, std::fabs(ep));
      fit.prefill_max_rel = std::max(fit.prefill_max_rel, std::fabs(ep) / p.prefill_ms);
      sum_p += (ep / p.prefill_ms) * (ep / p.prefill_ms);
      ++n_prefill;
    }
    fit.decode_max_abs_ms = std::max(fit.decode_max_abs_ms, std::fabs(ed));
    fit.decode_max_rel = std::max(fit.decode_max_rel, std::fabs(ed) / p.decode_ms);
    sum_d += (ed / p.decode_ms) * (ed / p.decode_ms);
  }
  fit.prefill_rms_rel = std::sqrt(sum_p / n_prefill);
  fit.decode_rms_rel = std::sqrt(sum_d / static_cast<double>(n_decode));
  out.fit_ = std::move(fit);
  return out;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_PROFILE_FIT_HPP
