// Engine presets and custom mappings: each engine's page read into engine gauges, deprecated
// names as fallbacks, unusable pages never read as zero load, rates and means across a
// counter reset, and custom maps that name what is wrong.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "llmscale/adapters/engine_metrics.hpp"
#include "llmscale/signals/engine_gauges.hpp"

using llmscale::at_seconds;
using namespace std::chrono_literals;

namespace {

llmscale::EngineScrape read(const char* engine, const std::string& page) {
  llmscale::PrometheusParser parser;
  const auto map = llmscale::engine_preset(engine);
  REQUIRE(map.has_value());
  return llmscale::read_engine_metrics(page, *map, parser);
}

// vLLM with two data-parallel engines in one process (label engine), the deprecated KV gauge
// beside the current one, and the latency histograms.
const std::string vllm_page =
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 12.0\n"
    "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 9.0\n"
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 3.0\n"
    "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 4.0\n"
    "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n"
    "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.75\n"
    "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.10\n"
    "# TYPE vllm:time_to_first_token_seconds histogram\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 100\n"
    "vllm:time_to_first_token_seconds_sum{model_name=\"m\"} 12.5\n"
    "vllm:time_to_first_token_seconds_count{model_name=\"m\"} 100\n"
    "vllm:e2e_request_latency_seconds_sum{model_name=\"m\"} 400\n"
    "vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 100\n"
    "vllm:request_queue_time_seconds_sum{model_name=\"m\"} 5\n"
    "vllm:request_queue_time_seconds_count{model_name=\"m\"} 100\n";

}  // namespace

TEST_CASE("vLLM: engines summed, the current KV name preferred, the fullest engine's KV") {
  const auto s = read("vllm", vllm_page);
  REQUIRE(s.usable());
  CHECK(*s.running == 21);
  CHECK(*s.waiting == 7);
  CHECK(*s.kv_fraction == 0.75);  // not the deprecated 0.10
  CHECK(s.ttft.sum == 12.5);
  CHECK(s.ttft.count == 100);
  const llmscale::ReplicaGauges g = llmscale::to_replica_gauges(s, at_seconds(10), 400000);
  CHECK(g.valid());
  CHECK(g.queue_length == 7);
  CHECK(g.running == 21);
  CHECK(g.kv_tokens_used == 300000);
  CHECK(g.kv_tokens_capacity == 400000);
}

TEST_CASE("vLLM before the rename: the deprecated KV gauge is read") {
  const auto s = read("vllm",
                      "vllm:num_requests_running 2\nvllm:num_requests_waiting 0\nvllm:gpu_cache_usage_perc 0.5\n");
  REQUIRE(s.usable());
  CHECK(*s.kv_fraction == 0.5);
}

TEST_CASE("TGI, SGLang and TensorRT-LLM pages") {
  auto t = read("tgi",
                "tgi_batch_current_size 7\ntgi_queue_size 2\ntgi_request_duration_sum 20.25\n"
                "tgi_request_duration_count 9\ntgi_request_queue_duration_sum 1.5\ntgi_request_queue_duration_count 9\n");
  REQUIRE(t.usable());
  CHECK(*t.running == 7);
  CHECK(*t.waiting == 2);
  CHECK_FALSE(t.kv_fraction.has_value());  // TGI exports none
  CHECK(t.e2e.count == 9);
  auto g = read("sglang", "sglang:num_running_reqs{model_name=\"q\"} 31\nsglang:num_queue_reqs{model_name=\"q\"} 0\n"
                          "sglang:token_usage{model_name=\"q\"} 0.82\n");
  REQUIRE(g.usable());
  CHECK(*g.running == 31);
  CHECK(*g.kv_fraction == 0.82);
  auto r = read("trtllm",
                "nv_trt_llm_request_metrics{model=\"m\",request_type=\"active\"} 5\n"
                "nv_trt_llm_request_metrics{model=\"m\",request_type=\"waiting\"} 6\n"
                "nv_trt_llm_request_metrics{model=\"m\",request_type=\"context\"} 100\n"
                "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"fraction\",model=\"m\"} 0.3\n"
                "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"max\",model=\"m\"} 4096\n");
  REQUIRE(r.usable());
  CHECK(*r.running == 5);
  CHECK(*r.waiting == 6);
  CHECK(*r.kv_fraction == 0.3);
  CHECK_FALSE(llmscale::engine_preset("ollama").has_value());
}

