// The CUDA sampler on a GPU: every sample equals the CPU reference of the state the engine
// stream had written before it was requested, for every block source, while engine kernels
// keep the engine stream busy; and the graph variant, captured into a CUDA graph, yields one
// new sample per replay. Exits 77 (CTest's SKIP_RETURN_CODE) when there is no CUDA device.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "llmscale/cuda/sampler.cuh"

bool uninitialised_backend_refuses();  // second_tu.cu

namespace {

int failures = 0;

#define GPU_CHECK(call)                                                                   \
  do {                                                                                    \
    const cudaError_t e_ = (call);                                                        \
    if (e_ != cudaSuccess) {                                                              \
      std::printf("FAIL %s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      return 1;                                                                           \
    }                                                                                     \
  } while (0)

void expect(bool ok, const char* what, long long got, long long want) {
  if (!ok) {
    ++failures;
    if (failures <= 20) std::printf("FAIL %s: got %lld, want %lld\n", what, got, want);
  }
}

// A decode-like engine kernel: reads and writes a buffer for about `spins` iterations per thread.
__global__ void engine_step(float* scratch, int n, int spins) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  float x = scratch[i];
  for (int k = 0; k < spins; ++k) x = x * 0.999f + 0.001f;
  scratch[i] = x;
}

}  // namespace

int main() {
  int devices = 0;
  const cudaError_t probe = cudaGetDeviceCount(&devices);
  if (probe != cudaSuccess || devices == 0) {
    std::printf("skipped: no CUDA device (%s)\n", probe != cudaSuccess ? cudaGetErrorString(probe) : "count 0");
    return 77;
  }
  expect(uninitialised_backend_refuses(), "an uninitialised sampler refuses to launch", 0, 1);
  constexpr int slots = 512;
  constexpr std::int64_t total_blocks = 20000;
  constexpr int scratch_n = 1 << 20;
  std::int32_t *h_lens = nullptr, *h_refs = nullptr, *d_lens = nullptr, *d_refs = nullptr;
  std::uint32_t *h_mask = nullptr, *d_mask = nullptr;
  std::int64_t *h_free = nullptr, *d_free = nullptr;
  float* scratch = nullptr;
  const std::size_t words = (total_blocks + 31) / 32;
  GPU_CHECK(cudaMallocHost(&h_lens, slots * sizeof(std::int32_t)));
  GPU_CHECK(cudaMallocHost(&h_refs, total_blocks * sizeof(std::int32_t)));
  GPU_CHECK(cudaMallocHost(&h_mask, words * sizeof(std::uint32_t)));
  GPU_CHECK(cudaMallocHost(&h_free, sizeof(std::int64_t)));
  GPU_CHECK(cudaMalloc(&d_lens, slots * sizeof(std::int32_t)));
  GPU_CHECK(cudaMalloc(&d_refs, total_blocks * sizeof(std::int32_t)));
  GPU_CHECK(cudaMalloc(&d_mask, words * sizeof(std::uint32_t)));
  GPU_CHECK(cudaMalloc(&d_free, sizeof(std::int64_t)));
  GPU_CHECK(cudaMalloc(&scratch, scratch_n * sizeof(float)));
  GPU_CHECK(cudaMemset(scratch, 0, scratch_n * sizeof(float)));
  cudaStream_t engine = nullptr;
  GPU_CHECK(cudaStreamCreateWithFlags(&engine, cudaStreamNonBlocking));

  llmscale::BatchKvView host_view;
  host_view.slots = slots;
  host_view.block_size = 16;
  host_view.total_blocks = total_blocks;
  host_view.seq_lens = h_lens;
  host_view.block_refcounts = h_refs;
  host_view.used_block_mask = h_mask;
  host_view.free_blocks = h_free;
  llmscale::BatchKvView device_view = host_view;
  device_view.seq_lens = d_lens;
  device_view.block_refcounts = d_refs;
  device_view.used_block_mask = d_mask;
  device_view.free_blocks = d_free;

  std::mt19937_64 rng(7);
  int compared = 0;
  long long skipped = 0;
  for (int source = 0; source < 4; ++source) {
    host_view.source = device_view.source = static_cast<llmscale::KvBlockSource>(source);
    llmscale::SamplerError error;
    llmscale::CudaSampler sampler = llmscale::make_cuda_sampler(engine, device_view, llmscale::SamplerConfig{}, error);
    if (error) {
      std::printf("FAIL init: %s\n", error.message);
      return 1;
    }
    for (int round = 0; round < 25; ++round) {
      for (int i = 0; i < slots; ++i) h_lens[i] = rng() % 4 == 0 ? 0 : static_cast<std::int32_t>(rng() % 9000);
      for (std::int64_t b = 0; b < total_blocks; ++b) h_refs[b] = static_cast<std::int32_t>(rng() % 3);
      for (std::size_t w = 0; w < words; ++w) h_mask[w] = static_cast<std::uint32_t>(rng());
      *h_free = static_cast<std::int64_t>(rng() % total_blocks);
      const llmscale::BatchKvSample want = llmscale::reduce_batch_kv(host_view);
      // the engine writes its state, computes, the sampler is asked, the engine computes on
      GPU_CHECK(cudaMemcpyAsync(d_lens, h_lens, slots * sizeof(std::int32_t), cudaMemcpyHostToDevice, engine));
      GPU_CHECK(cudaMemcpyAsync(d_refs, h_refs, total_blocks * sizeof(std::int32_t), cudaMemcpyHostToDevice, engine));
      GPU_CHECK(cudaMemcpyAsync(d_mask, h_mask, words * sizeof(std::uint32_t), cudaMemcpyHostToDevice, engine));
      GPU_CHECK(cudaMemcpyAsync(d_free, h_free, sizeof(std::int64_t), cudaMemcpyHostToDevice, engine));
      engine_step<<<scratch_n / 256, 256, 0, engine>>>(scratch, scratch_n, 2000);
      const auto t = sampler.tick(llmscale::Clock::now());
      if (!t.launched) ++skipped;
      const std::uint64_t target = sampler.stats().launched;  // this round's sample
      engine_step<<<scratch_n / 256, 256, 0, engine>>>(scratch, scratch_n, 2000);  // runs alongside the sample
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (sampler.latest().sequence < target && std::chrono::steady_clock::now() < deadline) {
        const auto u = sampler.tick(llmscale::Clock::now());  // harvests; may launch more (same state)
        if (u.error) {
          std::printf("FAIL tick: %s\n", u.error.message);
          return 1;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      // Before the host writes the next state, let every sample in flight finish on this one.
      GPU_CHECK(cudaStreamSynchronize(engine));
      GPU_CHECK(cudaStreamSynchronize(sampler.backend().stream()));
      // this round's sample, or one requested after it (same state)
      expect(sampler.latest().sequence >= target, "sample harvested", static_cast<long long>(sampler.latest().sequence),
             static_cast<long long>(target));
      const llmscale::BatchKvSample& got = sampler.latest();
      expect(got.active_slots == want.active_slots, "active slots", got.active_slots, want.active_slots);
      expect(got.tokens == want.tokens, "tokens", got.tokens, want.tokens);
      expect(got.blocks_from_lengths == want.blocks_from_lengths, "blocks from lengths", got.blocks_from_lengths,
             want.blocks_from_lengths);
      expect(got.blocks_used == want.blocks_used, "blocks used", got.blocks_used, want.blocks_used);
      ++compared;
    }
    // drain: every launched sample is harvested or torn; none torn on a healthy device
    for (int i = 0; i < 1000 && sampler.in_flight() > 0; ++i) {
      sampler.tick(llmscale::Clock::now());
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    expect(sampler.stats().torn == 0, "torn samples", static_cast<long long>(sampler.stats().torn), 0);
    expect(sampler.stats().errors == 0, "errors", static_cast<long long>(sampler.stats().errors), 0);
  }

  // The graph variant: captured once, replayed three times, polled without blocking.
  host_view.source = device_view.source = llmscale::KvBlockSource::bitmask;
  llmscale::GraphBatchKvSampler graph_sampler;
  const llmscale::SamplerError ge = graph_sampler.init(device_view);
  if (ge) {
    std::printf("FAIL graph init: %s\n", ge.message);
    return 1;
  }
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  GPU_CHECK(cudaStreamBeginCapture(engine, cudaStreamCaptureModeGlobal));
  engine_step<<<scratch_n / 256, 256, 0, engine>>>(scratch, scratch_n, 100);
  const llmscale::SamplerError ce = graph_sampler.enqueue(engine);
  GPU_CHECK(cudaStreamEndCapture(engine, &graph));
  if (ce) {
    std::printf("FAIL enqueue under capture: %s\n", ce.message);
    return 1;
  }
  GPU_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < 3; ++i) GPU_CHECK(cudaGraphLaunch(exec, engine));
  GPU_CHECK(cudaStreamSynchronize(engine));
  llmscale::BatchKvSample g;
  const bool fresh = graph_sampler.poll(llmscale::Clock::now(), g);
  const llmscale::BatchKvSample want = llmscale::reduce_batch_kv(host_view);
  expect(fresh, "graph sample polled", fresh, 1);
  expect(g.sequence == 3, "graph sequence after 3 replays", static_cast<long long>(g.sequence), 3);
  expect(g.blocks_used == want.blocks_used, "graph blocks used", g.blocks_used, want.blocks_used);
  expect(!graph_sampler.poll(llmscale::Clock::now(), g), "no new graph sample without a replay", 1, 0);

  GPU_CHECK(cudaGraphExecDestroy(exec));
  GPU_CHECK(cudaGraphDestroy(graph));
  GPU_CHECK(cudaStreamDestroy(engine));
  std::printf("%s: %d samples compared with the CPU reference (4 block sources), %lld first ticks skipped, graph variant %s\n",
              failures == 0 ? "ok" : "FAILED", compared, skipped, fresh ? "polled" : "missing");
  return failures == 0 ? 0 : 1;
}
