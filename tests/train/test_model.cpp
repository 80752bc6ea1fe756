// The Keras-style Model: fit/evaluate/predict on small synthetic problems, History, metrics
// against hand-computed values, the summary table, the progress bar, softmax + cross-entropy
// from logits, the NaN-loss error, and the callbacks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "../data/test_util.hpp"
#include "nabla/io.hpp"
#include "nabla/train.hpp"
#include "support/weights.hpp"

namespace nabla::train {
namespace {

namespace fs = std::filesystem;
using nabla::testing::weights_of;

// Three Gaussian blobs in the plane, labels 0..2, shuffled by construction.
struct Blobs {
  Tensor x;
  Tensor y;
};
Blobs make_blobs(int64_t n, uint64_t seed) {
  Generator gen(seed);
  const double centers[3][2] = {{-2, 0}, {2, 0}, {0, 2.5}};
  std::vector<float> x(n * 2);
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(gen.next_u64() % 3);
    y[i] = label;
    x[2 * i] = static_cast<float>(centers[label][0] + 0.5 * gen.next_normal());
    x[2 * i + 1] = static_cast<float>(centers[label][1] + 0.5 * gen.next_normal());
  }
  return {from_vector(x, {n, 2}), from_vector(y, {n})};
}

Model blob_model(const std::string& head_activation = "softmax") {
  manual_seed(7);
  Model model({layers::Dense(16, "relu"), layers::Dense(3, head_activation)});
  model.build({2});
  return model;
}

// predict() runs a batch whose activations would overflow the cache as several forwards (a
// 1.2 MB activation per sample here: forwards of 5 samples); the outputs are those of one forward
// over the whole batch, to rounding: how oneDNN's sgemm splits the second product's 300000-long
// sums between threads depends on its row count on some CPUs (AVX2 EPYC: 2e-9 apart).
TEST(Model, PredictSplitsBatchesTooLargeForTheCache) {
  manual_seed(3);
  Model model({layers::Dense(300000, "relu"), layers::Dense(3)});
  model.build({4});
  const Tensor x = randn({12, 4});
  const Tensor predicted = model.predict(x, 12);
  NoGradGuard no_grad;
  model.module().eval();
  const Tensor whole = model.module().forward(x);
  EXPECT_LE(max(abs(sub(predicted, whole))).item<float>(), 1e-6f * max(abs(whole)).item<float>());
}

// ---- fit / History ----
TEST(Model, FitReachesHighAccuracyOnBlobs) {
  const Blobs train = make_blobs(600, 1), test = make_blobs(300, 2);
  Model model = blob_model();
  model.compile(std::make_unique<optim::Adam>(optim::AdamOptions{.lr = 0.01}),
                "sparse_categorical_crossentropy", {"accuracy"});
  const History history = model.fit(train.x, train.y, {.epochs = 8, .verbose = 0});
  const EvaluationReport report = model.evaluate(test.x, test.y, 64, 0);
  EXPECT_GT(report["accuracy"], 0.95);
  EXPECT_LT(report["loss"], 0.2);
  EXPECT_GT(history["accuracy"].back(), 0.95);
}

// fit, evaluate and predict flush denormals while they run (a callback sees the flag on), and
// leave the caller's setting as they found it.
TEST(Model, FitFlushesDenormalsAndRestoresTheSetting) {
  struct Probe : train::Callback {
    void on_batch_end(int64_t, const train::Logs&) override {
      seen_on = seen_on && flush_denormal();
    }
    bool seen_on = true;
  };
  const Blobs train = make_blobs(64, 1);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  auto probe = std::make_shared<Probe>();
  ASSERT_FALSE(flush_denormal());
  model.fit(train.x, train.y, {.epochs = 1, .verbose = 0, .callbacks = {probe}});
  EXPECT_TRUE(probe->seen_on);
  EXPECT_FALSE(flush_denormal());
  model.evaluate(train.x, train.y, 32, 0);
  model.predict(train.x);
  EXPECT_FALSE(flush_denormal());
}

TEST(Model, HistoryHoldsEveryEpochAndValidationMetrics) {
  const Blobs data = make_blobs(400, 3);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy", "top_2_accuracy"});
  const History history =
      model.fit(data.x, data.y, {.epochs = 4, .validation_split = 0.25, .verbose = 0});
  EXPECT_EQ(history.epoch, (std::vector<int64_t>{0, 1, 2, 3}));
  std::vector<std::string> keys;
  for (const auto& [name, values] : history.history) {
    keys.push_back(name);
    EXPECT_EQ(values.size(), 4u) << name;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"accuracy", "loss", "top_2_accuracy", "val_accuracy",
                                            "val_loss", "val_top_2_accuracy"}));
  EXPECT_LT(history["loss"].back(), history["loss"].front());
  // Both metrics see the same outputs in each epoch: a sample right at top 1 is right at top 2.
  for (size_t epoch = 0; epoch < 4; ++epoch) {
    EXPECT_GE(history["top_2_accuracy"][epoch], history["accuracy"][epoch]) << epoch;
    EXPECT_GE(history["val_top_2_accuracy"][epoch], history["val_accuracy"][epoch]) << epoch;
  }
  // The last epoch's validation figures are those of the final model on the held-out quarter.
  const EvaluationReport held_out =
      model.evaluate(data.x.slice(0, 300, 400), data.y.slice(0, 300, 400), 32, 0);
  EXPECT_NEAR(history["val_accuracy"].back(), held_out["accuracy"], 1e-12);
  EXPECT_NEAR(history["val_top_2_accuracy"].back(), held_out["top_2_accuracy"], 1e-12);
  EXPECT_THROW(
      {
        try {
          (void)history["f1"];
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("recorded: accuracy, loss"), std::string::npos);
          throw;
        }
      },
      Error);
}

