// Small pieces of SVG text shared by the report's pictures. Internal.
#pragma once

#include <cstdio>
#include <string>

#include "nabla/report.hpp"

namespace nabla::train::svg {

// A coordinate or value: up to 6 significant digits, no exponent for ordinary coordinates.
inline std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

// A tick's label: 4 significant digits (0.001, 2.5, 1e+04).
inline std::string tick_label(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

inline std::string text(double x, double y, const std::string& content,
                        const std::string& attributes) {
  return "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" " + attributes + ">" +
         html_escape(content) + "</text>\n";
}

inline std::string line(double x1, double y1, double x2, double y2, const std::string& attributes) {
  return "<line x1=\"" + number(x1) + "\" y1=\"" + number(y1) + "\" x2=\"" + number(x2) +
         "\" y2=\"" + number(y2) + "\" " + attributes + "/>\n";
}

// Matplotlib's ten "tab" colours, which stay apart for common colour blindness.
inline std::string color(size_t index) {
  static const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[index % 10];
}

}  // namespace nabla::train::svg
