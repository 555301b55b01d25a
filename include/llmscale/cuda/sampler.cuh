// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The CUDA sampler: reads a replica's batch occupancy and KV-cache use on the device every
// tick without ever making the engine wait. Compiled by nvcc (everything below needs
// __CUDACC__); included by a host compiler it gives only the plain headers. No Eigen, no Boost.
//
//   CudaBackend / CudaSampler (= BasicSampler<CudaBackend>): the sampler has its own stream,
//     created non-blocking; each launch records an event on the engine stream and makes the
//     sampler's stream wait on it (never the reverse), runs a one-block reduction kernel into
//     one of N buffers of pinned, mapped host memory (written payload-first, sequence number
//     last, after __threadfence_system()) and records a completion event; the host polls that
//     event with cudaEventQuery and never synchronizes. A tick whose next buffer still has a
//     sample in flight launches nothing and is counted. All allocation happens in init.
//   GraphBatchKvSampler: the variant for engines that replay CUDA graphs. Graphs freeze kernel
//     arguments and forbid querying events recorded in a capturing stream, so the kernel writes
//     one fixed mapped slot and takes its sequence number from a device counter; the host polls
//     the slot as a sequence lock.
//
// CUDA runtime errors come back as SamplerError values (cudaError_t and its message); nothing
// here throws after set-up.
#ifndef LLMSCALE_CUDA_SAMPLER_CUH
#define LLMSCALE_CUDA_SAMPLER_CUH

#include "llmscale/cuda/batch_kv.hpp"
#include "llmscale/cuda/sampler.hpp"

#ifdef __CUDACC__

#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

LLMSCALE_NAMESPACE_BEGIN

namespace detail {

/// One sample as the kernel writes it into mapped host memory: `begin`, the payload, then
/// `end`, with system-wide fences between; a reader takes `end`, the payload, then `begin`.
struct alignas(64) BatchKvResult {
  unsigned long long begin;
  long long active;
  long long tokens;
  long long blocks_from_lengths;
  long long blocks_used;
  unsigned long long end;
};

constexpr int batch_kv_threads = 256;

template <class T>
__device__ T batch_kv_block_sum(T v, T* shared) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xFFFFFFFFU, v, offset);
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T total = 0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < batch_kv_threads / 32; ++w) total += shared[w];
  }
  __syncthreads();
  return total;  // meaningful in thread 0
}

/// One block of batch_kv_threads threads, grid-stride over slots and blocks. With `counter`
/// the sequence number is taken from it (the graph variant); otherwise it is `sequence`. (A
/// template, so that the header can be included by several .cu files of one program.)
template <int Threads = batch_kv_threads>
__global__ void __launch_bounds__(Threads)
    batch_kv_reduce(BatchKvView v, BatchKvResult* out, unsigned long long sequence, unsigned long long* counter) {
  static_assert(Threads == batch_kv_threads, "the block sums assume batch_kv_threads threads");
  __shared__ long long shared[batch_kv_threads / 32];
  long long active = 0, tokens = 0, blocks = 0, used = 0;
  for (int i = static_cast<int>(threadIdx.x); i < v.slots; i += batch_kv_threads) {
    const int len = v.seq_lens[i];
    if (len > 0) {
      ++active;
      tokens += len;
      blocks += (static_cast<long long>(len) + v.block_size - 1) / v.block_size;
    }
  }
  if (v.source == KvBlockSource::refcounts) {
    for (long long b = threadIdx.x; b < v.total_blocks; b += batch_kv_threads) used += v.block_refcounts[b] > 0 ? 1 : 0;
  } else if (v.source == KvBlockSource::bitmask) {
    const long long words = (v.total_blocks + 31) / 32;
    for (long long w = threadIdx.x; w < words; w += batch_kv_threads) {
      unsigned int bits = v.used_block_mask[w];
      const long long left = v.total_blocks - w * 32;
      if (left < 32) bits &= (1U << left) - 1U;
      used += __popc(bits);
    }
  }
  active = batch_kv_block_sum(active, shared);
  tokens = batch_kv_block_sum(tokens, shared);
  blocks = batch_kv_block_sum(blocks, shared);
  used = batch_kv_block_sum(used, shared);
  if (threadIdx.x != 0) return;
  if (v.source == KvBlockSource::lengths) {
    used = blocks;
  } else if (v.source == KvBlockSource::free_count) {
    const long long free = *v.free_blocks;
    used = v.total_blocks - (free < 0 ? 0 : (free > v.total_blocks ? v.total_blocks : free));
  }
  if (counter != nullptr) sequence = ++*counter;
  volatile BatchKvResult* r = out;
  r->begin = sequence;
  __threadfence_system();
  r->active = active;
  r->tokens = tokens;
  r->blocks_from_lengths = blocks;
  r->blocks_used = used;
  __threadfence_system();
  r->end = sequence;
}

