// Ewma, KnativeWindow, WindowSum/EventRate/TimeWeightedAverage and SlidingMax/Min against
// hand-computed values, including irregular intervals and gaps.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "llmscale/signals/ewma.hpp"
#include "llmscale/signals/knative_window.hpp"
#include "llmscale/signals/sliding_extremum.hpp"
#include "llmscale/signals/window_sum.hpp"

using llmscale::at_seconds;
using llmscale::from_seconds;
using namespace std::chrono_literals;

TEST_CASE("EWMA: a sample one half-life later moves the average halfway") {
  llmscale::Ewma e(10s);
  CHECK(e.update(at_seconds(0), 0.0));
  CHECK(e.value() == 0.0);
  e.update(at_seconds(10), 100.0);  // alpha = 1 - 2^-1 = 0.5
  CHECK(e.value() == doctest::Approx(50.0));
  e.update(at_seconds(20), 100.0);
  CHECK(e.value() == doctest::Approx(75.0));
  e.update(at_seconds(40), 0.0);  // two half-lives: alpha = 0.75
  CHECK(e.value() == doctest::Approx(18.75));
}

TEST_CASE("EWMA: irregular sampling of the same signal gives the same average") {
  llmscale::Ewma a(7s), b(7s);
  a.update(at_seconds(0), 10.0);
  b.update(at_seconds(0), 10.0);
  // a step to 50 sampled every 1 s versus at 0.3 s, 2.2 s, 5 s, 9 s and 12 s
  for (int t = 1; t <= 12; ++t) a.update(at_seconds(t), 50.0);
  for (double t : {0.3, 2.2, 5.0, 9.0, 12.0}) b.update(at_seconds(t), 50.0);
  CHECK(a.value() == doctest::Approx(b.value()).epsilon(1e-12));
  // closed form: 50 - 40 * 2^(-12 / 7)
  CHECK(a.value() == doctest::Approx(50.0 - 40.0 * std::exp2(-12.0 / 7.0)));
}

TEST_CASE("EWMA: NaN, infinities and times going backwards are dropped and counted") {
  llmscale::Ewma e(1s);
  e.update(at_seconds(5), 3.0);
  CHECK_FALSE(e.update(at_seconds(6), std::numeric_limits<double>::quiet_NaN()));
  CHECK_FALSE(e.update(at_seconds(6), std::numeric_limits<double>::infinity()));
  CHECK_FALSE(e.update(at_seconds(4), 100.0));
  CHECK(e.value() == 3.0);
  CHECK(e.dropped() == 3);
  llmscale::Ewma restored(1s);
  CHECK(restored.load_state(e.save_state()));
  CHECK(restored.value() == 3.0);
  CHECK_FALSE(restored.update(at_seconds(4), 1.0));  // the restored guard remembers t = 5
  CHECK_FALSE(restored.load_state("ewma/1 1 nan 0"));
  CHECK_FALSE(restored.load_state("garbage"));
  CHECK_THROWS_AS(llmscale::Ewma(0s), std::invalid_argument);
}

TEST_CASE("Knative linear window: partial windows, gaps and expiry as Knative computes them") {
  llmscale::KnativeWindow w(5s, 1s);
  CHECK(w.average(at_seconds(0)) == 0.0);
  w.record(at_seconds(10.2), 4.0);
  w.record(at_seconds(10.7), 2.0);  // same bucket: 6
  w.record(at_seconds(11.1), 3.0);
  w.record(at_seconds(12.0), 9.0);
  // buckets 10,11,12 = 6,3,9; first write 10, last 12: (6+3+9)/3
  CHECK(w.average(at_seconds(12.5)) == doctest::Approx(6.0));
  // 2 s later (< window), no writes: outdated buckets 13,14 are empty; divide by
  // min(12-10+1, 5-2) = 3
  CHECK(w.average(at_seconds(14.0)) == doctest::Approx(6.0));
  // 3 s later: bucket 10 shares its ring slot with 15 and is subtracted (Knative's loop
  // subtracts slots 13..15): (3 + 9) over min(3, 5-3) = 2 buckets
  CHECK(w.average(at_seconds(15.0)) == doctest::Approx(6.0));
  // a gap shorter than the window: bucket 13 counts as 0 in the average
  w.record(at_seconds(14.0), 5.0);
  // buckets 10..14 = 6,3,9,0,5; since first write 5 buckets
  CHECK(w.average(at_seconds(14.0)) == doctest::Approx(23.0 / 5.0));
  w.record(at_seconds(15.0), 1.0);  // bucket 10 leaves the window: 3+9+0+5+1 = 18 over 5
  CHECK(w.average(at_seconds(15.0)) == doctest::Approx(18.0 / 5.0));
  // a whole window later: 0, and the next write starts afresh
  CHECK(w.average(at_seconds(20.0)) == 0.0);
  w.record(at_seconds(30.0), 7.0);
  CHECK(w.average(at_seconds(30.0)) == doctest::Approx(7.0));
  // values older than a window before the last write are ignored
  w.record(at_seconds(20.0), 1000.0);
  CHECK(w.average(at_seconds(30.0)) == doctest::Approx(7.0));
  CHECK(w.dropped() == 1);
}

TEST_CASE("Knative linear window rounds down to 6 decimals, as Knative does") {
  llmscale::KnativeWindow w(3s, 1s);
  w.record(at_seconds(1), 1.0);
  w.record(at_seconds(2), 1.0);
  w.record(at_seconds(3), 0.0);
  w.record(at_seconds(3), 1e-12);  // (2 + 1e-12) / 3 = 0.66666666... -> 0.666666
  CHECK(w.average(at_seconds(3)) == 0.666666);
}

