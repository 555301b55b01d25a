// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// simulate(): one policy over one request stream under the simulator's rules (docs/simulator.md).
// One concept, one event loop: about 600 lines because the router, the replica lifecycle, the
// faults and the metric path all act on the same state between two events; its settings, results
// and containers live in sim_config.hpp, sim_result.hpp and detail/sim_containers.hpp.
//   router   each arrival goes to the ready replica with the fewest outstanding requests among
//            those that can admit it; while none can, requests wait in a FIFO router queue
//            (optionally bounded: a request arriving to a full queue is rejected, an SLO miss);
//            a prompt larger than a replica's whole KV cache can never run and is rejected
//   replicas ReplicaEngine (continuous batching, chunked prefill, KV admission, preemption;
//            a preempted request goes back to the head of the router queue to be recomputed:
//            its prompt plus the tokens it generated are prefilled again, its first token
//            stays when it was)
//   lifecycle a replica asked for is ready cold_start_s later and billed from the request;
//            a scale-down cancels starting replicas first (newest first, billed until then),
//            then drains the ready ones with the fewest outstanding requests (no new work,
//            billed until the last finishes)
//   control  every tick_s the simulator feeds the same Recorder, EngineGauges (KV use at the
//            last iteration boundary before the tick, inside a fast-forwarded run too) and
//            SignalCollector a real server uses (plus the GPU busy and memory fractions the
//            HPA baselines need) and FleetState to an Autoscaler<P>, and carries out its decision
//            (from warmup_s on: a trace starts on an idle fleet, and the signals' windows fill
//            for a minute before any policy is asked, as a service running before the trace
//            began would have them full);
//            a replica's queue gauge is its even share of the router queue (vLLM's
//            num_requests_waiting: a request being prefilled is already running), so
//            engine-queue policies see requests waiting in the router
//   measured TTFT = first token - arrival, TPOT = (end - first token) / (output - 1), a request
//            meets the SLO with TTFT <= slo_ttft_s and TPOT <= slo_tpot_s; attainment = met /
//            arrived. The run goes on after the last arrival, ticks included, until every
//            request has finished. An optional latency observer is told each TTFT when its first
//            token comes and each TPOT when its request ends (the recorded fleet's per-window
//            measure).
// Times are seconds from the stream's first request; the signals' clock is that plus 1 s.
#ifndef LLMSCALE_SIM_SIMULATOR_HPP
#define LLMSCALE_SIM_SIMULATOR_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/replica_capacity.hpp"
#include "llmscale/policy/autoscaler.hpp"
#include "llmscale/signals/collector.hpp"
#include "llmscale/sim/detail/sim_containers.hpp"
#include "llmscale/sim/replica.hpp"
#include "llmscale/sim/sim_config.hpp"
#include "llmscale/sim/sim_result.hpp"
#include "llmscale/sim/trace.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Replicas Little's law gives for `rate` requests/s of the given mix: the load over what one
/// replica completes at its max batch (at least 1).
[[nodiscard]] inline int littles_law_replicas(const LatencyProfile& profile, double rate, const TokenLengths& tokens,
                                              long long max_batch) {
  const double per_replica = batch_throughput(profile, tokens, static_cast<double>(max_batch));
  if (!(per_replica > 0) || !(rate > 0)) return 1;
  return static_cast<int>(std::clamp(std::ceil(rate / per_replica), 1.0, 1e6));
}

/// When a simulated run starts on the policies' clock (SignalCollector's epoch): simulated
/// time t is at_seconds(1 + t).
[[nodiscard]] inline TimePoint simulation_start() noexcept { return at_seconds(1.0); }

/// simulate()'s latency observer when none is given: told nothing. An observer has
/// `first_token(t, ttft)` (a request's first token at simulated time t) and
/// `finished(t, tpot, output_tokens)` (a request's end).
struct NoLatencyObserver {
  /// A first token at `t` (s), `ttft` seconds after its request arrived: ignored.
  void first_token(double /*t*/, double /*ttft*/) noexcept {}
  /// A request's end at `t` (s), `tpot` seconds per output token after the first: ignored.
  void finished(double /*t*/, double /*tpot*/, std::int64_t /*output_tokens*/) noexcept {}
};

