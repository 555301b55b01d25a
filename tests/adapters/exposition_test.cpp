// The host-side adapters a scaler is built from: a Decision and Signals written as a Prometheus
// page (read back with the library's own parser), and the starting replicas inferred from the
// serving ones.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

#include "llmscale/adapters/exposition.hpp"
#include "llmscale/adapters/prometheus.hpp"
#include "llmscale/adapters/starting_replicas.hpp"

using llmscale::at_seconds;

namespace {
// name{labels} -> value, and the families' types, from a parsed page
struct Page {
  std::map<std::string, double> samples;
  std::map<std::string, llmscale::MetricType> types;
  llmscale::PrometheusResult result;
};
Page parse(const std::string& text) {
  Page page;
  page.result = llmscale::parse_prometheus(text, [&](const llmscale::PrometheusSample& s) {
    std::string key(s.name);
    for (std::size_t i = 0; i < s.label_count; ++i) {
      key += (i == 0 ? "{" : ",") + std::string(s.labels[i].name) + "=" + std::string(s.labels[i].value);
    }
    if (s.label_count > 0) key += "}";
    page.samples[key] = s.value;
    page.types[std::string(s.family)] = s.type;
  });
  return page;
}
}  // namespace

TEST_CASE("a decision and its signals written as a Prometheus page parse back to the same values") {
  llmscale::FleetState fleet(3);
  fleet.add_starting(2, at_seconds(5));
  llmscale::Decision d{at_seconds(10), fleet.current(), 9, "kpa", "panic: \"2x\" over\\target\nline two"};
  d.binding = llmscale::Constraint::rate_limit;
  d.add_proposal({"kpa", 12, 11.5, ""});
  d.add_proposal({"rate", 9, 9, ""});
  d.add_input("ready", 3);
  d.add_input("nan_input", std::nan(""));
  llmscale::Signals s;
  s.arrival_rate = 17.25;
  s.engines.queue_length_max = 4;
  s.engine.stale = true;
  s.engine.age_s = 31.5;
  s.requests.dropped_invalid = 7;

  std::string text;
  llmscale::PrometheusWriter w(text);
  llmscale::expose_decision(w, d, fleet);
  llmscale::expose_signals(w, s);
  const Page page = parse(text);
  CHECK(page.result.ok());
  CHECK(page.samples.at("llmscale_desired_replicas") == 9);
  CHECK(page.samples.at("llmscale_current_replicas") == 5);
  CHECK(page.samples.at("llmscale_ready_replicas") == 3);
  CHECK(page.samples.at("llmscale_starting_replicas") == 2);
  CHECK(page.samples.at("llmscale_binding_constraint{constraint=rate_limit}") == 1);
  // the reason's quotes, backslash and newline survive escaping and parsing
  CHECK(page.samples.count("llmscale_decision_info{policy=kpa,reason=panic: \"2x\" over\\target\nline two}") == 1);
  CHECK(page.samples.at("llmscale_proposal_replicas{stage=kpa}") == 12);
  CHECK(page.samples.at("llmscale_proposal_replicas{stage=rate}") == 9);
  CHECK(page.samples.at("llmscale_decision_input{name=ready}") == 3);
  CHECK(page.samples.at("llmscale_decision_input{name=nan_input}") == 0);  // not finite: 0
  CHECK(page.samples.at("llmscale_signal{name=arrival_rate}") == 17.25);
  CHECK(page.samples.at("llmscale_signal{name=queue_length_max}") == 4);
  CHECK(page.samples.at("llmscale_signal_stale{signal=engine}") == 1);
  CHECK(page.samples.at("llmscale_signal_stale{signal=requests}") == 0);
  CHECK(page.samples.at("llmscale_signal_age_seconds{signal=engine}") == 31.5);
  CHECK(page.samples.at("llmscale_signal_dropped_total{signal=requests,why=invalid}") == 7);
  CHECK(page.types.at("llmscale_signal_dropped_total") == llmscale::MetricType::counter);
  CHECK(page.types.at("llmscale_desired_replicas") == llmscale::MetricType::gauge);
  // each family's samples in one group, after its # TYPE line (the format requires it)
  std::string last_family;
  std::map<std::string, int> groups;
  llmscale::parse_prometheus(text, [&](const llmscale::PrometheusSample& x) {
    if (std::string(x.family) != last_family) ++groups[last_family = std::string(x.family)];
  });
  for (const auto& [family, count] : groups) {
    CAPTURE(family);
    CHECK(count == 1);
  }
}

TEST_CASE("starting replicas: asked for and not serving, until they appear or the give-up time passes") {
  llmscale::StartingReplicas starting(llmscale::from_seconds(600));
  // nothing asked for yet: the fleet is what serves
  CHECK(starting.fleet(at_seconds(0), 2, std::nullopt).starting() == 0);
  starting.decided(at_seconds(0), 2);
  // raised to 6 at t = 10: 4 starting, requested at t = 10
  starting.decided(at_seconds(10), 6);
  llmscale::FleetState f = starting.fleet(at_seconds(20), 2, std::nullopt);
  CHECK(f.ready() == 2);
  CHECK(f.starting() == 4);
  CHECK(f.ready_by(at_seconds(309), llmscale::from_seconds(300)) == 2);  // not before t = 10 + 300
  CHECK(f.ready_by(at_seconds(310), llmscale::from_seconds(300)) == 6);
  // two appeared: 2 still starting
  starting.decided(at_seconds(20), 6);
  CHECK(starting.fleet(at_seconds(200), 4, std::nullopt).starting() == 2);
  // holding at 6 does not move the raise: after 600 s from t = 10 they are given up
  starting.decided(at_seconds(300), 6);
  CHECK(starting.fleet(at_seconds(609), 4, std::nullopt).starting() == 2);
  CHECK(starting.fleet(at_seconds(610), 4, std::nullopt).starting() == 0);
  // a lower count never starts anything; a raise starts the clock again
  starting.decided(at_seconds(700), 5);
  CHECK(starting.fleet(at_seconds(701), 4, std::nullopt).starting() == 0);
  starting.decided(at_seconds(800), 8);
  CHECK(starting.fleet(at_seconds(1300), 4, std::nullopt).starting() == 4);
  // what the host reports wins; more serving than asked for starts nothing
  CHECK(starting.fleet(at_seconds(1300), 4, 1).starting() == 1);
  CHECK(starting.fleet(at_seconds(1300), 9, std::nullopt).starting() == 0);
  CHECK(llmscale::StartingReplicas::default_give_up_s == 1200);
}
