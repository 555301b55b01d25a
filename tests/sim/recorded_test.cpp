// A record's own fleet and the check of the simulator against the cluster: the reader keeps
// what the fleet did per window; the recorded fleet's step function, its replay (a constant
// fleet serving throughout at its hand-computed cost, rises ready at their window's start,
// drops at it, a short dip held), the per-window latency meter, and the arrivals-weighted
// median rule against hand computations.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/sim/record_check.hpp"
#include "llmscale/sim/recorded_fleet.hpp"
#include "llmscale/sim/workload.hpp"

using llmscale::RateWindow;
using llmscale::SimConfig;
using llmscale::SimResult;
using llmscale::TraceRequest;

namespace {

const double unknown = std::numeric_limits<double>::quiet_NaN();  // a blank field

const std::string record_head =
    "# llmscale-record 1\n"
    "window_start_s,window_s,arrivals,prompt_tokens_mean,prompt_tokens_sd,output_tokens_mean,output_tokens_sd,"
    "interarrival_cv,ready,starting,queued,running,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,desired\n";

// llama2-70b-like coefficients (ms): prefill 45 + 0.107 P, decode 28.8 + 1e-4 X + 0.26 n
llmscale::LatencyProfile llama_like() {
  return llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{45.0, 0.107, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{28.8, 1e-4, 0.26});
}

// A window from `start` for `length` s with `arrivals` requests and `ready` replicas (NaN: blank).
RateWindow window(double start, double length, double arrivals, double ready) {
  RateWindow w;
  w.start_s = start;
  w.length_s = length;
  w.rate = arrivals / length;
  w.fleet.ready = ready;
  return w;
}

// A record's text: 60 s windows from Unix 1765065600, `arrivals` each, the i-th with ready[i].
std::string record_text(const std::vector<int>& ready, int arrivals) {
  std::string rows = record_head;
  for (std::size_t i = 0; i < ready.size(); ++i) {
    rows += std::to_string(1765065600 + 60 * static_cast<long long>(i)) + ",60," + std::to_string(arrivals) +
            ",1020,800,211,150,," + std::to_string(ready[i]) + ",0,0,8,0.2,1.1,0.03,0.08," + std::to_string(ready[i]) + "\n";
  }
  return rows;
}

// The record's windows and requests (seeded), read as llmscale-replay reads them.
struct Replay {
  std::vector<RateWindow> windows;
  std::vector<TraceRequest> requests;
};
Replay read_record(const std::string& text) {
  Replay out;
  std::istringstream first(text);
  llmscale::TraceReader reader(first, llmscale::TraceFormat::llmscale);
  RateWindow w;
  while (reader.next_window(w)) out.windows.push_back(w);
  std::istringstream again(text);
  llmscale::TraceReader requests(again, llmscale::TraceFormat::llmscale);
  llmscale::RateSeriesTrace trace(requests, 1.0, 7);
  out.requests = llmscale::InMemoryTrace::collect(trace);
  return out;
}

}  // namespace

