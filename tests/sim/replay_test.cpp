// llmscale-replay's reference points, workloads, readers and faults: the fluid floor, the
// oracle and the best static fleet ordered on every scenario; the scenarios' rates and lengths
// against their definitions; each reader on its sample (malformed rows included); an llmscale
// record's windows, version line and rows; no request lost under faults and no scale-down on
// stale signals.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/sim/contestants.hpp"
#include "llmscale/sim/workload.hpp"

using llmscale::SimConfig;
using llmscale::SimResult;
using llmscale::TraceRequest;

namespace {

// llama2-70b-like coefficients (ms): prefill 45 + 0.107 P, decode 28.8 + 1e-4 X + 0.26 n
llmscale::LatencyProfile llama_like() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26});
}

std::vector<TraceRequest> all_of(llmscale::Scenario s, double scale, std::uint64_t seed = 1) {
  llmscale::ScenarioTrace t(s, scale, seed);
  return llmscale::InMemoryTrace::collect(t);
}

int first_minute_fleet(const std::vector<TraceRequest>& all, const llmscale::LatencyProfile& p, const SimConfig& sim) {
  long long n = 0;
  double prompt = 0, output = 0;
  for (const auto& r : all) {
    if (r.arrival_s >= 60) break;
    ++n;
    prompt += r.prompt_tokens;
    output += r.output_tokens;
  }
  const llmscale::TokenLengths tokens{n > 0 ? prompt / n : 1155, n > 0 ? output / n : 211};
  return llmscale::littles_law_replicas(p, static_cast<double>(n) / 60.0, tokens, sim.max_batch);
}

}  // namespace

TEST_CASE("replay: fluid_bound <= oracle <= static-best on every scenario - both meet the target, static-best - 1 does not") {
  const auto profile = llama_like();
  struct Case {
    llmscale::Scenario scenario;
    double scale;
  };
  for (const Case& k : {Case{llmscale::Scenario::chat_day, 0.15}, Case{llmscale::Scenario::code_bursts, 1.0},
                        Case{llmscale::Scenario::flash_crowd, 0.5}}) {
    CAPTURE(static_cast<int>(k.scenario));
    const std::vector<TraceRequest> all = all_of(k.scenario, k.scale);
    SimConfig sim;
    sim.cold_start_s = 300;
    const int initial = first_minute_fleet(all, profile, sim);
    const auto c = llmscale::Contestants::for_run(sim, 1, 64);
    const auto source = [&] { return llmscale::InMemoryTrace(all); };
    const SimResult oracle = llmscale::run_contestant("oracle", c, profile, sim, initial, source);
    const SimResult fixed = llmscale::run_contestant("static-best", c, profile, sim, initial, source);
    llmscale::InMemoryTrace pass(all);
    const double fluid = llmscale::fluid_bound_gpu_hours(pass, profile, sim);
    CHECK(fluid > 0);
    CHECK(fluid <= oracle.gpu_hours);
    CHECK(oracle.gpu_hours <= fixed.gpu_hours);
    CHECK(oracle.slo_attainment >= 0.99);
    CHECK(fixed.slo_attainment >= 0.99);
    CHECK(oracle.completed + oracle.rejected == oracle.requests);
    // static-best is the smallest: one replica fewer misses the target
    const int n = fixed.initial_replicas;
    REQUIRE(n > 1);
    llmscale::GovernorConfig g = c.neutral;
    g.min_replicas = g.max_replicas = n - 1;
    llmscale::InMemoryTrace again(all);
    const SimResult fewer = llmscale::simulate(llmscale::StaticPolicy{n - 1}, g, again, profile, sim, n - 1);
    CHECK(fewer.slo_attainment < 0.99);
  }
}

