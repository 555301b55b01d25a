// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Request traces for the simulator, read as a stream (constant memory: a 10^7-row file is read
// a row at a time):
//   azure  `TIMESTAMP,ContextTokens,GeneratedTokens`, TIMESTAMP wall clock
//          (`2023-11-16 18:15:46.6805900`, fraction optional), the Azure LLM inference traces
//          of 2023 and 2024
//   csv    `arrival_time_s,input_tokens,output_tokens` (seconds, any origin)
//   mooncake  JSONL: `timestamp` (ms), `input_length`, `output_length`
//   burstgpt  `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`
//   servegen  a rate series: `window_start_s,...,total_rate_rps,...,rate_weighted_mean_iat_cv,...`
//   llmscale  a record the scaler appends once per window (a rate series too): a version line,
//             then 17 columns (one line in the file)
//               # llmscale-record 1
//               window_start_s,window_s,arrivals,prompt_tokens_mean,prompt_tokens_sd,
//               output_tokens_mean,output_tokens_sd,interarrival_cv,ready,starting,queued,running,
//               ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,desired
//             The first non-blank line names the version: a newer one than record_version, or
//             a file without it, throws TraceVersionError whatever `strict` (its rows would be
//             misread, not merely malformed). Other `#` lines are comments and a line starting
//             with a letter is a header, wherever they are (a rotated record repeats them). A
//             blank field is unknown. window_start_s (Unix s) and window_s (above 0 to 86,400 s)
//             place the window; arrivals (0 to 1e9, fractional allowed) over window_s is its
//             rate; the token means (>= 1, blank: the default lengths), their standard
//             deviations (>= 0) and interarrival_cv (blank: 1) shape its requests; ready ..
//             desired (what the fleet did) are checked (blank or >= 0) and kept with the
//             window (RateWindow::fleet) for the replay of the recorded fleet and the check of
//             the simulator against the cluster (sim/recorded_fleet.hpp, sim/record_check.hpp).
// A header row (a first row whose first field is not a time) is skipped. Times are made
// relative to the first request's (a rate series': the first window's start). A malformed row
// (a missing or extra field, a bad number or time, tokens below 1 for the prompt or 1 for the
// output, a time before the previous row's by more than `max_disorder_s` (2 s)) is skipped and
// counted, and the first few are kept with their line numbers; with `strict` the first one
// throws TraceError instead.
// ScaledTrace applies `--rate-scale K` (docs/simulator.md): floor(K) copies of each request, each
// shifted by a seeded uniform 0-1 s jitter, plus one more with probability K - floor(K); the
// result comes out in time order through a small reorder heap.
#ifndef LLMSCALE_SIM_TRACE_HPP
#define LLMSCALE_SIM_TRACE_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cctype>
#include <cstdint>
#include <deque>
#include <cstdlib>
#include <istream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/number.hpp"
#include "llmscale/core/config.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// One request of a trace: when it arrives and its lengths.
struct TraceRequest {
  double arrival_s = 0;        ///< seconds after the trace's first request
  std::int32_t prompt_tokens = 0;  ///< tokens in its prompt
  std::int32_t output_tokens = 0;  ///< tokens it generates
};

/// A request stream held in memory (the oracle reads the future from it); copies read on
/// independently from where the original was.
class InMemoryTrace {
 public:
  InMemoryTrace() = default;
  /// `requests` in time order; must outlive the trace.
  explicit InMemoryTrace(const std::vector<TraceRequest>& requests) noexcept : requests_(&requests) {}
  /// Reads every request `source` (anything with `bool next(TraceRequest&)`) gives.
  template <class Source>
  static std::vector<TraceRequest> collect(Source& source) {
    std::vector<TraceRequest> all;
    TraceRequest r;
    while (source.next(r)) all.push_back(r);
    return all;
  }
  /// The next request into `out`; false at the end (or for a default-made trace).
  bool next(TraceRequest& out) noexcept {
    if (requests_ == nullptr || at_ >= requests_->size()) return false;
    out = (*requests_)[at_++];
    return true;
  }

 private:
  const std::vector<TraceRequest>* requests_ = nullptr;
  std::size_t at_ = 0;
};

/// A trace file's format (see the top of this file and TraceReader).
enum class TraceFormat : std::uint8_t { azure, csv, mooncake, burstgpt, servegen, llmscale };

