// Every policy (the anchors and llmscale's own) with the governor over thousands of random signal sequences: the
// decision stays within [min, max], respects the rate limits (from the period's start) and the scale-down stabilization
// window, never scales down on stale signals, is deterministic; ticking allocates nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <deque>
#include <random>
#include <vector>

#include "support/counting_allocator.hpp"

#include "llmscale/policy/policies.hpp"
#include "llmscale/policy/registry.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {

Signals random_signals(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  Signals s;
  const double scale = u(rng) < 0.1 ? 0.0 : std::pow(10.0, 3 * u(rng));
  s.running_now = std::floor(scale * u(rng));
  s.queued_now = u(rng) < 0.3 ? std::floor(scale * u(rng)) : 0;
  s.concurrency = s.running_now + s.queued_now;
  s.queued = s.queued_now;
  s.arrival_rate = scale * u(rng);
  s.engines.replicas_reporting = u(rng) < 0.05 ? 0 : 1 + static_cast<int>(20 * u(rng));
  s.engines.replicas_saturated = static_cast<int>(s.engines.replicas_reporting * u(rng) * u(rng));
  s.engines.kv_utilization = u(rng);
  s.engines.batch_occupancy = u(rng);
  s.engines.queue_length_mean = 10 * u(rng);
  const int unsat = s.engines.replicas_reporting - s.engines.replicas_saturated;
  s.engines.unsaturated_kv_use_sum = unsat * 0.8 * u(rng);
  s.engines.unsaturated_queue_total = static_cast<long long>(unsat * 5 * u(rng));
  const double mixes[3][2] = {{1000, 200}, {3000, 150}, {500, 400}};
  const auto& mix = mixes[static_cast<std::size_t>(rng() % 1000 < 5 ? rng() % 3 : 0)];
  s.mean_prompt_tokens = mix[0];
  s.mean_output_tokens = mix[1];
  s.queue_wait_p99_s = u(rng) < 0.01 ? std::nan("") : 3 * u(rng) * u(rng);  // now and then unusable
  s.ttft_p99_s = s.queue_wait_p99_s + 0.3;
  s.requests.stale = u(rng) < 0.05;
  s.engine.stale = u(rng) < 0.05;
  return s;
}

// decode 10 ms + 1 ms per request, prefill 0.1 ms per prompt token
llmscale::LatencyProfile simple_profile() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{10, 0, 1});
}

struct Step {
  int current, desired;
  bool stale;
  int proposal;
};

// Runs `ticks` random ticks; the fleet follows each decision (new replicas ready 3 ticks later).
template <class P>
std::vector<Step> run(P policy, const llmscale::GovernorConfig& g, std::uint64_t seed, int ticks) {
  std::mt19937_64 rng(seed);
  llmscale::Autoscaler<P> scaler(std::move(policy), g, at_seconds(0));
  FleetState fleet(3);
  std::deque<std::pair<int, int>> arriving;  // (tick ready, count)
  std::vector<Step> steps;
  steps.reserve(static_cast<std::size_t>(ticks));
  for (int i = 1; i <= ticks; ++i) {
    while (!arriving.empty() && arriving.front().first <= i) {
      fleet.mark_ready(arriving.front().second);
      arriving.pop_front();
    }
    const Signals s = random_signals(rng);
    const llmscale::Decision& d = scaler.tick(at_seconds(i), s, fleet);
    steps.push_back(Step{fleet.current(), d.desired_replicas, s.requests.stale || s.engine.stale, d.proposals[0].replicas});
    const int delta = d.desired_replicas - fleet.current();
    if (delta > 0) {
      fleet.add_starting(delta, at_seconds(i));
      arriving.emplace_back(i + 3, delta);
    } else if (delta < 0) {
      int remove = -delta;
      const int cancelled = fleet.cancel_starting(remove);
      remove -= cancelled;
      fleet.set_ready(fleet.ready() - remove);
      arriving.clear();  // (cancelled newest first; the rest arrive as mark_ready finds them)
    }
  }
  return steps;
}

