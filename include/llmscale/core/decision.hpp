// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Decision: what one tick decided and why. It carries the desired replica count, the reason,
// the limit that bound it, every stage's proposal and the inputs that mattered, so an operator
// answers "why did it scale?" from one log line. Fixed-size: building, copying and formatting
// a Decision into a caller's buffer never allocates.
#ifndef LLMSCALE_CORE_DECISION_HPP
#define LLMSCALE_CORE_DECISION_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/detail/buffer_writer.hpp"
#include "llmscale/core/time.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// The limit that set the final replica count, when it was not the policy's own proposal.
enum class Constraint : std::uint8_t {
  none,            ///< the policy's proposal stood
  min_replicas,    ///< raised to the configured minimum
  max_replicas,    ///< lowered to the configured maximum
  tolerance,       ///< the change was inside the tolerance band: held
  rate_limit,      ///< a scale-up or scale-down rate policy capped the change
  stabilization,   ///< a stabilization window kept an earlier recommendation
  cooldown,        ///< too soon after the last change in that direction
  pending,         ///< replicas already starting cover the need
  scale_to_zero,   ///< held above zero until the idle grace period passed
  activation,      ///< raised from zero (or to the activation scale) on demand
  stale_signals,   ///< signals were stale or missing: no scale-down
  ignored_tick,    ///< `now` went backwards: the previous decision stands
};

/// The snake_case name of `c`, as used in logs and JSON.
constexpr const char* to_string(Constraint c) noexcept {
  switch (c) {
    case Constraint::none: return "none";
    case Constraint::min_replicas: return "min_replicas";
    case Constraint::max_replicas: return "max_replicas";
    case Constraint::tolerance: return "tolerance";
    case Constraint::rate_limit: return "rate_limit";
    case Constraint::stabilization: return "stabilization";
    case Constraint::cooldown: return "cooldown";
    case Constraint::pending: return "pending";
    case Constraint::scale_to_zero: return "scale_to_zero";
    case Constraint::activation: return "activation";
    case Constraint::stale_signals: return "stale_signals";
    case Constraint::ignored_tick: return "ignored_tick";
  }
  return "unknown";
}

/// Which way a decision moves the fleet.
enum class Direction : std::uint8_t { hold, up, down };

/// The name of `d`: "hold", "up" or "down".
constexpr const char* to_string(Direction d) noexcept {
  switch (d) {
    case Direction::hold: return "hold";
    case Direction::up: return "up";
    case Direction::down: return "down";
  }
  return "unknown";
}

/// One stage's answer: a policy's proposal, or a governor stage's adjustment of it.
/// `stage` and `reason` must point to storage that outlives the Decision (string literals).
struct Proposal {
  const char* stage = "";  ///< the policy's or governor stage's name, e.g. "rate_limit"
  int replicas = 0;        ///< the replica count it proposed
  /// The unrounded value behind `replicas` (e.g. 6.53 replicas' worth of load); NaN if none.
  double raw = std::numeric_limits<double>::quiet_NaN();
  const char* reason = "";  ///< why, in a few words
};

/// A named input value that mattered to the decision (name: a string literal).
struct DecisionInput {
  const char* name = "";  ///< e.g. "ready"
  double value = 0.0;     ///< its value at the tick
};

/// The outcome of one tick.
struct Decision {
  static constexpr std::size_t max_proposals = 8;  ///< proposals a Decision holds; more are dropped
  static constexpr std::size_t max_inputs = 8;     ///< inputs a Decision holds; more are dropped

  TimePoint at{};            ///< the tick's `now`
  int current_replicas = 0;  ///< ready plus starting when the tick ran
  int desired_replicas = 0;  ///< what the host should run
  const char* policy = "";   ///< the proposing policy's name
  const char* reason = "";   ///< why, in a few words
  Constraint binding = Constraint::none;            ///< the limit that set desired_replicas (none: the proposal stood)
  std::array<Proposal, max_proposals> proposals{};  ///< the policy's proposal, then each stage that changed it
  std::array<DecisionInput, max_inputs> inputs{};   ///< the inputs that mattered
  std::uint8_t proposal_count = 0;                  ///< how many of `proposals` are used
  std::uint8_t input_count = 0;                     ///< how many of `inputs` are used

  /// Appends a stage's proposal; false when all `max_proposals` slots are used.
  bool add_proposal(const Proposal& p) noexcept {
    if (proposal_count >= max_proposals) return false;
    proposals[proposal_count++] = p;
    return true;
  }

  /// Appends a named input; false when all `max_inputs` slots are used.
  bool add_input(const char* name, double value) noexcept {
    if (input_count >= max_inputs) return false;
    inputs[input_count++] = DecisionInput{name, value};
    return true;
  }

