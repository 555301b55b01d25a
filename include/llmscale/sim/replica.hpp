// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// ReplicaEngine: one serving replica as docs/simulator.md describes it.
//   - continuous batching with chunked prefill: an iteration decodes one token for every
//     request past its prefill and prefills a chunk of at most `chunk_tokens` prompt tokens of
//     the admitted requests, oldest first; its time is decode_step(batch, context) +
//     prefill(chunk) from the LatencyProfile; with a token budget (vLLM's
//     max_num_batched_tokens) the chunk is also at most the budget less the decode tokens;
//   - a request is admitted while the batch is below `max_batch` and its prompt fits the KV
//     cache (reserved at admission) with the next iteration's growth and a watermark of 1 % of
//     the cache to spare (vLLM's); decoding grows it a token per iteration; when the next
//     iteration would overflow the cache the newest admitted request is preempted (handed back
//     with the tokens it generated, to be recomputed);
//   - a request's first token comes at the end of the iteration that completes its prefill;
//     it finishes after output - 1 more iterations.
// Between changes of the batch (an admission, a prefill chunk, a finish, a preemption)
// iterations differ only by context growth, and decode time is linear in the batch's context
// (DistServe's form), so a run of k decode-only iterations lasts k d0 + delta k (k - 1) / 2
// and is advanced in closed form: O(1) events per request, O(log batch) each. `exact_steps`
// steps every iteration instead (the two agree; tested).
// Each request travels as a SimRequest (its arrival, lengths, tokens generated before a
// preemption, first-token time); the engine reports what happens to it through a sink:
// first_token(SimRequest&, t), finished(const SimRequest&, t), preempted(SimRequest, t) (with
// `generated` counting what it had generated).
#ifndef LLMSCALE_SIM_REPLICA_HPP
#define LLMSCALE_SIM_REPLICA_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/model/latency_profile.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A request as the simulator carries it.
struct SimRequest {
  double arrival = 0;           ///< when it arrived, in the simulator's seconds
  double first_token = -1;      ///< -1 until its first token
  /// \var prompt
  /// Prompt tokens.
  /// \var output
  /// Output tokens to generate.
  std::int64_t prompt = 0, output = 0;
  std::int64_t generated = 0;   ///< tokens generated before a preemption (recomputed after it)
};

/// A simulated replica's engine settings.
struct ReplicaEngineConfig {
  long long max_batch = 256;     ///< vLLM's max_num_seqs
  double kv_tokens = 400000;     ///< KV-cache capacity in tokens
  long long chunk_tokens = 2048;  ///< prompt tokens one iteration prefills at most
  long long token_budget = 0;     ///< vLLM's max_num_batched_tokens (decode + prefill tokens per iteration; 0: none)
  bool exact_steps = false;       ///< step every iteration instead of fast-forwarding decode runs
};

/// One simulated serving replica: continuous batching, chunked prefill, KV-cache admission and
/// preemption (see the top of this file).
class ReplicaEngine {
 public:
  static constexpr double never = std::numeric_limits<double>::infinity();  ///< the time of no event

