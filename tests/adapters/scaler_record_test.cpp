// llmscale-scaler's record, shadow summary and fleets' pages, without the network: the shadow summary against
// a scripted sequence computed by hand, the HPA tolerance's arithmetic, the record file's
// version line, appends, a torn last row, rotation, and windows over engine restarts.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "llmscale/adapters/prometheus.hpp"
#include "llmscale/adapters/scraped_signals.hpp"
#include "llmscale/sim/trace.hpp"
#include "llmscale/sim/workload.hpp"
#include "fleets.hpp"
#include "record.hpp"
#include "scaler.hpp"
#include "shadow.hpp"

using llmscale::at_seconds;
using llmscale_scaler::RecordFile;
using llmscale_scaler::ShadowSummary;

namespace {

std::filesystem::path fresh_dir(const char* name) {
  const auto d = std::filesystem::temp_directory_path() / (std::string(name) + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

std::vector<std::string> lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("shadow summary: a scripted sequence, counted by hand") {
  ShadowSummary s;
  // (desired, current, dt, observed, misses)
  s.tick(5, 5, 0, 10, 0, 0.1);   // agreed
  s.tick(8, 5, 2, 10, 3, 0.1);   // wanted 3 more for 2 s, 3 misses while smaller
  s.tick(7, 5, 1, 10, 1, 0.1);   // 2 more for 1 s, 1 miss while smaller
  s.tick(4, 5, 4, 10, 2, 0.1);   // 1 fewer for 4 s, 2 misses with the fleet larger
  s.tick(11, 10, 1, 0, 0, 0.1);  // 11 at 10: within the HPA's 10 %, swallowed
  CHECK(s.ticks == 5);
  CHECK(s.disagreed == 4);
  CHECK(s.wanted_more == 3);
  CHECK(s.wanted_fewer == 1);
  CHECK(s.replica_seconds_short == doctest::Approx(3 * 2 + 2 * 1 + 1 * 1));
  CHECK(s.replica_seconds_over == doctest::Approx(4));
  CHECK(s.abs_difference == 3 + 2 + 1 + 1);
  CHECK(s.largest_shortfall == 3);
  CHECK(s.requests == doctest::Approx(40));
  CHECK(s.ttft_misses == doctest::Approx(6));
  CHECK(s.ttft_misses_while_smaller == doctest::Approx(4));
  CHECK(s.tolerance_swallowed == 1);
  CHECK(s.line().find("disagreed in 4 (80.0 %") != std::string::npos);
}

TEST_CASE("shadow summary: the HPA tolerance, as the HPA computes it") {
  CHECK(ShadowSummary::swallowed(11, 10, 0.1));       // ratio 1.1: within
  CHECK_FALSE(ShadowSummary::swallowed(12, 10, 0.1)); // 1.2: acted on
  CHECK(ShadowSummary::swallowed(9, 10, 0.1));        // 0.9: within
  CHECK_FALSE(ShadowSummary::swallowed(2, 1, 0.1));   // small fleets always move
  CHECK_FALSE(ShadowSummary::swallowed(11, 10, 0));   // a tolerance of 0 (Kubernetes >= 1.33) swallows nothing
  CHECK_FALSE(ShadowSummary::swallowed(10, 10, 0.1)); // no change is not a swallowed one
  // between 10 and 20 replicas, exactly the +-1 changes are swallowed at 0.1
  int swallowed = 0;
  for (int current = 10; current <= 20; ++current) swallowed += ShadowSummary::swallowed(current + 1, current, 0.1);
  CHECK(swallowed == 11);
}

TEST_CASE("record file: a version line and the columns, appended across restarts, a torn row survived") {
  const auto dir = fresh_dir("llmscale-record");
  const auto path = dir / "rec.csv";
  std::string error;
  {
    RecordFile f(path.string(), 1 << 20);
    llmscale_scaler::RecordWindow w;
    w.start_s = 1000, w.window_s = 60, w.arrivals = 12;
    w.prompt_sd = std::nan("");
    REQUIRE(f.append(llmscale_scaler::format_record_row(w), error));
  }
  auto l = lines(path);
  REQUIRE(l.size() == 3);
  CHECK(l[0] == "# llmscale-record 1");
  CHECK(l[1] == llmscale_scaler::record_columns);
  CHECK(l[2].rfind("1000.000,60.000,12,0,,0,0,0,0,0,0,0,0,0,0,0,0", 0) == 0);
  // a crash cut the next row short: reopening ends it, and the next row is whole on its own line
  { std::ofstream(path, std::ios::app) << "1060.000,60.0"; }
  {
    RecordFile f(path.string(), 1 << 20);
    llmscale_scaler::RecordWindow w;
    w.start_s = 1120, w.window_s = 60, w.arrivals = 7;
    REQUIRE(f.append(llmscale_scaler::format_record_row(w), error));
  }
  l = lines(path);
  REQUIRE(l.size() == 5);
  CHECK(l[3] == "1060.000,60.0");
  CHECK(l[4].rfind("1120.000,60.000,7,", 0) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("record file: a newer version or another kind of file is refused, naming it") {
  const auto dir = fresh_dir("llmscale-record-v");
  const auto newer = dir / "newer.csv";
  { std::ofstream(newer) << "# llmscale-record 2\nwindow_start_s\n"; }
  try {
    RecordFile f(newer.string(), 1 << 20);
    FAIL("a version 2 record was opened");
  } catch (const llmscale_scaler::UsageError& e) {
    CHECK(std::string(e.what()).find("version 2") != std::string::npos);
    CHECK(std::string(e.what()).find("writes version 1") != std::string::npos);
  }
  const auto other = dir / "other.csv";
  { std::ofstream(other) << "timestamp,prompt,output\n"; }
  CHECK_THROWS_WITH_AS(RecordFile(other.string(), 1 << 20), doctest::Contains("not an llmscale record"), llmscale_scaler::UsageError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("record file: past its size it becomes FILE.1 and a new file begins with the header") {
  const auto dir = fresh_dir("llmscale-record-rot");
  const auto path = dir / "rec.csv";
  RecordFile f(path.string(), 4096);
  std::string error;
  llmscale_scaler::RecordWindow w;
  w.window_s = 60;
  for (int i = 0; i < 100; ++i) {
    w.start_s = 60.0 * i;
    REQUIRE(f.append(llmscale_scaler::format_record_row(w), error));
  }
  CHECK(f.rotations() >= 1);
  CHECK(f.rows() == 100);
  CHECK(std::filesystem::file_size(path) <= 4096);
  const auto old = lines(dir / "rec.csv.1");
  REQUIRE(old.size() > 2);
  CHECK(old[0] == "# llmscale-record 1");
  CHECK(lines(path)[0] == "# llmscale-record 1");
  std::filesystem::remove_all(dir);
}

TEST_CASE("record windows: arrivals from finished requests and the queue's growth, never negative or doubled over a restart") {
  llmscale::SignalsConfig c;
  c.replica_slots = 2;
  c.window_s = 60;
  c.stale_after_s = 30;
  llmscale::ScrapedSignals sig(c, at_seconds(0));
  sig.watch(0);
  llmscale_scaler::WindowRecorder rec(10, 1);
  const auto scrape = [](double running, double waiting, double finished) {
    llmscale::EngineScrape e;
    e.running = running;
    e.waiting = waiting;
    e.e2e = {finished * 2, finished, true};
    e.prompt_tokens = {finished * 500, finished, true};
    e.output_tokens = {finished * 100, finished, true};
    return e;
  };
  std::vector<llmscale_scaler::RecordWindow> rows;
  // t = 0..30: 5 finished per second; the queue grows by 1 per second from t = 10 to 20;
  // the engine restarts at t = 25 (its count starts again from 0)
  double finished = 0;
  for (int t = 1; t <= 31; ++t) {
    finished += 5;
    const double waiting = t <= 10 ? 0 : t <= 20 ? t - 10 : 10;
    const double shown = t >= 25 ? finished - 120 : finished;  // 120 counted before the restart... then from 0
    const double count = t >= 25 ? 5.0 * (t - 24) : shown;
    REQUIRE(sig.observe(0, scrape(4, waiting, count), at_seconds(t)));
    const llmscale::Signals& s = sig.tick(at_seconds(t));
    if (auto w = rec.tick(1000.0 + t, sig, s, llmscale::FleetState(1), 1)) rows.push_back(*w);
  }
  REQUIRE(rows.size() == 3);
  // the first tick opens the first window (t = 1); windows [1, 11], [11, 21], [21, 31]
  CHECK(rows[0].window_s == doctest::Approx(10));
  CHECK(rows[0].arrivals == doctest::Approx(50 + 1));   // 50 finished; the queue grew by 1 (t = 11)
  CHECK(rows[1].arrivals == doctest::Approx(50 + 9));   // and by 9 more up to t = 21
  CHECK(rows[2].arrivals == doctest::Approx(50));       // the restart adds nothing, takes nothing
  CHECK(rows[0].prompt_mean == doctest::Approx(500));
  CHECK(rows[2].output_mean == doctest::Approx(100));
  CHECK(std::isnan(rows[0].ttft_p50_s));  // no TTFT buckets: unknown, a blank field
}

TEST_CASE("record round trip: a fleet's counters recorded for 20 windows and replayed give each window's arrivals within Poisson noise and the same token means") {
  // the source: 20 windows of 60 s at 2-6 req/s, Poisson arrivals counted each second, lognormal
  // lengths (prompt mean 800, output mean 150); requests finish within their second (the queue
  // does not grow), so the engine's counters carry every arrival; the engine restarts at 10 min
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> prompt_len(std::log(800.0) - 0.5 * 0.6 * 0.6, 0.6);
  std::lognormal_distribution<double> output_len(std::log(150.0) - 0.5 * 0.8 * 0.8, 0.8);
  llmscale::SignalsConfig c;
  c.replica_slots = 1;
  c.window_s = 60;
  c.stale_after_s = 30;
  llmscale::ScrapedSignals sig(c, at_seconds(0));
  sig.watch(0);
  llmscale_scaler::WindowRecorder recorder(60, 1);
  const auto dir = fresh_dir("llmscale-roundtrip");
  const auto path = dir / "rec.csv";
  std::vector<double> source(20, 0.0);
  double source_prompt = 0, source_output = 0, source_n = 0;
  {
    RecordFile file(path.string(), 1 << 20);
    std::string error;
    double count = 0, prompt = 0, output = 0;  // the engine's counters (reset at the restart)
    for (int t = 0; t <= 1200; ++t) {
      if (t == 600) count = prompt = output = 0;
      if (t > 0) {
        const int w = (t - 1) / 60;
        const int n = std::poisson_distribution<int>(2.0 + (w % 5))(rng);
        for (int i = 0; i < n; ++i) {
          const double p = prompt_len(rng), o = output_len(rng);
          prompt += p, output += o, count += 1;
          source_prompt += p, source_output += o, source_n += 1;
        }
        source[static_cast<std::size_t>(w)] += n;
      }
      llmscale::EngineScrape e;
      e.running = 0;
      e.waiting = 0;
      e.e2e = {count, count, true};
      e.prompt_tokens = {prompt, count, true};
      e.output_tokens = {output, count, true};
      REQUIRE(sig.observe(0, e, at_seconds(t + 1)));
      const llmscale::Signals& s = sig.tick(at_seconds(t + 1));
      if (auto w = recorder.tick(1.7e9 + t, sig, s, llmscale::FleetState(1), 1)) {
        REQUIRE(file.append(llmscale_scaler::format_record_row(*w), error));
      }
    }
  }
  // the first tick is the baseline: window w of the record is [60 w, 60 (w + 1)) of the source,
  // whose arrivals are counted at the second after each (the first second's at t = 1)
  std::ifstream in(path);
  llmscale::TraceReader reader(in, llmscale::TraceFormat::llmscale);
  llmscale::RateSeriesTrace replay(reader, 1.0, 5);
  std::vector<double> replayed(20, 0.0);
  double prompt = 0, output = 0, n = 0;
  llmscale::TraceRequest r;
  while (replay.next(r)) {
    const auto w = static_cast<std::size_t>(r.arrival_s / 60.0);
    REQUIRE(w < replayed.size());
    replayed[w] += 1;
    prompt += r.prompt_tokens, output += r.output_tokens, n += 1;
  }
  CHECK(reader.rows() == 20);
  double total_source = 0, total_replayed = 0;
  for (std::size_t w = 0; w < 20; ++w) {
    // the replay draws a fresh Poisson stream at the recorded count: the difference has the
    // variance of the count itself
    CHECK_MESSAGE(std::fabs(replayed[w] - source[w]) <= 5 * std::sqrt(source[w]) + 1, "window ", w, ": ", replayed[w], " vs ", source[w]);
    total_source += source[w], total_replayed += replayed[w];
  }
  CHECK(std::fabs(total_replayed - total_source) <= 3 * std::sqrt(total_source));
  // the same token means (lengths are drawn around the recorded mean and spread: the means agree
  // within the sampling error of a few thousand lognormal draws)
  CHECK(prompt / n == doctest::Approx(source_prompt / source_n).epsilon(0.05));
  CHECK(output / n == doctest::Approx(source_output / source_n).epsilon(0.07));
  std::filesystem::remove_all(dir);
}

TEST_CASE("fleets' pages: a fleet label on every sample and families merged whole") {
  const std::string a =
      "# HELP x_total A counter.\n# TYPE x_total counter\nx_total 3\n"
      "# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 0.7\nlat_count 2\n"
      "lat_other{a=\"}{ \"} 5\n"
      "g{} 1";  // no final newline, an empty label set
  const std::string labelled = llmscale_scaler::label_fleet(a, "llm/a\"b");
  CHECK(labelled.find("x_total{fleet=\"llm/a\\\"b\"} 3\n") != std::string::npos);
  CHECK(labelled.find("lat_bucket{fleet=\"llm/a\\\"b\",le=\"0.5\"} 1\n") != std::string::npos);
  CHECK(labelled.find("lat_other{fleet=\"llm/a\\\"b\",a=\"}{ \"} 5\n") != std::string::npos);
  CHECK(labelled.find("g{fleet=\"llm/a\\\"b\"} 1") != std::string::npos);
  const std::string b = "# HELP lat Latency.\n# TYPE lat histogram\nlat_count{fleet=\"b\"} 9\n# HELP x_total A counter.\n# TYPE x_total counter\nx_total{fleet=\"b\"} 4\n";
  const std::string merged = llmscale_scaler::merge_pages({a, b});
  // one HELP and TYPE per family, its samples together, nothing lost
  CHECK(merged.find("# TYPE lat histogram") == merged.rfind("# TYPE lat histogram"));
  CHECK(merged.find("# TYPE x_total counter\nx_total 3\nx_total{fleet=\"b\"} 4\n") != std::string::npos);
  CHECK(merged.find("lat_count 2\nlat_count{fleet=\"b\"} 9\n") != std::string::npos);
  // lat_other is not one of lat's series: a family of its own, after lat's samples
  CHECK(merged.find("lat_other{a=\"}{ \"} 5\n") > merged.find("lat_count{fleet=\"b\"} 9\n"));
  CHECK(merged.find("g{} 1\n") != std::string::npos);
  std::size_t samples = 0;
  CHECK(llmscale::parse_prometheus(merged, [&](const llmscale::PrometheusSample&) { ++samples; }).ok());
  CHECK(samples == 9);
}

TEST_CASE("record killed mid-write: the replay reads every complete window and skips the torn one") {
  const auto dir = fresh_dir("llmscale-record-torn");
  const auto path = dir / "rec.csv";
  {
    RecordFile f(path.string(), 1 << 20);
    std::string error;
    llmscale_scaler::RecordWindow w;
    w.window_s = 60, w.arrivals = 120, w.prompt_mean = 1000, w.output_mean = 200;
    w.prompt_sd = w.output_sd = w.interarrival_cv = std::nan("");
    for (int i = 0; i < 3; ++i) {
      w.start_s = 1.7e9 + 60.0 * i;
      REQUIRE(f.append(llmscale_scaler::format_record_row(w), error));
    }
  }
  // the process died in the middle of the fourth row's write
  { std::ofstream(path, std::ios::app) << "1700000180.000,60.000,1"; }
  std::ifstream in(path);
  llmscale::TraceReader reader(in, llmscale::TraceFormat::llmscale);
  llmscale::RateSeriesTrace replay(reader, 1.0, 3);
  llmscale::TraceRequest r;
  double n = 0, last = 0;
  while (replay.next(r)) n += 1, last = r.arrival_s;
  CHECK(reader.rows() == 3);
  CHECK(reader.skipped() == 1);  // the torn row, counted
  CHECK(last < 180.0);
  CHECK(std::fabs(n - 360.0) <= 5 * std::sqrt(360.0));
  std::filesystem::remove_all(dir);
}
