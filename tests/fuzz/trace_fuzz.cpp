// Fuzz target: any bytes as a trace file in each of the six formats (azure, csv, mooncake,
// burstgpt, servegen, llmscale; the first byte picks the format (its low 3 bits), whether
// strict, and the rate scale), read through the replay's path: TraceReader, then ScaledTrace
// (a rate series through RateSeriesTrace for servegen and llmscale). It fails if anything
// crashes (run under ASan/UBSan), if a request comes out with a NaN, infinite or negative
// arrival, fewer than 1 prompt or output token, or out of time order, if more requests come out
// than the rate scale allows, or if anything but a record's version line refuses a file.
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-trace, and everywhere as a
// plain test that replays the corpus and a fixed set of random inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "llmscale/sim/trace.hpp"
#include "llmscale/sim/workload.hpp"

namespace {

void check(const llmscale::TraceRequest& r, double& last) {
  if (!std::isfinite(r.arrival_s) || r.arrival_s < 0 || r.arrival_s < last) std::abort();
  if (!(r.prompt_tokens >= 1) || !(r.output_tokens >= 1)) std::abort();
  last = r.arrival_s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // the low bits alone, so that the strict and scale bits leave the format as it is
  const auto format = static_cast<llmscale::TraceFormat>((data[0] & 0x07) % 6);
  const bool strict = (data[0] & 0x08) != 0;
  const double scale = (data[0] & 0x10) != 0 ? 2.5 : 1.0;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  llmscale::TraceRequest r;
  double last = 0;
  long long n = 0;
  try {
    llmscale::TraceReader reader(in, format, strict, 2.0, 7);  // reads ahead: may meet a bad row
    if (llmscale::is_rate_series(format)) {
      llmscale::RateSeriesTrace rates(reader, scale, 7);
      // a rate series may ask for many requests from a few bytes: a bounded look is enough
      while (n < 20000 && rates.next(r)) {
        check(r, last);
        ++n;
      }
    } else {
      llmscale::ScaledTrace scaled(reader, scale, 7);
      while (scaled.next(r)) {
        check(r, last);
        ++n;
      }
      // each row gives floor(K) or ceil(K) copies: at most 3 per row at K = 2.5
      if (n > 3 * (static_cast<long long>(size) + 1)) std::abort();
    }
  } catch (const llmscale::TraceError&) {
    if (!strict) std::abort();  // only strict mode throws for a malformed row
  } catch (const llmscale::TraceVersionError&) {
    if (format != llmscale::TraceFormat::llmscale) std::abort();  // only a record has a version line
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 2000
#include "fuzz/replay_main.hpp"