TEST_CASE("replay: the fluid bound is the hand computation") {
  // 10 requests of 2,048 prompt and 101 output tokens; prefill 45 + 0.107 x 2048 ms per full
  // chunk; decode 28.8 + 1e-4 X + 0.26 n ms per step of n = 64 at X = 64 x (2048 + 50.5)
  // (a max batch of 64 set here; the default is vLLM's 256)
  std::vector<TraceRequest> all(10, TraceRequest{0, 2048, 101});
  const auto profile = llama_like();
  SimConfig sim;
  sim.max_batch = 64;
  llmscale::InMemoryTrace t(all);
  const double prefill_s = 10 * (45 + 0.107 * 2048) / 1000;
  const double step_s = (28.8 + 1e-4 * 64 * 2098.5 + 0.26 * 64) / 1000;
  const double decode_s = 10 * 101 * step_s / 64;
  CHECK(llmscale::fluid_bound_gpu_hours(t, profile, sim) == doctest::Approx((prefill_s + decode_s) * 4 / 3600));
}

TEST_CASE("replay: the oracle's search finds the fewest passing n from any guess") {
  for (int threshold = 1; threshold <= 40; ++threshold) {
    for (int guess : {1, 7, 20, 40}) {
      int calls = 0;
      const int n = llmscale::detail::fewest(1, 40, guess, [&](int k) {
        ++calls;
        return k >= threshold;
      });
      CHECK(n == threshold);
      CHECK(calls <= 14);
    }
  }
  CHECK(llmscale::detail::fewest(1, 10, 5, [](int) { return false; }) == 11);
  llmscale::FleetPlan plan{60, {3, 5, 2, 8}, 1};
  CHECK(plan.at(0) == 3);
  CHECK(plan.at(119.9) == 5);
  CHECK(plan.at(1e6) == 8);
  CHECK(plan.most(100, 130) == 5);   // windows 1 and 2
  CHECK(plan.most(130, 190) == 8);   // windows 2 and 3
}

TEST_CASE("scenarios: the rates and lengths they are defined with") {
  SUBCASE("flash-crowd: 4 req/s, 40 req/s from 45 to 60 min") {
    const auto all = all_of(llmscale::Scenario::flash_crowd, 1.0);
    long long step = 0, base = 0;
    for (const auto& r : all) (r.arrival_s >= 2700 && r.arrival_s < 3600 ? step : base) += 1;
    // Poisson counts: 36,000 (sd 190) and 4 x 6,300 = 25,200 (sd 159)
    CHECK(std::abs(static_cast<double>(step) - 36000) < 4 * 190);
    CHECK(std::abs(static_cast<double>(base) - 25200) < 4 * 159);
  }
  SUBCASE("code-bursts: silence, then bursts of 400-600 req/min; the first after 10 minutes") {
    const auto all = all_of(llmscale::Scenario::code_bursts, 1.0);
    REQUIRE(!all.empty());
    CHECK(all.front().arrival_s >= 600);
    // per minute: either (almost) silent or a burst's rate; silences of at least 2 minutes exist
    std::vector<long long> per_minute(120, 0);
    for (const auto& r : all) ++per_minute[static_cast<std::size_t>(r.arrival_s / 60)];
    long long peak = *std::max_element(per_minute.begin(), per_minute.end());
    CHECK(peak <= 600 + 4 * 25);
    CHECK(peak >= 400);
    int silent_run = 0, longest = 0;
    for (long long m : per_minute) {
      silent_run = m == 0 ? silent_run + 1 : 0;
      longest = std::max(longest, silent_run);
    }
    CHECK(longest >= 2);
  }
  SUBCASE("chat-day: the daily cycle's trough and peak, Azure conversation lengths") {
    const auto all = all_of(llmscale::Scenario::chat_day, 1.0);
    std::vector<double> per_hour(24, 0);
    double prompt = 0, output = 0;
    std::vector<double> prompts;
    for (const auto& r : all) {
      per_hour[static_cast<std::size_t>(r.arrival_s / 3600)] += 1;
      prompt += r.prompt_tokens;
      output += r.output_tokens;
      prompts.push_back(r.prompt_tokens);
    }
    const double n = static_cast<double>(all.size());
    CHECK(prompt / n == doctest::Approx(1155).epsilon(0.02));
    CHECK(output / n == doctest::Approx(211).epsilon(0.03));
    std::nth_element(prompts.begin(), prompts.begin() + static_cast<std::ptrdiff_t>(prompts.size() / 2), prompts.end());
    CHECK(prompts[prompts.size() / 2] == doctest::Approx(1020).epsilon(0.02));
    // the quietest hour is around 04:00 and the busiest around 16:00; the busiest at least twice the quietest
    const auto quiet = std::min_element(per_hour.begin(), per_hour.end()) - per_hour.begin();
    const auto busy = std::max_element(per_hour.begin(), per_hour.end()) - per_hour.begin();
    CHECK(std::abs(quiet - 4) <= 2);
    CHECK(std::abs(busy - 16) <= 3);
    CHECK(per_hour[static_cast<std::size_t>(busy)] >= 2 * per_hour[static_cast<std::size_t>(quiet)]);
    // with no bursts an hour holds 3,600 x 12 x (0.35 + 0.65 x (1 - cos(2 pi (h + 0.5 - 4) / 24)) / 2) on average; bursts only add
    double expected_calm = 0;
    for (int h = 0; h < 24; ++h) {
      expected_calm += 3600 * 12 * (0.35 + 0.65 * (0.5 - 0.5 * std::cos(2 * 3.14159265358979 * (h + 0.5 - 4) / 24)));
    }
    CHECK(n >= 0.98 * expected_calm);
    CHECK(n <= 1.6 * expected_calm);
  }
  SUBCASE("the same seed gives the same requests; another seed others") {
    const auto a = all_of(llmscale::Scenario::flash_crowd, 0.1, 5), b = all_of(llmscale::Scenario::flash_crowd, 0.1, 5);
    const auto c = all_of(llmscale::Scenario::flash_crowd, 0.1, 6);
    REQUIRE(a.size() == b.size());
    CHECK(std::equal(a.begin(), a.end(), b.begin(), [](const TraceRequest& x, const TraceRequest& y) {
      return x.arrival_s == y.arrival_s && x.prompt_tokens == y.prompt_tokens;
    }));
    CHECK((a.size() != c.size() || a.front().arrival_s != c.front().arrival_s));
  }
}

