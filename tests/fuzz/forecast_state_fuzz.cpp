// Fuzz target: any bytes as a saved forecaster state (what --state-file reloads after a
// restart), given to load_state of Holt-Winters, the Kalman trend and the autoregressive
// model, each after a few updates (the first byte picks which). It fails if anything crashes
// (run under ASan/UBSan), if a refused state changed the forecaster, or if an accepted one
// makes a forecast that is NaN (a NaN level would reach every plan) or an upper bound below
// its mean, or does not save back to the text that loads it again.
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-forecast_state, and
// everywhere as a plain test that replays the corpus and a fixed set of random inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llmscale/forecast/forecasters.hpp"

namespace {

template <class F>
void drive(F f, std::string_view text) {
  for (int i = 0; i < 16; ++i) f.update(10.0 + (i % 4));
  const std::string before = f.save_state();
  if (!f.load_state(text)) {
    if (f.save_state() != before) std::abort();  // a refused state leaves nothing behind
    return;
  }
  for (const int h : {1, 7, 60}) {
    const llmscale::Forecast fc = f.forecast(h, 0.9);
    if (std::isnan(fc.mean) || std::isnan(fc.upper) || fc.upper < fc.mean) std::abort();
  }
  const std::string saved = f.save_state();
  F again = f;
  if (!again.load_state(saved) || again.save_state() != saved) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      llmscale::HoltWintersConfig c;
      c.season_buckets = 4;
      drive(llmscale::HoltWinters(c), text);
      break;
    }
    case 1: drive(llmscale::KalmanTrend(), text); break;
    default: {
      llmscale::AutoregressiveConfig c;
      c.order = 2;
      c.window = 12;
      drive(llmscale::Autoregressive(c), text);
      break;
    }
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
