// An engine loop with the CUDA sampler: each step the "engine" runs a decode kernel on its own
// stream and updates its per-slot sequence lengths on the device; the control loop ticks the
// sampler (never waiting on the GPU), turns the newest sample into this replica's engine
// gauges, and prints what the signals see. Without a CUDA device it says so and exits 0.
#include <cstdio>
#include <vector>

#include "llmscale/cuda/sampler.cuh"
#include "llmscale/signals/engine_gauges.hpp"

namespace {

// One decode step: every active slot grows by a token; a finished slot (4,096 tokens) frees up
// and a new request of 300 prompt tokens takes it.
__global__ void decode_step(int* seq_lens, int slots) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= slots) return;
  int len = seq_lens[i];
  len = len >= 4096 ? 300 : (len > 0 ? len + 1 : 0);
  seq_lens[i] = len;
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: nothing to sample\n");
    return 0;
  }
  constexpr int slots = 128;
  std::vector<int> initial(slots, 0);
  for (int i = 0; i < slots; i += 2) initial[static_cast<std::size_t>(i)] = 100 + 31 * i;  // half the batch busy
  int* seq_lens = nullptr;
  cudaMalloc(&seq_lens, slots * sizeof(int));
  cudaMemcpy(seq_lens, initial.data(), slots * sizeof(int), cudaMemcpyHostToDevice);
  cudaStream_t engine = nullptr;
  cudaStreamCreateWithFlags(&engine, cudaStreamNonBlocking);

  llmscale::BatchKvView view;  // where this engine keeps its state
  view.seq_lens = seq_lens;
  view.slots = slots;
  view.block_size = 16;
  view.total_blocks = 32768;  // 512k tokens of KV cache
  llmscale::SamplerError error;
  llmscale::CudaSampler sampler = llmscale::make_cuda_sampler(engine, view, llmscale::SamplerConfig{}, error);
  if (error) {
    std::printf("sampler: %s\n", error.message);
    return 1;
  }
  llmscale::EngineGauges gauges(1);
  for (int step = 1; step <= 2000; ++step) {
    decode_step<<<1, slots, 0, engine>>>(seq_lens, slots);
    const llmscale::TimePoint now = llmscale::Clock::now();
    const llmscale::SamplerTick t = sampler.tick(now);  // harvest what finished, launch the next
    if (t.error) std::printf("sampler error %d: %s\n", t.error.code, t.error.message);
    if (t.harvested > 0) gauges.set(0, llmscale::to_replica_gauges(sampler.latest(), /*queue_length=*/0));
    if (step % 500 == 0) {
      cudaStreamSynchronize(engine);  // the engine's own pacing; the sampler never asks for it
      const llmscale::FleetGauges f = gauges.summarize(llmscale::Clock::now(), std::chrono::seconds(2));
      std::printf("step %4d: batch occupancy %.2f, KV use %.3f, sample #%llu (%.1f ms old); %llu skipped in flight\n",
                  step, f.batch_occupancy, f.kv_utilization,
                  static_cast<unsigned long long>(sampler.latest().sequence), sampler.age_s(llmscale::Clock::now()) * 1e3,
                  static_cast<unsigned long long>(sampler.stats().skipped_in_flight));
    }
  }
  cudaStreamSynchronize(engine);
  cudaStreamDestroy(engine);
  cudaFree(seq_lens);
  return 0;
}
