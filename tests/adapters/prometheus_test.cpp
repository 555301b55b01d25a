// The Prometheus text-format parser against pages written from the engines' documented
// formats, every metric type, malformed input, chunked feeding, and the histogram helpers
// against hand computations.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "llmscale/adapters/prometheus.hpp"

using llmscale::MetricType;
using llmscale::PrometheusSample;

namespace {

// What a vLLM /metrics page looks like (prometheus_client, text format 0.0.4): names from
// vLLM's documentation, current and deprecated KV names, a histogram, counters with _total
// and _created.
const char* const vllm_page = R"(# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.4375
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage (deprecated).
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.4375
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.234567e+06
vllm:prompt_tokens_created{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.7327e+09
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.04",model_name="m"} 10.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 40.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.25",model_name="m"} 90.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 100.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 100.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 12.5
)";

// TGI (text-generation-inference, metrics crate): names without a namespace separator.
const char* const tgi_page = R"(# TYPE tgi_batch_current_size gauge
tgi_batch_current_size 7
# TYPE tgi_queue_size gauge
tgi_queue_size 2
# TYPE tgi_request_duration histogram
tgi_request_duration_bucket{le="0.5"} 3
tgi_request_duration_bucket{le="+Inf"} 9
tgi_request_duration_sum 20.25
tgi_request_duration_count 9
# TYPE tgi_request_mean_time_per_token_duration summary
tgi_request_mean_time_per_token_duration{quantile="0.5"} 0.021
tgi_request_mean_time_per_token_duration{quantile="0.99"} 0.043
tgi_request_mean_time_per_token_duration_sum 1.5
tgi_request_mean_time_per_token_duration_count 60
)";

// SGLang.
const char* const sglang_page = R"(# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="qwen"} 31.0
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="qwen"} 0.0
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="qwen"} 0.82
)";

struct Collected {
  std::vector<std::string> names;
  std::map<std::string, double> value;  // name{first label value} -> value
  std::map<std::string, MetricType> type;
  std::vector<std::size_t> lines;
};

Collected collect(std::string_view text, llmscale::PrometheusResult& r, const llmscale::PrometheusLimits& limits = {}) {
  Collected c;
  r = llmscale::parse_prometheus(
      text,
      [&](const PrometheusSample& s) {
        std::string key(s.name);
        if (s.label_count > 0) key += "{" + std::string(s.labels[s.label_count - 1].value) + "}";
        c.names.emplace_back(s.name);
        c.value[key] = s.value;
        c.type[std::string(s.name)] = s.type;
        c.lines.push_back(s.line);
      },
      limits);
  return c;
}

}  // namespace

TEST_CASE("a vLLM page: gauges, counters with _total and _created, a histogram") {
  llmscale::PrometheusResult r;
  const Collected c = collect(vllm_page, r);
  CHECK(r.ok());
  CHECK(r.samples == 12);
  CHECK(r.lines == 24);
  CHECK(c.value.at("vllm:num_requests_running{meta-llama/Llama-3.1-8B-Instruct}") == 12.0);
  CHECK(c.value.at("vllm:kv_cache_usage_perc{meta-llama/Llama-3.1-8B-Instruct}") == 0.4375);
  CHECK(c.value.at("vllm:prompt_tokens_total{meta-llama/Llama-3.1-8B-Instruct}") == 1234567.0);
  CHECK(c.type.at("vllm:num_requests_waiting") == MetricType::gauge);
  CHECK(c.type.at("vllm:prompt_tokens_total") == MetricType::counter);
  CHECK(c.type.at("vllm:prompt_tokens_created") == MetricType::untyped);  // under no # TYPE of its own here
  CHECK(c.type.at("vllm:time_to_first_token_seconds_bucket") == MetricType::histogram);
  CHECK(c.type.at("vllm:time_to_first_token_seconds_sum") == MetricType::histogram);
  CHECK(c.lines.front() == 3);
}

TEST_CASE("label lookup and matchers") {
  const std::string page = "m{a=\"1\",b=\"x\"} 1\nm{a=\"2\",b=\"x\"} 2\nm{a=\"1\",b=\"y\"} 3\n";
  double sum = 0;
  const llmscale::LabelMatcher want[] = {{"a", "1", true}, {"b", "y", false}};
  const auto r = llmscale::parse_prometheus(page, [&](const PrometheusSample& s) {
    if (s.matches(want, 2)) sum += s.value;
    CHECK(s.label("missing").empty());
  });
  CHECK(r.ok());
  CHECK(sum == 1.0);
}

