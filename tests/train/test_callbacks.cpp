// The Keras callbacks beyond early stopping and checkpoints: ReduceLROnPlateau, TerminateOnNaN,
// LambdaCallback and JSONLogger, each against what Keras does. (BackupAndRestore is in
// test_resume.cpp, with the other resume tests.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "support/class_samples.hpp"

namespace nabla::train {
namespace {

using nabla::testing::TempDir;

using Samples = nabla::testing::ClassSamples;
// 48 samples of 4 features in 2 classes.
Samples two_class_samples() { return nabla::testing::class_samples(48, 4, 2, 5); }

Model sgd_model(double lr = 0.1) {
  manual_seed(1);
  Model model({layers::Dense(8, "relu"), layers::Dense(2, "softmax")});
  model.build({4});
  model.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = lr}),
                "sparse_categorical_crossentropy");
  return model;
}

// Puts scripted values of "score" into each epoch's logs, for the callbacks listed after it.
std::shared_ptr<LambdaCallback> scripted_score(std::vector<double> scores) {
  return std::make_shared<LambdaCallback>(
      LambdaCallbackFunctions{.on_epoch_end = [scores](int64_t epoch, Logs& logs) {
        logs.set("score", scores.at(static_cast<size_t>(epoch)));
      }});
}

// The expected rates are those of Keras 2's ReduceLROnPlateau.on_epoch_end run on the same
// scores (its code transcribed to Python: keras/callbacks.py): the rate logged is the one the
// epoch ran with, reductions wait `patience` epochs without an improvement larger than
// min_delta, a cooldown epoch resets the wait, and min_lr is a floor compared in float32.
TEST(ReduceLROnPlateau, FollowsKerasOnAScriptedMonitor) {
  const Samples data = two_class_samples();
  Model model = sgd_model();
  const std::vector<double> scores = {1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.91,
                                      0.5, 0.6, 0.6,  0.6,  0.6,  0.6,  0.6};
  auto plateau = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{.monitor = "score",
                                                                              .factor = 0.5,
                                                                              .patience = 2,
                                                                              .min_delta = 0.01,
                                                                              .cooldown = 1,
                                                                              .min_lr = 0.02});
  const History history = model.fit(data.x, data.y,
                                    {.epochs = 14,
                                     .batch_size = 16,
                                     .verbose = 0,
                                     .callbacks = {scripted_score(scores), plateau}});
  const std::vector<double> expected = {0.1,   0.1,   0.1,   0.1,  0.05, 0.05, 0.025,
                                        0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02};
  ASSERT_EQ(history["lr"].size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(history["lr"][i], expected[i], 1e-15) << "epoch " << i;
  }
  EXPECT_NEAR(model.optimizer().lr(), 0.02, 1e-15);
}

TEST(ReduceLROnPlateau, MaxModeAndNoCooldown) {
  const Samples data = two_class_samples();
  Model model = sgd_model();
  auto plateau = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{
      .monitor = "score", .factor = 0.5, .patience = 1, .mode = "max", .min_delta = 0});
  const History history =
      model.fit(data.x, data.y,
                {.epochs = 6,
                 .batch_size = 16,
                 .verbose = 0,
                 .callbacks = {scripted_score({0.5, 0.6, 0.6, 0.7, 0.65, 0.65}), plateau}});
  const std::vector<double> expected = {0.1, 0.1, 0.1, 0.05, 0.05, 0.025};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(history["lr"][i], expected[i], 1e-15) << "epoch " << i;
  }
  EXPECT_NEAR(model.optimizer().lr(), 0.0125, 1e-15);
}

TEST(ReduceLROnPlateau, RejectsAFactorOfOneOrMore) {
  EXPECT_THROW(ReduceLROnPlateau({.factor = 1.0}), Error);
  EXPECT_THROW(ReduceLROnPlateau({.factor = 0}), Error);
  EXPECT_THROW(ReduceLROnPlateau({.patience = -1}), Error);
}

// The samples of the third batch (of 16) hold a NaN, so its loss is NaN.
Samples samples_with_a_bad_batch() {
  Samples data = two_class_samples();
  data.x.data<float>()[2 * 16 * 4 + 5] = std::numeric_limits<float>::quiet_NaN();
  return data;
}

TEST(TerminateOnNaN, StopsAtTheBadBatchKeepingTheLastFiniteWeights) {
  const Samples data = samples_with_a_bad_batch();
  Model model = sgd_model();
  std::vector<std::vector<float>> weights_after_batch;
  auto recorder = std::make_shared<LambdaCallback>(
      LambdaCallbackFunctions{.on_batch_end = [&](int64_t, const Logs&) {
        std::vector<float> all;
        for (const auto& [name, tensor] : model.module().state_dict()) {
          const std::vector<float> values = tensor.to_vector<float>();
          all.insert(all.end(), values.begin(), values.end());
        }
        weights_after_batch.push_back(all);
      }});
  ::testing::internal::CaptureStdout();
  const History history = model.fit(data.x, data.y,
                                    {.epochs = 3,
                                     .batch_size = 16,
                                     .shuffle = false,
                                     .verbose = 0,
                                     .callbacks = {recorder, std::make_shared<TerminateOnNaN>()}});
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find("Batch 2: Invalid loss, terminating training"), std::string::npos)
      << printed;
  ASSERT_EQ(history.epoch, std::vector<int64_t>{0});
  EXPECT_TRUE(std::isnan(history["loss"][0]));
  // Batches 0 and 1 trained; the NaN batch changed nothing.
  ASSERT_EQ(weights_after_batch.size(), 3u);
  EXPECT_NE(weights_after_batch[0], weights_after_batch[1]);
  EXPECT_EQ(weights_after_batch[2], weights_after_batch[1]);
  for (float w : weights_after_batch[2]) EXPECT_TRUE(std::isfinite(w));
}

