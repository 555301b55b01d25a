// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// SloPolicy (llmscale-slo): replicas from the latency targets through the models, not from a
// utilisation number.
//   tokens      the measured mean prompt and output tokens (defaults until requests finish) and
//               the outputs' measured spread (Signals::output_sigma; output_sigma until measured)
//   capacity    replica_capacity: the largest batch within the per-token target and the KV cache
//   rate/replica BatchQueueModel::max_arrival_rate: the most a replica takes with its TTFT
//               quantile within target (the birth-death queue of llm-d's model)
//   replicas    ceil(arrival rate / rate per replica + queued / (rate per replica x drain)):
//               the load, plus the requests already waiting, drained over the time until new
//               capacity can serve (queue_drain_s; by default the cold start, at least the TTFT
//               target): replicas asked for now serve the backlog only once they are ready, and
//               those already starting are in the fleet the governor compares with
// The per-replica rate is recomputed when the token mix moves by more than
// token_mix_tolerance (a planning computation, up to milliseconds), unless a mix in the same
// cell (tolerance-wide on a log scale in each mean, 0.1 wide in the outputs' spread) was sized
// before: 1,024 sizings are remembered (an open-addressed table, 8 probes), so a noisy mix at a
// low request rate, or one that wanders over the development trace's range (output 114-307,
// prompt 900-1,400 tokens: about 210 cells at 5 %; two or three spreads a minute's measurement
// wanders over), does not re-size every tick. Otherwise a tick is a few divisions.
// The same inputs give llmscale-size's answer (tested).
#ifndef LLMSCALE_POLICY_SLO_HPP
#define LLMSCALE_POLICY_SLO_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/policy/detail/replicas.hpp"
#include "llmscale/model/batch_queue.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/replica_capacity.hpp"
#include "llmscale/model/replica_sizing.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// SloPolicy's settings.
struct SloConfig {
  /// The config's name in messages and `NAME.key=value` settings.
  static constexpr const char* config_name = "slo";

  double ttft_s = 2.0;          ///< time-to-first-token target at `quantile`
  double tpot_s = 0.1;          ///< time-per-output-token target
  double quantile = 0.99;       ///< the TTFT quantile the target applies to, (0, 1)
  double kv_tokens = 400000;    ///< KV capacity per replica (llama2-70b TP4 on H100-80GB)
  int max_batch = 0;            ///< the engine's max batch (0: the profile's measured max, else 256)
  int max_queue_batches = 10;   ///< a replica's queue, in batches (as llmscale-size; at most 10^6 requests)
  double default_input_tokens = 1024;  ///< until a request has finished
  double default_output_tokens = 256;  ///< the same for output tokens
  long long prefill_chunk_tokens = 2048;  ///< prompt tokens the engine prefills an iteration (0: a whole prompt)
  double output_sigma = 1.0;           ///< output lengths' spread (their log's standard deviation) until measured
  double token_mix_tolerance = 0.05;   ///< recompute the capacity when the mix moves this much
  double queue_drain_s = 0;            ///< drain the waiting requests within this (0: max(cold_start_s, ttft_s))
  double cold_start_s = 300;           ///< request to ready: when new capacity can serve

  /// Lists the fields (key, range, meaning) for validation, parsing and dumping (core/config.hpp).
  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("ttft_s", self.ttft_s, open_closed(0.0, 3600.0), "time-to-first-token target (s)");
    v("tpot_s", self.tpot_s, open_closed(0.0, 60.0), "time-per-output-token target (s)");
    v("quantile", self.quantile, open(0.0, 1.0), "the TTFT quantile the target applies to");
    v("kv_tokens", self.kv_tokens, open_closed(0.0, 1e12), "KV-cache tokens per replica");
    v("max_batch", self.max_batch, closed(0, 100000), "engine max batch (0: the profile's)");
    v("max_queue_batches", self.max_queue_batches, closed(0, 1000), "replica queue length in batches");
    v("default_input_tokens", self.default_input_tokens, closed(1.0, 1e7), "prompt tokens before any request finished");
    v("default_output_tokens", self.default_output_tokens, closed(1.0, 1e7), "output tokens before any request finished");
    v("prefill_chunk_tokens", self.prefill_chunk_tokens, closed(0LL, 10000000LL),
      "prompt tokens the engine prefills an iteration, vLLM's max_num_batched_tokens (0: a whole prompt)");
    v("output_sigma", self.output_sigma, closed(0.05, 3.0),
      "output lengths' spread, their log's standard deviation, until the signals measure it "
      "(1.0: the development trace)");
    v("token_mix_tolerance", self.token_mix_tolerance, closed(0.0, 1.0), "relative token-mix change that recomputes capacity");
    v("queue_drain_s", self.queue_drain_s, closed(0.0, 86400.0),
      "seconds to drain the waiting requests in (0: the cold start, at least ttft_s)");
    v("cold_start_s", self.cold_start_s, closed(0.0, 86400.0), "seconds from requesting a replica to its serving");
  }
  /// The first field out of range, or nullopt (never throws).
  [[nodiscard]] ConfigResult validate() const { return validate_fields(*this); }
};