TEST_CASE("TGI and SGLang pages, a summary, values without a decimal point") {
  llmscale::PrometheusResult r;
  Collected t = collect(tgi_page, r);
  CHECK(r.ok());
  CHECK(t.value.at("tgi_batch_current_size") == 7);
  CHECK(t.value.at("tgi_request_mean_time_per_token_duration{0.99}") == 0.043);
  CHECK(t.type.at("tgi_request_mean_time_per_token_duration_count") == MetricType::summary);
  CHECK(t.type.at("tgi_request_duration_bucket") == MetricType::histogram);
  Collected g = collect(sglang_page, r);
  CHECK(r.ok());
  CHECK(g.value.at("sglang:num_running_reqs{qwen}") == 31);
  CHECK(g.value.at("sglang:token_usage{qwen}") == 0.82);
}

TEST_CASE("escapes, special values, timestamps, blanks, CRLF, trailing commas, other comments") {
  const std::string page =
      "# just a comment\n"
      "\n"
      "a{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"x\\ny\",} +Inf 1700000000000\r\n"
      "  b -Inf\n"
      "c NaN\n"
      "d{} -1.5e-3   -42\n"
      "e\t7\n";
  std::vector<PrometheusSample> got;
  std::vector<std::string> labels;
  const auto r = llmscale::parse_prometheus(page, [&](const PrometheusSample& s) {
    got.push_back(s);
    for (std::size_t i = 0; i < s.label_count; ++i) labels.emplace_back(s.labels[i].value);
  });
  CHECK(r.ok());
  REQUIRE(got.size() == 5);
  CHECK(labels == std::vector<std::string>{"C:\\dir", "say \"hi\"", "x\ny"});
  CHECK(std::isinf(got[0].value));
  CHECK(got[0].value > 0);
  CHECK(got[0].has_timestamp);
  CHECK(got[0].timestamp_ms == 1700000000000);
  CHECK(std::isinf(got[1].value));
  CHECK(got[1].value < 0);
  CHECK(std::isnan(got[2].value));
  CHECK(got[3].value == -1.5e-3);
  CHECK(got[3].timestamp_ms == -42);
  CHECK(got[4].value == 7);
}

TEST_CASE("malformed lines are errors with their line and column, skipped, and parsing goes on") {
  struct Case {
    const char* line;
    std::size_t column;
  };
  const Case cases[] = {
      {"9metric 1", 1},                // a name cannot start with a digit
      {"m{a=\"1\" 1", 9},              // unterminated label set
      {"m{a=\"x\\q\"} 1", 7},          // bad escape
      {"m{a=\"open} 1", 13},           // unterminated value (truncated line)
      {"m{1a=\"x\"} 1", 3},            // bad label name
      {"m{a:b=\"x\"} 1", 4},           // ':' is not allowed in label names
      {"m 1.2.3", 3},                  // bad value
      {"m", 2},                        // no value (truncated)
      {"m 1 12x", 5},                  // bad timestamp
      {"m 1 2 3", 7},                  // text after the timestamp
      {"# TYPE m sometype", 10},       // unknown type
  };
  for (const Case& k : cases) {
    CAPTURE(k.line);
    const std::string page = std::string("ok 1\n") + k.line + "\nok 2\n";
    double sum = 0;
    const auto r = llmscale::parse_prometheus(page, [&](const PrometheusSample& s) { sum += s.value; });
    CHECK(r.errors == 1);
    CHECK(r.first_error.line == 2);
    CHECK(r.first_error.column == k.column);
    CHECK(std::string(r.first_error.message).size() > 5);
    CHECK(sum == 3.0);  // the good lines around it
  }
}

TEST_CASE("huge lines, binary garbage and too many errors: bounded, counted, no crash") {
  llmscale::PrometheusLimits limits;
  limits.max_line_bytes = 1024;
  limits.max_errors = 5;
  std::string page = "a 1\n" + std::string(5000, 'x') + "\nb 2\n";
  llmscale::PrometheusResult r;
  Collected c = collect(page, r, limits);
  CHECK(r.errors == 1);
  CHECK(r.first_error.line == 2);
  CHECK(std::string(r.first_error.message) == "line longer than max_line_bytes");
  CHECK(c.names == std::vector<std::string>{"a", "b"});
  std::mt19937_64 rng(1);
  std::string garbage(20000, '\0');
  for (char& ch : garbage) ch = static_cast<char>(rng());
  c = collect(garbage, r, limits);
  CHECK(r.errors == 5);
  CHECK(r.truncated);  // stopped at max_errors
  limits.max_bytes = 1024;
  c = collect(std::string(4096, '\n'), r, limits);
  CHECK(r.truncated);
  CHECK(r.lines == 1024);
  CHECK(llmscale::PrometheusLimits{0}.problem() ==
        "prometheus.max_line_bytes = 0 is out of range; allowed: [64, 16777216]");
  CHECK_THROWS_AS(llmscale::PrometheusParser(llmscale::PrometheusLimits{0}), std::invalid_argument);
}