TEST(Model, ValidationSplitHoldsOutTheLastSamples) {
  const Blobs data = make_blobs(100, 4);
  Model model = blob_model();
  model.compile("sgd", "sparse_categorical_crossentropy", {"accuracy"});
  const History history =
      model.fit(data.x, data.y, {.epochs = 1, .validation_split = 0.2, .verbose = 0});
  // The validation values are those of evaluate() on the last 20 samples after the epoch.
  const EvaluationReport held_out =
      model.evaluate(data.x.slice(0, 80, 100), data.y.slice(0, 80, 100), 32, 0);
  EXPECT_NEAR(history["val_loss"][0], held_out["loss"], 1e-6);
  EXPECT_NEAR(history["val_accuracy"][0], held_out["accuracy"], 1e-12);
}

TEST(Model, FitIsRepeatableWithTheSameSeeds) {
  const Blobs data = make_blobs(200, 5);
  std::vector<float> weights[2];
  for (auto& w : weights) {
    Model model = blob_model();
    model.compile("adam", "sparse_categorical_crossentropy");
    model.fit(data.x, data.y, {.epochs = 2, .verbose = 0, .seed = 3});
    w = weights_of(model);
  }
  EXPECT_EQ(weights[0], weights[1]);
}

// ---- evaluate against hand-computed values ----
// A Dense(3, softmax) with identity weights: the inputs are the logits.
Model identity_classifier() {
  Model model({layers::Dense(3, "softmax")});
  model.build({3});
  auto& linear =
      dynamic_cast<nn::Linear&>(*dynamic_cast<nn::Sequential&>(model.module()).layers().front());
  NoGradGuard no_grad;
  linear.weight().copy_(from_vector(std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3}));
  linear.bias().fill_(0);
  return model;
}

