// Cuda/...: the CUDA sampler's host cost per tick and its effect on a busy engine stream.
//
//   Cuda/Baseline/event_query   one cudaEventQuery of a finished event (the floor of a tick)
//   Cuda/Sampler/tick           one CudaSampler::tick while an engine loop keeps the GPU busy
//                               (median and p99 of 20,000 ticks, host wall time)
//   Cuda/Engine/loop/baseline   a decode-like engine loop of 400 steps, host-paced (at most 4
//   Cuda/Engine/loop/sampled    steps in flight), without and with a sampler tick after every
//                               step; median of 21 alternated runs each, GPU time by events
//   Cuda/Engine/slowdown        sampled / baseline - 1, in percent (goal: under 1 %)
//
// Standalone (nvcc and the CUDA runtime only, no Google Benchmark): the GPU machine this runs
// on may have nothing else installed, and the alternated runs are not what Google Benchmark's
// repetitions do. `--json FILE` writes the figures in Google Benchmark's JSON shape. Exits 77
// without a CUDA device.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "llmscale/cuda/sampler.cuh"

namespace {

#define BENCH_CHECK(call)                                                                  \
  do {                                                                                     \
    const cudaError_t e_ = (call);                                                         \
    if (e_ != cudaSuccess) {                                                               \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

__global__ void engine_step(float* scratch, int n, int spins) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  float x = scratch[i];
  for (int k = 0; k < spins; ++k) x = x * 0.999f + 0.001f;
  scratch[i] = x;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

struct Figure {
  std::string name;
  double ns;
  std::string note;
};

constexpr int scratch_n = 8 << 20;
constexpr int spins = 400;
constexpr int steps = 400;
constexpr int depth = 4;  // engine steps in flight, as a host-paced serving loop keeps

// One run of the engine loop; GPU milliseconds between its first and last step.
float engine_loop(cudaStream_t engine, float* scratch, std::vector<cudaEvent_t>& done, cudaEvent_t start,
                  cudaEvent_t stop, llmscale::CudaSampler* sampler) {
  BENCH_CHECK(cudaEventRecord(start, engine));
  for (int k = 0; k < steps; ++k) {
    if (k >= depth) {
      while (cudaEventQuery(done[static_cast<std::size_t>(k - depth)]) == cudaErrorNotReady) {
      }
    }
    engine_step<<<scratch_n / 256, 256, 0, engine>>>(scratch, scratch_n, spins);
    BENCH_CHECK(cudaEventRecord(done[static_cast<std::size_t>(k)], engine));
    if (sampler != nullptr) sampler->tick(llmscale::Clock::now());
  }
  BENCH_CHECK(cudaEventRecord(stop, engine));
  BENCH_CHECK(cudaEventSynchronize(stop));
  float ms = 0;
  BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const char* json = nullptr;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = argv[i + 1];
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  BENCH_CHECK(cudaGetDeviceProperties(&prop, 0));

  // an engine's state: 256 slots, 100,000 blocks with a used-block bitmask
  constexpr int slots = 256;
  constexpr long long total_blocks = 100000;
  std::vector<std::int32_t> lens(slots);
  for (int i = 0; i < slots; ++i) lens[static_cast<std::size_t>(i)] = (i * 37) % 3000;
  std::vector<std::uint32_t> mask(static_cast<std::size_t>((total_blocks + 31) / 32), 0x5555AAAAU);
  std::int32_t* d_lens = nullptr;
  std::uint32_t* d_mask = nullptr;
  float* scratch = nullptr;
  BENCH_CHECK(cudaMalloc(&d_lens, lens.size() * sizeof(std::int32_t)));
  BENCH_CHECK(cudaMalloc(&d_mask, mask.size() * sizeof(std::uint32_t)));
  BENCH_CHECK(cudaMalloc(&scratch, scratch_n * sizeof(float)));
  BENCH_CHECK(cudaMemcpy(d_lens, lens.data(), lens.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice));
  BENCH_CHECK(cudaMemcpy(d_mask, mask.data(), mask.size() * sizeof(std::uint32_t), cudaMemcpyHostToDevice));
  BENCH_CHECK(cudaMemset(scratch, 0, scratch_n * sizeof(float)));
  cudaStream_t engine = nullptr;
  BENCH_CHECK(cudaStreamCreateWithFlags(&engine, cudaStreamNonBlocking));
  llmscale::BatchKvView view;
  view.seq_lens = d_lens;
  view.slots = slots;
  view.block_size = 16;
  view.total_blocks = total_blocks;
  view.source = llmscale::KvBlockSource::bitmask;
  view.used_block_mask = d_mask;
  llmscale::SamplerError error;
  llmscale::CudaSampler sampler = llmscale::make_cuda_sampler(engine, view, llmscale::SamplerConfig{}, error);
  if (error) {
    std::fprintf(stderr, "sampler init: %s\n", error.message);
    return 1;
  }
  std::vector<Figure> figures;
  using clock = std::chrono::steady_clock;

  // Baseline: one query of a finished event.
  {
    cudaEvent_t ev = nullptr;
    BENCH_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    BENCH_CHECK(cudaEventRecord(ev, engine));
    BENCH_CHECK(cudaEventSynchronize(ev));
    std::vector<double> ns;
    for (int i = 0; i < 20000; ++i) {
      const auto t0 = clock::now();
      (void)cudaEventQuery(ev);
      ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
    }
    figures.push_back({"Cuda/Baseline/event_query", median(ns), "p99 " + std::to_string(percentile(ns, 0.99))});
    BENCH_CHECK(cudaEventDestroy(ev));
  }

  // The sampler's tick while the engine stream stays busy.
  {
    std::vector<double> ns;
    ns.reserve(20000);
    const llmscale::SamplerStats before = sampler.stats();
    for (int i = 0; i < 20000; ++i) {
      if (i % 50 == 0) engine_step<<<scratch_n / 256, 256, 0, engine>>>(scratch, scratch_n, spins / 4);
      const auto t0 = clock::now();
      sampler.tick(llmscale::Clock::now());
      ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
      if (i % 50 == 25) BENCH_CHECK(cudaStreamSynchronize(engine));  // keep the queue short
    }
    BENCH_CHECK(cudaStreamSynchronize(engine));
    const llmscale::SamplerStats& after = sampler.stats();
    figures.push_back({"Cuda/Sampler/tick", median(ns),
                       "p99 " + std::to_string(percentile(ns, 0.99)) + " ns; launched " +
                           std::to_string(after.launched - before.launched) + ", harvested " +
                           std::to_string(after.harvested - before.harvested) + ", skipped " +
                           std::to_string(after.skipped_in_flight - before.skipped_in_flight) + " of 20000"});
  }

  // The engine loop with and without sampling, alternated.
  {
    std::vector<cudaEvent_t> done(steps);
    for (auto& e : done) BENCH_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    cudaEvent_t start = nullptr, stop = nullptr;
    BENCH_CHECK(cudaEventCreate(&start));
    BENCH_CHECK(cudaEventCreate(&stop));
    engine_loop(engine, scratch, done, start, stop, nullptr);  // warm-up
    std::vector<double> base, sampled;
    const std::uint64_t launched_before = sampler.stats().launched;
    for (int run = 0; run < 21; ++run) {
      base.push_back(engine_loop(engine, scratch, done, start, stop, nullptr));
      sampled.push_back(engine_loop(engine, scratch, done, start, stop, &sampler));
    }
    const double b = median(base), s = median(sampled);
    const auto samples = sampler.stats().launched - launched_before;
    figures.push_back({"Cuda/Engine/loop/baseline", b * 1e6, "ms per 400 steps: " + std::to_string(b)});
    figures.push_back({"Cuda/Engine/loop/sampled", s * 1e6,
                       "ms per 400 steps: " + std::to_string(s) + "; " + std::to_string(samples / 21) + " samples per run"});
    figures.push_back({"Cuda/Engine/slowdown", (s / b - 1.0) * 100.0, "percent (median of 21 alternated runs)"});
    for (auto& e : done) BENCH_CHECK(cudaEventDestroy(e));
  }

  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  for (const Figure& f : figures) std::printf("%-28s %14.1f   %s\n", f.name.c_str(), f.ns, f.note.c_str());
  if (json != nullptr) {
    FILE* out = std::fopen(json, "w");
    if (out == nullptr) return 1;
    std::fprintf(out, "{\"context\": {\"device\": \"%s\"}, \"benchmarks\": [\n", prop.name);
    for (std::size_t i = 0; i < figures.size(); ++i) {
      const char* sep = i + 1 < figures.size() ? "," : "";
      if (figures[i].name == "Cuda/Engine/slowdown") {
        std::fprintf(out, "  {\"name\": \"%s\", \"run_type\": \"iteration\", \"percent\": %.3f, \"label\": \"%s\"}%s\n",
                     figures[i].name.c_str(), figures[i].ns, figures[i].note.c_str(), sep);
      } else {
        std::fprintf(out, "  {\"name\": \"%s\", \"run_type\": \"iteration\", \"cpu_time\": %.3f, \"real_time\": %.3f, "
                          "\"time_unit\": \"ns\", \"label\": \"%s\"}%s\n",
                     figures[i].name.c_str(), figures[i].ns, figures[i].ns, figures[i].note.c_str(), sep);
      }
    }
    std::fprintf(out, "]}\n");
    std::fclose(out);
  }
  return 0;
}
