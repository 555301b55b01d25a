// The whole path a host builds, end to end:
//
//   request threads -> Recorder -> SignalCollector -> Autoscaler (from the policy registry)
//                   -> the host carries the decision out -> FleetState, as replicas come up
//
// on a virtual clock, so seventy minutes of traffic run in well under a second. The host is a
// toy serving fleet: each ready replica runs up to 16 requests at once for 2 s each (a first
// token after 0.2 s); the rest wait in the router's queue, first come first served. Its load
// ramps from 5 to 40 requests/s and back. Each second the host hands the events of that second
// (arrived, admitted, first token, finished) to its request threads, which record them into the
// one Recorder concurrently, as a real server's request handlers would; then it sets each
// replica's engine gauges, ticks the collector and the autoscaler, and carries the decision out:
// new replicas start and serve a cold start later, a scale-down cancels starts first.
//
// It checks, at every tick, that what the collector counts in flight (running and queued) is
// exactly what the host has, and at the end that the fleet grew enough to carry the peak.
// Exit status: 0 when both hold, 1 when not, 2 for a bad argument.
//
//   end_to_end [--policy NAME] [--set NAME.key=value]... [--threads N]
//     NAME: a registered policy that needs no latency profile (default kpa)
#include <llmscale/core/fleet_state.hpp>
#include <llmscale/core/time.hpp>
#include <llmscale/policy/registry.hpp>
#include <llmscale/signals/collector.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int slots_per_replica = 16;  // requests a replica runs at once
constexpr double service_s = 2.0;      // each request runs this long
constexpr double first_token_s = 0.2;  // its first token comes after this
constexpr double cold_start_s = 120;   // a replica asked for serves this much later
constexpr long long prompt_tokens = 500, output_tokens = 100;
constexpr double minutes = 70;

// The load: requests/s at minute m.
double arrival_rate(double m) {
  if (m < 10) return 5;
  if (m < 30) return 5 + 35 * (m - 10) / 20;
  if (m < 50) return 40;
  return 10;
}

// One event a request thread records.
struct Event {
  enum Kind { arrived, admitted, first_token, finished } kind;
  double t;     // virtual seconds
  double wait;  // queue wait (admitted) or the time since arrival (first token, finished)
};

// The request threads: each second the host deals out that second's events; every thread
// records its share into the shared Recorder, and the host waits until all have.
class RequestThreads {
 public:
  RequestThreads(int count, llmscale::Recorder& recorder, double epoch_s) : inboxes_(count) {
    for (int w = 0; w < count; ++w) {
      threads_.emplace_back([this, w, &recorder, epoch_s] { serve(w, recorder, epoch_s); });
    }
  }
  ~RequestThreads() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    go_.notify_all();
    for (auto& t : threads_) t.join();
  }
  std::vector<std::vector<Event>>& inboxes() { return inboxes_; }
  // Hands out the inboxes and returns once every thread has recorded its own.
  void record_all() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++round_;
    pending_ = static_cast<int>(threads_.size());
    go_.notify_all();
    done_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void serve(int w, llmscale::Recorder& recorder, double epoch_s) {
    unsigned long long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        go_.wait(lock, [&] { return stop_ || round_ != seen; });
        if (stop_) return;
        seen = round_;
      }
      auto& box = inboxes_[static_cast<std::size_t>(w)];
      std::sort(box.begin(), box.end(), [](const Event& a, const Event& b) { return a.t < b.t; });
      for (const Event& e : box) {
        const auto at = llmscale::at_seconds(epoch_s + e.t);
        const auto waited = llmscale::from_seconds(e.wait);
        switch (e.kind) {
          case Event::arrived: recorder.arrived(at); break;
          case Event::admitted: recorder.admitted(at, waited); break;
          case Event::first_token: recorder.first_token(at, waited); break;
          case Event::finished: recorder.finished(at, waited, prompt_tokens, output_tokens); break;
        }
      }
      box.clear();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::vector<Event>> inboxes_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable go_, done_;
  unsigned long long round_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

