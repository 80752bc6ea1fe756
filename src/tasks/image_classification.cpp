// Task "images": image classification on IDX files in the MNIST layout, Fashion-MNIST by default.
// Judged by the test accuracy alone (evaluate() adds per-class scores and the confusion matrix).
#include <cctype>

#include "core/text.hpp"
#include "nabla/data.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

// Fashion-MNIST's class names for its folder, else the label numbers.
std::vector<std::string> class_names_for(const std::string& folder, int64_t classes) {
  const std::string lowered = nabla::internal::lowercase(folder);
  const auto& fashion = data::fashion_mnist_classes();
  if (lowered.find("fashion") != std::string::npos &&
      classes == static_cast<int64_t>(fashion.size())) {
    return fashion;
  }
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

class ImageClassification : public Task {
 public:
  std::string name() const override { return "images"; }

  // Raw bytes for a model that starts with a Rescaling layer (every image preset: 47 MB instead
  // of 188 MB for the training set), [0, 1] floats otherwise; viewed as the model's input shape.
  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const bool raw = model.takes_raw_inputs();
    data::MnistData images = data::load_mnist(folder, raw);
    const Shape& input_shape = model.built() ? model.input_shape() : spec.input_shape;
    TaskData out;
    out.x_train = train::view_as_input_shape(images.train_images, input_shape,
                                             "the training images in " + folder);
    out.x_test =
        train::view_as_input_shape(images.test_images, input_shape, "the test images in " + folder);
    out.y_train = images.train_labels.to(DType::i64);
    out.y_test = images.test_labels.to(DType::i64);
    out.source = folder;
    out.dir = folder;
    const int64_t classes = model.built() && model.output_shape().size() == 2
                                ? model.output_shape()[1]
                                : static_cast<int64_t>(data::fashion_mnist_classes().size());
    out.class_names = class_names_for(folder, classes);
    return out;
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model&, const TaskData&,
                            const train::EvaluationReport&) const override {
    return {};
  }
};

const bool kImagesRegistered =
    register_task("images", [] { return std::make_unique<ImageClassification>(); });

}  // namespace
}  // namespace nabla::tasks
