// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The forecast stage: Holt-Winters, a Kalman local-linear trend and an autoregressive model,
// each updated once per bucket, each with a mean and an upper quantile from its own residuals.
#ifndef LLMSCALE_FORECAST_FORECASTERS_HPP
#define LLMSCALE_FORECAST_FORECASTERS_HPP

#include "llmscale/forecast/autoregressive.hpp"
#include "llmscale/forecast/forecast.hpp"
#include "llmscale/forecast/holt_winters.hpp"
#include "llmscale/forecast/kalman_trend.hpp"

#endif  // LLMSCALE_FORECAST_FORECASTERS_HPP