namespace detail {

template <class P, class Source, class Observer = NoLatencyObserver>
class Simulation {
 public:
  /// A run under `policy`: signals fed and the policy's decisions carried out every tick.
  Simulation(P policy, const GovernorConfig& governor, Source& source, const LatencyProfile& profile,
             const SimConfig& config, int initial_replicas)
      : config_((require_valid(config), config)),
        profile_(&profile),
        source_(&source),
        control_(std::make_shared<Control>(std::move(policy), governor, signals_config(governor))),
        engine_config_{config.max_batch, config.kv_tokens, config.chunk_tokens, config.max_num_batched_tokens,
                       config.exact_steps},
        rng_(static_cast<std::uint64_t>(config.fault_seed)) {
    for (int s = signals_config(governor).replica_slots; s > 0; --s) slots_free_.push_back(s - 1);
    result_.policy = control_->scaler.policy().name();
    start(initial_replicas);
  }

  /// A run without signals or a policy, its fleet set by set_fleet() (the oracle's trials). Such
  /// a simulation can be copied: the copy continues independently (with its own source).
  Simulation(Source& source, const LatencyProfile& profile, const SimConfig& config, int initial_replicas)
      : config_((require_valid(config), config)),
        profile_(&profile),
        source_(&source),
        engine_config_{config.max_batch, config.kv_tokens, config.chunk_tokens, config.max_num_batched_tokens,
                       config.exact_steps},
        rng_(static_cast<std::uint64_t>(config.fault_seed)) {
    start(initial_replicas);
  }

  /// Processes every event before `until`; false once the run is over.
  bool run_until(double until) {
    if (!started_) {
      started_ = true;
      pull();
    }
    while (!done_) {
      const double t_arrival = have_next_ ? next_.arrival_s : ReplicaEngine::never;
      const double t_ready = starting_.empty() ? ReplicaEngine::never : replicas_[starting_.front()].ready_at;
      const double t_replica = events_.top_time();
      const double t_crash = crashes_.empty() ? ReplicaEngine::never : crashes_.front().first;
      const double t = std::min({t_arrival, t_ready, t_replica, t_crash, tick_});
      if (t >= until) return true;
      if (t == t_replica && t_replica < ReplicaEngine::never) {
        const std::size_t r = events_.top();
        replicas_[r].engine->step(*this);
        after_engine_change(r, t);
        if (!router_.empty()) drain_router(t);
      } else if (t == t_ready && t_ready < ReplicaEngine::never) {
        const std::size_t r = starting_.front();
        starting_.pop_front();
        fleet_.mark_ready(1);
        if (replicas_[r].fails) {  // billed through its cold start, then gone
          ++result_.failed_starts;
          fleet_.set_ready(fleet_.ready() - 1);
          gone(r, t);
        } else {
          make_ready(r, t);
          drain_router(t);
        }
      } else if (t == t_crash && t_crash < ReplicaEngine::never) {
        const std::size_t r = crashes_.front().second;
        std::pop_heap(crashes_.begin(), crashes_.end(), std::greater<>());
        crashes_.pop_back();
        if (replicas_[r].life == Life::ready && replicas_[r].crash_at == t) crash(r, t);
      } else if (t == t_arrival && have_next_) {
        arrive(next_, t);
        pull();
      } else {
        if (!have_next_ && in_flight_ == 0) {
          done_ = true;
          break;
        }
        if (!have_next_ && tick_ > last_arrival_ + config_.max_drain_s) {
          // a fleet that never serves what is left (a policy that keeps it at zero): what is
          // still waiting counts as rejected, so nothing goes missing from the totals
          result_.rejected += in_flight_;
          result_.unfinished = in_flight_;
          done_ = true;
          break;
        }
        control(tick_);
        tick_ += config_.tick_s;
      }
    }
    return false;
  }

  SimResult run() {
    run_until(ReplicaEngine::never);
    finish(tick_);
    return std::move(result_);
  }

  /// Tells `observer` (which must outlive the run) each request's TTFT and TPOT.
  void observe(Observer& observer) noexcept { observer_ = &observer; }

