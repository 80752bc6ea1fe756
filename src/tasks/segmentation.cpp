// Task "segmentation": semantic segmentation of scenes composed from Fashion-MNIST (the `unet`
// preset). Each scene is a 64 x 64 canvas holding 1 to 4 items (28 x 28 images) at random places
// whose boxes do not overlap; a pixel's class is the item's class + 1 where the item's pixel is at
// least kSceneInk (10% of full brightness), else 0, background: 11 classes.
//
// The test scenes are fixed: drawn deterministically (seeded) from the test images, each used
// once, in order. The training scenes are composed anew every epoch (a data::Pipeline whose
// random map draws each scene's items from all 60,000 training images and places them), as a
// synthetic data set should be used: with the same 12,000 scenes every epoch, the U-Net learnt
// them (training loss 0.020 against 0.095 on the test scenes after 12 epochs) and reached a test
// mean IoU of 0.7916; fresh scenes never repeat, so the model must learn the items' classes
// rather than the scenes. The draws are seeded by (kSceneTrainSeed, epoch, scene): every run, at
// any thread count, trains on the same scenes.
//
// The model maps [1, 64, 64] pixels to class scores per pixel, classes last ([64, 64, 11], a
// Permute after the last convolution), trained by fit with the per-pixel cross-entropy
// (sparse_categorical_crossentropy reads the last axis as the classes, and its accuracy is the
// pixel accuracy). Judged by the test mean IoU over the 11 classes (the intersection over union of
// predicted and true pixels of each class, averaged), with each class's IoU.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

#include "nabla/data.hpp"
#include "nabla/pipeline.hpp"
#include "nabla/tasks.hpp"
#include "tasks/task_loop.hpp"

