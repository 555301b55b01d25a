#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "llmscale/policy/policy.hpp"

namespace {
struct Load {
  double concurrency = 0;
};

struct ConcurrencyPolicy {
  double target = 4.0;
  const char* name() const noexcept { return "concurrency"; }
  llmscale::Proposal propose(llmscale::TimePoint, const Load& load, const llmscale::FleetState&) {
    const double raw = load.concurrency / target;
    return {"concurrency", static_cast<int>(std::ceil(raw)), raw, "ceil(concurrency / target)"};
  }
};

struct WrongReturn {
  const char* name() const noexcept { return "wrong"; }
  int propose(llmscale::TimePoint, const Load&, const llmscale::FleetState&) { return 1; }
};

struct NoName {
  llmscale::Proposal propose(llmscale::TimePoint, const Load&, const llmscale::FleetState&) { return {}; }
};

struct StringName {  // a std::string name would dangle inside a Decision
  std::string name() const { return "s"; }
  llmscale::Proposal propose(llmscale::TimePoint, const Load&, const llmscale::FleetState&) { return {}; }
};

struct OtherSignals {};

// Generic host code, as the governor and the simulator are: accepts any policy.
template <class P, class S, std::enable_if_t<llmscale::is_policy_v<P, S>, int> = 0>
llmscale::Proposal drive(P& policy, const S& signals) {
  return policy.propose(llmscale::at_seconds(1), signals, llmscale::FleetState(1));
}
}  // namespace

static_assert(llmscale::is_policy_v<ConcurrencyPolicy, Load>);
static_assert(!llmscale::is_policy_v<ConcurrencyPolicy, OtherSignals>);
static_assert(!llmscale::is_policy_v<WrongReturn, Load>);
static_assert(!llmscale::is_policy_v<NoName, Load>);
static_assert(!llmscale::is_policy_v<StringName, Load>);
static_assert(!llmscale::is_policy_v<int, Load>);

TEST_CASE("a user-written policy plugs into generic host code") {
  ConcurrencyPolicy policy;
  const llmscale::Proposal p = drive(policy, Load{10.0});
  CHECK(p.replicas == 3);  // ceil(10 / 4)
  CHECK(p.raw == doctest::Approx(2.5));
  CHECK(std::string(policy.name()) == "concurrency");
}
