// The replay `main` of a fuzz target built without libFuzzer (LLMSCALE_FUZZ_REPLAY): runs
// LLVMFuzzerTestOneInput on LLMSCALE_FUZZ_REPLAY_RUNS random inputs of up to 4 KiB from a fixed
// seed. Include it at the end of the target's source.
#ifdef LLMSCALE_FUZZ_REPLAY
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  std::mt19937_64 rng(20261129);
  std::vector<std::uint8_t> buf;
  int runs = 0;
  for (; runs < LLMSCALE_FUZZ_REPLAY_RUNS; ++runs) {
    buf.resize(rng() % 4096);
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("%d inputs replayed, none failed\n", runs);
  return 0;
}
#endif
