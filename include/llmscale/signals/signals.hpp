// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// All of the signals stage: the recorder, engine gauges, estimators and the snapshot.
#ifndef LLMSCALE_SIGNALS_SIGNALS_HPP
#define LLMSCALE_SIGNALS_SIGNALS_HPP

#include "llmscale/signals/collector.hpp"
#include "llmscale/signals/engine_gauges.hpp"
#include "llmscale/signals/ewma.hpp"
#include "llmscale/signals/knative_window.hpp"
#include "llmscale/signals/latency_window.hpp"
#include "llmscale/signals/log_histogram.hpp"
#include "llmscale/signals/recorder.hpp"
#include "llmscale/signals/sliding_extremum.hpp"
#include "llmscale/signals/snapshot.hpp"
#include "llmscale/signals/streaming_stats.hpp"
#include "llmscale/signals/window_sum.hpp"
#include "llmscale/signals/windowed_quantiles.hpp"

#endif  // LLMSCALE_SIGNALS_SIGNALS_HPP
