// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The model stage: Little's law, latency profiles, replica capacity, queueing sizing (M/M/c,
// M/G/c, the batching replica's birth-death queue) and online calibration (RLS).
#ifndef LLMSCALE_MODEL_MODEL_HPP
#define LLMSCALE_MODEL_MODEL_HPP

#include "llmscale/model/batch_queue.hpp"
#include "llmscale/model/kv_capacity.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/littles_law.hpp"
#include "llmscale/model/profile_fit.hpp"
#include "llmscale/model/profile_io.hpp"
#include "llmscale/model/queueing.hpp"
#include "llmscale/model/replica_capacity.hpp"
#include "llmscale/model/replica_sizing.hpp"
#include "llmscale/model/rls.hpp"

#endif  // LLMSCALE_MODEL_MODEL_HPP
