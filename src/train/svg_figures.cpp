// The report's pictures other than line plots: the confusion matrix as a heat map and captioned
// grids of images, as inline SVG.
#include <algorithm>
#include <cmath>

#include "nabla/data.hpp"
#include "nabla/report.hpp"
#include "train/svg.hpp"

namespace nabla::train {
namespace {

// White to dark blue by `share` in [0, 1].
std::string blue(double share) {
  const auto mix = [&](int from, int to) {
    return static_cast<int>(std::lround(from + (to - from) * std::clamp(share, 0.0, 1.0)));
  };
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", mix(255, 8), mix(255, 81), mix(255, 156));
  return buffer;
}

}  // namespace

std::string svg_confusion_matrix(const std::vector<std::vector<int64_t>>& confusion,
                                 const std::vector<std::string>& class_names) {
  const size_t n = confusion.size();
  NABLA_CHECK(n > 0, "svg_confusion_matrix: expected a confusion matrix, got an empty one");
  for (const auto& row : confusion) {
    NABLA_CHECK(row.size() == n, "svg_confusion_matrix: expected a square matrix of ", n,
                " classes, got a row of ", row.size());
  }
  NABLA_CHECK(class_names.size() == n, "svg_confusion_matrix: expected ", n, " class names, got ",
              class_names.size());
  size_t longest = 1;
  for (const std::string& name : class_names) longest = std::max(longest, name.size());
  const double cell = std::clamp(440.0 / static_cast<double>(n), 14.0, 48.0);
  const double left = 30 + std::min(7.0 * static_cast<double>(longest), 160.0);
  const double top = 34;
  const double bottom = 30 + std::min(5.0 * static_cast<double>(longest), 120.0);
  const double size = cell * static_cast<double>(n);
  const double width = left + size + 20, height = top + size + bottom;
  std::string svg = "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    svg::number(width) + "\" height=\"" + svg::number(height) +
                    "\" viewBox=\"0 0 " + svg::number(width) + " " + svg::number(height) +
                    "\" role=\"img\" aria-label=\"confusion matrix\">\n";
  svg += "<title>Confusion matrix: rows are the true classes, columns the predicted ones</title>\n";
  svg += svg::text(left + size / 2, 20, "predicted class",
                   "class=\"axis-label\" "
                   "text-anchor=\"middle\"");
  svg += svg::text(12, top + size / 2, "true class",
                   "class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 12 " +
                       svg::number(top + size / 2) + ")\"");
  const double font = std::min(12.0, cell * 0.36);
  for (size_t t = 0; t < n; ++t) {
    int64_t row_total = 0;
    for (const int64_t count : confusion[t]) row_total += count;
    for (size_t p = 0; p < n; ++p) {
      const int64_t count = confusion[t][p];
      const double share = row_total > 0 ? static_cast<double>(count) / row_total : 0.0;
      const double x = left + cell * static_cast<double>(p);
      const double y = top + cell * static_cast<double>(t);
      svg += "<rect class=\"cell\" data-true=\"" + std::to_string(t) + "\" data-predicted=\"" +
             std::to_string(p) + "\" data-count=\"" + std::to_string(count) + "\" x=\"" +
             svg::number(x) + "\" y=\"" + svg::number(y) + "\" width=\"" + svg::number(cell) +
             "\" height=\"" + svg::number(cell) + "\" fill=\"" + blue(share) +
             "\" stroke=\"#ddd\"><title>true " + html_escape(class_names[t]) + ", predicted " +
             html_escape(class_names[p]) + ": " + std::to_string(count) + "</title></rect>\n";
      // An inline style: the page's stylesheet colours all SVG text, over a fill attribute.
      if (cell >= 20 && count > 0) {
        svg += svg::text(
            x + cell / 2, y + cell / 2 + font / 3, std::to_string(count),
            "class=\"count\" text-anchor=\"middle\" style=\"font-size:" + svg::number(font) +
                "px;fill:" + (share > 0.5 ? "#fff" : "#222") + "\"");
      }
    }
    // The class names: along the rows on the left, and slanted under the columns.
    svg += svg::text(left - 6, top + cell * (static_cast<double>(t) + 0.5) + 4, class_names[t],
                     "class=\"class-name\" text-anchor=\"end\"");
    const double cx = left + cell * (static_cast<double>(t) + 0.5);
    const double cy = top + size + 10;
    svg += svg::text(cx, cy, class_names[t],
                     "class=\"class-name\" text-anchor=\"end\" transform=\"rotate(-45 " +
                         svg::number(cx) + " " + svg::number(cy) + ")\"");
  }
  return svg + "</svg>\n";
}

std::string svg_image_grid(const Tensor& images, const std::vector<ImageCaption>& captions,
                           int64_t columns, int scale) {
  NABLA_CHECK(images.defined(), "svg_image_grid: expected images, got an undefined tensor");
  NABLA_CHECK((images.dim() == 3 || images.dim() == 4) && images.size(0) > 0,
              "svg_image_grid: expected images [N, C, H, W] or [N, H, W] with N >= 1, got shape ",
              images.shape());
  NABLA_CHECK(static_cast<int64_t>(captions.size()) == images.size(0), "svg_image_grid: expected ",
              images.size(0), " captions (one per image), got ", captions.size());
  NABLA_CHECK(columns >= 1 && scale >= 1,
              "svg_image_grid: expected columns >= 1 and scale >= 1, got ", columns, " and ",
              scale);
  constexpr int64_t kPadding = 2;
  const int64_t count = images.size(0);
  const int64_t height = images.size(images.dim() - 2), width = images.size(images.dim() - 1);
  const int64_t per_row = std::min(columns, count);
  const double cell_width = static_cast<double>((width + kPadding) * scale);
  const double image_height = static_cast<double>((height + 2 * kPadding) * scale);
  constexpr double kCaptionHeight = 32;
  const int64_t rows = (count + per_row - 1) / per_row;
  const double total_width = cell_width * static_cast<double>(per_row) + kPadding * scale;
  const double total_height = (image_height + kCaptionHeight) * static_cast<double>(rows);
  std::string svg = "<svg class=\"image-grid\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    svg::number(total_width) + "\" height=\"" + svg::number(total_height) +
                    "\" viewBox=\"0 0 " + svg::number(total_width) + " " +
                    svg::number(total_height) + "\">\n";
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t first = row * per_row, last = std::min(count, first + per_row);
    // One PNG per row: data::image_grid lays the row out; captions go in the gap below it.
    const Tensor strip = data::image_grid(images.slice(0, first, last), per_row, kPadding, 255);
    const double y = static_cast<double>(row) * (image_height + kCaptionHeight);
    const double strip_width = static_cast<double>(strip.size(strip.dim() - 1) * scale);
    svg += "<image x=\"0\" y=\"" + svg::number(y) + "\" width=\"" + svg::number(strip_width) +
           "\" height=\"" + svg::number(image_height) +
           "\" style=\"image-rendering:pixelated\" href=\"" + png_data_uri(strip) + "\"/>\n";
    for (int64_t i = first; i < last; ++i) {
      const double cx = kPadding * scale + cell_width * static_cast<double>(i - first) +
                        static_cast<double>(width * scale) / 2;
      svg += svg::text(cx, y + image_height + 12, captions[i].first,
                       "class=\"caption-true\" text-anchor=\"middle\"");
      svg += svg::text(cx, y + image_height + 26, captions[i].second,
                       "class=\"caption-predicted\" text-anchor=\"middle\"");
    }
  }
  return svg + "</svg>\n";
}

}  // namespace nabla::train