inline SamplerError cuda_error(cudaError_t e) noexcept {
  return SamplerError{static_cast<int>(e), e == cudaSuccess ? "" : cudaGetErrorString(e)};
}

/// Reads a result as a sequence lock: true when it holds one intact sample of `sequence`
/// (any sequence when `sequence` is 0), written into `out`.
inline bool read_batch_kv_result(const BatchKvResult* result, const BatchKvView& view, std::uint64_t sequence,
                                 BatchKvSample& out) noexcept {
  const volatile BatchKvResult* r = result;
  const unsigned long long end = r->end;
  std::atomic_thread_fence(std::memory_order_acquire);
  BatchKvSample s;
  s.active_slots = static_cast<std::int32_t>(r->active);
  s.tokens = r->tokens;
  s.blocks_from_lengths = r->blocks_from_lengths;
  s.blocks_used = r->blocks_used;
  std::atomic_thread_fence(std::memory_order_acquire);
  const unsigned long long begin = r->begin;
  if (begin != end || end == 0 || (sequence != 0 && end != sequence)) return false;
  s.sequence = end;
  s.slots = view.slots;
  s.block_size = view.block_size;
  s.total_blocks = view.total_blocks;
  out = s;
  return true;
}

}  // namespace detail

/// The CUDA backend of BasicSampler. Move-only; owns its stream, events and mapped buffers.
class CudaBackend {
 public:
  static constexpr std::size_t max_buffers = 64;

  CudaBackend() = default;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  CudaBackend(CudaBackend&& o) noexcept { swap(o); }
  CudaBackend& operator=(CudaBackend&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }
  ~CudaBackend() { release(); }

