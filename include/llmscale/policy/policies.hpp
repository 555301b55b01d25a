// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The policy stage: the concept, the anchors (HPA, KPA, Ray Serve, AIBrix APA, llm-d
// saturation), llmscale's own (SLO, PID, predictive), the Governor and the Autoscaler.
#ifndef LLMSCALE_POLICY_POLICIES_HPP
#define LLMSCALE_POLICY_POLICIES_HPP

#include "llmscale/policy/aibrix_apa.hpp"
#include "llmscale/policy/autoscaler.hpp"
#include "llmscale/policy/governor.hpp"
#include "llmscale/policy/hpa.hpp"
#include "llmscale/policy/kpa.hpp"
#include "llmscale/policy/llmd_saturation.hpp"
#include "llmscale/policy/pid.hpp"
#include "llmscale/policy/predictive.hpp"
#include "llmscale/policy/policy.hpp"
#include "llmscale/policy/ray_serve.hpp"
#include "llmscale/policy/slo.hpp"

#endif  // LLMSCALE_POLICY_POLICIES_HPP
