#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "llmscale/core/decision.hpp"

using llmscale::Constraint;
using llmscale::Decision;
using llmscale::Direction;
using llmscale::Proposal;

namespace {
Decision sample_decision() {
  Decision d;
  d.at = llmscale::at_seconds(120);
  d.current_replicas = 3;
  d.desired_replicas = 5;
  d.policy = "demo";
  d.reason = "concurrency above target";
  d.binding = Constraint::max_replicas;
  d.add_proposal(Proposal{"demo", 7, 6.53, "ceil(concurrency / target)"});
  d.add_proposal(Proposal{"bounds", 5, std::numeric_limits<double>::quiet_NaN(), "max_replicas"});
  d.add_input("concurrency", 52.25);
  return d;
}
}  // namespace

TEST_CASE("a decision formats as one readable line") {
  const Decision d = sample_decision();
  CHECK(d.direction() == Direction::up);
  CHECK(d.to_string() ==
        "t=120s replicas 3 -> 5 (up) by demo: concurrency above target; bound: max_replicas; "
        "proposals: demo=7 (6.53), bounds=5; inputs: concurrency=52.25");
}

TEST_CASE("a decision formats as one JSON line") {
  const Decision d = sample_decision();
  CHECK(d.to_json() ==
        R"j({"t":120,"current":3,"desired":5,"direction":"up","policy":"demo",)j"
        R"j("reason":"concurrency above target","binding":"max_replicas","proposals":[)j"
        R"j({"stage":"demo","replicas":7,"raw":6.53,"reason":"ceil(concurrency / target)"},)j"
        R"j({"stage":"bounds","replicas":5,"raw":null,"reason":"max_replicas"}],)j"
        R"j("inputs":{"concurrency":52.25}})j");
}

TEST_CASE("JSON strings are escaped and non-finite numbers become null") {
  Decision d;
  d.policy = "my \"policy\"";
  d.reason = "line\nbreak\\tab\t\x01";
  d.add_input("nan", std::numeric_limits<double>::quiet_NaN());
  d.add_input("inf", std::numeric_limits<double>::infinity());
  const std::string json = d.to_json();
  CHECK(json.find(R"j("policy":"my \"policy\"")j") != std::string::npos);
  CHECK(json.find(R"j("reason":"line\nbreak\\tab\t\u0001")j") != std::string::npos);
  CHECK(json.find(R"j("inputs":{"nan":null,"inf":null})j") != std::string::npos);
  CHECK(d.to_string().find("nan=nan, inf=nan") != std::string::npos);
  CHECK(json.find('\n') == std::string::npos);
}

TEST_CASE("null names format as empty strings") {
  Decision d;
  d.policy = nullptr;
  d.reason = nullptr;
  CHECK(d.to_json().find(R"j("policy":"","reason":"")j") != std::string::npos);
}

TEST_CASE("formatting into a small buffer truncates safely and reports the full length") {
  const Decision d = sample_decision();
  const std::string text = d.to_string();
  const std::string json = d.to_json();
  for (int which = 0; which < 2; ++which) {
    const std::string& full = which == 0 ? text : json;
    for (std::size_t size = 0; size <= full.size() + 2; ++size) {
      char buf[512];
      std::memset(buf, '#', sizeof buf);
      const std::size_t n = which == 0 ? d.format_to(buf, size) : d.format_json_to(buf, size);
      REQUIRE(n == full.size());
      for (std::size_t i = size; i < sizeof buf; ++i) REQUIRE(buf[i] == '#');  // no overrun
      if (size > 0) {
        const std::size_t kept = std::min(size - 1, full.size());
        REQUIRE(buf[kept] == '\0');
        REQUIRE(std::string(buf, kept) == full.substr(0, kept));
      }
    }
  }
  CHECK(d.format_to(nullptr, 100) == text.size());  // a null buffer only measures
}

TEST_CASE("long decisions format completely through the std::string helpers") {
  Decision d;
  d.policy = "p";
  std::string long_reason(700, 'x');
  d.reason = long_reason.c_str();
  CHECK(d.to_string().size() > 700);
  CHECK(d.to_json().find(long_reason) != std::string::npos);
}

TEST_CASE("fixed capacity for proposals and inputs") {
  Decision d;
  for (std::size_t i = 0; i < Decision::max_proposals; ++i) CHECK(d.add_proposal(Proposal{"s", 1}));
  CHECK_FALSE(d.add_proposal(Proposal{"overflow", 1}));
  for (std::size_t i = 0; i < Decision::max_inputs; ++i) CHECK(d.add_input("x", 1.0));
  CHECK_FALSE(d.add_input("overflow", 1.0));
  CHECK(d.proposal_count == Decision::max_proposals);
  CHECK(d.input_count == Decision::max_inputs);
}

TEST_CASE("direction follows desired versus current") {
  Decision d;
  d.current_replicas = 4;
  d.desired_replicas = 4;
  CHECK(d.direction() == Direction::hold);
  d.desired_replicas = 2;
  CHECK(d.direction() == Direction::down);
  CHECK(std::string(llmscale::to_string(Direction::down)) == "down");
  CHECK(std::string(llmscale::to_string(Constraint::stale_signals)) == "stale_signals");
}
