// Task "hopfield": a Hopfield network (nn::Hopfield) that stores binarized Fashion-MNIST images
// and recalls them from corrupted copies, and a capacity sweep on random patterns.
//
// The data: `patterns` training images (the layer's key; one of each class in turn, so they
// differ as much as the data set allows), as +-1 pixels (a byte > 127 is +1). The training part
// is those patterns, stored in one step by the layer's rule; the test part is the same patterns
// with 10% of their pixels flipped (fixed seed) as inputs and the patterns themselves as targets,
// so the test loss is the recall error and the judge counts the images recalled exactly.
//
// The capacity sweep is the classical experiment: P random +-1 patterns in N = 784 units, P/N
// from 0.02 to 0.50, each stored pattern (up to 50 per point) started with 10% of its bits flipped
// and updated asynchronously until it settles; the share recalled exactly and the share of bits
// right, for the Hebbian and the Storkey rule. The Hebbian network's recall collapses near
// P = 0.138 N (Amit, Gutfreund and Sompolinsky 1985); Storkey's rule holds more. With --out:
// capacity.svg (the curves) and recall.png (originals, corrupted inputs, Hebbian and Storkey
// recall).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "nabla/data.hpp"
#include "nabla/energy.hpp"
#include "nabla/ops.hpp"
#include "nabla/report.hpp"
#include "nabla/tasks.hpp"
#include "tasks/own_loop.hpp"

namespace nabla::tasks {
namespace {

constexpr int64_t kHopfieldUnits = 784;  // the capacity sweep's N: a 28 x 28 image's pixels
constexpr double kHopfieldFlipShare = 0.10;
constexpr uint64_t kHopfieldNoiseSeed = 0;
constexpr uint64_t kHopfieldPatternSeed = 1;
constexpr int kSweepPoints = 25;  // P/N = 0.02, 0.04, ..., 0.50
constexpr double kSweepStep = 0.02;
constexpr int64_t kProbesPerPoint = 50;
constexpr double kHebbianCapacity = 0.138;
constexpr const char* kCapacityFile = "capacity.svg";
constexpr const char* kRecallFile = "recall.png";

nn::Hopfield* find_hopfield(nn::Module& module) {
  if (auto* hopfield = dynamic_cast<nn::Hopfield*>(&module)) return hopfield;
  for (const auto& [name, child] : module.named_children()) {
    if (nn::Hopfield* found = find_hopfield(*child)) return found;
  }
  return nullptr;
}

nn::Hopfield& hopfield_of(const train::Model& model) {
  nn::Hopfield* hopfield = find_hopfield(model.module());
  NABLA_CHECK(hopfield != nullptr, "the hopfield task needs a model with a Hopfield layer, e.g. ",
              "{\"type\": \"Hopfield\", \"rule\": \"storkey\", \"patterns\": 10}");
  return *hopfield;
}

// Copies of +-1 patterns [P, N] with exactly round(share * N) units of each flipped.
Tensor flip_units(const Tensor& patterns, double share, uint64_t seed) {
  Tensor out = patterns.to(DType::f32).contiguous().clone();
  const int64_t n = out.size(1);
  const auto flips = static_cast<int64_t>(std::llround(share * static_cast<double>(n)));
  Generator gen(seed);
  for (int64_t p = 0; p < out.size(0); ++p) {
    const Tensor order = randperm(n, &gen);
    float* row = out.data<float>() + p * n;
    for (int64_t k = 0; k < flips; ++k) row[order.data<int64_t>()[k]] *= -1.f;
  }
  return out;
}

struct RecallScore {
  double exact = 0;  // share of states equal to their pattern
  double bits = 0;   // share of units equal to their pattern's
};

RecallScore score_recall(const Tensor& recalled, const Tensor& patterns) {
  const Tensor a = recalled.to(DType::f32).contiguous(), b = patterns.to(DType::f32).contiguous();
  const int64_t rows = a.size(0), n = a.size(1);
  int64_t exact = 0, bits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t same = 0;
    for (int64_t i = 0; i < n; ++i)
      same += a.data<float>()[r * n + i] == b.data<float>()[r * n + i];
    exact += same == n;
    bits += same;
  }
  return {static_cast<double>(exact) / static_cast<double>(rows),
          static_cast<double>(bits) / static_cast<double>(rows * n)};
}

struct CapacityCurve {
  std::vector<double> load;  // P / N
  std::vector<RecallScore> hebbian, storkey;
};

// Patterns are stored in order, so each point adds those beyond the last one's to the same
// network: one pass of storing per rule.
std::vector<RecallScore> sweep_rule(const std::string& rule, const Tensor& patterns,
                                    const std::vector<double>& load) {
  nn::HopfieldOptions options;
  options.rule = rule;
  options.units = kHopfieldUnits;
  nn::Hopfield network(options);
  std::vector<RecallScore> scores;
  for (size_t point = 0; point < load.size(); ++point) {
    const auto count =
        static_cast<int64_t>(std::llround(load[point] * static_cast<double>(kHopfieldUnits)));
    network.store(patterns.slice(0, network.stored(), count));
    const Tensor probes = patterns.slice(0, 0, std::min(count, kProbesPerPoint));
    const Tensor start = flip_units(probes, kHopfieldFlipShare, kHopfieldNoiseSeed + point);
    scores.push_back(score_recall(network.forward(start), probes));
  }
  return scores;
}

CapacityCurve capacity_sweep() {
  CapacityCurve curve;
  for (int k = 1; k <= kSweepPoints; ++k) curve.load.push_back(kSweepStep * k);
  const auto most =
      static_cast<int64_t>(std::llround(curve.load.back() * static_cast<double>(kHopfieldUnits)));
  Generator gen(kHopfieldPatternSeed);
  const Tensor patterns =
      sub(bernoulli({most, kHopfieldUnits}, 0.5, DType::f32, &gen) * 2.0, full({}, 1.0));
  curve.hebbian = sweep_rule("hebbian", patterns, curve.load);
  curve.storkey = sweep_rule("storkey", patterns, curve.load);
  return curve;
}

// The largest load at which at least half of the probes were recalled exactly (0: none).
double half_recall_load(const CapacityCurve& curve, const std::vector<RecallScore>& scores) {
  double load = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i].exact >= 0.5) load = curve.load[i];
  }
  return load;
}

