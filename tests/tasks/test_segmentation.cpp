// The segmentation task's scenes (the unet preset's data): deterministic, items that never
// overlap, and a class on exactly the pixels bright enough to be an item's.
#include <gtest/gtest.h>

#include <set>

#include "nabla/nabla.hpp"
#include "nabla/tasks.hpp"

using namespace nabla;

TEST(Segmentation, ScenesAreSeededAndEveryBrightPixelHasItsItemsClass) {
  const io::ModelSpec spec = io::resolve_model_spec("unet");
  train::Model model(io::build_model(spec), spec.name);
  const auto task = tasks::make_task("segmentation");
  const tasks::TaskData data = task->load(spec, model, "");
  const tasks::TaskData again = task->load(spec, model, "");
  ASSERT_EQ(data.x_train.shape(), (Shape{12000, 1, 64, 64}));
  ASSERT_EQ(data.y_train.shape(), (Shape{12000, 64, 64}));
  ASSERT_EQ(data.x_test.shape(), (Shape{2000, 1, 64, 64}));
  ASSERT_EQ(data.class_names.size(), 11u);
  EXPECT_EQ(data.class_names[0], "background");
  EXPECT_EQ(data.x_train.to_vector<uint8_t>(), again.x_train.to_vector<uint8_t>());
  EXPECT_EQ(data.y_test.to_vector<uint8_t>(), again.y_test.to_vector<uint8_t>());
  // The training and test scenes are drawn from different images with different seeds.
  EXPECT_NE(data.x_train.slice(0, 0, 1).to_vector<uint8_t>(),
            data.x_test.slice(0, 0, 1).to_vector<uint8_t>());
  const std::vector<uint8_t> pixels = data.x_test.to_vector<uint8_t>();
  const std::vector<uint8_t> classes = data.y_test.to_vector<uint8_t>();
  int64_t foreground = 0;
  std::set<size_t> items_per_scene;
  for (int64_t s = 0; s < 2000; ++s) {
    std::set<uint8_t> present;
    for (int64_t p = 0; p < 64 * 64; ++p) {
      const auto at = static_cast<size_t>(s * 64 * 64 + p);
      ASSERT_LE(classes[at], 10) << "scene " << s;
      // Items do not overlap and the canvas is black: a pixel is an item's exactly when bright.
      ASSERT_EQ(classes[at] != 0, pixels[at] >= 26) << "scene " << s << ", pixel " << p;
      if (classes[at] != 0) present.insert(classes[at]);
      foreground += classes[at] != 0;
    }
    ASSERT_LE(present.size(), 4u) << "scene " << s;  // at most 4 items, so at most 4 classes
    items_per_scene.insert(present.size());
  }
  EXPECT_TRUE(items_per_scene.count(1) && items_per_scene.count(4));
  // About a quarter of the pixels are an item's (2.5 items of ~ 330 bright pixels on 4096).
  const double share = static_cast<double>(foreground) / (2000.0 * 64 * 64);
  EXPECT_GT(share, 0.1);
  EXPECT_LT(share, 0.35);
}