/// The spellings of TraceFormat, as parse_trace_format reads them.
inline constexpr std::array<EnumName<TraceFormat>, 6> trace_format_names{{{"azure", TraceFormat::azure},
                                                                          {"csv", TraceFormat::csv},
                                                                          {"mooncake", TraceFormat::mooncake},
                                                                          {"burstgpt", TraceFormat::burstgpt},
                                                                          {"servegen", TraceFormat::servegen},
                                                                          {"llmscale", TraceFormat::llmscale}}};

/// Parses a format's name ("azure", "csv", "mooncake", "burstgpt", "servegen", "llmscale");
/// false for anything else.
inline bool parse_trace_format(std::string_view s, TraceFormat& out) noexcept {
  return detail::enum_value(trace_format_names, s, out);
}

/// Whether files of `format` hold a rate series (read with TraceReader::next_window and made
/// into requests by RateSeriesTrace) rather than requests.
[[nodiscard]] constexpr bool is_rate_series(TraceFormat format) noexcept {
  return format == TraceFormat::servegen || format == TraceFormat::llmscale;
}

/// What a live fleet did in one window of an llmscale record (its columns `ready` to `desired`,
/// as llmscale-scaler measures them); NaN: unknown (a blank field, and all of a ServeGen
/// window's).
struct FleetObservation {
  double ready = std::numeric_limits<double>::quiet_NaN();       ///< replicas serving at the window's end
  double starting = std::numeric_limits<double>::quiet_NaN();    ///< replicas starting at the window's end
  double queued = std::numeric_limits<double>::quiet_NaN();      ///< requests waiting at the window's end
  double running = std::numeric_limits<double>::quiet_NaN();     ///< requests running at the window's end
  double ttft_p50_s = std::numeric_limits<double>::quiet_NaN();  ///< the median TTFT over the window (s)
  double ttft_p99_s = std::numeric_limits<double>::quiet_NaN();  ///< the 99th percentile TTFT over the window (s)
  double tpot_p50_s = std::numeric_limits<double>::quiet_NaN();  ///< the median time per output token over the window (s)
  double tpot_p99_s = std::numeric_limits<double>::quiet_NaN();  ///< its 99th percentile over the window (s)
  double desired = std::numeric_limits<double>::quiet_NaN();     ///< the scaler's decision at the window's end
};

/// A rate series' window (ServeGen, or an llmscale record's): from `start_s`, `rate` requests/s
/// whose inter-arrival times have coefficient of variation `cv`. The fields after those are
/// what a record adds; their defaults mean unknown (all a ServeGen window has).
struct RateWindow {
  double start_s = 0;  ///< seconds after the first window's start
  double rate = 0;     ///< requests per second
  double cv = 1;       ///< the inter-arrival times' coefficient of variation (1: Poisson)
  double length_s = 0;  ///< the window's length; 0: until the next window starts (ServeGen)
  /// \var prompt_mean
  /// The prompt tokens' mean; NaN: unknown.
  /// \var prompt_sd
  /// Their standard deviation; NaN: unknown.
  double prompt_mean = std::numeric_limits<double>::quiet_NaN(), prompt_sd = std::numeric_limits<double>::quiet_NaN();
  /// \var output_mean
  /// The output tokens' mean; NaN: unknown.
  /// \var output_sd
  /// Their standard deviation; NaN: unknown.
  double output_mean = std::numeric_limits<double>::quiet_NaN(), output_sd = std::numeric_limits<double>::quiet_NaN();
  FleetObservation fleet;  ///< what the live fleet did in the window (a record's; else all unknown)
};

/// A malformed row in strict mode; `line()` is its line number.
class TraceError : public std::runtime_error {
 public:
  /// `what` at line `line`; what() starts with "line N: ".
  TraceError(const std::string& what, long long line)
      : std::runtime_error("line " + std::to_string(line) + ": " + what), line_(line) {}
  /// The malformed row's line number.
  [[nodiscard]] long long line() const noexcept { return line_; }

 private:
  long long line_;
};

