// Fuzz target: any bytes as a latency profile, in both formats the loaders read (the first
// byte picks Splitwise CSV or DistServe JSON, and the tensor parallelism asked for). It fails
// if anything crashes (run under ASan/UBSan), if a loader throws anything but ProfileError,
// or if a profile it accepts gives a time that is not finite and positive where sizing asks
// (one short and one long prompt, a decode step at small and large batch).
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-profile, and everywhere as a
// plain test that replays the corpus and a fixed set of random inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/profile_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int tp = 1 + (data[0] >> 1) % 8;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  llmscale::LatencyProfile p;
  try {
    p = (data[0] & 1) != 0 ? llmscale::read_distserve_json(in, "m", tp)
                           : llmscale::read_splitwise_csv(in, "m", "h", tp);
  } catch (const llmscale::ProfileError&) {
    return 0;
  }
  for (const double batch : {1.0, 8.0, 256.0}) {
    for (const double tokens : {1.0, 512.0, 8192.0}) {
      const double prefill = p.prefill_s(batch, tokens), decode = p.decode_step_s(batch, tokens);
      if (!std::isfinite(prefill) || !std::isfinite(decode) || prefill < 0 || decode < 0) std::abort();
    }
  }
  if (!(p.prefill_s(1, 1) > 0) || !(p.decode_step_s(1, 1) > 0)) std::abort();
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
