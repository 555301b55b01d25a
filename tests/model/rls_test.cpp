// Recursive least squares: recovers known coefficients from noisy samples, rejects outliers
// and follows a step change.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "llmscale/model/rls.hpp"

TEST_CASE("RLS recovers an iteration-time model within 2 % from noisy samples, outliers rejected") {
  // iteration_s = 0.012 + 0.0004 batch + 2e-7 context + 3e-5 prefill tokens, noise 1 ms
  const double truth[4] = {0.012, 0.0004, 2e-7, 3e-5};
  llmscale::OnlineIterationModel m;
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> batch(1, 64), prefill(0, 2048);
  std::uniform_real_distribution<double> ctx(200, 3000), u(0, 1);
  std::normal_distribution<double> noise(0, 0.001);
  int outliers = 0;
  for (int i = 0; i < 20000; ++i) {
    const double b = batch(rng), c = b * ctx(rng), p = prefill(rng);
    double y = truth[0] + truth[1] * b + truth[2] * c + truth[3] * p + noise(rng);
    if (i > 100 && u(rng) < 0.01) {
      y += 0.5;  // a stall: garbage collection, a preemption
      ++outliers;
    }
    m.observe(b, c, p, y);
  }
  const auto& theta = m.coefficients();
  for (int k = 0; k < 4; ++k) {
    CAPTURE(k);
    CHECK(theta[k] == doctest::Approx(truth[k]).epsilon(0.02));
  }
  CHECK(m.rls().rejected() >= static_cast<std::uint64_t>(outliers * 0.9));
  CHECK(m.iteration_s(32, 32 * 1000, 512) == doctest::Approx(0.012 + 0.0128 + 0.0064 + 0.01536).epsilon(0.01));
  CHECK_FALSE(m.observe(-1, 0, 0, 0.1));
  CHECK_FALSE(m.observe(1, 0, 0, std::nan("")));
}

TEST_CASE("RLS follows a step change in the coefficients") {
  llmscale::OnlineIterationModel m;
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int> batch(1, 64);
  std::uniform_real_distribution<double> ctx(200, 3000);
  std::normal_distribution<double> noise(0, 0.0005);
  const auto run = [&](double a, double b, double c, int n) {
    for (int i = 0; i < n; ++i) {
      const double bb = batch(rng), cc = bb * ctx(rng);
      m.observe(bb, cc, 0, a + b * bb + c * cc + noise(rng));
    }
  };
  run(0.010, 0.0003, 1e-7, 5000);
  CHECK(m.coefficients()[1] == doctest::Approx(0.0003).epsilon(0.02));
  run(0.020, 0.0006, 2e-7, 5000);  // the engine got twice as slow (a new model version)
  CHECK(m.coefficients()[0] == doctest::Approx(0.020).epsilon(0.02));
  CHECK(m.coefficients()[1] == doctest::Approx(0.0006).epsilon(0.02));
  CHECK(m.coefficients()[2] == doctest::Approx(2e-7).epsilon(0.02));
}

TEST_CASE("RLS config: bad values name themselves") {
  llmscale::RlsConfig c;
  c.forgetting = 1.5;
  CHECK_THROWS_WITH_AS(llmscale::RecursiveLeastSquares<2>{c}, doctest::Contains("rls: forgetting = 1.5"),
                       std::invalid_argument);
}