TEST_CASE("readers: mooncake, burstgpt and servegen samples, malformed rows reported with their lines") {
  TraceRequest r;
  SUBCASE("mooncake: ms timestamps, lengths, malformed rows") {
    std::ifstream in("tests/sim/data/mooncake_sample.jsonl");
    REQUIRE(in);
    llmscale::TraceReader reader(in, llmscale::TraceFormat::mooncake);
    CHECK(reader.bucket_s() == 0);  // distinct timestamps: not bucketed, nothing jittered
    std::vector<TraceRequest> got;
    while (reader.next(r)) got.push_back(r);
    REQUIRE(got.size() == 5);
    CHECK(got[0].arrival_s == 0.0);
    CHECK(got[0].prompt_tokens == 6955);
    CHECK(got[0].output_tokens == 52);
    CHECK(got[1].arrival_s == doctest::Approx(0.25));
    CHECK(got[2].output_tokens == 1);
    CHECK(got[3].arrival_s == doctest::Approx(3.0));  // no hash_ids: still a request
    CHECK(got[4].arrival_s == doctest::Approx(4.2005));
    CHECK(reader.skipped() == 3);
    REQUIRE(reader.problems().size() == 3);
    CHECK(reader.problems()[0] == "line 4: bad input_length (want 1 to 10^7)");
    CHECK(reader.problems()[1] == "line 5: bad output_length (want 1 to 10^7)");
    CHECK(reader.problems()[2] == "line 7: not a JSON object");
  }
  SUBCASE("mooncake: bucketed timestamps are spread over their bucket, seeded, in order after scaling") {
    std::ifstream in("tests/sim/data/mooncake_bucketed.jsonl");
    REQUIRE(in);
    llmscale::TraceReader reader(in, llmscale::TraceFormat::mooncake, false, 2, 9);
    CHECK(reader.bucket_s() == doctest::Approx(3.0));
    std::ifstream raw_in("tests/sim/data/mooncake_bucketed.jsonl");
    std::string line;
    long long rows = 0;
    while (reader.next(r) && std::getline(raw_in, line)) {
      ++rows;
      const double bucket = std::stod(line.substr(line.find(':') + 1)) / 1000.0;
      CHECK(r.arrival_s >= bucket);
      CHECK(r.arrival_s < bucket + 3.0);
    }
    CHECK(rows == 158);
    std::ifstream again("tests/sim/data/mooncake_bucketed.jsonl");
    llmscale::TraceReader reader2(again, llmscale::TraceFormat::mooncake, false, 2, 9);
    llmscale::ScaledTrace scaled(reader2, 1.0, 1);
    double last = -1;
    long long n = 0;
    while (scaled.next(r)) {
      CHECK(r.arrival_s >= last);
      last = r.arrival_s;
      ++n;
    }
    CHECK(n == 158);
  }
  SUBCASE("the shared synthetic Mooncake trace is not bucketed") {
    std::ifstream in("../shared/data/mooncake_synthetic.jsonl");
    if (!in) {
      MESSAGE("skipped: no ../shared/data");
      return;
    }
    llmscale::TraceReader reader(in, llmscale::TraceFormat::mooncake);
    CHECK(reader.bucket_s() == 0);
    long long n = 0;
    double prompt = 0;
    while (reader.next(r)) {
      ++n;
      prompt += r.prompt_tokens;
    }
    CHECK(n == 3993);  // the data README's count
    CHECK(prompt / static_cast<double>(n) == doctest::Approx(15325).epsilon(0.001));
    CHECK(reader.skipped() == 0);
  }
  SUBCASE("burstgpt: a zero-response row is a failed request, skipped and counted apart") {
    std::ifstream in("tests/sim/data/burstgpt_sample.csv");
    REQUIRE(in);
    llmscale::TraceReader reader(in, llmscale::TraceFormat::burstgpt);
    std::vector<TraceRequest> got;
    while (reader.next(r)) got.push_back(r);
    REQUIRE(got.size() == 3);
    CHECK(got[0].arrival_s == 0.0);
    CHECK(got[0].prompt_tokens == 472);
    CHECK(got[0].output_tokens == 18);
    CHECK(got[1].arrival_s == doctest::Approx(113));
    CHECK(got[2].output_tokens == 361);
    CHECK(reader.failed() == 2);
    CHECK(reader.skipped() == 2);
    REQUIRE(reader.problems().size() == 2);
    CHECK(reader.problems()[0] == "line 6: bad prompt tokens (want 1 to 10^7)");
    CHECK(reader.problems()[1] == "line 7: fewer than 6 fields");
  }
  SUBCASE("servegen: windows of rate and CV; requests at each window's rate") {
    std::ifstream in("tests/sim/data/servegen_sample.csv");
    REQUIRE(in);
    llmscale::TraceReader reader(in, llmscale::TraceFormat::servegen);
    llmscale::RateSeriesTrace trace(reader, 10.0, 4);
    std::vector<long long> per_window(5, 0);
    long long n = 0;
    double last = -1;
    bool ordered = true;
    while (trace.next(r)) {
      ordered = ordered && r.arrival_s >= last;
      last = r.arrival_s;
      ++per_window[std::min<std::size_t>(4, static_cast<std::size_t>(r.arrival_s / 600))];
      ++n;
    }
    CHECK(ordered);
    CHECK(reader.skipped() == 1);
    REQUIRE(reader.problems().size() == 1);
    CHECK(reader.problems()[0] == "line 4: bad total_rate_rps (want 0 to 10^7)");
    // x10: 20 req/s for 600 s, then 50 req/s until the next good window (1,200 s), then 10 req/s
    // for 600 s (CV 3: counts spread more, so the bounds are loose)
    CHECK(static_cast<double>(per_window[0]) == doctest::Approx(12000).epsilon(0.05));
    CHECK(static_cast<double>(per_window[1] + per_window[2]) == doctest::Approx(60000).epsilon(0.05));
    CHECK(static_cast<double>(per_window[3]) == doctest::Approx(6000).epsilon(0.35));
    CHECK(per_window[4] == 0);
    CHECK(n == per_window[0] + per_window[1] + per_window[2] + per_window[3]);
  }
}

