// llmscale-replay's pictures and report (tools/replay_*.hpp): label placement over thousands of
// random layouts, the nines scale against hand values, the x-axis end, the off-scale arrow, the
// worst minutes and the decisions around them on a hand-made run.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "replay_plot.hpp"
#include "replay_report.hpp"

using llmscale::SimResult;
using llmscale::SimTick;

namespace {

// A run of `seconds` ticks holding `replicas` ready, one arrival a tick until `last_arrival`.
SimResult flat_run(double seconds, int replicas, double last_arrival) {
  SimResult r;
  for (double t = 1; t <= seconds; t += 1) {
    SimTick k;
    k.t = t;
    k.arrivals = t <= last_arrival + 1 - 1e-9 && t > 0 ? 1 : 0;
    k.ready = replicas;
    k.current = replicas;
    k.desired = replicas;
    k.proposed = replicas;
    k.reason = "hold";
    r.series.push_back(k);
  }
  r.last_arrival_s = last_arrival;
  r.duration_s = seconds;
  r.requests = static_cast<long long>(last_arrival);
  r.slo_attainment = 0.995;
  r.gpu_hours = replicas * seconds / 3600.0;
  return r;
}

double attribute(const std::string& svg, const std::string& element_with, const std::string& name) {
  const auto at = svg.find(element_with);
  REQUIRE(at != std::string::npos);
  const auto begin = svg.rfind('<', at);
  const auto end = svg.find('>', at);
  const std::string tag = svg.substr(begin, end - begin);
  const auto key = tag.find(" " + name + "=\"");
  REQUIRE(key != std::string::npos);
  const auto value = key + name.size() + 3;
  return std::stod(tag.substr(value, tag.find('"', value) - value));
}

}  // namespace

TEST_CASE("point labels: inside the area and apart over 2000 random layouts") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  const replay::Box area{50, 50, 1130, 450};
  int placed = 0;
  for (int layout = 0; layout < 2000; ++layout) {
    const int n = 2 + static_cast<int>(u(rng) * 19);
    std::vector<double> x, y;
    std::vector<std::string> names;
    const bool clustered = layout % 2 == 0;  // half the layouts crowd their points in a corner
    for (int i = 0; i < n; ++i) {
      x.push_back(clustered ? 900 + 200 * u(rng) : area.x0 + (area.x1 - area.x0) * u(rng));
      y.push_back(clustered ? 60 + 80 * u(rng) : area.y0 + (area.y1 - area.y0) * u(rng));
      names.push_back(std::string(3 + static_cast<std::size_t>(u(rng) * 22), 'a' + static_cast<char>(i % 26)));
    }
    const auto labels = replay::place_labels(x, y, names, 11, 6, area);
    REQUIRE(labels.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      const auto& b = labels[static_cast<std::size_t>(i)].box;
      CHECK_MESSAGE(b.inside(area), "layout " << layout << " label " << i);
      // the box is the text's: its width from the length, its anchor where the text is drawn
      CHECK(b.x1 - b.x0 == doctest::Approx(replay::text_width(names[static_cast<std::size_t>(i)], 11)));
      for (int j = i + 1; j < n; ++j) {
        CHECK_MESSAGE(!b.overlaps(labels[static_cast<std::size_t>(j)].box), "layout " << layout << " labels " << i << ", " << j);
      }
      ++placed;
    }
  }
  CHECK(placed > 20000);
}

TEST_CASE("a label beside a lone point sits to its right") {
  const auto l = replay::place_labels({500}, {200}, {"kpa"}, 11, 6, replay::Box{0, 0, 1000, 400});
  CHECK(l[0].anchor == "start");
  CHECK(l[0].x > 500);
  CHECK(l[0].x < 515);
  CHECK(!l[0].leader);
}

TEST_CASE("the nines scale puts 90 % and 99 % and 99.9 % one apart") {
  CHECK(replay::nines(0.9) == doctest::Approx(1));
  CHECK(replay::nines(0.99) == doctest::Approx(2));
  CHECK(replay::nines(0.999) == doctest::Approx(3));
  CHECK(replay::nines(1.0) == doctest::Approx(4));  // 99.99 % and above at the top
  CHECK(replay::nines(0.0) == doctest::Approx(0));
  CHECK(replay::nines(0.5) == doctest::Approx(0.30103));
}

TEST_CASE("panels: the x-axis ends at the last arrival and a drained backlog is named and a runaway shows its peak") {
  const SimResult oracle = flat_run(7200, 4, 3599.5);   // arrivals until 3599.5 s, ticks on to 7200 s
  SimResult runaway = flat_run(7200, 4, 3599.5);
  for (auto& k : runaway.series) {
    if (k.t > 1000 && k.t < 1200) k.ready = 100;  // 25x the oracle for 200 s
  }
  runaway.slo_attainment = 0.5;
  replay::PlotInput in;
  in.runs = {{"oracle", 300, &oracle, "oracle"}, {"runaway", 300, &runaway, "runaway"}};
  in.timeline_cold_start = 300;
  in.title = "t";
  const std::string svg = replay::render_svg(in);
  CHECK(attribute(svg, "data-panel=\"runaway\"", "data-x-end-s") == doctest::Approx(3600));
  CHECK(attribute(svg, "data-drained-s=", "data-drained-s") == doctest::Approx(7200 - 3599.5).epsilon(0.001));
  CHECK(svg.find("data-offscale=\"runaway\"") != std::string::npos);
  CHECK(svg.find("data-offscale=\"oracle\"") == std::string::npos);
  CHECK(svg.find(">peak 100<") != std::string::npos);
  // every point and every panel
  CHECK(svg.find("data-point=\"oracle\"") != std::string::npos);
  CHECK(svg.find("data-point=\"runaway\"") != std::string::npos);
  CHECK(svg.find("data-label=\"runaway\"") != std::string::npos);
}