TEST_CASE("llmscale record: what the fleet did is kept per window - blank fields unknown - a ServeGen window knows none") {
  std::istringstream in(record_head +
                        "1765065600,60,1234,1020.5,800.2,211.3,150.0,,4,1,2,30,0.210,1.200,0.030,0.080,5\n"
                        "1765065660,60,100,,,,,,,,,,,,,,\n"
                        "1765065720,60,100,,,,,,3.5,,7,,,2.5,,,\n");
  llmscale::TraceReader reader(in, llmscale::TraceFormat::llmscale);
  RateWindow w;
  REQUIRE(reader.next_window(w));
  CHECK(w.fleet.ready == 4);
  CHECK(w.fleet.starting == 1);
  CHECK(w.fleet.queued == 2);
  CHECK(w.fleet.running == 30);
  CHECK(w.fleet.ttft_p50_s == doctest::Approx(0.21));
  CHECK(w.fleet.ttft_p99_s == doctest::Approx(1.2));
  CHECK(w.fleet.tpot_p50_s == doctest::Approx(0.03));
  CHECK(w.fleet.tpot_p99_s == doctest::Approx(0.08));
  CHECK(w.fleet.desired == 5);
  REQUIRE(reader.next_window(w));
  for (double v : {w.fleet.ready, w.fleet.starting, w.fleet.queued, w.fleet.running, w.fleet.ttft_p50_s, w.fleet.ttft_p99_s,
                   w.fleet.tpot_p50_s, w.fleet.tpot_p99_s, w.fleet.desired}) {
    CHECK(std::isnan(v));
  }
  REQUIRE(reader.next_window(w));
  CHECK(w.fleet.ready == 3.5);
  CHECK(w.fleet.queued == 7);
  CHECK(w.fleet.ttft_p99_s == 2.5);
  CHECK(std::isnan(w.fleet.ttft_p50_s));
  CHECK_FALSE(reader.next_window(w));

  std::istringstream servegen(
      "window_start_s,day,hour_of_day,total_rate_rps,requests_in_window,active_clients,rate_weighted_mean_iat_cv,max_client_share\n"
      "0,0,0.000,2.5,1500,43,1.2,0.4\n");
  llmscale::TraceReader sg(servegen, llmscale::TraceFormat::servegen);
  REQUIRE(sg.next_window(w));
  CHECK(w.rate == 2.5);
  CHECK(std::isnan(w.fleet.ready));
  CHECK(std::isnan(w.fleet.ttft_p99_s));
  CHECK(std::isnan(w.fleet.desired));
  CHECK(llmscale::RecordedFleet(std::vector<RateWindow>{w}).empty());  // nothing to replay
}

TEST_CASE("recorded fleet: each window's count until the next starts - a blank carries the one before - a gap holds it") {
  // [0, 60) 2 (1 starting), [60, 120) blank, [120, 180) 3.6 -> 4, a gap to 240, [240, 300) 1
  std::vector<RateWindow> windows{window(0, 60, 100, 2), window(60, 60, 100, unknown), window(120, 60, 100, 3.6),
                                  window(240, 60, 100, 1)};
  windows[0].fleet.starting = 1;
  const llmscale::RecordedFleet fleet(windows);
  REQUIRE_FALSE(fleet.empty());
  CHECK(fleet.windows() == 4);
  CHECK(fleet.at(0) == 2);
  CHECK(fleet.at(90) == 2);   // blank: the count before
  CHECK(fleet.at(150) == 4);  // rounded
  CHECK(fleet.at(200) == 4);  // the gap holds it
  CHECK(fleet.at(250) == 1);
  CHECK(fleet.at(1e6) == 1);  // the last holds to the end
  CHECK(fleet.most(50, 130) == 4);
  CHECK(fleet.most(250, 400) == 1);
  CHECK(fleet.peak() == 4);
  CHECK(fleet.window_at(59.9) == 0);
  CHECK(fleet.window_at(60) == 1);
  CHECK(fleet.window_at(200) == fleet.windows());  // in the gap: no window measured it
  CHECK(fleet.window_at(299) == 3);
  CHECK(fleet.window_at(300) == fleet.windows());
  // (2 + 1) x 60 + 2 x 60 + 4 x 120 (the gap included) + 1 x 60 replica-seconds
  CHECK(fleet.replica_hours() == doctest::Approx((180.0 + 120 + 480 + 60) / 3600));
  // a blank before the first count: the first known
  const llmscale::RecordedFleet late(std::vector<RateWindow>{window(0, 60, 10, unknown), window(60, 60, 10, 3)});
  CHECK(late.at(0) == 3);
}

