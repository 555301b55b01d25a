// SignalsConfig (which includes RecorderConfig's keys): every field's out-of-range values are
// caught by validate(), named with the field, value and range; key=value round-trips.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "llmscale/core/config.hpp"
#include "llmscale/signals/collector.hpp"

namespace {
struct BadValue {
  const char* key;
  const char* value;
  const char* allowed;
};
const BadValue bad_values[] = {
    {"writer_shards", "0", "[1, 4096]"},          {"writer_shards", "4097", "[1, 4096]"},
    {"event_skew_s", "-1", "[0, 60]"},            {"event_skew_s", "61", "[0, 60]"},
    {"max_duration_s", "0.5", "[1, 1e+07]"},   {"max_duration_s", "nan", "[1, 1e+07]"},
    {"max_tokens", "0", "[1, 1000000000]"},       {"max_tokens", "1000000001", "[1, 1000000000]"},
    {"replica_slots", "0", "[1, 1000000]"},       {"replica_slots", "1000001", "[1, 1000000]"},
    {"window_s", "0", "(0, 86400]"},              {"window_s", "86401", "(0, 86400]"},
    {"granularity_s", "0", "(0, 60]"},            {"granularity_s", "61", "(0, 60]"},
    {"quantile_window_s", "-5", "(0, 86400]"},    {"quantile_window_s", "inf", "(0, 86400]"},
    {"quantile_subwindows", "0", "[1, 3600]"},    {"quantile_subwindows", "3601", "[1, 3600]"},
    {"stale_after_s", "0", "(0, 86400]"},         {"stale_after_s", "1e6", "(0, 86400]"},
    {"kv_saturation", "0", "(0, 1]"},             {"kv_saturation", "1.01", "(0, 1]"},
    {"queue_saturation", "0", "[1, 1000000]"},    {"queue_saturation", "-3", "[1, 1000000]"},
};
}  // namespace

TEST_CASE("every SignalsConfig field is range-checked by validate()") {
  CHECK_FALSE(llmscale::SignalsConfig{}.validate());
  std::set<std::string> covered;
  for (const BadValue& bad : bad_values) {
    CAPTURE(bad.key);
    CAPTURE(bad.value);
    llmscale::SignalsConfig c;
    REQUIRE_FALSE(llmscale::set_field(c, bad.key, bad.value));
    const auto problem = c.validate();
    REQUIRE(problem);
    CHECK(problem->field == bad.key);
    CHECK(problem->allowed == bad.allowed);
    CHECK(problem->message().find(bad.key) != std::string::npos);
    CHECK_THROWS_AS(llmscale::SignalCollector(c, llmscale::at_seconds(0)), std::invalid_argument);
    covered.insert(bad.key);
  }
  for (const std::string& key : llmscale::config_keys<llmscale::SignalsConfig>()) {
    CAPTURE(key);
    CHECK(covered.count(key) == 1);
  }
}

TEST_CASE("SignalsConfig cross-field rules and round trip") {
  llmscale::SignalsConfig c;
  c.window_s = 10;
  c.granularity_s = 20;
  CHECK(c.validate()->field == "granularity_s");
  c.granularity_s = 1e-5;  // 10^6 buckets
  CHECK(c.validate()->field == "granularity_s");
  llmscale::SignalsConfig d;
  REQUIRE_FALSE(llmscale::parse_config("writer_shards=3\nwindow_s=30\nkv_saturation=0.9", d));
  llmscale::SignalsConfig e;
  REQUIRE_FALSE(llmscale::parse_config(llmscale::dump_config(d), e));
  CHECK(e.recorder.writer_shards == 3);
  CHECK(e.window_s == 30.0);
  CHECK(e.kv_saturation == 0.9);
}
