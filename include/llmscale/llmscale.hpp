// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The umbrella header: core, signals, model, forecast and policy; it pulls Eigen, Boost and
// <fstream>. A host that needs less includes a stage's own umbrella: <llmscale/core/core.hpp>
// (no Eigen, no Boost), <llmscale/policy/anchors.hpp> (the anchor policies, the governor and the
// Autoscaler; no Eigen, no Boost), <llmscale/signals/signals.hpp>, <llmscale/model/model.hpp>,
// <llmscale/forecast/forecasters.hpp>, <llmscale/policy/policies.hpp>. The simulator
// (<llmscale/sim/sim.hpp>), the adapters (<llmscale/adapters/adapters.hpp>) and the CUDA sampler
// (<llmscale/cuda/...>) are included on their own.
#ifndef LLMSCALE_LLMSCALE_HPP
#define LLMSCALE_LLMSCALE_HPP

#include "llmscale/core/core.hpp"
#include "llmscale/forecast/forecasters.hpp"
#include "llmscale/model/model.hpp"
#include "llmscale/policy/policies.hpp"
#include "llmscale/signals/signals.hpp"

#endif  // LLMSCALE_LLMSCALE_HPP