TEST_CASE("recorded fleet: N replicas in every window replay N serving throughout at N x the run's length in GPU-hours") {
  const Replay load = read_record(record_text(std::vector<int>(20, 3), 600));  // 20 minutes at 10 req/s, 3 replicas
  const llmscale::RecordedFleet fleet(load.windows);
  SimConfig sim;
  sim.keep_timeseries = true;
  const auto profile = llama_like();
  const SimResult r = llmscale::run_recorded(fleet, profile, sim, [&] { return llmscale::InMemoryTrace(load.requests); });
  CHECK(r.policy == "recorded");
  CHECK(r.requests == static_cast<long long>(load.requests.size()));
  CHECK(r.completed == r.requests);
  CHECK(r.initial_replicas == 3);
  CHECK(r.peak_replicas == 3);
  CHECK(r.scale_events == 0);
  REQUIRE_FALSE(r.series.empty());
  bool three = true;
  for (const auto& k : r.series) three = three && k.ready == 3 && k.starting == 0;
  CHECK(three);
  // billed from 0 to the last request's end: 3 x 4 GPUs x (1,200 s and the last requests' few seconds)
  CHECK(r.gpu_hours == doctest::Approx(3 * 4 * r.duration_s / 3600).epsilon(1e-9));
  CHECK(r.duration_s >= 1195);
  CHECK(r.duration_s < 1260);
  // every window measured: about 600 first tokens each
  REQUIRE(r.window_latencies.size() == 20);
  for (const auto& w : r.window_latencies) {
    CHECK(w.first_tokens > 450);
    CHECK(w.ttft_p50 > 0);
    CHECK(w.ttft_p99 >= w.ttft_p50);
    CHECK(w.tpot_p99 >= w.tpot_p50);
  }
  // the record's cost: 3 replicas (none starting) x 4 GPUs x 20 minutes
  const llmscale::RecordCheck c = llmscale::check_record(load.windows, fleet, r, sim.gpus_per_replica);
  CHECK(c.gpu_hours_recorded == doctest::Approx(4.0));
  CHECK(c.gpu_hours_simulated == r.gpu_hours);
  CHECK(c.ttft_p99.windows == 20);
}

TEST_CASE("recorded fleet: a rise serves from its window's start - a drop at it - a dip shorter than the cold start is held") {
  // 2 replicas for 10 minutes, 5 for 5, 1 for 10, 4 for 5, 2 for one (the dip), 4 for 5
  std::vector<int> ready(10, 2);
  ready.insert(ready.end(), 5, 5);
  ready.insert(ready.end(), 10, 1);
  ready.insert(ready.end(), 5, 4);
  ready.push_back(2);
  ready.insert(ready.end(), 5, 4);
  const Replay load = read_record(record_text(ready, 60));
  const llmscale::RecordedFleet fleet(load.windows);
  SimConfig sim;  // a 300 s cold start, a 1 s tick
  sim.keep_timeseries = true;
  const auto profile = llama_like();
  const SimResult r = llmscale::run_recorded(fleet, profile, sim, [&] { return llmscale::InMemoryTrace(load.requests); });
  CHECK(r.initial_replicas == 2);
  int wrong_before = 0, wrong_rise = 0, wrong_drop = 0, wrong_dip = 0, ticks = 0;
  bool asked = false;
  for (const auto& k : r.series) {
    ++ticks;
    if (k.t < 599) wrong_before += k.ready != 2;
    if (k.t == 299) asked = k.starting == 3 && k.ready == 2;  // the rise asked for a cold start and a tick ahead...
    if (k.t >= 599 && k.t < 900) wrong_rise += k.ready != 5;  // ...ready at 599, a tick early
    if (k.t >= 900 && k.t < 1499) wrong_drop += k.ready != 1;
    if (k.t >= 1800 && k.t < 1860) wrong_dip += k.ready != 4;  // no fleet could refill the minute at 2 in time
  }
  CHECK(ticks > 2100);
  CHECK(asked);
  CHECK(wrong_before == 0);
  CHECK(wrong_rise == 0);
  CHECK(wrong_drop == 0);
  CHECK(wrong_dip == 0);
}

TEST_CASE("window latency meter: a TTFT counts in its first token's window - a TPOT in its end's - a gap none - one token no TPOT") {
  const llmscale::RecordedFleet fleet(std::vector<RateWindow>{window(0, 60, 100, 1), window(60, 60, 100, 1), window(200, 60, 100, 1)});
  llmscale::WindowLatencyMeter meter(fleet);
  for (int v = 100; v >= 1; --v) meter.first_token(10 + 0.1 * v, v);  // window 0: 1 .. 100 s
  meter.first_token(70, 0.5);                                          // window 1
  meter.first_token(150, 9);                                           // the gap: not counted
  meter.finished(30, 0.05, 100);
  meter.finished(31, 0.07, 2);
  meter.finished(32, 0, 1);      // one output token: no TPOT
  meter.finished(210, 0.09, 50);  // window 2
  const std::vector<llmscale::WindowLatency> q = meter.quantiles();
  REQUIRE(q.size() == 3);
  CHECK(q[0].first_tokens == 100);
  CHECK(q[0].ttft_p50 == 50);  // nearest rank: the 50th of 100
  CHECK(q[0].ttft_p99 == 99);
  CHECK(q[0].finished == 2);
  CHECK(q[0].tpot_p50 == doctest::Approx(0.05));
  CHECK(q[0].tpot_p99 == doctest::Approx(0.07));
  CHECK(q[1].ttft_p50 == 0.5);
  CHECK(q[1].ttft_p99 == 0.5);
  CHECK(std::isnan(q[1].tpot_p50));
  CHECK(q[1].finished == 0);
  CHECK(std::isnan(q[2].ttft_p99));
  CHECK(q[2].tpot_p99 == doctest::Approx(0.09));
}

