// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Engine presets for the Kubernetes path: where vLLM, TGI, SGLang and TensorRT-LLM/Triton put
// running and waiting requests, KV-cache use and their latency histograms (Triton: gauges only)
// on their /metrics
// pages (names from ../shared/ANCHORS.md and the engines' documentation), or a custom mapping
// given as key=value text. `read_engine_metrics` reads one scraped page into an EngineScrape;
// `to_replica_gauges` turns a usable scrape into one replica's engine gauges, and
// `engine_rates` turns two scrapes of the same replica into completion rate and mean latencies
// (counter resets handled).
//
// A page without the running or waiting figures is not usable: the caller leaves the replica's
// slot unset, so the old sample ages into "stale" instead of reading as zero load. Nor is a page
// whose figures cannot be true (EngineBounds: 1e308 running requests, a negative count, a KV
// use of 7, a series written twice with the same labels): a page can lie, and a figure outside
// what any engine produces must never become a decision. Such a page says why in `implausible`.
//
// Counters are keyed by the identity of the series they come from (`series`: the labels of the
// end-to-end histogram's count and the engine process's start time where the page exposes it),
// so that a load balancer flipping one endpoint between two replicas reads as two series, not as
// a counter that resets every scrape (ScrapedSignals keeps a few identities per replica).
#ifndef LLMSCALE_ADAPTERS_ENGINE_METRICS_HPP
#define LLMSCALE_ADAPTERS_ENGINE_METRICS_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "llmscale/adapters/histogram_buckets.hpp"
#include "llmscale/adapters/prometheus.hpp"
#include "llmscale/core/abi.hpp"
#include "llmscale/core/number.hpp"
#include "llmscale/core/time.hpp"
#include "llmscale/signals/engine_gauges.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// A metric on a page: its name and at most one label that must match (empty: any).
struct MetricRef {
  std::string name;         ///< the metric's name ("": none mapped)
  std::string label;        ///< the label that must match ("": any labels)
  std::string label_value;  ///< the value `label` must have
  /// True when no metric is mapped.
  [[nodiscard]] bool empty() const noexcept { return name.empty(); }
  /// True when `s` is this metric: the same name and, where a label is given, its value.
  [[nodiscard]] bool matches(const PrometheusSample& s) const noexcept {
    return !name.empty() && s.name == name && (label.empty() || s.label(label) == label_value);
  }
};

/// Where an engine's figures are. Each gauge has a current name and an optional fallback (a
/// deprecated name): the current one wins when both are present. Histograms are family names
/// (their `_sum`, `_count` and, for all but e2e, `_bucket` series are read); `latency_scale`
/// converts the latency histograms' unit to seconds (token histograms count tokens).
struct EngineMetricMap {
  std::string engine;  ///< vllm, tgi, sglang, trtllm, trtllm-serve or custom
  std::array<MetricRef, 2> running;      ///< running requests: the current name, then a fallback
  std::array<MetricRef, 2> waiting;      ///< waiting requests: the current name, then a fallback
  std::array<MetricRef, 2> kv_fraction;  ///< KV-cache use in [0, 1]
  std::string ttft;        ///< histogram family ("" when the engine has none)
  std::string queue_time;  ///< histogram family
  std::string e2e;         ///< histogram or summary family; its _count is the finished requests
  std::string tpot;           ///< time per output token (or inter-token latency) histogram family
  std::string tpot_fallback;  ///< its deprecated name, read where `tpot` is absent
  std::string prompt_tokens;  ///< prompt length histogram family (tokens per finished request)
  std::string output_tokens;  ///< output length histogram family (tokens per finished request)
  /// Prompt tokens counted as they are processed: the prompt mean where no length histogram is
  /// exposed (divided by the finished requests).
  MetricRef prompt_tokens_total;
  MetricRef output_tokens_total;  ///< output tokens generated: likewise for the output mean
  double latency_scale = 1.0;  ///< seconds per unit of the histograms (1e-3 for ms, 1e-6 for us)
  /// The engine process's start time (Unix seconds): part of the counters' identity, so that a
  /// different process behind the same endpoint is a new series. Python engines (vLLM, SGLang)
  /// export prometheus_client's process_start_time_seconds.
  MetricRef start_time;
};

