// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Writing the Prometheus text exposition format (0.0.4), for a host's own /metrics page:
// PrometheusWriter appends `# HELP` / `# TYPE` lines and samples to a string, escaping label
// values (\\, \", \n); expose_decision() writes a Decision and the fleet it was taken for, and
// expose_signals() the Signals a policy read, under the names llmscale-scaler serves and
// deploy/grafana/llmscale.json charts (docs/kubernetes.md lists them):
//
//   llmscale_desired_replicas, llmscale_current_replicas, llmscale_ready_replicas,
//   llmscale_starting_replicas, llmscale_binding_constraint{constraint},
//   llmscale_decision_info{policy,reason}, llmscale_proposal_replicas{stage},
//   llmscale_decision_input{name}, llmscale_signal{name}, llmscale_signal_stale{signal},
//   llmscale_signal_age_seconds{signal}, llmscale_signal_dropped_total{signal,why}
//
// A value that is not finite is written as 0 (a gauge a dashboard can always plot). The page
// parses back with PrometheusParser (adapters/prometheus.hpp); the tests check that it does.
#ifndef LLMSCALE_ADAPTERS_EXPOSITION_HPP
#define LLMSCALE_ADAPTERS_EXPOSITION_HPP

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/decision.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/signals/snapshot.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Appends a Prometheus text page to `out`.
class PrometheusWriter {
 public:
  /// Writes to `out` (kept by reference: it must outlive the writer).
  explicit PrometheusWriter(std::string& out) noexcept : out_(out) {}

  /// `# HELP name text` and `# TYPE name type` (type: gauge, counter, ...).
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  /// One sample: `name{labels} value`, `labels` already written as `key="value",...` (use
  /// label() to build them) or empty.
  void sample(std::string_view name, std::string_view labels, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", std::isfinite(value) ? value : 0.0);
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += buf;
    out_ += '\n';
  }
  /// `key="value"` with the value escaped.
  [[nodiscard]] static std::string label(std::string_view key, std::string_view value) {
    std::string r(key);
    r += "=\"";
    r += escape(value);
    r += '"';
    return r;
  }
  /// A label value escaped as the format asks: backslash, double quote and newline.
  [[nodiscard]] static std::string escape(std::string_view v) {
    std::string r;
    r.reserve(v.size());
    for (const char c : v) {
      if (c == '\n') {
        r += "\\n";
        continue;
      }
      if (c == '\\' || c == '"') r += '\\';
      r += c;
    }
    return r;
  }

 private:
  std::string& out_;
};

/// The decision and the fleet it was taken for. A `mode` ("shadow": the decision is only
/// watched) labels the desired count with it.
inline void expose_decision(PrometheusWriter& w, const Decision& d, const FleetState& fleet, std::string_view mode = {}) {
  w.family("llmscale_desired_replicas", "gauge", "The replica count llmscale asks for (KEDA's external metric, target 1).");
  w.sample("llmscale_desired_replicas", mode.empty() ? std::string() : PrometheusWriter::label("mode", mode), d.desired_replicas);
  w.family("llmscale_current_replicas", "gauge", "Replicas ready or starting when the decision was taken.");
  w.sample("llmscale_current_replicas", "", fleet.current());
  w.family("llmscale_ready_replicas", "gauge", "Replicas serving.");
  w.sample("llmscale_ready_replicas", "", fleet.ready());
  w.family("llmscale_starting_replicas", "gauge", "Replicas counted as starting (asked for, not serving yet).");
  w.sample("llmscale_starting_replicas", "", fleet.starting());
  w.family("llmscale_binding_constraint", "gauge", "The constraint that set the decision (1 for the binding one).");
  w.sample("llmscale_binding_constraint", PrometheusWriter::label("constraint", to_string(d.binding)), 1);
  w.family("llmscale_decision_info", "gauge", "The policy and the reason of the last decision.");
  w.sample("llmscale_decision_info",
           PrometheusWriter::label("policy", d.policy) + "," + PrometheusWriter::label("reason", d.reason), 1);
  w.family("llmscale_proposal_replicas", "gauge", "Each stage's proposal at the last tick.");
  for (std::size_t i = 0; i < d.proposal_count; ++i) {
    w.sample("llmscale_proposal_replicas", PrometheusWriter::label("stage", d.proposals[i].stage), d.proposals[i].replicas);
  }
  w.family("llmscale_decision_input", "gauge", "Named inputs that mattered to the last decision.");
  for (std::size_t i = 0; i < d.input_count; ++i) {
    w.sample("llmscale_decision_input", PrometheusWriter::label("name", d.inputs[i].name), d.inputs[i].value);
  }
}

/// The signals a policy read, and the health of their sources.
inline void expose_signals(PrometheusWriter& w, const Signals& s) {
  w.family("llmscale_signal", "gauge", "The signals the policy read at the last tick.");
  const std::pair<const char*, double> values[] = {
      {"arrival_rate", s.arrival_rate},
      {"completion_rate", s.completion_rate},
      {"concurrency", s.concurrency},
      {"running_now", s.running_now},
      {"queued_now", s.queued_now},
      {"mean_ttft_s", s.mean_ttft_s},
      {"mean_queue_wait_s", s.mean_queue_wait_s},
      {"mean_e2e_latency_s", s.mean_e2e_latency_s},
      {"ttft_p50_s", s.ttft_p50_s},
      {"ttft_p99_s", s.ttft_p99_s},
      {"tpot_p50_s", s.tpot_p50_s},
      {"tpot_p99_s", s.tpot_p99_s},
      {"queue_wait_p99_s", s.queue_wait_p99_s},
      {"mean_prompt_tokens", s.mean_prompt_tokens},
      {"mean_output_tokens", s.mean_output_tokens},
      {"output_sigma", s.output_sigma},
      {"kv_utilization", s.engines.kv_utilization},
      {"kv_utilization_max", s.engines.kv_utilization_max},
      {"queue_length_max", static_cast<double>(s.engines.queue_length_max)},
      {"replicas_saturated", static_cast<double>(s.engines.replicas_saturated)}};
  for (const auto& [name, v] : values) w.sample("llmscale_signal", PrometheusWriter::label("name", name), v);
  w.family("llmscale_signal_stale", "gauge", "1 when a signal's source is stale (the governor then never scales down).");
  const std::pair<const char*, const SignalHealth*> health[] = {{"engine", &s.engine}, {"requests", &s.requests}};
  for (const auto& [name, h] : health) {
    w.sample("llmscale_signal_stale", PrometheusWriter::label("signal", name), h->stale ? 1 : 0);
  }
  w.family("llmscale_signal_age_seconds", "gauge", "Seconds since the signal's source last gave fresh data.");
  for (const auto& [name, h] : health) w.sample("llmscale_signal_age_seconds", PrometheusWriter::label("signal", name), h->age_s);
  w.family("llmscale_signal_dropped_total", "counter", "Samples dropped: invalid (unusable pages, bad values) or stale.");
  for (const auto& [name, h] : health) {
    const std::string l = PrometheusWriter::label("signal", name);
    w.sample("llmscale_signal_dropped_total", l + ",why=\"invalid\"", static_cast<double>(h->dropped_invalid));
    w.sample("llmscale_signal_dropped_total", l + ",why=\"stale\"", static_cast<double>(h->dropped_stale));
  }
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_EXPOSITION_HPP
