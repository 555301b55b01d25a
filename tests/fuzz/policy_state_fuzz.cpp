// Fuzz target: any bytes as what llmscale-scaler --state-file reads back after a restart: the
// file (parse_state_file) and the policy state inside it, given to load_state of
// llmscale-predictive and of a PID over llmscale-slo, each after a few minutes of ticks (the
// first byte picks which). It fails if anything crashes (run under ASan/UBSan), if a refused
// state changed the policy, or if an accepted one proposes a replica count that is negative or
// from a NaN, or does not save back to a text that loads again into the same state.
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-policy_state, and
// everywhere as a plain test that replays the corpus and a fixed set of random inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llmscale/adapters/state_file.hpp"
#include "llmscale/policy/pid.hpp"
#include "llmscale/policy/predictive.hpp"

namespace {

llmscale::SloPolicy slo() {
  return llmscale::SloPolicy(llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{10, 0, 1}));
}

// small windows, so that a fuzzer's input can be a whole state
llmscale::PredictiveConfig small() {
  llmscale::PredictiveConfig c;
  c.cold_start_s = 60;
  c.ratio_window_s = 300;
  c.level_window_s = 30;
  return c;
}

llmscale::Signals signals(double t) {
  llmscale::Signals s;
  s.at = llmscale::at_seconds(t);
  s.arrival_rate = 10 + static_cast<double>(static_cast<int>(t) % 7);
  s.mean_prompt_tokens = 1000;
  s.mean_output_tokens = 200;
  s.ttft_p99_s = static_cast<int>(t) % 50 < 10 ? 3.0 : 0.3;
  return s;
}

template <class P>
void drive(P p, std::string_view text) {
  llmscale::FleetState fleet(4);
  double t = 1;
  for (; t <= 200; t += 1) (void)p.propose(llmscale::at_seconds(t), signals(t), fleet);
  const auto now = llmscale::at_seconds(t);
  const std::string before = p.save_state(now);
  if (!p.load_state(text, now)) {
    if (p.save_state(now) != before) std::abort();  // a refused state leaves nothing behind
    return;
  }
  const std::string saved = p.save_state(now);
  P again = p;
  if (!again.load_state(saved, now) || again.save_state(now) != saved) std::abort();
  for (int i = 0; i < 3; ++i, t += 1) {
    const llmscale::Proposal out = p.propose(llmscale::at_seconds(t), signals(t), fleet);
    if (out.replicas < 0 || (std::isnan(out.raw) && out.replicas != fleet.current())) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: drive(llmscale::PredictivePolicy<>(slo(), small()), text); break;
    case 1: drive(llmscale::PidPolicy<>(slo()), text); break;
    default: {
      std::string error;
      const auto file = llmscale::parse_state_file(text, error);
      if (!file && error.empty()) std::abort();  // a refusal always says why
      if (file && llmscale::parse_state_file(llmscale::format_state_file(*file), error)->state != file->state) std::abort();
      break;
    }
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 300
#include "fuzz/replay_main.hpp"