/// What a page's figures may be before they are believed (per replica). Wide on purpose: they
/// catch what no engine produces, not a busy engine.
struct EngineBounds {
  double max_requests = 100'000;  ///< running or waiting on one replica (vLLM's max_num_seqs is <= a few thousand)
  double max_kv_fraction = 1.05;  ///< KV use as a fraction (rounding can push a full cache just over 1)
  double max_count = 1e15;        ///< a histogram's _count (doubles count exactly below 2^53 ~ 9e15)
  /// Requests one replica can finish per second: a counter that rises faster between two
  /// scrapes is not believed (ScrapedSignals), nor is a "reset" whose new value would need it.
  double max_completion_rate = 1'000;
  /// Seconds one observation of a latency histogram can add to its `_sum` (a request is not
  /// believed to have waited or run for more than a day): a rise of `_sum` larger than the
  /// rise of `_count` times this is not believed (ScrapedSignals drops it and counts it).
  double max_observation_s = 86'400;
  /// A token counter's value (prompt or output tokens since the engine started): a larger one is
  /// left out of the page's figures.
  double max_tokens = 1e15;
};

/// The presets: "vllm", "tgi", "sglang", "trtllm" (Triton's TensorRT-LLM backend),
/// "trtllm-serve" (TensorRT-LLM's own server, whose Prometheus page is /prometheus/metrics);
/// nullopt for another name.
[[nodiscard]] std::optional<EngineMetricMap> engine_preset(std::string_view engine);

/// A custom mapping from key=value lines (`#` comments, blank lines): running, waiting,
/// kv_fraction (each `name` or `name{label="value"}`, optionally a second, `running_fallback`
/// etc.), ttft, queue_time, e2e (family names) and latency_unit (s, ms or us). running and
/// waiting are required. On error, nullopt and `error` names the line, the key or value and
/// what is allowed.
[[nodiscard]] std::optional<EngineMetricMap> parse_engine_map(std::string_view text, std::string& error);

/// The histograms whose buckets are read, indexing EngineScrape::buckets.
enum class BucketedHistogram : std::uint8_t { ttft, tpot, queue_time, prompt_tokens, output_tokens };
/// How many BucketedHistogram there are.
inline constexpr std::size_t bucketed_histograms = 5;

/// A histogram's `_sum` and `_count`, summed over its label sets.
struct HistogramTotals {
  double sum = 0;        ///< the `_sum`s, in seconds (already scaled by latency_scale)
  double count = 0;      ///< the `_count`s: observations
  bool present = false;  ///< the page had the family's `_sum` or `_count`
};

/// What one scrape of one replica's page gave.
struct EngineScrape {
  std::optional<double> running;      ///< summed over label sets (e.g. data-parallel engines)
  std::optional<double> waiting;      ///< summed over label sets
  std::optional<double> kv_fraction;  ///< the fullest label set's
  /// \var ttft
  /// The time-to-first-token histogram's totals.
  /// \var queue_time
  /// The queue-time histogram's totals.
  /// \var e2e
  /// The end-to-end latency histogram's totals; its count is the finished requests.
  HistogramTotals ttft, queue_time, e2e;
  /// \var tpot
  /// The time-per-output-token histogram's totals (the current name's, else the fallback's).
  /// \var prompt_tokens
  /// The prompt length histogram's totals (in tokens).
  /// \var output_tokens
  /// The output length histogram's totals (in tokens).
  HistogramTotals tpot, prompt_tokens, output_tokens;
  std::optional<double> prompt_tokens_total;  ///< the prompt token counter, summed over label sets
  std::optional<double> output_tokens_total;  ///< the output token counter, summed over label sets
  /// The bucketed histograms' `_bucket` counts, in BucketedHistogram order (bounds in seconds for
  /// latencies).
  std::array<HistogramBuckets, bucketed_histograms> buckets{};
  /// The buckets of histogram `h`.
  [[nodiscard]] const HistogramBuckets& buckets_of(BucketedHistogram h) const noexcept {
    return buckets[static_cast<std::size_t>(h)];
  }
  std::optional<double> start_time;   ///< the engine process's start, where the page says
  /// The identity of the series the counters come from (0: the page gives none): a hash of the
  /// end-to-end count series' labels and the start time.
  std::uint64_t series = 0;
  /// Why the page's figures are not believed (static text naming the metric and the bound), or
  /// nullptr.
  const char* implausible = nullptr;
  PrometheusResult parse;             ///< the parser's counts and first error
  /// Running and waiting present and finite, every figure plausible, and no more than
  /// max_errors malformed lines.
  [[nodiscard]] bool usable() const noexcept {
    return running && waiting && std::isfinite(*running) && std::isfinite(*waiting) && *running >= 0 &&
           *waiting >= 0 && !parse.truncated && implausible == nullptr;
  }
};