  /// Creates the sampler's non-blocking stream, its events and `buffers` mapped result
  /// buffers, on the current device. `device_view` holds device pointers and must be usable
  /// (BatchKvView::problem() empty); `buffers` in [1, max_buffers]. On error, what was
  /// created is released and the error returned.
  SamplerError init(cudaStream_t engine_stream, const BatchKvView& device_view, std::size_t buffers) noexcept {
    release();
    if (buffers < 1 || buffers > max_buffers) return SamplerError{static_cast<int>(cudaErrorInvalidValue), "buffers out of [1, 64]"};
    engine_ = engine_stream;
    view_ = device_view;
    buffers_ = buffers;
    cudaError_t e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&engine_ready_, cudaEventDisableTiming);
    for (std::size_t i = 0; i < buffers && e == cudaSuccess; ++i) e = cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming);
    if (e == cudaSuccess) {
      e = cudaHostAlloc(reinterpret_cast<void**>(&host_), buffers * sizeof(detail::BatchKvResult), cudaHostAllocMapped);
    }
    if (e == cudaSuccess) e = cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_), host_, 0);
    if (e == cudaSuccess) {
      for (std::size_t i = 0; i < buffers; ++i) host_[i] = detail::BatchKvResult{};
    } else {
      release();
    }
    return detail::cuda_error(e);
  }

  SamplerError launch(std::size_t buffer, std::uint64_t sequence) noexcept {
    if (host_ == nullptr) return SamplerError{static_cast<int>(cudaErrorNotReady), "sampler not initialised"};
    // The engine stream only gets an event recorded on it; the sampler's stream waits.
    cudaError_t e = cudaEventRecord(engine_ready_, engine_);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(stream_, engine_ready_, 0);
    if (e != cudaSuccess) return detail::cuda_error(e);
    detail::batch_kv_reduce<><<<1, detail::batch_kv_threads, 0, stream_>>>(view_, device_ + buffer, sequence, nullptr);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaEventRecord(done_[buffer], stream_);
    return detail::cuda_error(e);
  }

  SamplerCompletion query(std::size_t buffer, SamplerError& error) noexcept {
    const cudaError_t e = cudaEventQuery(done_[buffer]);
    if (e == cudaSuccess) return SamplerCompletion::done;
    if (e == cudaErrorNotReady) return SamplerCompletion::pending;
    error = detail::cuda_error(e);
    return SamplerCompletion::failed;
  }

  bool read(std::size_t buffer, std::uint64_t sequence, BatchKvSample& out) noexcept {
    return detail::read_batch_kv_result(host_ + buffer, view_, sequence, out);
  }

  /// The sampler's own stream.
  [[nodiscard]] cudaStream_t stream() const noexcept { return stream_; }

 private:
  void release() noexcept {
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);  // nothing may still write the buffers
    if (host_ != nullptr) cudaFreeHost(host_);
    for (cudaEvent_t& ev : done_) {
      if (ev != nullptr) cudaEventDestroy(ev);
      ev = nullptr;
    }
    if (engine_ready_ != nullptr) cudaEventDestroy(engine_ready_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    host_ = device_ = nullptr;
    engine_ready_ = nullptr;
    stream_ = nullptr;
    buffers_ = 0;
  }
  void swap(CudaBackend& o) noexcept {
    std::swap(engine_, o.engine_);
    std::swap(stream_, o.stream_);
    std::swap(engine_ready_, o.engine_ready_);
    std::swap(done_, o.done_);
    std::swap(host_, o.host_);
    std::swap(device_, o.device_);
    std::swap(view_, o.view_);
    std::swap(buffers_, o.buffers_);
  }

  cudaStream_t engine_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t engine_ready_ = nullptr;
  std::array<cudaEvent_t, max_buffers> done_{};
  detail::BatchKvResult* host_ = nullptr;
  detail::BatchKvResult* device_ = nullptr;
  BatchKvView view_{};
  std::size_t buffers_ = 0;
};

using CudaSampler = BasicSampler<CudaBackend>;

/// A CudaSampler of `device_view` (device pointers) sampling after the work enqueued on
/// `engine_stream`. Throws std::invalid_argument for an unusable view or config; a CUDA error
/// at set-up comes back in `error` (the sampler's ticks then report errors).
inline CudaSampler make_cuda_sampler(cudaStream_t engine_stream, const BatchKvView& device_view,
                                     const SamplerConfig& config, SamplerError& error) {
  const std::string p = device_view.problem();
  if (!p.empty()) throw std::invalid_argument(p);
  const std::string c = config.problem();
  if (!c.empty()) throw std::invalid_argument(c);
  CudaBackend backend;
  error = backend.init(engine_stream, device_view, static_cast<std::size_t>(config.buffers));
  return CudaSampler(std::move(backend), config);
}

/// What a GraphBatchKvSampler has seen.
struct GraphSamplerStats {
  std::uint64_t polls = 0;    ///< calls to poll
  std::uint64_t samples = 0;  ///< polls that found a newer intact sample
  std::uint64_t torn = 0;     ///< polls that caught the kernel mid-write
  std::uint64_t missed = 0;   ///< samples overwritten before a poll saw them
};

/// The CUDA-graph variant: `enqueue` may be captured into a graph (fixed arguments, no events);
/// the host polls the one mapped result slot as a sequence lock. Move-only.
class GraphBatchKvSampler {
 public:
  GraphBatchKvSampler() = default;
  GraphBatchKvSampler(const GraphBatchKvSampler&) = delete;
  GraphBatchKvSampler& operator=(const GraphBatchKvSampler&) = delete;
  GraphBatchKvSampler(GraphBatchKvSampler&& o) noexcept { swap(o); }
  GraphBatchKvSampler& operator=(GraphBatchKvSampler&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }
  ~GraphBatchKvSampler() { release(); }