namespace {

// An llmscale record's version line and column names, as the scaler writes them.
const std::string record_head =
    "# llmscale-record 1\n"
    "window_start_s,window_s,arrivals,prompt_tokens_mean,prompt_tokens_sd,output_tokens_mean,output_tokens_sd,"
    "interarrival_cv,ready,starting,queued,running,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,desired\n";

}  // namespace

TEST_CASE("llmscale record: arrivals per window within Poisson noise - lengths at the recorded moments - a gap is silent") {
  // 30 windows of 60 s with 600 arrivals each; windows 15 to 29 start 600 s after window 14 ends
  // (the scaler was down). The first 15 record prompt 1,500 (sd 900) and output 300 (sd 200);
  // the last 15 a prompt mean of 500 without its sd and no output moments (the default's 211).
  constexpr double origin = 1765065600, window = 60, arrivals = 600, gap = 600;
  std::vector<double> starts;
  std::string rows = record_head;
  for (int i = 0; i < 30; ++i) {
    const double start = origin + window * i + (i >= 15 ? gap : 0);
    starts.push_back(start - origin);
    rows += std::to_string(start) + ",60,600," + (i < 15 ? "1500,900,300,200" : "500,,,") + (i % 2 ? ",1" : ",") +
            ",4,0,2,30,0.210,1.200,0.030,0.080,5\n";
  }
  std::istringstream in(rows);
  llmscale::TraceReader reader(in, llmscale::TraceFormat::llmscale);
  llmscale::RateSeriesTrace trace(reader, 1.0, 3);
  std::vector<long long> per_window(30, 0);
  double prompt[2] = {0, 0}, output[2] = {0, 0};
  long long n[2] = {0, 0}, in_gap = 0, outside = 0;
  double last = -1;
  bool ordered = true;
  TraceRequest r;
  while (trace.next(r)) {
    ordered = ordered && r.arrival_s >= last;
    last = r.arrival_s;
    const auto at = std::upper_bound(starts.begin(), starts.end(), r.arrival_s) - starts.begin() - 1;
    if (at < 0 || r.arrival_s >= starts[static_cast<std::size_t>(at)] + window) {
      (r.arrival_s >= 15 * window && r.arrival_s < 15 * window + gap ? in_gap : outside) += 1;
      continue;
    }
    ++per_window[static_cast<std::size_t>(at)];
    const std::size_t half = at < 15 ? 0 : 1;
    prompt[half] += r.prompt_tokens;
    output[half] += r.output_tokens;
    ++n[half];
  }
  CHECK(ordered);
  CHECK(reader.skipped() == 0);
  CHECK(in_gap == 0);
  CHECK(outside == 0);
  // CV 1 (given or blank): Poisson counts, sd sqrt(600) = 24.5 per window, sqrt(18,000) = 134 in all
  for (const long long count : per_window) CHECK(std::abs(static_cast<double>(count) - arrivals) < 5 * std::sqrt(arrivals));
  CHECK(std::abs(static_cast<double>(n[0] + n[1]) - 30 * arrivals) < 3 * std::sqrt(30 * arrivals));
  // about 9,000 requests a half: the means' standard errors are below 0.8 % (CV 0.6, 0.67 and
  // 0.53 with the default's median/mean ratio), 1.4 % for the default output (CV 1.3, and its
  // clamp to 4,096 takes about 0.5 % off its mean)
  REQUIRE(n[0] > 0);
  REQUIRE(n[1] > 0);
  CHECK(prompt[0] / static_cast<double>(n[0]) == doctest::Approx(1500).epsilon(0.03));
  CHECK(output[0] / static_cast<double>(n[0]) == doctest::Approx(300).epsilon(0.03));
  CHECK(prompt[1] / static_cast<double>(n[1]) == doctest::Approx(500).epsilon(0.03));
  CHECK(output[1] / static_cast<double>(n[1]) == doctest::Approx(211).epsilon(0.05));
}