// The toy fleet's router and engines: a FIFO queue in front of ready x 16 slots.
class ToyFleet {
 public:
  struct Running {
    double end, arrived;
  };
  // Runs the requests of [t0, t0 + 1) arriving at `arrivals` (sorted) on `ready` replicas;
  // deals each request's events to a thread by its number.
  void second(double t0, const std::vector<double>& arrivals, int ready,
              std::vector<std::vector<Event>>& inboxes) {
    const std::size_t slots = static_cast<std::size_t>(ready) * slots_per_replica;
    const auto deal = [&](Event e) { inboxes[next_++ % inboxes.size()].push_back(e); };
    const auto admit = [&](double at, double arrived) {
      deal({Event::admitted, at, at - arrived});
      if (at + first_token_s < t0 + 1) {
        deal({Event::first_token, at + first_token_s, at + first_token_s - arrived});
      } else {
        first_tokens_.push_back({at + first_token_s, arrived});
      }
      running_.push_back({at + service_s, arrived});
    };
    std::size_t a = 0;
    for (;;) {
      const double next_end = running_.empty() ? t0 + 1 : running_.front().end;
      const double next_first = first_tokens_.empty() ? t0 + 1 : first_tokens_.front().end;
      const double next_arrival = a < arrivals.size() ? arrivals[a] : t0 + 1;
      const double t = std::min({next_end, next_first, next_arrival});
      if (t >= t0 + 1) break;
      if (t == next_first) {
        deal({Event::first_token, t, t - first_tokens_.front().arrived});
        first_tokens_.pop_front();
      } else if (t == next_end) {
        deal({Event::finished, t, t - running_.front().arrived});
        running_.pop_front();
      } else {
        deal({Event::arrived, t, 0});
        queue_.push_back(t);
        ++a;
      }
      while (!queue_.empty() && running_.size() < slots) {  // a freed slot takes the head of the queue
        admit(t, queue_.front());
        queue_.pop_front();
      }
    }
  }
  [[nodiscard]] long long running() const noexcept { return static_cast<long long>(running_.size()); }
  [[nodiscard]] long long queued() const noexcept { return static_cast<long long>(queue_.size()); }

