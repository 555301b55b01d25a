// Little's law and queueing sizing against hand values, closed forms and a second, naive
// implementation in long double.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "llmscale/model/littles_law.hpp"
#include "llmscale/model/queueing.hpp"

using llmscale::erlang_c;
using llmscale::QueueLoad;
using llmscale::QueueModel;

namespace {
// Erlang C straight from its definition, in long double and log space: the terms a^k / k!.
long double naive_erlang_c(long long c, long double a) {
  long double m = -1e300L;
  std::vector<long double> logs;
  for (long long k = 0; k < c; ++k) logs.push_back(k * std::log(a) - std::lgamma(static_cast<long double>(k + 1)));
  const long double last = c * std::log(a) - std::lgamma(static_cast<long double>(c + 1)) + std::log(c / (c - a));
  for (long double x : logs) m = std::max(m, x);
  m = std::max(m, last);
  long double s = 0;
  for (long double x : logs) s += std::exp(x - m);
  return std::exp(last - m) / (s + std::exp(last - m));
}
}  // namespace

TEST_CASE("Little's law in every direction") {
  CHECK(llmscale::concurrency_for(20, 1.5) == doctest::Approx(30));
  CHECK(llmscale::rate_for(30, 1.5) == doctest::Approx(20));
  CHECK(llmscale::latency_for(30, 20) == doctest::Approx(1.5));
  CHECK(llmscale::replicas_for(20, 1.5, 8) == 4);    // 30 / 8 = 3.75
  CHECK(llmscale::replicas_for(20, 1.6, 8) == 4);    // exactly 4
  CHECK(llmscale::replicas_for(20.0000001, 1.6, 8) == 5);
  CHECK(llmscale::replicas_for(0, 1.5, 8) == 0);
  CHECK_THROWS_WITH_AS((void)llmscale::rate_for(3, 0), doctest::Contains("rate_for: latency_s = 0"),
                       std::invalid_argument);
  CHECK_THROWS_AS((void)llmscale::concurrency_for(std::nan(""), 1), std::invalid_argument);
  CHECK_THROWS_AS((void)llmscale::replicas_for(1, 1, -2), std::invalid_argument);
}

TEST_CASE("Erlang C: hand values and the naive sum on small cases") {
  CHECK(erlang_c(2, 1.0) == doctest::Approx(1.0 / 3));  // (1/2 * 2) / (1 + 1 + 1)
  CHECK(erlang_c(3, 2.0) == doctest::Approx(4.0 / 9));  // 4 / (1 + 2 + 2 + 4)
  CHECK(erlang_c(5, 5.0) == 1.0);                       // c <= a: every arrival waits
  CHECK(erlang_c(4, 0.0) == 0.0);
  for (long long c = 1; c <= 40; ++c) {
    for (double u : {0.05, 0.3, 0.7, 0.9, 0.99, 0.999999}) {
      const double a = u * static_cast<double>(c);
      CAPTURE(c);
      CAPTURE(a);
      CHECK(erlang_c(c, a) == doctest::Approx(static_cast<double>(naive_erlang_c(c, a))).epsilon(1e-10));
    }
  }
}

TEST_CASE("Erlang C for large c and loads near c") {
  for (long long c : {1000LL, 5000LL, 10000LL}) {
    for (double gap : {1e-6, 0.5, 30.0, 200.0}) {
      const double a = static_cast<double>(c) - gap;
      CAPTURE(c);
      CAPTURE(a);
      const double got = erlang_c(c, a);
      CHECK(std::isfinite(got));
      CHECK(got == doctest::Approx(static_cast<double>(naive_erlang_c(c, a))).epsilon(1e-9));
    }
  }
}

