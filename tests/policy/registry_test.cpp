// The policy registry: every registered policy builds from its defaults, from NAME.key=value and
// from the environment; an unknown policy, config or key is refused by name; the type-erased
// AnyAutoscaler decides exactly as the Autoscaler of the same policy.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "llmscale/core/config.hpp"
#include "llmscale/policy/registry.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {

// decode 10 ms + 1 ms per request, prefill 0.1 ms per prompt token
llmscale::LatencyProfile simple_profile() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{10, 0, 1});
}

Signals load(std::mt19937_64& rng, int t) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Signals s;
  s.at = at_seconds(t);
  s.arrival_rate = 20 + 15 * u(rng);
  s.concurrency = s.arrival_rate * 2;
  s.running = s.running_now = 0.8 * s.concurrency;
  s.queued = s.queued_now = 0.2 * s.concurrency;
  s.mean_prompt_tokens = 500;
  s.mean_output_tokens = 200;
  s.queue_wait_p99_s = 0.5 * u(rng);
  s.ttft_p99_s = s.queue_wait_p99_s + 0.3;
  s.engines.replicas_reporting = 4;
  s.engines.batch_occupancy = 0.3 + 0.5 * u(rng);
  s.engines.kv_utilization = 0.2 + 0.6 * u(rng);
  s.engines.kv_utilization_max = s.engines.kv_utilization;
  s.engines.running_total = static_cast<std::int64_t>(s.running_now);
  s.engines.queue_length_total = static_cast<std::int64_t>(s.queued_now);
  s.engines.queue_length_mean = s.queued_now / 4;
  s.gpu.replicas_reporting = 4;
  s.gpu.busy_fraction = 0.9;
  s.gpu.memory_fraction = 0.9;
  return s;
}

// `name`'s first key and the value it holds, as NAME.key=value text
template <class Config>
std::string first_key(const char* name, const Config& config) {
  const std::string key = llmscale::config_keys<Config>().front();
  const std::string dump = llmscale::dump_config(config);
  const auto at = dump.find("\n" + key + "=");
  REQUIRE(at != std::string::npos);
  const auto end = dump.find('\n', at + 1);
  return std::string(name) + "." + dump.substr(at + 1, end - at - 1);
}

}  // namespace

TEST_CASE("registry: every policy is listed once, and every config name is a PolicyConfigs member") {
  std::set<std::string> names;
  for (const auto& p : llmscale::registered_policies()) {
    CHECK(names.insert(p.name).second);
    CHECK(llmscale::find_policy(p.name) == &p);
    // each config it names exists
    std::string configs = p.configs;
    for (std::size_t at = 0; at < configs.size();) {
      const auto end = std::min(configs.find(' ', at), configs.size());
      const std::string c = configs.substr(at, end - at);
      bool found = false;
      for (const char* n : llmscale::PolicyConfigs::names) found = found || c == n;
      CHECK_MESSAGE(found, p.name << " names config " << c);
      at = end + 1;
    }
  }
  CHECK(names.size() == 8);
  CHECK(llmscale::find_policy("hpx") == nullptr);
}

TEST_CASE("registry: every policy builds from its defaults and decides as its own Autoscaler") {
  const llmscale::LatencyProfile profile = simple_profile();
  const llmscale::PolicyConfigs configs;
  const llmscale::GovernorConfig governor;
  for (const auto& p : llmscale::registered_policies()) {
    CAPTURE(p.name);
    llmscale::AnyAutoscaler any = llmscale::make_autoscaler(p.name, configs, &profile, governor, at_seconds(0));
    // the same policy built through with_policy, driven directly: the same decisions
    llmscale::with_policy(p.name, configs, &profile, at_seconds(0), [&](auto policy) {
      llmscale::Autoscaler<decltype(policy)> direct(std::move(policy), governor, at_seconds(0));
      CHECK(std::string(any.name()) == direct.policy().name());
      std::mt19937_64 rng(7);
      FleetState fleet(4);
      for (int t = 1; t <= 900; ++t) {
        const Signals s = load(rng, t);
        const llmscale::Decision& a = any.tick(at_seconds(t), s, fleet);
        const llmscale::Decision& b = direct.tick(at_seconds(t), s, fleet);
        REQUIRE(a.desired_replicas == b.desired_replicas);
        REQUIRE(a.binding == b.binding);
        fleet.set_ready(a.desired_replicas);
      }
      CHECK(any.keeps_state() == llmscale::has_saved_state_v<decltype(policy)>);
      CHECK(any.policy_if<decltype(policy)>() != nullptr);
      return 0;
    });
  }
}