/// The fleet a latency model says meets the SLO at the measured load and token mix (see the top
/// of this file).
class SloPolicy {
 public:
  /// Throws std::invalid_argument for an invalid config.
  SloPolicy(LatencyProfile profile, const SloConfig& config = {})
      : config_((require_valid(config), config)),
        profile_(std::move(profile)),
        engine_batch_(config.max_batch > 0 ? config.max_batch
                      : profile_.measured().max_batch > 0 ? profile_.measured().max_batch
                                                          : 256),
        queue_(profile_, TokenLengths{config.default_input_tokens, config.default_output_tokens, config.output_sigma},
               engine_batch_,
               queue_for(engine_batch_)),
        sized_mixes_(mix_slots) {
    targets_.ttft_s = config.ttft_s;
    targets_.tpot_s = config.tpot_s;
    targets_.quantile = config.quantile;
  }

  /// The policy's name, as in decisions and the registry.
  [[nodiscard]] const char* name() const noexcept { return "llmscale-slo"; }
  /// The configuration it was built with.
  [[nodiscard]] const SloConfig& config() const noexcept { return config_; }

  /// The replica count this policy proposes for the signals (never throws, allocates nothing).
  Proposal propose(TimePoint, const Signals& s, const FleetState& fleet) noexcept {
    Proposal p{name(), fleet.current(), std::numeric_limits<double>::quiet_NaN(), "sized for the SLO"};
    const double raw = replicas_for(s.arrival_rate, s.queued_now, tokens_of(s));
    if (!std::isfinite(raw)) {
      p.reason = "no replica meets the targets with this profile: no change";
      return p;
    }
    p.raw = raw;
    p.replicas = detail::ceil_replicas(p.raw - 1e-9);
    if (std::max(0.0, s.queued_now) / (rate_per_replica_ * drain_s()) >= 0.5) {
      p.reason = "sized for the SLO, draining the queue";
    }
    return p;
  }

  /// The unrounded replicas for `arrival_rate` (req/s) with `queued` requests waiting and the
  /// token mix `tokens` (re-sizing a replica when the mix moved beyond the tolerance); NaN when
  /// no replica meets the targets. Negative or non-finite inputs count as 0.
  double replicas_for(double arrival_rate, double queued, const TokenLengths& tokens) noexcept {
    refresh(tokens);
    if (rate_per_replica_ <= 0) return std::numeric_limits<double>::quiet_NaN();
    const auto nonneg = [](double v) { return std::isfinite(v) && v > 0 ? v : 0.0; };
    return std::min(1e6, nonneg(arrival_rate) / rate_per_replica_ + nonneg(queued) / (rate_per_replica_ * drain_s()));
  }

  /// The token mix a snapshot shows: its mean lengths (the defaults until a request has
  /// finished) and its outputs' spread (Signals::output_sigma within [0.05, 3]; output_sigma
  /// while none is measured).
  [[nodiscard]] TokenLengths tokens_of(const Signals& s) const noexcept {
    if (!(s.mean_prompt_tokens >= 1 && s.mean_output_tokens >= 1)) {
      return TokenLengths{config_.default_input_tokens, config_.default_output_tokens, config_.output_sigma};
    }
    const double sigma = s.output_sigma > 0 ? std::clamp(s.output_sigma, 0.05, 3.0) : config_.output_sigma;
    return TokenLengths{std::min(s.mean_prompt_tokens, 1e7), std::min(s.mean_output_tokens, 1e7), sigma};
  }

  /// Requests per second one replica takes within the targets for the current token mix.
  [[nodiscard]] double rate_per_replica() const noexcept { return rate_per_replica_; }
  /// The batch the capacity allows for the current token mix.
  [[nodiscard]] long long batch() const noexcept { return batch_; }