TEST_CASE("llmscale record: the version line - malformed rows skipped and counted - blank fields unknown") {
  llmscale::RateWindow w;
  SUBCASE("a newer version is refused whatever strict - naming both versions") {
    for (const bool strict : {false, true}) {
      std::istringstream in("# llmscale-record 2\n1765065600,60,10,,,,,,,,,,,,,,\n");
      CHECK_THROWS_WITH_AS(llmscale::TraceReader(in, llmscale::TraceFormat::llmscale, strict),
                           "the record's version 2 is newer than this llmscale-replay reads (1): upgrade llmscale",
                           llmscale::TraceVersionError);
    }
    // rotated records concatenated: a newer version further down is refused when reached
    std::istringstream later(record_head + "1765065600,60,10,,,,,,,,,,,,,,\n# llmscale-record 3\n1765065660,60,10,,,,,,,,,,,,,,\n");
    llmscale::TraceReader reader(later, llmscale::TraceFormat::llmscale);
    REQUIRE(reader.next_window(w));
    CHECK_THROWS_WITH_AS(reader.next_window(w), "the record's version 3 is newer than this llmscale-replay reads (1): upgrade llmscale",
                         llmscale::TraceVersionError);
  }
  SUBCASE("no version line: refused") {
    for (const char* text : {"window_start_s,window_s\n# llmscale-record 1\n", "1765065600,60,10,,,,,,,,,,,,,,\n",
                             "# llmscale-record\n", "# llmscale-record 0\n", "# a comment\n# llmscale-record 1\n"}) {
      std::istringstream in(text);
      CHECK_THROWS_WITH_AS(llmscale::TraceReader(in, llmscale::TraceFormat::llmscale),
                           "not an llmscale record: the first line must be '# llmscale-record 1'", llmscale::TraceVersionError);
    }
    std::istringstream empty("\n  \n");  // nothing to refuse: no window
    llmscale::TraceReader reader(empty, llmscale::TraceFormat::llmscale);
    CHECK_FALSE(reader.next_window(w));
    CHECK(reader.skipped() == 0);
  }
  SUBCASE("malformed rows skipped and counted with their lines - strict throws at the first") {
    const std::string text = "\n" + record_head +                               // lines 1 to 3
                             "1765065600,60,120,1020.5,800.2,211.3,150.0,,4,0,2,30,0.210,1.200,0.030,0.080,5\n"  // 4
                             "1765065660,60,120,1020.5,800.2,211.3,150.0,,4,0,2,30,0.210,1.200,0.030,0.080\n"    // 5: 16 fields
                             "1765065720,0,120,,,,,,,,,,,,,,\n"                                                  // 6
                             "1765065780,60,120,0.5,,,,,,,,,,,,,\n"                                              // 7
                             "1765065840,60,120,,,,,,-1,,,,,,,,\n"                                               // 8
                             "1765065900,60,120,,,,,,,,,,,,,,x\n"                                                // 9
                             "1765065960,60,120,,,,,,,,,,,,,,,\n"                                                // 10: 18 fields
                             "1765066020,60,120,,,,,,,,,,,,,,\n";                                                // 11
    std::istringstream in(text);
    llmscale::TraceReader reader(in, llmscale::TraceFormat::llmscale);
    int windows = 0;
    while (reader.next_window(w)) ++windows;
    CHECK(windows == 2);
    CHECK(w.start_s == doctest::Approx(420));  // the last window, from the first's start
    CHECK(reader.rows() == 2);
    CHECK(reader.skipped() == 6);
    REQUIRE(reader.problems().size() == 6);
    CHECK(reader.problems()[0] == "line 5: fewer than 17 fields");
    CHECK(reader.problems()[1] == "line 6: bad window_s (want seconds, above 0 to 86400)");
    CHECK(reader.problems()[2] == "line 7: bad prompt_tokens_mean (want blank or 1 to 10^7)");
    CHECK(reader.problems()[3] == "line 8: bad ready (want blank or a number >= 0)");
    CHECK(reader.problems()[4] == "line 9: bad desired (want blank or a number >= 0)");
    CHECK(reader.problems()[5] == "line 10: more than 17 fields");
    std::istringstream again(text);
    llmscale::TraceReader strict(again, llmscale::TraceFormat::llmscale, true);
    REQUIRE(strict.next_window(w));
    try {
      strict.next_window(w);
      FAIL("a malformed row in strict mode must throw");
    } catch (const llmscale::TraceError& e) {
      CHECK(e.line() == 5);
    }
  }
  SUBCASE("blank fields are unknown - comments and repeated headers are skipped - not a request trace") {
    std::istringstream in(record_head +
                          "1765065600.500,60,1234,1020.5,800.2,211.3,150.0,,4,0,2,30,0.210,1.200,0.030,0.080,5\n"
                          "# rotated\n" + record_head +
                          "1765065660.500,30,15.5,,,,,2.5,,,,,,,,,\n");
    llmscale::TraceReader reader(in, llmscale::TraceFormat::llmscale);
    TraceRequest r;
    CHECK_FALSE(reader.next(r));  // a rate series: windows, not requests
    REQUIRE(reader.next_window(w));
    CHECK(w.start_s == 0.0);
    CHECK(w.length_s == 60.0);
    CHECK(w.rate == doctest::Approx(1234.0 / 60));
    CHECK(w.cv == 1.0);  // blank: Poisson
    CHECK(w.prompt_mean == 1020.5);
    CHECK(w.prompt_sd == doctest::Approx(800.2));
    CHECK(w.output_mean == doctest::Approx(211.3));
    CHECK(w.output_sd == 150.0);
    REQUIRE(reader.next_window(w));
    CHECK(w.start_s == doctest::Approx(60));
    CHECK(w.length_s == 30.0);
    CHECK(w.rate == doctest::Approx(15.5 / 30));
    CHECK(w.cv == 2.5);
    CHECK(std::isnan(w.prompt_mean));
    CHECK(std::isnan(w.prompt_sd));
    CHECK(std::isnan(w.output_mean));
    CHECK(std::isnan(w.output_sd));
    CHECK_FALSE(reader.next_window(w));
    CHECK(reader.skipped() == 0);
  }
  SUBCASE("lengths fitted to a window's moments: the lognormal's median - the default's ratio - the default") {
    const llmscale::LengthModel base;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const llmscale::LengthModel both = llmscale::LengthModel::fitted(base, 1000, 750, 200, 0);
    CHECK(both.prompt_mean == 1000);
    CHECK(both.prompt_median == doctest::Approx(800));  // 1,000 / sqrt(1 + 0.75^2) = 800
    CHECK(both.output_median == 200);                   // sd 0: every output 200
    const llmscale::LengthModel mean_only = llmscale::LengthModel::fitted(base, 2310, nan, nan, 30);
    CHECK(mean_only.prompt_median == doctest::Approx(2040));  // 2,310 x 1,020 / 1,155
    CHECK(mean_only.output_mean == base.output_mean);         // an sd without its mean: the default
    CHECK(mean_only.output_median == base.output_median);
  }
}

