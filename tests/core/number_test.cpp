// Numbers as text in every locale: parse_number reads what strtod reads in the C locale, and
// every parser reads "0.5" as a half under a de_DE locale (where strtod reads it as 0).
#include <doctest/doctest.h>

#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "llmscale/adapters/prometheus.hpp"
#include "llmscale/core/config.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/detail/state_io.hpp"
#include "llmscale/core/number.hpp"
#include "llmscale/model/detail/json.hpp"
#include "llmscale/policy/governor.hpp"

namespace {
// strtod in the C locale, on the whole text: the reference parse_number follows
bool c_strtod(const std::string& s, double& out) {
  if (s.empty() || s[0] == ' ' || s[0] == '\t') return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return *end == '\0' && end != s.c_str();
}
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b)); }

// Switches the process to a German locale (decimal comma) for its lifetime, if one is installed.
struct GermanLocale {
  bool active = false;
  std::string before;
  GermanLocale() {
    before = std::setlocale(LC_ALL, nullptr);
    for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "German_Germany.1252"}) {
      if (std::setlocale(LC_ALL, name) != nullptr) {
        active = true;
        return;
      }
    }
  }
  ~GermanLocale() { std::setlocale(LC_ALL, before.c_str()); }
};
}  // namespace

TEST_CASE("parse_number reads what strtod reads in the C locale, and format_number round-trips") {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> digits(0, 9), len(1, 8), kind(0, 9);
  int compared = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    if (kind(rng) == 0) s += "-+"[digits(rng) % 2];
    for (int k = len(rng); k > 0; --k) s += static_cast<char>('0' + digits(rng));
    if (kind(rng) < 6) {
      s += '.';
      for (int k = len(rng); k > 0; --k) s += static_cast<char>('0' + digits(rng));
    }
    if (kind(rng) < 3) s += "e" + std::to_string(std::uniform_int_distribution<int>(-330, 330)(rng));
    if (kind(rng) == 0) s += "x";  // trailing junk: refused by both
    double want = 0, got = 0;
    const bool ok_c = c_strtod(s, want);
    CAPTURE(s);
    REQUIRE(llmscale::parse_number(s, got) == ok_c);
    if (ok_c) {
      CHECK(same(got, want));
      ++compared;
    }
  }
  CHECK(compared > 4000);
  for (const char* s : {"inf", "-Infinity", "+inf", "nan", "NaN", "1e400", "-1e400", "1e-400", "-1e-400", ".5", "5."}) {
    double want = 0, got = 0;
    CAPTURE(s);
    REQUIRE(c_strtod(s, want));
    REQUIRE(llmscale::parse_number(s, got));
    CHECK(same(got, want));
  }
  for (const char* s : {"", "+", "-", "++1", "+-1", " 1", "1 ", "0,5", "e5", "."}) {
    double got = 7;
    CAPTURE(s);
    CHECK_FALSE(llmscale::parse_number(s, got));
    CHECK(got == 7);  // unchanged
  }
  std::uniform_real_distribution<double> any(-1e6, 1e6);
  for (int i = 0; i < 2000; ++i) {
    const double v = i % 2 == 0 ? any(rng) : std::ldexp(any(rng), std::uniform_int_distribution<int>(-1000, 1000)(rng));
    double back = 0;
    REQUIRE(llmscale::parse_number(llmscale::format_number(v), back));
    CHECK(back == v);
  }
}

TEST_CASE("under a de_DE locale every parser still reads 0.5 as a half and writes it with a point") {
  GermanLocale german;
  if (!german.active) {
    MESSAGE("skipped: no de_DE locale installed (localedef -i de_DE -f UTF-8 de_DE.UTF-8 makes one)");
    return;
  }
  // the locale bites: the C library's own parse stops at the point
  REQUIRE(std::strtod("0.5", nullptr) == 0.0);

  double v = 0;
  CHECK(llmscale::parse_number("0.5", v));
  CHECK(v == 0.5);
  CHECK_FALSE(llmscale::parse_number("0,5", v));

  llmscale::GovernorConfig config;  // key=value text, as configs and --set give it
  REQUIRE_FALSE(llmscale::parse_config("scale_up_percent=12.5\nzero_grace_s=0.25\n", config));
  CHECK(config.scale_up_percent == 12.5);
  CHECK(config.zero_grace_s == 0.25);

  llmscale::detail::StateWriter w("t");  // a saved state, read back
  w << 0.25 << 1e-7;
  const std::string state = std::move(w).str();
  CHECK(state == "t 0.25 1e-07");
  llmscale::detail::StateReader r(state, "t");
  double a = 0, b = 0;
  r >> a >> b;
  CHECK(r.ok());
  CHECK(a == 0.25);
  CHECK(b == 1e-7);

  double page_value = 0;  // an engine's /metrics page
  llmscale::parse_prometheus("vllm:gpu_cache_usage_perc 0.75\n",
                             [&](const llmscale::PrometheusSample& s) { page_value = s.value; });
  CHECK(page_value == 0.75);

  const llmscale::detail::JsonValue json = llmscale::detail::JsonReader("{\"a\": 1.5}").parse();  // a profile file
  REQUIRE(json.find("a") != nullptr);
  CHECK(json.find("a")->number == 1.5);

  llmscale::Decision d;  // what the tools print
  d.add_input("kv", 0.5);
  CHECK(d.to_json().find("0.5") != std::string::npos);
  CHECK(llmscale::format_number(0.5) == "0.5");
}