TEST_CASE("registry: a policy sized by a model needs a profile and an unknown policy names the allowed ones") {
  const llmscale::PolicyConfigs configs;
  for (const auto& p : llmscale::registered_policies()) {
    CAPTURE(p.name);
    if (p.needs_profile) {
      CHECK_THROWS_WITH_AS(llmscale::make_autoscaler(p.name, configs, nullptr, {}, at_seconds(0)),
                           doctest::Contains("needs a latency profile"), std::invalid_argument);
    } else {
      CHECK_NOTHROW(llmscale::make_autoscaler(p.name, configs, nullptr, {}, at_seconds(0)));
    }
  }
  CHECK_THROWS_WITH_AS(llmscale::make_autoscaler("hpx", configs, nullptr, {}, at_seconds(0)),
                       doctest::Contains("unknown policy 'hpx' (allowed: hpa, kpa, ray-serve"), std::invalid_argument);
}

TEST_CASE("registry: every config is set from NAME.key=value, and an unknown config or key is refused by name") {
  llmscale::PolicyConfigs configs;
  int n = 0;
  configs.for_each([&](const char* name, auto& config) {
    CAPTURE(name);
    ++n;
    // a key set to the value it holds reads back
    CHECK_FALSE(configs.set(first_key(name, config)).has_value());
    const auto bad = configs.set(std::string(name) + ".no_such_key=1");
    REQUIRE(bad.has_value());
    CHECK(bad->message().find("no_such_key") != std::string::npos);
    CHECK(bad->message().find(name) == 0);  // named by its config name (pid_planner too)
  });
  CHECK(n == static_cast<int>(llmscale::PolicyConfigs::names.size()));
  REQUIRE_FALSE(configs.set("kpa.target_utilization=0.5").has_value());
  CHECK(configs.kpa.target_utilization == 0.5);
  REQUIRE_FALSE(configs.set("pid_planner.excess=0.2").has_value());
  CHECK(configs.pid_planner.excess == 0.2);
  CHECK(configs.predictive.excess != 0.2);  // the planner of llmscale-pid only
  const auto out_of_range = configs.set("kpa.target_utilization=2");
  REQUIRE(out_of_range.has_value());
  CHECK(out_of_range->message().find("kpa.target_utilization = 2") != std::string::npos);
  CHECK(configs.kpa.target_utilization == 0.5);  // unchanged
  const auto unknown = configs.set("kpx.target=1");
  REQUIRE(unknown.has_value());
  CHECK(unknown->message().find("kpx") != std::string::npos);
  CHECK(unknown->message().find("pid_planner") != std::string::npos);  // the allowed names
  CHECK(configs.set("no dot").has_value());
}

TEST_CASE("registry: configs from the environment, LLMSCALE_<CONFIG>_<KEY>") {
  llmscale::PolicyConfigs configs;
  ::setenv("LLMSCALE_TEST_KPA_TARGET_UTILIZATION", "0.4", 1);
  ::setenv("LLMSCALE_TEST_PID_PLANNER_EXCESS", "0.25", 1);
  REQUIRE_FALSE(configs.apply_environment("LLMSCALE_TEST_").has_value());
  CHECK(configs.kpa.target_utilization == 0.4);
  CHECK(configs.pid_planner.excess == 0.25);
  CHECK(configs.predictive.excess != 0.25);
  ::setenv("LLMSCALE_TEST_SLO_TTFT_S", "-1", 1);
  const auto bad = configs.apply_environment("LLMSCALE_TEST_");
  ::unsetenv("LLMSCALE_TEST_KPA_TARGET_UTILIZATION");
  ::unsetenv("LLMSCALE_TEST_PID_PLANNER_EXCESS");
  ::unsetenv("LLMSCALE_TEST_SLO_TTFT_S");
  REQUIRE(bad.has_value());
  CHECK(bad->message().find("slo.ttft_s = -1") != std::string::npos);
  CHECK(configs.kpa.target_utilization == 0.4);  // nothing changed by the refused pass
  // every policy builds from what the environment set
  const llmscale::LatencyProfile profile = simple_profile();
  for (const auto& p : llmscale::registered_policies()) {
    CHECK_NOTHROW(llmscale::make_autoscaler(p.name, configs, &profile, {}, at_seconds(0)));
  }
}
