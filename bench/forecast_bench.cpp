// Forecast/<Name>/update: one bucket's update plus a 20-bucket-ahead forecast, the work a
// predictive policy does once a minute. Baseline in the same run: Forecast/Baseline/exp.
#include <benchmark/benchmark.h>

#include <cmath>

#include "llmscale/forecast/forecasters.hpp"

namespace {

void Forecast_Baseline_exp(benchmark::State& state) {
  double x = 0.5;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x);
    benchmark::DoNotOptimize(std::exp(x));
  }
}
BENCHMARK(Forecast_Baseline_exp)->Name("Forecast/Baseline/exp");

template <class F>
void update(benchmark::State& state, F f) {
  double t = 0;
  for (auto _ : state) {
    t += 1;
    f.update(100 + 40 * std::sin(t * 0.00436) + std::fmod(t * 7.3, 5.0));
    benchmark::DoNotOptimize(f.forecast(20, 0.9));
  }
}
void Forecast_HoltWinters_update(benchmark::State& s) { update(s, llmscale::HoltWinters{}); }
BENCHMARK(Forecast_HoltWinters_update)->Name("Forecast/HoltWinters/update");
void Forecast_KalmanTrend_update(benchmark::State& s) { update(s, llmscale::KalmanTrend{}); }
BENCHMARK(Forecast_KalmanTrend_update)->Name("Forecast/KalmanTrend/update");
void Forecast_Autoregressive_update(benchmark::State& s) { update(s, llmscale::Autoregressive{}); }
BENCHMARK(Forecast_Autoregressive_update)->Name("Forecast/Autoregressive/update");

}  // namespace
