// llmscale-scaler --record FILE: what the fleet saw, one CSV row per window (--record-window,
// default 60 s), for llmscale-replay --trace FILE --trace-format llmscale to replay and tune on.
//
// The file (docs/adopting.md, "The record"):
//
//     # llmscale-record 1
//     window_start_s,window_s,arrivals,prompt_tokens_mean,...,desired
//     1765065600.000,60.002,1234,1020.5,800.2,211.3,150,,4,0,2,30,0.21,1.2,0.03,0.08,5
//
// A window is measured between two ticks (its start is the first tick's Unix time, its length
// the time between them, so a slow tick lengthens the window rather than misplace requests):
// arrivals = requests finished + the growth of those in the system (both from the engines'
// counters, restart-safe through ScrapedSignals::totals(); requests that leave the system
// unfinished, with a replica removed mid-flight, make a window's arrivals fewer, never
// negative), token means from the length
// histograms (else the token counters over the requests finished), their spread from the
// length histograms' buckets, TTFT and time-per-token quantiles from their buckets' increases;
// ready and starting replicas, queued and running requests and the decision as of the window's
// end. A blank field is unknown (interarrival_cv: the engines do not expose it; replay assumes
// Poisson). Rows are appended with one write each and flushed to disk, so a crash loses at most
// the window being measured; the file is never rewritten. Past --record-max-bytes it is
// renamed FILE.1 (replacing an older one) and a new FILE begins with the header.
#ifndef LLMSCALE_TOOLS_SCALER_RECORD_HPP
#define LLMSCALE_TOOLS_SCALER_RECORD_HPP

#include <cstdint>
#include <optional>
#include <string>

#include "llmscale/adapters/scraped_signals.hpp"
#include "llmscale/core/fleet_state.hpp"
#include "llmscale/signals/snapshot.hpp"

namespace llmscale_scaler {

/// The record format's version: the first line is "# llmscale-record 1".
inline constexpr int record_version = 1;
/// The column names (the second line).
inline constexpr const char* record_columns =
    "window_start_s,window_s,arrivals,prompt_tokens_mean,prompt_tokens_sd,output_tokens_mean,output_tokens_sd,"
    "interarrival_cv,ready,starting,queued,running,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,desired";

/// One row. NaN: unknown (a blank field).
struct RecordWindow {
  double start_s = 0;    ///< Unix seconds
  double window_s = 0;   ///< seconds
  double arrivals = 0;   ///< requests
  double prompt_mean = 0, prompt_sd = 0, output_mean = 0, output_sd = 0;  ///< tokens
  double interarrival_cv = 0;
  int ready = 0, starting = 0;
  double queued = 0, running = 0;  ///< requests, at the window's end
  double ttft_p50_s = 0, ttft_p99_s = 0, tpot_p50_s = 0, tpot_p99_s = 0;
  int desired = 0;  ///< the decision at the window's end (the shadow one in shadow mode)
};

/// The row's CSV text, with its newline.
[[nodiscard]] std::string format_record_row(const RecordWindow& w);

/// Turns the totals ScrapedSignals has counted into windows: call tick() after each decision.
class WindowRecorder {
 public:
  /// Windows of `window_s`, measured at ticks `tick_s` apart: a window ends at the tick nearest
  /// its nominal end (within half a tick).
  WindowRecorder(double window_s, double tick_s) : window_s_(window_s), tick_s_(tick_s) {}
  /// A window that ended at this tick (Unix time `unix_now`), or nothing. The first window
  /// starts at the first tick after a replica has reported.
  std::optional<RecordWindow> tick(double unix_now, const llmscale::ScrapedSignals& signals, const llmscale::Signals& s,
                                   const llmscale::FleetState& fleet, int desired);

 private:
  double window_s_, tick_s_;
  bool started_ = false;
  double start_ = 0;
  llmscale::ScrapedTotals base_;
};

/// The record file: appends rows, rotates by size.
class RecordFile {
 public:
  /// Opens `path` for appending (creating it with the header): throws UsageError when it exists
  /// and is not a record, or is of a newer version than this scaler writes.
  RecordFile(std::string path, std::uintmax_t max_bytes);
  ~RecordFile();
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;
  /// Appends `row` (one write, then fdatasync); rotates first when it would pass max_bytes
  /// (when the rename fails the row goes on in the file as it is, and rotation is tried again).
  /// False when something failed (`error` says why; the next row tries again).
  bool append(const std::string& row, std::string& error);

  [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::uint64_t rotations() const noexcept { return rotations_; }
  [[nodiscard]] std::uint64_t errors() const noexcept { return errors_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  bool open_fresh(bool exclusive, std::string& error);  ///< a new file with the header (O_EXCL after a rotation)
  std::string path_;
  std::uintmax_t max_bytes_;
  int fd_ = -1;
  std::uintmax_t size_ = 0;
  std::uint64_t rows_ = 0, rotations_ = 0, errors_ = 0;
};

/// The first line of a record of `version`.
[[nodiscard]] std::string record_version_line(int version = record_version);
/// The version a record's first line names; nullopt when it is not a record's first line.
[[nodiscard]] std::optional<int> record_version_of(const std::string& first_line);

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_SCALER_RECORD_HPP
