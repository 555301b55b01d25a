// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The simulator stage: traces and scenarios, the fleet simulator, the contestants, the opening
// fleet, the oracle and the fluid floor, a record's own fleet and the check against the cluster
// (docs/simulator.md). Pulls the whole library.
#ifndef LLMSCALE_SIM_SIM_HPP
#define LLMSCALE_SIM_SIM_HPP

#include "llmscale/sim/contestants.hpp"
#include "llmscale/sim/opening_fleet.hpp"
#include "llmscale/sim/oracle.hpp"
#include "llmscale/sim/record_check.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "llmscale/sim/replica.hpp"
#include "llmscale/sim/sim_config.hpp"
#include "llmscale/sim/sim_result.hpp"
#include "llmscale/sim/simulator.hpp"
#include "llmscale/sim/trace.hpp"
#include "llmscale/sim/workload.hpp"

#endif  // LLMSCALE_SIM_SIM_HPP
