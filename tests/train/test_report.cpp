// The run report's pieces: the SVG line plot (points and axis ranges), the confusion heat map,
// captioned image grids, the NormLogger callback against norms computed by hand, reading the
// run's CSV files back, and the page holding every section.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "data/test_util.hpp"
#include "nabla/report.hpp"

namespace nabla::train {
namespace {

namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// The value of attribute `name` on the first element that has it.
double attribute(const std::string& svg, const std::string& name) {
  std::smatch match;
  EXPECT_TRUE(std::regex_search(svg, match, std::regex(" " + name + "=\"([^\"]*)\"")))
      << name << " missing";
  return std::stod(match[1]);
}

// The points of every polyline named `name`, in order.
std::vector<std::pair<double, double>> points_of(const std::string& svg, const std::string& name) {
  std::vector<std::pair<double, double>> points;
  const std::regex polyline("<polyline class=\"series\" data-name=\"" + name +
                            "\"[^>]* points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    std::stringstream list((*it)[1].str());
    std::string point;
    while (list >> point) {
      const size_t comma = point.find(',');
      points.emplace_back(std::stod(point.substr(0, comma)), std::stod(point.substr(comma + 1)));
    }
  }
  return points;
}

TEST(SvgLinePlot, PolylineHoldsTheDataPointsOnTheAxisRanges) {
  const std::string svg = svg_line_plot({{"training loss", {1, 2, 3}, {1.0, 3.0, 2.0}},
                                         {"validation loss", {1, 2, 3}, {2, 2.5, 1.5}, true}},
                                        {.title = "loss", .y_label = "loss"});
  // x spans the data exactly; y from 1 to 3 with 5% of the span (0.1) above and below.
  EXPECT_DOUBLE_EQ(attribute(svg, "data-x-min"), 1);
  EXPECT_DOUBLE_EQ(attribute(svg, "data-x-max"), 3);
  EXPECT_NEAR(attribute(svg, "data-y-min"), 0.9, 1e-9);
  EXPECT_NEAR(attribute(svg, "data-y-max"), 3.1, 1e-9);
  const double left = attribute(svg, "data-left"), top = attribute(svg, "data-top");
  const double width = attribute(svg, "data-plot-width"),
               height = attribute(svg, "data-plot-height");
  EXPECT_EQ(left, 64);
  EXPECT_EQ(top, 30);
  EXPECT_GT(width, 300);  // the legend takes the rest
  EXPECT_EQ(height, 320 - 30 - 42);
  const auto points = points_of(svg, "training loss");
  ASSERT_EQ(points.size(), 3u);
  const double xs[] = {1, 2, 3}, ys[] = {1, 3, 2};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(points[i].first, left + (xs[i] - 1) / 2 * width, 0.01) << i;
    EXPECT_NEAR(points[i].second, top + (3.1 - ys[i]) / 2.2 * height, 0.01) << i;
  }
  EXPECT_EQ(points_of(svg, "validation loss").size(), 3u);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // validation is dashed
  EXPECT_EQ(count_of(svg, "<circle"), 6u);
  EXPECT_NE(svg.find(">validation loss</text>"), std::string::npos);  // the legend
}

TEST(SvgLinePlot, NonFiniteValuesLeaveAGapAndLogScaleUsesLog10Units) {
  const std::string gap = svg_line_plot({{"acc", {1, 2, 3, 4}, {0.5, NAN, 0.7, 0.8}}}, {});
  EXPECT_EQ(count_of(gap, "<polyline"), 2u);
  EXPECT_EQ(points_of(gap, "acc").size(), 3u);

  const std::string log = svg_line_plot({{"norm", {1, 2}, {1, 1000}}}, {.log_y = true});
  EXPECT_EQ(attribute(log, "data-log-y"), 1);
  EXPECT_NEAR(attribute(log, "data-y-min"), -0.15, 1e-9);  // log10: 0 to 3, 5% room
  EXPECT_NEAR(attribute(log, "data-y-max"), 3.15, 1e-9);
  // A value <= 0 cannot be drawn on a log scale: the plot falls back to linear.
  EXPECT_EQ(attribute(svg_line_plot({{"g", {1, 2}, {0, 2}}}, {.log_y = true}), "data-log-y"), 0);
  // One epoch, a constant: one point, and room of 10% around the value.
  const std::string one = svg_line_plot({{"lr", {1}, {0.001}}}, {});
  EXPECT_EQ(points_of(one, "lr").size(), 1u);
  EXPECT_NEAR(attribute(one, "data-y-min"), 0.0009, 1e-12);
  EXPECT_NEAR(attribute(one, "data-y-max"), 0.0011, 1e-12);
  EXPECT_NE(svg_line_plot({}, {}).find("no data"), std::string::npos);
  EXPECT_THROW(svg_line_plot({{"bad", {1, 2}, {1}}}, {}), Error);
}

TEST(SvgConfusionMatrix, OneCellPerPairWithCountsAndEscapedClassNames) {
  const std::string svg = svg_confusion_matrix({{5, 1}, {0, 3}}, {"cat", "<dog & co>"});
  EXPECT_EQ(count_of(svg, "<rect class=\"cell\""), 4u);
  EXPECT_NE(svg.find("data-true=\"0\" data-predicted=\"1\" data-count=\"1\""), std::string::npos);
  EXPECT_NE(svg.find("data-true=\"1\" data-predicted=\"1\" data-count=\"3\""), std::string::npos);
  EXPECT_NE(svg.find("&lt;dog &amp; co&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<dog"), std::string::npos);
  EXPECT_THROW(svg_confusion_matrix({{1, 2}}, {"a"}), Error);
  EXPECT_THROW(svg_confusion_matrix({{1}}, {"a", "b"}), Error);
}

TEST(SvgImageGrid, OnePngPerRowWithTwoCaptionsPerImage) {
  const Tensor images = full({5, 1, 4, 4}, 0.5);
  std::vector<ImageCaption> captions(5, {"Shirt", "Coat (93%)"});
  const std::string svg = svg_image_grid(images, captions, 3, 2);
  EXPECT_EQ(count_of(svg, "<image "), 2u);                                   // rows of 3 and 2
  EXPECT_EQ(count_of(svg, "href=\"data:image/png;base64,iVBORw0KGgo"), 2u);  // PNG signature
  EXPECT_EQ(count_of(svg, ">Shirt</text>"), 5u);
  EXPECT_EQ(count_of(svg, ">Coat (93%)</text>"), 5u);
  EXPECT_THROW(svg_image_grid(images, {}, 3, 2), Error);
}

TEST(HtmlEscape, EscapesMarkupCharacters) {
  EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

// A Dense(1) layer on two samples, trained with plain SGD one sample per batch: every norm is
// worked out by hand below.
TEST(NormLogger, WeightAndMeanGradientNormsMatchAHandComputation) {
  const nabla::testing::TempDir temp;
  const std::string dir = temp.path().string();
  const std::string path = (fs::path(dir) / "norms.csv").string();
  Model model({layers::Dense(1)});
  model.build({2});
  {
    NoGradGuard no_grad;
    for (auto& [name, p] : model.module().named_parameters()) {
      p.copy_(name.ends_with("weight") ? from_vector(std::vector<float>{0.5f, -1.0f}, p.shape())
                                       : from_vector(std::vector<float>{0.25f}, p.shape()));
    }
  }
  model.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = 0.01}), "mse");
  const Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  const Tensor y = from_vector(std::vector<float>{1, 2}, {2, 1});
  model.fit(x, y,
            {.epochs = 1,
             .batch_size = 1,
             .shuffle = false,
             .verbose = 0,
             .callbacks = {std::make_shared<NormLogger>(path)}});

  // Batch 1, x = (1, 2), y = 1: prediction 0.5 - 2 + 0.25 = -1.25, dL/dpred = 2 (pred - y) = -4.5,
  // so grad w = -4.5 * (1, 2) and grad b = -4.5. SGD: w = (0.545, -0.91), b = 0.295.
  // Batch 2, x = (3, 4), y = 2: prediction 1.635 - 3.64 + 0.295 = -1.71, dL/dpred = -7.42,
  // grad w = -7.42 * (3, 4), grad b = -7.42. SGD: w = (0.7676, -0.6132), b = 0.3692.
  const double grad_w = (4.5 * std::sqrt(5.0) + 7.42 * 5) / 2;
  const double grad_b = (4.5 + 7.42) / 2;
  const double weight = std::hypot(0.7676, -0.6132);
  const std::vector<NormRecord> records = read_norms_csv(path);
  ASSERT_EQ(records.size(), 2u);
  for (const NormRecord& r : records) {
    EXPECT_EQ(r.epoch, 0);
    EXPECT_EQ(r.layer, "dense");
    const bool is_weight = r.parameter.ends_with("weight");
    EXPECT_NEAR(r.weight_norm, is_weight ? weight : 0.3692, 1e-5) << r.parameter;
    EXPECT_NEAR(r.grad_norm, is_weight ? grad_w : grad_b, 1e-4) << r.parameter;
  }
  EXPECT_TRUE(nabla::testing::read_bytes(path).starts_with(
      "epoch,layer,parameter,weight_norm,grad_norm\n"));
}

