// llmscale-replay's picture (one concept, about 700 lines because its parts share the scales,
// colours and layout): one self-contained SVG (no script, no external font or file), in two
// parts a reader can also open alone (the SVG views #cost-quality and #panels):
//   cost/quality  one point per policy: GPU-hours relative to the oracle (log scale) against SLO
//                 attainment on a "nines" scale (90 %, 99 %, 99.9 % equally apart), the target
//                 as a line, the fluid floor as a line, the oracle and static-best marked, every
//                 point labelled clear of the others; with a cold-start list, one line per policy
//                 across the cold starts.
//   panels        one small panel per policy, the same axes in each: the oracle's replicas (grey),
//                 the policy's ready (line) and starting (shade) replicas, and a bar strip of SLO
//                 misses over arrivals per interval (about 2 px) under it. The x-axis ends at the last
//                 arrival (a backlog drained over 10 minutes after it is named in the title); the
//                 y-axis fits the oracle, static-best, the recorded fleet and the policies that meet
//                 the target at no more than 1.5 times the oracle's cost;
//                 a policy above it shows an arrow where it leaves the chart and its peak.
//   a record      (an llmscale record with ready counts only; nothing of it otherwise) each panel
//                 also draws the cluster's recorded ready replicas (grey, dashed; a legend entry
//                 under the caption), and one more panel under them draws the TTFT p99 per window
//                 the record observed against the one the recorded fleet's replay measured.
// Elements carry data-* attributes naming their policy (the tests read them).
// (About 700 lines: the charts share the policies' order, colours and the run lookup of one
// class, and a record's panel the panels' time axis; the drawing primitives they share are in
// replay_svg.hpp.)
#ifndef LLMSCALE_TOOLS_REPLAY_PLOT_HPP
#define LLMSCALE_TOOLS_REPLAY_PLOT_HPP

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "llmscale/sim/record_check.hpp"
#include "llmscale/sim/simulator.hpp"
#include "replay_svg.hpp"

namespace replay {

struct PlotRun {
  std::string policy;  ///< the row's label (in a --sweep, NAME[key=value])
  double cold_start_s = 0;
  const llmscale::SimResult* result = nullptr;
  std::string contestant;  ///< the contestant it ran (oracle, static-best, ...); empty: the label
  [[nodiscard]] const std::string& base() const { return contestant.empty() ? policy : contestant; }
};

/// One window of an llmscale record as the picture draws it (NaN: unknown).
struct RecordWindow {
  double start_s = 0, end_s = 0;  ///< from the record's start (s)
  double arrivals = 0;            ///< the record's
  double ready = std::numeric_limits<double>::quiet_NaN();               ///< the cluster's ready replicas
  double observed_ttft_p99 = std::numeric_limits<double>::quiet_NaN();   ///< the record's TTFT p99 (s)
  double simulated_ttft_p99 = std::numeric_limits<double>::quiet_NaN();  ///< the recorded fleet's replay's (s)
};

struct PlotInput {
  std::vector<PlotRun> runs;
  std::string title;
  double fluid_gpu_hours = 0;  ///< the fluid floor (0: not drawn)
  double target = 0.99;        ///< the attainment target
  double timeline_cold_start = 0;
  std::vector<RecordWindow> record;  ///< an llmscale record's windows (empty: nothing of a record drawn)
  double slo_ttft_s = 0;             ///< the TTFT target, drawn on the record's latency panel
};

// -log10 of the miss share: 90 % -> 1, 99 % -> 2, 99.9 % -> 3; 99.99 % and above at 4.
inline double nines(double attainment) { return -std::log10(std::clamp(1.0 - attainment, 1e-4, 1.0)); }

inline std::string percent(double a) {
  return a >= 0.99995 ? ">= 99.99 %" : fmt(100 * a, a >= 0.99 ? "%.2f %%" : "%.1f %%");
}

class Plot {
 public:
  static constexpr double W = 1200;

  explicit Plot(const PlotInput& in) : in_(in) {
    for (const auto& r : in_.runs) {
      if (r.result == nullptr) continue;
      if (std::find(policies_.begin(), policies_.end(), r.policy) == policies_.end()) policies_.push_back(r.policy);
      if (std::find(cold_starts_.begin(), cold_starts_.end(), r.cold_start_s) == cold_starts_.end()) {
        cold_starts_.push_back(r.cold_start_s);
      }
    }
    std::sort(cold_starts_.begin(), cold_starts_.end());
  }

  /// The whole picture.
  std::string svg() {
    std::string body;
    double y = 34;
    body += text(20, 22, xml_escape(in_.title), std::min(15.0, 15.0 * (W - 40) / text_width(in_.title, 15)), "start",
                 "font-weight=\"bold\"");
    y = cost_quality(body, y);
    const double cost_bottom = y;
    y = panels(body, y + 16);
    const double H = y + 10;
    std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(W, "%.0f") + "\" height=\"" + fmt(H, "%.0f") +
         "\" viewBox=\"0 0 " + fmt(W, "%.0f") + " " + fmt(H, "%.0f") + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s += "<view id=\"cost-quality\" viewBox=\"0 0 " + fmt(W, "%.0f") + " " + fmt(cost_bottom, "%.0f") + "\"/>\n";
    s += "<view id=\"panels\" viewBox=\"0 " + fmt(cost_bottom, "%.0f") + " " + fmt(W, "%.0f") + " " +
         fmt(H - cost_bottom, "%.0f") + "\"/>\n";
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    return s + body + "</svg>\n";
  }

