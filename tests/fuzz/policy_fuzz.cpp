// Fuzz target: random tick sequences (any times, any signal values, stale or not, any fleet)
// through every policy (the anchors, llmscale-slo, -pid and -predictive) composed with the
// governor. It fails if a decision leaves [min_replicas, max_replicas], scales down on stale
// signals, or anything crashes (run under ASan/UBSan).
//
// Built two ways: with clang's -fsanitize=fuzzer as llmscale-fuzz-policy (CI runs it for 60 s),
// and everywhere as a plain test that replays a fixed set of random inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz/fuzz_input.hpp"
#include "llmscale/policy/policies.hpp"

namespace {

class Input : public llmscale_fuzz::FuzzInput {
 public:
  using FuzzInput::FuzzInput;
  // a plausible value most of the time, any double (NaN, infinity, negative) sometimes
  double value(double scale) {
    const std::uint8_t how = byte();
    if (how < 24) return f64();
    return scale * byte() / 255.0;
  }
};

void fail(const char* what, const char* policy, int desired, int current) {
  std::fprintf(stderr, "policy fuzz: %s (policy %s, desired %d, current %d)\n", what, policy, desired, current);
  std::abort();
}

template <class P>
void drive(P policy, const std::uint8_t* data, std::size_t size) {
  llmscale::GovernorConfig g;
  g.min_replicas = data[0] % 3;  // 0 enables scale to zero
  g.max_replicas = 50;
  llmscale::Autoscaler<P> scaler(std::move(policy), g, llmscale::at_seconds(0));
  Input in(data + 1, size - 1);
  double t = 0;
  double prompt_tokens = 1000, output_tokens = 200;
  llmscale::FleetState fleet(3);
  while (!in.empty()) {
    const std::uint8_t step = in.byte();
    t += step < 8 ? -static_cast<double>(step) : step / 8.0;  // sometimes backwards
    llmscale::Signals s;
    s.running_now = in.value(500);
    s.queued_now = in.value(200);
    s.concurrency = in.value(700);
    s.queued = in.value(200);
    s.arrival_rate = in.value(100);
    s.engines.replicas_reporting = in.byte() % 60;
    s.engines.replicas_saturated = in.byte() % 60;
    s.engines.kv_utilization = in.value(1.2);
    s.engines.batch_occupancy = in.value(1.2);
    s.engines.queue_length_mean = in.value(20);
    s.engines.unsaturated_kv_use_sum = in.value(40);
    s.engines.unsaturated_queue_total = in.byte();
    s.queue_wait_p99_s = in.value(5);
    s.ttft_p99_s = in.value(10);
    if ((in.byte() & 15) == 0) {  // the token mix changes now and then (each change re-sizes llmscale-slo)
      prompt_tokens = in.value(4000);
      output_tokens = in.value(500);
    }
    s.mean_prompt_tokens = prompt_tokens;
    s.mean_output_tokens = output_tokens;
    s.requests.stale = (in.byte() & 7) == 0;
    s.engine.stale = (in.byte() & 7) == 0;
    const int ready = in.byte() % 60;
    fleet = llmscale::FleetState(ready);
    if ((in.byte() & 3) == 0) fleet.add_starting(in.byte() % 10, llmscale::at_seconds(t));
    const llmscale::Decision& d = scaler.tick(llmscale::at_seconds(t), s, fleet);
    if (d.binding == llmscale::Constraint::ignored_tick) continue;
    if (d.desired_replicas < g.min_replicas || d.desired_replicas > g.max_replicas) {
      fail("outside [min, max]", d.policy, d.desired_replicas, fleet.current());
    }
    const bool stale = s.requests.stale || s.engine.stale;
    if (stale && d.desired_replicas < fleet.current() && fleet.current() <= g.max_replicas) {
      fail("scale-down on stale signals", d.policy, d.desired_replicas, fleet.current());
    }
  }
}

// a small engine (16 requests) keeps each input's first sizing quick
llmscale::SloConfig slo_config() {
  llmscale::SloConfig c;
  c.max_batch = 16;
  return c;
}
llmscale::SloPolicy slo_policy() {
  return llmscale::SloPolicy{
      llmscale::LatencyProfile::from_coefficients(
          llmscale::PrefillCoefficients{20, 0.1, 0, llmscale::PrefillCoefficients::Quadratic::sum_of_squares},
          llmscale::DecodeCoefficients{10, 1e-4, 0.5}),
      slo_config()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  switch (data[0] % 8) {
    case 0: drive(llmscale::HpaPolicy{}, data, size); break;
    case 1: drive(llmscale::KpaPolicy{llmscale::KpaConfig{}, llmscale::at_seconds(0)}, data, size); break;
    case 2: drive(llmscale::RayServePolicy{}, data, size); break;
    case 3: drive(llmscale::AibrixApaPolicy{}, data, size); break;
    case 4: drive(llmscale::LlmdSaturationPolicy{}, data, size); break;
    case 5: drive(slo_policy(), data, size); break;
    case 6: {
      llmscale::PidConfig pid;
      pid.signal = static_cast<llmscale::PidSignal>(data[size - 1] % 3);
      pid.kd = 5;
      drive(llmscale::PidPolicy<>{slo_policy(), pid}, data, size);
      break;
    }
    default: {
      llmscale::PredictiveConfig predictive;
      predictive.bucket_s = 10;  // buckets close within short inputs
      predictive.cold_start_s = 120;
      drive(llmscale::PredictivePolicy<>{slo_policy(), predictive}, data, size);
      break;
    }
  }
  return 0;
}

#define LLMSCALE_FUZZ_REPLAY_RUNS 1000
#include "fuzz/replay_main.hpp"