  /// Allocates its batch slots; `profile` is kept by pointer and must outlive the engine.
  ReplicaEngine(const LatencyProfile& profile, const ReplicaEngineConfig& config)
      : profile_(&profile), config_(config), slots_(static_cast<std::size_t>(config.max_batch)) {
    free_.reserve(slots_.size());
    for (std::size_t i = slots_.size(); i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
    heap_.reserve(slots_.size());
  }

  /// Requests admitted and not finished (prefilling or decoding).
  [[nodiscard]] int running() const noexcept { return running_; }
  /// Admitted requests still prefilling.
  [[nodiscard]] int prefilling() const noexcept { return static_cast<int>(fifo_.size()); }
  /// KV tokens in use at the last iteration boundary.
  [[nodiscard]] double kv_used() const noexcept { return kv_at(iter_); }
  /// KV tokens in use at `now` (at or after the last boundary): within a fast-forwarded run of
  /// decode iterations, at the last iteration boundary before `now` (what an engine's gauge
  /// reads then), not at the run's start.
  [[nodiscard]] double kv_used_at(double now) const noexcept {
    if (mode_ != Mode::stretch || !(now > t_)) return kv_at(iter_);
    return kv_at(iter_ + iterations_within(now - t_));
  }
  /// KV-cache capacity in tokens.
  [[nodiscard]] double kv_capacity() const noexcept { return config_.kv_tokens; }
  /// The most requests running at once.
  [[nodiscard]] long long max_batch() const noexcept { return config_.max_batch; }
  /// Whether a request with this (possibly recomputed) prompt can be admitted now: a batch slot,
  /// and room for its prompt, the next iteration's growth and a watermark of 1 % of the cache
  /// (vLLM's default), so an admission never forces the preemption of the request it admits.
  [[nodiscard]] bool can_admit(std::int64_t prompt) const noexcept {
    return running_ < config_.max_batch && kv_at(iter_) + static_cast<double>(prompt + n_dec_) + 0.01 * config_.kv_tokens <=
                                               config_.kv_tokens;
  }
  /// The time of the next internal event (never when idle).
  [[nodiscard]] double next_event() const noexcept { return next_time_; }
  /// Iterations run so far.
  [[nodiscard]] std::int64_t iterations() const noexcept { return iter_; }

  /// Admits `request` at `now` (the caller has processed every event before `now`): it joins
  /// at the first iteration boundary at or after `now`. It prefills its prompt plus what it
  /// generated before a preemption, then generates the rest of its output.
  template <class Sink>
  void admit(const SimRequest& request, double now, Sink& sink) {
    to_boundary(now, sink);
    const std::uint32_t s = free_.back();
    free_.pop_back();
    Seq& q = slots_[s];
    q.request = request;
    q.prompt = request.prompt + request.generated;
    q.left_prefill = q.prompt;
    q.output = request.output - request.generated;
    q.order = ++admissions_;
    q.live = true;
    q.decoding = false;
    ++q.generation;
    fifo_.push_back(s);
    reserved_ += static_cast<double>(q.prompt);
    ++running_;
    if (mode_ == Mode::idle) {
      t_ = now;
      plan(sink);
    } else if (mode_ == Mode::stretch) {
      plan(sink);  // at the boundary to_boundary reached: the next iteration carries the prefill
    }
    // Mode::single: the iteration in flight ends first; the plan after it includes this one
  }

  /// Calls `each(SimRequest)` for every request admitted and not finished, with `generated`
  /// counting the tokens it had generated by the last iteration boundary (a crash loses the
  /// replica: the simulator sends them back to be recomputed).
  template <class F>
  void for_each_request(F&& each) const {
    for (const Seq& q : slots_) {
      if (!q.live) continue;
      SimRequest r = q.request;
      if (q.decoding) r.generated += std::min<std::int64_t>(1 + iter_ - q.start, q.output - 1);
      each(r);
    }
  }

  /// Processes the next internal event (at next_event()).
  template <class Sink>
  void step(Sink& sink) {
    if (mode_ == Mode::idle) return;
    if (mode_ == Mode::single) {
      t_ = next_time_;
      end_iteration(chunk_, sink);
    } else {
      t_ = next_time_;
      iter_ += next_k_;
      finish_due(sink);
    }
    plan(sink);
  }

 private:
  struct Seq {
    SimRequest request;
    std::uint32_t generation = 0;
    std::int64_t prompt = 0, left_prefill = 0, output = 0;
    std::int64_t start = 0;  // the iteration count when its first token came
    std::uint64_t order = 0;
    bool live = false, decoding = false;
  };
  struct Due {
    std::int64_t finish;  // iteration count at which it finishes
    std::uint32_t slot, generation;
    bool operator>(const Due& o) const noexcept { return finish > o.finish; }
  };
  enum class Mode : std::uint8_t { idle, single, stretch };

  // KV in use at iteration count `iter`: prompts reserved + tokens generated by decoding requests
  [[nodiscard]] double kv_at(std::int64_t iter) const noexcept {
    return reserved_ + static_cast<double>(gen_base_ + n_dec_ * iter);
  }
  // total context of the decoding requests at iteration count `iter`
  [[nodiscard]] double context_at(std::int64_t iter) const noexcept {
    return static_cast<double>(ctx_base_ + n_dec_ * iter);
  }
  [[nodiscard]] double decode_time(std::int64_t iter) const noexcept {
    if (n_dec_ == 0) return 0.0;
    const auto n = static_cast<double>(n_dec_);
    return profile_->decode_step_s(n, context_at(iter) / n);
  }
  // seconds for k decode-only iterations from iteration count iter_
  [[nodiscard]] double stretch_time(std::int64_t k) const noexcept {
    if (k <= 0) return 0.0;
    const double d0 = decode_time(iter_);
    const double delta = decode_time(iter_ + 1) - d0;
    const auto kk = static_cast<double>(k);
    return kk * d0 + delta * kk * (kk - 1) / 2;
  }

  // Whole iterations of the stretch in flight that end within `span` seconds of its start: the
  // largest k with stretch_time(k) <= span (delta/2 k^2 + (d0 - delta/2) k = span, then exact).
  [[nodiscard]] std::int64_t iterations_within(double span) const noexcept {
    const double d0 = decode_time(iter_);
    const double delta = decode_time(iter_ + 1) - d0;
    std::int64_t k;
    if (!(d0 > 0)) return next_k_;
    if (std::fabs(delta) <= 1e-12 * d0) {
      k = static_cast<std::int64_t>(std::min(span / d0, 9e18));
    } else {
      const double b = d0 - delta / 2;
      const double root = (-b + std::sqrt(std::max(0.0, b * b + 2 * delta * span))) / delta;
      k = std::isfinite(root) ? static_cast<std::int64_t>(std::clamp(root, 0.0, 9e18)) : next_k_;
    }
    k = std::clamp<std::int64_t>(k, 0, next_k_);
    while (k < next_k_ && stretch_time(k + 1) <= span) ++k;
    while (k > 0 && stretch_time(k) > span) --k;
    return k;
  }

  // Moves a stretch in flight to its first boundary at or after `now`. When that boundary is
  // the stretch's own end, its event is processed there (it is the boundary the admission
  // waits for) and the next plan is followed the same way.
  template <class Sink>
  void to_boundary(double now, Sink& sink) {
    while (mode_ == Mode::stretch && now > t_) {
      const double span = now - t_;
      // the first boundary at or after `now`: the last one within the span, or the next
      std::int64_t k = iterations_within(span);
      if (k < next_k_ && stretch_time(k) < span) ++k;
      if (k >= next_k_) {
        step(sink);
        continue;
      }
      t_ += stretch_time(k);
      iter_ += k;
      return;
    }
  }

  template <class Sink>
  void end_iteration(std::int64_t chunk, Sink& sink) {
    ++iter_;
    // the chunk's tokens, oldest admitted first
    while (chunk > 0 && !fifo_.empty()) {
      Seq& q = slots_[fifo_.front()];
      const std::int64_t take = std::min(chunk, q.left_prefill);
      q.left_prefill -= take;
      chunk -= take;
      if (q.left_prefill > 0) break;
      const std::uint32_t s = fifo_.front();
      fifo_.pop_front();
      q.decoding = true;
      q.start = iter_;
      ++n_dec_;
      ctx_base_ += q.prompt + 1 - iter_;
      gen_base_ += 1 - iter_;
      sink.first_token(q.request, t_);
      heap_.push_back(Due{iter_ + q.output - 1, s, q.generation});
      std::push_heap(heap_.begin(), heap_.end(), std::greater<Due>());
    }
    finish_due(sink);
  }

  template <class Sink>
  void finish_due(Sink& sink) {
    while (!heap_.empty() && heap_.front().finish <= iter_) {
      const Due d = heap_.front();
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<Due>());
      heap_.pop_back();
      Seq& q = slots_[d.slot];
      if (!q.live || q.generation != d.generation) continue;  // preempted meanwhile
      retire(d.slot);
      sink.finished(q.request, t_);
    }
  }

