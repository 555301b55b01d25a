// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// (Over 500 lines: one concept, the recorder, whose writers and drain share one shard layout.)
//
// Recorder: what request threads record, from any number of threads, lock-free and without
// allocation: a request arrived, was admitted (with its queue wait), produced its first token
// (TTFT), finished (end-to-end latency, prompt and output tokens, and where the host gives it
// the time per output token), was rejected or cancelled. The control thread drains it once per
// tick into a RecorderDelta: counts, sums and the exact time integrals of the requests queued
// and running; and reads its cumulative queue-wait, TTFT and TPOT histograms
// (LogHistogramLayout), which LatencyWindow turns into windowed quantiles.
//
// How: each writer thread gets a shard of its own (claimed once, kept for the recorder's life)
// holding cumulative 64-bit counters, times in integer nanoseconds. A writer updates its shard
// with plain loads and stores inside a per-shard sequence lock, so an event costs a few
// nanoseconds and no contended atomic read-modify-write. The drain reads each shard
// consistently (retrying while a writer is mid-event) and takes differences from what it read
// last time; nothing is ever reset, so no event is lost or counted twice whatever the
// interleaving. Queued and running concurrency integrals need no per-request storage:
//     integral of L over (t0, t1] = L0 (t1 - t0) + sum over arrivals (t1 - a) - sum over departures (t1 - d)
// and sum(t1 - a) = n t1 - sum(a), from the counters, in wrapping 64-bit arithmetic that is
// exact as long as one tick's true integral fits in 63 bits (about 290 request-years).
// Threads beyond `writer_shards` share one overflow shard behind a spin lock. A thread finds its
// shard through a small per-thread cache (16 recorders, by recorder id); a thread that records
// into more recorders than that finds its own shard again by its owner mark, so it never loses
// it to the overflow shard.
//
// Bad samples: an event older than `event_skew_s` behind the last drain, or absurdly far ahead,
// has its timing sample dropped and counted (dropped_stale / dropped_invalid), but its state
// transition (queued, running, done) is still counted at the oldest accepted time, so
// concurrency never drifts. Negative or absurd durations and token counts are dropped and
// counted the same way.
//
// Threading: the event functions may be called from any thread at any time; `drain` from one
// control thread.
#ifndef LLMSCALE_SIGNALS_RECORDER_HPP
#define LLMSCALE_SIGNALS_RECORDER_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/detail/hardware.hpp"
#include "llmscale/signals/log_histogram.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Recorder's settings.
struct RecorderConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "recorder";

  /// Writer threads that get a shard of their own; more share one locked overflow shard.
  int writer_shards = 32;
  /// Seconds an event may lag the last drain and still count in time-based statistics.
  double event_skew_s = 1.0;
  /// Durations (queue wait, TTFT, end-to-end) above this many seconds are dropped as absurd.
  double max_duration_s = 86400.0;
  /// Token counts per request above this are dropped as absurd.
  long long max_tokens = 10'000'000;

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("writer_shards", self.writer_shards, closed(1, 4096),
      "writer threads with a shard of their own");
    v("event_skew_s", self.event_skew_s, closed(0.0, 60.0),
      "seconds an event may lag the last drain and still count");
    v("max_duration_s", self.max_duration_s, closed(1.0, 1e7),
      "durations above this many seconds are dropped as absurd");
    v("max_tokens", self.max_tokens, closed(1LL, 1'000'000'000LL),
      "token counts per request above this are dropped as absurd");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// Which latency histogram a bucket count belongs to.
enum class LatencyHistogram : std::uint8_t { queue_wait, ttft, tpot };

/// What happened between two drains.
struct RecorderDelta {
  TimePoint from{};  ///< the previous drain (or the recorder's start)
  TimePoint to{};    ///< this drain's `now`
  std::uint64_t arrivals = 0;            ///< requests that arrived
  std::uint64_t admitted = 0;            ///< requests admitted into a batch
  std::uint64_t first_tokens = 0;        ///< requests that produced their first token
  std::uint64_t finished = 0;            ///< requests that finished
  std::uint64_t rejected = 0;            ///< queued requests turned away
  std::uint64_t cancelled = 0;           ///< requests cancelled, queued or running
  std::uint64_t queue_wait_samples = 0;  ///< admissions with a valid queue wait
  double queue_wait_sum_s = 0;           ///< the sum of those waits, in seconds
  std::uint64_t ttft_samples = 0;        ///< first tokens with a valid TTFT
  double ttft_sum_s = 0;                 ///< the sum of those TTFTs, in seconds
  std::uint64_t tpot_samples = 0;        ///< finished requests with a valid time per output token
  std::uint64_t e2e_samples = 0;         ///< finished requests with a valid end-to-end latency
  double e2e_sum_s = 0;                  ///< the sum of those latencies, in seconds
  std::uint64_t token_samples = 0;  ///< finished requests with valid token counts
  std::uint64_t prompt_tokens = 0;       ///< their prompt tokens, summed
  std::uint64_t output_tokens = 0;       ///< their output tokens, summed
  /// The natural logs of their output tokens (a request of 0 counts as 1), summed: with
  /// output_tokens, the outputs' spread (Signals::output_sigma).
  double output_log_tokens = 0;
  /// Integral over (from, to] of the requests queued (request-seconds).
  double queued_integral = 0;
  /// Integral over (from, to] of the requests running (request-seconds).
  double running_integral = 0;
  /// Requests queued and running at `to` (negative only if the host records more departures
  /// than arrivals).
  std::int64_t queued_now = 0;
  std::int64_t running_now = 0;          ///< requests running at `to` (see queued_now)
  std::uint64_t dropped_stale = 0;       ///< events whose timing was dropped as older than event_skew_s behind the last drain
  std::uint64_t dropped_invalid = 0;     ///< samples dropped as absurd: times far ahead, durations or token counts out of range
  /// Shards skipped because a writer stayed mid-event; their events count at the next drain.
  std::uint32_t shards_deferred = 0;

  /// Arrivals, admissions, first tokens and finishes, together.
  [[nodiscard]] std::uint64_t events() const noexcept {
    return arrivals + admitted + first_tokens + finished;
  }
};

/// Request events from any number of threads, lock-free and allocation-free, drained once per
/// tick (see the top of this file).
class Recorder {
 public:
  /// Allocates every shard; throws std::invalid_argument for an invalid config. `start` is
  /// when counting begins (events before `start - event_skew_s` are stale).
  Recorder(const RecorderConfig& config, TimePoint start);

  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // ---- the request path: any thread, no lock, no allocation ---------------------------------

  /// A request arrived and is queued.
  void arrived(TimePoint t) noexcept;
  /// A queued request was admitted into a batch after waiting `queue_wait`.
  void admitted(TimePoint t, Duration queue_wait) noexcept;
  /// A running request produced its first token, `ttft` after it arrived.
  void first_token(TimePoint t, Duration ttft) noexcept;
  /// A running request finished, `e2e` after it arrived, with its token counts and, where the
  /// host knows it, its time per output token (`tpot`: (finish - first token) / (output - 1);
  /// a negative `tpot`, the default, records none, and none is counted as dropped).
  void finished(TimePoint t, Duration e2e, long long prompt_tokens, long long output_tokens,
                Duration tpot = Duration(-1)) noexcept;
  /// A queued request was turned away without running.
  void rejected(TimePoint t) noexcept;
  /// A request was cancelled: while queued, or (was_admitted) while running.
  void cancelled(TimePoint t, bool was_admitted) noexcept;

  // ---- the control thread ---------------------------------------------------------------------

  /// Everything recorded since the last drain. A `now` earlier than the last drain's is
  /// ignored and counted (the delta is then empty).
  RecorderDelta drain(TimePoint now) noexcept;

  /// The cumulative number of samples in a latency histogram, summed over every writer,
  /// modulo 2^32: take differences of two reads modulo 2^32. A sample is published in its
  /// bucket, then its group, then this count, so groups and buckets read after this hold at
  /// least these samples.
  [[nodiscard]] std::uint32_t read_count(LatencyHistogram which) const noexcept;
  /// The cumulative sample counts of each bucket group of a latency histogram, summed over
  /// every writer (`out`: LogHistogramLayout::group_count values), modulo 2^32 as read_count.
  void read_groups(LatencyHistogram which, std::uint32_t* out) const noexcept;
  /// The cumulative sample counts of the buckets of group `group` (`out`: group_size values),
  /// modulo 2^32 as read_groups.
  void read_group_buckets(LatencyHistogram which, std::size_t group, std::uint32_t* out) const noexcept;

  /// A hint: starts loading, for every writer, the cache lines of a latency histogram's group
  /// counts, so that reading them later on does not wait.
  void prefetch_groups(LatencyHistogram which) const noexcept;
  /// A hint, as prefetch_groups: the cache lines of group `group`'s buckets.
  void prefetch_buckets(LatencyHistogram which, std::size_t group) const noexcept;

  /// The configuration it was built with.
  [[nodiscard]] const RecorderConfig& config() const noexcept { return config_; }
  /// Drains ignored because `now` went backwards.
  [[nodiscard]] std::uint64_t ignored_drains() const noexcept { return guard_.rejected(); }
  /// Writer threads that have claimed a shard (capped at writer_shards + 1 for the shared one).
  [[nodiscard]] std::uint32_t writers() const noexcept {
    return next_shard_.load(std::memory_order_relaxed);
  }

 private:
  enum Counter : std::size_t {
    arrivals_n, arrivals_t, admitted_n, admitted_t, queue_exit_n, queue_exit_t, run_exit_n,
    run_exit_t, wait_n, wait_sum, first_token_n, ttft_n, ttft_sum, finished_n, e2e_n, e2e_sum,
    token_n, prompt_sum, output_sum, output_log_sum, tpot_n, rejected_n, cancelled_n, stale_n, invalid_n, counter_count
  };

  using Layout = LogHistogramLayout;

  // output_log_sum counts ln(tokens) in units of 1/log_unit: a request of 10^9 tokens adds
  // 1.4 x 10^6, so the counters wrap after 10^13 such requests
  static constexpr double log_unit = 65536.0;
  static std::uint64_t log_fixed(long long tokens) noexcept {
    return tokens > 1 ? static_cast<std::uint64_t>(std::log(static_cast<double>(tokens)) * log_unit + 0.5) : 0;
  }

  struct Histogram {
    // 32-bit counts, wrapping: readers take differences modulo 2^32 (half the cache lines)
    std::atomic<std::uint32_t> buckets[Layout::bucket_count];
    std::atomic<std::uint32_t> groups[Layout::group_count];
  };

  struct alignas(64) Shard {
    std::atomic<std::uint64_t> seq;
    std::atomic<std::uint64_t> counters[counter_count];
    std::atomic_flag lock = ATOMIC_FLAG_INIT;  // taken only on the shared overflow shard
    std::atomic<const void*> owner{nullptr};   // the thread writing an own shard
    Histogram wait;
    Histogram ttft;
    Histogram tpot;
  };

  // What the drain read from a shard last time.
  struct ShardSeen {
    std::uint64_t counters[counter_count];
  };

  // One event being written into a shard.
  class Writer {
   public:
    Writer(Recorder& r, TimePoint t) noexcept;
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    // the event's time in ns after the recorder's epoch, clamped to the accepted range
    [[nodiscard]] std::uint64_t time() const noexcept { return time_; }
    [[nodiscard]] bool timing_valid() const noexcept { return timing_valid_; }
    void add(Counter c, std::uint64_t v) noexcept {
      auto& a = shard_->counters[c];
      a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_release);
    }
    void count(Histogram& h, Duration d) noexcept;
    bool duration_sample(Duration d) noexcept;  // false (and counted) when absurd
    Shard& shard() noexcept { return *shard_; }

   private:
    Shard* shard_;
    std::uint64_t seq_;
    std::uint64_t time_ = 0;
    std::uint64_t max_duration_ns_ = 0;
    bool shared_;
    bool timing_valid_ = true;
  };

  // A thread's shard in this recorder, as its cache remembers it.
  struct ShardCacheEntry {
    std::uint64_t recorder = 0;
    Shard* shard = nullptr;
    bool shared = false;
  };
  Shard* claim_shard(bool& shared) noexcept;
  void find_shard(ShardCacheEntry& e) noexcept;  // off the event path: rare
  static bool read_counters(const Shard& s, std::uint64_t* out) noexcept;
  // Calls f(shard, index) for every shard a writer has claimed (own shards, then the shared).
  template <class F>
  void for_each_active_shard(F&& f) const noexcept {
    const std::uint32_t claimed = next_shard_.load(std::memory_order_acquire);
    const auto own = static_cast<std::uint32_t>(config_.writer_shards);
    const std::uint32_t used = claimed < own ? claimed : own;
    for (std::uint32_t i = 0; i < used; ++i) f(shards_[i], i);
    if (claimed > own) f(shards_[own], own);
  }
  static const Histogram& histogram(const Shard& s, LatencyHistogram which) noexcept {
    return which == LatencyHistogram::queue_wait ? s.wait : which == LatencyHistogram::ttft ? s.ttft : s.tpot;
  }
  // out[0..N) = the N counts at counts_of(shard), summed over every claimed shard (modulo
  // 2^32): the first shard's assigned, the others' added, in unrolled loops (the control thread
  // reads groups and buckets on every tick).
  template <std::size_t N, class CountsOf>
  void sum_over_shards(CountsOf&& counts_of, std::uint32_t* out) const noexcept {
#if LLMSCALE_SIGNALS_SSE2
    // Four counts at a time, built in a vector register from four atomic loads and stored as one
    // vector: what reads `out` next (in vectors) does not wait on four separate stores.
    static_assert(N % 4 == 0, "counts are read in fours");
    __m128i acc[N / 4];
    bool first = true;
    for_each_active_shard([&](const Shard& s, std::uint32_t) {
      const std::atomic<std::uint32_t>* c = counts_of(s);
      LLMSCALE_UNROLL for (std::size_t j = 0; j < N / 4; ++j) {
        constexpr auto acquire = std::memory_order_acquire;
        const __m128i v = _mm_set_epi32(static_cast<int>(c[4 * j + 3].load(acquire)), static_cast<int>(c[4 * j + 2].load(acquire)),
                                        static_cast<int>(c[4 * j + 1].load(acquire)), static_cast<int>(c[4 * j].load(acquire)));
        acc[j] = first ? v : _mm_add_epi32(acc[j], v);
      }
      first = false;
    });
    if (first) {
      std::fill(out, out + N, std::uint32_t{0});
      return;
    }
    for (std::size_t j = 0; j < N / 4; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * j), acc[j]);
#else
    bool first = true;
    for_each_active_shard([&](const Shard& s, std::uint32_t) {
      const std::atomic<std::uint32_t>* c = counts_of(s);
      if (first) {
        LLMSCALE_UNROLL for (std::size_t i = 0; i < N; ++i) out[i] = c[i].load(std::memory_order_acquire);
      } else {
        LLMSCALE_UNROLL for (std::size_t i = 0; i < N; ++i) out[i] += c[i].load(std::memory_order_acquire);
      }
      first = false;
    });
    if (first) std::fill(out, out + N, std::uint32_t{0});
#endif
  }

  static std::uint64_t next_id() noexcept {
    static std::atomic<std::uint64_t> ids{1};
    return ids.fetch_add(1, std::memory_order_relaxed);
  }

  RecorderConfig config_;
  std::uint64_t id_;
  TimePoint epoch_;                   // event times are stored as ns after this
  std::uint64_t skew_ns_;
  std::uint64_t max_duration_ns_;
  std::unique_ptr<Shard[]> shards_;   // writer_shards own + 1 shared
  std::unique_ptr<ShardSeen[]> seen_;
  std::atomic<std::uint32_t> next_shard_{0};
  std::atomic<std::uint64_t> horizon_ns_;  // the oldest accepted event time
  std::uint64_t last_drain_ns_;
  std::int64_t queued_ = 0;
  std::int64_t running_ = 0;
  MonotonicGuard guard_;
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline Recorder::Recorder(const RecorderConfig& config, TimePoint start)
    : config_((require_valid(config), config)),
      id_(next_id()),
      epoch_(start - std::chrono::seconds(61)),  // room for the largest allowed skew
      skew_ns_(static_cast<std::uint64_t>(from_seconds(config.event_skew_s).count())),
      max_duration_ns_(static_cast<std::uint64_t>(from_seconds(config.max_duration_s).count())),
      shards_(new Shard[static_cast<std::size_t>(config.writer_shards) + 1]()),
      seen_(new ShardSeen[static_cast<std::size_t>(config.writer_shards) + 1]()),
      horizon_ns_(static_cast<std::uint64_t>((start - epoch_).count()) - skew_ns_),
      last_drain_ns_(static_cast<std::uint64_t>((start - epoch_).count())) {
  static_assert(std::is_same_v<Duration::period, std::nano>, "llmscale assumes a nanosecond clock");
  guard_.accept(start);
}

