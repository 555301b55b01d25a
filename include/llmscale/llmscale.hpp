// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The umbrella header: core, signals, model, forecast and policy. The simulator
// (<llmscale/sim/...>) and the CUDA sampler (<llmscale/cuda/...>) are included on their own.
#ifndef LLMSCALE_LLMSCALE_HPP
#define LLMSCALE_LLMSCALE_HPP

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/core/version.hpp"
#include "llmscale/forecast/forecasters.hpp"
#include "llmscale/model/model.hpp"
#include "llmscale/policy/policies.hpp"
#include "llmscale/signals/signals.hpp"

#endif  // LLMSCALE_LLMSCALE_HPP
