// Task "rbm": a Bernoulli-Bernoulli restricted Boltzmann machine (nn::RBM) on binarized
// Fashion-MNIST (a byte > 127 is 1), trained by contrastive divergence: CD-k, or persistent CD
// with the layer's "persistent": true; the CD gradient goes through the spec's optimizer.
//
// Judged by the test reconstruction error (the test loss: the model's output is the mean-field
// reconstruction p(v | p(h | v))), the pseudo-log-likelihood per test image (exact over all 784
// pixels, on the first 1,000 test images), and by what its features are worth: a softmax
// classifier trained on the hidden probabilities p(h | v) against the same classifier trained on
// the binarized pixels themselves (same optimizer, epochs and seed). With --out: filters.png (the
// weights of the first 100 hidden units as images) and samples.png (Gibbs chains started from
// ten test images, one per row, after 0, 1, 10, 100 and 1,000 steps in the columns).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "nabla/data.hpp"
#include "nabla/energy.hpp"
#include "nabla/layers.hpp"
#include "nabla/ops.hpp"
#include "nabla/tasks.hpp"
#include "tasks/own_loop.hpp"

namespace nabla::tasks {
namespace {

constexpr int64_t kLikelihoodImages = 1000;      // pseudo-likelihood: D free energies per image
constexpr int64_t kEpochLikelihoodImages = 250;  // the per-epoch log's: a cheaper estimate
constexpr int64_t kClassifierEpochs = 10;
constexpr int64_t kClassifierBatch = 128;
constexpr uint64_t kClassifierSeed = 0;
constexpr int64_t kFiltersShown = 100;
constexpr uint64_t kChainSeed = 0;
constexpr const char* kFiltersFile = "filters.png";
constexpr const char* kSamplesFile = "samples.png";

nn::RBM* find_rbm(nn::Module& module) {
  if (auto* rbm = dynamic_cast<nn::RBM*>(&module)) return rbm;
  for (const auto& [name, child] : module.named_children()) {
    if (nn::RBM* found = find_rbm(*child)) return found;
  }
  return nullptr;
}

nn::RBM& rbm_of(const train::Model& model) {
  nn::RBM* rbm = find_rbm(model.module());
  NABLA_CHECK(rbm != nullptr, "the rbm task needs a model with an RBM layer, e.g. ",
              "{\"type\": \"RBM\", \"units\": 256}");
  return *rbm;
}

// Bytes [N, H, W] as [N, H * W] of {0, 1}.
Tensor binarized(const Tensor& images) {
  const Tensor raw = images.contiguous();
  const int64_t count = raw.size(0), pixels = raw.numel() / std::max<int64_t>(count, 1);
  Tensor out = empty({count, pixels});
  const uint8_t* p = raw.data<uint8_t>();
  float* q = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) q[i] = p[i] > 127 ? 1.f : 0.f;
  return out;
}

// Test accuracy of softmax regression trained on `train_x` (features) for the labels.
double linear_probe(const Tensor& train_x, const Tensor& train_y, const Tensor& test_x,
                    const Tensor& test_y) {
  manual_seed(kClassifierSeed);
  train::Model classifier({layers::Dense(10, "softmax")}, "softmax_regression");
  classifier.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  classifier.fit(train_x, train_y,
                 {.epochs = kClassifierEpochs,
                  .batch_size = kClassifierBatch,
                  .verbose = 0,
                  .seed = kClassifierSeed});
  return classifier.evaluate(test_x, test_y, 256, 0)["accuracy"];
}

// Each of `images` [N, 784] scaled to [0, 1] on its own (filters have any sign), as
// [N, 1, 28, 28] pictures scaled up for the eye.
Tensor rbm_pictures(const Tensor& images) {
  Tensor out = images.to(DType::f32).contiguous().clone();
  const int64_t n = out.size(0), size = out.size(1);
  for (int64_t r = 0; r < n; ++r) {
    float* row = out.data<float>() + r * size;
    const auto [low, high] = std::minmax_element(row, row + size);
    const float lo = *low, range = std::max(*high - *low, 1e-12f);
    for (int64_t i = 0; i < size; ++i) row[i] = (row[i] - lo) / range;
  }
  return upsample(out.reshape({n, 1, 28, 28}), 2);
}

Figure rbm_figure(const std::string& name, double value, const char* format) {
  char text[160];
  std::snprintf(text, sizeof(text), format, value);
  return {name, value, text};
}

class RBMTask : public Task {
 public:
  std::string name() const override { return "rbm"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    NABLA_CHECK(!spec.data, "the rbm task reads images (IDX files, --data DIR); it cannot use ",
                "the spec's \"data\" section (", spec.data ? spec.data->type : "", ")");
    const nn::RBM& rbm = rbm_of(model);
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const data::MnistData images = data::load_mnist(folder, true);
    TaskData out;
    out.x_train = binarized(images.train_images);
    out.x_test = binarized(images.test_images);
    NABLA_CHECK(rbm.in_features() <= 0 || rbm.in_features() == out.x_train.size(1),
                "the rbm task's images have ", out.x_train.size(1), " pixels, but the RBM layer ",
                "takes ", rbm.in_features());
    out.y_train = out.x_train;  // the reconstruction targets
    out.y_test = out.x_test;
    out.source = folder;
    out.dir = folder;
    train_labels_ = images.train_labels.to(DType::i64);
    test_labels_ = images.test_labels.to(DType::i64);
    return out;
  }