TEST_CASE("trtllm-serve's own names, token counters and length histograms, and the deprecated time-per-token family") {
  // names as tensorrt_llm/metrics/collector.py writes them (labels model_name, engine_type)
  auto t = read("trtllm-serve",
                "trtllm_num_requests_running{engine_type=\"trtllm\",model_name=\"m\"} 7\n"
                "trtllm_num_requests_waiting{engine_type=\"trtllm\",model_name=\"m\"} 2\n"
                "trtllm_kv_cache_utilization{engine_type=\"trtllm\",model_name=\"m\"} 0.4\n"
                "trtllm_time_to_first_token_seconds_bucket{le=\"0.5\",model_name=\"m\"} 3\n"
                "trtllm_time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 4\n"
                "trtllm_time_to_first_token_seconds_sum{model_name=\"m\"} 2.0\n"
                "trtllm_time_to_first_token_seconds_count{model_name=\"m\"} 4\n"
                "trtllm_time_per_output_token_seconds_sum{model_name=\"m\"} 0.2\n"
                "trtllm_time_per_output_token_seconds_count{model_name=\"m\"} 4\n"
                "trtllm_prompt_tokens_total{model_name=\"m\"} 4000\n"
                "trtllm_generation_tokens_total{model_name=\"m\"} 800\n");
  REQUIRE(t.usable());
  CHECK(*t.running == 7);
  CHECK(*t.kv_fraction == 0.4);
  CHECK(t.tpot.count == 4);
  CHECK(*t.prompt_tokens_total == 4000);
  CHECK(*t.output_tokens_total == 800);
  const auto& b = t.buckets_of(llmscale::BucketedHistogram::ttft);
  REQUIRE(b.usable());
  CHECK(b.size == 2);
  CHECK(b.count[0] == 3);
  // vLLM: the deprecated time_per_output_token family where inter_token_latency is absent, and
  // the request length histograms with their buckets
  auto v = read("vllm",
                "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\n"
                "vllm:time_per_output_token_seconds_bucket{le=\"0.05\"} 10\n"
                "vllm:time_per_output_token_seconds_bucket{le=\"+Inf\"} 12\n"
                "vllm:time_per_output_token_seconds_sum 0.7\nvllm:time_per_output_token_seconds_count 12\n"
                "vllm:request_prompt_tokens_bucket{le=\"1000\"} 2\nvllm:request_prompt_tokens_bucket{le=\"+Inf\"} 3\n"
                "vllm:request_prompt_tokens_sum 3500\nvllm:request_prompt_tokens_count 3\n");
  REQUIRE(v.usable());
  CHECK(v.tpot.count == 12);
  CHECK(v.buckets_of(llmscale::BucketedHistogram::tpot).count[0] == 10);
  CHECK(v.prompt_tokens.sum == 3500);
  CHECK(v.buckets_of(llmscale::BucketedHistogram::prompt_tokens).le[0] == 1000);
  // the current name wins over the deprecated one where both are present
  auto both = read("vllm",
                   "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\n"
                   "vllm:inter_token_latency_seconds_count 5\nvllm:time_per_output_token_seconds_count 12\n");
  CHECK(both.tpot.count == 5);
  // a token counter that cannot be true leaves both counters out, not the page
  auto huge = read("vllm", "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\nvllm:prompt_tokens_total 1e300\n");
  CHECK(huge.usable());
  CHECK_FALSE(huge.prompt_tokens_total.has_value());
}

