// The segmentation task's scenes (the unet preset's data): deterministic, items that never
// overlap, a class on exactly the pixels bright enough to be an item's, and training scenes
// composed anew each epoch.
#include <gtest/gtest.h>

#include <set>

#include "nabla/nabla.hpp"
#include "nabla/pipeline.hpp"
#include "nabla/tasks.hpp"

using namespace nabla;

namespace {

// Checks every scene of `pixels` [S, 1, 64, 64] and `classes` [S, 64, 64] (u8) and returns the
// share of item pixels; `counts` collects how many classes the scenes hold.
double check_scenes(const Tensor& pixels_tensor, const Tensor& classes_tensor,
                    std::set<size_t>& counts) {
  const int64_t scenes = pixels_tensor.size(0);
  EXPECT_EQ(pixels_tensor.shape(), (Shape{scenes, 1, 64, 64}));
  EXPECT_EQ(classes_tensor.shape(), (Shape{scenes, 64, 64}));
  const std::vector<uint8_t> pixels = pixels_tensor.contiguous().to_vector<uint8_t>();
  const std::vector<uint8_t> classes = classes_tensor.contiguous().to_vector<uint8_t>();
  int64_t foreground = 0;
  for (int64_t s = 0; s < scenes; ++s) {
    std::set<uint8_t> present;
    for (int64_t p = 0; p < 64 * 64; ++p) {
      const auto at = static_cast<size_t>(s * 64 * 64 + p);
      EXPECT_LE(classes[at], 10) << "scene " << s;
      // Items do not overlap and the canvas is black: a pixel is an item's exactly when bright.
      EXPECT_EQ(classes[at] != 0, pixels[at] >= 26) << "scene " << s << ", pixel " << p;
      if (classes[at] != 0) present.insert(classes[at]);
      foreground += classes[at] != 0;
    }
    EXPECT_LE(present.size(), 4u) << "scene " << s;  // at most 4 items, so at most 4 classes
    counts.insert(present.size());
  }
  return static_cast<double>(foreground) / (static_cast<double>(scenes) * 64 * 64);
}

// The first `scenes` training scenes of `epoch`, stacked.
std::pair<Tensor, Tensor> training_scenes(const tasks::TaskData& data, int64_t epoch,
                                          int64_t scenes) {
  const std::vector<data::Element> batches =
      data.train_stream->take(scenes).batch(scenes).collect(epoch);
  EXPECT_EQ(batches.size(), 1u);
  return {batches.at(0).input, batches.at(0).target};
}

}  // namespace

TEST(Segmentation, TestScenesAreSeededAndEveryBrightPixelHasItsItemsClass) {
  const io::ModelSpec spec = io::resolve_model_spec("unet");
  train::Model model(io::build_model(spec), spec.name);
  const auto task = tasks::make_task("segmentation");
  const tasks::TaskData data = task->load(spec, model, "");
  const tasks::TaskData again = task->load(spec, model, "");
  ASSERT_EQ(data.x_test.shape(), (Shape{2000, 1, 64, 64}));
  ASSERT_EQ(data.class_names.size(), 11u);
  EXPECT_EQ(data.class_names[0], "background");
  EXPECT_EQ(data.x_test.to_vector<uint8_t>(), again.x_test.to_vector<uint8_t>());
  EXPECT_EQ(data.y_test.to_vector<uint8_t>(), again.y_test.to_vector<uint8_t>());
  std::set<size_t> counts;
  const double share = check_scenes(data.x_test, data.y_test, counts);
  EXPECT_TRUE(counts.count(1) && counts.count(4));
  // About a quarter of the pixels are an item's (2.5 items of ~ 330 bright pixels on 4096).
  EXPECT_GT(share, 0.1);
  EXPECT_LT(share, 0.35);
}

TEST(Segmentation, TrainingScenesAreNewEachEpochAndRepeatAcrossRuns) {
  const io::ModelSpec spec = io::resolve_model_spec("unet");
  train::Model model(io::build_model(spec), spec.name);
  const auto task = tasks::make_task("segmentation");
  const tasks::TaskData data = task->load(spec, model, "");
  const tasks::TaskData again = task->load(spec, model, "");
  ASSERT_TRUE(data.train_stream != nullptr);
  EXPECT_FALSE(data.x_train.defined());
  EXPECT_EQ(data.train_stream->cardinality(), 12000);
  const auto [pixels, classes] = training_scenes(data, 0, 300);
  const auto [pixels_again, classes_again] = training_scenes(again, 0, 300);
  const auto [next_pixels, next_classes] = training_scenes(data, 1, 300);
  // The same epoch gives the same scenes in every run; the next epoch other ones.
  EXPECT_EQ(pixels.to_vector<uint8_t>(), pixels_again.to_vector<uint8_t>());
  EXPECT_EQ(classes.to_vector<uint8_t>(), classes_again.to_vector<uint8_t>());
  EXPECT_NE(pixels.to_vector<uint8_t>(), next_pixels.to_vector<uint8_t>());
  // Training scenes differ from the test scenes and keep their invariants.
  EXPECT_NE(pixels.slice(0, 0, 1).to_vector<uint8_t>(),
            data.x_test.slice(0, 0, 1).to_vector<uint8_t>());
  std::set<size_t> counts;
  const double share = check_scenes(pixels, classes, counts);
  check_scenes(next_pixels, next_classes, counts);
  EXPECT_TRUE(counts.count(1) && counts.count(4));
  EXPECT_GT(share, 0.1);
  EXPECT_LT(share, 0.35);
}