Figure hopfield_figure(const std::string& name, double value, const std::string& text) {
  return {name, value, text};
}

// Pictures of +-1 states [P, 784] as [P, 1, 28, 28] in [0, 1], scaled up for the eye.
Tensor hopfield_pictures(const Tensor& states) {
  const Tensor unit = (states.to(DType::f32) + 1.0) * 0.5;
  return upsample(unit.reshape({states.size(0), 1, 28, 28}), 2);
}

std::string capacity_svg(const CapacityCurve& curve) {
  std::vector<train::Series> series;
  const auto add = [&](const std::string& name, const std::vector<RecallScore>& scores, bool bits) {
    train::Series s{name, curve.load, {}, bits};
    for (const RecallScore& score : scores) s.y.push_back(bits ? score.bits : score.exact);
    series.push_back(std::move(s));
  };
  add("Hebbian: recalled exactly", curve.hebbian, false);
  add("Storkey: recalled exactly", curve.storkey, false);
  add("Hebbian: bits right", curve.hebbian, true);
  add("Storkey: bits right", curve.storkey, true);
  series.push_back({"0.138 N", {kHebbianCapacity, kHebbianCapacity}, {0, 1}, false});
  train::LinePlotOptions options;
  options.title = "Hopfield recall, N = 784, 10% of the bits flipped";
  options.x_label = "patterns stored / units (P / N)";
  options.y_label = "share";
  return train::svg_line_plot(series, options);
}

// What a network like the model's, with `rule`, recalls of `inputs` once it stored the patterns.
Tensor recall_with(const std::string& rule, const train::Model& model, const TaskData& data,
                   const Tensor& inputs) {
  nn::HopfieldOptions options = hopfield_of(model).options();
  options.rule = rule;
  nn::Hopfield network(options);
  network.store(data.x_train);
  return network.forward(inputs);
}

class HopfieldTask : public Task {
 public:
  std::string name() const override { return "hopfield"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    NABLA_CHECK(!spec.data, "the hopfield task stores images (IDX files, --data DIR); it cannot ",
                "use the spec's \"data\" section (", spec.data ? spec.data->type : "", ")");
    const nn::Hopfield& hopfield = hopfield_of(model);
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const data::MnistData images = data::load_mnist(folder, true);
    const int64_t pixels = images.train_images.size(1) * images.train_images.size(2);
    const int64_t units = hopfield.units() > 0 ? hopfield.units() : pixels;
    const int64_t count = hopfield.options().patterns;
    NABLA_CHECK(units == pixels, "the hopfield task stores ", pixels, "-pixel images, but the ",
                "Hopfield layer has ", units, " units");
    NABLA_CHECK(count <= units, "the hopfield task cannot store ", count, " patterns in ", units,
                " units: a Hopfield network holds at most as many patterns as units (the ",
                hopfield.options().rule, " rule recalls far fewer, about ",
                hopfield.options().rule == "hebbian" ? "0.138" : "0.25", " N); give the layer ",
                "\"patterns\" <= ", units);
    // One image of each class in turn: the k-th pattern is the (k / 10)-th image of class k % 10.
    const Tensor labels = images.train_labels.to(DType::i64).contiguous();
    const Tensor raw = images.train_images.contiguous();
    std::vector<int64_t> seen(10, 0);
    Tensor patterns = empty({count, pixels});
    for (int64_t k = 0; k < count; ++k) {
      const int64_t label = k % 10;
      int64_t found = -1, matches = 0;
      for (int64_t i = 0; i < labels.numel() && found < 0; ++i) {
        if (labels.data<int64_t>()[i] == label && matches++ == seen[label]) found = i;
      }
      NABLA_CHECK(found >= 0, "the hopfield task needs ", seen[label] + 1,
                  " training images of class ", label, " in ", folder);
      ++seen[label];
      const uint8_t* image = raw.data<uint8_t>() + found * pixels;
      for (int64_t i = 0; i < pixels; ++i)
        patterns.data<float>()[k * pixels + i] = image[i] > 127 ? 1.f : -1.f;
    }
    TaskData out;
    out.x_train = patterns;
    out.y_train = patterns;
    out.x_test = flip_units(patterns, kHopfieldFlipShare, kHopfieldNoiseSeed);
    out.y_test = patterns;
    out.source = folder;
    out.dir = folder;
    return out;
  }