TEST_CASE("M/M/1 closed forms: P(wait) = rho, P(W > t) = rho e^-(mu - lambda)t, Wq = rho / (mu - lambda)") {
  const QueueLoad load{6.0, 0.125, 1.0, QueueModel::mmc};  // mu = 8, rho = 0.75
  const auto m = llmscale::queue_metrics(load, 1, 0.95);
  CHECK(m.wait_probability == doctest::Approx(0.75));
  CHECK(m.mean_wait_s == doctest::Approx(0.75 / 2.0));
  CHECK(m.mean_in_system == doctest::Approx(0.75 / 0.25));  // rho / (1 - rho)
  // P(W > t) = 0.05 at t = ln(0.75 / 0.05) / 2
  CHECK(m.wait_quantile_s == doctest::Approx(std::log(15.0) / 2.0));
  CHECK(llmscale::min_servers(load, std::log(15.0) / 2.0 + 1e-9, 0.95) == 1);
  CHECK(llmscale::min_servers(load, std::log(15.0) / 2.0 - 1e-3, 0.95) == 2);
}

TEST_CASE("min_servers is minimal: c meets the target, c - 1 does not (thousands of random loads)") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> log_rate(-2, 3.5), log_s(-3, 1), u(0, 1);
  for (int i = 0; i < 3000; ++i) {
    QueueLoad load{std::pow(10.0, log_rate(rng)), std::pow(10.0, log_s(rng)), 2.0 * u(rng),
                   i % 2 == 0 ? QueueModel::mmc : QueueModel::mgc};
    const double t = load.service_time_s * 2.0 * u(rng);
    const double q = 0.5 + 0.4999 * u(rng);
    const long long c = llmscale::min_servers(load, t, q);
    CAPTURE(load.arrival_rate);
    CAPTURE(load.service_time_s);
    CAPTURE(t);
    CAPTURE(q);
    CAPTURE(c);
    const double a = load.offered_load();
    REQUIRE(static_cast<double>(c) > a);
    const double stretch = load.model == QueueModel::mmc ? 1.0 : 0.5 * (1 + load.service_cv * load.service_cv);
    const auto tail = [&](long long k) {
      const double ck = static_cast<double>(naive_erlang_c(k, a));
      return ck * std::exp(-(static_cast<double>(k) - a) * t / (load.service_time_s * stretch));
    };
    CHECK(tail(c) <= (1 - q) * (1 + 1e-9));
    if (static_cast<double>(c - 1) > a) CHECK(tail(c - 1) > (1 - q) * (1 - 1e-9));
  }
}

TEST_CASE("M/G/c: cv = 1 is M/M/c, deterministic service halves the mean wait") {
  const QueueLoad mm{40, 0.2, 1.0, QueueModel::mmc};
  QueueLoad mg = mm;
  mg.model = QueueModel::mgc;
  CHECK(llmscale::queue_metrics(mg, 10, 0.9).mean_wait_s == doctest::Approx(llmscale::queue_metrics(mm, 10, 0.9).mean_wait_s));
  mg.service_cv = 0;
  CHECK(llmscale::queue_metrics(mg, 10, 0.9).mean_wait_s ==
        doctest::Approx(0.5 * llmscale::queue_metrics(mm, 10, 0.9).mean_wait_s));
  const auto unstable = llmscale::queue_metrics(mm, 8, 0.9);  // a = 8
  CHECK_FALSE(unstable.stable);
  CHECK(std::isinf(unstable.mean_wait_s));
}

TEST_CASE("queueing: bad arguments name themselves") {
  CHECK_THROWS_WITH_AS((void)llmscale::min_servers(QueueLoad{-1, 1, 1, QueueModel::mmc}, 1, 0.9),
                       doctest::Contains("arrival_rate = -1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS((void)llmscale::min_servers(QueueLoad{1, 1, 1, QueueModel::mmc}, 1, 1.0),
                       doctest::Contains("quantile = 1"), std::invalid_argument);
  CHECK_THROWS_AS((void)erlang_c(0, 1), std::invalid_argument);
  CHECK_THROWS_AS((void)erlang_c(10, 2e7), std::invalid_argument);
}
