// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The core stage: time, the fleet, decisions, configs and numbers. No Eigen, no Boost, no
// <fstream> or <thread>: what every other stage and every host builds on.
#ifndef LLMSCALE_CORE_CORE_HPP
#define LLMSCALE_CORE_CORE_HPP

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/number.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/version.hpp"

#endif  // LLMSCALE_CORE_CORE_HPP
