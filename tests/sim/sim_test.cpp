// The simulator against queueing theory, the latency profile and itself: Erlang C's mean wait,
// a saturated replica's throughput, the closed-form fast-forward against stepping every
// iteration, no request lost (under preemption too), determinism; the trace readers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "llmscale/model/profile_io.hpp"
#include "llmscale/model/queueing.hpp"
#include "llmscale/sim/contestants.hpp"

using llmscale::SimConfig;
using llmscale::SimResult;
using llmscale::TraceRequest;

namespace {

// Poisson arrivals at `rate` with fixed prompts and geometric outputs (mean `mean_output`).
struct PoissonSource {
  double rate;
  long long count;
  std::int32_t prompt = 1;
  double mean_output = 1001;
  std::mt19937_64 rng{42};
  double t = 0;
  long long made = 0;
  bool next(TraceRequest& r) {
    if (made == count) return false;
    t += std::exponential_distribution<double>(rate)(rng);
    r.arrival_s = t;
    r.prompt_tokens = prompt;
    r.output_tokens = 1 + static_cast<std::int32_t>(std::geometric_distribution<long long>(1.0 / mean_output)(rng));
    ++made;
    return true;
  }
};

// `count` requests `gap` seconds apart, all alike.
struct EvenSource {
  double gap;
  long long count;
  std::int32_t prompt, output;
  long long made = 0;
  bool next(TraceRequest& r) {
    if (made == count) return false;
    r.arrival_s = static_cast<double>(made++) * gap;
    r.prompt_tokens = prompt;
    r.output_tokens = output;
    return true;
  }
};

template <class Source>
SimResult run_static(int replicas, Source& source, const llmscale::LatencyProfile& profile, const SimConfig& sim) {
  llmscale::GovernorConfig g;
  g.min_replicas = replicas;
  g.max_replicas = replicas;
  return llmscale::simulate(llmscale::StaticPolicy{replicas}, g, source, profile, sim, replicas);
}

// one decode iteration costs 1 ms whatever the batch and context; prefill is free
llmscale::LatencyProfile millisecond_steps() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{1, 0, 0});
}

// llama2-70b-like coefficients (ms): prefill 45 + 0.107 P, decode 28.8 + 1e-4 X + 0.26 n
llmscale::LatencyProfile llama_like() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26});
}

}  // namespace