TEST_CASE("a page without the load figures is not usable: the replica is not read as idle") {
  CHECK_FALSE(read("vllm", "").usable());                                                // an empty page
  CHECK_FALSE(read("vllm", "vllm:num_requests_running 3\n").usable());                   // waiting missing
  CHECK_FALSE(read("vllm", "vllm:num_requests_running NaN\nvllm:num_requests_waiting 1\n").usable());
  CHECK_FALSE(read("vllm", "<html>502 Bad Gateway</html>\n").usable());                  // a proxy's error page
  // The host leaves the slot unset; its last sample then ages into "stale" in the summary.
  llmscale::EngineGauges gauges(1);
  REQUIRE(gauges.set(0, llmscale::to_replica_gauges(read("vllm", vllm_page), at_seconds(0))));
  const auto f = gauges.summarize(at_seconds(31), 30s);
  CHECK(f.replicas_stale == 1);
  CHECK(f.replicas_reporting == 0);
}

TEST_CASE("rates and means between two scrapes, across a restart") {
  const auto a = read("vllm", vllm_page);
  std::string later = vllm_page;
  // 20 s later: 40 more requests, 10 s more TTFT in all, 80 s more end to end
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"seconds_sum{model_name=\"m\"} 12.5", "seconds_sum{model_name=\"m\"} 22.5"},
                                 {"seconds_count{model_name=\"m\"} 100\nvllm:e2e", "seconds_count{model_name=\"m\"} 140\nvllm:e2e"},
                                 {"latency_seconds_sum{model_name=\"m\"} 400", "latency_seconds_sum{model_name=\"m\"} 480"},
                                 {"latency_seconds_count{model_name=\"m\"} 100", "latency_seconds_count{model_name=\"m\"} 140"}}) {
    const auto at = later.find(from);
    REQUIRE(at != std::string::npos);
    later.replace(at, from.size(), to);
  }
  const auto b = read("vllm", later);
  const auto r = llmscale::engine_rates(a, b, 20.0);
  CHECK(r.completion_rate == doctest::Approx(2.0));  // 40 / 20 s
  CHECK(r.mean_ttft_s == doctest::Approx(0.25));     // 10 s / 40
  CHECK(r.mean_e2e_s == doctest::Approx(2.0));       // 80 s / 40
  CHECK(std::isnan(r.mean_queue_time_s));            // unchanged: nothing observed
  // the engine restarted between the scrapes: its counters start again from 0
  const auto restarted = read("vllm",
                              "vllm:num_requests_running 0\nvllm:num_requests_waiting 0\n"
                              "vllm:e2e_request_latency_seconds_sum 6\nvllm:e2e_request_latency_seconds_count 3\n");
  const auto r2 = llmscale::engine_rates(b, restarted, 10.0);
  CHECK(r2.completion_rate == doctest::Approx(0.3));
  CHECK(r2.mean_e2e_s == doctest::Approx(2.0));
}

