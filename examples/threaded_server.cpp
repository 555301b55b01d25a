// A server's view of llmscale's signals: request threads record a synthetic load while a
// control thread ticks once per period and prints the snapshot, on the real clock.
//
//   threaded_server [--seconds N] [--threads N] [--rate R]
//
// Each request thread serves requests one after another: it records the arrival, waits in a
// "queue" (sleeps a random few milliseconds), records the admission with its queue wait,
// produces a first token, runs, and records the finish with its token counts. The control
// thread sets each replica's engine gauges and prints what a policy would read.
#include <llmscale/signals/collector.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "threaded_server: %s\nusage: threaded_server [--seconds N (1-3600)] [--threads N (1-64)] "
               "[--rate R requests/s per thread (1-10000)]\n",
               why);
  return 2;
}

bool parse(const char* text, double lo, double hi, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0' && out >= lo && out <= hi;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3, threads = 4, rate = 200;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return usage((std::string(argv[i]) + " needs a value").c_str());
    const char* v = argv[i + 1];
    if (std::strcmp(argv[i], "--seconds") == 0) {
      if (!parse(v, 1, 3600, seconds)) return usage("--seconds must be in [1, 3600]");
    } else if (std::strcmp(argv[i], "--threads") == 0) {
      if (!parse(v, 1, 64, threads)) return usage("--threads must be in [1, 64]");
    } else if (std::strcmp(argv[i], "--rate") == 0) {
      if (!parse(v, 1, 10000, rate)) return usage("--rate must be in [1, 10000]");
    } else {
      return usage((std::string("unknown argument '") + argv[i] + "'").c_str());
    }
  }

  llmscale::SignalsConfig config;
  config.window_s = 10;
  config.quantile_window_s = 10;
  config.quantile_subwindows = 5;
  config.replica_slots = 4;
  const auto start = llmscale::Clock::now();
  llmscale::SignalCollector collector(config, start);
  std::atomic<bool> stop{false};

  std::vector<std::thread> workers;
  for (int w = 0; w < static_cast<int>(threads); ++w) {
    workers.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(w) + 1);
      std::exponential_distribution<double> gap(rate);
      std::uniform_int_distribution<int> queue_ms(0, 8), prompt(200, 2000), output(20, 400);
      llmscale::Recorder& recorder = collector.recorder();
      while (!stop.load(std::memory_order_relaxed)) {
        std::this_thread::sleep_for(std::chrono::duration<double>(gap(rng)));
        const auto arrived = llmscale::Clock::now();
        recorder.arrived(arrived);
        std::this_thread::sleep_for(std::chrono::milliseconds(queue_ms(rng)));
        const auto admitted = llmscale::Clock::now();
        recorder.admitted(admitted, admitted - arrived);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const auto first = llmscale::Clock::now();
        recorder.first_token(first, first - arrived);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        const auto done = llmscale::Clock::now();
        recorder.finished(done, done - arrived, prompt(rng), output(rng));
      }
    });
  }

  std::printf("%6s %9s %8s %7s %8s %8s %9s %9s %6s %6s\n", "t_s", "arrivals", "in_sys", "queued", "wait_p99",
              "ttft_p50", "ttft_p99", "e2e_mean", "kv", "batch");
  for (int tick = 1; tick <= static_cast<int>(seconds); ++tick) {
    std::this_thread::sleep_until(start + std::chrono::seconds(tick));
    const auto now = llmscale::Clock::now();
    for (std::size_t r = 0; r < 4; ++r) {  // what each replica's engine would report
      llmscale::ReplicaGauges g;
      g.max_batch = 64;
      g.running = static_cast<std::int64_t>(8 * (r + 1) + tick % 8);
      g.queue_length = static_cast<std::int64_t>(r);
      g.kv_tokens_capacity = 400000;
      g.kv_tokens_used = g.running * 2500;
      g.kv_block_size = 16;
      g.sampled_at = now;
      collector.gauges().set(r, g);
    }
    const llmscale::Signals& s = collector.tick(now);
    std::printf("%6d %9.1f %8.2f %7.2f %8.4f %8.4f %9.4f %9.4f %6.3f %6.3f\n", tick, s.arrival_rate, s.concurrency,
                s.queued, s.queue_wait_p99_s, s.ttft_p50_s, s.ttft_p99_s, s.mean_e2e_latency_s,
                s.engines.kv_utilization, s.engines.batch_occupancy);
  }
  stop = true;
  for (auto& t : workers) t.join();
  const auto& h = collector.signals().requests;
  std::printf("dropped: %llu invalid, %llu stale\n", static_cast<unsigned long long>(h.dropped_invalid),
              static_cast<unsigned long long>(h.dropped_stale));
  return 0;
}
