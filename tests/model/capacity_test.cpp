// Latency profiles (Splitwise fit, DistServe coefficients), replica capacity and the batching
// replica's birth-death queue against hand computations, the measured data and a Monte-Carlo
// simulation of the same chain.
#include <doctest/doctest.h>

#include <cmath>
#include <deque>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

#include "llmscale/model/batch_queue.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/profile_io.hpp"
#include "llmscale/model/replica_capacity.hpp"

using llmscale::DecodeCoefficients;
using llmscale::LatencyProfile;
using llmscale::load_latency_profile;
using llmscale::read_distserve_json;
using llmscale::read_splitwise_csv;
using llmscale::PrefillCoefficients;
using llmscale::ProfileError;

namespace {
const char* const splitwise = "../shared/data/profile_splitwise_perf_model.csv";
const char* const distserve = "../shared/data/profile_distserve_a100_80g_opt.json";
bool have(const char* path) {
  if (std::ifstream(path)) return true;
  MESSAGE("skipped: no ../shared/data");
  return false;
}
// decode = 10 ms + 1 ms per request, prefill = 0.1 ms per prompt token (no quadratic term)
LatencyProfile simple() {
  return LatencyProfile::from_coefficients(PrefillCoefficients{0, 0.1, 0, PrefillCoefficients::Quadratic::sum_of_squares},
                                           DecodeCoefficients{10, 0, 1});
}
}  // namespace

TEST_CASE("the Splitwise fit reproduces the measured medians within its reported residual") {
  if (!have(splitwise)) return;
  const LatencyProfile p = load_latency_profile(splitwise, "llama2-70b", "h100-80gb", 4);
  const auto& fit = p.fit();
  REQUIRE(fit.points.size() == 19);  // the star: 7 batch sizes, 6 more prompt sizes, 6 more output lengths
  // medians from the data README: bs1 59.7/29.5 (prompt 512), bs64 3,521/52.4
  bool seen64 = false;
  for (const auto& pt : fit.points) {
    if (pt.prompt_tokens == 512 && pt.batch == 64) {
      seen64 = true;
      CHECK(pt.prefill_ms == doctest::Approx(3521).epsilon(0.001));
      CHECK(pt.decode_ms == doctest::Approx(52.4).epsilon(0.002));
    }
    const double ctx = static_cast<double>(pt.prompt_tokens) + 0.5 * static_cast<double>(pt.output_tokens);
    if (!pt.prefill_excluded) {
      CHECK(std::fabs(p.prefill_s(static_cast<double>(pt.batch), static_cast<double>(pt.prompt_tokens)) * 1e3 - pt.prefill_ms) <=
            fit.prefill_max_abs_ms + 1e-9);
    }
    CHECK(std::fabs(p.decode_step_s(static_cast<double>(pt.batch), ctx) * 1e3 - pt.decode_ms) <= fit.decode_max_abs_ms + 1e-9);
  }
  CHECK(seen64);
  // and the residuals are small: the forms fit this hardware
  CHECK(fit.prefill_max_rel < 0.06);  // the arms disagree by up to 9 % at the same total
  CHECK(fit.decode_max_rel < 0.10);
  CHECK(fit.excluded == 0);
  // measured range: batch 64, prompt 8,192; beyond it the fit extrapolates and says so
  CHECK_FALSE(p.extrapolated(64, 512, 576));
  CHECK(p.extrapolated(1, 14000, 14000));
  CHECK(p.extrapolated(128, 512, 576));
}

TEST_CASE("the TP2 batch-64 rows, whose prefill falls, are left out of the prefill fit") {
  if (!have(splitwise)) return;
  const LatencyProfile p = load_latency_profile(splitwise, "llama2-70b", "h100-80gb", 2);
  CHECK(p.fit().excluded >= 1);
  for (const auto& pt : p.fit().points) {
    if (pt.batch == 64) CHECK(pt.prefill_excluded);
  }
}