inline Recorder::Shard* Recorder::claim_shard(bool& shared) noexcept {
  // Each thread remembers its shard of up to 16 recorders, by recorder id (one comparison per
  // event); ids are never reused, so a destroyed recorder's entry can never match a new one.
  thread_local std::array<ShardCacheEntry, 16> cache{};
  ShardCacheEntry& e = cache[id_ % cache.size()];
  if (LLMSCALE_UNLIKELY(e.recorder != id_)) find_shard(e);
  shared = e.shared;
  return e.shard;
}

LLMSCALE_NOINLINE inline void Recorder::find_shard(ShardCacheEntry& e) noexcept {
  // Not remembered (first use, or another recorder took the entry): the thread's own shard if
  // it has one, else the next free one, else the shared one.
  thread_local char token = 0;  // its address: this thread, as a shard's owner
  const auto own = static_cast<std::uint32_t>(config_.writer_shards);
  std::uint32_t index = next_shard_.load(std::memory_order_acquire);
  const std::uint32_t claimed = index < own ? index : own;
  std::uint32_t found = own;
  for (std::uint32_t i = 0; i < claimed && found == own; ++i) {
    if (shards_[i].owner.load(std::memory_order_relaxed) == &token) found = i;
  }
  if (found == own) {
    while (index <= own && !next_shard_.compare_exchange_weak(index, index + 1, std::memory_order_acq_rel)) {
    }
    if (index < own) {
      shards_[index].owner.store(&token, std::memory_order_relaxed);
      found = index;
    }
  }
  e = ShardCacheEntry{id_, &shards_[found], found == own};
}