/// Reads one page with `parser` (reused between scrapes: no allocation per page), and checks
/// its figures against `bounds`.
[[nodiscard]] EngineScrape read_engine_metrics(std::string_view page, const EngineMetricMap& map, PrometheusParser& parser,
                                               const EngineBounds& bounds = {});

/// One replica's engine gauges from a usable scrape taken at `scraped_at`: queue length =
/// waiting, running = running, max batch unknown, and KV use as a fraction of
/// `kv_capacity_tokens` (engines export a fraction; pass the real capacity where known).
[[nodiscard]] ReplicaGauges to_replica_gauges(const EngineScrape& scrape, TimePoint scraped_at,
                                              std::int64_t kv_capacity_tokens = 1'000'000) noexcept;

/// Between two scrapes of one replica `dt_s` apart: finished requests per second and the mean
/// TTFT, queue time and end-to-end latency of the requests finished in between (NaN where
/// nothing was observed or the engine has no such histogram).
struct EngineRates {
  double completion_rate = 0;                                           ///< finished requests per second
  double mean_ttft_s = std::numeric_limits<double>::quiet_NaN();        ///< mean time to first token, in seconds
  double mean_queue_time_s = std::numeric_limits<double>::quiet_NaN();  ///< mean time queued, in seconds
  double mean_e2e_s = std::numeric_limits<double>::quiet_NaN();         ///< mean end-to-end latency, in seconds
};
/// The rates between two scrapes of one replica, `before` and `after`, `dt_s` seconds apart.
[[nodiscard]] EngineRates engine_rates(const EngineScrape& before, const EngineScrape& after, double dt_s) noexcept;

// ---------------------------------------------------------------------------------------------
// Implementation.

inline std::optional<EngineMetricMap> engine_preset(std::string_view engine) {
  EngineMetricMap m;
  m.engine = std::string(engine);
  if (engine == "vllm") {
    m.running = {MetricRef{"vllm:num_requests_running", "", ""}, {}};
    m.waiting = {MetricRef{"vllm:num_requests_waiting", "", ""}, {}};
    m.kv_fraction = {MetricRef{"vllm:kv_cache_usage_perc", "", ""}, MetricRef{"vllm:gpu_cache_usage_perc", "", ""}};
    m.ttft = "vllm:time_to_first_token_seconds";
    m.queue_time = "vllm:request_queue_time_seconds";
    m.e2e = "vllm:e2e_request_latency_seconds";
    m.tpot = "vllm:inter_token_latency_seconds";
    m.tpot_fallback = "vllm:time_per_output_token_seconds";
    m.prompt_tokens = "vllm:request_prompt_tokens";
    m.output_tokens = "vllm:request_generation_tokens";
    m.prompt_tokens_total = MetricRef{"vllm:prompt_tokens_total", "", ""};
    m.output_tokens_total = MetricRef{"vllm:generation_tokens_total", "", ""};
    m.start_time = MetricRef{"process_start_time_seconds", "", ""};
  } else if (engine == "tgi") {
    m.running = {MetricRef{"tgi_batch_current_size", "", ""}, {}};
    m.waiting = {MetricRef{"tgi_queue_size", "", ""}, {}};
    m.queue_time = "tgi_request_queue_duration";
    m.e2e = "tgi_request_duration";
    m.tpot = "tgi_request_mean_time_per_token_duration";
    m.prompt_tokens = "tgi_request_input_length";
    m.output_tokens = "tgi_request_generated_tokens";
  } else if (engine == "sglang") {
    m.running = {MetricRef{"sglang:num_running_reqs", "", ""}, {}};
    m.waiting = {MetricRef{"sglang:num_queue_reqs", "", ""}, {}};
    m.kv_fraction = {MetricRef{"sglang:token_usage", "", ""}, {}};
    m.ttft = "sglang:time_to_first_token_seconds";
    m.e2e = "sglang:e2e_request_latency_seconds";
    m.tpot = "sglang:inter_token_latency_seconds";
    m.tpot_fallback = "sglang:time_per_output_token_seconds";
    m.queue_time = "sglang:queue_time_seconds";
    m.prompt_tokens_total = MetricRef{"sglang:prompt_tokens_total", "", ""};
    m.output_tokens_total = MetricRef{"sglang:generation_tokens_total", "", ""};
    m.start_time = MetricRef{"process_start_time_seconds", "", ""};
  } else if (engine == "trtllm") {
    m.running = {MetricRef{"nv_trt_llm_request_metrics", "request_type", "active"}, {}};
    m.waiting = {MetricRef{"nv_trt_llm_request_metrics", "request_type", "waiting"}, {}};
    m.kv_fraction = {MetricRef{"nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", "fraction"}, {}};
    // Triton's latencies (nv_inference_request_duration_us, nv_inference_queue_duration_us) are
    // cumulative counters, not histograms: not read yet.
  } else if (engine == "trtllm-serve") {
    // tensorrt_llm/metrics/collector.py: every name prefixed trtllm_; served on
    // /prometheus/metrics when the server runs with return_perf_metrics (and the load gauges
    // with enable_iter_perf_stats)
    m.running = {MetricRef{"trtllm_num_requests_running", "", ""}, {}};
    m.waiting = {MetricRef{"trtllm_num_requests_waiting", "", ""}, {}};
    m.kv_fraction = {MetricRef{"trtllm_kv_cache_utilization", "", ""}, {}};
    m.ttft = "trtllm_time_to_first_token_seconds";
    m.tpot = "trtllm_time_per_output_token_seconds";
    m.queue_time = "trtllm_request_queue_time_seconds";
    m.e2e = "trtllm_e2e_request_latency_seconds";
    m.prompt_tokens_total = MetricRef{"trtllm_prompt_tokens_total", "", ""};
    m.output_tokens_total = MetricRef{"trtllm_generation_tokens_total", "", ""};
    m.start_time = MetricRef{"process_start_time_seconds", "", ""};
  } else {
    return std::nullopt;
  }
  return m;
}