template <class P>
void check_properties(const char* name, P policy) {
  CAPTURE(name);
  llmscale::GovernorConfig g;
  g.min_replicas = 1;
  g.max_replicas = 40;
  g.scale_up_pods = 3;
  g.scale_up_percent = 0;  // Pods only: at most 3 added per 15 s
  g.scale_down_stabilization_s = 60;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const std::vector<Step> a = run(policy, g, seed, 600);
    const std::vector<Step> b = run(policy, g, seed, 600);
    for (std::size_t i = 0; i < a.size(); ++i) {
      CAPTURE(seed);
      CAPTURE(i);
      REQUIRE(a[i].desired == b[i].desired);  // deterministic
      CHECK(a[i].desired >= g.min_replicas);
      CHECK(a[i].desired <= g.max_replicas);
      if (a[i].stale) CHECK(a[i].desired >= a[i].current);
      // rate limit (Kubernetes' Pods policy): at most 3 above the replicas at the start of the
      // 15 s period, that is the current count less the replicas added and plus those removed
      // by the decisions of the last 15 s (ticks are 1 s)
      int added = 0, removed = 0;
      for (std::size_t k = i >= 14 ? i - 14 : 0; k < i; ++k) {
        added += std::max(0, a[k].desired - a[k].current);
        removed += std::max(0, a[k].current - a[k].desired);
      }
      CHECK(a[i].desired - a[i].current <= std::max(0, 3 - added + removed));
      // stabilization: a scale-down never goes below a proposal of the last 60 s
      if (a[i].desired < a[i].current) {
        for (std::size_t k = i >= 59 ? i - 59 : 0; k <= i; ++k) {
          CHECK(a[i].desired >= std::min(a[k].proposal, g.max_replicas));
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("property: every policy with the governor over random signal sequences") {
  check_properties("hpa", llmscale::HpaPolicy{});
  llmscale::KpaConfig kpa;
  kpa.container_concurrency = 16;
  check_properties("kpa", llmscale::KpaPolicy{kpa, at_seconds(0)});
  check_properties("ray-serve", llmscale::RayServePolicy{});
  check_properties("aibrix-apa", llmscale::AibrixApaPolicy{});
  check_properties("llmd-saturation", llmscale::LlmdSaturationPolicy{});
  check_properties("llmscale-slo", llmscale::SloPolicy{simple_profile()});
  check_properties("llmscale-pid", llmscale::PidPolicy<>{llmscale::SloPolicy{simple_profile()}});
  llmscale::PredictiveConfig predictive;
  predictive.bucket_s = 5;  // buckets close often within 600 ticks
  check_properties("llmscale-predictive", llmscale::PredictivePolicy<>{llmscale::SloPolicy{simple_profile()}, predictive});
}

namespace {
template <class P>
std::size_t allocations_per_ticks(P policy, int seconds_per_tick = 1) {
  llmscale::Autoscaler<P> scaler(std::move(policy), llmscale::GovernorConfig{}, at_seconds(0));
  std::mt19937_64 rng(3);
  std::vector<Signals> signals;
  for (int i = 0; i < 500; ++i) signals.push_back(random_signals(rng));
  FleetState fleet(5);
  const llmscale_test::AllocationCounter counter;
  for (int i = 0; i < 500; ++i) {
    (void)scaler.tick(at_seconds(i * seconds_per_tick), signals[static_cast<std::size_t>(i)], fleet);
  }
  return static_cast<std::size_t>(counter.count());
}
}  // namespace

TEST_CASE("ticking any policy with the governor allocates nothing") {
  CHECK(allocations_per_ticks(llmscale::HpaPolicy{}) == 0);
  CHECK(allocations_per_ticks(llmscale::KpaPolicy{llmscale::KpaConfig{}, at_seconds(0)}) == 0);
  CHECK(allocations_per_ticks(llmscale::RayServePolicy{}) == 0);
  CHECK(allocations_per_ticks(llmscale::AibrixApaPolicy{}) == 0);
  CHECK(allocations_per_ticks(llmscale::LlmdSaturationPolicy{}) == 0);
  CHECK(allocations_per_ticks(llmscale::SloPolicy{simple_profile()}) == 0);  // token-mix changes included
  CHECK(allocations_per_ticks(llmscale::PidPolicy<>{llmscale::SloPolicy{simple_profile()}}) == 0);
  // a bucket closes every tick: 500 forecaster updates, autoregressive refits and plans
  CHECK(allocations_per_ticks(llmscale::PredictivePolicy<>{llmscale::SloPolicy{simple_profile()}}, 60) == 0);
}

TEST_CASE("ticking any registered policy behind AnyAutoscaler allocates nothing") {
  const llmscale::LatencyProfile profile = simple_profile();
  llmscale::PolicyConfigs configs;
  configs.predictive.bucket_s = 5;  // buckets close every 5 ticks: forecaster updates and plans
  configs.pid_planner.bucket_s = 5;
  for (const auto& p : llmscale::registered_policies()) {
    CAPTURE(p.name);
    llmscale::AnyAutoscaler scaler = llmscale::make_autoscaler(p.name, configs, &profile, {}, at_seconds(0));
    std::mt19937_64 rng(3);
    std::vector<Signals> signals;
    for (int i = 0; i < 500; ++i) signals.push_back(random_signals(rng));
    FleetState fleet(5);
    const llmscale_test::AllocationCounter counter;
    for (int i = 0; i < 500; ++i) (void)scaler.tick(at_seconds(i), signals[static_cast<std::size_t>(i)], fleet);
    const long long allocations = counter.count();
    CHECK(allocations == 0);
  }
}

TEST_CASE("policy configs: validate() names the field, constructors throw") {
  llmscale::KpaConfig k;
  k.target_utilization = 1.5;
  REQUIRE(k.validate().has_value());
  CHECK(k.validate()->message().find("kpa.target_utilization = 1.5") != std::string::npos);
  CHECK_THROWS_AS(llmscale::KpaPolicy(k, at_seconds(0)), std::invalid_argument);
  llmscale::HpaConfig h;
  h.metric_1 = llmscale::HpaMetric::none;
  CHECK_THROWS_WITH_AS(llmscale::HpaPolicy{h}, doctest::Contains("hpa.metric_1"), std::invalid_argument);
  llmscale::GovernorConfig g;
  g.min_replicas = 9;
  g.max_replicas = 4;
  CHECK_THROWS_WITH_AS(llmscale::Governor(g, at_seconds(0)), doctest::Contains("governor.min_replicas = 9"),
                       std::invalid_argument);
  llmscale::RayServeConfig r;
  CHECK(llmscale::set_config(r, "upscale_delay_s=5").has_value() == false);
  CHECK(r.upscale_delay_s == 5);
}