TEST(NormLogger, L2NormOfStridedAndDoubleTensors) {
  const Tensor t = from_vector(std::vector<double>{3, 0, 0, 4}, {2, 2});
  EXPECT_DOUBLE_EQ(l2_norm(t), 5);
  EXPECT_DOUBLE_EQ(l2_norm(t.to(DType::f32).transpose(0, 1)), 5);
  // 19 elements: the vectorized lanes and the remainder both count.
  EXPECT_NEAR(l2_norm(full({19}, 2.0)), std::sqrt(19.0 * 4), 1e-6);
  EXPECT_EQ(l2_norm(Tensor{}), 0);
}

TEST(RunCsv, MetricsReadBackWithMissingValuesAndClearErrors) {
  const nabla::testing::TempDir temp;
  const std::string dir = temp.path().string();
  const std::string path = (fs::path(dir) / "metrics.csv").string();
  write_text(path, "epoch,accuracy,loss,val_loss\n0,0.5,1.25,NA\n1,0.75,0.5,0.625\n");
  const MetricsTable table = read_metrics_csv(path);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"accuracy", "loss", "val_loss"}));
  EXPECT_EQ(table.epochs, (std::vector<double>{0, 1}));
  EXPECT_EQ(table.column("loss"), (std::vector<double>{1.25, 0.5}));
  EXPECT_TRUE(std::isnan(table.column("val_loss")[0]));
  EXPECT_TRUE(table.column("absent").empty());

  write_text(path, "step,loss\n0,1\n");
  try {
    read_metrics_csv(path);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("expected a header starting with \"epoch\""),
              std::string::npos);
  }
  write_text(path, "epoch,loss\n0,1,2\n");
  EXPECT_THROW(read_metrics_csv(path), Error);
  EXPECT_THROW(read_metrics_csv((fs::path(dir) / "missing.csv").string()), Error);
  const std::string norms = (fs::path(dir) / "norms.csv").string();
  write_text(norms, "epoch,layer,parameter,weight_norm,grad_norm\n0,dense,0.weight,1.5,NA\n");
  const std::vector<NormRecord> records = read_norms_csv(norms);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].parameter, "0.weight");
  EXPECT_TRUE(std::isnan(records[0].grad_norm));
  write_text(norms, "epoch,layer\n");
  EXPECT_THROW(read_norms_csv(norms), Error);
}