TEST(Model, EvaluateMatchesHandComputedLossMetricsAndConfusion) {
  const std::vector<float> logits = {2, 1, 0, 0, 3, 1, 1, 0, 2, 0, 2, 1, 3, 0, 0};
  const std::vector<int64_t> labels = {0, 1, 2, 2, 1};
  Model model = identity_classifier();
  model.compile("sgd", "sparse_categorical_crossentropy", {"accuracy", "top_2_accuracy"});
  const EvaluationReport report =
      model.evaluate(from_vector(logits, {5, 3}), from_vector(labels, {5}), 2, 0);

  double loss = 0;
  for (int i = 0; i < 5; ++i) {
    double total = 0;
    for (int c = 0; c < 3; ++c) total += std::exp(logits[3 * i + c]);
    loss -= std::log(std::exp(logits[3 * i + labels[i]]) / total);
  }
  EXPECT_NEAR(report["loss"], loss / 5, 1e-6);
  // Predicted classes 0, 1, 2, 1, 0 against 0, 1, 2, 2, 1.
  EXPECT_DOUBLE_EQ(report["accuracy"], 3.0 / 5);
  // Sample 3 (label 2) ranks second; sample 4 (label 1) ties with class 2 for second place.
  EXPECT_DOUBLE_EQ(report["top_2_accuracy"], 5.0 / 5);
  const std::vector<std::vector<int64_t>> confusion = {{1, 0, 0}, {1, 1, 0}, {0, 1, 1}};
  EXPECT_EQ(report.confusion, confusion);
  EXPECT_EQ(report.precision, (std::vector<double>{0.5, 0.5, 1.0}));
  EXPECT_EQ(report.recall, (std::vector<double>{1.0, 0.5, 0.5}));
  EXPECT_NEAR(report.f1[0], 2 * 0.5 / 1.5, 1e-12);
  EXPECT_NEAR(report.f1[2], 2 * 0.5 / 1.5, 1e-12);
  EXPECT_NEAR(report.macro_precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(report.macro_recall, 2.0 / 3, 1e-12);
  EXPECT_NEAR(report.macro_f1, (2.0 / 3 + 0.5 + 2.0 / 3) / 3, 1e-12);
  const std::string text = report.to_string({"a", "b", "c"});
  EXPECT_NE(text.find("accuracy: 0.6000"), std::string::npos) << text;
  EXPECT_NE(text.find("macro avg"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    c (2)  0  1  1\n"), std::string::npos) << text;
}

TEST(Model, PredictReturnsProbabilities) {
  Model model = identity_classifier();
  const Tensor probabilities =
      model.predict(from_vector(std::vector<float>{0, 0, 0, 1000, 0, 0}, {2, 3}), 1);
  ASSERT_EQ(probabilities.shape(), (Shape{2, 3}));
  const std::vector<float> p = probabilities.to_vector<float>();
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(p[c], 1.0 / 3, 1e-6);
  EXPECT_NEAR(p[3], 1.0, 1e-6);
  EXPECT_NEAR(p[4], 0.0, 1e-6);
}

// ---- softmax + cross-entropy from logits ----
TEST(Model, SoftmaxHeadTrainsExactlyLikeLogitsWithFromLogitsLoss) {
  const Blobs data = make_blobs(128, 6);
  Model with_softmax = blob_model("softmax");
  Model with_logits = blob_model("");
  ASSERT_EQ(weights_of(with_softmax), weights_of(with_logits));
  with_softmax.compile("sgd", "sparse_categorical_crossentropy", {"accuracy"});
  with_logits.compile("sgd", std::make_shared<SparseCategoricalCrossentropy>(true), {"accuracy"});
  const History a = with_softmax.fit(data.x, data.y, {.epochs = 2, .verbose = 0});
  const History b = with_logits.fit(data.x, data.y, {.epochs = 2, .verbose = 0});
  EXPECT_EQ(weights_of(with_softmax), weights_of(with_logits));
  EXPECT_EQ(a["loss"], b["loss"]);
  EXPECT_EQ(a["accuracy"], b["accuracy"]);
}

TEST(Model, CrossEntropyFromLogitsStaysFiniteForExtremeLogits) {
  // Probabilities of exactly 0 and 1: log(p) would be -inf without the fused path.
  Model model = identity_classifier();
  model.compile("sgd", "sparse_categorical_crossentropy", {"accuracy"});
  const EvaluationReport report =
      model.evaluate(from_vector(std::vector<float>{200, 0, -200, 0, 0, 300}, {2, 3}),
                     from_vector(std::vector<int64_t>{1, 2}, {2}), 32, 0);
  // Sample 0: -log softmax = 200 + log(1 + e^-200 + e^-400) = 200; sample 1: ~0.
  EXPECT_NEAR(report["loss"], 100.0, 1e-3);
}

TEST(Model, ActivationLayerSoftmaxIsAlsoFolded) {
  const Blobs data = make_blobs(96, 8);
  manual_seed(7);
  Model separate({layers::Dense(16, "relu"), layers::Dense(3), layers::Activation("softmax")});
  separate.build({2});
  Model fused = blob_model("softmax");
  separate.compile("sgd", "sparse_categorical_crossentropy");
  fused.compile("sgd", "sparse_categorical_crossentropy");
  separate.fit(data.x, data.y, {.epochs = 1, .verbose = 0});
  fused.fit(data.x, data.y, {.epochs = 1, .verbose = 0});
  EXPECT_EQ(weights_of(separate), weights_of(fused));
}

TEST(Model, OtherLossesTrain) {
  const Blobs data = make_blobs(200, 9);
  // Binary: is the point in the right-hand blob?
  const Tensor right = gt(data.x.select(1, 0), scalar_tensor(0.0)).to(DType::f32);
  manual_seed(1);
  Model binary({layers::Dense(8, "relu"), layers::Dense(1, "sigmoid")});
  binary.compile(std::make_unique<optim::Adam>(optim::AdamOptions{.lr = 0.02}),
                 "binary_crossentropy", {"accuracy"});
  binary.fit(data.x, right, {.epochs = 10, .verbose = 0});
  EXPECT_GT(binary.evaluate(data.x, right, 32, 0)["accuracy"], 0.95);

  // One-hot targets with categorical cross-entropy.
  Model categorical = blob_model();
  categorical.compile(std::make_unique<optim::Adam>(optim::AdamOptions{.lr = 0.01}),
                      "categorical_crossentropy", {"accuracy"});
  const Tensor one_hot_y = one_hot(data.y, 3);
  categorical.fit(data.x, one_hot_y, {.epochs = 8, .verbose = 0});
  EXPECT_GT(categorical.evaluate(data.x, one_hot_y, 32, 0)["accuracy"], 0.95);

  // Regression: y = x0 - x1.
  manual_seed(2);
  Model regression({layers::Dense(1)});
  regression.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = 0.05}), "mse", {"mae"});
  const Tensor target = sub(data.x.select(1, 0), data.x.select(1, 1));
  const History history = regression.fit(data.x, target, {.epochs = 20, .verbose = 0});
  EXPECT_LT(history["loss"].back(), 1e-3);
  EXPECT_LT(history["mae"].back(), 0.03);
}