  /// Without a policy: scales the fleet to `replicas` at `t` (after run_until(t)), as a
  /// decision would (starting replicas are ready a cold start later).
  void set_fleet(int replicas, double t) { apply(replicas, t); }
  /// Reads from `source` from now on (a copy's own, positioned where this one's was).
  void set_source(Source& source) noexcept { source_ = &source; }
  /// Takes no arrival at or after `t` (the rest of the source is ignored).
  void end_arrivals_at(double t) noexcept {
    arrivals_end_ = t;
    if (have_next_ && next_.arrival_s >= arrivals_end_) have_next_ = false;
  }
  /// From now on, arrived() and met() count only requests arriving before `end`, and
  /// window_arrived() and window_met() those arriving in [begin, end).
  void count_arrivals(double begin, double end) noexcept {
    window_begin_ = begin;
    count_before_ = end;
  }
  [[nodiscard]] long long arrived() const noexcept { return arrived_counted_; }
  [[nodiscard]] long long met() const noexcept { return met_counted_; }
  [[nodiscard]] long long window_arrived() const noexcept { return window_arrived_; }
  [[nodiscard]] long long window_met() const noexcept { return window_met_; }
  [[nodiscard]] int ready() const noexcept { return fleet_.ready(); }
  /// Requests in the router queue.
  [[nodiscard]] long long waiting() const noexcept { return static_cast<long long>(router_.size()); }

  // ---- the engines' sink ----------------------------------------------------------------------
  void first_token(SimRequest& q, double t) {
    if (q.first_token >= 0) return;  // recomputed after a preemption: its first token stands
    q.first_token = t;
    if (control_) control_->collector.recorder().first_token(at(t), from_seconds(t - q.arrival));
    if (observer_ != nullptr) observer_->first_token(t, t - q.arrival);
  }
  void finished(const SimRequest& q, double t) {
    const double ttft = q.first_token - q.arrival;
    const double tpot = q.output > 1 ? (t - q.first_token) / static_cast<double>(q.output - 1) : 0.0;
    if (ttft <= config_.slo_ttft_s && tpot <= config_.slo_tpot_s) {
      ++result_.met;
      if (q.arrival < count_before_) {
        ++met_counted_;
        if (q.arrival >= window_begin_) ++window_met_;
      }
    } else {
      ++misses_since_tick_;
    }
    ++result_.completed;
    if (control_) {
      ttft_.push_back(static_cast<float>(ttft));
      tpot_.push_back(static_cast<float>(tpot));
      control_->collector.recorder().finished(at(t), from_seconds(t - q.arrival), q.prompt, q.output,
                                              q.output > 1 ? from_seconds(tpot) : Duration(-1));
    }
    if (observer_ != nullptr) observer_->finished(t, tpot, q.output);
    last_end_ = std::max(last_end_, t);
    --in_flight_;
  }
  void preempted(const SimRequest& q, double) {
    ++result_.preempted;
    router_.push_front(q);
  }

 private:
  enum class Life : std::uint8_t { starting, ready, draining, gone };
  struct ReplicaState {
    std::optional<ReplicaEngine> engine;
    Life life = Life::starting;
    bool fails = false;  // a failed start
    double requested_at = 0, ready_at = 0, crash_at = ReplicaEngine::never;
    int slot = -1;
    std::ptrdiff_t open_at = -1;  // its place in open_, or -1
    double busy_since = -1, busy = 0;  // busy: seconds with work since the last tick
  };
  struct Control {
    SignalCollector collector;
    Autoscaler<P> scaler;
    FractionHistogram occupancy, kv_use;  // over ready replica-seconds
    Control(P policy, const GovernorConfig& governor, const SignalsConfig& signals)
        : collector(signals, epoch()), scaler(std::move(policy), governor, epoch()) {}
  };

  static TimePoint epoch() noexcept { return simulation_start(); }
  static TimePoint at(double t) noexcept { return at_seconds(1.0 + t); }
  static SignalsConfig signals_config(const GovernorConfig& g) {
    SignalsConfig s;
    s.replica_slots = std::max(1, g.max_replicas);
    s.recorder.writer_shards = 1;
    s.recorder.event_skew_s = 5;
    return s;
  }

  void start(int initial_replicas) {
    result_.initial_replicas = initial_replicas;
    for (int i = 0; i < initial_replicas; ++i) make_ready(new_replica(0.0, false), 0.0);
    fleet_ = FleetState(initial_replicas);
  }

  void pull() {
    have_next_ = source_->next(next_);
    if (have_next_ && next_.arrival_s >= arrivals_end_) have_next_ = false;
  }