  // One "epoch": the patterns stored by the layer's rule. Logged: the recall error of the
  // patterns themselves (0 when each is a fixed point).
  train::History train(train::Model& model, const TaskData& data,
                       const train::FitOptions& fit) const override {
    internal::OwnLoop loop(model, fit, "the hopfield task");
    nn::Hopfield& hopfield = hopfield_of(model);
    loop.epoch_begin(0);
    hopfield.clear();
    hopfield.store(data.x_train);
    train::Logs logs;
    const Tensor recalled = hopfield.forward(data.x_train);
    logs.set("loss", mean(square(sub(recalled, data.x_train))).item());
    logs.set("stable_patterns", score_recall(recalled, data.x_train).exact);
    loop.batch_end(0, logs);
    loop.epoch_end(0, logs);
    return loop.finish();
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const std::string rule = hopfield_of(model).options().rule;
    const std::string other = rule == "hebbian" ? "storkey" : "hebbian";
    const RecallScore images = score_recall(model.predict(data.x_test, 256), data.y_test);
    const RecallScore other_images =
        score_recall(recall_with(other, model, data, data.x_test), data.y_test);
    curve_ = capacity_sweep();
    const double hebbian = half_recall_load(*curve_, curve_->hebbian);
    const double storkey = half_recall_load(*curve_, curve_->storkey);
    // The bits right just before and after the classical capacity: 0.12 N and 0.16 N.
    const auto at = [&](const std::vector<RecallScore>& scores, double load) -> double {
      for (size_t i = 0; i < curve_->load.size(); ++i) {
        if (std::abs(curve_->load[i] - load) < 1e-9) return scores[i].bits;
      }
      return NAN;
    };
    const auto stored = static_cast<long long>(data.x_train.size(0));
    char text[4][220];
    std::snprintf(text[0], sizeof(text[0]),
                  "Images recalled exactly (%s rule, %lld stored, 10%% of pixels flipped): %.4f",
                  rule.c_str(), stored, images.exact);
    std::snprintf(text[1], sizeof(text[1]), "Images recalled exactly by the %s rule instead: %.4f",
                  other.c_str(), other_images.exact);
    std::snprintf(text[2], sizeof(text[2]),
                  "Hebbian: half recalled exactly up to P/N = %.2f; bits right at 0.12 N %.4f, "
                  "at 0.16 N %.4f (collapse near 0.138 N)",
                  hebbian, at(curve_->hebbian, 0.12), at(curve_->hebbian, 0.16));
    std::snprintf(text[3], sizeof(text[3]),
                  "Storkey: half recalled exactly up to P/N = %.2f; bits right at 0.16 N %.4f",
                  storkey, at(curve_->storkey, 0.16));
    return {hopfield_figure("images_recalled", images.exact, text[0]),
            hopfield_figure("images_recalled_" + other, other_images.exact, text[1]),
            hopfield_figure("hebbian_capacity", hebbian, text[2]),
            hopfield_figure("storkey_capacity", storkey, text[3])};
  }

  void write_outputs(const io::ModelSpec&, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    if (!curve_) curve_ = capacity_sweep();
    data::write_file_atomic((std::filesystem::path(dir) / kCapacityFile).string(),
                            capacity_svg(*curve_), "capacity plot");
    // Originals, corrupted inputs, then the recall of a Hebbian and a Storkey network.
    const int64_t shown = std::min<int64_t>(10, data.x_train.size(0));
    std::vector<Tensor> rows = {hopfield_pictures(data.y_test.slice(0, 0, shown)),
                                hopfield_pictures(data.x_test.slice(0, 0, shown))};
    for (const char* rule : {"hebbian", "storkey"}) {
      rows.push_back(
          hopfield_pictures(recall_with(rule, model, data, data.x_test.slice(0, 0, shown))));
    }
    const auto path = std::filesystem::path(dir) / kRecallFile;
    data::write_png(path.string(), data::image_grid(concat(rows, 0), shown));
  }

 private:
  mutable std::optional<CapacityCurve> curve_;  // judge's sweep, drawn by write_outputs
};

const bool kHopfieldRegistered =
    register_task("hopfield", [] { return std::make_unique<HopfieldTask>(); });

}  // namespace
}  // namespace nabla::tasks
