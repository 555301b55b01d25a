// A restart that loads a saved state carries on as if there had been none: llmscale-predictive,
// llmscale-pid (over the planner, as the simulator runs it) and a PID over llmscale-slo (as the
// scaler runs it) are run on a noisy daily load for two hours, saved, restored into a new
// policy (on the same clock and on one shifted by days), and both are then fed the same third
// hour: every proposal must be identical. A fresh policy on that hour is not (so the check can
// fail). States that are not the policy's own are refused with nothing changed; the state
// file's header is checked against hand-written files.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "llmscale/adapters/state_file.hpp"
#include "llmscale/policy/kpa.hpp"
#include "llmscale/policy/pid.hpp"
#include "llmscale/policy/predictive.hpp"

using llmscale::at_seconds;
using llmscale::FleetState;
using llmscale::Signals;

namespace {

constexpr double cold_start = 300;

llmscale::SloPolicy slo() {  // decode 10 ms + 1 ms per request, prefill 0.1 ms per token
  return llmscale::SloPolicy(llmscale::LatencyProfile::from_coefficients(
      llmscale::PrefillCoefficients{0, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
      llmscale::DecodeCoefficients{10, 0, 1}));
}

llmscale::PredictiveConfig planner() {
  llmscale::PredictiveConfig c;
  c.cold_start_s = cold_start;
  return c;
}

// One tick's inputs at second t: a daily sine with noise, a TTFT that crosses its 1 s target
// every few minutes (so the PID integrates), now and then a queue.
struct Load {
  std::mt19937_64 rng{7};
  Signals at(double t) {
    std::uniform_real_distribution<double> noise(0.9, 1.1);
    Signals s;
    s.at = at_seconds(t);
    s.arrival_rate = (20 + 10 * std::sin(2 * 3.141592653589793 * t / 86400) + 8 * std::sin(t / 500)) * noise(rng);
    s.mean_prompt_tokens = 1024 * noise(rng);
    s.mean_output_tokens = 256 * noise(rng);
    s.ttft_p99_s = 0.4 + 1.6 * std::max(0.0, std::sin(t / 300)) * noise(rng);
    s.queue_wait_p99_s = s.ttft_p99_s / 2;
    s.queued_now = std::sin(t / 200) > 0.9 ? 30 * noise(rng) : 0;
    return s;
  }
};

// The fleet follows the reference policy's answers: ready cold_start after asked for.
struct Fleet {
  FleetState state{5};
  void follow(int desired, double t) {
    const int due = state.ready_by(at_seconds(t), llmscale::from_seconds(cold_start)) - state.ready();
    if (due > 0) state.mark_ready(due);
    const int current = state.current();
    if (desired > current) {
      state.add_starting(desired - current, at_seconds(t));
    } else if (desired < current) {
      const int cancelled = state.cancel_starting(current - desired);
      state.set_ready(std::max(1, state.ready() - (current - desired - cancelled)));
    }
  }
};

template <class P>
llmscale::Proposal step(P& p, double t, const Signals& s, const FleetState& fleet) {
  const llmscale::Proposal out = p.propose(at_seconds(t), s, fleet);
  llmscale::Decision d;
  d.at = at_seconds(t);
  d.current_replicas = fleet.current();
  d.desired_replicas = out.replicas;
  llmscale::observe_decision(p, d);
  return out;
}

// Ticks `p` on the load from second 1 to `until`, the fleet following its answers.
template <class P>
void run(P& p, Load& load, Fleet& fleet, double until) {
  for (double t = 1; t <= until; t += 1) {
    const Signals s = load.at(t);
    fleet.follow(step(p, t, s, fleet.state).replicas, t);
  }
}

// Runs `make()` for two hours, saves, restores into a new one whose clock is `shift` seconds
// ahead, and compares the third hour with the original; returns how many proposals differ
// between the original and a fresh policy over that hour.
template <class Make>
int restart_matches(Make make, double shift) {
  auto original = make();
  Load load;
  Fleet fleet;
  run(original, load, fleet, 7200);
  double t = 7201;
  const std::string saved = original.save_state(at_seconds(t - 1));
  auto restored = make();
  REQUIRE(restored.load_state(saved, at_seconds(t - 1 + shift)));
  CHECK(restored.save_state(at_seconds(t - 1 + shift)) == saved);
  auto fresh = make();
  int fresh_differs = 0, differs = 0;
  for (; t <= 10800; t += 1) {
    Signals s = load.at(t);
    const llmscale::Proposal a = step(original, t, s, fleet.state);
    Signals shifted = s;
    shifted.at = at_seconds(t + shift);
    // the restored policy sees the same fleet, its starting replicas on its own clock
    FleetState its = fleet.state;
    if (shift != 0) {
      its = FleetState(fleet.state.ready());
      for (const auto& b : fleet.state) its.add_starting(b.count, b.requested_at + llmscale::from_seconds(shift));
    }
    const llmscale::Proposal b = step(restored, t + shift, shifted, its);
    const llmscale::Proposal f = step(fresh, t, s, fleet.state);
    if (a.replicas != b.replicas || !(a.raw == b.raw || (std::isnan(a.raw) && std::isnan(b.raw)))) ++differs;
    if (a.replicas != f.replicas) ++fresh_differs;
    fleet.follow(a.replicas, t);
  }
  CHECK(differs == 0);
  return fresh_differs;
}

auto predictive() { return llmscale::PredictivePolicy<>(slo(), planner()); }
auto pid_on_planner() {
  return llmscale::PidPolicy<llmscale::PredictivePolicy<>>(llmscale::PredictivePolicy<>(slo(), planner()), llmscale::PidConfig{});
}
auto pid_on_slo() { return llmscale::PidPolicy<>(slo(), llmscale::PidConfig{}); }

}  // namespace

static_assert(llmscale::has_saved_state_v<llmscale::PredictivePolicy<>>);
static_assert(llmscale::has_saved_state_v<llmscale::PidPolicy<>>);
static_assert(llmscale::has_saved_state_v<llmscale::SloPolicy>);  // its sizing follows the mixes it has seen
static_assert(!llmscale::has_saved_state_v<llmscale::KpaPolicy>);

TEST_CASE("policy state: a restored llmscale-predictive proposes what the original does and a fresh one does not") {
  CHECK(restart_matches(predictive, 0) > 100);
  CHECK(restart_matches(predictive, 3 * 86400) > 100);  // another clock: times travel as ages
}

TEST_CASE("policy state: a restored llmscale-pid (PID over the planner) proposes what the original does") {
  CHECK(restart_matches(pid_on_planner, 0) > 100);
  CHECK(restart_matches(pid_on_planner, 3 * 86400) > 100);
}

TEST_CASE("policy state: a restored PID over llmscale-slo keeps its integral") {
  auto p = pid_on_slo();
  Load load;
  Fleet fleet;
  run(p, load, fleet, 3600);
  REQUIRE(p.terms().integral > 0);  // the TTFT crossed its target: there is something to keep
  auto q = pid_on_slo();
  REQUIRE(q.load_state(p.save_state(at_seconds(3600)), at_seconds(50)));
  CHECK(q.terms().integral == p.terms().integral);
  CHECK(q.terms().held_ticks == p.terms().held_ticks);
  restart_matches(pid_on_slo, 0);
}

TEST_CASE("policy state: what is not the policy's own state is refused and changes nothing") {
  auto p = predictive();
  Load load;
  Fleet fleet;
  run(p, load, fleet, 1800);
  const auto now = at_seconds(1800);
  const std::string good = p.save_state(now);
  auto other = pid_on_slo();
  CHECK_FALSE(p.load_state(other.save_state(now), now));  // another policy's
  CHECK(p.save_state(now) == good);

  llmscale::PredictiveConfig longer = planner();
  longer.ratio_window_s = 3600;  // another window: the ratios would mean something else
  llmscale::PredictivePolicy<> q(slo(), longer);
  CHECK_FALSE(q.load_state(good, now));
  llmscale::PredictiveConfig coarser = planner();
  coarser.bucket_s = 30;
  CHECK_FALSE(llmscale::PredictivePolicy<>(slo(), coarser).load_state(good, now));

  // truncated anywhere, or one value turned into NaN, a negative count or garbage: refused whole
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const std::size_t cut = std::uniform_int_distribution<std::size_t>(0, good.size() - 1)(rng);
    INFO("cut at " << cut);
    CHECK_FALSE(p.load_state(good.substr(0, cut), now));
  }
  std::vector<std::size_t> spaces;
  for (std::size_t i = 0; i < good.size(); ++i) {
    if (good[i] == ' ') spaces.push_back(i);
  }
  for (const char* bad : {"nan", "-1", "x", "1e999"}) {
    for (int i = 0; i < 50; ++i) {
      // a number inside the ratios' part (after the forecasters' blobs), replaced
      const std::size_t k = std::uniform_int_distribution<std::size_t>(spaces.size() / 2, spaces.size() - 2)(rng);
      const std::size_t from = spaces[k] + 1, to = spaces[k + 1];
      std::string edited = good.substr(0, from) + bad + good.substr(to);
      if (good.substr(from, to - from) == "1" && std::string(bad) == "-1") continue;
      const bool loaded = p.load_state(edited, now);
      if (loaded) {  // a value where any number goes (a level of -1 never is): must be one a policy could hold
        CHECK(std::string(bad) != "nan");
        CHECK(std::string(bad) != "x");
      }
      REQUIRE(p.load_state(good, now));
    }
  }
  CHECK(p.save_state(now) == good);
}