  /// The mix it is sized for and the mixes it has sized (its sizing moves only when the mix
  /// moves by token_mix_tolerance, so what it answers depends on them): a restart that loads
  /// this state answers as this one would. Sizings are not saved but recomputed from those
  /// mixes on load, so a state never carries numbers from another profile or SLO.
  [[nodiscard]] std::string save_state(TimePoint) const {
    detail::StateWriter w("slo/2");
    const auto mix = [&w](const TokenLengths& t) { w << t.input_tokens << t.output_tokens << t.output_sigma; };
    w << sized_;
    mix(tokens_);
    mix(source_);
    std::size_t valid = 0;
    for (const SizedMix& m : sized_mixes_) valid += m.valid ? 1 : 0;
    w << valid;
    for (std::size_t i = 0; i < sized_mixes_.size(); ++i) {
      if (!sized_mixes_[i].valid) continue;
      w << i;
      mix(sized_mixes_[i].source);
    }
    return std::move(w).str();
  }
  /// Restores what save_state wrote; false, with nothing changed, for a text that is not such a
  /// state (or one saved with another token_mix_tolerance: its mixes fall in other cells).
  bool load_state(std::string_view state, TimePoint) {
    detail::StateReader r(state, "slo/2");
    const auto mix_ok = [](const TokenLengths& t) {
      return std::isfinite(t.input_tokens) && std::isfinite(t.output_tokens) && t.input_tokens > 0 && t.output_tokens > 0 &&
             t.input_tokens <= 1e9 && t.output_tokens <= 1e9 && detail::output_sigma_ok(t.output_sigma);
    };
    const auto mix = [&r](TokenLengths& t) { r >> t.input_tokens >> t.output_tokens >> t.output_sigma; };
    bool sized = false;
    TokenLengths tokens{1, 1, config_.output_sigma}, source = tokens;
    std::size_t valid = 0;
    r >> sized;
    mix(tokens);
    mix(source);
    r >> valid;
    if (!r.ok() || (sized && (!mix_ok(tokens) || !mix_ok(source))) || valid > sized_mixes_.size()) return false;
    std::vector<SizedMix> cells(mix_slots);
    for (std::size_t k = 0; k < valid; ++k) {
      std::size_t slot = 0;  // the slot it was kept in
      TokenLengths t = tokens;
      r >> slot;
      mix(t);
      MixCell at;
      if (!r.ok() || !mix_ok(t) || !cell_of(t, at)) return false;
      // back in the slot it was kept in when that is one of its probes (so the table is the one
      // saved, whatever order the cells come in), else where a lookup would look first
      const std::size_t home = slot_of(at);
      for (std::size_t p = 0; p < mix_probes; ++p) {
        const SizedMix& m = cells[(home + p) % mix_slots];
        if (m.valid && m.cell == at) return false;  // a cell twice
      }
      const std::size_t probe = (slot + mix_slots - home) % mix_slots;
      SizedMix* cell = slot < mix_slots && probe < mix_probes && !cells[slot].valid ? &cells[slot] : slot_in(cells, at);
      if (cell->valid) continue;  // its probes are full (a table saved at another size): sized again when met
      *cell = SizedMix{at, 0, 0, true, t};
    }
    if (!r.done()) return false;
    // every cell findable: none behind a free slot on its way from home (a lookup stops there)
    for (std::size_t i = 0; i < mix_slots; ++i) {
      if (!cells[i].valid) continue;
      for (std::size_t j = slot_of(cells[i].cell); j != i; j = (j + 1) % mix_slots) {
        if (!cells[j].valid) return false;
      }
    }
    for (SizedMix& m : cells) {
      if (m.valid) size_for(m.source, m.batch, m.rate);
    }
    sized_mixes_ = std::move(cells);
    sized_ = sized;
    tokens_ = tokens;
    source_ = source;
    batch_ = 0;
    rate_per_replica_ = 0;
    if (sized_) size_for(source_, batch_, rate_per_replica_);
    return true;
  }

 private:
  [[nodiscard]] double drain_s() const noexcept {
    return config_.queue_drain_s > 0 ? config_.queue_drain_s : std::max(config_.cold_start_s, config_.ttft_s);
  }

  // a replica's queue: max_queue_batches batches, within the model's bound of 10^6
  long long queue_for(long long batch) const noexcept {
    return std::min<long long>(1'000'000, batch * config_.max_queue_batches);
  }

