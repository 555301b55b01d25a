// The SLO policy against llmscale-size (the same models reached through the command line) on
// a steady Poisson load, and the direction it moves when the token mix or the targets change.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/model/profile_io.hpp"
#include "llmscale/policy/slo.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {
Signals steady(double rate, double input, double output) {
  Signals s;
  s.arrival_rate = rate;
  s.mean_prompt_tokens = input;
  s.mean_output_tokens = output;
  return s;
}
llmscale::LatencyProfile simple() {  // decode 10 ms + 1 ms per request, prefill 0.1 ms per token
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{10, 0, 1});
}
int propose(const llmscale::LatencyProfile& profile, const llmscale::SloConfig& c, const Signals& s) {
  llmscale::SloPolicy p(profile, c);
  return p.propose(at_seconds(0), s, FleetState(1)).replicas;
}
}  // namespace

TEST_CASE("llmscale-slo asks for what llmscale-size gives on a steady load") {
#ifndef LLMSCALE_SIZE_EXE
  MESSAGE("skipped: llmscale-size is not built");
#else
  const char* const csv = "../shared/data/profile_splitwise_perf_model.csv";
  if (!std::ifstream(csv)) {
    MESSAGE("skipped: no ../shared/data");
    return;
  }
  const auto profile = llmscale::load_latency_profile(csv, "llama2-70b", "h100-80gb", 4);
  for (double rate : {1.0, 5.5, 23.0, 140.0}) {
    for (auto [input, output] : {std::pair{1155.0, 211.0}, std::pair{4000.0, 300.0}}) {
      CAPTURE(rate);
      CAPTURE(input);
      const std::string cmd = std::string(LLMSCALE_SIZE_EXE) + " --arrival-rate " + std::to_string(rate) +
                              " --profile " + csv + " --model llama2-70b --hardware h100-80gb --tp 4" +
                              " --input-tokens " + std::to_string(input) + " --output-tokens " +
                              std::to_string(output) + " --slo-ttft 2 --slo-tpot 0.1 --json";
      std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
      REQUIRE(pipe);
      char buf[4096] = {};
      const std::size_t n = std::fread(buf, 1, sizeof buf - 1, pipe.get());
      const std::string out(buf, n);
      const auto at = out.find("\"replicas\": ");
      REQUIRE(at != std::string::npos);
      const int want = std::stoi(out.substr(at + 12));
      llmscale::SloConfig c;  // ttft 2 s at p99, tpot 0.1 s, KV 400,000: llmscale-size's defaults
      CHECK(propose(profile, c, steady(rate, input, output)) == want);
    }
  }
#endif
}

TEST_CASE("llmscale-slo moves the right way with the token mix, the targets and the queue") {
  const auto profile = simple();
  llmscale::SloConfig c;
  c.ttft_s = 1.0;
  c.tpot_s = 0.05;
  c.max_batch = 64;
  const int base = propose(profile, c, steady(50, 1000, 100));
  CHECK(base > 1);
  CHECK(propose(profile, c, steady(50, 1000, 200)) > base);  // longer outputs: fewer per replica
  CHECK(propose(profile, c, steady(50, 2000, 100)) > base);  // longer prompts
  CHECK(propose(profile, c, steady(100, 1000, 100)) >= 2 * base - 1);
  llmscale::SloConfig tight = c;
  tight.tpot_s = 0.03;  // smaller batches
  CHECK(propose(profile, tight, steady(50, 1000, 100)) > base);
  Signals queued = steady(50, 1000, 100);
  queued.queued_now = 2000;  // drained over the cold start (300 s): more replicas now
  CHECK(propose(profile, c, queued) > base);
  llmscale::SloConfig impossible = c;
  impossible.ttft_s = 0.05;  // below one prefill (0.1 s): holds
  llmscale::SloPolicy p(profile, impossible);
  const auto hold = p.propose(at_seconds(0), steady(50, 1000, 100), FleetState(7));
  CHECK(hold.replicas == 7);
  CHECK(p.rate_per_replica() == 0);
  // by hand: tau(n) = 10 + 2n ms at I = 1000, O = 100, so the 50 ms target allows n = 20;
  // the replica then completes at most 20 / (100 x 0.05) = 4 requests/s, and the p99 TTFT of
  // 1 s (0.9 s of queueing after a 0.1 s prefill) keeps it well below that
  llmscale::SloPolicy q(profile, c);
  (void)q.propose(at_seconds(0), steady(1, 1000, 100), FleetState(1));
  CHECK(q.batch() == 20);
  CHECK(q.rate_per_replica() < 4.0);
  CHECK(q.rate_per_replica() > 2.0);
}

TEST_CASE("llmscale-slo: the per-replica rate is recomputed only when the token mix moves") {
  llmscale::SloPolicy p(simple(), llmscale::SloConfig{});
  (void)p.propose(at_seconds(0), steady(10, 1000, 100), FleetState(1));
  const double r = p.rate_per_replica();
  (void)p.propose(at_seconds(1), steady(10, 1030, 102), FleetState(1));  // within 5 %
  CHECK(p.rate_per_replica() == r);
  (void)p.propose(at_seconds(2), steady(10, 1200, 100), FleetState(1));
  CHECK(p.rate_per_replica() < r);
}