TEST_CASE("rate series: windows out of order by the allowed disorder or overlapping still give requests in time order") {
  // ServeGen windows at 100 then 99 then 98.5 (each within the reader's 2 s): the window at 99
  // ends at 99, before the arrivals already given up to 100; so does a record's window that
  // starts inside the one before it
  const std::string servegen = "0,0,0,50,0,0,1,0\n100,0,0,50,0,0,1,0\n99,0,0,50,0,0,1,0\n98.5,0,0,50,0,0,1,0\n200,0,0,50,0,0,1,0\n";
  const std::string record = record_head + "1000,100,5000,,,,,,,,,,,,,,\n1099,0.5,25,,,,,,,,,,,,,,\n1098.5,101.5,5075,,,,,,,,,,,,,,\n";
  for (const auto& [text, format] : {std::pair{servegen, llmscale::TraceFormat::servegen}, std::pair{record, llmscale::TraceFormat::llmscale}}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      std::istringstream in(text);
      llmscale::TraceReader reader(in, format);
      llmscale::RateSeriesTrace trace(reader, 1.0, seed);
      TraceRequest r;
      double last = -1;
      long long n = 0, backwards = 0;
      while (trace.next(r)) {
        backwards += r.arrival_s < last ? 1 : 0;
        last = r.arrival_s;
        ++n;
      }
      CHECK(reader.skipped() == 0);
      CHECK(n > 5000);
      CHECK(backwards == 0);
    }
  }
}

