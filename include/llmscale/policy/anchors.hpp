// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The anchor policies (HPA, KPA, Ray Serve, AIBrix APA, llm-d saturation) with the concept,
// the Governor and the Autoscaler: what a host needs to run a baseline. No Eigen, no Boost, no
// signal collection (checked by core.header_deps).
#ifndef LLMSCALE_POLICY_ANCHORS_HPP
#define LLMSCALE_POLICY_ANCHORS_HPP

#include "llmscale/policy/aibrix_apa.hpp"
#include "llmscale/policy/autoscaler.hpp"
#include "llmscale/policy/governor.hpp"
#include "llmscale/policy/hpa.hpp"
#include "llmscale/policy/kpa.hpp"
#include "llmscale/policy/llmd_saturation.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/policy/ray_serve.hpp"

#endif  // LLMSCALE_POLICY_ANCHORS_HPP