  /// Up, down or hold: desired_replicas against current_replicas.
  [[nodiscard]] Direction direction() const noexcept {
    if (desired_replicas > current_replicas) return Direction::up;
    if (desired_replicas < current_replicas) return Direction::down;
    return Direction::hold;
  }

  /// One human-readable line into `buf[0, size)`, NUL-terminated; returns the length the
  /// whole line needs (as snprintf does), so a return value >= size means it was cut.
  std::size_t format_to(char* buf, std::size_t size) const noexcept;

  /// One JSON object on one line into `buf[0, size)`; same return convention.
  std::size_t format_json_to(char* buf, std::size_t size) const noexcept;

  /// The line of `format_to` as a std::string (allocates; for logs off the hot path).
  [[nodiscard]] std::string to_string() const;
  /// The line of `format_json_to` as a std::string (allocates).
  [[nodiscard]] std::string to_json() const;
};

// ---------------------------------------------------------------------------------------------
// Implementation.

inline std::size_t Decision::format_to(char* buf, std::size_t size) const noexcept {
  detail::BufferWriter w(buf, size);
  w.put("t=");
  w.put_double(to_seconds(at), 12, "nan");
  w.put("s replicas ");
  w.put_int(current_replicas);
  w.put(" -> ");
  w.put_int(desired_replicas);
  w.put(" (");
  w.put(llmscale::to_string(direction()));
  w.put(") by ");
  w.put(policy);
  w.put(": ");
  w.put(reason);
  w.put("; bound: ");
  w.put(llmscale::to_string(binding));
  if (proposal_count > 0) {
    w.put("; proposals:");
    for (std::size_t i = 0; i < proposal_count; ++i) {
      w.put(i == 0 ? " " : ", ");
      w.put(proposals[i].stage);
      w.put('=');
      w.put_int(proposals[i].replicas);
      if (std::isfinite(proposals[i].raw)) {
        w.put(" (");
        w.put_double(proposals[i].raw, 4, "nan");
        w.put(')');
      }
    }
  }
  if (input_count > 0) {
    w.put("; inputs:");
    for (std::size_t i = 0; i < input_count; ++i) {
      w.put(i == 0 ? " " : ", ");
      w.put(inputs[i].name);
      w.put('=');
      w.put_double(inputs[i].value, 6, "nan");
    }
  }
  return w.finish();
}

inline std::size_t Decision::format_json_to(char* buf, std::size_t size) const noexcept {
  detail::BufferWriter w(buf, size);
  w.put("{\"t\":");
  w.put_double(to_seconds(at), 15, "null");
  w.put(",\"current\":");
  w.put_int(current_replicas);
  w.put(",\"desired\":");
  w.put_int(desired_replicas);
  w.put(",\"direction\":\"");
  w.put(llmscale::to_string(direction()));
  w.put("\",\"policy\":");
  w.put_json_string(policy);
  w.put(",\"reason\":");
  w.put_json_string(reason);
  w.put(",\"binding\":\"");
  w.put(llmscale::to_string(binding));
  w.put("\",\"proposals\":[");
  for (std::size_t i = 0; i < proposal_count; ++i) {
    if (i > 0) w.put(',');
    w.put("{\"stage\":");
    w.put_json_string(proposals[i].stage);
    w.put(",\"replicas\":");
    w.put_int(proposals[i].replicas);
    w.put(",\"raw\":");
    w.put_double(proposals[i].raw, 10, "null");
    w.put(",\"reason\":");
    w.put_json_string(proposals[i].reason);
    w.put('}');
  }
  w.put("],\"inputs\":{");
  for (std::size_t i = 0; i < input_count; ++i) {
    if (i > 0) w.put(',');
    w.put_json_string(inputs[i].name);
    w.put(':');
    w.put_double(inputs[i].value, 10, "null");
  }
  w.put("}}");
  return w.finish();
}

namespace detail {
template <class Format>
std::string format_to_string(Format&& format) {
  std::string out(192, '\0');
  std::size_t n = format(out.data(), out.size() + 1);  // C++11 strings keep room for the NUL
  if (n > out.size()) {
    out.assign(n, '\0');
    n = format(out.data(), out.size() + 1);
  }
  out.resize(n);
  return out;
}
}  // namespace detail

inline std::string Decision::to_string() const {
  return detail::format_to_string([this](char* b, std::size_t n) { return format_to(b, n); });
}

inline std::string Decision::to_json() const {
  return detail::format_to_string([this](char* b, std::size_t n) { return format_json_to(b, n); });
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_CORE_DECISION_HPP
