// llmscale-pid-sweep: the worked example of docs/tuning.md. Sweeps the PID's kp, ki and
// deadband on the plant of tests/support/fluid_plant.hpp (300 s provisioning, a model that
// overrates a replica by 25 %) and prints, for each setting: after a step from 20 to 40 req/s,
// the replicas from 3 lead times on (the test's bar: within one of Erlang C's 47, peak-to-peak
// at most 1), and after 15 minutes against max_replicas = 30, the recovery with and without
// anti-windup. Exits 1 if the defaults' row misses the bar (it runs as the test policy.pid_sweep).
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include "support/fluid_plant.hpp"

int main() {
  using namespace llmscale_test;
  const double step_at = 1800, lead = Plant{}.lead_s;
  const int needed = replicas_needed(40, 0.5), settled = replicas_needed(20, 0.5);
  std::printf("step 20 -> 40 req/s (Erlang C needs %d); saturation at max_replicas 30, then 20 req/s (needs %d)\n",
              needed, settled);
  const llmscale::PidConfig defaults = pid_config(true);  // the plant's classic PID (support/fluid_plant.hpp)
  bool defaults_ok = false;
  std::printf("%5s %6s %8s | %-12s %-4s | %-24s\n", "kp", "ki", "deadband", "after 3 leads", "ok", "recovery: with / without");
  for (const double kp : {0.05, 0.1, 0.2, 0.4}) {
    for (const double ki : {0.001, 0.002, 0.004}) {
      for (const double deadband : {0.1, 0.2, 0.3}) {
        llmscale::PidConfig c = pid_config(true);
        c.kp = kp;
        c.ki = ki;
        c.deadband = deadband;
        const Run r = run([&](double t) { return t < step_at ? 20.0 : 40.0; }, step_at + 3 * lead + 3600, c);
        const auto from = r.replicas.begin() + static_cast<std::ptrdiff_t>(step_at + 3 * lead);
        const int lo = *std::min_element(from, r.replicas.end()), hi = *std::max_element(from, r.replicas.end());
        const bool ok = hi - lo <= 1 && lo >= needed - 1 && hi <= needed + 1;

        llmscale::GovernorConfig g;
        g.max_replicas = 30;
        const double drop_at = 2700;
        const auto rate = [&](double t) { return t >= 1800 && t < drop_at ? 40.0 : 20.0; };
        const auto recovery = [&](const Run& x) {
          std::size_t last_off = static_cast<std::size_t>(drop_at);
          for (std::size_t i = last_off; i < x.replicas.size(); ++i) {
            if (std::abs(x.replicas[i] - settled) > 1) last_off = i;
          }
          return static_cast<double>(last_off) - drop_at;
        };
        llmscale::PidConfig off = c;
        off.anti_windup = false;
        off.integral_limit = 100;
        const double with = recovery(run(rate, drop_at + 7200, c, g));
        const double without = recovery(run(rate, drop_at + 7200, off, g));
        const bool is_default = kp == defaults.kp && ki == defaults.ki && deadband == defaults.deadband;
        if (is_default) defaults_ok = ok && with <= 0.7 * without;
        std::printf("%5.2f %6.3f %8.1f | %4d .. %-4d %-4s | %6.0f s / %6.0f s%s\n", kp, ki, deadband, lo, hi,
                    ok ? "yes" : "no", with, without, is_default ? "   <- the plant's configuration" : "");
      }
    }
  }
  return defaults_ok ? 0 : 1;
}
