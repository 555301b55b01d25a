// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// BasicSampler<Backend>: the CUDA sampler's state machine (launch, record, query, harvest,
// skip), templated on a backend so that it runs and is tested on any machine. The CUDA backend
// is in sampler.cuh; tests use a fake one.
//
// Every tick: harvest, oldest first, each launched sample whose completion the backend reports
// (stopping at the first still pending, so samples arrive in launch order); then launch a new
// sample into the next buffer if it is free, or skip the launch and count it when every buffer
// still has a sample in flight. Nothing blocks and nothing throws: backend errors come back as
// values (with a message of static storage) and are counted. Buffers are allocated at
// construction.
//
// A Backend provides (checked by `is_sampler_backend_v`, and in C++20 by the concept
// `SamplerBackend`):
//   SamplerError launch(std::size_t buffer, std::uint64_t sequence) noexcept;
//       enqueue a sample of the engine's state, after the engine's work enqueued so far, into
//       `buffer`, tagged `sequence`; never makes the engine wait
//   SamplerCompletion query(std::size_t buffer, SamplerError& error) noexcept;
//       done, pending, or failed (with `error` set); never blocks
//   bool read(std::size_t buffer, std::uint64_t sequence, BatchKvSample& out) noexcept;
//       the finished sample of `buffer`; false when it does not hold `sequence` intact
#ifndef LLMSCALE_CUDA_SAMPLER_HPP
#define LLMSCALE_CUDA_SAMPLER_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/cuda/batch_kv.hpp"

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L && __has_include(<concepts>)
#include <concepts>
#if defined(__cpp_lib_concepts) && __cpp_lib_concepts >= 202002L
#define LLMSCALE_CUDA_HAS_CONCEPTS 1
#endif
#endif

LLMSCALE_NAMESPACE_BEGIN

/// A backend's error as a value: `code` 0 is none; otherwise the backend's code (a
/// `cudaError_t` for CUDA) and a message of static storage duration.
struct SamplerError {
  int code = 0;
  const char* message = "";
  explicit operator bool() const noexcept { return code != 0; }
};

/// Where a launched sample stands.
enum class SamplerCompletion : std::uint8_t { done, pending, failed };

struct SamplerConfig {
  /// Samples that may be in flight at once, [1, 64].
  int buffers = 2;
  /// A sample older than this (seconds since it was requested) is stale, (0, 86400].
  double stale_after_s = 2.0;

  /// Empty when valid; otherwise the field, its value and the allowed range.
  [[nodiscard]] std::string problem() const {
    if (buffers < 1 || buffers > 64) {
      return "cuda_sampler.buffers = " + std::to_string(buffers) + " is out of range; allowed: [1, 64]";
    }
    if (!(stale_after_s > 0.0 && stale_after_s <= 86400.0)) {
      return "cuda_sampler.stale_after_s = " + std::to_string(stale_after_s) + " is out of range; allowed: (0, 86400]";
    }
    return {};
  }
};

/// What a sampler has done since it started.
struct SamplerStats {
  std::uint64_t launched = 0;           ///< samples enqueued
  std::uint64_t harvested = 0;          ///< samples read back intact
  std::uint64_t skipped_in_flight = 0;  ///< ticks that launched nothing: every buffer busy
  std::uint64_t errors = 0;             ///< backend errors (launch or query)
  std::uint64_t torn = 0;               ///< finished samples that did not hold their sequence
};

/// What one tick did.
struct SamplerTick {
  std::size_t harvested = 0;  ///< samples read back this tick
  bool launched = false;      ///< a new sample was enqueued
  bool skipped = false;       ///< no buffer was free
  SamplerError error;         ///< the first backend error of this tick, if any
};

namespace detail {
template <class B>
using sampler_launch_t = decltype(std::declval<B&>().launch(std::size_t{}, std::uint64_t{}));
template <class B>
using sampler_query_t = decltype(std::declval<B&>().query(std::size_t{}, std::declval<SamplerError&>()));
template <class B>
using sampler_read_t =
    decltype(std::declval<B&>().read(std::size_t{}, std::uint64_t{}, std::declval<BatchKvSample&>()));
}  // namespace detail

/// Whether `B` offers what BasicSampler needs of a backend (see the top of this header).
template <class B, class = void>
struct is_sampler_backend : std::false_type {};
template <class B>
struct is_sampler_backend<B, std::void_t<detail::sampler_launch_t<B>, detail::sampler_query_t<B>, detail::sampler_read_t<B>>>
    : std::bool_constant<std::is_same_v<detail::sampler_launch_t<B>, SamplerError> &&
                         std::is_same_v<detail::sampler_query_t<B>, SamplerCompletion> &&
                         std::is_same_v<detail::sampler_read_t<B>, bool>> {};
