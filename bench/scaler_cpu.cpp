// The scaler's CPU use (issue 10's bar: under 5 % of a core with 100 endpoints at a 1 s tick):
// starts N fake vLLM engines on loopback serving pages of the given size, runs the real
// llmscale-scaler binary against them for a while, and reads the child's CPU time from
// wait4(). The engines run in this process, so their CPU is not the scaler's; it is printed
// beside it as the same run's baseline (serving the pages costs about what fetching them does).
// It also prints the child's resident memory every minute: run for 600 s, it is the soak test
// (memory flat over ten minutes of 100 endpoints x 200 kB pages) and the CPU per tick.
//
// usage: llmscale-scaler-cpu SCALER_EXE [--endpoints N] [--page-kb K] [--seconds S] [--tick S]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/fake_engines.hpp"

namespace {

double cpu_seconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + 1e-6 * static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

// VmRSS of a running process, kB (0 when it cannot be read)
long resident_kb(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (f == nullptr) return 0;
  char line[256];
  long kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: llmscale-scaler-cpu SCALER_EXE [--endpoints N] [--page-kb K] [--seconds S] [--tick S]\n", stderr);
    return 2;
  }
  const std::string exe = argv[1];
  std::size_t n = 100, page_kb = 200;
  double seconds = 30, tick = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const double v = std::atof(argv[i + 1]);
    if (a == "--endpoints") n = static_cast<std::size_t>(v);
    else if (a == "--page-kb") page_kb = static_cast<std::size_t>(v);
    else if (a == "--seconds") seconds = v;
    else if (a == "--tick") tick = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  llmscale_test::FakeEngines engines(n, page_kb * 1024);
  std::string list;
  for (std::size_t i = 0; i < n; ++i) {
    llmscale_test::EngineState s;
    s.running = 8;
    s.waiting = static_cast<double>(i % 4);
    s.kv = 0.5;
    engines.set(i, s);
    list += (i ? "," : "") + engines.endpoint(i);
  }
  const std::string run_for = std::to_string(seconds), tick_s = std::to_string(tick), timeout = std::to_string(tick / 2);
  const std::vector<std::string> args{exe, "--endpoints", list, "--tick", tick_s, "--scrape-timeout", timeout, "--run-for", run_for,
                                      "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--quiet"};
  rusage self_before{};
  getrusage(RUSAGE_SELF, &self_before);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> cargs;
    for (const auto& a : args) cargs.push_back(const_cast<char*>(a.c_str()));
    cargs.push_back(nullptr);
    execv(exe.c_str(), cargs.data());
    std::perror("execv");
    _exit(127);
  }
  // the soak's question: does memory stay flat? The child's resident set, read every 60 s
  // (first at 10 s, once warm) while it runs
  int status = 0;
  rusage child{};
  std::vector<std::pair<double, long>> rss;  // (s, kB)
  double next_sample = 10;
  while (wait4(pid, &status, WNOHANG, &child) == 0) {
    const double at = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (at >= next_sample) {
      rss.emplace_back(at, resident_kb(pid));
      next_sample += 60;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage self_after{};
  getrusage(RUSAGE_SELF, &self_after);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "llmscale-scaler exited abnormally (status %d)\n", status);
    return 1;
  }
  const double scaler_cpu = cpu_seconds(child), engines_cpu = cpu_seconds(self_after) - cpu_seconds(self_before);
  const double pages = static_cast<double>(engines.served());
  std::printf("Adapters/Scaler/cpu: %zu endpoints, %zu kB pages, tick %.2f s, %.1f s wall\n", n, page_kb, tick, wall);
  std::printf("  pages served     %.0f (%.1f per tick, expected %zu)\n", pages, pages / (wall / tick), n);
  std::printf("  scaler CPU       %.3f s = %.2f %% of a core (%.1f MB/s of pages)\n", scaler_cpu, 100.0 * scaler_cpu / wall,
              pages * static_cast<double>(page_kb) / 1024.0 / wall);
  std::printf("  baseline: fake engines serving them, same run: %.3f s = %.2f %% of a core\n", engines_cpu,
              100.0 * engines_cpu / wall);
  std::printf("  max RSS          %ld kB\n", child.ru_maxrss);
  std::printf("  RSS over the run");
  for (const auto& [at, kb] : rss) std::printf("  %.0f s: %ld kB", at, kb);
  std::printf("\n  CPU per tick     %.2f ms\n", 1e3 * scaler_cpu / (wall / tick));
  return 0;
}