  // CD-k (or PCD-k) on shuffled batches; the optimizer applies the CD gradient. Logged per
  // epoch: the mean reconstruction error of the batches ("loss") and the pseudo-log-likelihood
  // of the first 250 training images.
  train::History train(train::Model& model, const TaskData& data,
                       const train::FitOptions& fit) const override {
    internal::OwnLoop loop(model, fit, "the rbm task");
    nn::RBM& rbm = rbm_of(model);
    rbm.reset_chains();
    optim::Optimizer& optimizer = model.optimizer();
    const int64_t count = data.x_train.size(0);
    const int64_t batch = std::max<int64_t>(1, std::min(fit.batch_size, count));
    Generator gen(fit.seed);
    for (int64_t epoch = 0; epoch < fit.epochs; ++epoch) {
      loop.epoch_begin(epoch);
      const Tensor order = randperm(count, &gen);
      double error_sum = 0;
      int64_t batches = 0;
      train::Logs logs;
      for (int64_t start = 0; start + batch <= count; start += batch) {
        const Tensor rows = index_select(data.x_train, 0, order.slice(0, start, start + batch));
        optimizer.zero_grad();
        error_sum += rbm.contrastive_divergence(rows, &gen);
        optimizer.step();
        logs.set("loss", error_sum / static_cast<double>(++batches));
        loop.batch_end(batches - 1, logs);
      }
      logs.set("pseudo_log_likelihood", rbm.pseudo_log_likelihood(data.x_train.slice(
                                            0, 0, std::min(count, kLikelihoodImages))));
      loop.epoch_end(epoch, logs);
    }
    return loop.finish();
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const nn::RBM& rbm = rbm_of(model);
    const int64_t count = data.x_train.size(0);
    const Tensor train_y = train_labels_.slice(0, 0, count);
    const double likelihood = rbm.pseudo_log_likelihood(
        data.x_test.slice(0, 0, std::min(data.x_test.size(0), kLikelihoodImages)));
    Tensor train_features, test_features;
    {
      NoGradGuard no_grad;
      train_features = rbm.hidden_probabilities(data.x_train);
      test_features = rbm.hidden_probabilities(data.x_test);
    }
    const double features = linear_probe(train_features, train_y, test_features, test_labels_);
    const double pixels = linear_probe(data.x_train, train_y, data.x_test, test_labels_);
    return {rbm_figure("pseudo_log_likelihood", likelihood,
                       "Test pseudo-log-likelihood per image: %.2f nats"),
            rbm_figure("rbm_features_accuracy", features,
                       "Softmax classifier on the RBM's hidden features, test accuracy: %.4f"),
            rbm_figure("raw_pixels_accuracy", pixels,
                       "Softmax classifier on the binarized pixels, test accuracy: %.4f")};
  }

  void write_outputs(const io::ModelSpec&, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    const nn::RBM& rbm = rbm_of(model);
    const int64_t filters = std::min(kFiltersShown, rbm.options().units);
    data::write_png((std::filesystem::path(dir) / kFiltersFile).string(),
                    data::image_grid(rbm_pictures(rbm.weight().slice(0, 0, filters)), 10));
    // Ten chains, one per row, started from the first test image of each class present.
    std::vector<int64_t> starts;
    const Tensor labels = test_labels_.contiguous();
    for (int64_t c = 0; c < 10; ++c) {
      for (int64_t i = 0; i < std::min(labels.numel(), data.x_test.size(0)); ++i) {
        if (labels.data<int64_t>()[i] == c) {
          starts.push_back(i);
          break;
        }
      }
    }
    if (starts.empty()) return;
    Tensor state = index_select(data.x_test, 0, from_vector(starts));
    Generator gen(kChainSeed);
    std::vector<Tensor> columns = {state};
    int64_t done = 0;
    for (const int64_t steps : {1, 10, 100, 1000}) {
      state = rbm.gibbs(state, steps - done, &gen);
      done = steps;
      columns.push_back(state);
    }
    // Rows of chains: chain c's pictures at each step count side by side.
    const int64_t chains = state.size(0), shown = static_cast<int64_t>(columns.size());
    const Tensor stacked = stack(columns, 1).reshape({chains * shown, state.size(1)});
    data::write_png((std::filesystem::path(dir) / kSamplesFile).string(),
                    data::image_grid(rbm_pictures(stacked), shown));
  }

 private:
  mutable Tensor train_labels_, test_labels_;  // the classifier's labels, set by load
};

const bool kRBMRegistered = register_task("rbm", [] { return std::make_unique<RBMTask>(); });

}  // namespace
}  // namespace nabla::tasks