/// An llmscale record refused whole, whatever `strict`: its version is newer than the reader
/// reads, or it has no version line.
class TraceVersionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a request trace file a row at a time, skipping and counting malformed rows (see the
/// top of this file).
class TraceReader {
 public:
  static constexpr std::size_t kept_problems = 10;        ///< malformed rows kept in problems()
  static constexpr std::size_t max_line = 4096;           ///< CSV rows
  static constexpr std::size_t max_json_line = 1 << 20;   ///< Mooncake rows (their hash_ids lists are long)
  static constexpr std::size_t bucket_probe_rows = 1000;  ///< Mooncake rows read to detect bucketed timestamps
  static constexpr long long record_version = 1;          ///< the newest llmscale record version read

  /// Reads `in` (which must outlive the reader). `seed` drives the jitter of bucketed Mooncake
  /// timestamps. With `strict` the first malformed row throws TraceError (from here, for a
  /// Mooncake file's first rows). An llmscale record's version line is read here: a newer
  /// version, or none, throws TraceVersionError.
  TraceReader(std::istream& in, TraceFormat format, bool strict = false, double max_disorder_s = 2,
              std::uint64_t seed = 1)
      : in_(&in), format_(format), strict_(strict), max_disorder_s_(max_disorder_s), rng_(seed) {
    if (format_ == TraceFormat::mooncake) probe_buckets();
    if (format_ == TraceFormat::llmscale) read_version();
  }

  /// The next request in file order (jittered within its bucket for a bucketed Mooncake
  /// trace); false at the end. Not for a rate series (servegen, llmscale: see next_window).
  bool next(TraceRequest& out) {
    if (is_rate_series(format_)) return false;
    Row row;
    if (!ahead_.empty()) {
      row = ahead_.front();
      ahead_.pop_front();
    } else if (!read_row(row)) {
      return false;
    }
    // a row within the allowed disorder before the first one arrives with it, at 0
    out.arrival_s = std::max(0.0, row.t - origin_);
    if (bucket_s_ > 0) out.arrival_s += bucket_s_ * uniform_(rng_);
    out.prompt_tokens = static_cast<std::int32_t>(row.a);
    out.output_tokens = static_cast<std::int32_t>(row.b);
    return true;
  }

  /// The next window of a rate series (ServeGen, or an llmscale record) with its start relative
  /// to the first window's; false at the end.
  bool next_window(RateWindow& out) {
    if (!is_rate_series(format_)) return false;
    Row row;
    if (!read_row(row)) return false;
    out.start_s = std::max(0.0, row.t - origin_);
    out.rate = row.a;
    out.cv = row.b;
    out.length_s = row.length_s;
    out.prompt_mean = row.prompt_mean;
    out.prompt_sd = row.prompt_sd;
    out.output_mean = row.output_mean;
    out.output_sd = row.output_sd;
    out.fleet = row.fleet;
    return true;
  }

  /// The format it reads.
  [[nodiscard]] TraceFormat format() const noexcept { return format_; }
  /// Rows read and used so far.
  [[nodiscard]] long long rows() const noexcept { return rows_; }
  /// How far (s) a request may come before one already read: the disorder allowed, or a
  /// Mooncake bucket's width.
  [[nodiscard]] double max_disorder_s() const noexcept { return std::max(max_disorder_s_, bucket_s_); }
  /// A bucketed Mooncake trace's bucket width (s); 0 when the timestamps are not bucketed.
  [[nodiscard]] double bucket_s() const noexcept { return bucket_s_; }
  /// Malformed rows skipped so far.
  [[nodiscard]] long long skipped() const noexcept { return skipped_; }
  /// BurstGPT rows with no response tokens: failed requests, skipped (not malformed).
  [[nodiscard]] long long failed() const noexcept { return failed_; }
  /// The first malformed rows, as "line N: why".
  [[nodiscard]] const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  struct Row {
    double t = 0;       // seconds (the file's origin)
    double a = 0, b = 0;  // prompt and output tokens, or rate and CV
    // an llmscale record's window: its length and token moments (RateWindow's defaults: unknown)
    double length_s = 0;
    double prompt_mean = std::numeric_limits<double>::quiet_NaN(), prompt_sd = std::numeric_limits<double>::quiet_NaN();
    double output_mean = std::numeric_limits<double>::quiet_NaN(), output_sd = std::numeric_limits<double>::quiet_NaN();
    FleetObservation fleet;  // an llmscale record's fleet columns (unknown otherwise)
  };

  // The next line into line_ (without a trailing CR); false at the end.
  bool next_line() {
    if (!std::getline(*in_, line_)) return false;
    ++line_number_;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    return true;
  }

  bool read_row(Row& row) {
    while (next_line()) {
      if (line_.empty()) continue;
      if (format_ == TraceFormat::llmscale && !record_row(line_)) continue;
      bool failed = false;
      const char* why = parse(line_, row, failed);
      // (a record's headers were skipped above, wherever they are)
      if (why != nullptr && format_ != TraceFormat::llmscale && rows_ == 0 && skipped_ == 0 && failed_ == 0 &&
          !header_seen_ && looks_like_header(line_)) {
        header_seen_ = true;
        continue;
      }
      if (why == nullptr && started_ && row.t < last_time_ - max_disorder_s_) why = "time earlier than the previous row's";
      if (why != nullptr) {
        reject(why);
        continue;
      }
      if (failed) {
        ++failed_;
        continue;
      }
      if (!started_) {
        origin_ = row.t;
        started_ = true;
      }
      last_time_ = std::max(last_time_, row.t);
      ++rows_;
      return true;
    }
    return false;
  }

  // Real Mooncake traces put timestamps into buckets about 3 s apart: most rows share their
  // timestamp. Then each row is spread uniformly over its bucket (the smallest gap between
  // distinct timestamps), seeded.
  void probe_buckets() {
    Row row;
    while (ahead_.size() < bucket_probe_rows && read_row(row)) ahead_.push_back(row);
    std::size_t tied = 0;
    double gap = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < ahead_.size(); ++i) {
      const bool same_prev = i > 0 && ahead_[i].t == ahead_[i - 1].t;
      const bool same_next = i + 1 < ahead_.size() && ahead_[i].t == ahead_[i + 1].t;
      if (same_prev || same_next) ++tied;
      if (i > 0 && ahead_[i].t > ahead_[i - 1].t) gap = std::min(gap, ahead_[i].t - ahead_[i - 1].t);
    }
    if (ahead_.size() >= 10 && 2 * tied > ahead_.size() && gap >= 0.5 && gap < 60) bucket_s_ = gap;
  }

  // An llmscale record's first non-blank line: `# llmscale-record N`, N at most record_version.
  void read_version() {
    while (next_line()) {
      if (trim(line_).empty()) continue;
      const long long version = version_of(line_);
      if (version < 1) throw TraceVersionError("not an llmscale record: the first line must be '# llmscale-record 1'");
      check_version(version);
      return;
    }
  }
  // N of a `# llmscale-record N` line; 0 for any other line.
  static long long version_of(std::string_view line) noexcept {
    constexpr std::string_view tag = "llmscale-record";
    line = trim(line);
    if (line.empty() || line.front() != '#') return 0;
    line = trim(line.substr(1));
    if (line.substr(0, tag.size()) != tag) return 0;
    const std::string_view rest = line.substr(tag.size());
    long long version = 0;
    if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t') || !parse_int(trim(rest), version)) return 0;
    return version;
  }
  static void check_version(long long version) {
    if (version > record_version) {
      throw TraceVersionError("the record's version " + std::to_string(version) + " is newer than this llmscale-replay reads (" +
                              std::to_string(record_version) + "): upgrade llmscale");
    }
  }
  // Whether a record's line is a row: `#` lines are comments (a version line is checked again:
  // rotated records concatenated may change version mid-file), a line starting with a letter is
  // the column names (repeated after a rotation), a blank line is nothing.
  static bool record_row(std::string_view line) {
    line = trim(line);
    if (line.empty()) return false;
    if (line.front() == '#') {
      if (const long long version = version_of(line); version > 0) check_version(version);
      return false;
    }
    return !std::isalpha(static_cast<unsigned char>(line.front()));
  }

  void reject(const char* why) {
    if (strict_) throw TraceError(why, line_number_);
    ++skipped_;
    if (problems_.size() < kept_problems) problems_.push_back("line " + std::to_string(line_number_) + ": " + why);
  }

  static bool looks_like_header(const std::string& line) {
    return !line.empty() && !(line[0] >= '0' && line[0] <= '9') && line[0] != '-' && line[0] != '.' && line[0] != '{';
  }

  // nullptr when the row is good; `failed` for a BurstGPT failed request
  const char* parse(std::string_view line, Row& row, bool& failed) const {
    if (format_ == TraceFormat::mooncake) return parse_mooncake(line, row);
    if (line.size() > max_line) return "row longer than 4096 characters";
    constexpr std::size_t most = record_fields;
    std::string_view f[most];
    std::size_t n = 0, start = 0;
    const std::size_t want = format_ == TraceFormat::burstgpt   ? 6
                             : format_ == TraceFormat::servegen ? 8
                             : format_ == TraceFormat::llmscale ? record_fields
                                                                : 3;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ',') {
        if (n == want) return field_count_problem(want, true);
        f[n++] = trim(line.substr(start, i - start));
        start = i + 1;
      }
    }
    if (n != want) return field_count_problem(want, false);
    long long prompt = 0, output = 0;
    switch (format_) {
      case TraceFormat::azure:
        if (!parse_timestamp(f[0], row.t)) return "bad TIMESTAMP (want YYYY-MM-DD HH:MM:SS[.fraction])";
        break;
      case TraceFormat::llmscale:
        return parse_record(f, row);
      case TraceFormat::servegen:
        if (!parse_double(f[0], row.t) || !(row.t >= 0) || row.t > 1e9) return "bad window_start_s (want seconds, 0 to 1e9)";
        if (!parse_double(f[3], row.a) || !(row.a >= 0) || row.a > 1e7) return "bad total_rate_rps (want 0 to 10^7)";
        if (!parse_double(f[6], row.b) || !(row.b >= 0) || row.b > 1e3) return "bad rate_weighted_mean_iat_cv (want 0 to 1000)";
        return nullptr;
      default:  // csv, burstgpt: seconds
        if (!parse_double(f[0], row.t) || !(row.t >= 0) || row.t > 1e9) {
          return format_ == TraceFormat::burstgpt ? "bad Timestamp (want seconds, 0 to 1e9)"
                                                  : "bad arrival_time_s (want seconds, 0 to 1e9)";
        }
    }
    const std::size_t p = format_ == TraceFormat::burstgpt ? 2 : 1;
    if (!parse_int(f[p], prompt) || prompt < 1 || prompt > 10'000'000) return "bad prompt tokens (want 1 to 10^7)";
    if (format_ == TraceFormat::burstgpt && parse_int(f[p + 1], output) && output == 0) {
      failed = true;  // a failed request: no response
      return nullptr;
    }
    if (!parse_int(f[p + 1], output) || output < 1 || output > 10'000'000) return "bad output tokens (want 1 to 10^7)";
    row.a = static_cast<double>(prompt);
    row.b = static_cast<double>(output);
    return nullptr;
  }

  static constexpr std::size_t record_fields = 17;  // an llmscale record's columns

  static const char* field_count_problem(std::size_t want, bool more) noexcept {
    switch (want) {
      case 3: return more ? "more than 3 fields" : "fewer than 3 fields";
      case 6: return more ? "more than 6 fields" : "fewer than 6 fields";
      case 8: return more ? "more than 8 fields" : "fewer than 8 fields";
      default: return more ? "more than 17 fields" : "fewer than 17 fields";
    }
  }

  // An llmscale record's row (its 17 fields): the window, its rate and CV, its token moments,
  // and what the fleet did (columns 8 to 16, in this order).
  static const char* parse_record(const std::string_view* f, Row& row) {
    double* const fleet_columns[record_fields - 8] = {&row.fleet.ready,      &row.fleet.starting,   &row.fleet.queued,
                                                      &row.fleet.running,    &row.fleet.ttft_p50_s, &row.fleet.ttft_p99_s,
                                                      &row.fleet.tpot_p50_s, &row.fleet.tpot_p99_s, &row.fleet.desired};
    static constexpr std::array<const char*, record_fields - 8> fleet_problems{
        "bad ready (want blank or a number >= 0)",      "bad starting (want blank or a number >= 0)",
        "bad queued (want blank or a number >= 0)",     "bad running (want blank or a number >= 0)",
        "bad ttft_p50_s (want blank or a number >= 0)", "bad ttft_p99_s (want blank or a number >= 0)",
        "bad tpot_p50_s (want blank or a number >= 0)", "bad tpot_p99_s (want blank or a number >= 0)",
        "bad desired (want blank or a number >= 0)"};
    double arrivals = 0;
    if (!parse_double(f[0], row.t) || !(row.t >= 0) || row.t > 1e10) return "bad window_start_s (want Unix seconds, 0 to 1e10)";
    if (!parse_double(f[1], row.length_s) || !(row.length_s > 0) || row.length_s > 86400) {
      return "bad window_s (want seconds, above 0 to 86400)";
    }
    if (!parse_double(f[2], arrivals) || !(arrivals >= 0) || arrivals > 1e9) return "bad arrivals (want 0 to 1e9)";
    row.a = arrivals / row.length_s;
    if (!optional_number(f[3], 1, 1e7, row.prompt_mean)) return "bad prompt_tokens_mean (want blank or 1 to 10^7)";
    if (!optional_number(f[4], 0, 1e7, row.prompt_sd)) return "bad prompt_tokens_sd (want blank or 0 to 10^7)";
    if (!optional_number(f[5], 1, 1e7, row.output_mean)) return "bad output_tokens_mean (want blank or 1 to 10^7)";
    if (!optional_number(f[6], 0, 1e7, row.output_sd)) return "bad output_tokens_sd (want blank or 0 to 10^7)";
    if (!optional_number(f[7], 0, 1e3, row.b)) return "bad interarrival_cv (want blank or 0 to 1000)";
    if (std::isnan(row.b)) row.b = 1;  // unknown: Poisson
    for (std::size_t i = 8; i < record_fields; ++i) {
      if (!optional_number(f[i], 0, std::numeric_limits<double>::max(), *fleet_columns[i - 8])) return fleet_problems[i - 8];
    }
    return nullptr;
  }
  // A field that may be blank (out: NaN) or a number in [lo, hi].
  static bool optional_number(std::string_view s, double lo, double hi, double& out) {
    if (s.empty()) {
      out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    return parse_double(s, out) && out >= lo && out <= hi;
  }

  // {"timestamp": ms, "input_length": n, "output_length": n, ...}
  static const char* parse_mooncake(std::string_view line, Row& row) {
    if (line.size() > max_json_line) return "row longer than 1 MiB";
    if (line.front() != '{' || line.back() != '}') return "not a JSON object";
    double ms = 0, prompt = 0, output = 0;
    if (!json_number(line, "\"timestamp\"", ms) || !(ms >= 0) || ms > 1e12) return "bad timestamp (want ms, 0 to 1e12)";
    if (!json_number(line, "\"input_length\"", prompt) || prompt < 1 || prompt > 1e7 || prompt != std::floor(prompt)) {
      return "bad input_length (want 1 to 10^7)";
    }
    if (!json_number(line, "\"output_length\"", output) || output < 1 || output > 1e7 || output != std::floor(output)) {
      return "bad output_length (want 1 to 10^7)";
    }
    row.t = ms / 1000.0;
    row.a = prompt;
    row.b = output;
    return nullptr;
  }
  // the number after `"key":` at the object's top level (keys are found by text; the values
  // Mooncake writes before them are numbers and lists of numbers)
  static bool json_number(std::string_view line, std::string_view key, double& out) {
    const std::size_t at = line.find(key);
    if (at == std::string_view::npos) return false;
    std::size_t i = at + key.size();
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size() || line[i] != ':') return false;
    ++i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t end = i;
    while (end < line.size() && (std::isdigit(static_cast<unsigned char>(line[end])) || line[end] == '.' ||
                                 line[end] == '-' || line[end] == '+' || line[end] == 'e' || line[end] == 'E')) {
      ++end;
    }
    return parse_double(line.substr(i, end - i), out);
  }

  static std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }
  static bool parse_int(std::string_view s, long long& out) noexcept {
    if (s.empty() || s.size() > 18) return false;
    long long v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    return true;
  }
  static bool parse_double(std::string_view s, double& out) {
    if (s.empty() || s.size() > 64) return false;
    return parse_number(s, out) && std::isfinite(out);
  }
  // seconds since 1970-01-01 of "YYYY-MM-DD HH:MM:SS[.fraction]" (no time zone)
  static bool parse_timestamp(std::string_view s, double& out) noexcept {
    if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':') {
      return false;
    }
    long long y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!parse_int(s.substr(0, 4), y) || !parse_int(s.substr(5, 2), mo) || !parse_int(s.substr(8, 2), d) ||
        !parse_int(s.substr(11, 2), h) || !parse_int(s.substr(14, 2), mi) || !parse_int(s.substr(17, 2), sec)) {
      return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
    double fraction = 0;
    if (s.size() > 19) {
      if (s[19] != '.' || s.size() == 20 || s.size() > 29) return false;
      double scale = 0.1;
      for (char c : s.substr(20)) {
        if (c < '0' || c > '9') return false;
        fraction += (c - '0') * scale;
        scale *= 0.1;
      }
    }
    // days from civil (H. Hinnant's algorithm)
    y -= mo <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const long long yoe = y - era * 400;
    const long long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const long long days = era * 146097 + doe - 719468;
    out = static_cast<double>(days * 86400 + h * 3600 + mi * 60 + sec) + fraction;
    return true;
  }

  std::istream* in_;
  TraceFormat format_;
  bool strict_;
  double max_disorder_s_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::string line_;
  std::deque<Row> ahead_;  // read while probing for buckets
  long long line_number_ = 0, rows_ = 0, skipped_ = 0, failed_ = 0;
  bool header_seen_ = false, started_ = false;
  double origin_ = 0, last_time_ = 0, bucket_s_ = 0;
  std::vector<std::string> problems_;
};

