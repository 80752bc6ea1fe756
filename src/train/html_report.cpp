// The run report: one HTML page holding everything it shows. Plots are inline SVG and pictures
// PNG data URIs, styles are inline, and there is no script, so the page opens anywhere (a mail
// attachment, a browser with no network) and shows the same thing in ten years.
#include <algorithm>
#include <cmath>
#include <map>

#include "nabla/data.hpp"
#include "nabla/report.hpp"

namespace nabla::train {
namespace {

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto;
       max-width: 1180px; padding: 0 16px; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 4px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table.settings { border-collapse: collapse; } table.settings td { padding: 2px 12px 2px 0;
       vertical-align: top; } table.settings td:first-child { color: #555; white-space: nowrap; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 12px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
svg text { font-family: inherit; font-size: 11px; fill: #333; }
svg .title { font-size: 13px; font-weight: 600; } svg .axis-label { font-size: 12px; }
svg .grid { stroke: #e5e5e5; } svg .frame { stroke: #888; } svg .empty { fill: #999; }
svg .caption-true { fill: #1a7f37; } svg .caption-predicted { fill: #c62828; }
.note { color: #7a5d00; background: #fff8e1; padding: 6px 10px; border-left: 3px solid #f0b400; }
.muted { color: #666; }
)";

std::string table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string html = "<table class=\"settings\">\n";
  for (const auto& [key, value] : rows) {
    html += "<tr><td>" + html_escape(key) + "</td><td>" + html_escape(value) + "</td></tr>\n";
  }
  return html + "</table>\n";
}

std::string muted(const std::string& text) {
  return "<p class=\"muted\">" + html_escape(text) + "</p>\n";
}

std::vector<double> plus_one(const std::vector<double>& epochs) {
  std::vector<double> out = epochs;
  for (double& e : out) e += 1;  // the CSV counts from 0; people count epochs from 1, as Keras
  return out;
}

// Loss and each metric, training and validation together; then the learning rate.
std::string curves_section(const HtmlReport& report) {
  const MetricsTable& metrics = report.metrics;
  const std::vector<double> x = plus_one(metrics.epochs);
  std::vector<std::string> bases;
  for (const std::string& column : metrics.columns) {
    const std::string base = column.starts_with("val_") ? column.substr(4) : column;
    if (base != "lr" && std::find(bases.begin(), bases.end(), base) == bases.end()) {
      bases.push_back(base);
    }
  }
  // The loss first, as Keras prints it.
  std::stable_partition(bases.begin(), bases.end(),
                        [](const std::string& b) { return b == "loss"; });
  std::string html = "<section id=\"curves\">\n<h2>Training curves</h2>\n";
  if (metrics.epochs.empty()) {
    return html + muted("metrics.csv holds no epoch yet.") + "</section>\n";
  }
  html += "<div class=\"plots\">\n";
  for (const std::string& base : bases) {
    std::vector<Series> series;
    if (std::vector<double> y = metrics.column(base); !y.empty()) {
      series.push_back({"training " + base, x, std::move(y)});
    }
    if (std::vector<double> y = metrics.column("val_" + base); !y.empty()) {
      series.push_back({"validation " + base, x, std::move(y), true});
    }
    html += svg_line_plot(series, {.title = base, .y_label = base});
  }
  std::vector<double> lr = metrics.column("lr");
  std::string lr_title = "learning rate";
  if (lr.empty() && report.constant_lr > 0) {
    lr.assign(x.size(), report.constant_lr);
    lr_title += " (constant: no schedule)";
  }
  if (!lr.empty()) {
    html += svg_line_plot({{"lr", x, std::move(lr)}}, {.title = lr_title, .y_label = "lr"});
  }
  html += "</div>\n";
  if (metrics.column("val_loss").empty()) {
    html += muted("No validation curves: the run had no validation data (--validation-split).");
  }
  return html + "</section>\n";
}

// One curve per layer: the L2 norm of all its parameters together (sqrt of the sum of their
// squared norms), for the weights and for the epoch-mean gradient norms.
std::string norms_section(const HtmlReport& report) {
  std::string html = "<section id=\"norms\">\n<h2>Weight and gradient norms per layer</h2>\n";
  if (report.norms.empty()) {
    return html +
           muted(
               "No norms.csv: the run did not record norms (nabla train --out records them "
               "with the NormLogger callback).") +
           "</section>\n";
  }
  std::vector<std::string> layers;
  std::map<std::string, std::map<int64_t, std::pair<double, double>>> squares;  // layer, epoch
  std::map<std::string, std::map<int64_t, bool>> has_grad;
  for (const NormRecord& r : report.norms) {
    if (std::find(layers.begin(), layers.end(), r.layer) == layers.end()) layers.push_back(r.layer);
    auto& [weights, grads] = squares[r.layer][r.epoch];
    weights += r.weight_norm * r.weight_norm;
    if (std::isfinite(r.grad_norm)) {
      grads += r.grad_norm * r.grad_norm;
      has_grad[r.layer][r.epoch] = true;
    }
  }
  std::vector<Series> weights, grads;
  for (const std::string& layer : layers) {
    Series w{layer, {}, {}}, g{layer, {}, {}};
    for (const auto& [epoch, sums] : squares[layer]) {
      w.x.push_back(static_cast<double>(epoch + 1));
      w.y.push_back(std::sqrt(sums.first));
      g.x.push_back(static_cast<double>(epoch + 1));
      g.y.push_back(has_grad[layer][epoch] ? std::sqrt(sums.second) : NAN);
    }
    weights.push_back(std::move(w));
    grads.push_back(std::move(g));
  }
  html += "<div class=\"plots\">\n";
  html += svg_line_plot(weights,
                        {.title = "weight norm per layer", .y_label = "L2 norm", .log_y = true});
  html += svg_line_plot(grads, {.title = "gradient norm per layer (mean over batches)",
                                .y_label = "L2 norm",
                                .log_y = true});
  html += "</div>\n";
  return html + "</section>\n";
}

}  // namespace

std::string render_html_report(const HtmlReport& report) {
  const std::string title = "nabla report: " + report.title;
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // No favicon request: the page asks for nothing beyond itself.
      "<link rel=\"icon\" href=\"data:,\">\n<title>" +
      html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
      html_escape(title) + "</h1>\n";
  for (const std::string& note : report.notes) {
    html += "<p class=\"note\">" + html_escape(note) + "</p>\n";
  }

  html += "<section id=\"settings\">\n<h2>Command and settings</h2>\n" + table(report.settings) +
          "</section>\n";
  html += "<section id=\"model\">\n<h2>Model</h2>\n<pre>" + html_escape(report.summary) +
          "</pre>\n</section>\n";
  html += "<section id=\"results\">\n<h2>Test results</h2>\n" +
          (report.results.empty() ? muted("No test results.") : table(report.results)) +
          "</section>\n";
  html += curves_section(report);
  html += norms_section(report);

  html += "<section id=\"confusion\">\n<h2>Confusion matrix (test set)</h2>\n";
  if (report.confusion.empty()) {
    html += muted("Not a classifier: no confusion matrix.");
  } else {
    html +=
        "<p class=\"muted\">Rows: true class; columns: predicted class; shade: share of the "
        "row.</p>\n" +
        svg_confusion_matrix(report.confusion, report.class_names);
  }
  html += "</section>\n";

  html += "<section id=\"misclassified\">\n<h2>Most confidently misclassified test images</h2>\n";
  if (report.misclassified.defined() && report.misclassified.numel() > 0) {
    html +=
        "<p class=\"muted\">Green: the true label; red: the prediction and its "
        "probability.</p>\n" +
        svg_image_grid(report.misclassified, report.misclassified_captions, 8, 4);
  } else {
    html += muted(report.confusion.empty()
                      ? "Not an image classifier."
                      : "No test image to show: the inputs are not images, or none was "
                        "misclassified.");
  }
  html += "</section>\n";

  if (!report.samples.empty()) {
    html += "<section id=\"samples\">\n<h2>Sample generations</h2>\n";
    for (const auto& [prompt, continuation] : report.samples) {
      html += "<pre><b>" + html_escape(prompt) + "</b>" + html_escape(continuation) + "</pre>\n";
    }
    html += "</section>\n";
  }
  return html + "</body>\n</html>\n";
}

void write_html_report(const std::string& path, const HtmlReport& report) {
  data::write_file_atomic(path, render_html_report(report), "report");
}

}  // namespace nabla::train