// ---- summary ----
TEST(Model, SummaryOfTheClassicMlpMatchesKeras) {
  Model model({layers::Flatten(), layers::Dense(128, "relu"), layers::Dense(10, "softmax")});
  EXPECT_THROW(model.summary(), Error);
  model.build({28, 28});
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #\n"
      "=================================================================\n"
      "flatten (Flatten)            (None, 784)               0\n"
      "_________________________________________________________________\n"
      "dense (Dense)                (None, 128)               100480\n"
      "_________________________________________________________________\n"
      "dense_1 (Dense)              (None, 10)                1290\n"
      "=================================================================\n"
      "Total params: 101,770\n"
      "Trainable params: 101,770\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  EXPECT_EQ(model.summary(), expected);
}

// ---- progress bar ----
Logs two_values(double loss, double accuracy) {
  Logs logs;
  logs.set("loss", loss);
  logs.set("accuracy", accuracy);
  return logs;
}

TEST(ProgressBar, RendersLikeKeras) {
  std::ostringstream out;
  ProgressBar bar(1875, 1, out, false);
  const Logs logs = two_values(0.49703, 0.82541);
  EXPECT_EQ(bar.render(1875, 3.2, logs, true),
            "1875/1875 [==============================] - 3s 2ms/step - loss: 0.4970 - "
            "accuracy: 0.8254");
  EXPECT_EQ(bar.render(937, 1.5, logs, false),
            " 937/1875 [=============>................] - ETA: 1s - loss: 0.4970 - "
            "accuracy: 0.8254");
  EXPECT_EQ(bar.render(0, 0, two_values(0.0001, 1), false),
            "   0/1875 [..............................] - ETA: 0s - loss: 1.0000e-04 - "
            "accuracy: 1.0000");
  ProgressBar two(313, 2, out, false);
  EXPECT_EQ(two.render(313, 0.28, logs, true),
            "313/313 - 0s - loss: 0.4970 - accuracy: 0.8254 - 280ms/epoch - 895us/step");
}

