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
// ScaledTrace applies `--rate-scale K` (SIMULATION.md): floor(K) copies of each request, each
// shifted by a seeded uniform 0-1 s jitter, plus one more with probability K - floor(K); the
// result comes out in time order through a small reorder heap.
#ifndef LLMSCALE_SIM_TRACE_HPP
#define LLMSCALE_SIM_TRACE_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
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

LLMSCALE_NAMESPACE_BEGIN

/// One request of a trace: when it arrives and its lengths.
struct TraceRequest {
  double arrival_s = 0;        ///< seconds after the trace's first request
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;
};

enum class TraceFormat : std::uint8_t { azure, csv };

/// Parses "azure" or "csv"; false for anything else.
inline bool parse_trace_format(std::string_view s, TraceFormat& out) noexcept {
  if (s == "azure") {
    out = TraceFormat::azure;
  } else if (s == "csv") {
    out = TraceFormat::csv;
  } else {
    return false;
  }
  return true;
}

/// A malformed row in strict mode; `line()` is its line number.
class TraceError : public std::runtime_error {
 public:
  TraceError(const std::string& what, long long line)
      : std::runtime_error("line " + std::to_string(line) + ": " + what), line_(line) {}
  [[nodiscard]] long long line() const noexcept { return line_; }

 private:
  long long line_;
};

class TraceReader {
 public:
  static constexpr std::size_t kept_problems = 10;
  static constexpr std::size_t max_line = 4096;

  /// Reads `in` (which must outlive the reader).
  TraceReader(std::istream& in, TraceFormat format, bool strict = false, double max_disorder_s = 2)
      : in_(&in), format_(format), strict_(strict), max_disorder_s_(max_disorder_s) {}

  /// The next request in file order; false at the end.
  bool next(TraceRequest& out) {
    while (std::getline(*in_, line_)) {
      ++line_number_;
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_.empty()) continue;
      double t = 0;
      long long prompt = 0, output = 0;
      const char* why = parse(line_, t, prompt, output);
      if (why != nullptr && rows_ == 0 && skipped_ == 0 && !header_seen_ && looks_like_header(line_)) {
        header_seen_ = true;
        continue;
      }
      if (why == nullptr && started_ && t < last_time_ - max_disorder_s_) why = "time earlier than the previous row's";
      if (why != nullptr) {
        reject(why);
        continue;
      }
      if (!started_) {
        origin_ = t;
        started_ = true;
      }
      last_time_ = std::max(last_time_, t);
      ++rows_;
      out.arrival_s = t - origin_;
      out.prompt_tokens = static_cast<std::int32_t>(prompt);
      out.output_tokens = static_cast<std::int32_t>(output);
      return true;
    }
    return false;
  }

  [[nodiscard]] long long rows() const noexcept { return rows_; }
  [[nodiscard]] double max_disorder_s() const noexcept { return max_disorder_s_; }
  [[nodiscard]] long long skipped() const noexcept { return skipped_; }
  /// The first malformed rows, as "line N: why".
  [[nodiscard]] const std::vector<std::string>& problems() const noexcept { return problems_; }

 private:
  void reject(const char* why) {
    if (strict_) throw TraceError(why, line_number_);
    ++skipped_;
    if (problems_.size() < kept_problems) problems_.push_back("line " + std::to_string(line_number_) + ": " + why);
  }

  static bool looks_like_header(const std::string& line) {
    return !line.empty() && !(line[0] >= '0' && line[0] <= '9') && line[0] != '-' && line[0] != '.';
  }

  // nullptr when the row is good
  const char* parse(std::string_view row, double& t, long long& prompt, long long& output) const {
    if (row.size() > max_line) return "row longer than 4096 characters";
    std::string_view f[3];
    std::size_t n = 0, start = 0;
    for (std::size_t i = 0; i <= row.size(); ++i) {
      if (i == row.size() || row[i] == ',') {
        if (n == 3) return "more than 3 fields";
        f[n++] = trim(row.substr(start, i - start));
        start = i + 1;
      }
    }
    if (n != 3) return "fewer than 3 fields";
    if (format_ == TraceFormat::azure) {
      if (!parse_timestamp(f[0], t)) return "bad TIMESTAMP (want YYYY-MM-DD HH:MM:SS[.fraction])";
    } else if (!parse_double(f[0], t) || !(t >= 0) || t > 1e9) {
      return "bad arrival_time_s (want seconds, 0 to 1e9)";
    }
    if (!parse_int(f[1], prompt) || prompt < 1 || prompt > 10'000'000) return "bad prompt tokens (want 1 to 10^7)";
    if (!parse_int(f[2], output) || output < 1 || output > 10'000'000) return "bad output tokens (want 1 to 10^7)";
    return nullptr;
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
    char buf[65];
    s.copy(buf, s.size());
    buf[s.size()] = '\0';
    char* end = nullptr;
    out = std::strtod(buf, &end);
    return end == buf + s.size() && std::isfinite(out);
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
  std::string line_;
  long long line_number_ = 0, rows_ = 0, skipped_ = 0;
  bool header_seen_ = false, started_ = false;
  double origin_ = 0, last_time_ = 0;
  std::vector<std::string> problems_;
};

/// `--rate-scale K` over a reader, in time order. Rows may be out of order by up to the
/// reader's max_disorder_s (later ones are rejected by the reader), so the copies are released
/// a second at a time, sorted, once the rows read are past that second by the disorder and the
/// jitter.
class ScaledTrace {
 public:
  ScaledTrace(TraceReader& reader, double rate_scale, std::uint64_t seed)
      : reader_(&reader), scale_(rate_scale), rng_(seed) {
    if (!(rate_scale > 0) || rate_scale > 1e6) {
      throw std::invalid_argument("rate_scale = " + std::to_string(rate_scale) + " is out of range; allowed: (0, 1000000]");
    }
  }

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