 private:
  const PlotInput& in_;
  std::vector<std::string> policies_;
  std::vector<double> cold_starts_;

  static std::string text(double x, double y, const std::string& escaped, double size, const char* anchor,
                          const std::string& extra = "") {
    return "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" font-size=\"" + fmt(size, "%g") + "\"" +
           (std::string(anchor) == "start" ? "" : " text-anchor=\"" + std::string(anchor) + "\"") +
           (extra.empty() ? "" : " " + extra) + ">" + escaped + "</text>\n";
  }

  // `words` in lines of at most `width` px from (x, y), 1.35 lines apart; returns the last baseline
  static double wrapped(std::string& s, double x, double y, const std::string& words, double size, double width) {
    std::string line, word;
    const auto flush = [&] {
      s += text(x, y, xml_escape(line), size, "start", "fill=\"#444\"");
      y += 1.35 * size;
      line.clear();
    };
    for (std::size_t i = 0; i <= words.size(); ++i) {
      if (i < words.size() && words[i] != ' ') {
        word += words[i];
        continue;
      }
      if (!line.empty() && text_width(line + " " + word, size) > width) flush();
      line += (line.empty() ? "" : " ") + word;
      word.clear();
    }
    if (!line.empty()) flush();
    return y - 1.35 * size;
  }

  std::string colour(const std::string& p) const {
    static const char* const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                          "#bcbd22", "#d62728", "#393b79", "#637939", "#8c6d31", "#843c39", "#5254a3",
                                          "#6b6ecf", "#b5cf6b", "#e7969c", "#7b4173"};
    if (is(p, "oracle")) return "#000000";
    if (is(p, "static-best")) return "#7f7f7f";
    if (is(p, "recorded")) return "#6a3d9a";
    const auto i = static_cast<std::size_t>(std::find(policies_.begin(), policies_.end(), p) - policies_.begin());
    return palette[i % (sizeof palette / sizeof *palette)];
  }

  // whether the row labelled `label` ran contestant `name`
  bool is(const std::string& label, const char* name) const {
    for (const auto& r : in_.runs) {
      if (r.policy == label) return r.base() == name;
    }
    return false;
  }

  // the first run of contestant `name` at cold start `cs` (the references: one per cold start)
  const PlotRun* reference_run(const char* name, double cs) const {
    for (const auto& r : in_.runs) {
      if (r.result != nullptr && r.base() == name && r.cold_start_s == cs) return &r;
    }
    return nullptr;
  }

  const PlotRun* find(const std::string& policy, double cs) const {
    for (const auto& r : in_.runs) {
      if (r.result != nullptr && r.policy == policy && r.cold_start_s == cs) return &r;
    }
    return nullptr;
  }