TEST_CASE("a malformed profile is rejected with its line number") {
  std::istringstream bad(
      "model,hardware,prompt_size,batch_size,token_size,peak_power,average_power,prompt_time,token_time,e2e_time,"
      "tensor_parallel\n"
      "llama2-70b,h100-80gb,512,1,128,1,0.7,59.7,29.5,3800,4\n"
      "llama2-70b,h100-80gb,512,two,128,1,0.7,59.7,29.5,3800,4\n");
  try {
    (void)read_splitwise_csv(bad, "llama2-70b", "h100-80gb", 4);
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.line() == 3);
    CHECK(std::string(e.what()).find("batch_size") != std::string::npos);
  }
  std::istringstream short_row("model,hardware,prompt_size,batch_size,token_size,prompt_time,token_time,tensor_parallel\n\nx,y,1\n");
  try {
    (void)read_splitwise_csv(short_row, "x", "y", 1);
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.line() == 3);
  }
  std::istringstream json("{\"m\": {\"1\": {\"prefill\": [1, 2,\n 3}}}");
  try {
    (void)read_distserve_json(json, "m", 1);
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.line() == 2);
  }
}

TEST_CASE("DistServe coefficients: the file's values, small and large batch switched at the threshold") {
  if (!have(distserve)) return;
  const LatencyProfile p = load_latency_profile(distserve, "facebook/opt-13b", "a100-80gb", 1);
  // prefill [18.10254647486372, 0.1019122572698738, 7.122264314252114e-06] on sum and sum of squares
  CHECK(p.prefill_s(2, 100) * 1e3 == doctest::Approx(18.10254647486372 + 0.1019122572698738 * 200 +
                                                      7.122264314252114e-06 * 2 * 100 * 100));
  CHECK(p.large_batch_threshold() == 95);
  // decoding_smallbs [19.934702624895458, 0.0006269356524350583, 0.03850697740828398]
  CHECK(p.decode_step_s(10, 500) * 1e3 ==
        doctest::Approx(19.934702624895458 + 0.0006269356524350583 * 5000 + 0.03850697740828398 * 10));
  // decoding_largebs [7.1661889468253595, 0.0005798000403396046, 0.15831096191764046]
  CHECK(p.decode_step_s(100, 500) * 1e3 ==
        doctest::Approx(7.1661889468253595 + 0.0005798000403396046 * 50000 + 0.15831096191764046 * 100));
  CHECK_THROWS_AS((void)load_latency_profile(distserve, "facebook/opt-13b", "a100-80gb", 3), ProfileError);
}

TEST_CASE("replica capacity by hand: per-token target, KV cache and engine limits") {
  const LatencyProfile p = simple();
  // I = 1000, O = 100: prefill(1, 1000) = 100 ms, spread over 100 steps = 1 ms per request per
  // step; tau(n) = 10 + n + n = 10 + 2n ms
  const llmscale::TokenLengths tokens{1000, 100};
  llmscale::LatencyTargets targets;
  targets.tpot_s = 0.050;  // 10 + 2n <= 50: n <= 20
  auto c = llmscale::replica_capacity(p, tokens, targets, 1e9, 64);
  CHECK(c.batch_limit_tpot == 20);
  CHECK(c.max_batch == 20);
  CHECK(c.tpot_s == doctest::Approx(0.050));
  CHECK(c.throughput == doctest::Approx(20.0 / (100 * 0.050)));  // 4 requests per second
  CHECK(c.prefill_s == doctest::Approx(0.1));
  c = llmscale::replica_capacity(p, tokens, targets, 11000 * 15 + 5, 64);  // KV holds 15 of 1,100 tokens
  CHECK(c.batch_limit_kv == 150);
  c = llmscale::replica_capacity(p, tokens, targets, 1100 * 15 + 5, 64);
  CHECK(c.max_batch == 15);
  c = llmscale::replica_capacity(p, tokens, targets, 1e9, 8);
  CHECK(c.max_batch == 8);
  targets.tpot_s = 0.005;  // below one step at batch 1: nothing fits
  CHECK(llmscale::replica_capacity(p, tokens, targets, 1e9, 8).max_batch == 0);
  CHECK_THROWS_AS((void)llmscale::replica_capacity(p, llmscale::TokenLengths{0, 100}, targets, 1e9), std::invalid_argument);
}

