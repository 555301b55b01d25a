// detail::to_replicas: the one double -> int conversion of the anchor policies.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "llmscale/policy/detail/replicas.hpp"

using llmscale::FleetState;
using llmscale::detail::ceil_replicas;
using llmscale::detail::floor_replicas;
using llmscale::detail::to_replicas;

TEST_CASE("to_replicas: NaN gives the fallback, everything else lands in [0, 10^6]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(to_replicas(std::nan("")) == 0);
  CHECK(to_replicas(std::nan(""), 7) == 7);  // a caller may hold its count instead
  CHECK(to_replicas(-5) == 0);
  CHECK(to_replicas(-inf) == 0);
  CHECK(to_replicas(1e300) == FleetState::max_replicas);
  CHECK(to_replicas(inf) == FleetState::max_replicas);
  CHECK(to_replicas(1e6 - 0.5) == 999'999);
  CHECK(to_replicas(3.9) == 3);  // truncation, as Go's int32() of an in-range float
  CHECK(ceil_replicas(2.1) == 3);
  CHECK(ceil_replicas(2.0) == 2);
  CHECK(ceil_replicas(-0.5) == 0);
  CHECK(ceil_replicas(std::nan(""), 4) == 4);
  CHECK(floor_replicas(2.9) == 2);
  CHECK(floor_replicas(1e12) == FleetState::max_replicas);
  static_assert(to_replicas(12.5) == 12);
}
