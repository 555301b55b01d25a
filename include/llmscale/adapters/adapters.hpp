// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The adapters stage: Prometheus pages in (parser, engine presets, ScrapedSignals) and out
// (exposition of a decision), the starting replicas a host infers, the state file.
#ifndef LLMSCALE_ADAPTERS_ADAPTERS_HPP
#define LLMSCALE_ADAPTERS_ADAPTERS_HPP

#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/adapters/exposition.hpp"
#include "llmscale/adapters/histogram_buckets.hpp"
#include "llmscale/adapters/prometheus.hpp"
#include "llmscale/adapters/scraped_signals.hpp"
#include "llmscale/adapters/starting_replicas.hpp"
#include "llmscale/adapters/state_file.hpp"

#endif  // LLMSCALE_ADAPTERS_ADAPTERS_HPP
