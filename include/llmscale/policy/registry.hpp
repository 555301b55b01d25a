// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The one registry of policies: every policy by name, its configuration by config name, and how
// it is built. The simulator (sim/contestants.hpp), llmscale-replay and llmscale-scaler all build
// their policies here, so a policy added to `registered_policies()` and `with_policy()` (this
// file, nothing else) appears in every one of them.
//
//     llmscale::PolicyConfigs configs;                       // every policy's defaults
//     configs.set("kpa.target_utilization=0.5");             // as --set gives it
//     configs.apply_environment("LLMSCALE_");                // LLMSCALE_KPA_TARGET_UTILIZATION=...
//     llmscale::AnyAutoscaler scaler = llmscale::make_autoscaler("kpa", configs, nullptr, governor, start);
//     const llmscale::Decision& d = scaler.tick(now, signals, fleet);   // no allocation
//
// `with_policy(name, configs, profile, start, f)` calls `f` with the concrete policy instead, for
// a host (the simulator) that keeps the policy's type. Policies sized by a latency model
// (`needs_profile`) take the profile; the others ignore it.
#ifndef LLMSCALE_POLICY_REGISTRY_HPP
#define LLMSCALE_POLICY_REGISTRY_HPP

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/policy/aibrix_apa.hpp"
#include "llmscale/policy/autoscaler.hpp"
#include "llmscale/policy/governor.hpp"
#include "llmscale/policy/hpa.hpp"
#include "llmscale/policy/kpa.hpp"
#include "llmscale/policy/llmd_saturation.hpp"
#include "llmscale/policy/pid.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/policy/predictive.hpp"
#include "llmscale/policy/ray_serve.hpp"
#include "llmscale/policy/slo.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// One registered policy.
struct RegisteredPolicy {
  const char* name;     ///< what --policy / --policies name it
  const char* configs;  ///< the config names it reads (space-separated), the --set prefixes
  bool needs_profile;   ///< sized by a latency profile (with_policy throws without one)
  const char* summary;  ///< one line on what it is, for help and reports
};

/// Every policy, in report order.
[[nodiscard]] inline const std::array<RegisteredPolicy, 8>& registered_policies() noexcept {
  static constexpr std::array<RegisteredPolicy, 8> policies{{
      {"hpa", "hpa", false, "the Kubernetes HPA's algorithm on one or two metrics"},
      {"kpa", "kpa", false, "Knative's KPA: stable and panic windows over concurrency"},
      {"ray-serve", "ray_serve", false, "Ray Serve's autoscaler: ongoing requests per replica"},
      {"aibrix-apa-kv", "aibrix_apa", false, "AIBrix's APA on KV-cache use"},
      {"llmd-saturation", "llmd_saturation", false, "llm-d's saturation scaler: spare KV and queue capacity"},
      {"llmscale-slo", "slo", true, "llmscale: the fleet a latency model says meets the SLO"},
      {"llmscale-pid", "slo pid pid_planner", true, "llmscale: a PID on the SLO over the lead-time planner"},
      {"llmscale-predictive", "slo predictive", true, "llmscale: the lead-time planner over the SLO sizing"},
  }};
  return policies;
}