namespace nabla::tasks {
namespace {

constexpr int64_t kSceneSide = 64;
constexpr int64_t kSceneItemsMax = 4;
constexpr uint8_t kSceneInk = 26;             // pixels of an item at least this bright are its
constexpr int64_t kSceneTrainScenes = 12000;  // per epoch, composed anew each epoch
constexpr int64_t kSceneTestScenes = 2000;    // from the first ~5,000 test images
constexpr uint64_t kSceneTrainSeed = 1, kSceneTestSeed = 2;
constexpr int64_t kScenePlacementTries = 50;
constexpr int64_t kSceneShown = 8;  // scenes in segmentation.png
constexpr int64_t kSceneBatch = 100;

struct SceneSet {
  Tensor images;  // [S, 1, 64, 64] u8
  Tensor masks;   // [S, 64, 64] u8: 0 background, 1 + the item's class
};

// The images scenes are made of, as bytes: [N, H, W] pixels and N classes.
struct SceneItems {
  std::vector<uint8_t> pixels;
  std::vector<int64_t> classes;
  int64_t n = 0, h = 0, w = 0;
};

SceneItems scene_items(const Tensor& images, const Tensor& labels) {
  SceneItems items;
  items.n = images.size(0);
  items.h = images.size(1);
  items.w = images.size(2);
  NABLA_CHECK(items.h <= kSceneSide && items.w <= kSceneSide, "the segmentation task composes ",
              kSceneSide, " x ", kSceneSide, " scenes from images of at most that size, got ",
              items.h, " x ", items.w);
  items.pixels = images.contiguous().to_vector<uint8_t>();
  items.classes = labels.to(DType::i64).to_vector<int64_t>();
  return items;
}

// Puts item `index` on the scene (canvas and mask, kSceneSide^2 each) at the first of up to
// kScenePlacementTries top-left corners drawn by `below(bound)` (uniform in [0, bound)) where its
// box overlaps none of `placed`; false when none was free.
template <class Below>
bool place_item(const SceneItems& items, int64_t index, Below&& below,
                std::vector<std::pair<int64_t, int64_t>>& placed, uint8_t* canvas, uint8_t* mask) {
  const int64_t h = items.h, w = items.w;
  for (int64_t attempt = 0; attempt < kScenePlacementTries; ++attempt) {
    const int64_t y = below(kSceneSide - h + 1), x = below(kSceneSide - w + 1);
    const bool free = std::none_of(placed.begin(), placed.end(), [&](const auto& p) {
      return y < p.first + h && p.first < y + h && x < p.second + w && p.second < x + w;
    });
    if (!free) continue;
    placed.emplace_back(y, x);
    const uint8_t* source = items.pixels.data() + index * h * w;
    const auto label = static_cast<uint8_t>(1 + items.classes[static_cast<size_t>(index)]);
    for (int64_t r = 0; r < h; ++r) {
      for (int64_t c = 0; c < w; ++c) {
        const int64_t at = (y + r) * kSceneSide + x + c;
        canvas[at] = source[r * w + c];
        if (source[r * w + c] >= kSceneInk) mask[at] = label;
      }
    }
    return true;
  }
  return false;
}

// Scenes of 1-4 items, each image used once in order, until the images run out or `limit` scenes
// are made. std::mt19937_64's sequence is fixed by the standard (its distributions are not), so
// the scenes are the same on every platform.
SceneSet compose_scenes(const SceneItems& items, int64_t limit, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto below = [&rng](int64_t bound) { return static_cast<int64_t>(rng() % bound); };
  std::vector<uint8_t> canvas, mask;
  int64_t next = 0, scenes = 0;
  constexpr auto kPlane = static_cast<size_t>(kSceneSide * kSceneSide);
  while (next < items.n && scenes < limit) {
    const int64_t count = 1 + below(kSceneItemsMax);
    std::vector<std::pair<int64_t, int64_t>> placed;  // top-left corners
    const size_t offset = canvas.size();
    canvas.resize(offset + kPlane, 0);
    mask.resize(offset + kPlane, 0);
    for (int64_t item = 0; item < count && next < items.n; ++item) {
      if (place_item(items, next, below, placed, canvas.data() + offset, mask.data() + offset)) {
        ++next;
      }
    }
    ++scenes;
  }
  return {from_vector(canvas, {scenes, 1, kSceneSide, kSceneSide}),
          from_vector(mask, {scenes, kSceneSide, kSceneSide})};
}

// kSceneTrainScenes scenes per iteration (epoch), each of 1-4 items drawn at random from `items`
// by the random map's generator: a new set of scenes every epoch.
data::Pipeline fresh_scenes(std::shared_ptr<const SceneItems> items) {
  const auto compose = [items](data::Element, Generator& gen) {
    const auto below = [&gen](int64_t bound) { return gen.next_int(0, bound - 1); };
    std::vector<uint8_t> canvas(kSceneSide * kSceneSide, 0), mask(kSceneSide * kSceneSide, 0);
    std::vector<std::pair<int64_t, int64_t>> placed;
    const int64_t count = 1 + below(kSceneItemsMax);
    for (int64_t item = 0; item < count; ++item) {
      place_item(*items, below(items->n), below, placed, canvas.data(), mask.data());
    }
    data::Element scene;
    scene.input = from_vector(canvas, {1, kSceneSide, kSceneSide});
    scene.target = from_vector(mask, {kSceneSide, kSceneSide});
    return scene;
  };
  return data::Pipeline::from_function(kSceneTrainScenes, [](int64_t) { return data::Element{}; })
      .map_random(compose, kSceneTrainSeed);
}

// Predicted classes [S, 64, 64] (u8) of the model's per-pixel scores [S, 64, 64, C].
Tensor predicted_masks(train::Model& model, const Tensor& images) {
  std::vector<Tensor> batches;
  for (int64_t start = 0; start < images.size(0); start += kSceneBatch) {
    const Tensor scores = model.predict(
        images.slice(0, start, std::min(images.size(0), start + kSceneBatch)), kSceneBatch);
    batches.push_back(argmax(scores, -1).to(DType::u8));
  }
  return concat(batches, 0);
}

// Classes as colours [S, 3, H, W] u8: background black, the ten classes in ten distinct hues.
Tensor coloured(const Tensor& masks) {
  static const uint8_t kPalette[11][3] = {{0, 0, 0},      {230, 25, 75},  {60, 180, 75},
                                          {255, 225, 25}, {0, 130, 200},  {245, 130, 48},
                                          {145, 30, 180}, {70, 240, 240}, {240, 50, 230},
                                          {210, 245, 60}, {250, 190, 212}};
  const int64_t s = masks.size(0), plane = masks.size(1) * masks.size(2);
  const std::vector<uint8_t> classes = masks.contiguous().to_vector<uint8_t>();
  std::vector<uint8_t> out(static_cast<size_t>(s * 3 * plane));
  for (int64_t i = 0; i < s; ++i) {
    for (int64_t p = 0; p < plane; ++p) {
      const uint8_t c = std::min<uint8_t>(classes[static_cast<size_t>(i * plane + p)], 10);
      for (int64_t k = 0; k < 3; ++k)
        out[static_cast<size_t>((i * 3 + k) * plane + p)] = kPalette[c][k];
    }
  }
  return from_vector(out, {s, 3, masks.size(1), masks.size(2)});
}

class Segmentation : public Task {
 public:
  std::string name() const override { return "segmentation"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    internal::check_image_data(spec, "segmentation", "composes scenes from images");
    const Shape scene = {1, kSceneSide, kSceneSide};
    NABLA_CHECK(model.input_shape() == scene, "the segmentation task's scenes are ", scene,
                " pixels; the model takes ", model.input_shape());
    const Shape scores = {1, kSceneSide, kSceneSide, 11};  // output_shape() has a batch axis of 1
    NABLA_CHECK(model.num_outputs() == 1 && model.output_shape() == scores, "the segmentation ",
                "task needs per-pixel scores of its 11 classes, classes last ([N, 64, 64, 11]; a ",
                "Permute of [2, 3, 1] after a convolution of 11 channels), got ",
                model.output_shape());
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const data::MnistData images = data::load_mnist(folder, true);
    const SceneSet test = compose_scenes(scene_items(images.test_images, images.test_labels),
                                         kSceneTestScenes, kSceneTestSeed);
    TaskData out;
    out.train_stream = std::make_shared<const data::Pipeline>(fresh_scenes(
        std::make_shared<const SceneItems>(scene_items(images.train_images, images.train_labels))));
    out.x_test = test.images;
    out.y_test = test.masks;
    out.source =
        folder + " (" + std::to_string(kSceneTrainScenes) + " scenes composed anew each epoch)";
    out.dir = folder;
    out.class_names = {"background"};
    for (const std::string& name : data::fashion_mnist_classes()) out.class_names.push_back(name);
    return out;
  }

