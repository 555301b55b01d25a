// llmscale::cuda used from a host-compiled file: sampler.cuh gives the plain part (no CUDA).
#include <cstdio>

#include <llmscale/cuda/sampler.cuh>

int main() {
  int lens[4] = {16, 0, 17, 1};  // 1 + 2 + 1 = 4 blocks of 16 tokens
  llmscale::BatchKvView v;
  v.seq_lens = lens;
  v.slots = 4;
  v.block_size = 16;
  const llmscale::BatchKvSample s = llmscale::reduce_batch_kv(v);
  if (!v.problem().empty() || s.active_slots != 3 || s.blocks_used != 4) return 1;
  std::printf("cuda host ok\n");
  return 0;
}
