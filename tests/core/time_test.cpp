#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "llmscale/core/time.hpp"

using namespace std::chrono_literals;

TEST_CASE("seconds convert to durations and back") {
  CHECK(llmscale::from_seconds(2.5) == 2500ms);
  CHECK(llmscale::from_seconds(-0.25) == -250ms);
  CHECK(llmscale::from_seconds(1e-9) == std::chrono::duration_cast<llmscale::Duration>(1ns));
  CHECK(llmscale::to_seconds(llmscale::Duration(1500ms)) == doctest::Approx(1.5));
  CHECK(llmscale::to_seconds(llmscale::at_seconds(120.0)) == doctest::Approx(120.0));
}

TEST_CASE("from_seconds never overflows or yields garbage on bad input") {
  CHECK(llmscale::from_seconds(std::numeric_limits<double>::quiet_NaN()) == llmscale::Duration::zero());
  CHECK(llmscale::from_seconds(1e300) == llmscale::Duration::max());
  CHECK(llmscale::from_seconds(-1e300) == llmscale::Duration::min());
  CHECK(llmscale::from_seconds(std::numeric_limits<double>::infinity()) == llmscale::Duration::max());
}

TEST_CASE("MonotonicGuard ignores and counts times that go backwards") {
  llmscale::MonotonicGuard guard;
  CHECK_FALSE(guard.started());
  CHECK(guard.accept(llmscale::at_seconds(1.0)));
  CHECK(guard.accept(llmscale::at_seconds(2.0)));
  CHECK(guard.accept(llmscale::at_seconds(2.0)));  // equal is fine
  CHECK_FALSE(guard.accept(llmscale::at_seconds(1.5)));
  CHECK(guard.last() == llmscale::at_seconds(2.0));  // the backwards time changed nothing
  CHECK(guard.accept(llmscale::at_seconds(3.0)));
  CHECK(guard.rejected() == 1);
  CHECK(guard.last() == llmscale::at_seconds(3.0));
}

TEST_CASE("from_seconds rounds as std::llround does, over 100,000 random values and the halves") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> exponent(-12, 9);
  std::uniform_int_distribution<int> sign(0, 1);
  for (int i = 0; i < 100000; ++i) {
    const double s = (sign(rng) ? 1 : -1) * std::pow(10.0, exponent(rng));
    REQUIRE(llmscale::from_seconds(s).count() == std::llround(s * 1e9));
  }
  for (const double half : {0.5e-9, 1.5e-9, 2.5e-9, -0.5e-9, -2.5e-9, 0.49999999999999994e-9}) {
    CHECK(llmscale::from_seconds(half).count() == std::llround(half * 1e9));
  }
}
