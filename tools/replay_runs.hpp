// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// llmscale-replay's runs: one job per contestant and cold start (and --sweep value), run in
// parallel on --jobs threads, the table printed in order as each row is ready, with a progress
// bar on a terminal.
#ifndef LLMSCALE_TOOLS_REPLAY_RUNS_HPP
#define LLMSCALE_TOOLS_REPLAY_RUNS_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "llmscale/sim/contestants.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "replay_plan.hpp"
#include "replay_set.hpp"

namespace llmscale_replay {

struct Job {
  std::string policy, label;  // label: the row's name (the policy, or policy[key=value] in a sweep)
  double cold_start_s = 0;
  std::string sweep_set;      // --sweep's assignment for this job, if any
};

// Draws a progress bar on stderr when it is a terminal and the runs take more than 2 s.
class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0), start_(clock::now()) {}
  void show(std::size_t done) {
    if (!tty_ || clock::now() - start_ < std::chrono::seconds(2)) return;
    const auto width = 30u;
    const std::size_t filled = total_ == 0 ? width : done * width / total_;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu runs, %.0f s", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total_, seconds());
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fputs("\r\033[K", stderr);
    shown_ = false;
  }
  [[nodiscard]] double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  using clock = std::chrono::steady_clock;
  std::size_t total_;
  bool tty_, shown_ = false;
  clock::time_point start_;
};

/// The jobs of a plan: by cold start, then contestant, then sweep value.
inline std::vector<Job> jobs_of(const ReplayPlan& plan) {
  const std::vector<double>& cold_starts = plan.cold_starts;
  std::vector<Job> jobs;
  for (double cs : cold_starts) {
    for (const std::string& p : plan.policies) {
      if (plan.sweep_values.empty()) {
        jobs.push_back(Job{p, p, cs, ""});
      } else {
        for (const auto& v : plan.sweep_values) {
          jobs.push_back(Job{p, p + "[" + plan.sweep_name.substr(plan.sweep_name.find('.') + 1) + "=" + v + "]", cs, plan.sweep_name + "=" + v});
        }
      }
    }
  }
  return jobs;
}

/// Runs every job (throwing the first failure after all finished) and prints the table.
inline std::vector<llmscale::SimResult> run_all(const ReplayPlan& plan, const std::vector<Job>& jobs) {
  const std::vector<double>& cold_starts = plan.cold_starts;
  const std::map<double, int>& initial = plan.initial;
  const llmscale::SimConfig& sim = plan.sim;
  const auto make_source = [&plan] { return plan.source(); };
  std::vector<std::optional<llmscale::SimResult>> results(jobs.size());
  std::vector<std::string> errors(jobs.size());
  std::mutex mutex;
  std::condition_variable finished;
  std::atomic<std::size_t> next_job{0};
  std::size_t done = 0;
  const auto worker = [&] {
    for (std::size_t i; (i = next_job.fetch_add(1)) < jobs.size();) {
      llmscale::SimResult r;
      std::string error;
      try {
        llmscale::SimConfig run = sim;
        run.cold_start_s = jobs[i].cold_start_s;
        llmscale::Contestants c = llmscale::Contestants::for_run(run, plan.min_replicas, plan.max_replicas);
        c.metric_lag = plan.lag;
        for (const auto& s : plan.sets) apply_set(c, s);
        if (!jobs[i].sweep_set.empty()) apply_set(c, jobs[i].sweep_set);
        // the recorded fleet opens with its own first windows' count and takes no --set
        r = jobs[i].policy == llmscale::recorded_contestant
                ? llmscale::run_recorded(plan.recorded_fleet, plan.profile, run, make_source)
                : llmscale::run_contestant(jobs[i].policy, c, plan.profile, run, initial.at(jobs[i].cold_start_s), make_source);
        r.policy = jobs[i].label;
      } catch (const std::exception& e) {
        error = e.what();
      }
      const std::lock_guard<std::mutex> lock(mutex);
      if (error.empty()) {
        results[i] = std::move(r);
      } else {
        errors[i] = error;
      }
      ++done;
      finished.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (unsigned k = 0; k < std::min<std::size_t>(plan.jobs, jobs.size()); ++k) threads.emplace_back(worker);

  const bool list = cold_starts.size() > 1;
  std::printf("%s: opening fleet", plan.source_name.c_str());
  for (std::size_t i = 0; i < cold_starts.size(); ++i) std::printf("%s%d", i ? "," : " ", initial.at(cold_starts[i]));
  std::printf("%s, max replicas %d%s, max batch %lld, cold start%s", plan.initial_given ? " (given)" : "", plan.max_replicas,
              plan.max_given ? " (given)" : "", sim.max_batch, list ? "s" : "");
  for (std::size_t i = 0; i < cold_starts.size(); ++i) std::printf("%s%g", i ? "," : " ", cold_starts[i]);
  std::printf(" s, metric lag %s\n", plan.metric_lag_text.c_str());
  int width = 26;  // the widest row label
  for (const Job& j : jobs) width = std::max(width, static_cast<int>(j.label.size()));
  std::printf("%-*s %s%9s %9s %8s %9s %8s %8s %8s %8s %9s %6s %7s %6s\n", width, "policy", list ? "  cold " : "", "requests",
              "completed", "rejected", "preempted", "SLO", "TTFT50", "TTFT99", "TPOT99", "GPU-h", "events", "batch95", "kv95");
  std::fflush(stdout);
  Progress progress(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    std::unique_lock<std::mutex> lock(mutex);
    while (!results[i] && errors[i].empty()) {
      finished.wait_for(lock, std::chrono::milliseconds(250));
      progress.show(done);
    }
    progress.clear();
    if (!errors[i].empty()) continue;
    const auto& r = *results[i];
    char cold[16] = "";
    if (list) std::snprintf(cold, sizeof cold, "%6.0fs ", jobs[i].cold_start_s);
    std::printf("%-*s %s%9lld %9lld %8lld %9lld %7.2f%% %7.2fs %7.2fs %7.3fs %9.1f %6lld %6.0f%% %5.0f%%\n", width, r.policy.c_str(), cold,
                r.requests, r.completed, r.rejected, r.preempted, 100 * r.slo_attainment, r.ttft_p50, r.ttft_p99,
                r.tpot_p99, r.gpu_hours, r.scale_events, 100 * r.batch_occupancy_p95, 100 * r.kv_use_p95);
    std::fflush(stdout);
  }
  for (auto& t : threads) t.join();
  progress.clear();
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!errors[i].empty()) throw std::runtime_error(jobs[i].label + ": " + errors[i]);
  }
  std::vector<llmscale::SimResult> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
  // every run saw the same requests: the floor from the first one's totals
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_RUNS_HPP
