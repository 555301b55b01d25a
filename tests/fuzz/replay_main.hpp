// The replay `main` of a fuzz target built without libFuzzer (LLMSCALE_FUZZ_REPLAY): runs
// LLVMFuzzerTestOneInput on every file of the target's checked-in corpus (LLMSCALE_FUZZ_CORPUS,
// tests/fuzz/corpus/<target>: the seeds and every crash input kept as a regression test), then
// on LLMSCALE_FUZZ_REPLAY_RUNS random inputs of up to 4 KiB from a fixed seed. Include it at
// the end of the target's source.
#ifdef LLMSCALE_FUZZ_REPLAY
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

int main() {
  int files = 0;
#ifdef LLMSCALE_FUZZ_CORPUS
  namespace fs = std::filesystem;
  if (!fs::is_directory(LLMSCALE_FUZZ_CORPUS)) {
    std::fprintf(stderr, "no corpus directory %s\n", LLMSCALE_FUZZ_CORPUS);
    return 1;
  }
  for (const auto& entry : fs::directory_iterator(LLMSCALE_FUZZ_CORPUS)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++files;
  }
  if (files == 0) {
    std::fprintf(stderr, "the corpus %s is empty\n", LLMSCALE_FUZZ_CORPUS);
    return 1;
  }
#endif
  std::mt19937_64 rng(20261129);
  std::vector<std::uint8_t> buf;
  int runs = 0;
  for (; runs < LLMSCALE_FUZZ_REPLAY_RUNS; ++runs) {
    buf.resize(rng() % 4096);
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("%d corpus files and %d random inputs replayed, none failed\n", files, runs);
  return 0;
}
#endif