TEST_CASE("llmscale-slo remembers the sizing of every mix cell a wandering mix visits (the development trace's range)") {
  // the development trace's per-minute means: output 114-307, prompt 900-1,400 tokens, about
  // 21 x 10 cells of 5 % on a log scale. Visit each cell once near its low edge, then again
  // near its high edge (2.5 % away: a recomputation would answer differently): every second
  // visit answers with the first visit's sizing, so none re-sizes
  const double w = std::log1p(0.05);
  const auto at = [&](long long cell, double frac) { return std::exp((static_cast<double>(cell) + frac) * w); };
  const long long in_lo = static_cast<long long>(std::floor(std::log(900.0) / w));
  const long long out_lo = static_cast<long long>(std::floor(std::log(114.0) / w));
  llmscale::SloPolicy p(simple(), llmscale::SloConfig{});
  double t = 0;
  // a mix far from the range between visits, so each visit moves the mix beyond the tolerance
  const auto visit = [&](double in, double out) {
    (void)p.propose(at_seconds(t++), steady(10, 20000, 4000), FleetState(1));
    (void)p.propose(at_seconds(t++), steady(10, in, out), FleetState(1));
    return p.rate_per_replica();
  };
  std::vector<double> first;
  for (long long i = in_lo; i < in_lo + 10; ++i) {
    for (long long o = out_lo; o < out_lo + 21; ++o) first.push_back(visit(at(i, 0.2), at(o, 0.2)));
  }
  std::size_t k = 0, same = 0, moved = 0;
  for (long long i = in_lo; i < in_lo + 10; ++i) {
    for (long long o = out_lo; o < out_lo + 21; ++o) {
      same += visit(at(i, 0.7), at(o, 0.7)) == first[k++];
      llmscale::SloPolicy fresh(simple(), llmscale::SloConfig{});
      (void)fresh.propose(at_seconds(0), steady(10, at(i, 0.7), at(o, 0.7)), FleetState(1));
      moved += fresh.rate_per_replica() != first[k - 1];
    }
  }
  CHECK(same == 210);
  CHECK(moved > 150);  // sized afresh, most of those mixes answer otherwise: the check can fail
  // a restart that loads the saved state remembers every one of them (each cell back in its slot)
  llmscale::SloPolicy restored(simple(), llmscale::SloConfig{});
  REQUIRE(restored.load_state(p.save_state(at_seconds(t)), at_seconds(t)));
  std::size_t kept = 0;
  k = 0;
  for (long long i = in_lo; i < in_lo + 10; ++i) {
    for (long long o = out_lo; o < out_lo + 21; ++o) {
      (void)restored.propose(at_seconds(t++), steady(10, 20000, 4000), FleetState(1));
      (void)restored.propose(at_seconds(t++), steady(10, at(i, 0.5), at(o, 0.5)), FleetState(1));
      kept += restored.rate_per_replica() == first[k++];
    }
  }
  CHECK(kept == 210);
}

TEST_CASE("llmscale-slo answers after a restart as it would have, its mix table full of collisions and evictions") {
  // 1,500 visits to random cells of a 40 x 30 grid of means and 3 spreads (about 1,200 cells
  // for 1,024 slots: homes collide, probes run 8 deep, the rest evict), the state saved; then the
  // running policy and one loaded from the state see the same 2,000 further mixes: every
  // answer is the same
  std::mt19937_64 rng(7);
  const double w = std::log1p(0.05);
  const long long in_lo = static_cast<long long>(std::floor(std::log(200.0) / w));
  const long long out_lo = static_cast<long long>(std::floor(std::log(50.0) / w));
  std::uniform_int_distribution<long long> in_cell(in_lo, in_lo + 39), out_cell(out_lo, out_lo + 29);
  std::uniform_int_distribution<int> spread_cell(0, 2);
  std::uniform_real_distribution<double> within(0.1, 0.9);
  const auto mix = [&] {
    Signals m = steady(10, std::exp((static_cast<double>(in_cell(rng)) + within(rng)) * w),
                       std::exp((static_cast<double>(out_cell(rng)) + within(rng)) * w));
    m.output_sigma = (10 + spread_cell(rng) + within(rng)) * 0.1;  // cells 0.1 wide from 1.0
    return m;
  };
  const auto visit = [](llmscale::SloPolicy& q, double t, const Signals& m) {
    (void)q.propose(at_seconds(t), steady(10, 20000, 4000), FleetState(1));
    (void)q.propose(at_seconds(t + 1), m, FleetState(1));
    return std::make_pair(q.rate_per_replica(), q.batch());
  };
  llmscale::SloPolicy p(simple(), llmscale::SloConfig{});
  double t = 0;
  for (int k = 0; k < 1500; ++k, t += 2) (void)visit(p, t, mix());
  llmscale::SloPolicy restored(simple(), llmscale::SloConfig{});
  REQUIRE(restored.load_state(p.save_state(at_seconds(t)), at_seconds(t)));
  int same = 0;
  for (int k = 0; k < 2000; ++k, t += 2) {
    const auto m = mix();
    same += visit(p, t, m) == visit(restored, t, m);
  }
  CHECK(same == 2000);
}