TEST(ProgressBar, PrintsOneLinePerEpochWhenNotATerminal) {
  std::ostringstream out;
  ProgressBar bar(3, 1, out, false);
  const Logs logs = two_values(0.5, 0.75);
  for (int step = 1; step <= 3; ++step) bar.update(step, logs);
  EXPECT_EQ(out.str(), "");  // nothing until the epoch ends
  bar.finish(logs);
  const std::string text = out.str();
  EXPECT_TRUE(std::regex_match(
      text,
      std::regex(R"(3/3 \[=+\] - \d+s \d+(us|ms|s)/step - loss: 0\.5000 - accuracy: 0\.7500\n)")))
      << text;
}

TEST(ProgressBar, RedrawsInPlaceOnATerminal) {
  std::ostringstream out;
  ProgressBar bar(2, 1, out, true);
  bar.update(1, two_values(0.5, 0.5));
  bar.update(2, two_values(0.25, 1));  // within 50 ms of the last draw: not drawn
  bar.finish(two_values(0.25, 1));
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("\r1/2 [==============>...............] - ETA: ", 0), 0u) << text;
  EXPECT_EQ(text.find("\r", 1), text.rfind("\r")) << "expected exactly two draws: " << text;
  EXPECT_NE(text.find("\r2/2 [==============================] - "), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(Model, FitPrintsKerasStyleProgressLines) {
  const Blobs data = make_blobs(100, 10);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  ::testing::internal::CaptureStdout();
  model.fit(data.x, data.y, {.epochs = 2, .batch_size = 25});
  const std::string text = ::testing::internal::GetCapturedStdout();
  // Values print as %.4f, or %.4e below 1e-3 (as Keras). The data-wait share shows when the
  // batches' assembly took more than a few percent of the steps, which depends on the timing.
  const std::string line =
      R"(4/4 \[==============================\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4})"
      R"((e[-+]\d+)? - accuracy: \d\.\d{4}(e[-+]\d+)?( - data wait: \d+%)?\n)";
  const std::regex expected("Epoch 1/2\n" + line + "Epoch 2/2\n" + line);
  EXPECT_TRUE(std::regex_match(text, expected)) << text;
}

// ---- errors ----
TEST(Model, NanLossStopsWithEpochStepAndLearningRate) {
  Blobs data = make_blobs(64, 11);
  std::vector<float> x = data.x.to_vector<float>();
  x[2 * 40] = std::nanf("");  // sample 40: batch 2 of 2 (batch size 32, no shuffling)
  Model model = blob_model();
  model.compile("sgd", "sparse_categorical_crossentropy");
  ::testing::internal::CaptureStdout();
  try {
    model.fit(from_vector(x, {64, 2}), data.y, {.epochs = 1, .shuffle = false, .verbose = 0});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "fit: the loss became nan at epoch 1/1, step 2/2; training stopped. The "
                 "learning rate (0.01) is probably too high: try a lower one, e.g. 0.001");
  }
  ::testing::internal::GetCapturedStdout();
}

