// Forecasters on synthetic series with known answers: a daily season with noise and a trend
// (against the seasonal-naive forecast), an AR(2) process (its coefficients), save and load,
// and no allocation per update (EIGEN_RUNTIME_NO_MALLOC and a counting allocator).
// Eigen's malloc check is an eigen_assert, which NDEBUG builds drop: this one stays.
#include <cstdio>
#include <cstdlib>
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x)                                            \
  do {                                                             \
    if (!static_cast<bool>(x)) {                                   \
      std::fprintf(stderr, "Eigen assertion failed: %s\n", #x);    \
      std::abort();                                                \
    }                                                              \
  } while (false)
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "support/counting_allocator.hpp"

#include "llmscale/forecast/forecasters.hpp"

using llmscale::Forecast;

namespace {
constexpr double pi = 3.14159265358979323846;

// 100 + 0.005 t + 40 sin(2 pi t / 1440) + N(0, 4^2): minutes over `days` days.
std::vector<double> daily_series(int days, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 4);
  std::vector<double> x(static_cast<std::size_t>(days * 1440));
  for (std::size_t t = 0; t < x.size(); ++t) {
    x[t] = 100 + 0.005 * static_cast<double>(t) + 40 * std::sin(2 * pi * static_cast<double>(t) / 1440) + noise(rng);
  }
  return x;
}

// Mean absolute error of `f`'s h-step forecasts over the last day, fed the whole series.
template <class F>
double mae_last_day(F f, const std::vector<double>& x, int h, double& naive) {
  const std::size_t start = x.size() - 1440;
  std::vector<double> made(x.size() + static_cast<std::size_t>(h), 0.0);
  double err = 0, naive_err = 0;
  int n = 0;
  for (std::size_t t = 0; t < x.size(); ++t) {
    if (t >= start) {
      err += std::fabs(made[t] - x[t]);
      naive_err += std::fabs(x[t - 1440] - x[t]);  // same time yesterday
      ++n;
    }
    f.update(x[t]);
    made[t + static_cast<std::size_t>(h)] = f.forecast(h).mean;
  }
  naive = naive_err / n;
  return err / n;
}
}  // namespace

TEST_CASE("on a daily-seasonal series with a trend, 20 min ahead beats same-time-yesterday by 20 %") {
  const std::vector<double> x = daily_series(6, 42);
  double naive = 0;
  const double hw = mae_last_day(llmscale::HoltWinters{}, x, 20, naive);
  const double kalman = mae_last_day(llmscale::KalmanTrend{}, x, 20, naive);
  const double ar = mae_last_day(llmscale::Autoregressive{}, x, 20, naive);
  MESSAGE("MAE at 20 min: seasonal naive " << naive << ", Holt-Winters " << hw << ", Kalman trend " << kalman
                                           << ", AR(4) " << ar);
  // seasonal naive: |N(7.2, 5.66^2)| (the trend over a day plus two noises): about 8
  CHECK(naive == doctest::Approx(8.2).epsilon(0.15));
  CHECK(hw <= 0.8 * naive);
  CHECK(kalman <= 0.8 * naive);
  CHECK(ar <= 0.8 * naive);
}

TEST_CASE("the upper bound covers about its quantile of outcomes") {
  const std::vector<double> x = daily_series(6, 7);
  llmscale::HoltWinters f;
  std::vector<double> upper(x.size() + 20, 0.0);
  int covered = 0, n = 0;
  for (std::size_t t = 0; t < x.size(); ++t) {
    if (t >= x.size() - 1440) {
      covered += x[t] <= upper[t];
      ++n;
    }
    f.update(x[t]);
    upper[t + 20] = f.forecast(20, 0.9).upper;
  }
  const double share = static_cast<double>(covered) / n;
  CHECK(share >= 0.85);  // sqrt(h) growth is conservative for a model with little error growth
}

TEST_CASE("AR recovers known coefficients within 5 %") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> e(0, 1);
  llmscale::AutoregressiveConfig c;
  c.order = 2;
  c.window = 20000;
  c.refit_every = 100;
  llmscale::Autoregressive ar(c);
  double x1 = 0, x2 = 0;
  for (int t = 0; t < 20000; ++t) {
    const double x = 5 + 0.6 * x1 - 0.3 * x2 + e(rng);
    ar.update(x);
    x2 = x1;
    x1 = x;
  }
  REQUIRE(ar.fitted());
  CHECK(ar.coefficients()(0) == doctest::Approx(5).epsilon(0.05));
  CHECK(ar.coefficients()(1) == doctest::Approx(0.6).epsilon(0.05));
  CHECK(ar.coefficients()(2) == doctest::Approx(-0.3).epsilon(0.05));
  // the long-run forecast tends to the process mean 5 / (1 - 0.6 + 0.3)
  CHECK(ar.forecast(500).mean == doctest::Approx(5 / 0.7).epsilon(0.03));
}