namespace detail {

inline std::string_view engine_trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// `name` or `name{label="value"}`
inline bool engine_metric_ref(std::string_view v, MetricRef& out) {
  const std::size_t brace = v.find('{');
  const std::string_view name = v.substr(0, brace);
  if (name.empty() || !prom_name_start(name.front())) return false;
  for (char c : name) {
    if (!prom_name_char(c)) return false;
  }
  out = MetricRef{std::string(name), "", ""};
  if (brace == std::string_view::npos) return true;
  std::string_view rest = v.substr(brace + 1);
  const std::size_t eq = rest.find('=');
  if (eq == std::string_view::npos || rest.size() < eq + 4 || rest[eq + 1] != '"' || rest.substr(rest.size() - 2) != "\"}") {
    return false;
  }
  const std::string_view label = rest.substr(0, eq);
  if (label.empty() || !prom_label_start(label.front())) return false;
  for (char c : label) {
    if (!prom_label_char(c)) return false;
  }
  out.label = std::string(label);
  out.label_value = std::string(rest.substr(eq + 2, rest.size() - eq - 4));
  return true;
}

// FNV-1a: a series' identity, its labels combined by a sum so that their order does not matter
inline std::uint64_t engine_hash(std::string_view text, std::uint64_t h = 14695981039346656037ull) noexcept {
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// splitmix64's finaliser: FNV-1a of strings that differ in one character differ by a small
// multiple of its prime, so a plain sum of label hashes cancels (engine="1",le="0.02" against
// engine="0",le="0.04"); each label's hash is mixed before the sum
inline std::uint64_t engine_mix(std::uint64_t x) noexcept {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline std::uint64_t engine_labels_hash(const PrometheusSample& s) noexcept {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < s.label_count; ++i) {
    sum += engine_mix(engine_hash(s.labels[i].value, engine_hash("=", engine_hash(s.labels[i].name))));
  }
  return sum;
}

// The series a page wrote, to refuse one written twice with the same labels. Only the mapped
// metrics are kept (a few per engine and label set); past the capacity the check stops, which
// a page can only reach by writing hundreds of load series, itself implausible.
class EngineSeriesSeen {
 public:
  /// False when (name, labels) was seen before on this page.
  bool insert(const PrometheusSample& s) noexcept {
    const std::uint64_t id = engine_hash(s.name) ^ (engine_labels_hash(s) * 0x9E3779B97F4A7C15ull);
    for (std::size_t i = 0; i < size_; ++i) {
      if (ids_[i] == id) return false;
    }
    if (size_ < ids_.size()) ids_[size_++] = id;
    else overflowed_ = true;
    return true;
  }
  [[nodiscard]] bool overflowed() const noexcept { return overflowed_; }

 private:
  std::array<std::uint64_t, 512> ids_{};
  std::size_t size_ = 0;
  bool overflowed_ = false;
};

}  // namespace detail

inline std::optional<EngineMetricMap> parse_engine_map(std::string_view text, std::string& error) {
  EngineMetricMap m;
  m.engine = "custom";
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = detail::engine_trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t eq = line.find('=');
    const auto where = "engine map line " + std::to_string(line_no) + ": ";
    if (eq == std::string_view::npos) {
      error = where + "'" + std::string(line) + "' is not key=value";
      return std::nullopt;
    }
    const std::string_view key = detail::engine_trim(line.substr(0, eq));
    const std::string_view value = detail::engine_trim(line.substr(eq + 1));
    MetricRef* ref = nullptr;
    if (key == "running") ref = &m.running[0];
    else if (key == "running_fallback") ref = &m.running[1];
    else if (key == "waiting") ref = &m.waiting[0];
    else if (key == "waiting_fallback") ref = &m.waiting[1];
    else if (key == "kv_fraction") ref = &m.kv_fraction[0];
    else if (key == "kv_fraction_fallback") ref = &m.kv_fraction[1];
    else if (key == "start_time") ref = &m.start_time;
    else if (key == "prompt_tokens_total") ref = &m.prompt_tokens_total;
    else if (key == "output_tokens_total") ref = &m.output_tokens_total;
    if (ref != nullptr) {
      if (!detail::engine_metric_ref(value, *ref)) {
        error = where + std::string(key) + " = '" + std::string(value) +
                "' is not a metric; allowed: name or name{label=\"value\"}";
        return std::nullopt;
      }
      continue;
    }
    std::string* family = key == "ttft"            ? &m.ttft
                          : key == "queue_time"    ? &m.queue_time
                          : key == "e2e"           ? &m.e2e
                          : key == "tpot"          ? &m.tpot
                          : key == "tpot_fallback" ? &m.tpot_fallback
                          : key == "prompt_tokens" ? &m.prompt_tokens
                          : key == "output_tokens" ? &m.output_tokens
                                                   : nullptr;
    if (family != nullptr) {
      MetricRef check;
      if (!detail::engine_metric_ref(value, check) || !check.label.empty()) {
        error = where + std::string(key) + " = '" + std::string(value) + "' is not a metric family name";
        return std::nullopt;
      }
      *family = std::string(value);
      continue;
    }
    if (key == "latency_unit") {
      if (value == "s") m.latency_scale = 1.0;
      else if (value == "ms") m.latency_scale = 1e-3;
      else if (value == "us") m.latency_scale = 1e-6;
      else {
        error = where + "latency_unit = '" + std::string(value) + "'; allowed: s, ms, us";
        return std::nullopt;
      }
      continue;
    }
    error = where + "unknown key '" + std::string(key) +
            "'; allowed: running, waiting, kv_fraction (each also _fallback), ttft, queue_time, e2e, tpot, "
            "tpot_fallback, prompt_tokens, output_tokens, prompt_tokens_total, output_tokens_total, latency_unit, start_time";
    return std::nullopt;
  }
  if (m.running[0].empty() || m.waiting[0].empty()) {
    error = "engine map: running and waiting are required";
    return std::nullopt;
  }
  return m;
}

