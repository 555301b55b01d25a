// Compiled as C++20 (with every public header): the concept and the C++17 trait agree.
#include "llmscale/policy/policy.hpp"

#if !LLMSCALE_HAS_CONCEPTS
#error "a C++20 build must get llmscale::Policy as a concept"
#endif

namespace {
struct Signals {};
struct Good {
  const char* name() const noexcept { return "good"; }
  llmscale::Proposal propose(llmscale::TimePoint, const Signals&, const llmscale::FleetState&) { return {}; }
};
struct Bad {
  const char* name() const noexcept { return "bad"; }
  double propose(llmscale::TimePoint, const Signals&, const llmscale::FleetState&) { return 0; }
};

template <llmscale::Policy<Signals> P>
constexpr bool accepts_policy() { return true; }
}  // namespace

static_assert(llmscale::Policy<Good, Signals> == llmscale::is_policy_v<Good, Signals>);
static_assert(llmscale::Policy<Bad, Signals> == llmscale::is_policy_v<Bad, Signals>);
static_assert(!llmscale::Policy<Bad, Signals>);
static_assert(accepts_policy<Good>());