  // The fresh scenes batched, composed by a background thread while the previous batch trains.
  train::History train(train::Model& model, const TaskData& data,
                       const train::FitOptions& fit) const override {
    NABLA_CHECK(fit.validation_split == 0, "--validation-split: the segmentation task's training ",
                "scenes are composed anew each epoch, so none is held out; the test scenes are ",
                "evaluated");
    NABLA_CHECK(fit.augmentation == nullptr, "the segmentation task's augmentation would move ",
                "the pixels without their classes; its scenes are composed anew each epoch ",
                "instead (leave \"augmentation\" and --augment out)");
    NABLA_CHECK(fit.strategy == nullptr, "the segmentation task composes its scenes in a ",
                "pipeline, which data-parallel training cannot shard yet; run it in one process");
    return model.fit(data.train_stream->batch(fit.batch_size).prefetch(2), fit);
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const std::vector<uint8_t> predicted =
        predicted_masks(model, data.x_test).contiguous().to_vector<uint8_t>();
    const std::vector<uint8_t> truth = data.y_test.contiguous().to_vector<uint8_t>();
    constexpr int64_t kClasses = 11;
    std::vector<int64_t> both(kClasses, 0), predicted_count(kClasses, 0), true_count(kClasses, 0);
    for (size_t i = 0; i < truth.size(); ++i) {
      const int64_t p = std::min<int64_t>(predicted[i], kClasses - 1), t = truth[i];
      ++predicted_count[static_cast<size_t>(p)];
      ++true_count[static_cast<size_t>(t)];
      if (p == t) ++both[static_cast<size_t>(t)];
    }
    std::vector<Figure> per_class;
    double iou_sum = 0;
    for (int64_t c = 0; c < kClasses; ++c) {
      const auto k = static_cast<size_t>(c);
      const int64_t joint = predicted_count[k] + true_count[k] - both[k];
      if (joint == 0) continue;  // a class neither present nor predicted has no IoU
      const double iou = static_cast<double>(both[k]) / static_cast<double>(joint);
      iou_sum += iou;
      char line[96];
      std::snprintf(line, sizeof(line), "  IoU of %s: %.4f", data.class_names[k].c_str(), iou);
      per_class.push_back({"iou_class_" + std::to_string(c), iou, line});
    }
    const auto present = static_cast<int64_t>(per_class.size());
    const double mean_iou = present > 0 ? iou_sum / static_cast<double>(present) : 0;
    char text[160];
    std::snprintf(text, sizeof(text), "Test mean IoU (%lld classes, %lld scenes): %.4f",
                  static_cast<long long>(present), static_cast<long long>(data.x_test.size(0)),
                  mean_iou);
    std::vector<Figure> figures = {{"mean_iou", mean_iou, text}};
    figures.insert(figures.end(), per_class.begin(), per_class.end());
    return figures;
  }

  // segmentation.png: test scenes (top row), their true classes (middle) and the model's (bottom).
  void write_outputs(const io::ModelSpec&, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    const int64_t shown = std::min(kSceneShown, data.x_test.size(0));
    if (shown == 0) return;
    const Tensor scenes = data.x_test.slice(0, 0, shown);
    const Tensor grey = concat({scenes, scenes, scenes}, 1);
    const Tensor rows = concat(
        {grey, coloured(data.y_test.slice(0, 0, shown)), coloured(predicted_masks(model, scenes))},
        0);
    data::write_png((std::filesystem::path(dir) / "segmentation.png").string(),
                    data::image_grid(rows, shown));
  }
};

const bool kSegmentationRegistered =
    register_task("segmentation", [] { return std::make_unique<Segmentation>(); });

}  // namespace
}  // namespace nabla::tasks
