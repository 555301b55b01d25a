// Embedding llmscale: your own policy, the fleet as your host sees it, one decision per tick.
#include <llmscale/llmscale.hpp>

#include <cmath>
#include <cstdio>

struct Load {  // your signals; here, requests in flight (running + queued)
  double in_flight;
};

struct PerReplicaTarget {  // any type with name() and propose() is a policy
  double target = 8.0;     // requests in flight one replica should carry
  const char* name() const noexcept { return "per-replica-target"; }
  llmscale::Proposal propose(llmscale::TimePoint, const Load& load, const llmscale::FleetState&) {
    const double raw = load.in_flight / target;
    return {name(), static_cast<int>(std::ceil(raw)), raw, "ceil(in_flight / target)"};
  }
};
static_assert(llmscale::is_policy_v<PerReplicaTarget, Load>);

int main() {
  PerReplicaTarget policy;
  llmscale::FleetState fleet(2);                   // two replicas serving
  fleet.add_starting(1, llmscale::at_seconds(0));  // one more requested at t=0, still loading
  const auto now = llmscale::at_seconds(30);       // in production: llmscale::Clock::now()
  const llmscale::Proposal p = policy.propose(now, Load{37}, fleet);
  llmscale::Decision d{now, fleet.current(), p.replicas, policy.name(), p.reason};
  d.add_proposal(p);
  char line[512];
  d.format_json_to(line, sizeof line);  // no allocation: fine on the tick path
  std::puts(line);
}