  std::size_t new_replica(double t, bool faults = true) {
    ReplicaState r;
    r.engine.emplace(*profile_, engine_config_);
    r.requested_at = t;
    r.ready_at = t + config_.cold_start_s * (faults ? config_.slow_start_factor : 1.0);
    r.fails = faults && config_.failed_start_probability > 0 && uniform_(rng_) < config_.failed_start_probability;
    replicas_.push_back(std::move(r));
    return replicas_.size() - 1;
  }

  void make_ready(std::size_t r, double t) {
    ReplicaState& rep = replicas_[r];
    rep.life = Life::ready;
    if (!slots_free_.empty()) {
      rep.slot = slots_free_.back();
      slots_free_.pop_back();
    }
    if (config_.crash_per_replica_hour > 0) {
      rep.crash_at = t + std::exponential_distribution<double>(config_.crash_per_replica_hour / 3600.0)(rng_);
      crashes_.emplace_back(rep.crash_at, r);
      std::push_heap(crashes_.begin(), crashes_.end(), std::greater<>());
    }
    ready_.push_back(r);
    update_open(r);
  }

  // A ready replica crashes: its requests go back to the head of the router queue, oldest
  // arrival first, with their original arrival times (what they generated is recomputed).
  void crash(std::size_t r, double t) {
    ++result_.crashes;
    std::vector<SimRequest> back;
    replicas_[r].engine->for_each_request([&](const SimRequest& q) { back.push_back(q); });
    std::sort(back.begin(), back.end(), [](const SimRequest& a, const SimRequest& b) { return a.arrival > b.arrival; });
    for (const SimRequest& q : back) router_.push_front(q);
    result_.requeued += static_cast<long long>(back.size());
    ready_.erase(std::find(ready_.begin(), ready_.end(), r));
    fleet_.set_ready(fleet_.ready() - 1);
    if (replicas_[r].busy_since >= 0) replicas_[r].busy_since = -1;
    gone(r, t);
    drain_router(t);
  }

  void gone(std::size_t r, double t) {
    ReplicaState& rep = replicas_[r];
    if (rep.life == Life::gone) return;
    rep.life = Life::gone;
    update_open(r);
    events_.set(r, ReplicaEngine::never);
    billed_ += t - rep.requested_at;
    release_slot(rep);
    rep.engine.reset();
  }

  void release_slot(ReplicaState& rep) {
    if (rep.slot < 0) return;
    if (control_) control_->collector.gauges().clear(static_cast<std::size_t>(rep.slot));
    slots_free_.push_back(rep.slot);
    rep.slot = -1;
  }

  void after_engine_change(std::size_t r, double t) {
    ReplicaState& rep = replicas_[r];
    const bool busy = rep.engine->running() > 0;
    if (busy && rep.busy_since < 0) rep.busy_since = t;
    if (!busy && rep.busy_since >= 0) {
      rep.busy += t - rep.busy_since;
      rep.busy_since = -1;
    }
    if (rep.life == Life::draining && rep.engine->running() == 0) {
      gone(r, t);
      --draining_;
      fleet_.set_draining(draining_);
      return;
    }
    events_.set(r, rep.engine->next_event());
    update_open(r);
  }

  // Keeps open_ = the ready replicas below their max batch (the only ones that can admit), so
  // an overloaded fleet is not scanned on every admission.
  void update_open(std::size_t r) {
    ReplicaState& rep = replicas_[r];
    const bool open = rep.life == Life::ready && rep.engine && rep.engine->running() < rep.engine->max_batch();
    if (open && rep.open_at < 0) {
      rep.open_at = static_cast<std::ptrdiff_t>(open_.size());
      open_.push_back(r);
    } else if (!open && rep.open_at >= 0) {
      const std::size_t last = open_.back();
      open_[static_cast<std::size_t>(rep.open_at)] = last;
      replicas_[last].open_at = rep.open_at;
      open_.pop_back();
      rep.open_at = -1;
    }
  }

  // the ready replica with the fewest outstanding requests that can admit `prompt` (ties: the
  // one asked for first)
  std::size_t pick(std::int64_t prompt) const noexcept {
    std::size_t best = replicas_.size();
    int fewest = std::numeric_limits<int>::max();
    for (std::size_t r : open_) {
      const ReplicaEngine& e = *replicas_[r].engine;
      if ((e.running() < fewest || (e.running() == fewest && r < best)) && e.can_admit(prompt)) {
        fewest = e.running();
        best = r;
      }
    }
    return best;
  }

