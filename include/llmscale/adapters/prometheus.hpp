// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// A parser for the Prometheus text exposition format (0.0.4), for reading engines' /metrics
// pages: `# HELP` and `# TYPE` lines, other comments, samples `name{label="value",...} value
// [timestamp]` with escapes (\\, \", \n) in label values, NaN and +/-Inf. It is streaming (feed
// chunks as they arrive; a line may span chunks), allocation-bounded (all buffers are sized by
// PrometheusLimits at construction; parsing allocates nothing) and never trusts its input: a
// line over the limit, a malformed line or binary garbage is an error with its line and
// column, the line is skipped, and parsing goes on up to `max_errors`; the page as a whole is
// cut at `max_bytes`.
//
// Each sample goes to a callback as a PrometheusSample whose views are valid during the call
// only. Its `type` is that of the `# TYPE` family it belongs to: the sample's own name, or the
// family name plus `_bucket`, `_sum`, `_count`, `_total` or `_created`.
//
// Also here: label matchers, Prometheus' histogram_quantile (linear interpolation within the
// bucket), and counter increases that survive a reset.
#ifndef LLMSCALE_ADAPTERS_PROMETHEUS_HPP
#define LLMSCALE_ADAPTERS_PROMETHEUS_HPP

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/number.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A metric family's `# TYPE` (untyped when the page declares none).
enum class MetricType : std::uint8_t { untyped, counter, gauge, histogram, summary };

/// One label of a sample, valid during the callback only.
struct PrometheusLabel {
  std::string_view name;   ///< the label's name
  std::string_view value;  ///< unescaped
};

/// `name` equal (or, with `equal = false`, not equal) to `value`; a missing label is "".
struct LabelMatcher {
  std::string_view name;   ///< the label's name
  std::string_view value;  ///< the value compared with ("": the label is missing or empty)
  bool equal = true;       ///< true: the label must equal `value`; false: it must not
};

/// One sample, valid during the callback only.
struct PrometheusSample {
  std::string_view name;    ///< e.g. vllm:e2e_request_latency_seconds_bucket
  std::string_view family;  ///< its # TYPE family ("" when none applies)
  MetricType type = MetricType::untyped;    ///< its family's # TYPE (untyped when none applies)
  const PrometheusLabel* labels = nullptr;  ///< its labels, in the page's order
  std::size_t label_count = 0;              ///< how many `labels` there are
  double value = 0;                         ///< the sample's value (may be NaN or +/-Inf)
  bool has_timestamp = false;               ///< the line gave a timestamp
  std::int64_t timestamp_ms = 0;            ///< the timestamp, in ms since the Unix epoch (0 without one)
  std::size_t line = 0;  ///< 1-based

  /// The value of label `label_name`, or "" without it.
  [[nodiscard]] std::string_view label(std::string_view label_name) const noexcept {
    for (std::size_t i = 0; i < label_count; ++i) {
      if (labels[i].name == label_name) return labels[i].value;
    }
    return {};
  }
  /// Whether every matcher holds.
  [[nodiscard]] bool matches(const LabelMatcher* matchers, std::size_t count) const noexcept {
    for (std::size_t i = 0; i < count; ++i) {
      if ((label(matchers[i].name) == matchers[i].value) != matchers[i].equal) return false;
    }
    return true;
  }
};

/// The parser's bounds: they size its buffers, so parsing a page allocates nothing.
struct PrometheusLimits {
  std::size_t max_line_bytes = 64 * 1024;  ///< [64, 16 MiB]
  std::size_t max_labels = 64;             ///< per sample, [1, 4096]
  std::size_t max_bytes = 16u << 20;       ///< per page, [1 KiB, 1 GiB]
  std::size_t max_errors = 100;            ///< malformed lines before parsing stops, [1, 1e6]

