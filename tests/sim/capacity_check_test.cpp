// The capacity model against the simulator (issue "decision quality", item 3): the requests per
// second one replica takes within the SLO, as size_replicas gives it, against the smallest fixed
// fleet the simulator finds meeting 99 % on a steady Poisson load of the same token mix (the
// opening-fleet search over a 20-minute window). A whole-load run, so labelled slow.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include "llmscale/model/profile_io.hpp"
#include "llmscale/model/replica_sizing.hpp"
#include "llmscale/sim/opening_fleet.hpp"
#include "llmscale/sim/workload.hpp"

namespace {

const char* const splitwise = "../shared/data/profile_splitwise_perf_model.csv";

struct ListSource {
  const std::vector<llmscale::TraceRequest>* requests;
  std::size_t at = 0;
  bool next(llmscale::TraceRequest& r) {
    if (at == requests->size()) return false;
    r = (*requests)[at++];
    return true;
  }
};

struct Check {
  double model_rate = 0;  // per replica
  int model_fleet = 0, sim_fleet = 0;
  double sim_attainment = 0, sim_attainment_fewer = 0;
};

Check check(const llmscale::LengthModel& lengths, double rate, std::uint64_t seed) {
  // the outputs' spread as the simulator draws them: lognormal, sigma^2 = 2 ln(mean / median)
  const double sigma = std::sqrt(2 * std::log(lengths.output_mean / lengths.output_median));
  const llmscale::LatencyProfile profile = llmscale::load_latency_profile(splitwise, "llama2-70b", "h100-80gb", 4);
  llmscale::SimConfig sim;
  sim.slo_ttft_s = 2;
  sim.slo_tpot_s = 0.1;
  sim.cold_start_s = 1140;  // the opening window: 1,200 s
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  std::vector<llmscale::TraceRequest> requests;
  double prompt = 0, output = 0;
  for (double t = gap(rng); t < 1200; t += gap(rng)) {
    llmscale::TraceRequest r;
    r.arrival_s = t;
    lengths.draw(rng, r);
    prompt += r.prompt_tokens;
    output += r.output_tokens;
    requests.push_back(r);
  }
  const auto n = static_cast<double>(requests.size());
  llmscale::LatencyTargets targets;
  targets.ttft_s = sim.slo_ttft_s;
  targets.tpot_s = sim.slo_tpot_s;
  const llmscale::ReplicaSizing sizing =
      llmscale::size_replicas(profile, llmscale::TokenLengths{prompt / n, output / n, sigma}, targets, sim.kv_tokens,
                              sim.max_batch, sim.chunk_tokens);
  Check c;
  c.model_rate = sizing.max_rate;
  c.model_fleet = static_cast<int>(std::ceil(n / 1200 / sizing.max_rate));
  const llmscale::OpeningFleet f = llmscale::opening_fleet([&] { return ListSource{&requests}; }, profile, sim, 0.99);
  c.sim_fleet = f.replicas;
  c.sim_attainment = f.attainment;
  c.sim_attainment_fewer = f.attainment_fewer;
  MESSAGE("model " << c.model_rate << " req/s a replica: " << c.model_fleet << " replicas; the simulator: "
                   << c.sim_fleet << " (" << c.sim_attainment << "; one fewer " << c.sim_attainment_fewer << ")");
  return c;
}

}  // namespace

TEST_CASE("capacity model against the simulator: the development mix, the fleet within one replica at 15, 29 and 60 req/s") {
  if (!std::ifstream(splitwise)) {
    MESSAGE("skipped: no ../shared/data");
    return;
  }
  for (const double rate : {15.0, 29.0, 60.0}) {
    const Check c = check(llmscale::LengthModel{}, rate, 5);
    CHECK(std::abs(c.model_fleet - c.sim_fleet) <= 1);
  }
}

TEST_CASE("capacity model against the simulator: a code mix (short outputs meeting prefill chunks) at 5, 10 and 20 req/s") {
  if (!std::ifstream(splitwise)) {
    MESSAGE("skipped: no ../shared/data");
    return;
  }
  for (const double rate : {5.0, 10.0, 20.0}) {
    const Check c = check(llmscale::LengthModel::code(), rate, 5);
    CHECK(std::abs(c.model_fleet - c.sim_fleet) <= 1);
  }
}