  void admit(std::size_t r, const SimRequest& q, double t) {
    if (control_ && q.generated == 0 && q.first_token < 0) {
      control_->collector.recorder().admitted(at(t), from_seconds(t - q.arrival));
    }
    replicas_[r].engine->admit(q, t, *this);
    after_engine_change(r, t);
  }

  void drain_router(double t) {
    while (!router_.empty()) {
      const std::size_t r = pick(router_.front().prompt + router_.front().generated);
      if (r == replicas_.size()) return;
      const SimRequest q = router_.front();
      router_.pop_front();
      admit(r, q, t);
    }
  }

  void arrive(const TraceRequest& in, double t) {
    ++result_.requests;
    result_.prompt_tokens += in.prompt_tokens;
    result_.output_tokens += in.output_tokens;
    if (t < count_before_) {
      ++arrived_counted_;
      if (t >= window_begin_) ++window_arrived_;
    }
    last_arrival_ = t;
    ++arrivals_since_tick_;
    if (control_) control_->collector.recorder().arrived(at(t));
    if (static_cast<double>(in.prompt_tokens) > config_.kv_tokens ||
        (config_.router_queue_limit > 0 && static_cast<long long>(router_.size()) >= config_.router_queue_limit)) {
      ++result_.rejected;
      ++misses_since_tick_;
      if (control_) control_->collector.recorder().rejected(at(t));
      return;
    }
    const SimRequest q{t, -1, in.prompt_tokens, in.output_tokens, 0};
    ++in_flight_;
    if (router_.empty()) {
      const std::size_t r = pick(in.prompt_tokens);
      if (r != replicas_.size()) {
        admit(r, q, t);
        return;
      }
    }
    router_.push_back(q);
  }

  [[nodiscard]] bool in_outage(double t) const noexcept {
    return config_.metric_outage_s > 0 && t >= config_.metric_outage_start_s &&
           t < config_.metric_outage_start_s + config_.metric_outage_s;
  }

  void control(double t) {
    if (!control_) return;
    // engine gauges and GPU metrics of the ready replicas (none during a metric outage)
    const bool outage = in_outage(t);
    const double dt = t - last_tick_;
    double busy_sum = 0;
    int reporting = 0;
    // the router queue, attributed evenly to the ready replicas' queue gauges (as each engine's
    // waiting queue would hold its share behind a round-robin router)
    const auto waiting = static_cast<long long>(router_.size());
    const auto share = ready_.empty() ? 0 : waiting / static_cast<long long>(ready_.size());
    auto extra = ready_.empty() ? 0 : waiting % static_cast<long long>(ready_.size());
    for (std::size_t r : ready_) {
      ReplicaState& rep = replicas_[r];
      double busy = rep.busy;
      if (rep.busy_since >= 0) {
        busy += t - std::max(rep.busy_since, last_tick_);
        rep.busy_since = t;
      }
      rep.busy = 0;
      // what binds: batch and KV occupancy over ready replica-seconds (sampled each tick)
      const ReplicaEngine& e = *rep.engine;
      const double kv_used = e.kv_used_at(t);
      control_->occupancy.add(static_cast<double>(e.running()) / static_cast<double>(e.max_batch()), dt);
      control_->kv_use.add(kv_used / e.kv_capacity(), dt);
      if (outage) continue;
      if (dt > 0) {
        busy_sum += std::min(1.0, busy / dt);
        ++reporting;
      }
      if (rep.slot < 0) continue;
      ReplicaGauges g;
      g.queue_length = share + (extra > 0 ? 1 : 0);  // waiting; a request prefilling is running, as in vLLM
      if (extra > 0) --extra;
      g.running = e.running();
      g.max_batch = e.max_batch();
      g.kv_tokens_used = static_cast<std::int64_t>(std::min(kv_used, e.kv_capacity()));
      g.kv_tokens_capacity = static_cast<std::int64_t>(e.kv_capacity());
      g.sampled_at = at(t);
      control_->collector.gauges().set(static_cast<std::size_t>(rep.slot), g);
    }
    Signals s = control_->collector.tick(at(t));
    s.gpu.replicas_reporting = reporting;
    s.gpu.busy_fraction = reporting > 0 ? busy_sum / reporting : 0.0;
    s.gpu.memory_fraction = outage ? 0.0 : config_.gpu_memory_fraction;
    last_tick_ = t;
    const int current = fleet_.current();
    int desired = current;
    Constraint binding = Constraint::none;
    int proposed = current;
    const char* reason = "warm-up: the signals' windows are filling";
    if (t >= config_.warmup_s) {  // the signals' windows have filled once: the policy decides
      const Decision& d = control_->scaler.tick(at(t), scraped(s, t), fleet_);
      binding = d.binding;
      reason = d.reason;
      proposed = d.proposal_count > 0 ? d.proposals[0].replicas : d.desired_replicas;
      desired = through_hpa(d.desired_replicas, t);
      apply(desired, t);
    }
    result_.peak_replicas = std::max(result_.peak_replicas, fleet_.current());
    if (config_.keep_timeseries) {
      result_.series.push_back(SimTick{t, arrivals_since_tick_, static_cast<long long>(router_.size()), fleet_.ready(),
                                       fleet_.starting(), desired, current, misses_since_tick_, binding, proposed, reason});
    }
    arrivals_since_tick_ = 0;
    misses_since_tick_ = 0;
  }

