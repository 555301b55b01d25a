// llmscale-replay --report FILE.html: one self-contained page (inline CSS and SVG, no script, no
// outside resource): the run's configuration, the table, the picture (the cost/quality chart and
// the panels), and for each llmscale policy its five worst minutes with the decisions it took
// around them: the "why" a person asks for after seeing a miss.
#ifndef LLMSCALE_TOOLS_REPLAY_REPORT_HPP
#define LLMSCALE_TOOLS_REPLAY_REPORT_HPP

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/core/decision.hpp"
#include "replay_plot.hpp"

namespace replay {

struct ReportInput {
  std::string title;
  std::vector<std::pair<std::string, std::string>> config;  ///< name, value: the run's settings
  const PlotInput* plot = nullptr;
  std::string svg;  ///< the picture, as --plot writes it
};

// h:mm:ss from the start of the load
inline std::string clock_time(double t) {
  const auto s = static_cast<long long>(std::floor(std::max(0.0, t)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

struct WorstMinute {
  long long minute = 0;
  long long misses = 0, arrivals = 0;
  int ready = 0, starting = 0;
  long long queue_peak = 0;
};

/// The `n` minutes (from the start) with the most SLO misses, worst first; minutes without a
/// miss are never listed.
inline std::vector<WorstMinute> worst_minutes(const llmscale::SimResult& r, std::size_t n) {
  std::map<long long, WorstMinute> by;
  for (const auto& k : r.series) {
    const auto m = static_cast<long long>(std::floor(std::max(0.0, k.t - 1e-9) / 60.0));
    const auto [it, first] = by.try_emplace(m);  // the minute's first tick: its fleet at the start
    WorstMinute& w = it->second;
    if (first) {
      w.minute = m;
      w.ready = k.ready;
      w.starting = k.starting;
    }
    w.misses += k.misses;
    w.arrivals += k.arrivals;
    w.queue_peak = std::max(w.queue_peak, k.queue);
  }
  std::vector<WorstMinute> all;
  for (const auto& kv : by) {
    if (kv.second.misses > 0) all.push_back(kv.second);
  }
  std::stable_sort(all.begin(), all.end(), [](const WorstMinute& a, const WorstMinute& b) { return a.misses > b.misses; });
  if (all.size() > n) all.resize(n);
  return all;
}

/// The decisions that changed a count (what the policy proposed or what it decided) from `from`
/// to `to`, the last `n` of them; when none did, the one that stood at `to`.
inline std::vector<const llmscale::SimTick*> decisions_between(const llmscale::SimResult& r, double from, double to,
                                                               std::size_t n) {
  std::vector<const llmscale::SimTick*> out;
  const llmscale::SimTick* prev = nullptr;
  for (const auto& k : r.series) {
    if (k.t > to) break;
    const bool changed = prev == nullptr || k.desired != prev->desired || k.proposed != prev->proposed;
    if (k.t >= from && changed) out.push_back(&k);
    prev = &k;
  }
  if (out.empty() && prev != nullptr) out.push_back(prev);  // nothing changed: the decision that stood
  if (out.size() > n) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(n));
  return out;
}

inline std::string render_report(const ReportInput& in) {
  const PlotInput& p = *in.plot;
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + xml_escape(in.title) + "</title>\n";
  h += "<style>\nbody{font-family:sans-serif;margin:24px;color:#222;max-width:1240px}\n"
       "table{border-collapse:collapse;margin:8px 0 20px}\ntd,th{border:1px solid #ddd;padding:3px 8px;font-size:13px}\n"
       "th{background:#f3f3f3;text-align:left}\ntd.n{text-align:right;font-variant-numeric:tabular-nums}\n"
       "tr.miss td.att{color:#b22222;font-weight:bold}\nh2{margin-top:32px}\nh3{margin:18px 0 4px}\n"
       ".note{color:#555;font-size:13px}\nsvg{max-width:100%;height:auto}\n</style>\n</head>\n<body>\n";
  h += "<h1>" + xml_escape(in.title) + "</h1>\n";
  h += "<h2>Configuration</h2>\n<table>\n";
  for (const auto& kv : in.config) h += "<tr><th>" + xml_escape(kv.first) + "</th><td>" + xml_escape(kv.second) + "</td></tr>\n";
  h += "</table>\n";

  // the table, as the terminal prints it, with the cost against the oracle
  h += "<h2>Results</h2>\n<p class=\"note\">Attainment below the " + xml_escape(percent(p.target)) +
       " target in red; GPU-hours also as a multiple of the oracle's at the same cold start";
  if (p.fluid_gpu_hours > 0) h += "; the fluid floor is " + fmt(p.fluid_gpu_hours, "%.1f") + " GPU-h";
  h += ".</p>\n<table>\n<tr><th>policy</th><th>cold start</th><th>requests</th><th>SLO attainment</th><th>TTFT p50</th>"
       "<th>TTFT p99</th><th>TPOT p99</th><th>GPU-h</th><th>x oracle</th><th>scale events</th><th>peak replicas</th>"
       "<th>batch p95</th><th>KV p95</th></tr>\n";
  for (const auto& r : p.runs) {
    if (r.result == nullptr) continue;
    const auto& x = *r.result;
    double oracle = 0;
    for (const auto& o : p.runs) {
      if (o.result != nullptr && o.base() == "oracle" && o.cold_start_s == r.cold_start_s && oracle == 0) oracle = o.result->gpu_hours;
    }
    h += std::string("<tr") + (x.slo_attainment < p.target ? " class=\"miss\"" : "") + "><td>" + xml_escape(r.policy) +
         "</td><td class=\"n\">" + fmt(r.cold_start_s, "%g") + " s</td><td class=\"n\">" + std::to_string(x.requests) +
         "</td><td class=\"n att\">" + fmt(100 * x.slo_attainment, "%.2f") + " %</td><td class=\"n\">" + fmt(x.ttft_p50, "%.2f") +
         " s</td><td class=\"n\">" + fmt(x.ttft_p99, "%.2f") + " s</td><td class=\"n\">" + fmt(x.tpot_p99, "%.3f") +
         " s</td><td class=\"n\">" + fmt(x.gpu_hours, "%.1f") + "</td><td class=\"n\">" +
         (oracle > 0 ? fmt(x.gpu_hours / oracle, "%.2f") : std::string("-")) + "</td><td class=\"n\">" +
         std::to_string(x.scale_events) + "</td><td class=\"n\">" + std::to_string(x.peak_replicas) + "</td><td class=\"n\">" +
         fmt(100 * x.batch_occupancy_p95, "%.0f") + " %</td><td class=\"n\">" + fmt(100 * x.kv_use_p95, "%.0f") + " %</td></tr>\n";
  }
  h += "</table>\n";

  // the picture, inline
  std::string svg = in.svg;
  if (svg.rfind("<?xml", 0) == 0) svg.erase(0, svg.find('\n') + 1);
  h += "<h2>Cost, quality and replicas over time</h2>\n" + svg;

  // why: each llmscale policy's worst minutes and the decisions before them
  h += "<h2>Worst minutes of the llmscale policies</h2>\n<p class=\"note\">For each llmscale policy at cold start " +
       fmt(p.timeline_cold_start, "%g") +
       " s: the five minutes with the most requests missing the SLO (time from the start of the load, h:mm:ss), and the "
       "decisions that changed a count from one cold start before the minute to its end: current (ready plus "
       "starting replicas when the policy decided) &rarr; desired, what the policy proposed where the governor changed "
       "it, the binding constraint and the reason.</p>\n";
  bool any = false;
  for (const auto& r : p.runs) {
    if (r.result == nullptr || r.cold_start_s != p.timeline_cold_start || r.policy.rfind("llmscale-", 0) != 0) continue;
    any = true;
    const auto worst = worst_minutes(*r.result, 5);
    h += "<h3 data-policy=\"" + xml_escape(r.policy) + "\">" + xml_escape(r.policy) + ": " +
         xml_escape(percent(r.result->slo_attainment)) + "</h3>\n";
    if (worst.empty()) {
      h += "<p class=\"note\">No minute had a request missing the SLO.</p>\n";
      continue;
    }
    h += "<table>\n<tr><th>minute</th><th>missed / arrived</th><th>ready + starting at its start</th><th>peak queue</th>"
         "<th>decisions before and during it: time, current &rarr; desired, binding constraint, reason</th></tr>\n";
    for (const WorstMinute& w : worst) {
      const double m0 = static_cast<double>(w.minute) * 60;
      h += "<tr><td>" + clock_time(m0) + "</td><td class=\"n\">" + std::to_string(w.misses) + " / " + std::to_string(w.arrivals) +
           "</td><td class=\"n\">" + std::to_string(w.ready) + " + " + std::to_string(w.starting) + "</td><td class=\"n\">" +
           std::to_string(w.queue_peak) + "</td><td>";
      const auto ds = decisions_between(*r.result, m0 - std::max(r.cold_start_s, 60.0), m0 + 60, 6);
      for (const llmscale::SimTick* d : ds) {
        h += clock_time(d->t) + " &nbsp; " + std::to_string(d->current) + " &rarr; " + std::to_string(d->desired) +
             (d->proposed != d->desired ? " (proposed " + std::to_string(d->proposed) + ")" : std::string()) + " &nbsp; " +
             xml_escape(llmscale::to_string(d->binding)) + " &nbsp; " + xml_escape(d->reason) + "<br>\n";
      }
      h += "</td></tr>\n";
    }
    h += "</table>\n";
  }
  if (!any) h += "<p class=\"note\">No llmscale policy ran.</p>\n";
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace replay

#endif  // LLMSCALE_TOOLS_REPLAY_REPORT_HPP
