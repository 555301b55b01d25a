// llmscale-replay: what it refuses before it runs, so that a mistake costs a message, not a run
// (and never a report of success on nothing): a trace path that is not a readable file, an
// output file that cannot be written, a load with no request, a load spanning more time than
// anyone means to simulate.
#ifndef LLMSCALE_TOOLS_REPLAY_CHECKS_HPP
#define LLMSCALE_TOOLS_REPLAY_CHECKS_HPP

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "llmscale/sim/trace.hpp"

namespace llmscale_replay {

/// A mistake on the command line: the tool exits 2 with the message (empty: --help, exit 0).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// --trace names a regular file this process can read (a directory opens as a stream that
/// reads nothing, which used to replay as "0 requests, 100 % SLO").
inline void check_trace_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw UsageError("--trace '" + path + "': no such file");
  if (fs::is_directory(st)) throw UsageError("--trace '" + path + "' is a directory; want a trace file");
  if (!std::ifstream(path)) throw UsageError("--trace '" + path + "': cannot be read (permissions?)");
}

/// An output file named by `flag` can be written, checked before the run rather than after it.
/// A file that did not exist is not left behind.
inline void check_output_path(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw UsageError(flag + " '" + path + "' is a directory; want a file name");
  const bool existed = fs::exists(path, ec);
  {
    std::ofstream probe(path, std::ios::app);
    if (!probe) throw UsageError(flag + " '" + path + "': cannot be written (no such directory, or permissions)");
  }
  if (!existed) fs::remove(path, ec);
}

/// How much load a source holds: its requests and the span of their arrivals.
struct LoadExtent {
  long long requests = 0;
  double first_s = 0, last_s = 0;
  [[nodiscard]] double span_s() const noexcept { return last_s - first_s; }
};

/// One pass over `source` (anything with `bool next(TraceRequest&)`).
template <class Source>
LoadExtent load_extent(Source&& source) {
  LoadExtent e;
  llmscale::TraceRequest r;
  while (source.next(r)) {
    if (e.requests == 0) e.first_s = r.arrival_s;
    e.last_s = r.arrival_s;
    ++e.requests;
  }
  return e;
}

/// Spans over this are refused: every simulated second ticks every policy (about a microsecond
/// each; an idle second costs no engine work, but it still ticks), so a year of a trace is an
/// hour per policy, and a span that long is nearly always a unit mistake (milliseconds read as
/// seconds) or one stray row.
inline constexpr double max_span_s = 366.0 * 86400;
/// Spans over this are replayed with a warning saying what they will cost.
inline constexpr double warn_span_s = 8.0 * 86400;

/// Throws UsageError for a load with no request or one spanning more than max_span_s; warns on
/// stderr above warn_span_s. `name`: the trace or scenario, `skipped`: its malformed rows.
inline void check_load_extent(const LoadExtent& e, const std::string& name, long long skipped, std::size_t policies) {
  if (e.requests == 0) {
    throw UsageError("'" + name + "' holds no request to replay" +
                     (skipped > 0 ? " (" + std::to_string(skipped) + " malformed rows skipped)" : std::string()) +
                     ": check --trace-format and the file");
  }
  const double days = e.span_s() / 86400;
  const auto g = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return std::string(b);
  };
  if (!(e.span_s() <= max_span_s)) {
    throw UsageError("'" + name + "' spans " + g(days) + " days (arrivals from " + g(e.first_s) + " s to " + g(e.last_s) +
                     " s); at most 366 are replayed: is a timestamp in milliseconds read as seconds, or one row far "
                     "from the rest?");
  }
  if (e.span_s() > warn_span_s) {
    std::fprintf(stderr,
                 "llmscale-replay: '%s' spans %.3g days: every simulated second ticks every policy, about %.0f s of "
                 "CPU in all for %zu policies\n",
                 name.c_str(), days, e.span_s() * 0.5e-6 * static_cast<double>(policies), policies);
  }
}

}  // namespace llmscale_replay

#endif  // LLMSCALE_TOOLS_REPLAY_CHECKS_HPP