template <class B>
inline constexpr bool is_sampler_backend_v = is_sampler_backend<B>::value;

#ifdef LLMSCALE_CUDA_HAS_CONCEPTS
/// The C++20 spelling of `is_sampler_backend_v`.
template <class B>
concept SamplerBackend = is_sampler_backend_v<B>;
#endif

template <class Backend>
class BasicSampler {
  static_assert(is_sampler_backend_v<Backend>, "Backend lacks launch, query or read (see llmscale/cuda/sampler.hpp)");

 public:
  /// Takes the backend (which owns its device resources); throws std::invalid_argument for an
  /// invalid config.
  BasicSampler(Backend backend, const SamplerConfig& config)
      : config_(checked(config)),
        stale_after_(from_seconds(config.stale_after_s)),
        backend_(std::move(backend)),
        buffers_(static_cast<std::size_t>(config.buffers)) {}

  /// Harvests finished samples (oldest first), then launches one if a buffer is free or
  /// counts a skip. `now` is when the launched sample is requested (its `sampled_at`).
  SamplerTick tick(TimePoint now) noexcept {
    SamplerTick t;
    harvest(t);
    Buffer& next = buffers_[next_ % buffers_.size()];
    if (next.busy) {
      t.skipped = true;
      ++stats_.skipped_in_flight;
      return t;
    }
    const std::uint64_t sequence = stats_.launched + 1;
    const SamplerError e = backend_.launch(next_ % buffers_.size(), sequence);
    if (e) {
      note(t, e);
      return t;
    }
    next.busy = true;
    next.sequence = sequence;
    next.requested_at = now;
    ++next_;
    ++stats_.launched;
    t.launched = true;
    return t;
  }

  /// Whether a sample has been harvested yet.
  [[nodiscard]] bool has_sample() const noexcept { return stats_.harvested > 0; }
  /// The newest harvested sample (all zero before the first).
  [[nodiscard]] const BatchKvSample& latest() const noexcept { return latest_; }
  /// Seconds since the newest sample was requested (0 before the first).
  [[nodiscard]] double age_s(TimePoint now) const noexcept {
    return has_sample() && now > latest_.sampled_at ? to_seconds(now - latest_.sampled_at) : 0.0;
  }
  /// No sample yet, or the newest is older than `stale_after_s`.
  [[nodiscard]] bool stale(TimePoint now) const noexcept {
    return !has_sample() || now - latest_.sampled_at > stale_after_;
  }
  /// Samples launched and not yet harvested.
  [[nodiscard]] std::size_t in_flight() const noexcept { return next_ - oldest_; }
  [[nodiscard]] const SamplerStats& stats() const noexcept { return stats_; }
  [[nodiscard]] const SamplerConfig& config() const noexcept { return config_; }
  [[nodiscard]] Backend& backend() noexcept { return backend_; }
  [[nodiscard]] const Backend& backend() const noexcept { return backend_; }

 private:
  struct Buffer {
    bool busy = false;
    std::uint64_t sequence = 0;
    TimePoint requested_at{};
  };

  static SamplerConfig checked(const SamplerConfig& c) {
    const std::string p = c.problem();
    if (!p.empty()) throw std::invalid_argument(p);
    return c;
  }

  void note(SamplerTick& t, const SamplerError& e) noexcept {
    ++stats_.errors;
    if (!t.error) t.error = e;
  }

  void harvest(SamplerTick& t) noexcept {
    while (oldest_ < next_) {
      const std::size_t index = oldest_ % buffers_.size();
      Buffer& b = buffers_[index];
      SamplerError e;
      const SamplerCompletion c = backend_.query(index, e);
      if (c == SamplerCompletion::pending) return;  // later ones finish after it
      if (c == SamplerCompletion::failed) {
        note(t, e);
      } else {
        BatchKvSample s;
        if (backend_.read(index, b.sequence, s) && s.sequence == b.sequence) {
          s.sampled_at = b.requested_at;
          latest_ = s;
          ++stats_.harvested;
          ++t.harvested;
        } else {
          ++stats_.torn;
        }
      }
      b.busy = false;
      ++oldest_;
    }
  }

  SamplerConfig config_;
  Duration stale_after_;
  Backend backend_;
  std::vector<Buffer> buffers_;
  std::size_t next_ = 0;    // launches so far: the next buffer is next_ % buffers
  std::size_t oldest_ = 0;  // the oldest launch not yet harvested
  BatchKvSample latest_;
  SamplerStats stats_;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CUDA_SAMPLER_HPP