/// `--rate-scale K` over a reader, in time order. Rows may be out of order by up to the
/// reader's max_disorder_s (later ones are rejected by the reader), so the copies are released
/// a second at a time, sorted, once the rows read are past that second by the disorder and the
/// jitter.
class ScaledTrace {
 public:
  /// Scales `reader`'s requests by `rate_scale` in (0, 10^6], the jitter and the extra copy drawn
  /// from `seed`; `reader` must outlive it. Throws std::invalid_argument for a scale out of range.
  ScaledTrace(TraceReader& reader, double rate_scale, std::uint64_t seed)
      : reader_(&reader), scale_(rate_scale), rng_(seed) {
    if (!(rate_scale > 0) || rate_scale > 1e6) {
      throw std::invalid_argument("rate_scale = " + std::to_string(rate_scale) + " is out of range; allowed: (0, 1000000]");
    }
  }

  /// The next request, in time order, into `out`; false at the end.
  bool next(TraceRequest& out) {
    while (at_ == ready_.size()) {
      if (!refill()) return false;
    }
    out = ready_[at_++];
    return true;
  }

 private:
  // Moves every copy earlier than the next one-second cut into ready_, sorted; false at the end.
  bool refill() {
    ready_.clear();
    at_ = 0;
    if (done_ && pending_.empty()) return false;
    if (!pending_.empty()) {  // an idle span: jump over its empty seconds instead of one refill each
      double first = pending_.front().arrival_s;
      for (const TraceRequest& r : pending_) first = std::min(first, r.arrival_s);
      if (first > cut_ + 1.0) cut_ = std::floor(first);  // nothing pending lies below; unread rows come later
    }
    cut_ += 1.0;
    const double margin = reader_->max_disorder_s() + 1.0;  // disorder plus the jitter
    while (!done_ && horizon_ < cut_ + margin) {
      TraceRequest r;
      if (!reader_->next(r)) {
        done_ = true;
        break;
      }
      horizon_ = std::max(horizon_, r.arrival_s);
      const double whole = std::floor(scale_);
      const int copies = static_cast<int>(whole) + (uniform_(rng_) < scale_ - whole ? 1 : 0);
      for (int k = 0; k < copies; ++k) {
        TraceRequest c = r;
        c.arrival_s += uniform_(rng_);
        pending_.push_back(c);
      }
    }
    if (done_) cut_ = std::numeric_limits<double>::infinity();
    const auto split = std::partition(pending_.begin(), pending_.end(),
                                      [&](const TraceRequest& r) { return r.arrival_s < cut_; });
    ready_.assign(pending_.begin(), split);
    pending_.erase(pending_.begin(), split);
    std::sort(ready_.begin(), ready_.end(),
              [](const TraceRequest& a, const TraceRequest& b) { return a.arrival_s < b.arrival_s; });
    return true;
  }

  TraceReader* reader_;
  double scale_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::vector<TraceRequest> pending_, ready_;
  std::size_t at_ = 0;
  double cut_ = -1.0;  // copies before it have been released
  double horizon_ = -1e300;
  bool done_ = false;
};

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_SIM_TRACE_HPP
