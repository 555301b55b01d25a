// Adapters/...: parsing an engine's /metrics page, and reading a replica's gauges from it (what
// llmscale-scaler does per scrape). Baseline in the same run: Adapters/Baseline/memchr, finding
// every newline of the same page with memchr.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/adapters/prometheus.hpp"

namespace {

// A vLLM-like page of about 210 kB: gauges, counters and histograms for 18 model/engine
// label sets, the way prometheus_client writes them.
std::string vllm_page() {
  std::string page;
  const char* histograms[] = {"vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds",
                              "vllm:inter_token_latency_seconds", "vllm:request_queue_time_seconds"};
  const char* bounds[] = {"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5",
                          "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "+Inf"};
  for (int e = 0; e < 18; ++e) {
    const std::string labels = "engine=\"" + std::to_string(e % 8) + "\",model_name=\"meta-llama/Llama-3.1-8B-Instruct-" +
                               std::to_string(e) + "\"";
    page += "# HELP vllm:num_requests_running Number of requests in model execution batches.\n";
    page += "# TYPE vllm:num_requests_running gauge\n";
    page += "vllm:num_requests_running{" + labels + "} " + std::to_string(e % 64) + ".0\n";
    page += "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{" + labels + "} 3.0\n";
    page += "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{" + labels + "} 0.4375\n";
    page += "# TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total{" + labels + "} 1.234567e+06\n";
    for (const char* h : histograms) {
      page += std::string("# HELP ") + h + " A latency histogram in seconds.\n# TYPE " + h + " histogram\n";
      double count = 0;
      for (const char* le : bounds) {
        count += 17;
        page += std::string(h) + "_bucket{" + labels + ",le=\"" + le + "\"} " + std::to_string(count) + "\n";
      }
      page += std::string(h) + "_count{" + labels + "} " + std::to_string(count) + "\n";
      page += std::string(h) + "_sum{" + labels + "} 1234.5\n";
    }
  }
  return page;
}

const std::string& page() {
  static const std::string p = vllm_page();
  return p;
}

void Adapters_Prometheus_parse(benchmark::State& state) {
  const std::string& text = page();
  llmscale::PrometheusParser parser;
  double sum = 0;
  for (auto _ : state) {
    parser.feed(text, [&](const llmscale::PrometheusSample& s) { sum += s.value; });
    benchmark::DoNotOptimize(parser.finish([&](const llmscale::PrometheusSample& s) { sum += s.value; }));
  }
  benchmark::DoNotOptimize(sum);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["page_kB"] = static_cast<double>(text.size()) / 1000.0;
}
BENCHMARK(Adapters_Prometheus_parse)->Name("Adapters/Prometheus/parse");

// read_engine_metrics with the vLLM preset: only its names are parsed beyond the name.
void Adapters_Engine_read_vllm(benchmark::State& state) {
  const std::string& text = page();
  const llmscale::EngineMetricMap map = *llmscale::engine_preset("vllm");
  llmscale::PrometheusParser parser;
  for (auto _ : state) {
    const llmscale::EngineScrape s = llmscale::read_engine_metrics(text, map, parser);
    if (!s.usable()) state.SkipWithError("page not usable");
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(Adapters_Engine_read_vllm)->Name("Adapters/Engine/read_vllm");

void Adapters_Baseline_memchr(benchmark::State& state) {
  const std::string& text = page();
  for (auto _ : state) {
    std::size_t lines = 0;
    const char* p = text.data();
    const char* end = p + text.size();
    while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr) {
      ++lines;
      ++p;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(Adapters_Baseline_memchr)->Name("Adapters/Baseline/memchr");

}  // namespace
