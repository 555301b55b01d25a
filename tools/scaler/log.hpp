// llmscale-scaler's log: one line per event, "2025-01-02T03:04:05Z llmscale-scaler warn: ...", on
// stderr (the container's log), and per-key rate limiting so that an engine failing every tick
// writes one line a minute, not one a tick, then says how many it held back. Thread-safe.
// Not spdlog: a 40-line need does not justify a new dependency in the image and the build.
#ifndef LLMSCALE_TOOLS_SCALER_LOG_HPP
#define LLMSCALE_TOOLS_SCALER_LOG_HPP

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace llmscale_scaler::log {

enum class Level { info, warn, error };
/// Where lines go (without their newline); a test captures them with set_sink.
using Sink = std::function<void(std::string_view line)>;

namespace detail {
struct Limited {
  std::chrono::steady_clock::time_point last;
  std::uint64_t held = 0;
};
struct State {
  std::mutex mu;
  Sink sink;  // empty: stderr
  std::unordered_map<std::string, Limited> keys;
};
inline State& state() {
  static State s;
  return s;
}
/// What this thread's lines are about ("fleet llm/vllm-a": a metadata fleet), or "".
inline thread_local std::string context;
inline void emit(State& s, Level level, std::string_view message, std::uint64_t held) {  // under s.mu
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::string line = std::string(stamp) + " llmscale-scaler " +
                     (level == Level::info ? "info" : level == Level::warn ? "warn" : "error") + ": ";
  if (!context.empty()) line += context + ": ";
  line += message;
  if (held > 0) line += " (" + std::to_string(held) + " more like this held back)";
  if (s.sink) return s.sink(line);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}
}  // namespace detail

/// While it lives, this thread's lines start with "`what`: " (and their rate-limit keys are
/// its own): a metadata fleet's lines name their fleet.
class Context {
 public:
  explicit Context(std::string what) : saved_(std::exchange(detail::context, std::move(what))) {}
  ~Context() { detail::context = std::move(saved_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  std::string saved_;
};

/// Sends lines to `sink` from now on (an empty one: stderr), as a new log: rate limits restart.
inline void set_sink(Sink sink) {
  std::lock_guard<std::mutex> lock(detail::state().mu);
  detail::state().sink = std::move(sink);
  detail::state().keys.clear();
}

inline void write(Level level, std::string_view message) {
  std::lock_guard<std::mutex> lock(detail::state().mu);
  detail::emit(detail::state(), level, message, 0);
}

/// Writes at most one line per `every_s` seconds for `key` (an endpoint's trouble, a refusal);
/// the others are counted and the next line written says how many. True when written.
inline bool limited(Level level, const std::string& key, std::string_view message, double every_s = 60) {
  detail::State& s = detail::state();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.keys.size() > 4096) s.keys.clear();  // keys name endpoints and fields: only churn gets here
  auto [it, fresh] = s.keys.try_emplace(detail::context.empty() ? key : detail::context + "|" + key);
  if (!fresh && now - it->second.last < std::chrono::duration<double>(every_s)) {
    ++it->second.held;
    return false;
  }
  detail::emit(s, level, message, it->second.held);
  it->second = detail::Limited{now, 0};
  return true;
}

}  // namespace llmscale_scaler::log

#endif  // LLMSCALE_TOOLS_SCALER_LOG_HPP