namespace {
// The birth-death chain simulated directly: Poisson arrivals (blocked at K), completions at
// mu(n); FIFO admission into the batch. Returns (mean wait, P(wait > t), blocking share).
struct Simulated {
  double mean_wait, tail, blocking, throughput;
};
Simulated simulate(llmscale::BatchQueueModel& m, double lambda, double t, int arrivals, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> unit(1.0);
  std::uniform_real_distribution<double> u(0, 1);
  double now = 0;
  long long n = 0;
  std::deque<double> waiting;  // arrival times of queued requests
  double wait_sum = 0;
  long long waited_long = 0, admitted = 0, blocked = 0, completed = 0;
  const long long N = m.max_batch(), K = m.capacity();
  int seen = 0;
  while (seen < arrivals) {
    const double mu = n > 0 ? m.service_rate(n) : 0.0;
    const double total = lambda + mu;
    now += unit(rng) / total;
    if (u(rng) * total < lambda) {
      ++seen;
      if (n >= K) {
        ++blocked;
        continue;
      }
      ++admitted;
      if (n >= N) {
        waiting.push_back(now);
      } else {
        // no wait
      }
      ++n;
    } else {
      --n;
      ++completed;
      if (!waiting.empty()) {
        const double w = now - waiting.front();
        waiting.pop_front();
        wait_sum += w;
        waited_long += w > t;
      }
    }
  }
  return Simulated{wait_sum / static_cast<double>(admitted), static_cast<double>(waited_long) / static_cast<double>(admitted),
                   static_cast<double>(blocked) / seen, static_cast<double>(completed) / now};
}
}  // namespace