/// The registered policy called `name`, or nullptr.
[[nodiscard]] inline const RegisteredPolicy* find_policy(std::string_view name) noexcept {
  for (const RegisteredPolicy& p : registered_policies()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

/// The registered names, comma-separated (for messages and help).
[[nodiscard]] inline std::string registered_policy_names() {
  std::string out;
  for (const RegisteredPolicy& p : registered_policies()) out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

/// Every policy's configuration, each under its config name (the `NAME.key=value` prefix).
struct PolicyConfigs {
  /// llmscale-pid's feed-forward leaves this share of the load uncovered (its planner's
  /// `excess`; llmscale-predictive's own default is 0.01): the PID corrects the rest. Found on
  /// the development run (docs/simulator.md).
  static constexpr double pid_planner_excess = 0.3;
  /// Its F before it has learned one (`prior_ratio`; llmscale-predictive's is 1.45): a lean
  /// planner's F is near 1 once learned, and the PID adds what the load needs above it.
  static constexpr double pid_planner_prior_ratio = 1.0;
  /// How long it holds its plan while replicas start (`hold_s`; llmscale-predictive's is 300 s):
  /// as long as any replica starts. A lean plan is close to what the load needs, and letting
  /// it fall while the replicas it asked for start cost the PID attainment (bench/RESULTS.md).
  static constexpr double pid_planner_hold_s = 86400;

  HpaConfig hpa;                         ///< hpa's
  KpaConfig kpa;                         ///< kpa's
  RayServeConfig ray_serve;              ///< ray-serve's
  AibrixApaConfig aibrix_apa;            ///< aibrix-apa-kv's
  LlmdSaturationConfig llmd_saturation;  ///< llmd-saturation's
  SloConfig slo;                         ///< llmscale-slo's, and the sizing of llmscale-pid and llmscale-predictive
  PidConfig pid;                         ///< llmscale-pid's controller
  PredictiveConfig predictive;           ///< llmscale-predictive's planner
  PredictiveConfig pid_planner = planner_defaults();  ///< llmscale-pid's feed-forward

  /// The config names, in declaration order.
  static constexpr std::array<const char*, 9> names{"hpa",  "kpa", "ray_serve",   "aibrix_apa", "llmd_saturation",
                                                    "slo", "pid", "predictive", "pid_planner"};

  /// Calls `f(name, config)` for each config (`config` a reference to the member).
  template <class F>
  void for_each(F&& f) {
    f("hpa", hpa);
    f("kpa", kpa);
    f("ray_serve", ray_serve);
    f("aibrix_apa", aibrix_apa);
    f("llmd_saturation", llmd_saturation);
    f("slo", slo);
    f("pid", pid);
    f("predictive", predictive);
    f("pid_planner", pid_planner);
  }

  /// Applies `NAME.key=value` to config NAME (then its validate()); nothing changes on a problem,
  /// which names the unknown config or the field, value and range.
  ConfigResult set(std::string_view assignment) {
    const auto dot = assignment.find('.');
    const auto eq = assignment.find('=');
    if (dot == std::string_view::npos || eq == std::string_view::npos || dot > eq) {
      return ConfigProblem{"policy", "", std::string(assignment), "NAME.key=value", "is not NAME.key=value", 0};
    }
    const std::string_view name = assignment.substr(0, dot);
    ConfigResult result = unknown(name);
    for_each([&](const char* n, auto& config) {
      if (name != n) return;
      result = set_config(config, assignment.substr(dot + 1));
      if (result) result->config = n;  // pid_planner is a PredictiveConfig: say which
    });
    return result;
  }

  /// Reads every config's fields from PREFIX + NAME_KEY in upper case (LLMSCALE_KPA_TICK_S,
  /// LLMSCALE_PID_PLANNER_EXCESS); nothing changes on a problem, which names the variable.
  ConfigResult apply_environment(const char* prefix = "LLMSCALE_") {
    PolicyConfigs copy = *this;
    ConfigResult result;
    copy.for_each([&](const char* n, auto& config) {
      if (result) return;
      std::string p = prefix ? prefix : "";
      for (const char* c = n; *c != '\0'; ++c) p += static_cast<char>(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
      result = llmscale::apply_environment(config, (p + "_").c_str());
      if (result) result->config = n;
    });
    if (!result) *this = std::move(copy);
    return result;
  }

 private:
  static PredictiveConfig planner_defaults() {
    PredictiveConfig c;
    c.excess = pid_planner_excess;
    c.prior_ratio = pid_planner_prior_ratio;
    c.hold_s = pid_planner_hold_s;
    return c;
  }
  static ConfigResult unknown(std::string_view name) {
    std::string allowed;
    for (const char* n : names) allowed += (allowed.empty() ? "" : ", ") + std::string(n);
    return ConfigProblem{"policy", "", std::string(name), allowed, "is not a config name", 0};
  }
};

/// Builds policy `name` from `configs` and calls `f(policy)` with it (the concrete type; `f`
/// returns the same type for every policy). `profile` is needed by the policies that say
/// `needs_profile` and ignored by the others; `start` is the policies' clock origin. Throws
/// std::invalid_argument for an unknown name, a missing profile or an invalid config.
template <class F>
decltype(auto) with_policy(std::string_view name, const PolicyConfigs& configs, const LatencyProfile* profile,
                           TimePoint start, F&& f) {
  if (name == "hpa") return f(HpaPolicy(configs.hpa));
  if (name == "kpa") return f(KpaPolicy(configs.kpa, start));
  if (name == "ray-serve") return f(RayServePolicy(configs.ray_serve));
  if (name == "aibrix-apa-kv") return f(AibrixApaPolicy(configs.aibrix_apa));
  if (name == "llmd-saturation") return f(LlmdSaturationPolicy(configs.llmd_saturation));
  const RegisteredPolicy* known = find_policy(name);
  if (known == nullptr) {
    throw std::invalid_argument("unknown policy '" + std::string(name) + "' (allowed: " + registered_policy_names() + ")");
  }
  if (profile == nullptr) throw std::invalid_argument("policy " + std::string(name) + " needs a latency profile");
  if (name == "llmscale-slo") return f(SloPolicy(*profile, configs.slo));
  if (name == "llmscale-pid") {
    return f(PidPolicy<PredictivePolicy<>>(PredictivePolicy<>(SloPolicy(*profile, configs.slo), configs.pid_planner),
                                           configs.pid));
  }
  if (name == "llmscale-predictive") return f(PredictivePolicy<>(SloPolicy(*profile, configs.slo), configs.predictive));
  throw std::logic_error("registered policy '" + std::string(name) + "' is not built by with_policy");
}

/// An Autoscaler over any policy (Autoscaler<P> behind one type): built once, then `tick`
/// allocates nothing. The concrete policy stays reachable through `policy_if<P>()`.
class AnyAutoscaler {
 public:
  /// Autoscaler<P>(policy, governor, start); allocates it. Throws std::invalid_argument for an
  /// invalid governor config.
  template <class P>
  AnyAutoscaler(P policy, const GovernorConfig& governor, TimePoint start)
      : impl_(std::make_unique<Model<P>>(std::move(policy), governor, start)) {}

  /// The decision at `now` (Autoscaler::tick).
  const Decision& tick(TimePoint now, const Signals& signals, const FleetState& fleet) noexcept {
    return impl_->tick(now, signals, fleet);
  }
  /// The last decision (Autoscaler::last).
  [[nodiscard]] const Decision& last() const noexcept { return impl_->last(); }
  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return impl_->name(); }
  /// The governor, with its config.
  [[nodiscard]] const Governor& governor() const noexcept { return impl_->governor(); }
  /// Whether the policy keeps a learned state (has_saved_state_v).
  [[nodiscard]] bool keeps_state() const noexcept { return impl_->keeps_state(); }
  /// The policy's state as text (empty when it keeps none).
  [[nodiscard]] std::string save_state(TimePoint now) const { return impl_->save_state(now); }
  /// Restores what save_state wrote; false (unchanged) for a policy without state or a text
  /// that is not its state.
  bool load_state(std::string_view state, TimePoint now) { return impl_->load_state(state, now); }
  /// The policy as `P`, or nullptr when it is another type.
  template <class P>
  [[nodiscard]] P* policy_if() noexcept {
    auto* m = dynamic_cast<Model<P>*>(impl_.get());
    return m == nullptr ? nullptr : &m->scaler.policy();
  }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual const Decision& tick(TimePoint, const Signals&, const FleetState&) noexcept = 0;
    virtual const Decision& last() const noexcept = 0;
    virtual const char* name() const noexcept = 0;
    virtual const Governor& governor() const noexcept = 0;
    virtual bool keeps_state() const noexcept = 0;
    virtual std::string save_state(TimePoint) const = 0;
    virtual bool load_state(std::string_view, TimePoint) = 0;
  };
  template <class P>
  struct Model final : Concept {
    Autoscaler<P> scaler;
    Model(P p, const GovernorConfig& g, TimePoint start) : scaler(std::move(p), g, start) {}
    const Decision& tick(TimePoint now, const Signals& s, const FleetState& f) noexcept override {
      return scaler.tick(now, s, f);
    }
    const Decision& last() const noexcept override { return scaler.last(); }
    const char* name() const noexcept override { return scaler.policy().name(); }
    const Governor& governor() const noexcept override { return scaler.governor(); }
    bool keeps_state() const noexcept override { return has_saved_state_v<P>; }
    std::string save_state(TimePoint now) const override {
      if constexpr (has_saved_state_v<P>) {
        return scaler.policy().save_state(now);
      } else {
        (void)now;
        return {};
      }
    }
    bool load_state(std::string_view state, TimePoint now) override {
      if constexpr (has_saved_state_v<P>) {
        return scaler.policy().load_state(state, now);
      } else {
        (void)state;
        (void)now;
        return false;
      }
    }
  };
  std::unique_ptr<Concept> impl_;
};

/// Policy `name` from `configs` under `governor`, as an AnyAutoscaler (see with_policy).
[[nodiscard]] inline AnyAutoscaler make_autoscaler(std::string_view name, const PolicyConfigs& configs,
                                                   const LatencyProfile* profile, const GovernorConfig& governor,
                                                   TimePoint start) {
  return with_policy(name, configs, profile, start,
                     [&](auto policy) { return AnyAutoscaler(std::move(policy), governor, start); });
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_REGISTRY_HPP
