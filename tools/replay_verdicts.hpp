// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// llmscale-replay's verdicts on a finished set of runs, printed under the table: the fluid floor,
// a contestant that beats the oracle (the oracle is then too weak), one the replica bound stopped,
// on a record the simulator against the cluster at the recorded fleet (replay_record.hpp),
// --tune's choice (the cheapest setting meeting 99 %, else the highest attainment, with the
// command that reproduces it) and, with faults, what each run lost.
#ifndef LLMSCALE_TOOLS_REPLAY_VERDICTS_HPP
#define LLMSCALE_TOOLS_REPLAY_VERDICTS_HPP

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "llmscale/sim/oracle.hpp"
#include "llmscale/sim/record_check.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "replay_plan.hpp"
#include "replay_record.hpp"
#include "replay_runs.hpp"

namespace llmscale_replay {

struct Verdicts {
  double fluid_gpu_hours = 0;     ///< the floor no policy can go below
  std::vector<bool> beats_oracle;  ///< by job: cheaper than the oracle at equal or better attainment
  std::vector<bool> at_max;        ///< by job: reached the replica bound
  std::optional<llmscale::RecordCheck> record_check;  ///< on a record whose fleet ran: the simulator against the cluster
};

/// Judges and prints; `argc`/`argv` give --tune's reproducing command line.
inline Verdicts judge(const ReplayPlan& plan, const std::vector<Job>& jobs, const std::vector<llmscale::SimResult>& results,
                      int argc, char** argv) {
  const llmscale::SimResult& any = results.front();
  Verdicts out;
  const double fluid = out.fluid_gpu_hours = llmscale::fluid_bound_gpu_hours(any.prompt_tokens, any.output_tokens,
                                                       static_cast<double>(any.requests), plan.profile, plan.sim);
  std::printf("fluid_bound %.1f GPU-h (every prompt token at full-chunk prefill speed, every output token at full-batch decode speed)\n",
              fluid);

  // the oracle is too weak where a policy beats it on GPU-hours at equal or better attainment
  std::vector<bool>& beats_oracle = out.beats_oracle;
  beats_oracle.assign(jobs.size(), false);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].policy != "oracle") continue;
    const auto& o = results[i];
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      const auto& r = results[k];
      if (k == i || jobs[k].cold_start_s != jobs[i].cold_start_s || jobs[k].policy == "oracle") continue;
      if (r.slo_attainment >= o.slo_attainment && r.gpu_hours < o.gpu_hours) {
        beats_oracle[k] = true;
        std::printf("FLAG: %s beats the oracle (%.2f%% at %.1f GPU-h against %.2f%% at %.1f GPU-h): the oracle is too weak here\n",
                    r.policy.c_str(), 100 * r.slo_attainment, r.gpu_hours, 100 * o.slo_attainment, o.gpu_hours);
      }
    }
  }
  // a contestant the bound stopped: its result says more about the bound than about it
  std::vector<bool>& at_max = out.at_max;
  at_max.assign(jobs.size(), false);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto& r = results[i];
    if (r.peak_replicas < plan.max_replicas) continue;
    at_max[i] = true;
    std::printf("FLAG: %s reached --max-replicas %d%s\n", r.policy.c_str(), plan.max_replicas,
                jobs[i].policy == "static-best" || jobs[i].policy == "oracle" || jobs[i].policy == llmscale::recorded_contestant
                    ? " (a reference: not limited by it)"
                    : ": the bound, not the policy, stopped it");
  }
  // on a record: does the replay of the cluster's own fleet see the latencies the cluster saw?
  out.record_check = record_check(plan, jobs, results);
  if (out.record_check) std::fputs(record_check_text(plan, *out.record_check).c_str(), stdout);
  if (!plan.tune.empty()) {  // the cheapest setting that meets the target, else the best attainment
    const std::string& knob = plan.sweep_name;
    std::size_t best = jobs.size();
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto& r = results[i];
      const bool meets = r.slo_attainment >= 0.99;
      if (best == jobs.size()) {
        best = i;
        continue;
      }
      const auto& b = results[best];
      const bool best_meets = b.slo_attainment >= 0.99;
      if ((meets && (!best_meets || r.gpu_hours < b.gpu_hours)) || (!meets && !best_meets && r.slo_attainment > b.slo_attainment)) best = i;
    }
    const auto& b = results[best];
    const std::string value = jobs[best].sweep_set.substr(jobs[best].sweep_set.find('=') + 1);
    std::printf("\ntune %s: %s over %zu values on %s\n", plan.tune.c_str(), knob.c_str(), jobs.size(), plan.source_name.c_str());
    if (b.slo_attainment >= 0.99) {
      std::printf("cheapest setting meeting 99.00 %%: %s=%s (%.2f %% at %.1f GPU-h, %lld events)\n", knob.c_str(), value.c_str(),
                  100 * b.slo_attainment, b.gpu_hours, b.scale_events);
    } else {
      std::printf("no setting meets 99.00 %%; the highest attainment: %s=%s (%.2f %% at %.1f GPU-h)\n", knob.c_str(), value.c_str(),
                  100 * b.slo_attainment, b.gpu_hours);
    }
    std::string again;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--tune" || a == "--json" || a == "--plot" || a == "--report" || a == "--timeseries") {
        ++i;
        continue;
      }
      again += " " + a;
    }
    std::printf("reproduce: llmscale-replay%s --policies %s --set %s=%s\n", again.c_str(), plan.tune.c_str(), knob.c_str(), value.c_str());
  }
  const llmscale::SimConfig& sim = plan.sim;
  const bool faults = sim.crash_per_replica_hour > 0 || sim.failed_start_probability > 0 || sim.slow_start_factor != 1 ||
                      sim.metric_outage_s > 0;
  if (faults) {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const auto& r = results[i];
      std::printf("faults %-22s %lld crashes, %lld requests re-queued, %lld failed starts; lost %lld (completed + rejected = %lld of %lld)\n",
                  r.policy.c_str(), r.crashes, r.requeued, r.failed_starts, r.requests - r.completed - r.rejected,
                  r.completed + r.rejected, r.requests);
    }
  }
  return out;
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_VERDICTS_HPP
