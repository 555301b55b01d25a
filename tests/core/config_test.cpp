#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "llmscale/core/config.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/core/time.hpp"

using llmscale::ConfigResult;

// A specimen config for the config machinery (describe, validate_fields, set_field, parse_config,
// dump_config): the settings a control loop might share, with each numeric field kind and a
// cross-field rule. Test-local: the library's configs each own their fields.
namespace specimen {
using namespace llmscale;
struct ControlConfig {
  static constexpr const char* config_name = "control";

  /// Seconds between ticks (Kubernetes HPA: 15, Knative KPA: 2).
  double tick_period_s = 10.0;
  /// How far (seconds) a request event may lag the newest one and still be counted.
  double event_skew_s = 1.0;
  /// A signal with no fresh data for this many seconds is stale: no scale-down on it.
  double stale_after_s = 30.0;
  /// Expected seconds from requesting a replica to its serving (provisioning + model load).
  double cold_start_s = 600.0;
  /// The fewest replicas to run (0 allows scale to zero).
  int min_replicas = 1;
  /// The most replicas to run.
  int max_replicas = 100;

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("tick_period_s", self.tick_period_s, open_closed(0.0, 3600.0), "seconds between ticks");
    v("event_skew_s", self.event_skew_s, closed(0.0, 60.0),
      "seconds a request event may lag the newest and still count");
    v("stale_after_s", self.stale_after_s, open_closed(0.0, 86400.0),
      "seconds without fresh data before a signal is stale");
    v("cold_start_s", self.cold_start_s, closed(0.0, 86400.0),
      "expected seconds from requesting a replica to its serving");
    v("min_replicas", self.min_replicas, closed(0, FleetState::max_replicas),
      "fewest replicas to run (0 allows scale to zero)");
    v("max_replicas", self.max_replicas, closed(1, FleetState::max_replicas),
      "most replicas to run");
  }

  /// The first problem: a field out of range, or min_replicas above max_replicas, or
  /// stale_after_s shorter than one tick (every tick would then see stale signals).
  [[nodiscard]] ConfigResult validate() const {
    if (ConfigResult p = validate_fields(*this)) return p;
    if (min_replicas > max_replicas) {
      return ConfigProblem{config_name, "min_replicas", std::to_string(min_replicas),
                           "[0, max_replicas = " + std::to_string(max_replicas) + "]",
                           "is above max_replicas", 0};
    }
    if (stale_after_s < tick_period_s) {
      return ConfigProblem{config_name, "stale_after_s", detail::format_number(stale_after_s),
                           "[tick_period_s = " + detail::format_number(tick_period_s) +
                               ", 86400]",
                           "is shorter than one tick", 0};
    }
    return std::nullopt;
  }

  [[nodiscard]] Duration tick_period() const noexcept { return from_seconds(tick_period_s); }
  [[nodiscard]] Duration event_skew() const noexcept { return from_seconds(event_skew_s); }
  [[nodiscard]] Duration stale_after() const noexcept { return from_seconds(stale_after_s); }
  [[nodiscard]] Duration cold_start() const noexcept { return from_seconds(cold_start_s); }

  friend bool operator==(const ControlConfig& a, const ControlConfig& b) noexcept {
    return a.tick_period_s == b.tick_period_s && a.event_skew_s == b.event_skew_s &&
           a.stale_after_s == b.stale_after_s && a.cold_start_s == b.cold_start_s &&
           a.min_replicas == b.min_replicas && a.max_replicas == b.max_replicas;
  }
  friend bool operator!=(const ControlConfig& a, const ControlConfig& b) noexcept {
    return !(a == b);
  }
};
}  // namespace specimen
using specimen::ControlConfig;