inline Recorder::Writer::Writer(Recorder& r, TimePoint t) noexcept {
  shard_ = r.claim_shard(shared_);
  if (shared_) {
    while (shard_->lock.test_and_set(std::memory_order_acquire)) detail::spin_pause();
  }
  seq_ = shard_->seq.load(std::memory_order_relaxed);
  shard_->seq.store(seq_ + 1, std::memory_order_relaxed);
  // No fences (ThreadSanitizer cannot see them): data stores are release stores, so the odd
  // sequence number above cannot pass them, and data loads are acquire loads, so the
  // reader's second sequence load cannot pass them. On x86 all of these are plain moves.

  const std::uint64_t horizon = r.horizon_ns_.load(std::memory_order_relaxed);
  constexpr std::uint64_t max_lead = 86'400'000'000'000ULL;  // a day ahead is absurd
  // unsigned: no overflow whatever `t` a caller passes (a garbage time is only a bad sample)
  const bool before_epoch = t < r.epoch_;
  const std::uint64_t since_epoch = static_cast<std::uint64_t>(t.time_since_epoch().count()) -
                                    static_cast<std::uint64_t>(r.epoch_.time_since_epoch().count());
  if (before_epoch || since_epoch < horizon) {
    time_ = horizon;
    timing_valid_ = false;
    add(stale_n, 1);
  } else if (since_epoch - horizon > max_lead) {
    time_ = horizon;
    timing_valid_ = false;
    add(invalid_n, 1);
  } else {
    time_ = since_epoch;
  }
  max_duration_ns_ = r.max_duration_ns_;
}