  void refresh(const TokenLengths& tokens) noexcept {
    const auto moved = [&](double a, double b) { return std::fabs(a - b) > config_.token_mix_tolerance * b; };
    if (sized_ && !moved(tokens.input_tokens, tokens_.input_tokens) &&
        !moved(tokens.output_tokens, tokens_.output_tokens) && !moved(tokens.output_sigma, tokens_.output_sigma)) {
      return;
    }
    sized_ = true;
    tokens_ = tokens;
    // a mix seen before (within a cell of the tolerance's width on a log scale) reuses its sizing:
    // a slow or noisy mix (a few requests a second) would otherwise re-size on most ticks
    SizedMix* cell = nullptr;
    MixCell at;
    if (cell_of(tokens, at)) {
      cell = slot_in(sized_mixes_, at);
      if (cell->valid && cell->cell == at) {
        batch_ = cell->batch;
        rate_per_replica_ = cell->rate;
        source_ = cell->source;
        return;
      }
    }
    size_for(tokens, batch_, rate_per_replica_);
    source_ = tokens;
    if (cell != nullptr) *cell = SizedMix{at, batch_, rate_per_replica_, true, tokens};
  }

  // a mix's cell: its mean lengths, each on the tolerance's log grid, and its outputs' spread
  struct MixCell {
    long long input = 0, output = 0, spread = 0;
    bool operator==(const MixCell& o) const noexcept {
      return input == o.input && output == o.output && spread == o.spread;
    }
  };
  // the cell of a mix; false when the mix is not cached
  bool cell_of(const TokenLengths& tokens, MixCell& at) const noexcept {
    if (!(config_.token_mix_tolerance > 0 && tokens.input_tokens >= 1 && tokens.output_tokens >= 1 &&
          tokens.input_tokens <= 1e9 && tokens.output_tokens <= 1e9 && detail::output_sigma_ok(tokens.output_sigma))) {
      return false;
    }
    const double width = std::log1p(config_.token_mix_tolerance);
    if (!(std::log(1e9) / width < 1e12)) return false;  // cells too fine to number: none cached
    at.input = static_cast<long long>(std::floor(std::log(tokens.input_tokens) / width));
    at.output = static_cast<long long>(std::floor(std::log(tokens.output_tokens) / width));
    at.spread = static_cast<long long>(std::floor(tokens.output_sigma / spread_cell));
    return true;
  }
  // the cell's home slot; it is kept there or in one of the mix_probes slots after it
  // (the three mixed by a multiplicative hash: a sum of small multiples of each put neighbouring
  // cells on neighbouring slots, and the probes of a wandering mix's cells ran into each other)
  static std::size_t slot_of(const MixCell& at) noexcept {
    std::uint64_t h = 0;
    for (const long long v : {at.input, at.output, at.spread}) {
      h = (h ^ static_cast<std::uint64_t>(v)) * 0x9E3779B97F4A7C15ULL;
    }
    return static_cast<std::size_t>(h >> 32) % mix_slots;
  }

  // the batch and the rate one replica takes within the targets at `tokens` (the model's one
  // sizing chain; queue_ was built at the engine's largest batch, so nothing allocates or throws)
  void size_for(const TokenLengths& tokens, long long& batch, double& rate) noexcept {
    const ReplicaSizing sizing = size_replicas(profile_, tokens, targets_, config_.kv_tokens, engine_batch_,
                                               config_.prefill_chunk_tokens,
                                               QueueBound{static_cast<double>(config_.max_queue_batches)}, queue_);
    batch = sizing.capacity.max_batch;
    rate = sizing.feasible() ? sizing.max_rate : 0.0;
  }

  struct SizedMix {
    MixCell cell;
    long long batch = 0;
    double rate = 0;
    bool valid = false;
    TokenLengths source;  // the mix it was sized for
  };

  // the slot of `table` holding the cell, else the first free one it may take, else its home
  // (to be evicted)
  static SizedMix* slot_in(std::vector<SizedMix>& table, const MixCell& at) noexcept {
    const std::size_t home = slot_of(at);
    for (std::size_t k = 0; k < mix_probes; ++k) {
      SizedMix& m = table[(home + k) % mix_slots];
      if (!m.valid || m.cell == at) return &m;
    }
    return &table[home];
  }

  SloConfig config_;
  LatencyProfile profile_;
  long long engine_batch_;
  BatchQueueModel queue_;
  LatencyTargets targets_;
  TokenLengths tokens_;
  bool sized_ = false;
  TokenLengths source_;  // the mix the current sizing was computed for (tokens_, or a cached neighbour)
  double rate_per_replica_ = 0;
  long long batch_ = 0;
  static constexpr std::size_t mix_slots = 1024, mix_probes = 8;
  // the spread's cells: 0.1 wide, about a minute's noise in the spread measured over a few
  // hundred requests (on the code mix a replica's rate moves 4-9 % per 0.1 there)
  static constexpr double spread_cell = 0.1;
  std::vector<SizedMix> sized_mixes_;  // mix_slots, open-addressed by cell (allocated once)
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_POLICY_SLO_HPP