  /// Allocates the mapped result slot and the device sequence counter. Throws
  /// std::invalid_argument for an unusable view; CUDA errors come back as values.
  SamplerError init(const BatchKvView& device_view) {
    const std::string p = device_view.problem();
    if (!p.empty()) throw std::invalid_argument(p);
    release();
    view_ = device_view;
    cudaError_t e = cudaHostAlloc(reinterpret_cast<void**>(&host_), sizeof(detail::BatchKvResult), cudaHostAllocMapped);
    if (e == cudaSuccess) {
      *host_ = detail::BatchKvResult{};
      e = cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_), host_, 0);
    }
    if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&counter_), sizeof(unsigned long long));
    if (e == cudaSuccess) e = cudaMemset(counter_, 0, sizeof(unsigned long long));
    if (e != cudaSuccess) release();
    return detail::cuda_error(e);
  }

  /// Enqueues one sample on `stream` (typically the engine's own, inside its captured graph):
  /// legal during stream capture; each replay produces the next sequence number.
  SamplerError enqueue(cudaStream_t stream) const noexcept {
    if (host_ == nullptr) return SamplerError{static_cast<int>(cudaErrorNotReady), "sampler not initialised"};
    detail::batch_kv_reduce<><<<1, detail::batch_kv_threads, 0, stream>>>(view_, device_, 0, counter_);
    return detail::cuda_error(cudaGetLastError());
  }

  /// Never blocks: true when the slot holds an intact sample newer than the last one polled,
  /// then written to `out` with `sampled_at = now` (when the host first saw it).
  bool poll(TimePoint now, BatchKvSample& out) noexcept {
    ++stats_.polls;
    if (host_ == nullptr) return false;
    BatchKvSample s;
    if (!detail::read_batch_kv_result(host_, view_, 0, s)) {
      const volatile detail::BatchKvResult* r = host_;
      if (r->end != r->begin) ++stats_.torn;
      return false;
    }
    if (s.sequence <= last_.sequence) return false;
    if (last_.sequence != 0) stats_.missed += s.sequence - last_.sequence - 1;
    s.sampled_at = now;
    last_ = s;
    out = s;
    ++stats_.samples;
    return true;
  }

  /// The newest sample polled (all zero before the first).
  [[nodiscard]] const BatchKvSample& latest() const noexcept { return last_; }
  /// Seconds since the newest sample was first seen (0 before the first).
  [[nodiscard]] double age_s(TimePoint now) const noexcept {
    return last_.sequence != 0 && now > last_.sampled_at ? to_seconds(now - last_.sampled_at) : 0.0;
  }
  /// No sample yet, or none seen for longer than `stale_after`.
  [[nodiscard]] bool stale(TimePoint now, Duration stale_after) const noexcept {
    return last_.sequence == 0 || now - last_.sampled_at > stale_after;
  }
  [[nodiscard]] const GraphSamplerStats& stats() const noexcept { return stats_; }

 private:
  void release() noexcept {
    if (host_ != nullptr) {
      cudaDeviceSynchronize();  // no graph replay may still write the slot
      cudaFreeHost(host_);
    }
    if (counter_ != nullptr) cudaFree(counter_);
    host_ = device_ = nullptr;
    counter_ = nullptr;
  }
  void swap(GraphBatchKvSampler& o) noexcept {
    std::swap(view_, o.view_);
    std::swap(host_, o.host_);
    std::swap(device_, o.device_);
    std::swap(counter_, o.counter_);
    std::swap(last_, o.last_);
    std::swap(stats_, o.stats_);
  }

  BatchKvView view_{};
  detail::BatchKvResult* host_ = nullptr;
  detail::BatchKvResult* device_ = nullptr;
  unsigned long long* counter_ = nullptr;
  BatchKvSample last_;
  GraphSamplerStats stats_;
};

LLMSCALE_NAMESPACE_END

#endif  // __CUDACC__

#endif  // LLMSCALE_CUDA_SAMPLER_CUH