inline EngineScrape read_engine_metrics(std::string_view page, const EngineMetricMap& map, PrometheusParser& parser,
                                       const EngineBounds& bounds) {
  EngineScrape r;
  // per gauge: sums (or the max for KV) of the current and the fallback name
  std::array<std::optional<double>, 2> running{}, waiting{}, kv{};
  detail::EngineSeriesSeen seen;
  std::uint64_t identity = 0;
  std::optional<double> prompt_total, output_total;
  bool total_bad = false;
  HistogramTotals tpot_old;  // the deprecated time-per-token family's, used where the current is absent
  HistogramBuckets tpot_old_buckets;
  const auto add = [](std::optional<double>& slot, double v) { slot = slot ? *slot + v : v; };
  const auto implausible = [&r](const char* why) {
    if (r.implausible == nullptr) r.implausible = why;
  };
  // a histogram's _sum and _count: finite, not negative, a count below max_count; its _bucket
  // counts where `buckets` is given (a bad one makes the buckets unusable, not the page)
  // true when `s` is the family's _sum or _count (a series the page must not write twice)
  // `base` and `suffix`: the sample's name split once (FAMILY + _bucket/_sum/_count)
  std::string_view base, suffix;
  const auto hist = [&](const std::string& family, const PrometheusSample& s, HistogramTotals& h, double scale,
                        HistogramBuckets* buckets) {
    if (family.empty() || base.size() != family.size() || base != family) return false;
    if (suffix == "_bucket") {
      if (buckets == nullptr) return false;
      const std::string_view le = s.label("le");
      double bound = 0;
      if (le == "+Inf" || le == "Inf" || le == "inf") bound = std::numeric_limits<double>::infinity();
      else if (!parse_number(le, bound) || !std::isfinite(bound)) bound = std::numeric_limits<double>::quiet_NaN();
      buckets->add(std::isinf(bound) ? bound : bound * scale, s.value > bounds.max_count ? -1.0 : s.value);
      // not put through the written-twice check (a page has hundreds of bucket series, and
      // the check is a scan): a bucket line written twice is summed like another label set's,
      // and counts that then fall as the bound rises make the buckets unusable, not the page
      return false;
    }
    const bool is_sum = suffix == "_sum";
    if (!is_sum && suffix != "_count") return false;
    if (!(s.value >= 0) || !std::isfinite(s.value)) {
      implausible(is_sum ? "a latency histogram's _sum is negative or not finite" : "a latency histogram's _count is negative or not finite");
      return true;
    }
    if (is_sum) {
      h.sum += s.value * scale;
    } else {
      if (s.value > bounds.max_count) implausible("a latency histogram's _count is over EngineBounds::max_count");
      h.count += s.value;
      if (&h == &r.e2e) identity += detail::engine_labels_hash(s) + 1;
    }
    h.present = true;
    return true;
  };
  const auto on = [&](const PrometheusSample& s) {
    bool load = false;
    for (std::size_t k = 0; k < 2; ++k) {
      if (map.running[k].matches(s)) add(running[k], s.value), load = true;
      if (map.waiting[k].matches(s)) add(waiting[k], s.value), load = true;
      if (map.kv_fraction[k].matches(s)) {
        load = true;
        if (!(s.value >= 0 && s.value <= bounds.max_kv_fraction)) implausible("the KV-cache use is negative or over EngineBounds::max_kv_fraction");
        else kv[k] = kv[k] ? std::max(*kv[k], s.value) : s.value;
      }
    }
    if (map.start_time.matches(s)) {
      load = true;
      if (std::isfinite(s.value)) r.start_time = s.value;
    }
    // token counters: a bad value leaves the counter out (the means then come from nowhere)
    for (auto [ref, total] : {std::pair{&map.prompt_tokens_total, &prompt_total}, std::pair{&map.output_tokens_total, &output_total}}) {
      if (!ref->matches(s)) continue;
      load = true;
      if (s.value >= 0 && s.value <= bounds.max_tokens) add(*total, s.value);
      else total_bad = true;
    }
    const auto b = [&r](BucketedHistogram h) { return &r.buckets[static_cast<std::size_t>(h)]; };
    using H = BucketedHistogram;
    const double ls = map.latency_scale;
    base = s.name;
    suffix = {};
    for (const std::string_view end : {std::string_view("_bucket"), std::string_view("_sum"), std::string_view("_count")}) {
      if (s.name.size() > end.size() && s.name.substr(s.name.size() - end.size()) == end) {
        base = s.name.substr(0, s.name.size() - end.size());
        suffix = end;
        break;
      }
    }
    // a family may be mapped to more than one role: each reads it (| does not short-circuit)
    const bool histogram = hist(map.ttft, s, r.ttft, ls, b(H::ttft)) | hist(map.queue_time, s, r.queue_time, ls, b(H::queue_time)) |
                           hist(map.e2e, s, r.e2e, ls, nullptr) | hist(map.tpot, s, r.tpot, ls, b(H::tpot)) |
                           hist(map.tpot_fallback, s, tpot_old, ls, &tpot_old_buckets) |
                           hist(map.prompt_tokens, s, r.prompt_tokens, 1.0, b(H::prompt_tokens)) |
                           hist(map.output_tokens, s, r.output_tokens, 1.0, b(H::output_tokens));
    if ((load || histogram) && !seen.insert(s)) implausible("a series is written twice with the same labels");
  };
  // only the mapped names are read: the rest of a big page is skipped after its names
  const auto wants = [&map](std::string_view name) {
    for (std::size_t k = 0; k < 2; ++k) {
      if (name == map.running[k].name || name == map.waiting[k].name || name == map.kv_fraction[k].name) return true;
    }
    if (!map.start_time.empty() && name == map.start_time.name) return true;
    for (const MetricRef* ref : {&map.prompt_tokens_total, &map.output_tokens_total}) {
      if (!ref->empty() && name == ref->name) return true;
    }
    for (const std::string* family :
         {&map.ttft, &map.queue_time, &map.e2e, &map.tpot, &map.tpot_fallback, &map.prompt_tokens, &map.output_tokens}) {
      if (!family->empty() && name.size() > family->size() && name.compare(0, family->size(), *family) == 0) return true;
    }
    return false;
  };
  parser.feed(page, on, wants);
  r.parse = parser.finish(on, wants);
  r.running = running[0] ? running[0] : running[1];
  r.waiting = waiting[0] ? waiting[0] : waiting[1];
  r.kv_fraction = kv[0] ? kv[0] : kv[1];
  if (!r.tpot.present && tpot_old.present) {
    r.tpot = tpot_old;
    r.buckets[static_cast<std::size_t>(BucketedHistogram::tpot)] = tpot_old_buckets;
  }
  if (!total_bad) {
    r.prompt_tokens_total = prompt_total;
    r.output_tokens_total = output_total;
  }
  const auto count_ok = [&bounds](const std::optional<double>& v) {
    return !v || !std::isfinite(*v) || (*v >= 0 && *v <= bounds.max_requests);  // NaN: unusable already
  };
  if (!count_ok(r.running)) implausible("running requests on one replica are negative or over EngineBounds::max_requests");
  if (!count_ok(r.waiting)) implausible("waiting requests on one replica are negative or over EngineBounds::max_requests");
  if (r.start_time) {
    std::uint64_t bits = 0;
    const double t = *r.start_time;
    static_assert(sizeof bits == sizeof t, "a double is 64 bits");
    std::memcpy(&bits, &t, sizeof bits);
    identity += detail::engine_hash(std::string_view(reinterpret_cast<const char*>(&bits), sizeof bits));
  }
  r.series = identity;
  return r;
}