inline Recorder::Writer::~Writer() {
  shard_->seq.store(seq_ + 2, std::memory_order_release);
  if (shared_) shard_->lock.clear(std::memory_order_release);
}

inline bool Recorder::Writer::duration_sample(Duration d) noexcept {
  if (!timing_valid_) return false;
  if (d.count() < 0 || static_cast<std::uint64_t>(d.count()) > max_duration_ns_) {
    add(invalid_n, 1);
    return false;
  }
  return true;
}

inline void Recorder::Writer::count(Histogram& h, Duration d) noexcept {
  const std::size_t b = Layout::bucket_of(d);
  auto& bucket = h.buckets[b];
  bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  // the group count is published after its bucket (see read_groups)
  auto& group = h.groups[b / Layout::group_size];
  group.store(group.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

inline void Recorder::arrived(TimePoint t) noexcept {
  Writer w(*this, t);
  w.add(arrivals_n, 1);
  w.add(arrivals_t, w.time());
}

inline void Recorder::admitted(TimePoint t, Duration queue_wait) noexcept {
  Writer w(*this, t);
  w.add(admitted_n, 1);
  w.add(admitted_t, w.time());
  if (w.duration_sample(queue_wait)) {
    w.count(w.shard().wait, queue_wait);  // before the count (see read_count)
    w.add(wait_n, 1);
    w.add(wait_sum, static_cast<std::uint64_t>(queue_wait.count()));
  }
}

inline void Recorder::first_token(TimePoint t, Duration ttft) noexcept {
  Writer w(*this, t);
  w.add(first_token_n, 1);
  if (w.duration_sample(ttft)) {
    w.count(w.shard().ttft, ttft);  // before the count (see read_count)
    w.add(ttft_n, 1);
    w.add(ttft_sum, static_cast<std::uint64_t>(ttft.count()));
  }
}

inline void Recorder::finished(TimePoint t, Duration e2e, long long prompt_tokens, long long output_tokens,
                               Duration tpot) noexcept {
  Writer w(*this, t);
  w.add(run_exit_n, 1);
  w.add(run_exit_t, w.time());
  w.add(finished_n, 1);
  if (w.duration_sample(e2e)) {
    w.add(e2e_n, 1);
    w.add(e2e_sum, static_cast<std::uint64_t>(e2e.count()));
  }
  if (prompt_tokens < 0 || output_tokens < 0 || prompt_tokens > config_.max_tokens ||
      output_tokens > config_.max_tokens) {
    w.add(invalid_n, 1);
  } else {
    w.add(token_n, 1);
    w.add(prompt_sum, static_cast<std::uint64_t>(prompt_tokens));
    w.add(output_sum, static_cast<std::uint64_t>(output_tokens));
    w.add(output_log_sum, log_fixed(output_tokens));
  }
  if (tpot >= Duration::zero() && w.duration_sample(tpot)) {
    w.count(w.shard().tpot, tpot);  // before the count (see read_count)
    w.add(tpot_n, 1);
  }
}

inline void Recorder::rejected(TimePoint t) noexcept {
  Writer w(*this, t);
  w.add(queue_exit_n, 1);
  w.add(queue_exit_t, w.time());
  w.add(rejected_n, 1);
}

inline void Recorder::cancelled(TimePoint t, bool was_admitted) noexcept {
  Writer w(*this, t);
  w.add(was_admitted ? run_exit_n : queue_exit_n, 1);
  w.add(was_admitted ? run_exit_t : queue_exit_t, w.time());
  w.add(cancelled_n, 1);
}

inline bool Recorder::read_counters(const Shard& s, std::uint64_t* out) noexcept {
  for (int attempt = 0; attempt < 256; ++attempt) {
    const std::uint64_t before = s.seq.load(std::memory_order_acquire);
    if ((before & 1U) != 0) {
      detail::spin_pause();
      continue;
    }
    for (std::size_t i = 0; i < counter_count; ++i) out[i] = s.counters[i].load(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) == before) return true;
  }
  return false;
}

inline void Recorder::read_groups(LatencyHistogram which, std::uint32_t* out) const noexcept {
  sum_over_shards<Layout::group_count>([which](const Shard& s) { return histogram(s, which).groups; }, out);
}

inline std::uint32_t Recorder::read_count(LatencyHistogram which) const noexcept {
  const Counter c = which == LatencyHistogram::queue_wait ? wait_n : which == LatencyHistogram::ttft ? ttft_n : tpot_n;
  std::uint64_t n = 0;
  for_each_active_shard([&](const Shard& s, std::uint32_t) { n += s.counters[c].load(std::memory_order_acquire); });
  return static_cast<std::uint32_t>(n);
}

inline void Recorder::read_group_buckets(LatencyHistogram which, std::size_t group, std::uint32_t* out) const noexcept {
  if (group >= Layout::group_count) {
    std::fill(out, out + Layout::group_size, std::uint32_t{0});
    return;
  }
  sum_over_shards<Layout::group_size>(
      [which, group](const Shard& s) { return &histogram(s, which).buckets[group * Layout::group_size]; }, out);
}

inline void Recorder::prefetch_groups(LatencyHistogram which) const noexcept {
  for_each_active_shard([&](const Shard& s, std::uint32_t) {
    const Histogram& h = histogram(s, which);
    for (std::size_t i = 0; i < Layout::group_count; i += 16) detail::prefetch(&h.groups[i]);
  });
}

inline void Recorder::prefetch_buckets(LatencyHistogram which, std::size_t group) const noexcept {
  if (group >= Layout::group_count) return;
  for_each_active_shard([&](const Shard& s, std::uint32_t) {
    const Histogram& h = histogram(s, which);
    for (std::size_t i = 0; i < Layout::group_size; i += 16) detail::prefetch(&h.buckets[group * Layout::group_size + i]);
  });
}

inline RecorderDelta Recorder::drain(TimePoint now) noexcept {
  RecorderDelta d;
  d.from = epoch_ + Duration(static_cast<Duration::rep>(last_drain_ns_));
  d.to = now;
  if (!guard_.accept(now)) {
    d.to = d.from;
    d.queued_now = queued_;
    d.running_now = running_;
    return d;
  }
  // unsigned, so no `now` a host passes can overflow (it is at or after the start, so after epoch_)
  const std::uint64_t t1 = static_cast<std::uint64_t>(now.time_since_epoch().count()) -
                           static_cast<std::uint64_t>(epoch_.time_since_epoch().count());
  const std::uint64_t t0 = last_drain_ns_;

  std::uint64_t diff[counter_count] = {};
  for_each_active_shard([&](const Shard& s, std::uint32_t i) {
    ShardSeen& seen = seen_[i];
    std::uint64_t current[counter_count];
    if (!read_counters(s, current)) {
      ++d.shards_deferred;
      return;
    }
    for (std::size_t c = 0; c < counter_count; ++c) {
      diff[c] += current[c] - seen.counters[c];  // wrapping differences
      seen.counters[c] = current[c];
    }
  });

  // sum over events of (t1 - t_i) = n t1 - sum(t_i), exact in wrapping arithmetic
  const auto elapsed = [&](Counter n, Counter sum) { return diff[n] * t1 - diff[sum]; };
  const std::uint64_t dt = t1 - t0;
  const std::uint64_t queued_ns = static_cast<std::uint64_t>(queued_) * dt + elapsed(arrivals_n, arrivals_t) -
                                  elapsed(admitted_n, admitted_t) - elapsed(queue_exit_n, queue_exit_t);
  const std::uint64_t running_ns = static_cast<std::uint64_t>(running_) * dt + elapsed(admitted_n, admitted_t) -
                                   elapsed(run_exit_n, run_exit_t);
  d.queued_integral = static_cast<double>(static_cast<std::int64_t>(queued_ns)) * 1e-9;
  d.running_integral = static_cast<double>(static_cast<std::int64_t>(running_ns)) * 1e-9;
  queued_ += static_cast<std::int64_t>(diff[arrivals_n] - diff[admitted_n] - diff[queue_exit_n]);
  running_ += static_cast<std::int64_t>(diff[admitted_n] - diff[run_exit_n]);
  d.queued_now = queued_;
  d.running_now = running_;

  d.arrivals = diff[arrivals_n];
  d.admitted = diff[admitted_n];
  d.first_tokens = diff[first_token_n];
  d.finished = diff[finished_n];
  d.rejected = diff[rejected_n];
  d.cancelled = diff[cancelled_n];
  d.queue_wait_samples = diff[wait_n];
  d.queue_wait_sum_s = static_cast<double>(diff[wait_sum]) * 1e-9;
  d.ttft_samples = diff[ttft_n];
  d.ttft_sum_s = static_cast<double>(diff[ttft_sum]) * 1e-9;
  d.tpot_samples = diff[tpot_n];
  d.e2e_samples = diff[e2e_n];
  d.e2e_sum_s = static_cast<double>(diff[e2e_sum]) * 1e-9;
  d.token_samples = diff[token_n];
  d.prompt_tokens = diff[prompt_sum];
  d.output_tokens = diff[output_sum];
  d.output_log_tokens = static_cast<double>(diff[output_log_sum]) / log_unit;
  d.dropped_stale = diff[stale_n];
  d.dropped_invalid = diff[invalid_n];

  last_drain_ns_ = t1;
  horizon_ns_.store(t1 > skew_ns_ ? t1 - skew_ns_ : 0, std::memory_order_relaxed);
  return d;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIGNALS_RECORDER_HPP
