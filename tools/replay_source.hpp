// llmscale-replay's load: a built-in scenario, or a trace file in one of the six formats
// (a rate series for servegen and llmscale), read from the start by each run.
#ifndef LLMSCALE_TOOLS_REPLAY_SOURCE_HPP
#define LLMSCALE_TOOLS_REPLAY_SOURCE_HPP

#include <cstdint>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include "llmscale/sim/trace.hpp"
#include "llmscale/sim/workload.hpp"

namespace llmscale_replay {

// What the replay reads: a built-in scenario, or a trace file (a rate series for servegen and
// llmscale).
struct Input {
  std::optional<llmscale::Scenario> scenario;
  std::string scenario_name, trace, format_name;
  llmscale::TraceFormat format = llmscale::TraceFormat::csv;
  bool strict = false;
  double rate_scale = 1;
  std::uint64_t seed = 1;
};

// One pass over the load, from the start (a fresh reader each time).
class ReplaySource {
 public:
  explicit ReplaySource(const Input& in) {
    if (in.scenario) {
      scenario_.emplace(*in.scenario, in.rate_scale, in.seed);
      return;
    }
    file_.open(in.trace);
    if (!file_) throw std::runtime_error("cannot open trace '" + in.trace + "'");
    reader_.emplace(file_, in.format, in.strict, 2.0, in.seed);
    if (llmscale::is_rate_series(in.format)) {
      rates_.emplace(*reader_, in.rate_scale, in.seed);
    } else {
      scaled_.emplace(*reader_, in.rate_scale, in.seed);
    }
  }
  ReplaySource(const ReplaySource&) = delete;
  ReplaySource& operator=(const ReplaySource&) = delete;

  bool next(llmscale::TraceRequest& r) {
    if (scenario_) return scenario_->next(r);
    if (rates_) return rates_->next(r);
    return scaled_->next(r);
  }
  [[nodiscard]] const llmscale::TraceReader* reader() const { return reader_ ? &*reader_ : nullptr; }

 private:
  std::ifstream file_;
  std::optional<llmscale::TraceReader> reader_;
  std::optional<llmscale::ScaledTrace> scaled_;
  std::optional<llmscale::RateSeriesTrace> rates_;
  std::optional<llmscale::ScenarioTrace> scenario_;
};

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_SOURCE_HPP