namespace {
struct BadValue {
  const char* key;
  const char* value;    // as written in key=value text
  const char* allowed;  // the allowed range the message must name
};

// Every field of ControlConfig, each with values just outside its range (worked out from the
// documented ranges by hand, not from the field table).
const BadValue control_bad_values[] = {
    {"tick_period_s", "0", "(0, 3600]"},
    {"tick_period_s", "-1", "(0, 3600]"},
    {"tick_period_s", "3600.5", "(0, 3600]"},
    {"tick_period_s", "nan", "(0, 3600]"},
    {"tick_period_s", "inf", "(0, 3600]"},
    {"event_skew_s", "-0.001", "[0, 60]"},
    {"event_skew_s", "61", "[0, 60]"},
    {"event_skew_s", "nan", "[0, 60]"},
    {"stale_after_s", "0", "(0, 86400]"},
    {"stale_after_s", "86401", "(0, 86400]"},
    {"stale_after_s", "-inf", "(0, 86400]"},
    {"cold_start_s", "-1", "[0, 86400]"},
    {"cold_start_s", "86400.01", "[0, 86400]"},
    {"cold_start_s", "nan", "[0, 86400]"},
    {"min_replicas", "-1", "[0, 1000000]"},
    {"min_replicas", "1000001", "[0, 1000000]"},
    {"max_replicas", "0", "[1, 1000000]"},
    {"max_replicas", "-7", "[1, 1000000]"},
    {"max_replicas", "1000001", "[1, 1000000]"},
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("the defaults are valid") {
  CHECK_FALSE(ControlConfig{}.validate().has_value());
  CHECK_NOTHROW(llmscale::require_valid(ControlConfig{}));
}

TEST_CASE("validate catches every invalid field and names field, value and range") {
  std::set<std::string> covered;
  for (const BadValue& bad : control_bad_values) {
    CAPTURE(bad.key);
    CAPTURE(bad.value);
    ControlConfig config;
    // set_field parses but does not range-check: validate() must catch it.
    REQUIRE_FALSE(llmscale::set_field(config, bad.key, bad.value).has_value());
    const ConfigResult problem = config.validate();
    REQUIRE(problem.has_value());
    CHECK(problem->config == "control");
    CHECK(problem->field == bad.key);
    CHECK(problem->allowed == bad.allowed);
    const std::string message = problem->message();
    CHECK(contains(message, bad.key));
    CHECK(contains(message, bad.allowed));
    CHECK(contains(message, problem->value));
    // a constructor-style check throws with the same message
    try {
      llmscale::require_valid(config);
      FAIL("require_valid did not throw");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()) == message);
    }
    covered.insert(bad.key);
  }
  // the table above covers every field the config has
  for (const std::string& key : llmscale::config_keys<ControlConfig>()) {
    CAPTURE(key);
    CHECK(covered.count(key) == 1);
  }
}

TEST_CASE("the message reads as one sentence") {
  ControlConfig config;
  config.max_replicas = 0;
  CHECK(config.validate()->message() == "control.max_replicas = 0 is out of range; allowed: [1, 1000000]");
  config.max_replicas = 10;
  config.tick_period_s = std::numeric_limits<double>::quiet_NaN();
  CHECK(config.validate()->message() == "control.tick_period_s = nan is not a finite number; allowed: (0, 3600]");
}

TEST_CASE("cross-field rules") {
  ControlConfig config;
  config.min_replicas = 5;
  config.max_replicas = 3;
  auto problem = config.validate();
  REQUIRE(problem);
  CHECK(problem->field == "min_replicas");
  CHECK(contains(problem->message(), "max_replicas = 3"));

  config = ControlConfig{};
  config.tick_period_s = 60;
  config.stale_after_s = 30;
  problem = config.validate();
  REQUIRE(problem);
  CHECK(problem->field == "stale_after_s");
  CHECK(contains(problem->message(), "tick_period_s = 60"));

  config = ControlConfig{};
  config.min_replicas = 0;  // scale to zero is allowed
  config.max_replicas = 1;
  CHECK_FALSE(config.validate());
}

TEST_CASE("key=value text sets fields, ignoring comments and whitespace") {
  ControlConfig config;
  const auto problem = llmscale::parse_config(
      "# a comment\n"
      "\n"
      "  tick_period_s = 2   \n"
      "max_replicas=40\r\n"
      "min_replicas=+2\n"
      "cold_start_s=1.2e3\n"
      "max_replicas=50\n",  // later lines win
      config);
  REQUIRE_FALSE(problem);
  CHECK(config.tick_period_s == 2.0);
  CHECK(config.max_replicas == 50);
  CHECK(config.min_replicas == 2);
  CHECK(config.cold_start_s == 1200.0);
  CHECK(config.event_skew_s == 1.0);  // untouched keys keep their values
}