 private:
  std::deque<Running> running_, first_tokens_;  // both in end order: every request takes as long
  std::deque<double> queue_;                    // arrival times
  std::size_t next_ = 0;
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "end_to_end: %s\nusage: end_to_end [--policy NAME] [--set NAME.key=value]... [--threads N (1-64)]\n",
               why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // 1. Configuration: the policy by name from the registry, its settings as --set gives them.
  std::string policy = "kpa";
  int thread_count = 4;
  llmscale::PolicyConfigs configs;
  configs.kpa.container_concurrency = slots_per_replica;  // the engine's batch, as the replay sets it
  llmscale::GovernorConfig governor;
  governor.max_replicas = 60;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(a + " needs a value");
    const std::string v = argv[++i];
    try {
      if (a == "--policy") {
        policy = v;
      } else if (a == "--set") {
        configs.set(v);
      } else if (a == "--threads") {
        thread_count = std::stoi(v);
        if (thread_count < 1 || thread_count > 64) return usage("--threads " + v + " is out of range; allowed: [1, 64]");
      } else {
        return usage("unknown argument '" + a + "'");
      }
    } catch (const std::exception& e) {
      return usage(a + " " + v + ": " + e.what());
    }
  }
  const llmscale::RegisteredPolicy* entry = llmscale::find_policy(policy);
  if (entry == nullptr) return usage("--policy " + policy + " is not a registered policy");
  if (entry->needs_profile) return usage("--policy " + policy + " needs a latency profile; pick one that does not");

  // 2. The signal path and the autoscaler, on the virtual clock (t = 0 is at_seconds(1)).
  constexpr double epoch_s = 1;
  const auto clock = [](double t) { return llmscale::at_seconds(epoch_s + t); };
  llmscale::SignalsConfig signals_config;
  signals_config.replica_slots = governor.max_replicas;
  llmscale::SignalCollector collector(signals_config, clock(0));
  llmscale::AnyAutoscaler scaler = llmscale::make_autoscaler(policy, configs, nullptr, governor, clock(0));
  llmscale::FleetState fleet(1);
  RequestThreads threads(thread_count, collector.recorder(), epoch_s);
  ToyFleet host;
  std::mt19937_64 rng(7);

  // 3. Every second: traffic, recorded by the request threads; gauges; a tick; the decision.
  long long ticks = 0, matched = 0, arrivals_total = 0;
  int peak_ready = 0, prev_desired = fleet.current();
  for (int s = 0; s < static_cast<int>(minutes * 60); ++s) {
    const double t0 = s;
    std::vector<double> arrivals;
    std::poisson_distribution<int> count(arrival_rate(t0 / 60));
    std::uniform_real_distribution<double> within(t0, t0 + 1);
    for (int n = count(rng); n > 0; --n) arrivals.push_back(within(rng));
    std::sort(arrivals.begin(), arrivals.end());
    arrivals_total += static_cast<long long>(arrivals.size());
    host.second(t0, arrivals, fleet.ready(), threads.inboxes());
    threads.record_all();

    const auto now = clock(t0 + 1);
    fleet.mark_ready(fleet.ready_by(now, llmscale::from_seconds(cold_start_s)) - fleet.ready());
    const int ready = fleet.ready();
    for (int r = 0; r < signals_config.replica_slots; ++r) {
      if (r >= ready) {
        collector.gauges().clear(static_cast<std::size_t>(r));
        continue;
      }
      llmscale::ReplicaGauges g;  // an even share of the fleet's running requests and queue
      g.running = std::min<long long>(slots_per_replica, (host.running() + ready - 1 - r) / ready);
      g.queue_length = (host.queued() + ready - 1 - r) / ready;
      g.max_batch = slots_per_replica;
      g.kv_tokens_capacity = slots_per_replica * (prompt_tokens + output_tokens);
      g.kv_tokens_used = g.running * (prompt_tokens + output_tokens);
      g.sampled_at = now;
      collector.gauges().set(static_cast<std::size_t>(r), g);
    }
    const llmscale::Signals& signals = collector.tick(now);
    ++ticks;
    if (signals.running_now == static_cast<double>(host.running()) &&
        signals.queued_now == static_cast<double>(host.queued())) {
      ++matched;
    }

    const llmscale::Decision& d = scaler.tick(now, signals, fleet);
    const int delta = d.desired_replicas - fleet.current();
    if (delta > 0) fleet.add_starting(delta, now);
    if (delta < 0) fleet.set_ready(fleet.ready() - (-delta - fleet.cancel_starting(-delta)));
    if (d.desired_replicas != prev_desired) {
      char line[512];
      d.format_to(line, sizeof line);
      std::printf("t=%5.0fs %5.1f req/s  %s\n", t0 + 1, arrival_rate(t0 / 60), line);
      prev_desired = d.desired_replicas;
    }
    peak_ready = std::max(peak_ready, fleet.ready());
  }

  // 4. What the run shows.
  const auto& health = collector.signals().requests;
  const int needed = static_cast<int>(40.0 * service_s / slots_per_replica + 0.999);  // the peak's bare minimum
  std::printf("end to end: %s, %lld requests recorded by %d threads, in flight matched at %lld of %lld ticks, "
              "peak ready %d (the peak needs %d), dropped: %llu invalid, %llu stale\n",
              policy.c_str(), arrivals_total, thread_count, matched, ticks, peak_ready, needed,
              static_cast<unsigned long long>(health.dropped_invalid),
              static_cast<unsigned long long>(health.dropped_stale));
  const bool ok = matched == ticks && peak_ready >= needed && health.dropped_invalid == 0 && health.dropped_stale == 0;
  if (!ok) std::printf("end to end: FAILED\n");
  return ok ? 0 : 1;
}