TEST(HtmlReport, HoldsEverySectionWithItsPlots) {
  HtmlReport report;
  report.title = "mlp <test>";
  report.settings = {{"command", "nabla train --out run"}, {"optimizer", "adam"}};
  report.summary = "Model: \"mlp\"\nTotal params: 101,770";
  report.results = {{"test accuracy", "0.8"}};
  report.metrics.columns = {"accuracy", "loss", "val_accuracy", "val_loss"};
  report.metrics.epochs = {0, 1};
  report.metrics.values = {{0.5, 0.7}, {1.2, 0.8}, {0.55, 0.65}, {1.1, 0.9}};
  report.constant_lr = 0.001;
  report.norms = {{0, "dense", "2.weight", 3, 0.5},   {0, "dense", "2.bias", 4, 0.25},
                  {1, "dense", "2.weight", 3.5, 0.4}, {1, "dense", "2.bias", 4, 0.2},
                  {0, "dense_1", "3.weight", 2, NAN}, {1, "dense_1", "3.weight", 2.5, 0.1}};
  report.confusion = {{3, 1}, {2, 4}};
  report.class_names = {"T-shirt/top", "Trouser"};
  report.misclassified = full({2, 4, 4}, 0.25);
  report.misclassified_captions = {{"Trouser", "T-shirt/top (90%)"},
                                   {"T-shirt/top", "Trouser (80%)"}};
  report.samples = {{"In the beginning", " was"}};
  const std::string html = render_html_report(report);
  for (const char* id : {"settings", "model", "results", "curves", "norms", "confusion",
                         "misclassified", "samples"}) {
    EXPECT_NE(html.find("<section id=\"" + std::string(id) + "\">"), std::string::npos) << id;
  }
  EXPECT_NE(html.find("<title>nabla report: mlp &lt;test&gt;</title>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the namespace
  // loss, accuracy, learning rate; weight and gradient norms.
  EXPECT_EQ(count_of(html, "<svg class=\"plot\""), 5u);
  EXPECT_EQ(count_of(html, "data-name=\"training loss\""), 1u);
  EXPECT_EQ(count_of(html, "data-name=\"validation accuracy\""), 1u);
  EXPECT_NE(html.find("learning rate (constant: no schedule)"), std::string::npos);
  // The layer's weight norm: sqrt(3^2 + 4^2) = 5 at epoch 1, as the circle's title says.
  EXPECT_NE(html.find("<title>dense 1: 5</title>"), std::string::npos);
  // dense_1 has no gradient at epoch 1: its gradient curve starts at epoch 2.
  EXPECT_NE(html.find("<title>dense_1 2: 0.1</title>"), std::string::npos);
  EXPECT_EQ(html.find("<title>dense_1 1: nan"), std::string::npos);
  EXPECT_EQ(count_of(html, "<rect class=\"cell\""), 4u);
  EXPECT_NE(html.find(">T-shirt/top (90%)</text>"), std::string::npos);
  EXPECT_NE(html.find("<b>In the beginning</b> was"), std::string::npos);

  // Without norms, a confusion matrix or pictures, the sections say so.
  HtmlReport bare;
  bare.title = "regression";
  bare.metrics.columns = {"loss"};
  bare.metrics.epochs = {0};
  bare.metrics.values = {{0.5}};
  const std::string plain = render_html_report(bare);
  EXPECT_NE(plain.find("did not record norms"), std::string::npos);
  EXPECT_NE(plain.find("Not a classifier"), std::string::npos);
  EXPECT_NE(plain.find("no validation data"), std::string::npos);
  EXPECT_EQ(plain.find("<section id=\"samples\">"), std::string::npos);

  const nabla::testing::TempDir temp;
  const std::string dir = temp.path().string();
  const std::string path = (fs::path(dir) / "report.html").string();
  write_html_report(path, report);
  EXPECT_EQ(nabla::testing::read_bytes(path), html);
}

}  // namespace
}  // namespace nabla::train