  // ---- cost/quality -------------------------------------------------------------------------------
  double cost_quality(std::string& s, double top) const {
    const double left = 80, right = 40, ph = 400, pw = W - left - right;
    const bool list = cold_starts_.size() > 1;
    s += text(20, top + 18, "Cost and quality: which policies meet the SLO, and at what cost", 14, "start",
              "font-weight=\"bold\"");
    const double t0 = 28 + wrapped(s, 20, top + 34,
                                   std::string("one point per policy") +
                                       (list ? " per cold start (joined from the shortest to the longest; larger dots: longer)" : "") +
                                       "; filled: meets the " + percent(in_.target) + " target; hollow: misses it",
                                   11, W - 40);
    const auto reference = [&](double cs) {
      const PlotRun* o = reference_run("oracle", cs);
      return o != nullptr && o->result->gpu_hours > 0 ? o->result->gpu_hours : 0.0;
    };
    const bool relative = [&] {
      for (double cs : cold_starts_) {
        if (reference(cs) <= 0) return false;
      }
      return true;
    }();
    const auto ratio = [&](const PlotRun& r) { return r.result->gpu_hours / (relative ? reference(r.cold_start_s) : 1.0); };
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = 0, a_lo = 1;
    for (const auto& r : in_.runs) {
      if (r.result == nullptr) continue;
      x_lo = std::min(x_lo, std::max(ratio(r), 1e-6));
      x_hi = std::max(x_hi, ratio(r));
      a_lo = std::min(a_lo, r.result->slo_attainment);
    }
    double floor_x = 0;
    if (in_.fluid_gpu_hours > 0 && relative && cold_starts_.size() == 1) {
      floor_x = in_.fluid_gpu_hours / reference(cold_starts_.front());
      x_lo = std::min(x_lo, floor_x);
    }
    if (!(x_hi > 0)) x_hi = 1;
    x_lo = x_lo / 1.15;
    x_hi = x_hi * 1.15;
    if (x_hi / x_lo < 2.5) {  // at least a factor 2.5 across, centred
      const double widen = std::sqrt(2.5 / (x_hi / x_lo));
      x_lo /= widen;
      x_hi *= widen;
    }
    const double y_lo = [&] {
      const double n = nines(a_lo) - 0.08;
      for (double v : {2.0, 1.0, nines(0.5), 0.0}) {
        if (v <= n) return v;
      }
      return 0.0;
    }();
    const double y_hi = 4.1;
    const auto X = [&](double v) { return left + pw * (std::log(v / x_lo) / std::log(x_hi / x_lo)); };
    const auto Y = [&](double a) { return t0 + ph - ph * std::clamp((nines(a) - y_lo) / (y_hi - y_lo), 0.0, 1.0); };
    s += "<g data-chart=\"cost-quality\">\n";
    // below the target: shaded
    const double ty = Y(in_.target);
    s += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(ty) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(t0 + ph - ty) +
         "\" fill=\"#fcebea\"/>\n";
    std::vector<Box> taken;
    // y grid: the nines and the halves between them
    for (double a : {0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999}) {
      if (nines(a) < y_lo - 1e-9 || nines(a) > y_hi) continue;
      const bool major = a == 0.0 || a == 0.5 || a == 0.9 || a == 0.99 || a == 0.999 || a == 0.9999;
      s += "<line x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + pw) + "\" y1=\"" + fmt(Y(a)) + "\" y2=\"" + fmt(Y(a)) +
           "\" stroke=\"" + (major ? "#d0d0d0" : "#ececec") + "\"/>\n";
      s += text(left - 6, Y(a) + 4, fmt(100 * a, a >= 0.999 ? "%.2f %%" : a >= 0.99 ? "%.1f %%" : "%.0f %%"), major ? 11 : 9,
                "end", major ? "" : "fill=\"#777\"");
    }
    // x grid: 1-2-5 and the steps between where the range is short
    std::vector<double> xt;
    for (double p = std::pow(10.0, std::floor(std::log10(x_lo))); p <= x_hi; p *= 10) {
      for (double m : {1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0}) {
        const double v = m * p;
        if (v < x_lo || v > x_hi) continue;
        const bool fine = m == 1.25 || m == 1.5 || m == 3.0 || m == 4.0 || m == 6.0 || m == 8.0;
        if (fine && x_hi / x_lo > 30) continue;
        if ((m == 1.25 || m == 1.5) && x_hi / x_lo > 6) continue;
        xt.push_back(v);
      }
    }
    for (double v : xt) {
      const bool one = relative && std::abs(v - 1.0) < 1e-12;
      s += "<line x1=\"" + fmt(X(v)) + "\" x2=\"" + fmt(X(v)) + "\" y1=\"" + fmt(t0) + "\" y2=\"" + fmt(t0 + ph) +
           "\" stroke=\"" + (one ? "#999" : "#e5e5e5") + "\"/>\n";
      s += text(X(v), t0 + ph + 16, fmt(v, "%g") + (relative ? "x" : ""), 11, "middle");
    }
    const std::string x_title =
        relative ? "GPU-hours relative to the oracle (log scale; 1x = the oracle" +
                       (cold_starts_.size() == 1 ? ", " + fmt(reference(cold_starts_.front()), "%.1f") + " GPU-h" : std::string()) + ")"
                 : "GPU-hours (log scale; no oracle in this run)";
    s += text(left + pw / 2, t0 + ph + 36, xml_escape(x_title), 12, "middle");
    s += text(20, t0 - 8, "SLO attainment (a nines scale: 90 %, 99 %, 99.9 % equally apart)", 11, "start");
    // the target and the floor
    s += "<line data-target=\"" + fmt(in_.target, "%g") + "\" x1=\"" + fmt(left) + "\" x2=\"" + fmt(left + pw) + "\" y1=\"" +
         fmt(ty) + "\" y2=\"" + fmt(ty) + "\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n";
    const std::string target_text = "target " + percent(in_.target);
    s += text(left + pw - 6, ty - 5, xml_escape(target_text), 11, "end", "fill=\"#d62728\"");
    taken.push_back(text_box(left + pw - 6, ty - 5, text_width(target_text, 11), 11, "end"));
    if (floor_x > 0) {
      s += "<line data-floor=\"" + fmt(floor_x, "%.4g") + "\" x1=\"" + fmt(X(floor_x)) + "\" x2=\"" + fmt(X(floor_x)) + "\" y1=\"" +
           fmt(t0) + "\" y2=\"" + fmt(t0 + ph) + "\" stroke=\"#2ca02c\" stroke-dasharray=\"3 3\"/>\n";
      const std::string t = "fluid floor " + fmt(in_.fluid_gpu_hours, "%.0f") + " GPU-h";
      s += text(X(floor_x) + 4, t0 + 14, xml_escape(t), 11, "start", "fill=\"#2ca02c\"");
      taken.push_back(text_box(X(floor_x) + 4, t0 + 14, text_width(t, 11), 11, "start"));
    }
    s += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(t0) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" fill=\"none\" stroke=\"#888\"/>\n";
    // the points, each policy's joined across cold starts; the label at its last
    std::vector<double> px, py;
    std::vector<std::string> names;
    for (const auto& p : policies_) {
      std::string line;
      for (std::size_t k = 0; k < cold_starts_.size(); ++k) {
        const PlotRun* r = find(p, cold_starts_[k]);
        if (r == nullptr) continue;
        const double x = X(std::max(ratio(*r), 1e-6)), y = Y(r->result->slo_attainment);
        line += (line.empty() ? "" : " ") + fmt(x) + "," + fmt(y);
        const bool meets = r->result->slo_attainment >= in_.target;
        const double radius = 4 + (list ? 1.2 * static_cast<double>(k) : 0);
        const std::string c = colour(p), fill = meets ? c : "white";
        const std::string data = " data-point=\"" + xml_escape(p) + "\" data-cold-start=\"" + fmt(cold_starts_[k], "%g") +
                                 "\" data-attainment=\"" + fmt(r->result->slo_attainment, "%.6f") + "\" data-gpu-ratio=\"" +
                                 fmt(ratio(*r), "%.4f") + "\"";
        if (is(p, "oracle")) {
          s += "<path" + data + " d=\"M" + fmt(x) + " " + fmt(y - radius - 2) + "l" + fmt(radius + 2) + " " + fmt(radius + 2) +
               "l-" + fmt(radius + 2) + " " + fmt(radius + 2) + "l-" + fmt(radius + 2) + " -" + fmt(radius + 2) + "z\" fill=\"" +
               fill + "\" stroke=\"" + c + "\" stroke-width=\"1.5\"/>\n";
        } else if (is(p, "static-best")) {
          s += "<rect" + data + " x=\"" + fmt(x - radius) + "\" y=\"" + fmt(y - radius) + "\" width=\"" + fmt(2 * radius) +
               "\" height=\"" + fmt(2 * radius) + "\" fill=\"" + fill + "\" stroke=\"" + c + "\" stroke-width=\"1.5\"/>\n";
        } else if (is(p, "recorded")) {  // the cluster's own fleet: a triangle
          s += "<path" + data + " d=\"M" + fmt(x) + " " + fmt(y - radius - 1) + "L" + fmt(x + radius + 1) + " " + fmt(y + radius) +
               "L" + fmt(x - radius - 1) + " " + fmt(y + radius) + "z\" fill=\"" + fill + "\" stroke=\"" + c +
               "\" stroke-width=\"1.5\"/>\n";
        } else {
          s += "<circle" + data + " cx=\"" + fmt(x) + "\" cy=\"" + fmt(y) + "\" r=\"" + fmt(radius) + "\" fill=\"" + fill +
               "\" stroke=\"" + c + "\" stroke-width=\"1.5\"/>\n";
        }
        px.push_back(x);
        py.push_back(y);
        names.push_back(k + 1 == cold_starts_.size() || find(p, cold_starts_.back()) == nullptr ? p : std::string());
      }
      if (list) {
        s += "<polyline data-series=\"" + xml_escape(p) + "\" points=\"" + line + "\" fill=\"none\" stroke=\"" + colour(p) +
             "\" stroke-width=\"1\" opacity=\"0.6\"/>\n";
      }
    }
    // labels: only the named points get one, but every point is an obstacle
    std::vector<double> lx, ly;
    std::vector<std::string> lt;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) {
        taken.push_back(Box{px[i] - 6, py[i] - 6, px[i] + 6, py[i] + 6});
      } else {
        lx.push_back(px[i]);
        ly.push_back(py[i]);
        lt.push_back(names[i]);
      }
    }
    const Box area{left + 2, t0 + 2, left + pw - 2, t0 + ph - 2};
    const auto labels = place_labels(lx, ly, lt, 11, 6, area, taken);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const auto& l = labels[i];
      if (l.leader) {
        const double ex = std::clamp(lx[i], l.box.x0, l.box.x1), ey = std::clamp(ly[i], l.box.y0, l.box.y1);
        s += "<line x1=\"" + fmt(lx[i]) + "\" y1=\"" + fmt(ly[i]) + "\" x2=\"" + fmt(ex) + "\" y2=\"" + fmt(ey) +
             "\" stroke=\"#aaa\" stroke-width=\"0.8\"/>\n";
      }
      s += text(l.x, l.y, xml_escape(lt[i]), 11, l.anchor.c_str(), "data-label=\"" + xml_escape(lt[i]) + "\" fill=\"" + colour(lt[i]) + "\"");
    }
    s += "</g>\n";
    return t0 + ph + 48;
  }

  // ---- small multiples ------------------------------------------------------------------------------
  struct Bucket {
    double ready = 0, current = 0, peak = 0;
    long long arrivals = 0, misses = 0;
  };

  double panels(std::string& s, double top) const {
    const double cs = in_.timeline_cold_start;
    std::vector<const PlotRun*> runs;
    for (const auto& p : policies_) {
      if (const PlotRun* r = find(p, cs)) runs.push_back(r);
    }
    if (runs.empty()) return top;
    // the x-axis: to the tick that saw the last arrival
    double t_end = 0;
    for (const PlotRun* r : runs) {
      const auto& res = *r->result;
      double end = res.last_arrival_s;
      for (const auto& k : res.series) {
        if (k.t >= res.last_arrival_s) {
          end = k.t;
          break;
        }
      }
      t_end = std::max(t_end, end);
    }
    t_end = std::max(t_end, 1.0);
    const PlotRun* oracle = reference_run("oracle", cs);
    const auto peak_current = [&](const PlotRun& r) {
      int peak = 0;
      for (const auto& k : r.result->series) {
        if (k.t > t_end) break;
        peak = std::max(peak, k.ready + k.starting);
      }
      return peak;
    };
    // the y-axis: the oracle and the policies meeting the target at no more than 1.5 times its cost
    double y_fit = 1;
    for (const PlotRun* r : runs) {
      const bool reference = r->base() == "oracle" || r->base() == "static-best" || r->base() == "recorded";
      const bool good = r->result->slo_attainment >= in_.target &&
                        (oracle == nullptr || r->result->gpu_hours <= 1.5 * oracle->result->gpu_hours);
      if (reference || good || oracle == nullptr) y_fit = std::max(y_fit, static_cast<double>(peak_current(*r)));
    }
    for (const RecordWindow& w : in_.record) {  // the cluster's fleet is drawn in every panel
      if (w.start_s <= t_end && !std::isnan(w.ready)) y_fit = std::max(y_fit, w.ready);
    }
    const double y_step = nice_step(y_fit * 1.1, 4);
    const double y_max = std::ceil(y_fit * 1.1 / y_step) * y_step;
    const bool hours = t_end > 3 * 3600;
    const double unit = hours ? 3600 : 60;
    const double x_step = nice_step(t_end / unit, 6);

    const std::size_t cols = std::min<std::size_t>(3, runs.size());
    const double margin = 20, hgap = 28, inner_left = 36;
    const double block_w = (W - 2 * margin - static_cast<double>(cols - 1) * hgap) / static_cast<double>(cols);
    const double pw = block_w - inner_left, ph = 118, strip = 20;
    const double block_h = 34 + ph + 4 + strip + 36;
    s += text(20, top + 18, "Replicas over time: when and why a policy falls behind", 14, "start", "font-weight=\"bold\"");
    const double caption_end =
        wrapped(s, 20, top + 34,
                "cold start " + fmt(cs, "%g") + " s; each panel: the policy's ready replicas (line) and starting replicas "
                "(shade above it) against the oracle's replicas (grey), the same axes in every panel; the red strip under a "
                "panel: the requests that ended missing the SLO in each interval over those that arrived in it (full height: all, at least a pixel for one); an arrow "
                "at the top: the policy left the chart there (its peak written once)",
                11, W - 40);
    double grid_top = caption_end + 4;
    if (!in_.record.empty()) {  // the legend of the line a record adds to every panel
      s += "<g data-legend=\"recorded\">\n";
      legend_entry(s, 20, caption_end + 18, "#666", "4 3",
                   "recorded: the cluster's ready replicas, window by window from the record (in every panel)");
      s += "</g>\n";
      grid_top += 18;
    }
    // the record's ready replicas, on the panels' buckets of about 2 px (the same in every panel)
    const double width = std::max(t_end / (pw / 2), 1e-9);
    const std::vector<double> recorded =
        in_.record.empty() ? std::vector<double>() : recorded_ready(width, static_cast<std::size_t>(std::ceil(t_end / width)) + 1);
    for (std::size_t i = 0; i < runs.size(); ++i) {
      const PlotRun& r = *runs[i];
      const auto& res = *r.result;
      const double bx = margin + static_cast<double>(i % cols) * (block_w + hgap);
      const double by = grid_top + static_cast<double>(i / cols) * block_h;
      const double px0 = bx + inner_left, py0 = by + 34;
      const auto X = [&](double t) { return px0 + pw * std::clamp(t / t_end, 0.0, 1.0); };
      const auto Y = [&](double v) { return py0 + ph - ph * std::clamp(v / y_max, 0.0, 1.0); };
      const std::string c = colour(r.policy);
      s += "<g data-panel=\"" + xml_escape(r.policy) + "\" data-x-end-s=\"" + fmt(t_end, "%.3f") + "\" data-last-arrival-s=\"" +
           fmt(res.last_arrival_s, "%.3f") + "\">\n";
      // title: name, attainment, cost; a second line when the run drained a backlog past the axis
      std::string head = r.policy + ": " + percent(res.slo_attainment);
      if (oracle != nullptr && oracle->result->gpu_hours > 0) {
        head += ", " + fmt(res.gpu_hours / oracle->result->gpu_hours, "%.2f") + "x the oracle's cost";
      } else {
        head += ", " + fmt(res.gpu_hours, "%.0f") + " GPU-h";
      }
      const double head_size = std::min(11.5, 11.5 * block_w / text_width(head, 11.5));  // shrunk to fit its panel
      s += text(bx, by + 14, xml_escape(head), head_size, "start",
                std::string("font-weight=\"bold\"") + (res.slo_attainment >= in_.target ? "" : " fill=\"#b22222\""));
      const double drained = res.duration_s - res.last_arrival_s;
      if (drained > 600) {  // the last requests take a few minutes to finish anyway
        const std::string d = "drained a backlog for " + (drained >= 7200 ? fmt(drained / 3600, "%.1f h") : fmt(drained / 60, "%.0f min")) +
                              " after the last arrival (not drawn)";
        s += text(bx, by + 28, xml_escape(d), std::min(10.0, 10.0 * block_w / text_width(d, 10)), "start",
                  "data-drained-s=\"" + fmt(drained, "%.0f") + "\" fill=\"#b22222\"");
      }
      // frame, grid, ticks
      frame(s, "data-frame=\"" + xml_escape(r.policy) + "\"", px0, py0, pw, ph, y_step, y_max, unit, x_step, t_end, strip + 16, X, Y);
      s += text(px0 + pw, py0 + ph + strip + 28, hours ? "hours" : "minutes", 9.5, "end", "fill=\"#666\"");
      // buckets of about 2 px (`width`, above)
      const auto buckets = [&](const PlotRun& run) {
        std::vector<Bucket> b(static_cast<std::size_t>(std::ceil(t_end / width)) + 1);
        std::vector<int> n(b.size(), 0);
        for (const auto& k : run.result->series) {
          if (k.t > t_end + 1e-9) break;
          const auto j = std::min(b.size() - 1, static_cast<std::size_t>(k.t / width));
          b[j].ready += k.ready;
          b[j].current += k.ready + k.starting;
          b[j].peak = std::max(b[j].peak, static_cast<double>(k.ready + k.starting));
          b[j].arrivals += k.arrivals;
          b[j].misses += k.misses;
          ++n[j];
        }
        for (std::size_t j = 0; j < b.size(); ++j) {
          if (n[j] > 0) {
            b[j].ready /= n[j];
            b[j].current /= n[j];
          } else if (j > 0) {
            b[j] = Bucket{b[j - 1].ready, b[j - 1].current, b[j - 1].current, 0, 0};
          }
        }
        return b;
      };
      const std::vector<Bucket> mine = buckets(r);
      if (oracle != nullptr && oracle != &r) {
        std::string pts;
        const std::vector<Bucket> ob = buckets(*oracle);
        for (std::size_t j = 0; j < ob.size(); ++j) {
          pts += (pts.empty() ? "" : " ") + fmt(X((static_cast<double>(j) + 0.5) * width)) + "," + fmt(Y(ob[j].current));
        }
        s += "<polyline data-oracle-in=\"" + xml_escape(r.policy) + "\" points=\"" + pts +
             "\" fill=\"none\" stroke=\"#555\" stroke-width=\"0.9\" opacity=\"0.8\"/>\n";
      }
      if (!recorded.empty()) {
        std::string d;
        bool drawing = false;
        for (std::size_t j = 0; j < recorded.size(); ++j) {
          if (std::isnan(recorded[j])) {
            drawing = false;
            continue;
          }
          d += (drawing ? "L" : "M") + fmt(X((static_cast<double>(j) + 0.5) * width)) + " " + fmt(Y(recorded[j]));
          drawing = true;
        }
        if (!d.empty()) {
          s += "<path data-recorded-in=\"" + xml_escape(r.policy) + "\" d=\"" + d +
               "\" fill=\"none\" stroke=\"#666\" stroke-width=\"1.2\" stroke-dasharray=\"4 3\"/>\n";
        }
      }
      std::string upper, lower, line;
      for (std::size_t j = 0; j < mine.size(); ++j) {
        const double x = X((static_cast<double>(j) + 0.5) * width);
        upper += (upper.empty() ? "" : " ") + fmt(x) + "," + fmt(Y(mine[j].current));
        line += (line.empty() ? "" : " ") + fmt(x) + "," + fmt(Y(mine[j].ready));
      }
      for (std::size_t j = mine.size(); j-- > 0;) {
        lower += " " + fmt(X((static_cast<double>(j) + 0.5) * width)) + "," + fmt(Y(mine[j].ready));
      }
      s += "<polygon data-starting=\"" + xml_escape(r.policy) + "\" points=\"" + upper + lower + "\" fill=\"" + c +
           "\" opacity=\"0.3\" stroke=\"none\"/>\n";
      s += "<polyline data-policy=\"" + xml_escape(r.policy) + "\" points=\"" + line + "\" fill=\"none\" stroke=\"" + c +
           "\" stroke-width=\"1.5\"/>\n";
      // off the scale: an arrow where each excursion above the axis peaks, the highest labelled
      double top_peak = 0, top_x = 0;
      int arrows = 0;
      for (std::size_t j = 0; j < mine.size();) {
        if (mine[j].peak <= y_max) {
          ++j;
          continue;
        }
        std::size_t k = j, at = j;
        for (; k < mine.size() && mine[k].peak > y_max; ++k) {
          if (mine[k].peak > mine[at].peak) at = k;
        }
        const double x = X((static_cast<double>(at) + 0.5) * width);
        if (arrows++ < 12) {
          s += "<path data-offscale=\"" + xml_escape(r.policy) + "\" d=\"M" + fmt(x) + " " + fmt(py0 + 1) + "l-4 7h8z\" fill=\"" +
               c + "\" stroke=\"#333\" stroke-width=\"0.6\"/>\n";
        }
        if (mine[at].peak > top_peak) {
          top_peak = mine[at].peak;
          top_x = x;
        }
        j = k;
      }
      if (top_peak > 0) {
        const std::string t = "peak " + fmt(top_peak, "%.0f");
        const double w = text_width(t, 10);
        const double tx = std::clamp(top_x + 6, px0 + 2, px0 + pw - w - 2);
        s += text(tx, py0 + 18, xml_escape(t), 10, "start", "fill=\"#333\"");
      }
      // misses: requests ending in the bucket missing the SLO over the requests arriving in it
      const double sy = py0 + ph + 4;
      s += "<rect data-misses-strip=\"" + xml_escape(r.policy) + "\" x=\"" + fmt(px0) + "\" y=\"" + fmt(sy) + "\" width=\"" +
           fmt(pw) + "\" height=\"" + fmt(strip) + "\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n";
      std::string bars;
      for (std::size_t j = 0; j < mine.size(); ++j) {
        if (mine[j].misses <= 0) continue;
        const double share = std::min(1.0, static_cast<double>(mine[j].misses) /
                                               static_cast<double>(std::max(mine[j].arrivals, mine[j].misses)));
        const double h = std::max(1.0, strip * share);
        bars += "M" + fmt(X(static_cast<double>(j) * width) + 1) + " " + fmt(sy + strip) + "v-" + fmt(h);
      }
      if (!bars.empty()) {
        s += "<path data-misses=\"" + xml_escape(r.policy) + "\" d=\"" + bars + "\" stroke=\"#d62728\" stroke-width=\"2\"/>\n";
      }
      s += "</g>\n";
    }
    const std::size_t rows = (runs.size() + cols - 1) / cols;
    const double bottom = grid_top + static_cast<double>(rows) * block_h;
    return in_.record.empty() ? bottom : record_latency(s, bottom + 8, t_end, unit, x_step, hours);
  }

  // a legend entry at (x, y): a sample of the line (`dash`: its stroke-dasharray) and `words`
  // A panel's frame (`attribute` names it), its grid and value labels every y_step up to y_max,
  // and its time ticks every x_step (in `unit` seconds) labelled `label_dy` below the frame.
  template <class ToX, class ToY>
  static void frame(std::string& s, const std::string& attribute, double px0, double py0, double pw, double ph, double y_step,
                    double y_max, double unit, double x_step, double t_end, double label_dy, const ToX& X, const ToY& Y) {
    s += "<rect " + attribute + " x=\"" + fmt(px0) + "\" y=\"" + fmt(py0) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (double v = y_step; v < y_max + 1e-9; v += y_step) {
      s += "<line x1=\"" + fmt(px0) + "\" x2=\"" + fmt(px0 + pw) + "\" y1=\"" + fmt(Y(v)) + "\" y2=\"" + fmt(Y(v)) +
           "\" stroke=\"#eee\"/>\n";
    }
    for (double v = 0; v < y_max + 1e-9; v += y_step) s += text(px0 - 4, Y(v) + 3.5, fmt(v, "%g"), 9.5, "end");
    for (double v = 0; v * unit <= t_end + 1e-9; v += x_step) {
      s += "<line x1=\"" + fmt(X(v * unit)) + "\" x2=\"" + fmt(X(v * unit)) + "\" y1=\"" + fmt(py0 + ph) + "\" y2=\"" +
           fmt(py0 + ph + 3) + "\" stroke=\"#999\"/>\n";
      s += text(X(v * unit), py0 + ph + label_dy, fmt(v, "%g"), 9.5, "middle");
    }
  }

  static void legend_entry(std::string& s, double x, double y, const char* stroke, const char* dash, const std::string& words) {
    s += "<line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x + 24) + "\" y1=\"" + fmt(y - 4) + "\" y2=\"" + fmt(y - 4) + "\" stroke=\"" +
         stroke + "\" stroke-width=\"1.5\"" + (*dash != '\0' ? " stroke-dasharray=\"" + std::string(dash) + "\"" : std::string()) +
         "/>\n";
    s += text(x + 30, y, xml_escape(words), 11, "start", "fill=\"#444\"");
  }

  // the record's ready replicas averaged over each of `n` buckets of `width` s (time-weighted
  // over the windows with a count covering it; NaN where none does)
  std::vector<double> recorded_ready(double width, std::size_t n) const {
    std::vector<double> sum(n, 0), covered(n, 0);
    for (const RecordWindow& w : in_.record) {
      const double a = std::max(0.0, w.start_s), b = std::min(w.end_s, static_cast<double>(n) * width);
      if (std::isnan(w.ready) || !(b > a)) continue;
      for (auto j = static_cast<std::size_t>(a / width); j < n && static_cast<double>(j) * width < b; ++j) {
        const double lo = std::max(a, static_cast<double>(j) * width), hi = std::min(b, static_cast<double>(j + 1) * width);
        if (hi <= lo) continue;
        sum[j] += w.ready * (hi - lo);
        covered[j] += hi - lo;
      }
    }
    std::vector<double> out(n, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t j = 0; j < n; ++j) {
      if (covered[j] > 0) out[j] = sum[j] / covered[j];
    }
    return out;
  }

  // ---- a record: TTFT p99 per window, observed against simulated ------------------------------------
  double record_latency(std::string& s, double top, double t_end, double unit, double x_step, bool hours) const {
    std::vector<double> values;
    for (const RecordWindow& w : in_.record) {
      if (w.start_s > t_end) continue;
      for (double v : {w.observed_ttft_p99, w.simulated_ttft_p99}) {
        if (!std::isnan(v)) values.push_back(v);
      }
    }
    if (values.empty()) return top;  // neither side has a latency to draw
    // the y-axis: the TTFT target and the 98th percentile window with room; a window above it is
    // drawn at the top (one incident must not flatten every other window)
    std::sort(values.begin(), values.end());
    const double high = values[std::min(values.size() - 1, static_cast<std::size_t>(0.98 * static_cast<double>(values.size())))];
    const double y_top = std::max({in_.slo_ttft_s, 1.2 * high, 1e-3});
    const double y_step = nice_step(y_top, 4);
    const double y_max = std::ceil(y_top / y_step - 1e-9) * y_step;
    const double margin = 20, inner_left = 36, ph = 150;
    const double px0 = margin + inner_left, pw = W - 2 * margin - inner_left;
    s += "<g data-record-panel=\"ttft-p99\">\n";
    s += text(20, top + 18, "Simulator vs cluster: TTFT p99 per window (s) at the recorded fleet", 14, "start", "font-weight=\"bold\"");
    const double caption_end =
        wrapped(s, 20, top + 34,
                "each window's 99th percentile time to first token: observed, as the record has it, against simulated, the "
                "replay of the recorded fleet measured per window as the scaler measures; a window above the axis is drawn at "
                "its top",
                11, W - 40);
    s += "<g data-legend=\"ttft-p99\">\n";
    const double ly = caption_end + 18;
    legend_entry(s, 20, ly, "#666", "4 3", "observed (the record)");
    const bool simulated_any = std::any_of(in_.record.begin(), in_.record.end(),
                                           [](const RecordWindow& w) { return !std::isnan(w.simulated_ttft_p99); });
    if (simulated_any) {
      legend_entry(s, 210, ly, colour(std::string(llmscale::recorded_contestant)).c_str(), "", "simulated (the recorded fleet's replay)");
    }
    if (in_.slo_ttft_s > 0) legend_entry(s, 520, ly, "#d62728", "6 4", "the TTFT target");
    s += "</g>\n";
    const double py0 = ly + 16;
    const auto X = [&](double t) { return px0 + pw * std::clamp(t / t_end, 0.0, 1.0); };
    const auto Y = [&](double v) { return py0 + ph - ph * std::clamp(v / y_max, 0.0, 1.0); };
    frame(s, "data-record-frame=\"ttft-p99\"", px0, py0, pw, ph, y_step, y_max, unit, x_step, t_end, 16, X, Y);
    s += text(px0 + pw, py0 + ph + 28, hours ? "hours" : "minutes", 9.5, "end", "fill=\"#666\"");
    if (in_.slo_ttft_s > 0 && in_.slo_ttft_s <= y_max) {
      s += "<line data-ttft-target=\"" + fmt(in_.slo_ttft_s, "%g") + "\" x1=\"" + fmt(px0) + "\" x2=\"" + fmt(px0 + pw) + "\" y1=\"" +
           fmt(Y(in_.slo_ttft_s)) + "\" y2=\"" + fmt(Y(in_.slo_ttft_s)) + "\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n";
    }
    // one point per window, or per group of windows where they are more than one per 2 px (the
    // group's arrivals-weighted median); a window without the value, or a gap, breaks the line
    std::size_t shown = 0;
    while (shown < in_.record.size() && in_.record[shown].start_s <= t_end) ++shown;
    const auto group = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(static_cast<double>(shown) / (pw / 2))));
    const auto series = [&](double RecordWindow::*value) {
      std::string d;
      bool drawing = false;
      double last_end = 0;
      for (std::size_t k = 0; k < shown; k += group) {
        const std::size_t to = std::min(shown, k + group);
        std::vector<std::pair<double, double>> in_group;
        for (std::size_t w = k; w < to; ++w) in_group.emplace_back(in_.record[w].*value, std::max(1.0, in_.record[w].arrivals));
        const double v = llmscale::weighted_median(std::move(in_group));
        const double from = in_.record[k].start_s, until = in_.record[to - 1].end_s;
        if (std::isnan(v) || (k > 0 && from > last_end + 1)) drawing = false;
        last_end = until;
        if (std::isnan(v)) continue;
        d += (drawing ? "L" : "M") + fmt(X((from + until) / 2)) + " " + fmt(Y(v));
        drawing = true;
      }
      return d;
    };
    const std::string observed = series(&RecordWindow::observed_ttft_p99);
    const std::string simulated = series(&RecordWindow::simulated_ttft_p99);
    if (!observed.empty()) {
      s += "<path data-observed-ttft-p99=\"record\" d=\"" + observed +
           "\" fill=\"none\" stroke=\"#666\" stroke-width=\"1.2\" stroke-dasharray=\"4 3\"/>\n";
    }
    if (!simulated.empty()) {
      s += "<path data-simulated-ttft-p99=\"" + std::string(llmscale::recorded_contestant) + "\" d=\"" + simulated +
           "\" fill=\"none\" stroke=\"" + colour(std::string(llmscale::recorded_contestant)) + "\" stroke-width=\"1.5\"/>\n";
    }
    s += "</g>\n";
    return py0 + ph + 34;
  }
};

inline std::string render_svg(const PlotInput& in) { return Plot(in).svg(); }

}  // namespace replay

#endif  // LLMSCALE_TOOLS_REPLAY_PLOT_HPP