  // The metric path: with a scrape interval the policy sees the snapshot of the last scrape (the
  // collector still runs every tick, as the engines' own counters do).
  const Signals& scraped(const Signals& now, double t) {
    if (!(config_.metric_scrape_s > 0)) return now;
    if (!have_scrape_ || t + 1e-9 >= next_scrape_) {
      scrape_ = now;
      have_scrape_ = true;
      next_scrape_ = (std::floor(t / config_.metric_scrape_s + 1e-9) + 1) * config_.metric_scrape_s;
    }
    return scrape_;
  }

  // KEDA's path: the desired count reaches the fleet through an HPA (AverageValue, target 1)
  // that syncs every hpa_sync_s, ignores a ratio within its tolerance and adds at most
  // hpa_scale_up_percent of the fleet per sync (deploy/scaledobject.yaml's behaviour).
  int through_hpa(int desired, double t) {
    if (!(config_.hpa_sync_s > 0)) return desired;
    const int current = fleet_.current();
    if (t + 1e-9 < next_sync_) return current;
    next_sync_ = (std::floor(t / config_.hpa_sync_s + 1e-9) + 1) * config_.hpa_sync_s;
    if (current > 0) {
      const double ratio = static_cast<double>(desired) / static_cast<double>(current);
      if (std::fabs(ratio - 1.0) <= config_.hpa_tolerance) return current;
      const double most = std::ceil(static_cast<double>(current) * (1.0 + config_.hpa_scale_up_percent / 100.0));
      if (static_cast<double>(desired) > most) return static_cast<int>(most);
    }
    return desired;
  }

  // Carries out a decision: starts replicas, or cancels starting ones (newest first) and then
  // drains ready ones.
  void apply(int desired, double t) {
    const int current = fleet_.current();
    if (desired != current) ++result_.scale_events;
    if (desired > current) {
      for (int i = 0; i < desired - current; ++i) starting_.push_back(new_replica(t));
      fleet_.add_starting(desired - current, at(t));
    } else if (desired < current) {
      int remove = current - desired;
      const int cancelled = fleet_.cancel_starting(remove);
      for (int i = 0; i < cancelled; ++i) {
        gone(starting_.back(), t);
        starting_.pop_back();
      }
      remove -= cancelled;
      for (; remove > 0 && !ready_.empty(); --remove) drain_one(t);
    }
  }

  void drain_one(double t) {
    auto least = ready_.begin();
    for (auto it = ready_.begin(); it != ready_.end(); ++it) {
      if (replicas_[*it].engine->running() < replicas_[*least].engine->running()) least = it;
    }
    const std::size_t r = *least;
    ready_.erase(least);
    fleet_.set_ready(fleet_.ready() - 1);
    ReplicaState& rep = replicas_[r];
    release_slot(rep);
    if (rep.engine->running() == 0) {
      gone(r, t);
      return;
    }
    rep.life = Life::draining;
    update_open(r);
    ++draining_;
    fleet_.set_draining(draining_);
  }

