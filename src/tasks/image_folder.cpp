// Task "image_folder": image classification on a folder of class folders of PNG/JPEG files
// (data::load_image_folder). The model's input shape [C, H, W] says how the images are read:
// C = 1 grayscale or 3 RGB, resized to H x W; the spec's "data" section gives the held-out
// fraction, the split's seed and whether bad images are skipped. Judged by the test accuracy.
#include <iostream>

#include "nabla/data.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

class ImageFolderTask : public Task {
 public:
  std::string name() const override { return "image_folder"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    NABLA_CHECK(!dir.empty(), "model ", spec.name, ": the image_folder task reads a folder of ",
                "class folders; give it with --data DIR");
    const Shape& shape = model.built() ? model.input_shape() : spec.input_shape;
    NABLA_CHECK(shape.size() == 3 && (shape[0] == 1 || shape[0] == 3), "model ", spec.name,
                ": an image folder needs a model taking images [C, H, W] with C = 1 (grayscale) ",
                "or 3 (RGB), got input shape ", shape);
    data::ImageFolderOptions options;
    options.channels = shape[0];
    options.height = shape[1];
    options.width = shape[2];
    if (spec.data) {
      options.test_fraction = spec.data->test_fraction;
      options.seed = spec.data->seed;
      options.skip_bad_records = spec.data->skip_bad_records;
    }
    data::ImageFolderData images = data::load_image_folder(dir, options);
    // Raw bytes for a model that rescales them itself (every image preset), else [0, 1].
    const bool raw = model.takes_raw_inputs();
    const auto as_inputs = [&](const Tensor& x) { return raw ? x : data::scale(x, 1.0 / 255); };
    TaskData out;
    out.x_train = as_inputs(images.train_images);
    out.x_test = as_inputs(images.test_images);
    out.y_train = images.train_labels;
    out.y_test = images.test_labels;
    out.source = dir;
    out.dir = dir;
    out.class_names = images.class_names;
    return out;
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model&, const TaskData&,
                            const train::EvaluationReport&) const override {
    return {};
  }
};

const bool kImageFolderRegistered =
    register_task("image_folder", [] { return std::make_unique<ImageFolderTask>(); });

}  // namespace
}  // namespace nabla::tasks