TEST(Model, LabelsOutOfRangeAreAClearError) {
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy");
  const Tensor x = zeros({4, 2});
  try {
    model.fit(x, from_vector(std::vector<int64_t>{0, 1, 5, 2}), {.verbose = 0});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "fit: label 5 (sample 2) is out of range for a model with 3 outputs: "
                 "sparse_categorical_crossentropy expects labels in [0, 3)");
  }
}

TEST(Model, MisuseIsAClearError) {
  Model model = blob_model();
  EXPECT_THROW(model.fit(zeros({4, 2}), zeros({4}, DType::i64)), Error);  // not compiled
  model.compile("adam", "sparse_categorical_crossentropy");
  try {
    model.fit(zeros({4, 5}), zeros({4}, DType::i64), {.verbose = 0});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "fit: the model takes inputs of shape [N, 2], got x of shape [4, 5]");
  }
  try {
    model.fit(zeros({4, 2}), zeros({3}, DType::i64), {.verbose = 0});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "fit: x holds 4 samples but y holds 3");
  }
  try {
    make_loss("crossentropy");
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown loss 'crossentropy'; known losses: "
                                         "sparse_categorical_crossentropy"),
              std::string::npos);
  }
  EXPECT_THROW(make_metric("precision_at_k"), Error);
  EXPECT_EQ(make_metric("top_3_accuracy")->name(), "top_3_accuracy");
}

// ---- callbacks ----
// Records the weights at the end of every epoch.
class WeightRecorder : public Callback {
 public:
  void on_epoch_end(int64_t /*epoch*/, Logs& /*logs*/) override {
    weights.push_back(weights_of(model()));
  }
  std::vector<std::vector<float>> weights;
};

TEST(Callbacks, EarlyStoppingStopsAfterPatienceAndRestoresTheBestWeights) {
  const Blobs data = make_blobs(200, 12);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy");
  // The loss falls every epoch, so in mode "max" the first epoch stays the best.
  auto stopper = std::make_shared<EarlyStopping>(EarlyStoppingOptions{
      .monitor = "loss", .patience = 2, .mode = "max", .restore_best_weights = true});
  auto recorder = std::make_shared<WeightRecorder>();
  const History history =
      model.fit(data.x, data.y, {.epochs = 10, .verbose = 0, .callbacks = {recorder, stopper}});
  EXPECT_EQ(history.epoch, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(stopper->stopped_epoch(), 2);
  EXPECT_EQ(stopper->best_epoch(), 0);
  ASSERT_EQ(recorder->weights.size(), 3u);
  EXPECT_NE(weights_of(model), recorder->weights[2]);
  EXPECT_EQ(weights_of(model), recorder->weights[0]);
}

TEST(Callbacks, EarlyStoppingNamesAMissingMonitor) {
  const Blobs data = make_blobs(40, 13);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  try {
    model.fit(data.x, data.y, {.verbose = 0, .callbacks = {std::make_shared<EarlyStopping>()}});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "EarlyStopping: the monitored value 'val_loss' is not in the epoch's logs "
                 "(available: loss, accuracy); pass validation data or a validation_split");
  }
}