TEST_CASE("faults: completed + rejected = arrived under each - crashes re-queue, failed starts bill and vanish") {
  const auto profile = llama_like();
  const std::vector<TraceRequest> all = all_of(llmscale::Scenario::flash_crowd, 0.5);
  struct Fault {
    const char* name;
    double crash = 0, failed = 0, slow = 1, outage_start = 0, outage = 0;
  };
  SimConfig base;
  base.cold_start_s = 120;
  base.keep_timeseries = true;
  const int initial = first_minute_fleet(all, profile, base);
  SimResult clean;
  {
    const auto c = llmscale::Contestants::for_run(base, 1, 64);
    clean = llmscale::run_contestant("llmscale-slo", c, profile, base, initial, [&] { return llmscale::InMemoryTrace(all); });
  }
  for (const Fault& f : {Fault{"crash", 2.0}, Fault{"failed-start", 0, 0.5}, Fault{"slow-start", 0, 0, 3},
                         Fault{"metric-outage", 0, 0, 1, 3000, 600}}) {
    CAPTURE(f.name);
    SimConfig sim = base;
    sim.crash_per_replica_hour = f.crash;
    sim.failed_start_probability = f.failed;
    sim.slow_start_factor = f.slow;
    sim.metric_outage_start_s = f.outage_start;
    sim.metric_outage_s = f.outage;
    auto c = llmscale::Contestants::for_run(sim, 1, 64);
    const SimResult r = llmscale::run_contestant("llmscale-slo", c, profile, sim, initial, [&] { return llmscale::InMemoryTrace(all); });
    CHECK(r.requests == static_cast<long long>(all.size()));
    CHECK(r.completed + r.rejected == r.requests);
    if (f.crash > 0) {
      CHECK(r.crashes > 0);
      CHECK(r.requeued > 0);
    } else {
      CHECK(r.crashes == 0);
    }
    if (f.failed > 0) {
      CHECK(r.failed_starts > 0);
    } else {
      CHECK(r.failed_starts == 0);
    }
    if (f.slow > 1) CHECK(r.slo_attainment < clean.slo_attainment);  // the step is met three times later
  }
}