TEST_CASE("fed in random chunks, a page parses exactly as whole") {
  std::string page = std::string(vllm_page) + tgi_page + sglang_page + "x{v=\"a\\\"b\"} 5";  // no final newline
  llmscale::PrometheusResult whole_r;
  const Collected whole = collect(page, whole_r);
  REQUIRE(whole_r.ok());
  std::mt19937_64 rng(3);
  llmscale::PrometheusParser p;
  for (int run = 0; run < 200; ++run) {
    Collected c;
    const auto on = [&](const PrometheusSample& s) {
      std::string key(s.name);
      if (s.label_count > 0) key += "{" + std::string(s.labels[s.label_count - 1].value) + "}";
      c.names.emplace_back(s.name);
      c.value[key] = s.value;
      c.type[std::string(s.name)] = s.type;
    };
    std::size_t at = 0;
    while (at < page.size()) {
      const std::size_t len = std::min<std::size_t>(page.size() - at, 1 + rng() % 40);
      p.feed(std::string_view(page).substr(at, len), on);
      at += len;
    }
    const auto r = p.finish(on);
    CHECK(r.ok());
    CHECK(r.samples == whole_r.samples);
    CHECK(c.names == whole.names);
    CHECK(c.value == whole.value);
    CHECK(c.type == whole.type);
  }
}

TEST_CASE("histogram_quantile interpolates as Prometheus does") {
  // By hand: 100 samples; buckets <= 0.04: 10, <= 0.1: 40, <= 0.25: 90, +Inf: 100.
  const llmscale::HistogramBucket b[] = {{0.04, 10}, {0.1, 40}, {0.25, 90}, {INFINITY, 100}};
  // p50: rank 50, in (0.1, 0.25] holding 50: 0.1 + 0.15 * (50 - 40) / 50 = 0.13
  CHECK(llmscale::histogram_quantile(0.5, b, 4) == doctest::Approx(0.13));
  // p5: rank 5 in the first bucket, which starts at 0: 0.04 * 5 / 10 = 0.02
  CHECK(llmscale::histogram_quantile(0.05, b, 4) == doctest::Approx(0.02));
  // p95: rank 95 in +Inf: the highest finite bound
  CHECK(llmscale::histogram_quantile(0.95, b, 4) == 0.25);
  CHECK(std::isnan(llmscale::histogram_quantile(1.5, b, 4)));
  const llmscale::HistogramBucket no_inf[] = {{0.1, 1}, {0.2, 2}};
  CHECK(std::isnan(llmscale::histogram_quantile(0.5, no_inf, 2)));
  const llmscale::HistogramBucket empty[] = {{0.1, 0}, {INFINITY, 0}};
  CHECK(std::isnan(llmscale::histogram_quantile(0.5, empty, 2)));
}

TEST_CASE("counter increases and window means survive a counter reset") {
  CHECK(llmscale::counter_increase(100, 130) == 30);
  CHECK(llmscale::counter_increase(100, 7) == 7);  // restarted, counted 7 since
  CHECK(llmscale::counter_increase(NAN, 7) == 0);
  // _sum / _count: 12.5 s over 100 requests, then 20.5 s over 120: 8 s over 20 = 0.4 s
  CHECK(llmscale::window_mean(12.5, 100, 20.5, 120) == doctest::Approx(0.4));
  CHECK(llmscale::window_mean(12.5, 100, 3.0, 6) == doctest::Approx(0.5));  // reset: all since
  CHECK(std::isnan(llmscale::window_mean(12.5, 100, 12.5, 100)));
}

TEST_CASE("a wants filter: declined lines are skipped unread, wanted ones parsed and checked") {
  const std::string page =
      "# TYPE a gauge\n"
      "a{x=\"1\"} 1\n"
      "b{x=\"1\" 2\n"        // malformed, but declined: not read, not an error
      "b_total 7\n"
      "a{x=\"2\"} oops\n"    // malformed and wanted: an error on line 5
      "a{x=\"3\"} 3\n";
  llmscale::PrometheusParser parser;
  std::vector<double> seen;
  const auto on = [&](const llmscale::PrometheusSample& s) {
    CHECK(s.name == "a");
    seen.push_back(s.value);
  };
  const auto wants = [](std::string_view name) { return name == "a"; };
  parser.feed(page, on, wants);
  const llmscale::PrometheusResult r = parser.finish(on, wants);
  CHECK(seen == std::vector<double>{1, 3});
  CHECK(r.lines == 6);
  CHECK(r.samples == 2);
  CHECK(r.errors == 1);
  CHECK(r.first_error.line == 5);
  // without the filter the same page has two malformed lines and three samples
  std::size_t all = 0;
  const llmscale::PrometheusResult full = llmscale::parse_prometheus(page, [&](const llmscale::PrometheusSample&) { ++all; });
  CHECK(all == 3);
  CHECK(full.errors == 2);
}