inline ReplicaGauges to_replica_gauges(const EngineScrape& s, TimePoint scraped_at, std::int64_t kv_capacity_tokens) noexcept {
  ReplicaGauges g;
  const auto whole = [](double v) {
    return v > 0 ? static_cast<std::int64_t>(std::min(v, 2147483647.0) + 0.5) : std::int64_t{0};
  };
  g.queue_length = s.waiting ? whole(*s.waiting) : 0;
  g.running = s.running ? whole(*s.running) : 0;
  if (s.kv_fraction && kv_capacity_tokens > 0) {
    const double f = std::clamp(*s.kv_fraction, 0.0, 1.0);
    g.kv_tokens_capacity = kv_capacity_tokens;
    g.kv_tokens_used = static_cast<std::int64_t>(f * static_cast<double>(kv_capacity_tokens) + 0.5);
  }
  g.sampled_at = scraped_at;
  return g;
}

inline EngineRates engine_rates(const EngineScrape& a, const EngineScrape& b, double dt_s) noexcept {
  EngineRates r;
  if (b.e2e.present && a.e2e.present && dt_s > 0) r.completion_rate = counter_increase(a.e2e.count, b.e2e.count) / dt_s;
  const auto mean = [](const HistogramTotals& x, const HistogramTotals& y) {
    return x.present && y.present ? window_mean(x.sum, x.count, y.sum, y.count) : std::numeric_limits<double>::quiet_NaN();
  };
  r.mean_ttft_s = mean(a.ttft, b.ttft);
  r.mean_queue_time_s = mean(a.queue_time, b.queue_time);
  r.mean_e2e_s = mean(a.e2e, b.e2e);
  return r;
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_ADAPTERS_ENGINE_METRICS_HPP
