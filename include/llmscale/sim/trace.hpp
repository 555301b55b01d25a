// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Request traces for the simulator, read as a stream (constant memory: a 10^7-row file is read
// a row at a time):
//   azure  `TIMESTAMP,ContextTokens,GeneratedTokens`, TIMESTAMP wall clock
//          (`2023-11-16 18:15:46.6805900`, fraction optional), the Azure LLM inference traces
//          of 2023 and 2024
//   csv    `arrival_time_s,input_tokens,output_tokens` (seconds, any origin)
// A header row (a first row whose first field is not a time) is skipped. Times are made
// relative to the first request's. A malformed row (a missing or extra field, a bad number or
// time, tokens below 1 for the prompt or 1 for the output, a time before the previous row's
// by more than `max_disorder_s` (2 s)) is skipped and counted, and the first few are kept with
// their line numbers; with `strict` the first one throws TraceError instead.
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
enum class TraceFormat : std::uint8_t { azure, csv, mooncake, burstgpt, servegen };

/// The spellings of TraceFormat, as parse_trace_format reads them.
inline constexpr std::array<EnumName<TraceFormat>, 5> trace_format_names{{{"azure", TraceFormat::azure},
                                                                          {"csv", TraceFormat::csv},
                                                                          {"mooncake", TraceFormat::mooncake},
                                                                          {"burstgpt", TraceFormat::burstgpt},
                                                                          {"servegen", TraceFormat::servegen}}};

/// Parses a format's name ("azure", "csv", "mooncake", "burstgpt", "servegen"); false for
/// anything else.
inline bool parse_trace_format(std::string_view s, TraceFormat& out) noexcept {
  return detail::enum_value(trace_format_names, s, out);
}

/// A rate series' window (ServeGen): from `start_s`, `rate` requests/s whose inter-arrival
/// times have coefficient of variation `cv`.
struct RateWindow {
  double start_s = 0;  ///< seconds after the first window's start
  double rate = 0;     ///< requests per second
  double cv = 1;       ///< the inter-arrival times' coefficient of variation (1: Poisson)
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

/// Reads a request trace file a row at a time, skipping and counting malformed rows (see the
/// top of this file).
class TraceReader {
 public:
  static constexpr std::size_t kept_problems = 10;        ///< malformed rows kept in problems()
  static constexpr std::size_t max_line = 4096;           ///< CSV rows
  static constexpr std::size_t max_json_line = 1 << 20;   ///< Mooncake rows (their hash_ids lists are long)
  static constexpr std::size_t bucket_probe_rows = 1000;  ///< Mooncake rows read to detect bucketed timestamps

  /// Reads `in` (which must outlive the reader). `seed` drives the jitter of bucketed Mooncake
  /// timestamps. With `strict` the first malformed row throws TraceError (from here, for a
  /// Mooncake file's first rows).
  TraceReader(std::istream& in, TraceFormat format, bool strict = false, double max_disorder_s = 2,
              std::uint64_t seed = 1)
      : in_(&in), format_(format), strict_(strict), max_disorder_s_(max_disorder_s), rng_(seed) {
    if (format_ == TraceFormat::mooncake) probe_buckets();
  }

  /// The next request in file order (jittered within its bucket for a bucketed Mooncake
  /// trace); false at the end. Not for the servegen format (see next_window).
  bool next(TraceRequest& out) {
    if (format_ == TraceFormat::servegen) return false;
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

  /// The next window of a ServeGen rate series (start relative to the first window's); false
  /// at the end.
  bool next_window(RateWindow& out) {
    if (format_ != TraceFormat::servegen) return false;
    Row row;
    if (!read_row(row)) return false;
    out.start_s = std::max(0.0, row.t - origin_);
    out.rate = row.a;
    out.cv = row.b;
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
  };

  bool read_row(Row& row) {
    while (std::getline(*in_, line_)) {
      ++line_number_;
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_.empty()) continue;
      bool failed = false;
      const char* why = parse(line_, row, failed);
      if (why != nullptr && rows_ == 0 && skipped_ == 0 && failed_ == 0 && !header_seen_ && looks_like_header(line_)) {
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
    constexpr std::size_t most = 8;
    std::string_view f[most];
    std::size_t n = 0, start = 0;
    const std::size_t want = format_ == TraceFormat::burstgpt ? 6 : format_ == TraceFormat::servegen ? 8 : 3;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == ',') {
        if (n == want) return want == 3 ? "more than 3 fields" : want == 6 ? "more than 6 fields" : "more than 8 fields";
        f[n++] = trim(line.substr(start, i - start));
        start = i + 1;
      }
    }
    if (n != want) return want == 3 ? "fewer than 3 fields" : want == 6 ? "fewer than 6 fields" : "fewer than 8 fields";
    long long prompt = 0, output = 0;
    switch (format_) {
      case TraceFormat::azure:
        if (!parse_timestamp(f[0], row.t)) return "bad TIMESTAMP (want YYYY-MM-DD HH:MM:SS[.fraction])";
        break;
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
