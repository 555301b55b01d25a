// The hot-path types allocate nothing (the global operator new counts every call).
#include <doctest/doctest.h>

#include "support/counting_allocator.hpp"

#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"

TEST_CASE("the counting allocator sees allocations") {
  llmscale_test::AllocationCounter counter;
  void* p = ::operator new(16);  // a direct call: unlike a new-expression, never elided
  ::operator delete(p);
  CHECK(counter.count() == 1);
}

TEST_CASE("fleet updates, guards and decision formatting allocate nothing") {
  llmscale_test::AllocationCounter counter;
  llmscale::FleetState fleet(4);
  llmscale::MonotonicGuard guard;
  char buf[512];
  std::size_t total = 0;
  for (int i = 0; i < 200; ++i) {
    const auto now = llmscale::at_seconds(i);
    guard.accept(now);
    fleet.add_starting(1 + i % 3, now);
    if (i % 5 == 0) fleet.mark_ready(2);
    if (i % 7 == 0) fleet.cancel_starting(1);
    llmscale::FleetState copy = fleet;
    llmscale::Decision d;
    d.at = now;
    d.current_replicas = copy.current();
    d.desired_replicas = copy.ready_by(now, llmscale::from_seconds(30));
    d.policy = "p";
    d.reason = "r";
    d.add_proposal({"p", d.desired_replicas, 1.5, "x"});
    d.add_input("load", 0.25 * i);
    total += d.format_to(buf, sizeof buf) + d.format_json_to(buf, sizeof buf);
  }
  const long long allocations = counter.count();  // read before any assertion runs
  CHECK(total > 0);
  CHECK(allocations == 0);
}