TEST_CASE("Kalman trend follows a ramp - Holt-Winters learns a season") {
  llmscale::KalmanTrend k;
  for (int t = 0; t < 500; ++t) k.update(10 + 0.5 * t);
  CHECK(k.slope() == doctest::Approx(0.5).epsilon(0.01));
  CHECK(k.forecast(20).mean == doctest::Approx(10 + 0.5 * 519).epsilon(0.01));
  llmscale::HoltWintersConfig hc;
  hc.season_buckets = 4;
  llmscale::HoltWinters hw(hc);
  for (int t = 0; t < 400; ++t) hw.update((t % 4 == 0) ? 10.0 : 2.0);
  // 400 values seen (t = 0..399): h = 1 is t = 400, 0 mod 4
  CHECK(hw.forecast(1).mean == doctest::Approx(10.0).epsilon(0.02));
  CHECK(hw.forecast(2).mean == doctest::Approx(2.0).epsilon(0.02));
  CHECK(hw.forecast(4).mean == doctest::Approx(2.0).epsilon(0.02));
  CHECK(hw.forecast(5).mean == doctest::Approx(10.0).epsilon(0.02));
}

TEST_CASE("forecasters save and load - bad states change nothing") {
  const std::vector<double> x = daily_series(2, 9);
  llmscale::HoltWinters hw;
  llmscale::KalmanTrend k;
  llmscale::Autoregressive ar;
  for (double v : x) {
    hw.update(v);
    k.update(v);
    ar.update(v);
  }
  llmscale::HoltWinters hw2;
  llmscale::KalmanTrend k2;
  llmscale::Autoregressive ar2;
  REQUIRE(hw2.load_state(hw.save_state()));
  REQUIRE(k2.load_state(k.save_state()));
  REQUIRE(ar2.load_state(ar.save_state()));
  for (int h : {1, 20, 600}) {
    CHECK(hw2.forecast(h).mean == hw.forecast(h).mean);
    CHECK(k2.forecast(h).upper == k.forecast(h).upper);
    CHECK(ar2.forecast(h).mean == ar.forecast(h).mean);
  }
  CHECK_FALSE(hw2.load_state("holt_winters/1 3 1"));
  CHECK_FALSE(k2.load_state("garbage"));
  CHECK(k2.forecast(20).upper == k.forecast(20).upper);
}

TEST_CASE("updates and forecasts allocate nothing") {
  const std::vector<double> x = daily_series(2, 11);
  llmscale::HoltWinters hw;
  llmscale::KalmanTrend k;
  llmscale::Autoregressive ar;
  const llmscale_test::AllocationCounter counter;
  Eigen::internal::set_is_malloc_allowed(false);
  double sink = 0;
  for (double v : x) {
    hw.update(v);
    k.update(v);
    ar.update(v);
    sink += hw.forecast(20).upper + k.forecast(20).upper + ar.forecast(20).upper;
  }
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(counter.count() == 0);
  CHECK(std::isfinite(sink));
}

TEST_CASE("Bucketer: bucket means and gaps") {
  llmscale::Bucketer b(std::chrono::seconds(60));
  CHECK_FALSE(b.add(llmscale::at_seconds(0), 1));
  CHECK_FALSE(b.add(llmscale::at_seconds(30), 3));
  CHECK(b.add(llmscale::at_seconds(60), 10));
  CHECK(b.closed() == 2);
  CHECK(b.gap() == 0);
  CHECK(b.add(llmscale::at_seconds(250), 5));  // buckets 2 and 3... 250 s is bucket 4
  CHECK(b.closed() == 10);
  CHECK(b.gap() == 2);
  CHECK(llmscale::detail::normal_quantile(0.975) == doctest::Approx(1.959964).epsilon(1e-6));
  CHECK(llmscale::detail::normal_quantile(0.01) == doctest::Approx(-2.326348).epsilon(1e-6));
}

TEST_CASE("a fresh autoregressive forecaster copies and moves cleanly (no uninitialised state)") {
  // UBSan flagged Eigen's LDLT status read uninitialised when a never-fitted forecaster was
  // copied (the asan preset runs this with -fsanitize=undefined)
  const llmscale::Autoregressive fresh;
  llmscale::Autoregressive copy = fresh;
  llmscale::Autoregressive moved = std::move(copy);
  CHECK_FALSE(moved.fitted());
  CHECK(moved.forecast(3).mean == 0.0);
}
