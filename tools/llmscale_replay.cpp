// llmscale-replay: every scaling policy replayed on the same load under the simulator's rules
// (docs/simulator.md), side by side, with the oracle, the best static fleet and the fluid floor.
//
//   llmscale-replay [--scenario chat-day|code-bursts|flash-crowd]
//                   [--trace FILE --trace-format azure|csv|mooncake|burstgpt|servegen|llmscale [--strict]]
//                   [--rate-scale K] [--policies all|NAME,...] [--tune NAME] [--profile FILE --model M
//                   --hardware H --tp N] [--kv-tokens K] [--max-batch B] [--max-num-batched-tokens T]
//                   [--metric-lag default|0|SECONDS]
//                   [--cold-start S[,S...] | --cold-start-phases provision=S,pull=S,register=S,load=S,warmup=S]
//                   [--faults crash=RATE,failed-start=P,slow-start=FACTOR,metric-outage=START+LEN]
//                   [--slo-ttft S] [--slo-tpot S] [--tick S] [--seed N] [--initial-replicas N]
//                   [--min-replicas N] [--max-replicas N] [--set name.key=value ...]
//                   [--sweep name.key=V1,V2,...] [--exact-steps] [--jobs N]
//                   [--json FILE] [--timeseries FILE] [--plot FILE.svg] [--report FILE.html]
//
// Exit status: 0 when every policy ran; 2 for invalid arguments, a load with nothing to replay
// or an llmscale record this build cannot read (the message says what to change); 1 when the
// trace cannot be read (or, with --strict, has a malformed row).

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "llmscale/sim/trace.hpp"
#include "replay_args.hpp"
#include "replay_checks.hpp"
#include "replay_outputs.hpp"
#include "replay_plan.hpp"
#include "replay_runs.hpp"
#include "replay_verdicts.hpp"

int main(int argc, char** argv) {
  using namespace llmscale_replay;
  Args args;
  try {
    args = parse(argc, argv);  // 1. the command line
  } catch (const UsageError& e) {
    if (*e.what() != '\0') std::fprintf(stderr, "llmscale-replay: %s\n\n", e.what());
    std::fputs(usage, stderr);
    return *e.what() == '\0' ? 0 : 2;
  }
  try {
    ReplayPlan plan = make_plan(args);  // 2. the load, the contestants, the simulator, the profile
    prepare_fleet(plan);                // 3. the trace's bad rows, the opening fleet, the replica bound
    const std::vector<Job> jobs = jobs_of(plan);
    const std::vector<llmscale::SimResult> results = run_all(plan, jobs);  // 4. the runs and the table
    const Verdicts verdicts = judge(plan, jobs, results, argc, argv);      // 5. floor, flags, tune, faults
    write_outputs(args, plan, jobs, results, verdicts);                    // 6. --json, --timeseries, --plot, --report
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "llmscale-replay: %s\n", e.what());
    return 2;
  } catch (const llmscale::TraceError& e) {
    std::fprintf(stderr, "llmscale-replay: %s: %s (--strict)\n", text(args, "trace", "").c_str(), e.what());
    return 1;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "llmscale-replay: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmscale-replay: %s\n", e.what());
    return 1;
  }
}
