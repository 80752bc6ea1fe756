// Line plots as inline SVG for the HTML report: axes with round-number ticks, one polyline per
// series, a legend. Written by hand (a few hundred bytes per curve) so that the report needs no
// plotting library and no script.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "nabla/report.hpp"
#include "train/svg.hpp"

namespace nabla::train {
namespace {

// Room around the plot area: tick labels on the left, axis label below, title above; the legend
// on the right is as wide as its longest name needs.
constexpr int kLeft = 64, kTop = 30, kBottom = 42;
constexpr int kMinRight = 60, kMaxRight = 220;

struct Range {
  double min = 0, max = 1;
  double span() const { return max - min; }
};

// A spacing of about span / 5 that is 1, 2 or 5 times a power of ten.
double tick_step(double span) {
  const double raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double scaled = raw / magnitude;
  return (scaled < 1.5 ? 1 : scaled < 3 ? 2 : scaled < 7 ? 5 : 10) * magnitude;
}

std::vector<double> ticks(const Range& range, bool integers) {
  if (range.span() <= 0) return {};
  double step = tick_step(range.span());
  if (integers) step = std::max(1.0, std::round(step));
  std::vector<double> out;
  for (double t = std::ceil(range.min / step - 1e-9) * step; t <= range.max + step * 1e-9;
       t += step) {
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return out;
}

// Ticks of a log10 axis (the range in log10 units), returned in log10 units: powers of ten, with
// 2x and 5x between them when the range spans few decades; within one decade, round values
// placed on the log scale.
std::vector<double> log_ticks(const Range& range) {
  if (range.span() < 1) {
    std::vector<double> out;
    for (const double t : ticks({std::pow(10.0, range.min), std::pow(10.0, range.max)}, false)) {
      if (t > 0) out.push_back(std::log10(t));
    }
    return out;
  }
  std::vector<double> out;
  const bool fine = range.span() <= 2.5;
  for (double decade = std::floor(range.min); decade <= range.max; ++decade) {
    for (const double factor : {1.0, 2.0, 5.0}) {
      if (factor != 1 && !fine) continue;
      const double t = decade + std::log10(factor);
      if (t >= range.min && t <= range.max) out.push_back(t);
    }
  }
  return out;
}

// The data's extent; a single value gets room of 10% of its size (0.5 around zero).
Range extent(const std::vector<double>& values) {
  Range range{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  for (const double v : values) {
    range.min = std::min(range.min, v);
    range.max = std::max(range.max, v);
  }
  if (values.empty()) return {0, 1};
  if (range.span() == 0) {
    const double pad = range.min == 0 ? 0.5 : std::abs(range.min) * 0.1;
    return {range.min - pad, range.max + pad};
  }
  return range;
}

}  // namespace

std::string svg_line_plot(const std::vector<Series>& series, const LinePlotOptions& options) {
  size_t longest_name = 0;
  for (const Series& s : series) longest_name = std::max(longest_name, s.name.size());
  const int right = std::clamp(48 + static_cast<int>(6.5 * static_cast<double>(longest_name)),
                               kMinRight, kMaxRight);
  NABLA_CHECK(options.width > kLeft + right + 40 && options.height > kTop + kBottom + 40,
              "svg_line_plot: expected a size of at least ", kLeft + right + 41, "x",
              kTop + kBottom + 41, ", got ", options.width, "x", options.height);
  for (const Series& s : series) {
    NABLA_CHECK(s.x.size() == s.y.size(), "svg_line_plot: series '", s.name, "' has ", s.x.size(),
                " x values and ", s.y.size(), " y values");
  }
  // The scale is logarithmic only when every value drawn can be.
  bool log_y = options.log_y;
  std::vector<double> xs, ys;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xs.push_back(s.x[i]);
      ys.push_back(s.y[i]);
      if (s.y[i] <= 0) log_y = false;
    }
  }
  if (log_y) {
    for (double& y : ys) y = std::log10(y);
  }
  const Range x_range = extent(xs);
  Range y_range = extent(ys);
  if (!ys.empty() && y_range.span() > 0) {
    const double pad =
        (*std::max_element(ys.begin(), ys.end()) - *std::min_element(ys.begin(), ys.end())) * 0.05;
    if (pad > 0) y_range = {y_range.min - pad, y_range.max + pad};
  }
  const double plot_width = options.width - kLeft - right;
  const double plot_height = options.height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_range.min) / x_range.span() * plot_width; };
  auto py = [&](double y) {
    return kTop + (y_range.max - (log_y ? std::log10(y) : y)) / y_range.span() * plot_height;
  };

  std::string svg = "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(options.width) + "\" height=\"" +
                    std::to_string(options.height) + "\" viewBox=\"0 0 " +
                    std::to_string(options.width) + " " + std::to_string(options.height) +
                    "\" data-x-min=\"" + svg::number(x_range.min) + "\" data-x-max=\"" +
                    svg::number(x_range.max) + "\" data-y-min=\"" + svg::number(y_range.min) +
                    "\" data-y-max=\"" + svg::number(y_range.max) + "\" data-log-y=\"" +
                    (log_y ? "1" : "0") + "\" data-left=\"" + std::to_string(kLeft) +
                    "\" data-top=\"" + std::to_string(kTop) + "\" data-plot-width=\"" +
                    svg::number(plot_width) + "\" data-plot-height=\"" + svg::number(plot_height) +
                    "\" role=\"img\" aria-label=\"" + html_escape(options.title) + "\">\n";
  svg += "<title>" + html_escape(options.title) + "</title>\n";
  svg += svg::text(kLeft + plot_width / 2, 18, options.title,
                   "class=\"title\" text-anchor=\"middle\"");
  // Grid lines and tick labels.
  for (const double t : log_y ? log_ticks(y_range) : ticks(y_range, false)) {
    const double y = kTop + (y_range.max - t) / y_range.span() * plot_height;
    svg += svg::line(kLeft, y, kLeft + plot_width, y, "class=\"grid\"");
    svg += svg::text(kLeft - 6, y + 4, svg::tick_label(log_y ? std::pow(10.0, t) : t),
                     "class=\"tick\" text-anchor=\"end\"");
  }
  for (const double t : ticks(x_range, options.x_label == "epoch")) {
    const double x = px(t);
    svg += svg::line(x, kTop, x, kTop + plot_height, "class=\"grid\"");
    svg += svg::text(x, kTop + plot_height + 16, svg::tick_label(t),
                     "class=\"tick\" text-anchor=\"middle\"");
  }
  svg += "<rect class=\"frame\" x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(kTop) +
         "\" width=\"" + svg::number(plot_width) + "\" height=\"" + svg::number(plot_height) +
         "\" fill=\"none\"/>\n";
  svg += svg::text(kLeft + plot_width / 2, options.height - 6, options.x_label,
                   "class=\"axis-label\" text-anchor=\"middle\"");
  if (!options.y_label.empty()) {
    const std::string label = options.y_label + (log_y ? " (log scale)" : "");
    svg += svg::text(14, kTop + plot_height / 2, label,
                     "class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 14 " +
                         svg::number(kTop + plot_height / 2) + ")\"");
  }
  if (xs.empty()) {
    svg += svg::text(kLeft + plot_width / 2, kTop + plot_height / 2, "no data",
                     "class=\"empty\" text-anchor=\"middle\"");
  }

  // The curves: a polyline per run of finite points, a dot at each point.
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string color = svg::color(k);
    const std::string style =
        "stroke=\"" + color + "\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : std::string());
    std::string points, dots;
    auto flush = [&] {
      if (points.empty()) return;
      svg += "<polyline class=\"series\" data-name=\"" + html_escape(s.name) + "\" " + style +
             " fill=\"none\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
      points.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      const bool drawable =
          std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!log_y || s.y[i] > 0);
      if (!drawable) {
        flush();
        continue;
      }
      const std::string at = svg::number(px(s.x[i])) + "," + svg::number(py(s.y[i]));
      points += (points.empty() ? "" : " ") + at;
      dots += "<circle cx=\"" + svg::number(px(s.x[i])) + "\" cy=\"" + svg::number(py(s.y[i])) +
              "\" r=\"3\" fill=\"" + color + "\"><title>" + html_escape(s.name) + " " +
              svg::tick_label(s.x[i]) + ": " + svg::number(s.y[i]) + "</title></circle>\n";
    }
    flush();
    svg += dots;
    // The legend entry.
    const double ly = kTop + 8 + 18.0 * static_cast<double>(k);
    svg += svg::line(kLeft + plot_width + 12, ly, kLeft + plot_width + 36, ly,
                     style + " stroke-width=\"2\"");
    svg += svg::text(kLeft + plot_width + 42, ly + 4, s.name, "class=\"legend\"");
  }
  return svg + "</svg>\n";
}

}  // namespace nabla::train