TEST_CASE("a record: its ready replicas in every panel with a legend entry - the TTFT p99 panel - none without a record") {
  const SimResult oracle = flat_run(3600, 4, 3599.5);
  const SimResult recorded = flat_run(3600, 6, 3599.5);
  replay::PlotInput in;
  in.runs = {{"oracle", 300, &oracle, "oracle"}, {"recorded", 300, &recorded, "recorded"}};
  in.timeline_cold_start = 300;
  in.title = "t";
  const std::string plain = replay::render_svg(in);
  for (int w = 0; w < 60; ++w) {  // an hour of minutes, 6 ready but for 30 minutes of 9 (a rise past the oracle's 4)
    replay::RecordWindow r;
    r.start_s = 60.0 * w;
    r.end_s = r.start_s + 60;
    r.arrivals = 100;
    r.ready = w >= 20 && w < 50 ? 9 : 6;
    r.observed_ttft_p99 = 1.5;
    r.simulated_ttft_p99 = w == 7 ? std::numeric_limits<double>::quiet_NaN() : 1.2;  // a window measured nothing
    in.record.push_back(r);
  }
  in.slo_ttft_s = 2;
  const std::string svg = replay::render_svg(in);
  CHECK(plain.find("data-recorded-in") == std::string::npos);
  CHECK(plain.find("data-record-panel") == std::string::npos);
  CHECK(plain.find("the cluster's ready replicas") == std::string::npos);
  CHECK(svg.find("data-recorded-in=\"oracle\"") != std::string::npos);
  CHECK(svg.find("data-recorded-in=\"recorded\"") != std::string::npos);
  CHECK(svg.find("the cluster's ready replicas") != std::string::npos);
  CHECK(svg.find("data-record-panel=\"ttft-p99\"") != std::string::npos);
  CHECK(svg.find("data-observed-ttft-p99") != std::string::npos);
  CHECK(attribute(svg, "data-ttft-target=", "data-ttft-target") == 2);
  // the simulated line breaks at the window without a value: two runs of points
  const auto at = svg.find("data-simulated-ttft-p99");
  REQUIRE(at != std::string::npos);
  const std::string d = svg.substr(at, svg.find("/>", at) - at);
  CHECK(std::count(d.begin(), d.end(), 'M') == 2);
  // the y-axis fits the record's 9 replicas (steps of 5 to 10) where the runs' 6 gave steps of 2 to 8
  CHECK(svg.find("text-anchor=\"end\">5</text>") != std::string::npos);
  CHECK(svg.find("text-anchor=\"end\">8</text>") == std::string::npos);
  CHECK(plain.find("text-anchor=\"end\">8</text>") != std::string::npos);
}

TEST_CASE("worst minutes: the most misses first with the decisions that changed a count before them") {
  SimResult r = flat_run(1800, 4, 1800);
  // misses in minute 10 (20 of them) and minute 20 (50); the policy asked for more at 9:30
  for (auto& k : r.series) {
    if (k.t > 600 && k.t <= 620) k.misses = 1;
    if (k.t > 1200 && k.t <= 1250) k.misses = 1;
    if (k.t >= 570) {
      k.proposed = 6;
      k.desired = 6;
    }
    if (k.t >= 1190) {
      k.proposed = 9;  // the governor held it at 6
      k.binding = llmscale::Constraint::rate_limit;
      k.reason = "capped";
    }
  }
  const auto worst = replay::worst_minutes(r, 5);
  REQUIRE(worst.size() == 2);
  CHECK(worst[0].minute == 20);
  CHECK(worst[0].misses == 50);
  CHECK(worst[1].minute == 10);
  CHECK(worst[1].misses == 20);
  const auto before_10 = replay::decisions_between(r, 600 - 300, 660, 6);
  REQUIRE(before_10.size() == 1);
  CHECK(before_10[0]->t == 570);
  CHECK(before_10[0]->desired == 6);
  const auto before_20 = replay::decisions_between(r, 1200 - 300, 1260, 6);
  REQUIRE(before_20.size() == 1);
  CHECK(before_20[0]->proposed == 9);
  CHECK(before_20[0]->binding == llmscale::Constraint::rate_limit);
  // nothing changed in a window: the decision that stood
  const auto quiet = replay::decisions_between(r, 1500, 1560, 6);
  REQUIRE(quiet.size() == 1);
  CHECK(quiet[0]->t == 1560);
  CHECK(replay::clock_time(3725) == "1:02:05");
}
