// llmscale-replay's picture: one self-contained SVG (no script, no external font or file).
//   top     demand (Little's-law replicas for each minute's arrivals, shaded) and each policy's
//           ready replicas over time (mean per bucket), a red mark where a policy missed the
//           SLO on more than 1 % of the requests ending in that bucket;
//   bottom  (a cold-start list only) SLO attainment against GPU-hours, one point per policy and
//           cold start, a policy's points joined in cold-start order.
// Every policy's series is a <polyline> with a data-policy attribute (the tests count them).
#ifndef LLMSCALE_TOOLS_REPLAY_PLOT_HPP
#define LLMSCALE_TOOLS_REPLAY_PLOT_HPP

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "llmscale/sim/simulator.hpp"

namespace replay {

struct PlotRun {
  std::string policy;
  double cold_start_s = 0;
  const llmscale::SimResult* result = nullptr;
};

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string fmt(double v, const char* f = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A "nice" step for about `n` ticks over [0, span].
inline double nice_step(double span, int n) {
  if (!(span > 0)) return 1;
  const double raw = span / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

/// `demand`: replicas the load needs per `demand_step_s` from the start. `timeline_cold_start`:
/// the cold start whose runs the timeline shows.
inline std::string render_svg(const std::vector<PlotRun>& runs, const std::vector<double>& demand, double demand_step_s,
                              double timeline_cold_start, const std::string& title) {
  static const char* const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                        "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#5254a3"};
  std::vector<std::string> policies;
  std::vector<double> cold_starts;
  for (const auto& r : runs) {
    if (std::find(policies.begin(), policies.end(), r.policy) == policies.end()) policies.push_back(r.policy);
    if (std::find(cold_starts.begin(), cold_starts.end(), r.cold_start_s) == cold_starts.end()) {
      cold_starts.push_back(r.cold_start_s);
    }
  }
  const auto colour = [&](const std::string& p) {
    const auto i = static_cast<std::size_t>(std::find(policies.begin(), policies.end(), p) - policies.begin());
    return palette[i % (sizeof palette / sizeof *palette)];
  };
  const bool scatter = cold_starts.size() > 1;
  const double W = 1200, left = 60, right = 300, top = 50, H1 = 380;
  const double H2 = scatter ? 360 : 0, gap = scatter ? 70 : 0;
  const double H = top + H1 + 50 + gap + H2 + (scatter ? 50 : 0);
  const double pw = W - left - right;
  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(W, "%.0f") + "\" height=\"" + fmt(H, "%.0f") +
       "\" viewBox=\"0 0 " + fmt(W, "%.0f") + " " + fmt(H, "%.0f") + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + fmt(left, "%.0f") + "\" y=\"22\" font-size=\"15\" font-weight=\"bold\">" + xml_escape(title) + "</text>\n";

  // ---- timeline -------------------------------------------------------------------------------
  // the y axis reaches the highest fleet, but no further than 3x the peak demand: a policy that
  // runs away (the HPA on GPU memory never scales down) is clipped, its peak in the legend
  double t_end = static_cast<double>(demand.size()) * demand_step_s, y_max = 1, peak_demand = 0;
  for (double d : demand) peak_demand = std::max(peak_demand, d);
  for (const auto& r : runs) {
    if (r.cold_start_s != timeline_cold_start || r.result == nullptr) continue;
    for (const auto& k : r.result->series) {
      t_end = std::max(t_end, k.t);
      y_max = std::max(y_max, static_cast<double>(k.ready));
    }
  }
  if (peak_demand > 0) y_max = std::min(y_max, 3 * peak_demand);
  y_max = std::max(y_max, peak_demand) * 1.08;
  const bool hours = t_end > 3 * 3600;
  const double unit = hours ? 3600 : 60;
  const auto X = [&](double t) { return left + pw * std::clamp(t / std::max(t_end, 1.0), 0.0, 1.0); };
  const auto Y = [&](double v) { return top + H1 - H1 * std::clamp(v / y_max, 0.0, 1.0); };
  s += "<text x=\"" + fmt(left, "%.0f") + "\" y=\"40\">ready replicas over time (cold start " +
       fmt(timeline_cold_start, "%.0f") + " s); shaded: demand in replicas (Little's law); red marks: over 1 % of the requests ending then missed the SLO</text>\n";
  // axes and grid
  const double ys = nice_step(y_max, 6), xs = nice_step(t_end / unit, 8);
  for (double v = 0; v <= y_max; v += ys) {
    s += "<line x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + pw) + "\" y1=\"" + fmt(Y(v)) + "\" y2=\"" + fmt(Y(v)) +
         "\" stroke=\"#e5e5e5\"/><text x=\"" + fmt(left - 6) + "\" y=\"" + fmt(Y(v) + 4) + "\" text-anchor=\"end\">" +
         fmt(v, "%g") + "</text>\n";
  }
  for (double v = 0; v * unit <= t_end; v += xs) {
    s += "<line x1=\"" + fmt(X(v * unit)) + "\" x2=\"" + fmt(X(v * unit)) + "\" y1=\"" + fmt(top) + "\" y2=\"" +
         fmt(top + H1) + "\" stroke=\"#f0f0f0\"/><text x=\"" + fmt(X(v * unit)) + "\" y=\"" + fmt(top + H1 + 16) +
         "\" text-anchor=\"middle\">" + fmt(v, "%g") + "</text>\n";
  }
  s += "<text x=\"" + fmt(left + pw / 2) + "\" y=\"" + fmt(top + H1 + 34) + "\" text-anchor=\"middle\">time (" +
       (hours ? "hours" : "minutes") + ")</text>\n";
  s += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(H1) +
       "\" fill=\"none\" stroke=\"#888\"/>\n";
  // demand
  if (!demand.empty()) {
    std::string pts = fmt(X(0)) + "," + fmt(Y(0));
    for (std::size_t i = 0; i < demand.size(); ++i) {
      pts += " " + fmt(X(static_cast<double>(i) * demand_step_s)) + "," + fmt(Y(demand[i]));
      pts += " " + fmt(X(static_cast<double>(i + 1) * demand_step_s)) + "," + fmt(Y(demand[i]));
    }
    pts += " " + fmt(X(static_cast<double>(demand.size()) * demand_step_s)) + "," + fmt(Y(0));
    s += "<polygon data-series=\"demand\" points=\"" + pts + "\" fill=\"#dde6f0\" stroke=\"none\"/>\n";
  }
  // each policy: ready replicas, the mean over buckets of about 2 px
  const double bucket = std::max(1.0, t_end / (pw / 2));
  double legend_y = top + 6;
  for (const auto& r : runs) {
    if (r.cold_start_s != timeline_cold_start || r.result == nullptr) continue;
    const auto& series = r.result->series;
    std::string pts, marks;
    std::size_t i = 0;
    while (i < series.size()) {
      const double b0 = std::floor(series[i].t / bucket) * bucket;
      double ready = 0;
      long long misses = 0, arrivals = 0, n = 0;
      for (; i < series.size() && series[i].t < b0 + bucket; ++i, ++n) {
        ready += series[i].ready;
        misses += series[i].misses;
        arrivals += series[i].arrivals;
      }
      const double x = X(b0 + bucket / 2), y = Y(ready / static_cast<double>(std::max(1LL, n)));
      pts += (pts.empty() ? "" : " ") + fmt(x) + "," + fmt(y);
      if (misses > 0 && static_cast<double>(misses) > 0.01 * static_cast<double>(std::max(arrivals, 1LL))) {
        marks += "M" + fmt(x) + " " + fmt(y - 3) + "v6";
      }
    }
    const char* c = colour(r.policy);
    s += "<polyline data-policy=\"" + xml_escape(r.policy) + "\" points=\"" + pts + "\" fill=\"none\" stroke=\"" + c +
         "\" stroke-width=\"1.4\"/>\n";
    if (!marks.empty()) {
      s += "<path data-misses=\"" + xml_escape(r.policy) + "\" d=\"" + marks + "\" stroke=\"#d62728\" stroke-width=\"1.2\"/>\n";
    }
    const auto& res = *r.result;
    int peak = 0;
    for (const auto& k : series) peak = std::max(peak, k.ready);
    const std::string clipped = peak > y_max ? " (peak " + std::to_string(peak) + ")" : "";
    s += "<line x1=\"" + fmt(left + pw + 12) + "\" x2=\"" + fmt(left + pw + 32) + "\" y1=\"" + fmt(legend_y) + "\" y2=\"" +
         fmt(legend_y) + "\" stroke=\"" + c + "\" stroke-width=\"3\"/><text x=\"" + fmt(left + pw + 38) + "\" y=\"" +
         fmt(legend_y + 4) + "\">" + xml_escape(r.policy) + " " + fmt(100 * res.slo_attainment, "%.1f") + "% " +
         fmt(res.gpu_hours, "%.0f") + " GPU-h" + clipped + "</text>\n";
    legend_y += 18;
  }

  // ---- attainment against GPU-hours, per cold start ---------------------------------------------
  if (scatter) {
    const double t2 = top + H1 + 50 + gap;
    double g_max = 1, a_min = 1;
    for (const auto& r : runs) {
      if (r.result == nullptr) continue;
      g_max = std::max(g_max, r.result->gpu_hours);
      a_min = std::min(a_min, r.result->slo_attainment);
    }
    g_max *= 1.05;
    a_min = std::max(0.0, std::floor(a_min * 10) / 10);
    const auto GX = [&](double g) { return left + pw * std::clamp(g / g_max, 0.0, 1.0); };
    const auto AY = [&](double a) { return t2 + H2 - H2 * std::clamp((a - a_min) / (1.0 - a_min + 1e-12), 0.0, 1.0); };
    s += "<text x=\"" + fmt(left) + "\" y=\"" + fmt(t2 - 10) +
         "\">SLO attainment against GPU-hours as the cold start grows (each policy's points joined in cold-start order; labels: cold start, s)</text>\n";
    s += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(t2) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(H2) +
         "\" fill=\"none\" stroke=\"#888\"/>\n";
    const double gs = nice_step(g_max, 8), as = nice_step(1.0 - a_min, 5);
    for (double v = 0; v <= g_max; v += gs) {
      s += "<text x=\"" + fmt(GX(v)) + "\" y=\"" + fmt(t2 + H2 + 16) + "\" text-anchor=\"middle\">" + fmt(v, "%g") + "</text>\n";
    }
    for (double a = a_min; a <= 1.0 + 1e-9; a += as) {
      s += "<line x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + pw) + "\" y1=\"" + fmt(AY(a)) + "\" y2=\"" + fmt(AY(a)) +
           "\" stroke=\"#eee\"/><text x=\"" + fmt(left - 6) + "\" y=\"" + fmt(AY(a) + 4) + "\" text-anchor=\"end\">" +
           fmt(100 * a, "%g") + "%</text>\n";
    }
    s += "<text x=\"" + fmt(left + pw / 2) + "\" y=\"" + fmt(t2 + H2 + 34) + "\" text-anchor=\"middle\">GPU-hours</text>\n";
    for (const auto& p : policies) {
      std::string pts, dots;
      for (double cs : cold_starts) {
        for (const auto& r : runs) {
          if (r.policy != p || r.cold_start_s != cs || r.result == nullptr) continue;
          const double x = GX(r.result->gpu_hours), y = AY(r.result->slo_attainment);
          pts += (pts.empty() ? "" : " ") + fmt(x) + "," + fmt(y);
          dots += "<circle cx=\"" + fmt(x) + "\" cy=\"" + fmt(y) + "\" r=\"3.5\" fill=\"" + colour(p) +
                  "\"/><text x=\"" + fmt(x + 5) + "\" y=\"" + fmt(y - 5) + "\" font-size=\"9\" fill=\"#555\">" +
                  fmt(cs, "%.0f") + "</text>";
        }
      }
      s += "<polyline data-scatter=\"" + xml_escape(p) + "\" points=\"" + pts + "\" fill=\"none\" stroke=\"" + colour(p) +
           "\" stroke-width=\"1\"/>" + dots + "\n";
    }
  }
  s += "</svg>\n";
  return s;
}

}  // namespace replay

#endif  // LLMSCALE_TOOLS_REPLAY_PLOT_HPP
