// llmscale-replay's option values: lists, seconds in a range, the cold-start phases and the
// faults, each refused with a UsageError that names the option, the value and what is allowed.
#ifndef LLMSCALE_TOOLS_REPLAY_OPTIONS_HPP
#define LLMSCALE_TOOLS_REPLAY_OPTIONS_HPP

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/core/number.hpp"
#include "llmscale/sim/simulator.hpp"
#include "replay_checks.hpp"

namespace llmscale_replay {

inline std::vector<std::string> split(const std::string& list, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

inline double parse_seconds(const std::string& what, const std::string& v, double lo, double hi) {
  double x = 0;
  if (!llmscale::parse_number(v, x) || !std::isfinite(x)) throw UsageError(what + " '" + v + "' is not a number");
  if (x < lo || x > hi) {
    throw UsageError(what + " = " + v + " is out of range; allowed: [" + llmscale::format_number(lo) + ", " +
                     llmscale::format_number(hi) + "]");
  }
  return x;
}

// --cold-start-phases provision=S,pull=S,register=S,load=S,warmup=S (every phase, once)
inline std::vector<std::pair<std::string, double>> parse_phases(const std::string& spec) {
  static const std::vector<std::string> names{"provision", "pull", "register", "load", "warmup"};
  std::vector<std::pair<std::string, double>> phases;
  for (const std::string& item : split(spec, ',')) {
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq);
    if (eq == std::string::npos || std::find(names.begin(), names.end(), name) == names.end()) {
      throw UsageError("--cold-start-phases: '" + item + "' is not one of provision=S, pull=S, register=S, load=S, warmup=S");
    }
    for (const auto& p : phases) {
      if (p.first == name) throw UsageError("--cold-start-phases: " + name + " given twice");
    }
    phases.emplace_back(name, parse_seconds("--cold-start-phases " + name, item.substr(eq + 1), 0, 86400));
  }
  if (phases.size() != names.size()) {
    throw UsageError("--cold-start-phases needs all five phases: provision=S,pull=S,register=S,load=S,warmup=S");
  }
  return phases;
}

// --faults crash=RATE,failed-start=P,slow-start=FACTOR,metric-outage=START+LEN (any subset)
inline void parse_faults(const std::string& spec, llmscale::SimConfig& sim) {
  std::vector<std::string> seen;
  for (const std::string& item : split(spec, ',')) {
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      throw UsageError("--faults: '" + name + "' is given twice; give each fault once");
    }
    seen.push_back(name);
    if (name == "crash") {
      sim.crash_per_replica_hour = parse_seconds("--faults crash", value, 0, 3600);
    } else if (name == "failed-start") {
      sim.failed_start_probability = parse_seconds("--faults failed-start", value, 0, 1);
    } else if (name == "slow-start") {
      sim.slow_start_factor = parse_seconds("--faults slow-start", value, 1, 100);
    } else if (name == "metric-outage") {
      const auto plus = value.find('+');
      if (plus == std::string::npos) throw UsageError("--faults metric-outage='" + value + "': want START+LEN (seconds)");
      sim.metric_outage_start_s = parse_seconds("--faults metric-outage start", value.substr(0, plus), 0, 1e9);
      sim.metric_outage_s = parse_seconds("--faults metric-outage length", value.substr(plus + 1), 0, 1e9);
    } else {
      throw UsageError("--faults: '" + item + "' is not one of crash=RATE, failed-start=P, slow-start=FACTOR, metric-outage=START+LEN");
    }
  }
}

// Where the default --profile (profile_splitwise_perf_model.csv) may be, in order: the folder
// $LLMSCALE_DATA_DIR names (alone, when set); ../shared/data from the working folder (the project
// root); the shared/data beside the source tree this tool was built from; the executable's own
// folder and ../share/llmscale/data from it; the install prefix's share/llmscale/data.
inline std::vector<std::string> profile_candidates() {
  const std::string name = "profile_splitwise_perf_model.csv";
  if (const char* dir = std::getenv("LLMSCALE_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return {std::string(dir) + "/" + name};
  }
  std::vector<std::string> out{"../shared/data/" + name};
#ifdef LLMSCALE_SOURCE_DATA_DIR
  out.push_back(std::string(LLMSCALE_SOURCE_DATA_DIR) + "/" + name);
#endif
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / name).string());
    out.push_back((exe.parent_path() / ".." / "share" / "llmscale" / "data" / name).lexically_normal().string());
  }
#ifdef LLMSCALE_INSTALL_DATA_DIR
  out.push_back(std::string(LLMSCALE_INSTALL_DATA_DIR) + "/" + name);
#endif
  return out;
}

// The first candidate that is a file, else the first candidate (whose error then names it).
inline std::string default_profile_path() {
  const auto candidates = profile_candidates();
  for (const auto& c : candidates) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(c, ec)) return c;
  }
  return candidates.front();
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_OPTIONS_HPP