TEST_CASE("Knative weighted-exponential window: newest bucket weighs alpha") {
  // 4 buckets: alpha = max(1 - 0.0001^(1/4), 0.2) = 0.9
  llmscale::KnativeWindow w(4s, 1s, llmscale::KnativeAveraging::weighted_exponential);
  CHECK(w.smoothing_coefficient() == doctest::Approx(0.9));
  for (int t = 0; t < 4; ++t) w.record(at_seconds(t), t < 2 ? 10.0 : 5.0);  // [10, 10, 5, 5], newest last
  // 5*0.9 + 5*0.09 + 10*0.009 + 10*0.0009
  CHECK(w.average(at_seconds(3)) == doctest::Approx(5.049));
  // one empty bucket since the last write: weights shift by one, the oldest drops
  CHECK(w.average(at_seconds(4)) == doctest::Approx(5 * 0.09 + 5 * 0.009 + 10 * 0.0009));
  CHECK(w.average(at_seconds(9)) == 0.0);  // more than a window without data
  // a long window: the coefficient is held at 0.2
  llmscale::KnativeWindow long_window(600s, 1s, llmscale::KnativeAveraging::weighted_exponential);
  CHECK(long_window.smoothing_coefficient() == doctest::Approx(0.2));
  // save and load
  llmscale::KnativeWindow copy(4s, 1s, llmscale::KnativeAveraging::weighted_exponential);
  CHECK(copy.load_state(w.save_state()));
  CHECK(copy.average(at_seconds(3)) == doctest::Approx(5.049));
  CHECK_FALSE(llmscale::KnativeWindow(5s, 1s).load_state(w.save_state()));  // other bucket count
}

TEST_CASE("EventRate: events per second over the covered part of the window") {
  llmscale::EventRate r(10s, at_seconds(0));
  for (int i = 0; i < 10; ++i) r.record(at_seconds(i * 0.5));  // 10 events in the first 5 s
  CHECK(r.rate(at_seconds(5)) == doctest::Approx(2.0));  // young: 10 events / 5 s covered
  for (int i = 10; i < 60; ++i) r.record(at_seconds(i * 0.5));  // 2/s until 30 s
  CHECK(r.rate(at_seconds(30)) == doctest::Approx(2.0).epsilon(0.06));
  // a gap of an hour: everything has left the window
  CHECK(r.rate(at_seconds(3630)) == 0.0);
  CHECK_FALSE(r.record(at_seconds(3600), -1.0));
  CHECK_FALSE(r.record(at_seconds(10), 1.0));  // older than the window
  CHECK(r.dropped() == 2);
}

TEST_CASE("EventRate: counts spread over an interval land in the window proportionally") {
  llmscale::EventRate r(10s, at_seconds(0));
  r.record_spread(at_seconds(0), at_seconds(20), 200.0);  // 10/s for 20 s; the first 10 s fall out
  CHECK(r.rate(at_seconds(20)) == doctest::Approx(10.0));
}

TEST_CASE("TimeWeightedAverage: integrals over intervals give the time-weighted mean") {
  llmscale::TimeWeightedAverage a(60s, at_seconds(0));
  a.add_constant(at_seconds(0), at_seconds(30), 4.0);  // 4 for 30 s
  a.add_constant(at_seconds(30), at_seconds(40), 1.0);  // 1 for 10 s
  CHECK(a.average(at_seconds(40)) == doctest::Approx((4.0 * 30 + 1.0 * 10) / 40));
  a.add(at_seconds(40), at_seconds(100), 0.0);
  // window [40, 100]: only the zero interval remains
  CHECK(a.average(at_seconds(100)) == doctest::Approx(0.0).epsilon(1e-9));
  llmscale::TimeWeightedAverage b(60s, at_seconds(0));
  CHECK(b.load_state(a.save_state()));
  CHECK(b.average(at_seconds(100)) == doctest::Approx(a.average(at_seconds(100))));
}

TEST_CASE("WindowSum: the running total equals a fresh sum after many turns") {
  llmscale::WindowSum s(5s, 1s);
  double expected_window[1000] = {};
  for (int t = 0; t < 1000; ++t) {
    const double v = 0.1 * ((t * 7919) % 13);
    s.add(at_seconds(t + 0.5), v);
    expected_window[t] = v;
  }
  double want = 0;
  for (int t = 995; t < 1000; ++t) want += expected_window[t];
  CHECK(s.total() == doctest::Approx(want).epsilon(1e-12));
}

TEST_CASE("SlidingMax and SlidingMin over a time window") {
  llmscale::SlidingMax mx(10s, 1s);
  llmscale::SlidingMin mn(10s, 1s);
  CHECK_FALSE(mx.value(at_seconds(0)).has_value());
  const double xs[] = {5, 9, 2, 7, 1, 8};
  for (int i = 0; i < 6; ++i) {
    mx.record(at_seconds(i * 3), xs[i]);  // t = 0, 3, 6, 9, 12, 15
    mn.record(at_seconds(i * 3), xs[i]);
  }
  // window at 15 s: buckets 6..15 -> samples at 6, 9, 12, 15
  CHECK(*mx.value(at_seconds(15)) == 8.0);
  CHECK(*mn.value(at_seconds(15)) == 1.0);
  // at 22 s: buckets 13..22 -> only t = 15
  CHECK(*mx.value(at_seconds(22)) == 8.0);
  CHECK(*mn.value(at_seconds(22)) == 8.0);
  CHECK_FALSE(mx.value(at_seconds(40)).has_value());
  CHECK_FALSE(mx.record(at_seconds(1), 100.0));  // older than the window
  llmscale::SlidingMax copy(10s, 1s);
  mx.record(at_seconds(41), 3.0);
  CHECK(copy.load_state(mx.save_state()));
  CHECK(*copy.value(at_seconds(41)) == 3.0);
}
