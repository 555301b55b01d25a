// llmscale-scaler: its own /metrics page (Prometheus text format), rendered on the tick thread
// after each decision and served as it is by the HTTP thread (docs/kubernetes.md lists it): the
// decision and signals through the library (adapters/exposition.hpp), then the scaler's own series.
#include <string>
#include <string_view>

#include "llmscale/adapters/exposition.hpp"
#include "scaler_impl.hpp"

namespace llmscale_scaler {

namespace detail {

// The scaler's own series, written with the library's PrometheusWriter.
void gauge(std::string& out, const char* name, const std::string& labels, double v) {
  llmscale::PrometheusWriter(out).sample(name, labels, v);
}
void help(std::string& out, const char* name, const char* type, const char* text) {
  llmscale::PrometheusWriter(out).family(name, type, text);
}
std::string label_value(std::string_view v) { return llmscale::PrometheusWriter::escape(v); }

}  // namespace detail

using detail::gauge;
using detail::help;
using detail::label_value;

std::string Scaler::Impl::render(const llmscale::Decision& d, const llmscale::Signals& s, const llmscale::FleetState& fleet, bool active) {
  std::string out;
  out.reserve(4096 + targets.size() * 96);
  llmscale::PrometheusWriter page(out);
  llmscale::expose_decision(page, d, fleet, opt.shadow ? "shadow" : "");
  help(out, "llmscale_keda_replicas", "gauge", "The replica count KEDA is answered with (the fleet's current one in shadow mode).");
  gauge(out, "llmscale_keda_replicas", "", opt.shadow ? fleet.current() : d.desired_replicas);
  help(out, "llmscale_hpa_tolerance_swallowed_total", "counter",
       "Decisions within the HPA's tolerance of the current count (--hpa-tolerance): the HPA does not act on them.");
  gauge(out, "llmscale_hpa_tolerance_swallowed_total", "", static_cast<double>(shadow.tolerance_swallowed));
  if (opt.shadow) {
    const ShadowSummary& sh = shadow;
    help(out, "llmscale_shadow_ticks_total", "counter", "Shadow decisions compared with the fleet's size, by outcome.");
    gauge(out, "llmscale_shadow_ticks_total", "outcome=\"agreed\"", static_cast<double>(sh.ticks - sh.disagreed));
    gauge(out, "llmscale_shadow_ticks_total", "outcome=\"wanted_more\"", static_cast<double>(sh.wanted_more));
    gauge(out, "llmscale_shadow_ticks_total", "outcome=\"wanted_fewer\"", static_cast<double>(sh.wanted_fewer));
    help(out, "llmscale_shadow_replica_seconds_total", "counter", "Replica-seconds the shadow policy wanted beyond (short) or below (over) the fleet's size.");
    gauge(out, "llmscale_shadow_replica_seconds_total", "direction=\"short\"", sh.replica_seconds_short);
    gauge(out, "llmscale_shadow_replica_seconds_total", "direction=\"over\"", sh.replica_seconds_over);
    help(out, "llmscale_shadow_difference_replicas_total", "counter", "The sum over ticks of |shadow desired - current replicas|.");
    gauge(out, "llmscale_shadow_difference_replicas_total", "", static_cast<double>(sh.abs_difference));
    help(out, "llmscale_shadow_largest_shortfall_replicas", "gauge", "The largest shadow desired - current replicas seen.");
    gauge(out, "llmscale_shadow_largest_shortfall_replicas", "", sh.largest_shortfall);
    help(out, "llmscale_shadow_ttft_requests_total", "counter",
         "Requests whose TTFT the engines observed, and those over --slo-ttft (all, and while the fleet was smaller than the shadow wanted).");
    gauge(out, "llmscale_shadow_ttft_requests_total", "which=\"observed\"", sh.requests);
    gauge(out, "llmscale_shadow_ttft_requests_total", "which=\"missed\"", sh.ttft_misses);
    gauge(out, "llmscale_shadow_ttft_requests_total", "which=\"missed_while_smaller\"", sh.ttft_misses_while_smaller);
  }
  if (record) {
    help(out, "llmscale_record_rows_total", "counter", "Windows appended to --record.");
    gauge(out, "llmscale_record_rows_total", "", static_cast<double>(record->rows()));
    help(out, "llmscale_record_errors_total", "counter", "Windows --record could not write (lost).");
    gauge(out, "llmscale_record_errors_total", "", static_cast<double>(record->errors()));
    help(out, "llmscale_record_rotations_total", "counter", "Times --record reached --record-max-bytes and began a new file.");
    gauge(out, "llmscale_record_rotations_total", "", static_cast<double>(record->rotations()));
  }
  help(out, "llmscale_bucket_mismatches_total", "counter",
       "Scrapes whose histogram buckets had bounds other than the fleet's first layout (those buckets add nothing).");
  gauge(out, "llmscale_bucket_mismatches_total", "", static_cast<double>(signals.bucket_mismatches()));
  help(out, "llmscale_active", "gauge", "1 when there is demand or the signals are stale (KEDA's IsActive).");
  gauge(out, "llmscale_active", "", active ? 1 : 0);
  llmscale::expose_signals(page, s);
  help(out, "llmscale_endpoints", "gauge", "Engine endpoints by state: listed, reporting (fresh page), stale.");
  gauge(out, "llmscale_endpoints", "state=\"listed\"", static_cast<double>(targets.size()));
  gauge(out, "llmscale_endpoints", "state=\"reporting\"", s.engines.replicas_reporting);
  gauge(out, "llmscale_endpoints", "state=\"stale\"", s.engines.replicas_stale);
  help(out, "llmscale_endpoint_up", "gauge", "1 when the endpoint's last scrape gave a usable page.");
  for (const Target& t : targets) gauge(out, "llmscale_endpoint_up", "endpoint=\"" + label_value(t.endpoint.text()) + "\"", t.up() ? 1 : 0);
  help(out, "llmscale_endpoint_scrape_errors_total", "counter", "Scrapes of the endpoint that gave no usable page.");
  for (const Target& t : targets) {
    gauge(out, "llmscale_endpoint_scrape_errors_total", "endpoint=\"" + label_value(t.endpoint.text()) + "\"", static_cast<double>(t.errors));
  }
  help(out, "llmscale_scrapes_total", "counter", "Scrapes attempted.");
  gauge(out, "llmscale_scrapes_total", "", static_cast<double>(scrapes));
  help(out, "llmscale_scrape_errors_total", "counter", "Scrapes that gave no usable page, by reason.");
  for (std::size_t r = 0; r < detail::reason_count; ++r) {
    gauge(out, "llmscale_scrape_errors_total", std::string("reason=\"") + detail::reason_names[r] + "\"", static_cast<double>(errors[r]));
  }
  help(out, "llmscale_scrape_round_seconds", "gauge", "How long the last round of scrapes took.");
  gauge(out, "llmscale_scrape_round_seconds", "", last_round_s);
  help(out, "llmscale_tick_overruns_total", "counter", "Ticks skipped because the previous round had not finished.");
  gauge(out, "llmscale_tick_overruns_total", "", static_cast<double>(overruns));
  help(out, "llmscale_endpoints_file_errors_total", "counter", "Endpoint-file reads that failed (the last good list is kept).");
  gauge(out, "llmscale_endpoints_file_errors_total", "", static_cast<double>(file_errors));
  help(out, "llmscale_endpoints_over_slots_total", "counter", "Endpoints left out because every replica slot was taken.");
  gauge(out, "llmscale_endpoints_over_slots_total", "", static_cast<double>(slots_exhausted));
  if (!opt.state_file.empty()) {
    help(out, "llmscale_state_loaded", "gauge", "1 when --state-file's state was loaded at start (0: the policy started afresh).");
    gauge(out, "llmscale_state_loaded", "", state_loaded ? 1.0 : 0.0);
    help(out, "llmscale_state_saves_total", "counter", "Times --state-file was replaced with the policy's state.");
    gauge(out, "llmscale_state_saves_total", "", static_cast<double>(state_saves));
    help(out, "llmscale_state_save_errors_total", "counter", "Writes of --state-file that failed (the last file is kept).");
    gauge(out, "llmscale_state_save_errors_total", "", static_cast<double>(state_save_errors));
  }
  help(out, "llmscale_scrapes_implausible_total", "counter",
       "Pages not believed: a figure no engine produces (1e308 running, a KV use of 7, a series written twice).");
  gauge(out, "llmscale_scrapes_implausible_total", "", static_cast<double>(signals.scrapes_implausible()));
  help(out, "llmscale_histogram_rises_dropped_total", "counter",
       "Latency histogram rises not believed: a _sum that fell without a reset or grew by more than a day per observation.");
  gauge(out, "llmscale_histogram_rises_dropped_total", "", static_cast<double>(signals.histogram_rises_dropped()));
  help(out, "llmscale_counter_series_changes_total", "counter",
       "Pages whose counters continue none of the series kept: an engine restarted, or another replica answered.");
  gauge(out, "llmscale_counter_series_changes_total", "", static_cast<double>(signals.series_changes()));
  help(out, "llmscale_scrape_buffer_bytes", "gauge", "Page buffers kept between rounds (capacity).");
  gauge(out, "llmscale_scrape_buffer_bytes", "", static_cast<double>(pooled_bytes()));
  detail::policy_metrics(*policy, out);
  if (!opt.headless) render_listeners(out);
  return out;
}

void Scaler::Impl::render_listeners(std::string& out) {
  help(out, "llmscale_http_sessions", "gauge", "Open HTTP connections (/metrics, /healthz).");
  gauge(out, "llmscale_http_sessions", "", counters.http_sessions_open.load());
  help(out, "llmscale_http_sessions_refused_total", "counter", "HTTP connections closed at once: over the limit of open ones.");
  gauge(out, "llmscale_http_sessions_refused_total", "", static_cast<double>(counters.http_sessions_refused.load()));
  help(out, "llmscale_http_accept_errors_total", "counter", "HTTP accepts that failed (out of file descriptors, ...), retried.");
  gauge(out, "llmscale_http_accept_errors_total", "", static_cast<double>(counters.http_accept_errors.load()));
  help(out, "llmscale_keda_streams", "gauge", "Open StreamIsActive streams.");
  gauge(out, "llmscale_keda_streams", "", counters.keda_streams_open.load());
  help(out, "llmscale_keda_streams_refused_total", "counter", "StreamIsActive calls answered RESOURCE_EXHAUSTED: over the limit of open streams.");
  gauge(out, "llmscale_keda_streams_refused_total", "", static_cast<double>(counters.keda_streams_refused.load()));
  help(out, "llmscale_keda_requests_invalid_total", "counter", "KEDA calls answered INVALID_ARGUMENT (an unknown metric, a field too long).");
  gauge(out, "llmscale_keda_requests_invalid_total", "", static_cast<double>(counters.keda_requests_invalid.load()));
  if (fleets) {
    help(out, "llmscale_fleets", "gauge", "Fleets served from KEDA's scalerMetadata (--fleets).");
    gauge(out, "llmscale_fleets", "", static_cast<double>(fleets->size()));
  }
}

}  // namespace llmscale_scaler