TEST_CASE("llmscale-slo refuses a state with a mix cell a lookup could not find") {
  // one cell saved three slots past its home with the slots between free: a lookup stops at
  // the first free slot, so that table would size the mix again and keep it twice
  llmscale::SloPolicy p(simple(), llmscale::SloConfig{});
  (void)p.propose(at_seconds(0), steady(10, 1000, 200), FleetState(1));
  std::vector<std::string> words;
  {
    const std::string state = p.save_state(at_seconds(1));
    std::size_t at = 0;
    while (at < state.size()) {
      const std::size_t end = std::min(state.find(' ', at), state.size());
      words.push_back(state.substr(at, end - at));
      at = end + 1;
    }
  }
  // tag, sized, the mix, its source (prompt, output, spread each), 1 cell: slot and its mix
  REQUIRE(words.size() == 13);
  REQUIRE(words[8] == "1");
  const auto join = [&] {
    std::string out = words[0];
    for (std::size_t i = 1; i < words.size(); ++i) out += " " + words[i];
    return out;
  };
  llmscale::SloPolicy back(simple(), llmscale::SloConfig{});
  CHECK(back.load_state(join(), at_seconds(1)));  // as saved
  words[9] = std::to_string((std::stoul(words[9]) + 3) % 1024);
  llmscale::SloPolicy moved(simple(), llmscale::SloConfig{});
  CHECK_FALSE(moved.load_state(join(), at_seconds(1)));
}

TEST_CASE("llmscale-slo drains the waiting requests over the time until new capacity can serve (queue_drain_s)") {
  const auto profile = simple();
  llmscale::SloConfig c;
  c.ttft_s = 1.0;
  c.tpot_s = 0.05;
  c.max_batch = 64;
  c.cold_start_s = 300;
  llmscale::SloPolicy p(profile, c);
  const llmscale::TokenLengths tokens{1000, 100};
  const double load = p.replicas_for(50, 0, tokens);
  const double r = p.rate_per_replica();
  REQUIRE(r > 0);
  // 600 waiting, drained over the cold start (replicas asked for now serve only then): 600 / (300 r)
  CHECK(p.replicas_for(50, 600, tokens) == doctest::Approx(load + 600 / (r * 300.0)));
  // with no cold start, over the TTFT target (the shortest drain there is)
  c.cold_start_s = 0;
  llmscale::SloPolicy now(profile, c);
  CHECK(now.replicas_for(50, 600, tokens) == doctest::Approx(load + 600 / (r * 1.0)));
  c.queue_drain_s = 60;
  llmscale::SloPolicy q(profile, c);
  CHECK(q.replicas_for(50, 600, tokens) == doctest::Approx(load + 600 / (r * 60.0)));
  c.queue_drain_s = -1;
  CHECK(c.validate()->field == "queue_drain_s");
}

TEST_CASE("llmscale-slo sizes on the outputs' measured spread, within the model's range, else its setting") {
  // the code mix (prompt 2,048, output 28): the spread the signals measure sizes as that
  // spread set in the config would; a wider spread has more short outputs, each meeting
  // whole prefill chunks, so a replica takes less
  const auto rate = [](double measured, double configured) {
    llmscale::SloConfig c;
    c.output_sigma = configured;
    llmscale::SloPolicy p(simple(), c);
    Signals s = steady(10, 2048, 28);
    s.output_sigma = measured;
    (void)p.propose(at_seconds(0), s, FleetState(1));
    return p.rate_per_replica();
  };
  CHECK(rate(1.24, 1.0) == rate(0, 1.24));
  CHECK(rate(1.24, 1.0) < rate(1.0, 1.0));
  CHECK(rate(0.6, 1.0) > rate(1.0, 1.0));
  CHECK(rate(9.0, 1.0) == rate(0, 3.0));     // past the model's range: its bound
  CHECK(rate(0.001, 1.0) == rate(0, 0.05));  // outputs all alike
  // a spread that moves by more than the tolerance re-sizes; within it, not
  llmscale::SloPolicy p(simple(), llmscale::SloConfig{});
  Signals s = steady(10, 2048, 28);
  s.output_sigma = 1.0;
  (void)p.propose(at_seconds(0), s, FleetState(1));
  const double r = p.rate_per_replica();
  s.output_sigma = 1.03;
  (void)p.propose(at_seconds(1), s, FleetState(1));
  CHECK(p.rate_per_replica() == r);
  s.output_sigma = 1.24;
  (void)p.propose(at_seconds(2), s, FleetState(1));
  CHECK(p.rate_per_replica() == rate(0, 1.24));
  CHECK(p.tokens_of(s).output_sigma == 1.24);
}