TEST_CASE("sim: max batch 1, exponential service, Poisson arrivals, 4 fixed replicas: mean wait is Erlang C's") {
  // service = (output - 1) decode steps of 1 ms, output - 1 geometric with mean 1000: an
  // exponential of mean 1 s to within a millisecond's granularity; lambda = 3/s on c = 4
  SimConfig sim;
  sim.max_batch = 1;
  sim.kv_tokens = 1e9;
  sim.cold_start_s = 0;
  PoissonSource source{3.0, 200000};
  const SimResult r = run_static(4, source, millisecond_steps(), sim);
  REQUIRE(r.completed == 200000);
  // Erlang C by its textbook sum: C = (a^c/c!) (c/(c-a)) / (sum_{k<c} a^k/k! + (a^c/c!) c/(c-a))
  const double a = 3.0, c = 4.0;
  double sum = 0, term = 1;
  for (int k = 0; k < 4; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  const double top = term * c / (c - a);
  const double erlang_c = top / (sum + top);
  const double wait = erlang_c / (c * 1.0 - a);  // mean service 1 s
  CHECK(erlang_c == doctest::Approx(llmscale::erlang_c(4, 3.0)).epsilon(1e-9));
  INFO("simulated mean wait " << r.ttft_mean << " s, Erlang C " << wait << " s");
  CHECK(r.ttft_mean == doctest::Approx(wait).epsilon(0.05));
}

TEST_CASE("sim: a saturated replica completes what the profile predicts") {
  // 1,155-token prompts and 211-token outputs, far more than one replica serves
  SimConfig sim;
  sim.max_batch = 64;
  sim.cold_start_s = 0;
  const llmscale::LatencyProfile profile = llama_like();
  EvenSource source{0.05, 12000, 1155, 211};
  const SimResult r = run_static(1, source, profile, sim);
  const double simulated = static_cast<double>(r.completed) / r.duration_s;
  const double predicted = llmscale::batch_throughput(profile, {1155, 211}, 64);
  INFO("simulated " << simulated << " req/s, predicted " << predicted << " req/s");
  CHECK(simulated == doctest::Approx(predicted).epsilon(0.02));
  std::ifstream csv("../shared/data/profile_splitwise_perf_model.csv");
  if (!csv) {
    MESSAGE("skipped the Splitwise profile: no ../shared/data");
    return;
  }
  const auto splitwise = llmscale::read_splitwise_csv(csv, "llama2-70b", "h100-80gb", 4);
  EvenSource again{0.05, 12000, 1155, 211};
  const SimResult s = run_static(1, again, splitwise, sim);
  CHECK(static_cast<double>(s.completed) / s.duration_s ==
        doctest::Approx(llmscale::batch_throughput(splitwise, {1155, 211}, 64)).epsilon(0.02));
}

TEST_CASE("sim: the closed-form fast-forward and --exact-steps agree within 2 % on p99 TTFT and TPOT") {
  std::ifstream in("../shared/data/azure_llm_2023_conv.csv");
  if (!in) {
    MESSAGE("skipped: no ../shared/data");
    return;
  }
  // a 10-minute slice of the development trace at 10x, on 20 fixed replicas
  const auto slice = [] {
    auto in = std::make_shared<std::ifstream>("../shared/data/azure_llm_2023_conv.csv");
    auto reader = std::make_shared<llmscale::TraceReader>(*in, llmscale::TraceFormat::azure);
    auto scaled = std::make_shared<llmscale::ScaledTrace>(*reader, 10, 7);
    struct Slice {
      std::shared_ptr<std::ifstream> in;
      std::shared_ptr<llmscale::TraceReader> reader;
      std::shared_ptr<llmscale::ScaledTrace> scaled;
      bool next(TraceRequest& r) { return scaled->next(r) && r.arrival_s < 600; }
    };
    return Slice{in, reader, scaled};
  };
  SimConfig sim;
  sim.cold_start_s = 0;
  auto fast_source = slice();
  const SimResult fast = run_static(20, fast_source, llama_like(), sim);
  sim.exact_steps = true;
  auto exact_source = slice();
  const SimResult exact = run_static(20, exact_source, llama_like(), sim);
  REQUIRE(fast.requests == exact.requests);
  INFO("p99 TTFT " << fast.ttft_p99 << " vs " << exact.ttft_p99 << ", p99 TPOT " << fast.tpot_p99 << " vs " << exact.tpot_p99);
  CHECK(fast.ttft_p99 == doctest::Approx(exact.ttft_p99).epsilon(0.02));
  CHECK(fast.tpot_p99 == doctest::Approx(exact.tpot_p99).epsilon(0.02));
  CHECK(fast.requests > 25000);
}

TEST_CASE("sim: no request is lost, under preemption too, and the same input gives the same result") {
  // a KV cache of 30,000 tokens and long outputs: decoding fills it and forces preemptions
  SimConfig sim;
  sim.max_batch = 32;
  sim.kv_tokens = 30000;
  sim.cold_start_s = 60;
  const auto run = [&] {
    PoissonSource source{6.0, 20000, 600, 800};
    llmscale::GovernorConfig g;
    g.max_replicas = 12;
    llmscale::KpaConfig kpa;
    kpa.container_concurrency = 32;
    return llmscale::simulate(llmscale::KpaPolicy(kpa, llmscale::simulation_start()), g, source, llama_like(), sim, 2);
  };
  const SimResult a = run();
  CHECK(a.preempted > 0);
  CHECK(a.completed + a.rejected == a.requests);
  CHECK(a.requests == 20000);
  const SimResult b = run();
  CHECK(b.completed == a.completed);
  CHECK(b.preempted == a.preempted);
  CHECK(b.gpu_hours == a.gpu_hours);
  CHECK(b.ttft_p99 == a.ttft_p99);
  CHECK(b.scale_events == a.scale_events);
  // a prompt larger than the whole cache can never run: rejected, counted, not lost
  EvenSource huge{1.0, 10, 40000, 10};
  const SimResult h = run_static(1, huge, llama_like(), sim);
  CHECK(h.rejected == 10);
  CHECK(h.completed + h.rejected == h.requests);
}

TEST_CASE("sim: billing runs from request to gone, times the GPUs per replica") {
  // 3 fixed replicas, ready from the start, over a run whose last request ends at T: 3 x 4 x T
  SimConfig sim;
  sim.cold_start_s = 0;
  EvenSource source{1.0, 100, 100, 50};
  const SimResult r = run_static(3, source, llama_like(), sim);
  CHECK(r.gpu_hours == doctest::Approx(3 * 4 * r.duration_s / 3600.0));
}

TEST_CASE("trace readers: azure and csv parse, a malformed row is reported with its line, --strict throws") {
  std::istringstream azure(
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-11-16 18:15:46.6805900,374,44\n"
      "2023-11-16 18:15:50.9951690,396,109\n"
      "2023-11-16 18:15:5x.0000000,1,1\n"
      "2023-11-16 18:16:00,20,0\n"
      "2023-11-17 00:00:00.5,7,8");
  llmscale::TraceReader reader(azure, llmscale::TraceFormat::azure);
  TraceRequest r;
  REQUIRE(reader.next(r));
  CHECK(r.arrival_s == 0.0);
  CHECK(r.prompt_tokens == 374);
  CHECK(r.output_tokens == 44);
  REQUIRE(reader.next(r));
  CHECK(r.arrival_s == doctest::Approx(4.314579));
  REQUIRE(reader.next(r));  // the next day, across midnight: 5 h 44 min 13.8194100 s later
  CHECK(r.arrival_s == doctest::Approx(5 * 3600 + 44 * 60 + 13.81941));
  CHECK_FALSE(reader.next(r));
  CHECK(reader.rows() == 3);
  CHECK(reader.skipped() == 2);
  REQUIRE(reader.problems().size() == 2);
  CHECK(reader.problems()[0].rfind("line 4:", 0) == 0);
  CHECK(reader.problems()[1].rfind("line 5:", 0) == 0);  // zero output tokens

  std::istringstream csv("arrival_time_s,input_tokens,output_tokens\n10.5,100,20\n11,200,30,7\n12.25,300,40\n");
  llmscale::TraceReader plain(csv, llmscale::TraceFormat::csv);
  REQUIRE(plain.next(r));
  CHECK(r.arrival_s == 0.0);
  REQUIRE(plain.next(r));
  CHECK(r.arrival_s == doctest::Approx(1.75));
  CHECK(r.prompt_tokens == 300);
  CHECK(plain.skipped() == 1);
  CHECK(plain.problems()[0] == "line 3: more than 3 fields");

  std::istringstream bad("1.0,10,10\n2.0,ten,10\n");
  llmscale::TraceReader strict(bad, llmscale::TraceFormat::csv, true);
  REQUIRE(strict.next(r));
  try {
    strict.next(r);
    FAIL("a malformed row in strict mode must throw");
  } catch (const llmscale::TraceError& e) {
    CHECK(e.line() == 2);
  }
}

TEST_CASE("--rate-scale K: floor(K) jittered copies plus one with probability K - floor(K), in time order") {
  std::string rows;
  for (int i = 0; i < 10000; ++i) rows += std::to_string(i * 0.1) + ",100,10\n";
  for (const double k : {0.3, 1.0, 2.5}) {
    std::istringstream in(rows);
    llmscale::TraceReader reader(in, llmscale::TraceFormat::csv);
    llmscale::ScaledTrace scaled(reader, k, 3);
    TraceRequest r;
    long long n = 0;
    double last = -1;
    bool ordered = true;
    while (scaled.next(r)) {
      ordered = ordered && r.arrival_s >= last;
      last = r.arrival_s;
      ++n;
    }
    CHECK(ordered);
    CHECK(last <= 999.9 + 1.0);
    // expected 10,000 K; binomial spread of the fraction: sd = sqrt(10,000 f (1 - f)) <= 50
    CHECK(static_cast<double>(n) == doctest::Approx(10000 * k).epsilon(0.03));
  }
}

TEST_CASE("ScaledTrace over idle spans: the same requests, jittered by the same draws, as second by second") {
  // rows far apart (and two out of order within the 2 s the reader allows): the trace jumps over
  // the empty seconds; what it yields must still be each row plus its own draw from the seed's
  // stream (one draw for the copy count, one for the jitter, in file order), sorted
  const std::vector<double> times{0.0, 0.5, 1.7, 5e8, 5e8 + 1.2, 5e8 + 0.3, 5e8 + 0.9, 9e8, 9e8 + 2.5};
  std::string rows;
  for (const double t : times) rows += std::to_string(t) + ",100,10\n";
  std::istringstream in(rows);
  llmscale::TraceReader reader(in, llmscale::TraceFormat::csv);
  llmscale::ScaledTrace scaled(reader, 1.0, 11);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> expected;
  for (const double t : times) {
    (void)u(rng);  // the copy draw: scale 1 always gives one copy
    expected.push_back(std::stod(std::to_string(t)) + u(rng));
  }
  std::sort(expected.begin(), expected.end());
  std::vector<double> got;
  TraceRequest r;
  while (scaled.next(r)) got.push_back(r.arrival_s);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == expected[i]);
}

TEST_CASE("sim config: validate() names the field and its range - simulate throws") {
  SimConfig c;
  c.max_batch = 0;
  REQUIRE(c.validate());
  CHECK(c.validate()->field == "max_batch");
  CHECK(c.validate()->allowed == "[1, 100000]");
  c = SimConfig{};
  c.tick_s = 0;
  REQUIRE(c.validate());
  CHECK(c.validate()->field == "tick_s");
  EvenSource source{1.0, 10, 10, 10};
  CHECK_THROWS_AS(run_static(1, source, llama_like(), c), std::invalid_argument);
}