TEST_CASE("state file: the header says what wrote it - a torn or foreign or other-version file is refused with the reason") {
  llmscale::StateFile f{llmscale::library_version(), "llmscale-predictive", 1764925025.25, "predictive/1 60 10 6"};
  const std::string text = llmscale::format_state_file(f);
  const std::string expected = "llmscale-state 1\nlibrary " + llmscale::library_version() +
                               "\npolicy llmscale-predictive\nsaved_unix_s 1764925025.25\nstate 20\npredictive/1 60 10 6\n";
  CHECK(text == expected);
  std::string error;
  const auto back = llmscale::parse_state_file(text, error);
  REQUIRE(back);
  CHECK(back->state == f.state);
  CHECK(back->saved_unix_s == 1764925025.25);
  CHECK(llmscale::refusal(*back, "llmscale-predictive").empty());
  CHECK(llmscale::refusal(*back, "llmscale-pid") == "it holds the state of llmscale-predictive, not of llmscale-pid");
  llmscale::StateFile old = f;
  old.library = "0.0.9";
  CHECK(llmscale::refusal(old, "llmscale-predictive") == "it was written by llmscale 0.0.9, this is " + llmscale::library_version());

  CHECK_FALSE(llmscale::parse_state_file(text.substr(0, text.size() - 3), error));
  CHECK(error == "the state is 17 bytes, the header says 20 (a torn or edited file)");
  CHECK_FALSE(llmscale::parse_state_file(text + "x", error));
  CHECK_FALSE(llmscale::parse_state_file("hello\n", error));
  CHECK(error == "not an llmscale state file (it does not start with 'llmscale-state')");
  std::string v2 = text;
  v2.replace(15, 1, "2");
  CHECK_FALSE(llmscale::parse_state_file(v2, error));
  CHECK(error == "state file format '2', this build reads 1");
  CHECK_FALSE(llmscale::parse_state_file("llmscale-state 1\nlibrary 0.1.0\nsaved_unix_s 1\n", error));
  CHECK(error == "no 'policy' line where one belongs");
  CHECK_FALSE(llmscale::parse_state_file("llmscale-state 1\nlibrary 0.1.0\npolicy p\nsaved_unix_s nan\nstate 0\n\n", error));
  CHECK(error == "saved_unix_s 'nan' is not a time");
}