  /// Empty when valid; otherwise the field, its value and the allowed range.
  [[nodiscard]] std::string problem() const {
    const auto bad = [](const char* field, std::size_t v, const char* allowed) {
      return std::string("prometheus.") + field + " = " + std::to_string(v) + " is out of range; allowed: " + allowed;
    };
    if (max_line_bytes < 64 || max_line_bytes > (16u << 20)) return bad("max_line_bytes", max_line_bytes, "[64, 16777216]");
    if (max_labels < 1 || max_labels > 4096) return bad("max_labels", max_labels, "[1, 4096]");
    if (max_bytes < 1024 || max_bytes > (std::size_t{1} << 30)) return bad("max_bytes", max_bytes, "[1024, 1073741824]");
    if (max_errors < 1 || max_errors > 1000000) return bad("max_errors", max_errors, "[1, 1000000]");
    return {};
  }
};

/// Where a line went wrong (messages have static storage).
struct PrometheusError {
  std::size_t line = 0;    ///< 1-based; 0: none
  std::size_t column = 0;  ///< 1-based byte column
  const char* message = "";  ///< what was wrong ("" when nothing was)
};

/// What parsing a page gave: counts and the first error.
struct PrometheusResult {
  std::size_t lines = 0;         ///< lines read, comments, blank and malformed ones included
  std::size_t samples = 0;       ///< samples passed to the callback
  std::size_t errors = 0;        ///< malformed lines (skipped)
  PrometheusError first_error;   ///< the first of them
  bool truncated = false;        ///< stopped early: max_bytes or max_errors reached
  /// No malformed line and the whole page read.
  [[nodiscard]] bool ok() const noexcept { return errors == 0 && !truncated; }
};

/// The default `wants` of PrometheusParser::feed: every metric.
struct PrometheusAnyName {
  /// True for any name.
  constexpr bool operator()(std::string_view) const noexcept { return true; }
};

/// A streaming parser of Prometheus text pages, reused from page to page (see the top of this
/// file).
class PrometheusParser {
 public:
  /// Allocates its buffers; throws std::invalid_argument for invalid limits.
  explicit PrometheusParser(const PrometheusLimits& limits = {});

  /// Parses the complete lines of `chunk` (keeping a trailing partial line for the next
  /// feed), calling `on_sample(const PrometheusSample&)` for each sample. `wants(name)`, when
  /// given, is asked for each sample's metric name first: a line it declines is skipped
  /// unread (its labels and value are neither parsed nor checked), so that a reader of a few
  /// metrics of a big page pays little for the rest.
  template <class OnSample, class Wants = PrometheusAnyName>
  void feed(std::string_view chunk, OnSample&& on_sample, const Wants& wants = Wants{});
  /// Parses a last line without a newline and returns the page's result; the parser is then
  /// ready for the next page.
  template <class OnSample, class Wants = PrometheusAnyName>
  PrometheusResult finish(OnSample&& on_sample, const Wants& wants = Wants{});

  /// The counts so far for the page being parsed.
  [[nodiscard]] const PrometheusResult& result() const noexcept { return result_; }
  /// The limits it was built with.
  [[nodiscard]] const PrometheusLimits& limits() const noexcept { return limits_; }

 private:
  template <class OnSample, class Wants>
  void parse_line(std::string_view line, OnSample& on_sample, const Wants& wants);
  void fail(std::size_t column, const char* message) noexcept;
  bool halted() const noexcept { return result_.errors >= limits_.max_errors; }

  PrometheusLimits limits_;
  std::string partial_;     // a line split across chunks (capacity max_line_bytes)
  bool skipping_ = false;   // in the rest of an over-long line
  std::string family_;      // the current # TYPE family (capacity max_line_bytes)
  MetricType family_type_ = MetricType::untyped;
  std::string unescaped_;   // label values with escapes (capacity max_line_bytes)
  std::vector<PrometheusLabel> labels_;
  std::size_t bytes_ = 0;
  PrometheusResult result_;
};

/// Parses a whole page.
template <class OnSample>
PrometheusResult parse_prometheus(std::string_view text, OnSample&& on_sample, const PrometheusLimits& limits = {}) {
  PrometheusParser p(limits);
  p.feed(text, on_sample);
  return p.finish(on_sample);
}

/// One bucket of a cumulative histogram: samples with a value <= `le`.
struct HistogramBucket {
  double le;     ///< the bucket's upper bound (+Inf for the last)
  double count;  ///< samples <= `le`, cumulative
};

