// Seeing a run without TensorBoard: the NormLogger callback (per-parameter weight and gradient
// norms each epoch, as a CSV file) and one self-contained HTML page per run (inline SVG plots and
// PNG pictures as data: URIs, no script, nothing fetched), which any browser opens. The page is
// built from plain data (HtmlReport), so that a run in memory and a run folder read back give the
// same page; nabla::tasks::write_report fills it from a run folder.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nabla/tensor.hpp"
#include "nabla/train.hpp"

namespace nabla::train {

// ---- NormLogger (src/train/norm_logger.cpp) ----
// Writes, after every epoch, one CSV row per parameter:
//   epoch,layer,parameter,weight_norm,grad_norm
// epoch counts from 0 (as CSVLogger's), layer is the top-level layer the parameter belongs to
// (Keras's name for a Sequential's layers: dense, dense_1; a graph model's node name), parameter
// its full name ("2.weight"). weight_norm is the L2 norm of the parameter at the end of the epoch;
// grad_norm the mean over the epoch's batches of the L2 norm of its gradient (read in
// on_batch_end, after the optimizer step and before the next zero_grad), "NA" when it never had
// one (a frozen parameter). The whole file is rewritten atomically each epoch.
class NormLogger : public Callback {
 public:
  explicit NormLogger(std::string filename);
  void on_train_begin() override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  // Full checkpoints: every finished epoch's norms and the running gradient sums, so that a
  // resumed run writes the same norms.csv as one that never stopped.
  void save_state(std::map<std::string, double>& values) const override;
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;

 private:
  void write_file() const;
  struct Parameter {
    std::string layer;
    std::string name;
    Tensor tensor;
    double grad_norm_sum = 0;
    int64_t grad_count = 0;
  };
  std::string filename_;
  std::vector<Parameter> parameters_;
  std::string content_;
  // (epoch, weight norm, gradient norm) of every finished epoch, parameter by parameter.
  std::vector<std::vector<std::array<double, 3>>> rows_;
};

// The L2 norm of all of `t`'s elements (any floating dtype, any strides); f32 values are summed in
// float lanes over blocks of 1024 elements and the blocks in double, anything else in double.
double l2_norm(const Tensor& t);

// ---- reading a run's CSV files (src/train/run_csv.cpp) ----
// A file written by CSVLogger: its columns after "epoch" and one row of values per epoch ("NA"
// and unparsable cells become NaN). Errors name the file and what was expected (a header starting
// with "epoch", as many cells in each row as in the header).
struct MetricsTable {
  std::vector<std::string> columns;  // without "epoch"
  std::vector<double> epochs;
  std::vector<std::vector<double>> values;  // [column][row]
  // The values of `name`; empty when the column is absent.
  std::vector<double> column(const std::string& name) const;
};
MetricsTable read_metrics_csv(const std::string& path);

// A file written by NormLogger, one entry per row.
struct NormRecord {
  int64_t epoch = 0;
  std::string layer;
  std::string parameter;
  double weight_norm = 0;
  double grad_norm = 0;  // NaN when "NA"
};
std::vector<NormRecord> read_norms_csv(const std::string& path);

// ---- SVG pictures (src/train/svg_plot.cpp, src/train/svg_figures.cpp) ----
// One curve of a line plot: points (x[i], y[i]); non-finite y values leave a gap.
struct Series {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;  // validation curves are drawn dashed beside their training curve
};
struct LinePlotOptions {
  std::string title{};
  std::string x_label = "epoch";
  std::string y_label{};
  bool log_y = false;  // log10 scale (only when every finite value is > 0; else linear)
  int width = 560;
  int height = 320;
};
// An <svg class="plot"> with axes, ticks, a legend and, per series, a <polyline class="series"
// data-name="NAME"> through its points (and a <circle> at each, so that a one-epoch run shows).
// The axis ranges are on the svg element as data-x-min, data-x-max, data-y-min, data-y-max (in
// log10 units when the y axis is logarithmic): x spans the data exactly, y the data with 5% room
// above and below (an interval of width 1 around a constant). A point maps to
//   px = left + (x - x_min) / (x_max - x_min) * plot_width,
//   py = top + (y_max - y) / (y_max - y_min) * plot_height
// with the plot area given as data-left, data-top, data-plot-width, data-plot-height.
std::string svg_line_plot(const std::vector<Series>& series, const LinePlotOptions& options);

// The confusion matrix [true][predicted] as an <svg class="heatmap">: one <rect class="cell"
// data-true=".." data-predicted=".." data-count=".."> per cell, shaded by the count's share of its
// row (the true class), the count written in it, class names along both axes.
std::string svg_confusion_matrix(const std::vector<std::vector<int64_t>>& confusion,
                                 const std::vector<std::string>& class_names);

// Images with two caption lines each (e.g. the true and the predicted label), as an
// <svg class="image-grid">: rows of `columns` images made with data::image_grid, each row one PNG
// (<image href="data:image/png;base64,...">) shown `scale` times larger, captions under each image.
// `images` is [N, C, H, W] (C = 1 or 3) or [N, H, W], u8 or floating in [0, 1].
struct ImageCaption {
  std::string first;
  std::string second;
};
std::string svg_image_grid(const Tensor& images, const std::vector<ImageCaption>& captions,
                           int64_t columns = 8, int scale = 3);

// "data:image/png;base64,..." for an image write_png takes.
std::string png_data_uri(const Tensor& image);

// ---- the HTML page (src/train/html_report.cpp) ----
struct HtmlReport {
  std::string title;                                          // the model's name
  std::vector<std::pair<std::string, std::string>> settings;  // the run's command and settings
  std::string summary;                                        // Model::summary()
  std::vector<std::pair<std::string, std::string>> results;   // test figures, as printed
  MetricsTable metrics;                                       // metrics.csv
  // Learning rate per epoch when the logs had none ("lr" is logged with a schedule only): the
  // optimizer's constant rate, drawn flat over the epochs of `metrics`. <= 0: unknown.
  double constant_lr = 0;
  std::vector<NormRecord> norms;  // norms.csv; empty: the section says it was not recorded
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]; empty: not a classifier
  std::vector<std::string> class_names;
  // The most confidently misclassified test images with captions (true, predicted + p).
  Tensor misclassified;
  std::vector<ImageCaption> misclassified_captions;
  std::vector<std::pair<std::string, std::string>> samples;  // text models: prompt, continuation
  std::vector<std::string> notes;                            // what could not be shown and why
};
// The page: sections Settings, Model, Results, Training curves (loss and each metric, training
// and validation, then the learning rate), Weight and gradient norms (one curve per layer, log
// scale), Confusion matrix, Misclassified test images, Samples; a section without data says so.
// Every section is an element <section id="settings|model|results|curves|norms|confusion|
// misclassified"> (and "samples" when there are some). Text is HTML-escaped.
std::string render_html_report(const HtmlReport& report);
// render_html_report written to `path` atomically.
void write_html_report(const std::string& path, const HtmlReport& report);

// Text escaped for HTML and SVG text and attribute values (& < > " ').
std::string html_escape(const std::string& text);

}  // namespace nabla::train