TEST_CASE("faults: no scale-down while the engine metrics are stale in an outage, and one after it") {
  // flash-crowd's step ends at 60 min, inside an outage from 58 to 75 min; a neutral governor
  // (no stabilization) would scale down at once on fresh signals
  const auto profile = llama_like();
  const std::vector<TraceRequest> all = all_of(llmscale::Scenario::flash_crowd, 0.5);
  SimConfig sim;
  sim.cold_start_s = 120;
  sim.keep_timeseries = true;
  sim.metric_outage_start_s = 3480;
  sim.metric_outage_s = 1020;
  auto c = llmscale::Contestants::for_run(sim, 1, 64);
  c.hpa_behaviour = c.neutral;
  const int initial = first_minute_fleet(all, profile, sim);
  const SimResult r = llmscale::run_contestant("llmscale-slo", c, profile, sim, initial, [&] { return llmscale::InMemoryTrace(all); });
  const double stale_from = 3480 + 30 + 1;  // signals go stale 30 s (stale_after_s) into the outage
  int before = -1, downs_in_outage = 0, downs_after = 0;
  for (const auto& k : r.series) {
    if (before >= 0 && k.desired < before) {
      if (k.t >= stale_from && k.t < 4500) ++downs_in_outage;
      if (k.t >= 4500 && k.t < 4800) ++downs_after;
    }
    before = k.desired;
  }
  CHECK(downs_in_outage == 0);
  CHECK(downs_after > 0);
}
