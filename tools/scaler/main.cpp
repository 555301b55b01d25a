// llmscale-scaler: scrape the engines, decide, serve KEDA (see scaler.hpp and docs/kubernetes.md).
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>
#include <vector>

#include "log.hpp"
#include "scaler.hpp"

int main(int argc, char** argv) {
  // SIGINT and SIGTERM are waited for here; the threads started below inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  llmscale_scaler::Options options;
  try {
    bool help = false;
    options = llmscale_scaler::parse_args(std::vector<std::string>(argv + 1, argv + argc), help);
    if (help) {
      std::fputs(llmscale_scaler::usage(), stdout);
      return 0;
    }
    llmscale_scaler::Scaler scaler(options);
    try {
      scaler.start();
    } catch (const std::runtime_error& e) {
      if (dynamic_cast<const llmscale_scaler::UsageError*>(&e)) throw;
      llmscale_scaler::log::write(llmscale_scaler::log::Level::error, e.what());
      return 1;
    }
    char started[256];
    std::snprintf(started, sizeof started, "gRPC (KEDA) on port %d, HTTP (/metrics, /healthz) on port %u, %s every %g s",
                  scaler.grpc_port(), static_cast<unsigned>(scaler.http_port()), options.policy.c_str(), options.tick_s);
    llmscale_scaler::log::write(llmscale_scaler::log::Level::info, started);
    int sig = 0;
    if (options.run_for_s > 0) {
      timespec t{static_cast<std::time_t>(options.run_for_s),
                 static_cast<long>((options.run_for_s - static_cast<double>(static_cast<std::time_t>(options.run_for_s))) * 1e9)};
      sig = sigtimedwait(&stop_signals, nullptr, &t);
    } else {
      sigwait(&stop_signals, &sig);
    }
    // Kubernetes sends SIGTERM before it kills the pod: say so, so a restart is explained
    llmscale_scaler::log::write(llmscale_scaler::log::Level::info,
                                sig > 0 ? std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping"
                                        : std::string("--run-for elapsed, stopping"));
    scaler.stop();
    return 0;
  } catch (const llmscale_scaler::UsageError& e) {
    std::fprintf(stderr, "llmscale-scaler: %s\n(run llmscale-scaler --help for the options)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmscale-scaler: %s\n", e.what());
    return 1;
  }
}