TEST_CASE("a custom mapping in key=value text, and its errors") {
  std::string error;
  const auto m = llmscale::parse_engine_map(
      "# my engine\n"
      "running = my_running{pool=\"a\"}\n"
      "waiting = my_waiting\n"
      "kv_fraction = my_kv\n"
      "e2e = my_latency_ms\n"
      "latency_unit = ms\n",
      error);
  REQUIRE_MESSAGE(m.has_value(), error);
  llmscale::PrometheusParser parser;
  const auto s = llmscale::read_engine_metrics(
      "my_running{pool=\"a\"} 4\nmy_running{pool=\"b\"} 50\nmy_waiting 1\nmy_kv 0.5\n"
      "my_latency_ms_sum 3000\nmy_latency_ms_count 3\n",
      *m, parser);
  REQUIRE(s.usable());
  CHECK(*s.running == 4);
  CHECK(s.e2e.sum == doctest::Approx(3.0));  // ms to s
  // the time-per-token, length and token-counter keys; bucket bounds scaled like the sums
  const auto t = llmscale::parse_engine_map(
      "running = r\nwaiting = w\ntpot = my_itl_ms\noutput_tokens = my_out\nprompt_tokens_total = my_prompt_total\n"
      "latency_unit = ms\n",
      error);
  REQUIRE_MESSAGE(t.has_value(), error);
  const auto u = llmscale::read_engine_metrics(
      "r 1\nw 0\nmy_itl_ms_bucket{le=\"50\"} 2\nmy_itl_ms_bucket{le=\"+Inf\"} 2\nmy_itl_ms_sum 60\nmy_itl_ms_count 2\n"
      "my_out_sum 300\nmy_out_count 2\nmy_prompt_total 900\n",
      *t, parser);
  REQUIRE(u.usable());
  CHECK(u.tpot.sum == doctest::Approx(0.06));
  CHECK(u.buckets_of(llmscale::BucketedHistogram::tpot).le[0] == doctest::Approx(0.05));
  CHECK(u.output_tokens.sum == 300);  // tokens are not scaled
  CHECK(*u.prompt_tokens_total == 900);
  CHECK_FALSE(llmscale::parse_engine_map("running = a\n", error).has_value());
  CHECK(error == "engine map: running and waiting are required");
  CHECK_FALSE(llmscale::parse_engine_map("running = 9a\nwaiting = b\n", error).has_value());
  CHECK(error == "engine map line 1: running = '9a' is not a metric; allowed: name or name{label=\"value\"}");
  CHECK_FALSE(llmscale::parse_engine_map("running = a\nwaiting = b\nlatency_unit = h\n", error).has_value());
  CHECK(error == "engine map line 3: latency_unit = 'h'; allowed: s, ms, us");
  CHECK_FALSE(llmscale::parse_engine_map("runing = a\n", error).has_value());
  CHECK(error.find("unknown key 'runing'") != std::string::npos);
}

TEST_CASE("a page whose figures cannot be true is not believed, and says which figure") {
  const std::string ok = "vllm:num_requests_running 3\nvllm:num_requests_waiting 1\nvllm:kv_cache_usage_perc 0.5\n";
  REQUIRE(read("vllm", ok).usable());
  REQUIRE(read("vllm", ok).implausible == nullptr);
  const auto why = [](const std::string& page) {
    const auto s = read("vllm", page);
    CHECK_FALSE(s.usable());  // never a decision from it
    return std::string(s.implausible != nullptr ? s.implausible : "");
  };
  // 1e308 running requests: clamped to 2^31-1 before, the fleet then scaled to its maximum
  CHECK(why("vllm:num_requests_running 1e308\nvllm:num_requests_waiting 1\n").find("running requests") == 0);
  CHECK(why("vllm:num_requests_running 3\nvllm:num_requests_waiting 100001\n").find("waiting requests") == 0);
  CHECK(why("vllm:num_requests_running 3\nvllm:num_requests_waiting 1\nvllm:kv_cache_usage_perc 7\n").find("KV") != std::string::npos);
  CHECK(why("vllm:num_requests_running 3\nvllm:num_requests_waiting 1\nvllm:kv_cache_usage_perc -0.1\n").find("KV") != std::string::npos);
  CHECK(why("vllm:num_requests_running 3\nvllm:num_requests_waiting 1\n"
            "vllm:e2e_request_latency_seconds_count 2e15\nvllm:e2e_request_latency_seconds_sum 1\n")
            .find("_count is over") != std::string::npos);
  CHECK(why("vllm:num_requests_running 3\nvllm:num_requests_waiting 1\n"
            "vllm:e2e_request_latency_seconds_count 5\nvllm:e2e_request_latency_seconds_sum -1\n")
            .find("_sum is negative") != std::string::npos);
  CHECK(why("vllm:num_requests_running 3\nvllm:num_requests_waiting 1\n"
            "vllm:e2e_request_latency_seconds_count +Inf\nvllm:e2e_request_latency_seconds_sum 1\n")
            .find("_count is negative or not finite") != std::string::npos);
  // at the bound itself: still believed (the bound is inclusive)
  CHECK(read("vllm", "vllm:num_requests_running 100000\nvllm:num_requests_waiting 0\n").usable());
  // NaN stays what it was: not usable, the load unknown (no figure to disbelieve)
  CHECK_FALSE(read("vllm", "vllm:num_requests_running NaN\nvllm:num_requests_waiting 1\n").usable());
}

