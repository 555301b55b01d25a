// llmscale-replay's --set name.key=value: one assignment applied to the contestants' configs,
// by config name (the snake_case names the --help lists), checked by the configs' own describe().
#ifndef LLMSCALE_TOOLS_REPLAY_SET_HPP
#define LLMSCALE_TOOLS_REPLAY_SET_HPP

#include <string>

#include "llmscale/sim/contestants.hpp"
#include "replay_checks.hpp"

namespace llmscale_replay {

// Applies one --set name.key=value to the contestants.
inline void apply_set(llmscale::Contestants& c, const std::string& assignment) {
  const auto dot = assignment.find('.');
  if (dot == std::string::npos) throw UsageError("--set '" + assignment + "': want name.key=value");
  const std::string name = assignment.substr(0, dot), rest = assignment.substr(dot + 1);
  llmscale::ConfigResult problem;
  if (name == "hpa_gpu_util") problem = llmscale::set_config(c.hpa_gpu_util, rest);
  else if (name == "hpa_gpu_mem") problem = llmscale::set_config(c.hpa_gpu_mem, rest);
  else if (name == "hpa_tuned") problem = llmscale::set_config(c.hpa_tuned, rest);
  else if (name == "kpa") problem = llmscale::set_config(c.kpa, rest);
  else if (name == "kpa_tuned") problem = llmscale::set_config(c.kpa_tuned, rest);
  else if (name == "ray_serve") problem = llmscale::set_config(c.ray_serve, rest);
  else if (name == "ray_serve_tuned") problem = llmscale::set_config(c.ray_serve_tuned, rest);
  else if (name == "aibrix_apa") problem = llmscale::set_config(c.aibrix_apa, rest);
  else if (name == "aibrix_tuned") problem = llmscale::set_config(c.aibrix_tuned, rest);
  else if (name == "llmd_saturation") problem = llmscale::set_config(c.llmd_saturation, rest);
  else if (name == "llmd_tuned") problem = llmscale::set_config(c.llmd_tuned, rest);
  else if (name == "slo") problem = llmscale::set_config(c.slo, rest);
  else if (name == "pid") problem = llmscale::set_config(c.pid, rest);
  else if (name == "predictive") problem = llmscale::set_config(c.predictive, rest);
  else if (name == "pid_planner") problem = llmscale::set_config(c.pid_planner, rest);
  else if (name == "governor") problem = llmscale::set_config(c.hpa_behaviour, rest);
  else if (name == "neutral_governor") problem = llmscale::set_config(c.neutral, rest);
  else throw UsageError("--set '" + assignment + "': unknown config '" + name + "'");
  if (problem) throw UsageError("--set '" + assignment + "': " + problem->message());
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_SET_HPP