TEST_CASE("a failed parse names the line and changes nothing") {
  const ControlConfig before;
  struct Case {
    const char* text;
    int line;
    const char* field;
    const char* detail;
  } cases[] = {
      {"max_replicas=4\nbogus=1\n", 2, "bogus", "is not a known key"},
      {"tick_period_s=abc", 1, "tick_period_s", "is not a number"},
      {"max_replicas=4.5", 1, "max_replicas", "is not an integer"},
      {"max_replicas=", 1, "max_replicas", "is not an integer"},
      {"\n\nmax_replicas 4", 3, "", "is not a key=value line"},
      {"tick_period_s=1e400", 1, "tick_period_s", "is not a finite number"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    ControlConfig config = before;
    config.max_replicas = 77;
    const auto problem = llmscale::parse_config(c.text, config);
    REQUIRE(problem);
    CHECK(problem->field == c.field);
    CHECK(problem->detail == c.detail);
    if (std::string(c.detail) != "is not a finite number") CHECK(problem->line == c.line);
    CHECK(config.max_replicas == 77);  // untouched
    CHECK(config.tick_period_s == before.tick_period_s);
  }
  ControlConfig config;
  const auto problem = llmscale::parse_config("bogus=1", config);
  CHECK(contains(problem->message(), "tick_period_s, event_skew_s"));  // lists the known keys
  // fields valid alone but invalid together: nothing applied
  CHECK(llmscale::parse_config("min_replicas=9\nmax_replicas=3", config));
  CHECK(config == ControlConfig{});
}

TEST_CASE("dump_config round-trips exactly, over many random configurations") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 2000; ++i) {
    ControlConfig c;
    c.tick_period_s = 1e-3 + unit(rng) * 3599;
    c.event_skew_s = unit(rng) * 60;
    c.stale_after_s = c.tick_period_s + unit(rng) * (86400 - c.tick_period_s);
    c.cold_start_s = unit(rng) * 86400;
    c.max_replicas = 1 + static_cast<int>(rng() % 1000000);
    c.min_replicas = static_cast<int>(rng() % static_cast<unsigned>(c.max_replicas + 1));
    REQUIRE_FALSE(c.validate());
    ControlConfig d;
    d.max_replicas = 3;
    const std::string text = llmscale::dump_config(c);
    const auto problem = llmscale::parse_config(text, d);
    REQUIRE_FALSE(problem);
    REQUIRE(d == c);  // bit-exact doubles
  }
  const std::string dump = llmscale::dump_config(ControlConfig{});
  CHECK(contains(dump, "\ntick_period_s=10\n"));
  CHECK(contains(dump, "# seconds between ticks (allowed: (0, 3600])\n"));
}

TEST_CASE("set_config applies one assignment and validates") {
  ControlConfig config;
  CHECK_FALSE(llmscale::set_config(config, " max_replicas = 9 "));
  CHECK(config.max_replicas == 9);
  CHECK(llmscale::set_config(config, "max_replicas"));  // no '='
  CHECK(llmscale::set_config(config, "min_replicas=10"));  // above max: rejected
  CHECK(config.min_replicas == 1);
}

namespace {
void set_env(const char* name, const char* value) {
#ifdef _WIN32
  _putenv_s(name, value ? value : "");
#else
  if (value) setenv(name, value, 1); else unsetenv(name);
#endif
}
}  // namespace

TEST_CASE("environment variables override fields") {
  set_env("LLMSCALE_TEST_MAX_REPLICAS", "12");
  set_env("LLMSCALE_TEST_COLD_START_S", "90");
  ControlConfig config;
  CHECK_FALSE(llmscale::apply_environment(config, "LLMSCALE_TEST_"));
  CHECK(config.max_replicas == 12);
  CHECK(config.cold_start_s == 90.0);

  set_env("LLMSCALE_TEST_MAX_REPLICAS", "lots");
  ControlConfig untouched;
  const auto problem = llmscale::apply_environment(untouched, "LLMSCALE_TEST_");
  REQUIRE(problem);
  CHECK(contains(problem->message(), "LLMSCALE_TEST_MAX_REPLICAS"));
  CHECK(untouched == ControlConfig{});
  set_env("LLMSCALE_TEST_MAX_REPLICAS", nullptr);
  set_env("LLMSCALE_TEST_COLD_START_S", nullptr);
}

namespace {
enum class Mode { fast, careful };

// A config with the field kinds ControlConfig lacks: bools and enums.
struct KindsConfig {
  static constexpr const char* config_name = "kinds";
  static constexpr std::array<llmscale::EnumName<Mode>, 2> mode_names{
      {{"fast", Mode::fast}, {"careful", Mode::careful}}};
  bool enabled = true;
  Mode mode = Mode::fast;
  long long budget = 5;

  template <class Self, class Visitor>
  static void describe(Self& self, Visitor& v) {
    v("enabled", self.enabled, "whether it runs");
    v("mode", self.mode, mode_names, "how it runs");
    v("budget", self.budget, llmscale::closed(0LL, 10LL), "how much it may spend");
  }
  ConfigResult validate() const { return llmscale::validate_fields(*this); }
};
}  // namespace

TEST_CASE("bool and enum fields parse, validate and dump") {
  KindsConfig c;
  REQUIRE_FALSE(llmscale::parse_config("enabled=off\nmode=careful\nbudget=10", c));
  CHECK_FALSE(c.enabled);
  CHECK(c.mode == Mode::careful);
  CHECK(c.budget == 10);
  const auto problem = llmscale::parse_config("mode=reckless", c);
  REQUIRE(problem);
  CHECK(problem->allowed == "fast | careful");
  CHECK(llmscale::parse_config("enabled=maybe", c)->allowed == "true | false");
  CHECK(llmscale::parse_config("budget=11", c)->allowed == "[0, 10]");
  c.mode = static_cast<Mode>(9);
  CHECK(c.validate()->field == "mode");
  c.mode = Mode::careful;
  KindsConfig d;
  REQUIRE_FALSE(llmscale::parse_config(llmscale::dump_config(c), d));
  CHECK(d.enabled == c.enabled);
  CHECK(d.mode == c.mode);
  CHECK(d.budget == c.budget);
}