TEST_CASE("a series written twice with the same labels is refused - distinct label sets are summed") {
  // the same labels in another order are the same series
  const auto dup = read("vllm",
                        "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3\n"
                        "vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 3\n"
                        "vllm:num_requests_waiting 0\n");
  CHECK_FALSE(dup.usable());
  CHECK(std::string(dup.implausible).find("twice") != std::string::npos);
  const auto dup_count = read("vllm",
                              "vllm:num_requests_running 3\nvllm:num_requests_waiting 0\n"
                              "vllm:e2e_request_latency_seconds_count 10\nvllm:e2e_request_latency_seconds_count 10\n");
  CHECK_FALSE(dup_count.usable());
  // vLLM's per-engine label: two series, summed
  const auto two = read("vllm",
                        "vllm:num_requests_running{engine=\"0\"} 3\nvllm:num_requests_running{engine=\"1\"} 4\n"
                        "vllm:num_requests_waiting{engine=\"0\"} 1\nvllm:num_requests_waiting{engine=\"1\"} 1\n");
  REQUIRE(two.usable());
  CHECK(*two.running == 7);
  CHECK(*two.waiting == 2);
}

TEST_CASE("the counters' identity: the e2e count's labels and the engine process's start time") {
  const std::string body =
      "vllm:num_requests_running 3\nvllm:num_requests_waiting 1\n"
      "vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 10\nvllm:e2e_request_latency_seconds_sum{model_name=\"m\"} 20\n";
  const auto a = read("vllm", body + "process_start_time_seconds 1.7e9\n");
  const auto a_again = read("vllm", "process_start_time_seconds 1.7e9\n" + body);  // order does not matter
  const auto b = read("vllm", body + "process_start_time_seconds 1.7000001e9\n");   // another process
  const auto none = read("vllm", body);
  REQUIRE(a.usable());
  REQUIRE(b.usable());
  REQUIRE(a.start_time.has_value());
  CHECK(*a.start_time == 1.7e9);
  CHECK(a.series != 0);
  CHECK(a.series == a_again.series);
  CHECK(a.series != b.series);
  CHECK(none.series != 0);  // the labels alone
  CHECK(none.series != a.series);
  const auto other_model = read("vllm",
                                "vllm:num_requests_running 3\nvllm:num_requests_waiting 1\n"
                                "vllm:e2e_request_latency_seconds_count{model_name=\"n\"} 10\n");
  CHECK(other_model.series != none.series);
  std::string error;
  const auto m = llmscale::parse_engine_map("running = r\nwaiting = w\nstart_time = boot_time\n", error);
  REQUIRE(m.has_value());
  CHECK(m->start_time.name == "boot_time");
  CHECK(llmscale::engine_preset("tgi")->start_time.empty());  // TGI exports none
}

TEST_CASE("label sets that differ by a character or two are told apart (the duplicate-series check does not cancel them out)") {
  // FNV-1a hashes of engine="1" and engine="0" (and of le="0.02" and le="0.04") differ by small
  // multiples of its prime: summed unmixed, engine="1",model...-1,le="0.02" met
  // engine="0",model...-0,le="0.04" and a real data-parallel vLLM page read as a series written twice
  std::string page = "vllm:num_requests_running 1\nvllm:num_requests_waiting 0\n";
  for (int e = 0; e < 18; ++e) {
    const std::string labels = "engine=\"" + std::to_string(e % 8) + "\",model_name=\"m-" + std::to_string(e) + "\"";
    double count = 0;
    for (const char* le : {"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "+Inf"}) {
      count += 17;
      page += "vllm:time_to_first_token_seconds_bucket{" + labels + ",le=\"" + le + "\"} " + std::to_string(count) + "\n";
    }
  }
  const auto s = read("vllm", page);
  CHECK(s.implausible == nullptr);
  CHECK(s.usable());
  CHECK(s.buckets_of(llmscale::BucketedHistogram::ttft).count[10] == doctest::Approx(18 * 11 * 17));
}
