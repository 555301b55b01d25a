// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// kv_cache_tokens(): how many tokens of KV cache a vLLM replica holds, from the model's shape
// and the GPUs it runs on, as vLLM sizes it:
//
//   bytes per token = 2 (K and V) x layers x KV heads x head dim x bytes per value
//   cache bytes     = GPUs x GPU memory x gpu_memory_utilization (vLLM's 0.9)
//                     - weights - activation peak (profiled by vLLM at start-up)
//   tokens          = cache bytes / bytes per token
//
// With grouped-query attention the KV heads are fewer than the attention heads (llama2-70b:
// 8 of 64), which is what makes a 70B model's cache 320 KiB a token rather than 2.5 MiB.
// Example, llama2-70b (80 layers, 8 KV heads of 128, fp16) with TP4 on H100-80GB:
// 327,680 bytes a token; 4 x 80 GB x 0.9 = 288 GB, less 138 GB of weights and about 19 GB of
// activations and CUDA graphs, leaves about 131 GB: 400,000 tokens (docs/simulator.md's default).
#ifndef LLMSCALE_MODEL_KV_CAPACITY_HPP
#define LLMSCALE_MODEL_KV_CAPACITY_HPP

#include <algorithm>
#include <cmath>

#include "llmscale/core/abi.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The shape of a model's attention, as far as the KV cache is concerned.
struct KvCacheShape {
  int layers = 80;         ///< transformer layers
  int kv_heads = 8;        ///< key/value heads (grouped-query attention: fewer than the query heads)
  int head_dim = 128;      ///< values per head
  double bytes_per_value = 2;  ///< fp16/bf16: 2; fp8 KV cache: 1
  double weight_bytes = 138e9; ///< the model's weights across all its GPUs

  /// KV-cache bytes one token takes: keys and values in every layer.
  [[nodiscard]] double bytes_per_token() const noexcept {
    return 2.0 * layers * kv_heads * head_dim * bytes_per_value;
  }
};

/// The GPUs a replica runs on and vLLM's memory settings.
struct KvCacheMemory {
  int gpus = 4;                         ///< tensor parallelism x pipeline parallelism
  double gpu_memory_bytes = 80e9;       ///< per GPU (H100-80GB)
  double gpu_memory_utilization = 0.9;  ///< vLLM's default
  double activation_bytes = 19e9;       ///< activation peak, CUDA graphs and other buffers, all GPUs
};

/// Tokens of KV cache one replica holds (0 when the weights and activations leave no room).
[[nodiscard]] inline double kv_cache_tokens(const KvCacheShape& shape, const KvCacheMemory& memory) noexcept {
  const double per_token = shape.bytes_per_token();
  const double free = memory.gpus * memory.gpu_memory_bytes * memory.gpu_memory_utilization - shape.weight_bytes -
                      memory.activation_bytes;
  if (!(per_token > 0) || !(free > 0)) return 0.0;
  return std::floor(free / per_token);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_KV_CAPACITY_HPP