/// Prometheus' histogram_quantile: buckets sorted by `le` with cumulative counts, the last one
/// +Inf. The rank q x total is located by linear interpolation within its bucket (the first
/// bucket starting at 0 when its bound is positive); a rank in the +Inf bucket gives the highest
/// finite bound. NaN with fewer than two buckets, no +Inf bucket, no samples, or q outside [0, 1].
[[nodiscard]] double histogram_quantile(double q, const HistogramBucket* buckets, std::size_t n) noexcept;

/// A counter's increase from `previous` to `current`: the difference, or `current` when the
/// counter went down (the process restarted and counted from 0). 0 for non-finite input.
[[nodiscard]] inline double counter_increase(double previous, double current) noexcept {
  if (!std::isfinite(previous) || !std::isfinite(current)) return 0.0;
  return current >= previous ? current - previous : current;
}

/// The mean of a histogram or summary over a window, from its `_sum` and `_count` at the window's
/// start and end (resets handled as counter_increase); NaN when nothing was observed.
[[nodiscard]] inline double window_mean(double sum_start, double count_start, double sum_end, double count_end) noexcept {
  const double n = counter_increase(count_start, count_end);
  if (!(n > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double s = count_end >= count_start ? sum_end - sum_start : sum_end;
  return s / n;
}

// ---------------------------------------------------------------------------------------------
// Implementation.

inline PrometheusParser::PrometheusParser(const PrometheusLimits& limits) : limits_(limits) {
  const std::string p = limits.problem();
  if (!p.empty()) throw std::invalid_argument(p);
  partial_.reserve(limits.max_line_bytes);
  family_.reserve(limits.max_line_bytes);
  unescaped_.reserve(limits.max_line_bytes);
  labels_.resize(limits.max_labels);
}

inline void PrometheusParser::fail(std::size_t column, const char* message) noexcept {
  if (result_.errors == 0) result_.first_error = PrometheusError{result_.lines, column, message};
  ++result_.errors;
  if (result_.errors >= limits_.max_errors) result_.truncated = true;
}

template <class OnSample, class Wants>
void PrometheusParser::feed(std::string_view chunk, OnSample&& on_sample, const Wants& wants) {
  if (halted()) return;
  if (bytes_ + chunk.size() > limits_.max_bytes) {
    chunk = chunk.substr(0, limits_.max_bytes - bytes_);
    result_.truncated = true;  // what fits is parsed; the rest is dropped
  }
  bytes_ += chunk.size();
  while (!chunk.empty()) {
    const std::size_t nl = chunk.find('\n');
    const std::string_view piece = chunk.substr(0, nl);
    if (nl == std::string_view::npos) {  // a partial line: keep it, within the limit
      if (!skipping_) {
        if (partial_.size() + piece.size() > limits_.max_line_bytes) {
          ++result_.lines;
          fail(limits_.max_line_bytes + 1, "line longer than max_line_bytes");
          partial_.clear();
          skipping_ = true;
        } else {
          partial_.append(piece.data(), piece.size());
        }
      }
      return;
    }
    chunk.remove_prefix(nl + 1);
    if (skipping_) {  // the end of an over-long line, already counted
      skipping_ = false;
      continue;
    }
    ++result_.lines;
    if (!partial_.empty()) {
      if (partial_.size() + piece.size() > limits_.max_line_bytes) {
        fail(limits_.max_line_bytes + 1, "line longer than max_line_bytes");
      } else {
        partial_.append(piece.data(), piece.size());
        parse_line(partial_, on_sample, wants);
      }
      partial_.clear();
    } else if (piece.size() > limits_.max_line_bytes) {
      fail(limits_.max_line_bytes + 1, "line longer than max_line_bytes");
    } else {
      parse_line(piece, on_sample, wants);
    }
    if (halted()) return;
  }
}

template <class OnSample, class Wants>
PrometheusResult PrometheusParser::finish(OnSample&& on_sample, const Wants& wants) {
  if (!skipping_ && !partial_.empty() && !halted()) {
    ++result_.lines;
    parse_line(partial_, on_sample, wants);
  }
  PrometheusResult r = result_;
  partial_.clear();
  skipping_ = false;
  family_.clear();
  family_type_ = MetricType::untyped;
  bytes_ = 0;
  result_ = PrometheusResult{};
  return r;
}

namespace detail {

inline bool prom_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
inline bool prom_name_char(char c) noexcept { return prom_name_start(c) || (c >= '0' && c <= '9'); }
inline bool prom_label_start(char c) noexcept { return prom_name_start(c) && c != ':'; }
inline bool prom_label_char(char c) noexcept { return prom_name_char(c) && c != ':'; }
inline bool prom_blank(char c) noexcept { return c == ' ' || c == '\t'; }

/// A float as Prometheus writes it (also +Inf, -Inf, NaN, and a leading '+').
inline bool prom_parse_double(std::string_view s, double& out) noexcept {
  if (s.empty()) return false;
  if (s == "+Inf" || s == "Inf" || s == "+inf" || s == "inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf" || s == "-inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "NaN" || s == "nan") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  return parse_number(s, out);
}

inline MetricType prom_type(std::string_view t, bool& known) noexcept {
  known = true;
  if (t == "counter") return MetricType::counter;
  if (t == "gauge") return MetricType::gauge;
  if (t == "histogram") return MetricType::histogram;
  if (t == "summary") return MetricType::summary;
  if (t == "untyped" || t == "unknown") return MetricType::untyped;
  known = false;
  return MetricType::untyped;
}

inline bool prom_in_family(std::string_view name, std::string_view family) noexcept {
  if (family.empty() || name.size() < family.size() || name.substr(0, family.size()) != family) return false;
  const std::string_view rest = name.substr(family.size());
  return rest.empty() || rest == "_bucket" || rest == "_sum" || rest == "_count" || rest == "_total" ||
         rest == "_created";
}

}  // namespace detail

template <class OnSample, class Wants>
void PrometheusParser::parse_line(std::string_view line, OnSample& on_sample, const Wants& wants) {
  using namespace detail;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (i < n && prom_blank(line[i])) ++i;
  if (i == n) return;  // blank line
  if (line[i] == '#') {
    // "# TYPE name type" sets the family; "# HELP" and other comments are skipped
    std::string_view rest = line.substr(i + 1);
    while (!rest.empty() && prom_blank(rest.front())) rest.remove_prefix(1);
    if (rest.substr(0, 4) != "TYPE" || (rest.size() > 4 && !prom_blank(rest[4]))) return;
    rest.remove_prefix(4);
    while (!rest.empty() && prom_blank(rest.front())) rest.remove_prefix(1);
    std::size_t k = 0;
    while (k < rest.size() && prom_name_char(rest[k])) ++k;
    if (k == 0 || !prom_name_start(rest[0])) return fail(n - rest.size() + 1, "# TYPE without a metric name");
    const std::string_view name = rest.substr(0, k);
    rest.remove_prefix(k);
    while (!rest.empty() && prom_blank(rest.front())) rest.remove_prefix(1);
    std::size_t t = 0;
    while (t < rest.size() && !prom_blank(rest[t])) ++t;
    bool known = false;
    const MetricType type = prom_type(rest.substr(0, t), known);
    if (!known) return fail(n - rest.size() + 1, "# TYPE with an unknown type");
    family_.assign(name.data(), name.size());
    family_type_ = type;
    return;
  }
  // metric name
  const std::size_t name_start = i;
  if (!prom_name_start(line[i])) return fail(i + 1, "a sample must start with a metric name");
  while (i < n && prom_name_char(line[i])) ++i;
  PrometheusSample s;
  s.name = line.substr(name_start, i - name_start);
  if (!wants(s.name)) return;
  s.line = result_.lines;
  // labels
  std::size_t count = 0;
  unescaped_.clear();
  if (i < n && line[i] == '{') {
    ++i;
    for (;;) {
      while (i < n && prom_blank(line[i])) ++i;
      if (i < n && line[i] == '}') {
        ++i;
        break;
      }
      if (i == n) return fail(i + 1, "unterminated label set");
      if (!prom_label_start(line[i])) return fail(i + 1, "bad label name");
      const std::size_t ln = i;
      while (i < n && prom_label_char(line[i])) ++i;
      const std::string_view label_name = line.substr(ln, i - ln);
      while (i < n && prom_blank(line[i])) ++i;
      if (i == n || line[i] != '=') return fail(i + 1, "expected '=' after a label name");
      ++i;
      while (i < n && prom_blank(line[i])) ++i;
      if (i == n || line[i] != '"') return fail(i + 1, "expected '\"' to open a label value");
      ++i;
      const std::size_t vs = i;
      bool escaped = false;
      while (i < n && line[i] != '"') {
        if (line[i] == '\\') {
          escaped = true;
          ++i;
          if (i == n) break;
          if (line[i] != '\\' && line[i] != '"' && line[i] != 'n') return fail(i, "bad escape in a label value");  // at the backslash
        }
        ++i;
      }
      if (i >= n) return fail(n + 1, "unterminated label value");
      std::string_view value = line.substr(vs, i - vs);
      ++i;  // the closing quote
      if (escaped) {
        // unescape into the shared buffer (at most the line's size: never reallocates)
        const std::size_t at = unescaped_.size();
        for (std::size_t k = 0; k < value.size(); ++k) {
          char c = value[k];
          if (c == '\\') {
            c = value[++k];
            if (c == 'n') c = '\n';
          }
          unescaped_.push_back(c);
        }
        value = std::string_view(unescaped_.data() + at, unescaped_.size() - at);
      }
      if (count == labels_.size()) return fail(ln + 1, "more labels than max_labels");
      labels_[count++] = PrometheusLabel{label_name, value};
      while (i < n && prom_blank(line[i])) ++i;
      if (i < n && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && line[i] == '}') {
        ++i;
        break;
      }
      return fail(i + 1, "expected ',' or '}' after a label");
    }
  }
  // value
  if (i == n || !prom_blank(line[i])) return fail(i + 1, "expected a blank before the value");
  while (i < n && prom_blank(line[i])) ++i;
  std::size_t vs = i;
  while (i < n && !prom_blank(line[i])) ++i;
  if (!prom_parse_double(line.substr(vs, i - vs), s.value)) return fail(vs + 1, "bad sample value");
  while (i < n && prom_blank(line[i])) ++i;
  if (i < n) {
    vs = i;
    while (i < n && !prom_blank(line[i])) ++i;
    const std::string_view ts = line.substr(vs, i - vs);
    const auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), s.timestamp_ms);
    if (ec != std::errc() || end != ts.data() + ts.size()) return fail(vs + 1, "bad timestamp");
    s.has_timestamp = true;
    while (i < n && prom_blank(line[i])) ++i;
    if (i < n) return fail(i + 1, "unexpected text after the timestamp");
  }
  s.labels = labels_.data();
  s.label_count = count;
  if (prom_in_family(s.name, family_)) {
    s.family = family_;
    s.type = family_type_;
  }
  ++result_.samples;
  on_sample(static_cast<const PrometheusSample&>(s));
}

inline double histogram_quantile(double q, const HistogramBucket* b, std::size_t n) noexcept {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (n < 2 || !(q >= 0.0 && q <= 1.0) || !std::isinf(b[n - 1].le) || b[n - 1].le < 0) return nan;
  const double total = b[n - 1].count;
  if (!(total > 0)) return nan;
  const double rank = q * total;
  std::size_t k = 0;
  while (k < n - 1 && b[k].count < rank) ++k;
  if (k == n - 1) return b[n - 2].le;  // in the +Inf bucket
  const double lower = k == 0 ? (b[0].le > 0 ? 0.0 : b[0].le) : b[k - 1].le;
  const double below = k == 0 ? 0.0 : b[k - 1].count;
  const double in_bucket = b[k].count - below;
  if (k == 0 && b[0].le <= 0) return b[0].le;
  if (!(in_bucket > 0)) return b[k].le;
  return lower + (b[k].le - lower) * (rank - below) / in_bucket;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_PROMETHEUS_HPP