  void retire(std::uint32_t s) noexcept {
    Seq& q = slots_[s];
    if (q.decoding) {
      --n_dec_;
      ctx_base_ -= q.prompt + 1 - q.start;
      gen_base_ -= 1 - q.start;
    }
    reserved_ -= static_cast<double>(q.prompt);
    q.live = false;
    --running_;
    free_.push_back(s);
  }

  // At a boundary: preempt while the next iteration would overflow the KV cache, then decide
  // the next event.
  template <class Sink>
  void plan(Sink& sink) {
    while (running_ > 0 && kv_at(iter_) + static_cast<double>(n_dec_) > config_.kv_tokens) preempt_newest(sink);
    if (running_ == 0) {
      mode_ = Mode::idle;
      next_time_ = never;
      return;
    }
    if (!fifo_.empty()) {
      std::int64_t chunk = 0;
      for (std::uint32_t s : fifo_) {
        chunk += slots_[s].left_prefill;
        if (chunk >= config_.chunk_tokens) break;
      }
      std::int64_t limit = config_.chunk_tokens;
      // the token budget holds this iteration's decode tokens first, the prefill gets the rest
      // (at least one token: a request prefilling holds a batch slot, so n_dec_ < max_batch <= budget)
      if (config_.token_budget > 0) limit = std::min<std::int64_t>(limit, std::max<std::int64_t>(1, config_.token_budget - n_dec_));
      chunk_ = std::min<std::int64_t>(chunk, limit);
      mode_ = Mode::single;
      next_time_ = t_ + decode_time(iter_) + profile_->prefill_s(1, static_cast<double>(chunk_));
      return;
    }
    // decode only: until the next finish, or the last iteration the KV cache holds
    std::int64_t k = heap_.front().finish - iter_;
    const double room = config_.kv_tokens - kv_at(iter_);
    const auto fits = static_cast<std::int64_t>(std::floor(room / static_cast<double>(n_dec_)));
    k = std::max<std::int64_t>(1, std::min(k, fits));
    if (config_.exact_steps) k = 1;
    mode_ = Mode::stretch;
    next_k_ = k;
    next_time_ = t_ + stretch_time(k);
  }

