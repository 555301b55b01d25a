#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "llmscale/core/fleet_state.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::from_seconds;
using llmscale::TimePoint;

TEST_CASE("starting replicas count as capacity when their cold start has passed") {
  FleetState fleet(3);
  CHECK(fleet.add_starting(2, at_seconds(100)));
  CHECK(fleet.add_starting(1, at_seconds(50)));  // recorded out of order
  CHECK(fleet.ready() == 3);
  CHECK(fleet.starting() == 3);
  CHECK(fleet.current() == 6);
  CHECK(fleet.starting_batch_count() == 2);
  CHECK(fleet.begin()->requested_at == at_seconds(50));  // kept oldest first

  const auto lead = from_seconds(600);
  CHECK(fleet.ready_by(at_seconds(649), lead) == 3);
  CHECK(fleet.ready_by(at_seconds(650), lead) == 4);  // 50 + 600
  CHECK(fleet.ready_by(at_seconds(699), lead) == 4);
  CHECK(fleet.ready_by(at_seconds(700), lead) == 6);  // 100 + 600

  CHECK(fleet.mark_ready(2) == 2);  // the one from t=50, then one from t=100
  CHECK(fleet.ready() == 5);
  CHECK(fleet.starting() == 1);
  CHECK(fleet.begin()->requested_at == at_seconds(100));
  CHECK(fleet.cancel_starting(5) == 1);
  CHECK(fleet.starting() == 0);
  CHECK(fleet.current() == 5);
  CHECK(fleet.rejected_updates() == 0);
}

TEST_CASE("requests at the same time share a batch") {
  FleetState fleet;
  fleet.add_starting(2, at_seconds(10));
  fleet.add_starting(3, at_seconds(10));
  CHECK(fleet.starting_batch_count() == 1);
  CHECK(fleet.begin()->count == 5);
}

TEST_CASE("invalid updates are ignored and counted") {
  FleetState fleet(2, 1);
  CHECK_FALSE(fleet.set_ready(-1));
  CHECK_FALSE(fleet.set_draining(-3));
  CHECK_FALSE(fleet.add_starting(0, at_seconds(1)));
  CHECK_FALSE(fleet.add_starting(-2, at_seconds(1)));
  CHECK_FALSE(fleet.add_starting(FleetState::max_replicas, at_seconds(1)));  // total too large
  CHECK(fleet.ready() == 2);
  CHECK(fleet.draining() == 1);
  CHECK(fleet.starting() == 0);
  CHECK(fleet.rejected_updates() == 5);
  CHECK(fleet.mark_ready(-4) == 0);
  CHECK(fleet.cancel_starting(-4) == 0);
  CHECK(FleetState(-5).ready() == 0);
}

namespace {
// The obvious model: every starting replica with its own request time.
struct NaiveFleet {
  int ready = 0;
  std::vector<TimePoint> starting;  // sorted

  void add(int n, TimePoint t) {
    for (int i = 0; i < n; ++i) starting.insert(std::upper_bound(starting.begin(), starting.end(), t), t);
  }
  int mark_ready(int n) {
    const int k = std::min<int>(n, static_cast<int>(starting.size()));
    starting.erase(starting.begin(), starting.begin() + k);
    ready += k;
    return k;
  }
  int cancel(int n) {
    const int k = std::min<int>(n, static_cast<int>(starting.size()));
    starting.resize(starting.size() - static_cast<std::size_t>(k));
    return k;
  }
  int ready_by(TimePoint t, llmscale::Duration lead) const {
    return ready + static_cast<int>(std::count_if(starting.begin(), starting.end(),
                                                  [&](TimePoint s) { return s + lead <= t; }));
  }
};

void run_random_ops(int distinct_times, bool expect_exact) {
  std::mt19937_64 rng(distinct_times);
  FleetState fleet(0);
  NaiveFleet naive;
  const auto lead = from_seconds(300);
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 4);
    const int n = static_cast<int>(rng() % 5) + 1;
    const TimePoint t = at_seconds(10.0 * static_cast<double>(rng() % distinct_times));
    if (op <= 1) {
      REQUIRE(fleet.add_starting(n, t));
      naive.add(n, t);
    } else if (op == 2) {
      REQUIRE(fleet.mark_ready(n) == naive.mark_ready(n));
    } else {
      REQUIRE(fleet.cancel_starting(n) == naive.cancel(n));
    }
    REQUIRE(fleet.starting() == static_cast<int>(naive.starting.size()));
    REQUIRE(fleet.ready() == naive.ready);
    REQUIRE(fleet.starting_batch_count() <= FleetState::max_starting_batches);
    int sum = 0;
    for (const auto& b : fleet) sum += b.count;
    REQUIRE(sum == fleet.starting());
    const TimePoint probe = at_seconds(10.0 * static_cast<double>(rng() % (distinct_times + 40)));
    if (expect_exact) {
      REQUIRE(fleet.ready_by(probe, lead) == naive.ready_by(probe, lead));
    } else {
      // merged batches report capacity later, never earlier
      REQUIRE(fleet.ready_by(probe, lead) <= naive.ready_by(probe, lead));
    }
    REQUIRE(fleet.ready_by(at_seconds(1e9), lead) == naive.ready_by(at_seconds(1e9), lead));
  }
}
}  // namespace

TEST_CASE("random operations agree with a per-replica model (no merging needed)") {
  run_random_ops(FleetState::max_starting_batches, true);
}

TEST_CASE("random operations with more request times than batches: never early") {
  run_random_ops(500, false);
}