TEST(TerminateOnNaN, WithoutItANaNLossIsAnErrorNamingTheStep) {
  const Samples data = samples_with_a_bad_batch();
  Model model = sgd_model();
  try {
    model.fit(data.x, data.y, {.epochs = 1, .batch_size = 16, .shuffle = false, .verbose = 0});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss became nan at epoch 1/1, step 3/3"),
              std::string::npos)
        << e.what();
  }
}

TEST(LambdaCallback, CallsEachFunctionWhenKerasWould) {
  const Samples data = two_class_samples();
  Model model = sgd_model();
  std::vector<std::string> calls;
  auto lambda = std::make_shared<LambdaCallback>(LambdaCallbackFunctions{
      .on_train_begin = [&] { calls.push_back("train_begin"); },
      .on_train_end =
          [&](const Logs& logs) {
            calls.push_back("train_end loss=" + std::to_string(logs.contains("loss")));
          },
      .on_epoch_begin =
          [&](int64_t epoch) { calls.push_back("epoch_begin " + std::to_string(epoch)); },
      .on_epoch_end =
          [&](int64_t epoch, Logs& logs) {
            calls.push_back("epoch_end " + std::to_string(epoch) +
                            " val_loss=" + std::to_string(logs.contains("val_loss")));
          },
      .on_batch_end = [&](int64_t batch,
                          const Logs&) { calls.push_back("batch_end " + std::to_string(batch)); }});
  model.fit(data.x, data.y,
            {.epochs = 2,
             .batch_size = 16,
             .validation_split = 0.25,
             .verbose = 0,
             .callbacks = {lambda, std::make_shared<LambdaCallback>(LambdaCallbackFunctions{})}});
  // 36 training samples: batches of 16, 16 and 4.
  const std::vector<std::string> expected = {"train_begin",
                                             "epoch_begin 0",
                                             "batch_end 0",
                                             "batch_end 1",
                                             "batch_end 2",
                                             "epoch_end 0 val_loss=1",
                                             "epoch_begin 1",
                                             "batch_end 0",
                                             "batch_end 1",
                                             "batch_end 2",
                                             "epoch_end 1 val_loss=1",
                                             "train_end loss=1"};
  EXPECT_EQ(calls, expected);
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(JSONLogger, WritesOneObjectPerEpochThatReadsBackExactly) {
  const TempDir dir;
  const Samples data = two_class_samples();
  Model model = sgd_model();
  const std::string path = dir.file("log.jsonl");
  nabla::testing::write_bytes(path, "left from an earlier run\n");
  auto nan_maker = std::make_shared<LambdaCallback>(
      LambdaCallbackFunctions{.on_epoch_end = [](int64_t, Logs& logs) {
        logs.set("odd", std::numeric_limits<double>::infinity());
      }});
  const History history = model.fit(data.x, data.y,
                                    {.epochs = 3,
                                     .batch_size = 16,
                                     .validation_split = 0.25,
                                     .verbose = 0,
                                     .callbacks = {nan_maker, std::make_shared<JSONLogger>(path)}});
  const std::vector<nlohmann::json> lines = json_lines(nabla::testing::read_bytes(path));
  ASSERT_EQ(lines.size(), 3u);
  for (size_t epoch = 0; epoch < 3; ++epoch) {
    const nlohmann::json& line = lines[epoch];
    EXPECT_EQ(line["epoch"], epoch);
    EXPECT_EQ(line["loss"].get<double>(), history["loss"][epoch]);  // shortest round trip
    EXPECT_EQ(line["val_loss"].get<double>(), history["val_loss"][epoch]);
    EXPECT_TRUE(line["odd"].is_null());  // JSON has no infinity
    EXPECT_EQ(line.begin().key(), "epoch");
  }
}

TEST(JSONLogger, EveryNStepsAddsBatchLinesToAStream) {
  const Samples data = two_class_samples();
  Model model = sgd_model();
  std::ostringstream out;
  model.fit(
      data.x, data.y,
      {.epochs = 2,
       .batch_size = 16,
       .verbose = 0,
       .callbacks = {std::make_shared<JSONLogger>(out, JSONLoggerOptions{.every_steps = 2})}});
  const std::vector<nlohmann::json> lines = json_lines(out.str());
  // Three batches an epoch: steps 2, 4 and 6 are logged, then each epoch's line.
  std::vector<std::string> shape;
  for (const auto& line : lines) {
    shape.push_back(line.contains("step") ? "e" + std::to_string(line["epoch"].get<int>()) + "b" +
                                                std::to_string(line["batch"].get<int>()) + "s" +
                                                std::to_string(line["step"].get<int>())
                                          : "epoch " + std::to_string(line["epoch"].get<int>()));
    EXPECT_TRUE(line["loss"].is_number());
  }
  EXPECT_EQ(shape, (std::vector<std::string>{"e0b1s2", "epoch 0", "e1b0s4", "e1b2s6", "epoch 1"}));
}

}  // namespace
}  // namespace nabla::train