  void finish(double t_end) {
    const double end = result_.unfinished > 0 ? t_end : std::max(last_end_, last_arrival_);
    for (std::size_t r = 0; r < replicas_.size(); ++r) gone(r, std::max(end, replicas_[r].requested_at));
    result_.gpu_hours = billed_ * config_.gpus_per_replica / 3600.0;
    result_.duration_s = last_end_;
    result_.last_arrival_s = last_arrival_;
    result_.slo_attainment = result_.requests > 0 ? static_cast<double>(result_.met) / static_cast<double>(result_.requests) : 1.0;
    double sum = 0;
    for (float v : ttft_) sum += v;
    result_.ttft_mean = ttft_.empty() ? 0.0 : sum / static_cast<double>(ttft_.size());
    result_.tpot_p50 = nearest_rank(tpot_, 0.50);
    result_.ttft_p50 = nearest_rank(ttft_, 0.50);
    result_.ttft_p99 = nearest_rank(ttft_, 0.99);
    result_.tpot_p99 = nearest_rank(tpot_, 0.99);
    if (control_) {
      result_.batch_occupancy_p95 = control_->occupancy.quantile(0.95);
      result_.kv_use_p95 = control_->kv_use.quantile(0.95);
    }
  }

  SimConfig config_;
  const LatencyProfile* profile_;
  Source* source_;
  std::shared_ptr<Control> control_;  // null without a policy (then the simulation copies)
  std::vector<int> slots_free_;
  ReplicaEngineConfig engine_config_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  FleetState fleet_{0};
  std::vector<ReplicaState> replicas_;
  std::vector<std::size_t> ready_;     // serving, in the order they became ready
  std::vector<std::size_t> open_;      // ready and below the max batch, in no order
  std::deque<std::size_t> starting_;   // in request order (= ready order)
  std::vector<std::pair<double, std::size_t>> crashes_;  // min-heap of (crash time, replica)
  int draining_ = 0;
  ReplicaEventHeap events_;
  std::deque<SimRequest> router_;
  long long in_flight_ = 0;
  long long arrivals_since_tick_ = 0, misses_since_tick_ = 0;
  long long arrived_counted_ = 0, met_counted_ = 0;  // arriving before count_before_
  long long window_arrived_ = 0, window_met_ = 0;     // arriving in [window_begin_, count_before_)
  double window_begin_ = std::numeric_limits<double>::infinity(), count_before_ = std::numeric_limits<double>::infinity();
  double last_tick_ = 0, last_end_ = 0, last_arrival_ = 0, billed_ = 0;
  double tick_ = 0, arrivals_end_ = std::numeric_limits<double>::infinity();
  TraceRequest next_;
  bool have_next_ = false, started_ = false, done_ = false;
  std::vector<float> ttft_, tpot_;
  Signals scrape_;
  bool have_scrape_ = false;
  double next_scrape_ = 0, next_sync_ = 0;
  Observer* observer_ = nullptr;
  SimResult result_;
};

}  // namespace detail

/// Runs `policy` (with `governor`) over `source` (anything with `bool next(TraceRequest&)`, in
/// time order) and returns what docs/simulator.md measures, telling `observer` each request's
/// TTFT at its first token (`observer.first_token(t, ttft)`) and its TPOT at its end
/// (`observer.finished(t, tpot, output_tokens)`), t in the simulator's seconds (the run is the
/// same with any observer). Throws std::invalid_argument for an invalid SimConfig (naming the
/// field), governor or policy config, or a negative initial fleet.
template <class P, class Source, class Observer>
SimResult simulate(P policy, const GovernorConfig& governor, Source& source, const LatencyProfile& profile,
                   const SimConfig& config, int initial_replicas, Observer& observer) {
  if (initial_replicas < 0 || initial_replicas > FleetState::max_replicas) {
    throw std::invalid_argument("initial_replicas = " + std::to_string(initial_replicas) + " is out of range; allowed: [0, " +
                                std::to_string(FleetState::max_replicas) + "]");
  }
  detail::Simulation<P, Source, Observer> sim(std::move(policy), governor, source, profile, config, initial_replicas);
  sim.observe(observer);
  return sim.run();
}

/// simulate() without an observer: what docs/simulator.md measures.
template <class P, class Source>
SimResult simulate(P policy, const GovernorConfig& governor, Source& source, const LatencyProfile& profile,
                   const SimConfig& config, int initial_replicas) {
  NoLatencyObserver none;
  return simulate(std::move(policy), governor, source, profile, config, initial_replicas, none);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_SIMULATOR_HPP