TEST(Callbacks, CsvLoggerWritesAHeaderAndOneRowPerEpoch) {
  const nabla::testing::TempDir temp;
  const std::string dir = temp.path().string();
  const Blobs data = make_blobs(64, 14);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  const std::string path = dir + "/log.csv";
  const History history = model.fit(data.x, data.y,
                                    {.epochs = 3,
                                     .validation_split = 0.25,
                                     .verbose = 0,
                                     .callbacks = {std::make_shared<CSVLogger>(path)}});
  std::istringstream lines(nabla::testing::read_bytes(path));
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "epoch,accuracy,loss,val_accuracy,val_loss");
  for (int epoch = 0; epoch < 3; ++epoch) {
    ASSERT_TRUE(std::getline(lines, line));
    char expected[128];
    std::snprintf(expected, sizeof(expected), "%d,%.8g,%.8g,", epoch, history["accuracy"][epoch],
                  history["loss"][epoch]);
    EXPECT_EQ(line.rfind(expected, 0), 0u) << line;
  }
  EXPECT_FALSE(std::getline(lines, line));
  // Only the file itself remains: it is written through a temporary file.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(Callbacks, LearningRateSchedulerSetsTheRateEachEpoch) {
  const Blobs data = make_blobs(64, 15);
  Model model = blob_model();
  model.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = 0.1}),
                "sparse_categorical_crossentropy");
  auto halve = std::make_shared<LearningRateScheduler>(
      [](int64_t epoch, double lr) { return epoch == 0 ? lr : lr / 2; });
  const History history =
      model.fit(data.x, data.y, {.epochs = 3, .verbose = 0, .callbacks = {halve}});
  EXPECT_EQ(history["lr"], (std::vector<double>{0.1, 0.05, 0.025}));

  Model stepped = blob_model();
  stepped.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = 0.1}),
                  "sparse_categorical_crossentropy");
  auto step_lr = std::make_shared<LearningRateScheduler>(
      std::make_shared<optim::StepLR>(stepped.optimizer(), 2, 0.1));
  const History stepped_history =
      stepped.fit(data.x, data.y, {.epochs = 3, .verbose = 0, .callbacks = {step_lr}});
  ASSERT_EQ(stepped_history["lr"].size(), 3u);
  EXPECT_DOUBLE_EQ(stepped_history["lr"][0], 0.1);
  EXPECT_DOUBLE_EQ(stepped_history["lr"][1], 0.1);
  EXPECT_NEAR(stepped_history["lr"][2], 0.01, 1e-12);
}

TEST(Callbacks, ModelCheckpointSavesEpochsThatLoadBack) {
  const nabla::testing::TempDir temp;
  const std::string dir = temp.path().string();
  const Blobs data = make_blobs(64, 16);
  Model model = blob_model();
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  auto checkpoint = std::make_shared<ModelCheckpoint>(
      dir + "/ckpt-{epoch:02d}-{loss:.2f}.safetensors",
      ModelCheckpointOptions{.monitor = "loss", .save_best_only = true});
  const History history =
      model.fit(data.x, data.y, {.epochs = 3, .verbose = 0, .callbacks = {checkpoint}});
  ASSERT_EQ(checkpoint->saved().size(), 3u);  // the loss falls every epoch
  char name[64];
  std::snprintf(name, sizeof(name), "/ckpt-03-%.2f.safetensors", history["loss"][2]);
  EXPECT_EQ(checkpoint->saved()[2], dir + name);

  Model loaded = Model::load(checkpoint->saved()[2]);
  EXPECT_TRUE(loaded.compiled());
  EXPECT_EQ(loaded.loss().name(), "sparse_categorical_crossentropy");
  EXPECT_EQ(weights_of(loaded), weights_of(model));
  const Tensor x = data.x.slice(0, 0, 5);
  EXPECT_EQ(loaded.predict(x).to_vector<float>(), model.predict(x).to_vector<float>());
  EXPECT_NEAR(loaded.evaluate(data.x, data.y, 32, 0)["accuracy"],
              model.evaluate(data.x, data.y, 32, 0)["accuracy"], 1e-12);
}

}  // namespace
}  // namespace nabla::train
