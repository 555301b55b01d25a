// The drawing primitives of llmscale-replay's pictures: number and text formatting, axis steps,
// a text width estimate and the placement of point labels so that no two overlap.
// Everything is placed in absolute coordinates (no transform), so a reader of the SVG can check
// where each text lies.
#ifndef LLMSCALE_TOOLS_REPLAY_SVG_HPP
#define LLMSCALE_TOOLS_REPLAY_SVG_HPP

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace replay {

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

// A "nice" step (1, 2 or 5 times a power of ten) for about `n` ticks over [0, span].
inline double nice_step(double span, int n) {
  if (!(span > 0)) return 1;
  const double raw = span / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

// The width a sans-serif text of `size` px takes, over-estimated (0.62 em a character: DejaVu
// Sans, the widest common default, averages about 0.55 em over lower-case names).
inline double text_width(const std::string& s, double size) { return 0.62 * size * static_cast<double>(s.size()); }

struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  [[nodiscard]] bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  [[nodiscard]] bool inside(const Box& o) const { return x0 >= o.x0 && x1 <= o.x1 && y0 >= o.y0 && y1 <= o.y1; }
};

// The box of a text drawn at (x, y) (y the baseline) with `anchor` start, middle or end.
inline Box text_box(double x, double y, double width, double size, const std::string& anchor) {
  const double x0 = anchor == "end" ? x - width : anchor == "middle" ? x - width / 2 : x;
  return Box{x0, y - 0.8 * size, x0 + width, y + 0.25 * size};
}

struct PlacedLabel {
  double x = 0, y = 0;         ///< the text's anchor point (baseline)
  std::string anchor = "start";
  bool leader = false;         ///< drawn away from its point: join them with a line
  Box box;
};

// Places one label per point (px[i], py[i]) inside `area`, clear of every other label and of
// every point (a disc of `radius`): first beside the point (right, left, above, below, the
// diagonals), then on rings further out with a leader line. Points are placed in the order
// given; a label with no free place goes where it overlaps least. `taken`: boxes already drawn
// (other texts) that no label may cover.
inline std::vector<PlacedLabel> place_labels(const std::vector<double>& px, const std::vector<double>& py,
                                             const std::vector<std::string>& text, double size, double radius,
                                             const Box& area, std::vector<Box> taken = {}) {
  const std::size_t n = px.size();
  std::vector<Box> dots;
  for (std::size_t i = 0; i < n; ++i) dots.push_back(Box{px[i] - radius, py[i] - radius, px[i] + radius, py[i] + radius});
  std::vector<PlacedLabel> out(n);
  std::vector<Box>& placed = taken;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = text_width(text[i], size), gap = radius + 3;
    struct Candidate {
      double dx, dy;
      const char* anchor;
      bool leader;
    };
    std::vector<Candidate> candidates{{gap, 0.35 * size, "start", false},  {-gap, 0.35 * size, "end", false},
                                      {0, -gap, "middle", false},          {0, gap + 0.8 * size, "middle", false},
                                      {gap, -gap, "start", false},         {gap, gap + 0.6 * size, "start", false},
                                      {-gap, -gap, "end", false},          {-gap, gap + 0.6 * size, "end", false}};
    for (double ring = 18; ring <= 420; ring += 12) {
      for (int k = 0; k < 16; ++k) {
        const double a = k * 3.14159265358979 / 8;
        const double dx = ring * std::cos(a), dy = ring * std::sin(a);
        candidates.push_back({dx, dy + 0.35 * size, dx > 1 ? "start" : dx < -1 ? "end" : "middle", true});
      }
    }
    double best_cost = 1e300;
    for (const Candidate& c : candidates) {
      const double x = px[i] + c.dx, y = py[i] + c.dy;
      const Box b = text_box(x, y, w, size, c.anchor);
      double cost = b.inside(area) ? 0 : 1e6;
      for (const Box& o : placed) {
        if (b.overlaps(o)) cost += 1e4;
      }
      for (const Box& d : dots) {
        if (b.overlaps(d)) cost += 1e3;
      }
      cost += std::hypot(c.dx, c.dy) * 0.01;
      if (cost < best_cost) {
        best_cost = cost;
        out[i] = PlacedLabel{x, y, c.anchor, c.leader, b};
      }
      if (cost < 5) break;  // free: candidates go outwards, so the first free one is the nearest
    }
    placed.push_back(out[i].box);
  }
  return out;
}

}  // namespace replay

#endif  // LLMSCALE_TOOLS_REPLAY_SVG_HPP