TEST_CASE("the batch queue model matches a Monte-Carlo simulation of the same birth-death chain") {
  const LatencyProfile p = simple();
  const llmscale::TokenLengths tokens{1000, 100};
  llmscale::BatchQueueModel model(p, tokens, 8, 40);  // mu(8) = 8 / (100 * 0.026) = 3.08 /s
  for (double load : {0.6, 0.9, 1.05}) {
    const double lambda = load * model.saturation_rate();
    const auto m = model.at(lambda, 0.9);
    const double t = m.wait_quantile_s;
    const Simulated s = simulate(model, lambda, t > 0 ? t : 0.5, 400'000, 3);
    CAPTURE(load);
    CHECK(s.mean_wait == doctest::Approx(m.mean_wait_s).epsilon(0.05));
    CHECK(s.blocking == doctest::Approx(m.blocking).epsilon(0.1 + 0.002 / std::max(m.blocking, 1e-3)));
    CHECK(s.throughput == doctest::Approx(m.throughput).epsilon(0.02));
    if (t > 0) CHECK(s.tail == doctest::Approx(0.1).epsilon(0.08));  // the model's 0.9 quantile: 10 % wait longer
  }
}

TEST_CASE("the largest arrival rate per replica meets the TTFT target - 1 % more misses it") {
  const LatencyProfile p = simple();
  llmscale::BatchQueueModel model(p, llmscale::TokenLengths{1000, 100}, 8, 40);
  llmscale::LatencyTargets targets;
  targets.ttft_s = 2.0;
  targets.quantile = 0.95;
  const double best = model.max_arrival_rate(targets);
  CHECK(best > 0);
  CHECK(best < model.saturation_rate() * 1.5);
  CHECK(model.at(best, 0.95).ttft_quantile_s <= 2.0 + 1e-6);
  CHECK(model.at(best * 1.01, 0.95).ttft_quantile_s > 2.0);
  targets.ttft_s = 0.05;  // below one prefill (0.1 s): no rate meets it
  CHECK(model.max_arrival_rate(targets) == 0.0);
}

TEST_CASE("a profile giving times of 0 or below, or coefficients beyond any hardware, is refused by name") {
  using llmscale::DecodeCoefficients;
  using llmscale::PrefillCoefficients;
  const PrefillCoefficients prefill{20, 0.1, 1e-6, PrefillCoefficients::Quadratic::sum_of_squares};
  const DecodeCoefficients decode{20, 6e-4, 0.04};
  const auto message = [](auto&& make) {
    try {
      (void)make();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(message([&] { return LatencyProfile::from_coefficients(prefill, decode); }) == "accepted");
  // -1 ms for every prefill: a 1-token prompt takes -0.9 ms
  CHECK(message([&] { return LatencyProfile::from_coefficients(PrefillCoefficients{-1, 0.1, 0}, decode); })
            .find("prefill of one 1-token prompt = -0.9") != std::string::npos);
  CHECK(message([&] { return LatencyProfile::from_coefficients(prefill, DecodeCoefficients{0, 0, 0}); })
            .find("decode step at batch 1, context 1 = 0") != std::string::npos);
  CHECK(message([&] { return LatencyProfile::from_coefficients(PrefillCoefficients{1e308, 0, 0}, decode); })
            .find("prefill.a = 1e+308") != std::string::npos);
  // a quadratic that turns negative inside a long prompt: 20 + 0.1 P - 1e-4 P^2 < 0 at P = 32768
  CHECK(message([&] { return LatencyProfile::from_coefficients(PrefillCoefficients{20, 0.1, -1e-4}, decode); })
            .find("32768-token prompt") != std::string::npos);
  // the large-batch coefficients are checked just past the threshold: -10 + 0.04 * 96 < 0
  CHECK(message([&] {
          return LatencyProfile::from_coefficients(prefill, decode, DecodeCoefficients{-10, 0, 0.04}, 95);
        }).find("past the large-batch threshold") != std::string::npos);
  // a measured row of 1e308 ms
  std::istringstream csv(
      "model,hardware,prompt_size,batch_size,token_size,prompt_time,token_time,tensor_parallel\n"
      "x,y,512,1,128,1e308,29.5,4\n");
  try {
    (void)read_splitwise_csv(csv, "x", "y", 4);
    FAIL("accepted");
  } catch (const ProfileError& e) {
    CHECK(e.line() == 2);
  }
}

namespace {
// The per-token tail's own assumptions drawn at random: outputs a rounded lognormal of mean
// `output` and log sd `sigma` (as the simulator draws them), the prompts a replica receives after
// the request's arrival a renewal process of Erlang-`shape` gaps, each a geometric number of
// chunks; a request misses when d + min(K, m) c / m > target.
double drawn_miss_share(double d, double rate, const llmscale::PrefillChunks& ch, double output, double sigma,
                        double target, int shape, int draws, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> outputs(std::log(output) - 0.5 * sigma * sigma, sigma);
  std::gamma_distribution<double> gap(shape, 1.0 / (shape * rate));
  std::geometric_distribution<long long> chunks(1.0 / ch.per_request);  // chunks - 1
  const double rho = rate * ch.per_request * ch.chunk_s;
  long long missed = 0;
  for (int i = 0; i < draws; ++i) {
    const long long m = std::max(1LL, std::llround(outputs(rng))) - 1;  // decode iterations after the first token
    if (m == 0) continue;                                                // one token: meets
    const double window = (ch.per_request * (d + ch.chunk_s) + static_cast<double>(m) * d) / (1.0 - rho);
    long long k = 0;
    for (double t = gap(rng); t <= window && k <= m; t += gap(rng)) k += 1 + chunks(rng);
    if (d + static_cast<double>(std::min(k, m)) * ch.chunk_s / static_cast<double>(m) > target) ++missed;
  }
  return static_cast<double>(missed) / draws;
}
}  // namespace

TEST_CASE("the per-token tail: tpot_miss_share against its own assumptions drawn at random") {
  struct Case {
    double d, rate, E, c, output, sigma;
    int shape;
  };
  // a code-like mix (short outputs, long prompts) at Poisson and regular arrivals, and a
  // chat-like one (long outputs: the normal approximations beyond 64 iterations)
  for (const Case k : {Case{0.03, 1.3, 1.58, 0.13, 28, 1.24, 4}, Case{0.03, 1.3, 1.58, 0.13, 28, 0.6, 1},
                       Case{0.045, 2.7, 1.2, 0.1, 211, 2.0, 4}, Case{0.045, 2.7, 1.2, 0.1, 211, 1.5, 1}}) {
    const llmscale::PrefillChunks ch{k.E, k.c};
    const double model = llmscale::tpot_miss_share(k.d, k.rate, ch, k.output, k.sigma, 0.1, 1.0, k.shape);
    const int draws = 400'000;
    const double drawn = drawn_miss_share(k.d, k.rate, ch, k.output, k.sigma, 0.1, k.shape, draws, 11);
    CAPTURE(k.output);
    CAPTURE(k.sigma);
    CAPTURE(k.shape);
    CAPTURE(model);
    CAPTURE(drawn);
    CHECK(model > 0.001);  // a share worth comparing
    // four standard errors of the draw, and 5 % for the blocks and normal approximations
    CHECK(std::fabs(model - drawn) <= 4 * std::sqrt(drawn * (1 - drawn) / draws) + 0.05 * drawn);
  }
}

TEST_CASE("the per-token tail at its edges, and it grows with the arrival rate, the decode step and the spread") {
  const llmscale::PrefillChunks ch{1.5, 0.12};
  // one-token outputs: round(X) = 1, X lognormal of mean 28 and log sd 1
  const double one = 0.5 * std::erfc(-(std::log(1.5) - (std::log(28.0) - 0.5)) / std::sqrt(2.0));
  CHECK(llmscale::tpot_miss_share(0.03, 1.0, ch, 28, 1, std::numeric_limits<double>::infinity()) == 0.0);
  CHECK(llmscale::tpot_miss_share(0.03, 1.0, ch, 1, 1, 0.1) == 0.0);   // a mean of one token
  CHECK(llmscale::tpot_miss_share(0.03, 0.0, ch, 28, 1, 0.1) == 0.0);  // no prompts to meet
  CHECK(llmscale::tpot_miss_share(0.11, 1.0, ch, 28, 1, 0.1) == doctest::Approx(1 - one));  // the step alone misses
  CHECK(llmscale::tpot_miss_share(0.03, 6.0, ch, 28, 1, 0.1) == doctest::Approx(1 - one));  // prefill saturates: 6 x 1.5 x 0.12 > 1
  CHECK(std::isnan(llmscale::tpot_miss_share(-1, 1.0, ch, 28, 1, 0.1)));
  CHECK(std::isnan(llmscale::tpot_miss_share(0.03, 1.0, ch, 28, 0, 0.1)));
  CHECK(std::isnan(llmscale::tpot_miss_share(0.03, 1.0, ch, 28, 1, 0.1, 1.0, 0)));
  // a chunk the request absorbs in one iteration (c <= slack) is never a miss
  CHECK(llmscale::tpot_miss_share(0.03, 1.0, llmscale::PrefillChunks{1.5, 0.07}, 28, 1, 0.1) == 0.0);
  double last = 0;
  for (double rate = 0.1; rate < 5.5; rate += 0.1) {
    const double share = llmscale::tpot_miss_share(0.03, rate, ch, 28, 1, 0.1);
    CHECK(share >= last - 1e-12);
    last = share;
  }
  CHECK(llmscale::tpot_miss_share(0.05, 1.0, ch, 28, 1, 0.1) > llmscale::tpot_miss_share(0.03, 1.0, ch, 28, 1, 0.1));
  // more spread, more short outputs (the mean held): more misses
  CHECK(llmscale::tpot_miss_share(0.03, 1.0, ch, 200, 1.5, 0.1) > llmscale::tpot_miss_share(0.03, 1.0, ch, 200, 0.8, 0.1));
  // the chunks: exponential prompts of mean I in chunks of C take 1 / (1 - exp(-C / I)) iterations
  const LatencyProfile p = simple();
  const auto chunks = llmscale::prefill_chunks(p, llmscale::TokenLengths{2048, 28}, 2048);
  CHECK(chunks.per_request == doctest::Approx(1 / (1 - std::exp(-1.0))));
  CHECK(chunks.chunk_s == doctest::Approx(0.1e-3 * 2048 / chunks.per_request));
  CHECK(llmscale::prefill_chunks(p, llmscale::TokenLengths{2048, 28}, 0).per_request == 1.0);  // no chunking
}

TEST_CASE("the largest arrival rate per replica keeps the per-token misses within the quantile's share") {
  // long prompts and short outputs: a 2,048-token chunk (0.2 s) in one of few decode iterations
  // misses 0.1 s; the mean time per token is far inside it
  const LatencyProfile p = simple();
  const llmscale::TokenLengths tokens{2048, 28, 1.24};  // the code-bursts scenario's outputs (median 13)
  llmscale::LatencyTargets targets;
  targets.ttft_s = 2.0;
  targets.tpot_s = 0.1;
  const auto cap = llmscale::replica_capacity(p, tokens, targets, 1e9, 64);
  llmscale::BatchQueueModel model(p, tokens, cap.max_batch, 10 * cap.max_batch);
  const double best = model.max_arrival_rate(targets);
  REQUIRE(best > 0);
  const auto at = model.at(best, 0.99, 0.1);
  CHECK(at.tpot_miss_share <= 0.01 + 1e-9);
  CHECK(at.ttft_quantile_s < 2.0);  // the TTFT is not what binds
  CHECK(at.mean_tpot_s < 0.06);     // nor the mean
  CHECK(model.at(best * 1.01, 0.99, 0.1).tpot_miss_share > 0.01);
  // without chunking a whole prompt is one iteration: more misses, a lower rate
  llmscale::BatchQueueModel whole(p, tokens, cap.max_batch, 10 * cap.max_batch, 0);
  CHECK(whole.max_arrival_rate(targets) < best);
}