  template <class Sink>
  void preempt_newest(Sink& sink) {
    std::uint32_t newest = 0;
    std::uint64_t order = 0;
    for (std::uint32_t s = 0; s < slots_.size(); ++s) {
      if (slots_[s].live && slots_[s].order > order) {
        order = slots_[s].order;
        newest = s;
      }
    }
    Seq& q = slots_[newest];
    const std::int64_t generated = q.decoding ? 1 + iter_ - q.start : 0;
    if (!q.decoding) fifo_.erase(std::find(fifo_.begin(), fifo_.end(), newest));
    retire(newest);
    SimRequest back = q.request;
    back.generated += generated;
    sink.preempted(back, t_);
  }

  const LatencyProfile* profile_;
  ReplicaEngineConfig config_;
  std::vector<Seq> slots_;
  std::vector<std::uint32_t> free_;
  std::deque<std::uint32_t> fifo_;  // admitted, still prefilling, oldest first
  std::vector<Due> heap_;           // decoding, by finish
  Mode mode_ = Mode::idle;
  double t_ = 0;                    // the last boundary
  double next_time_ = never;
  std::int64_t next_k_ = 0;         // iterations in the stretch in flight
  std::int64_t chunk_ = 0;          // prefill tokens of the iteration in flight
  std::int64_t iter_ = 0;
  std::int64_t n_dec_ = 0, ctx_base_ = 0, gen_base_ = 0;
  double reserved_ = 0;
  int running_ = 0;
  std::uint64_t admissions_ = 0;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_REPLICA_HPP