TEST_CASE("record check: the arrivals-weighted median of the windows' quantiles on both sides - by hand") {
  // the rule: the smallest value whose weight with every smaller one's reaches half the total
  CHECK(llmscale::weighted_median({{0.3, 100}, {0.1, 300}, {0.2, 50}, {unknown, 500}, {5.0, 0}}) == 0.1);  // 300 of 450
  CHECK(llmscale::weighted_median({{1, 1}, {2, 1}, {3, 1}, {4, 1}}) == 2);                              // the lower median
  CHECK(llmscale::weighted_median({{1, 10}, {2, 100}, {3, 10}}) == 2);
  CHECK(std::isnan(llmscale::weighted_median({})));
  CHECK(std::isnan(llmscale::weighted_median({{1, 0}})));

  // four windows: arrivals 100, 300, 50 and 600; the last has no observed TTFT p99, and the
  // run measured nothing in a fifth
  std::vector<RateWindow> windows{window(0, 60, 100, 2), window(60, 60, 300, unknown), window(120, 60, 50, 4),
                                  window(240, 60, 600, 4), window(300, 60, 200, 4)};
  windows[0].fleet.starting = 1;
  const double observed_p99[] = {1.0, 2.0, 9.0, unknown, 0.5};
  const double simulated_p99[] = {0.8, 2.5, 1.0, 3.0, unknown};
  SimResult run;
  run.gpu_hours = 1.7;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    windows[w].fleet.ttft_p99_s = observed_p99[w];
    windows[w].fleet.ttft_p50_s = 0.2;
    llmscale::WindowLatency l;
    l.ttft_p99 = simulated_p99[w];
    l.ttft_p50 = std::isnan(simulated_p99[w]) ? unknown : 0.25;  // nothing measured: neither
    run.window_latencies.push_back(l);
  }
  const llmscale::RecordedFleet fleet(windows);
  const llmscale::RecordCheck c = llmscale::check_record(windows, fleet, run, 4);
  // windows 0 to 2, weights 100, 300, 50 (225 is half): observed 1.0 (100), 2.0 (400) -> 2.0;
  // simulated 0.8 (100), 1.0 (150), 2.5 (450) -> 2.5
  CHECK(c.ttft_p99.windows == 3);
  CHECK(c.ttft_p99.observed == 2.0);
  CHECK(c.ttft_p99.simulated == 2.5);
  CHECK(c.ttft_p99.difference() == doctest::Approx(0.25));
  CHECK(c.ttft_p50.windows == 4);  // the fifth: measured nothing
  CHECK(c.ttft_p50.observed == 0.2);
  CHECK(c.ttft_p50.simulated == 0.25);
  CHECK(c.tpot_p50.windows == 0);  // the record has no TPOT
  CHECK(std::isnan(c.tpot_p50.observed));
  CHECK(std::isnan(c.tpot_p50.difference()));
  // (2 + 1) x 60 + 2 x 60 + 4 x 120 (to the next start) + 4 x 60 + 4 x 60 replica-seconds, x 4 GPUs
  CHECK(c.gpu_hours_recorded == doctest::Approx(4 * (180.0 + 120 + 480 + 240 + 240) / 3600));
  CHECK(c.gpu_hours_difference() == doctest::Approx(1.7 / (4 * 1260.0 / 3600) - 1));
  // a run without per-window latencies compares nothing
  const llmscale::RecordCheck none = llmscale::check_record(windows, fleet, SimResult{}, 4);
  CHECK(std::isnan(none.ttft_p99.observed));
  CHECK(std::isnan(none.ttft_p99.simulated));
}
