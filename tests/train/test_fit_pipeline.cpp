// Model::fit on a data::Pipeline: the same loop as fit on tensors (bit for bit the same training
// for the same batches), pipelines of unknown length, errors reaching fit, the data-wait share.
#include <gtest/gtest.h>

#include <sstream>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "support/class_samples.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

train::Model fit_pipeline_model() {
  manual_seed(5);
  train::Model model({layers::Dense(8, "relu"), layers::Dense(3, "softmax")});
  model.build({6});  // the weights drawn now, from the seed
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

std::vector<float> fit_pipeline_weights(const train::Model& model) {
  std::vector<float> out;
  for (const auto& [name, tensor] : model.module().state_dict()) {
    for (float v : tensor.contiguous().to_vector<float>()) out.push_back(v);
  }
  return out;
}

TEST(FitPipeline, TrainsAsFitOnTheSameBatches) {
  const nabla::testing::ClassSamples data = nabla::testing::class_samples(50, 6, 3, 2);
  train::Model on_tensors = fit_pipeline_model();
  const train::History expected = on_tensors.fit(
      data.x, data.y, {.epochs = 2, .batch_size = 8, .shuffle = false, .verbose = 0});
  train::Model on_pipeline = fit_pipeline_model();
  const data::Pipeline batches = data::Pipeline::from_tensors(data.x, data.y).batch(8);
  const train::History history = on_pipeline.fit(batches, {.epochs = 2, .verbose = 0});
  EXPECT_EQ(history.history, expected.history);
  EXPECT_EQ(fit_pipeline_weights(on_pipeline), fit_pipeline_weights(on_tensors));
  EXPECT_GE(on_pipeline.data_wait_share(), 0.0);
  EXPECT_LE(on_pipeline.data_wait_share(), 1.0);
}

TEST(FitPipeline, UnknownLengthShuffledAndPrefetched) {
  const nabla::testing::ClassSamples data = nabla::testing::class_samples(40, 6, 3, 4);
  const auto make = [&](int64_t workers) {
    return data::Pipeline::from_tensors(data.x, data.y)
        .filter([](const data::Element&) { return true; })  // length unknown
        .map([](data::Element e) { return e; }, workers)
        .shuffle(16, 1)
        .batch(10)
        .prefetch(2);
  };
  train::Model a = fit_pipeline_model(), b = fit_pipeline_model();
  const train::History ha = a.fit(make(0), {.epochs = 3, .verbose = 0});
  const train::History hb = b.fit(make(3), {.epochs = 3, .verbose = 0});
  EXPECT_EQ(ha.history, hb.history);
  EXPECT_EQ(fit_pipeline_weights(a), fit_pipeline_weights(b));
  ASSERT_EQ(ha.history.at("loss").size(), 3u);
  // Validation data and the progress line of an unknown number of steps.
  train::Model c = fit_pipeline_model();
  ::testing::internal::CaptureStdout();
  c.fit(make(2), {.epochs = 1, .validation_data = {data.x, data.y}, .verbose = 2});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("4/Unknown"), std::string::npos) << out;
  EXPECT_NE(out.find("val_accuracy"), std::string::npos) << out;
}

TEST(FitPipeline, AWorkerErrorReachesFit) {
  const nabla::testing::ClassSamples data = nabla::testing::class_samples(40, 6, 3, 4);
  const data::Pipeline failing =
      data::Pipeline::from_tensors(data.x, data.y)
          .map(
              [](data::Element e) {
                NABLA_CHECK(e.target.item<int64_t>() != 2 || e.input.at<float>({0}) < 1.0f,
                            "worker failed on a sample");
                return e;
              },
              2)
          .batch(4)
          .prefetch(2);
  train::Model model = fit_pipeline_model();
  EXPECT_EQ(error_message([&] { model.fit(failing, {.epochs = 2, .verbose = 0}); }),
            "worker failed on a sample");
  // Settings that belong in the pipeline are refused, naming it.
  const std::string split = error_message([&] {
    model.fit(data::Pipeline::from_tensors(data.x, data.y).batch(4),
              {.validation_split = 0.2, .verbose = 0});
  });
  EXPECT_NE(split.find("validation_data"), std::string::npos) << split;
}

TEST(FitPipeline, ProgressBarShowsDataWaitAboveAFewPercent) {
  train::Logs logs;
  logs.set("loss", 0.5);
  std::ostringstream out;
  train::ProgressBar bar(10, 2, out, false);
  EXPECT_EQ(bar.render(5, 1.0, logs, true).find("data wait"), std::string::npos);
  bar.set_data_wait(0.03);
  EXPECT_EQ(bar.render(5, 1.0, logs, true).find("data wait"), std::string::npos);
  bar.set_data_wait(0.25);
  EXPECT_NE(bar.render(5, 1.0, logs, true).find("data wait: 25%"), std::string::npos);
  train::ProgressBar unknown(-1, 1, out, false);
  unknown.set_data_wait(0.5);
  const std::string line = unknown.render(7, 2.0, logs, false);
  EXPECT_NE(line.find("7/Unknown"), std::string::npos) << line;
  EXPECT_NE(line.find("data wait: 50%"), std::string::npos) << line;
}

}  // namespace
