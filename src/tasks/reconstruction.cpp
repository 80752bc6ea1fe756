// Task "reconstruction": autoencoders on IDX images in the MNIST layout, Fashion-MNIST by
// default. The targets are the images themselves as pixels in [0, 1], shaped as the model's
// output ([N, 784] for a dense autoencoder, [N, 1, 28, 28] for a convolutional one). A training
// augmentation corrupts the inputs only (the denoising autoencoder's GaussianNoise), so the model
// learns to give back the clean image.
//
// Judged by the test reconstruction MSE per pixel against PCA with as many components as the
// model's code (its narrowest layer), fitted by nabla on the same training images: PCA is the best
// linear code of that size, so an autoencoder that does not beat it has learned nothing a
// projection could not. With an augmentation, also the MSE of the clean test images rebuilt from
// corrupted ones, against PCA on the same corrupted inputs. With --out, writes
// reconstructions.png: test originals, their corrupted inputs (if any), the reconstructions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "nabla/data.hpp"
#include "nabla/ops.hpp"
#include "nabla/tasks.hpp"
#include "tasks/task_loop.hpp"
#include "train/layer_graph.hpp"

namespace nabla::tasks {
namespace {

constexpr const char* kReconstructionsFile = "reconstructions.png";
constexpr int64_t kImagesShown = 10;
constexpr double kPictureScale = 2;      // 28 pixels are too small to see on a screen
constexpr uint64_t kCorruptionSeed = 0;  // the corrupted test inputs are the same in every run
constexpr int64_t kPredictBatch = 256;

// The size of the model's code: its narrowest layer's output per sample.
int64_t code_size(const train::Model& model) {
  int64_t narrowest = 0;
  for (const train::internal::LayerNode& node : train::internal::layer_graph(model)) {
    if (node.type == "InputLayer") continue;
    const int64_t size = internal::values_per_sample(node.output_shape);
    if (narrowest == 0 || size < narrowest) narrowest = size;
  }
  return narrowest;
}

// Mean squared difference per value, in double.
double mean_squared_error(const Tensor& a, const Tensor& b) {
  NABLA_CHECK(a.numel() == b.numel(), "reconstruction: expected ", b.numel(),
              " values to compare with the targets, got shape ", a.shape());
  const Tensor x = a.to(DType::f32).contiguous(), y = b.to(DType::f32).contiguous();
  const float* p = x.data<float>();
  const float* q = y.data<float>();
  double sum = 0;
  for (int64_t i = 0; i < x.numel(); ++i) sum += (double{p[i]} - q[i]) * (double{p[i]} - q[i]);
  return sum / static_cast<double>(x.numel());
}

Figure mse_figure(const std::string& name, const std::string& label, double value) {
  char text[160];
  std::snprintf(text, sizeof(text), "%s: %.4f", label.c_str(), value);
  return {name, value, text};
}

// The test inputs as the training augmentation corrupts them, drawn with a fixed seed; undefined
// when the spec trains without augmentation.
Tensor corrupted_test_inputs(const io::ModelSpec& spec, const TaskData& data) {
  if (!spec.training.augmentation) return {};
  Generator gen(kCorruptionSeed);
  return spec.training.augmentation->apply(data.x_test, gen);
}

// Samples [n, ...] as pictures [n, 1, H, W] in [0, 1], scaled up for the eye; the side comes
// from the inputs ([N, H, W] or [N, 1, H, W]) or, for flat inputs, their square root.
Tensor as_pictures(const Tensor& samples, const Tensor& inputs) {
  int64_t height = 0, width = 0;
  if (inputs.dim() >= 3) {
    height = inputs.size(inputs.dim() - 2);
    width = inputs.size(inputs.dim() - 1);
  } else {
    height = width =
        std::llround(std::sqrt(static_cast<double>(internal::values_per_sample(inputs.shape()))));
  }
  NABLA_CHECK(height * width == internal::values_per_sample(samples.shape()),
              "reconstruction: cannot draw samples ", "of shape ", samples.shape(),
              " as images of the inputs' ", inputs.shape());
  Tensor pictures = samples.to(DType::f32).contiguous().clone();
  float* p = pictures.data<float>();
  // A model without a final sigmoid can leave [0, 1]; the picture shows the nearest grey.
  for (int64_t i = 0; i < pictures.numel(); ++i)
    p[i] = std::isnan(p[i]) ? 0 : std::clamp(p[i], 0.f, 1.f);
  return upsample(pictures.reshape({samples.size(0), 1, height, width}), kPictureScale);
}

class Reconstruction : public Task {
 public:
  std::string name() const override { return "reconstruction"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    internal::check_image_data(spec, "reconstruction", "reads images");
    NABLA_CHECK(model.built(), "the reconstruction task shapes its targets as the model's output: ",
                "give the spec an \"input_shape\", e.g. [28, 28]");
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const data::MnistData images = data::load_mnist(folder, model.takes_raw_inputs());
    return internal::image_reconstruction_data(images, model, folder, "reconstruction");
  }

  std::vector<Figure> judge(const io::ModelSpec& spec, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const int64_t code = code_size(model);
    const train::PCA linear = train::pca(data.y_train, code);
    const std::string pca_label = "PCA with " + std::to_string(code) + " components";
    std::vector<Figure> figures = {
        mse_figure("test_reconstruction_mse", "Test reconstruction MSE",
                   mean_squared_error(model.predict(data.x_test, kPredictBatch), data.y_test)),
        mse_figure("pca_reconstruction_mse", pca_label,
                   mean_squared_error(linear.reconstruct(data.y_test), data.y_test))};
    const Tensor corrupted = corrupted_test_inputs(spec, data);
    if (corrupted.defined()) {
      figures.push_back(
          mse_figure("test_denoising_mse", "Test denoising MSE",
                     mean_squared_error(model.predict(corrupted, kPredictBatch), data.y_test)));
      figures.push_back(mse_figure(
          "pca_denoising_mse", pca_label + " on the corrupted inputs",
          mean_squared_error(linear.reconstruct(internal::unit_pixels(corrupted)), data.y_test)));
    }
    return figures;
  }

  // Rows of kImagesShown test images: the originals, the corrupted inputs (with an
  // augmentation), and what the model made of the inputs.
  void write_outputs(const io::ModelSpec& spec, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    const int64_t shown = std::min(kImagesShown, data.x_test.size(0));
    if (shown == 0) return;
    Tensor inputs = data.x_test.slice(0, 0, shown);
    std::vector<Tensor> rows = {as_pictures(data.y_test.slice(0, 0, shown), inputs)};
    const Tensor corrupted = corrupted_test_inputs(spec, data);
    if (corrupted.defined()) {
      inputs = corrupted.slice(0, 0, shown);
      rows.push_back(as_pictures(internal::unit_pixels(inputs), inputs));
    }
    rows.push_back(as_pictures(model.predict(inputs, kPredictBatch), inputs));
    const auto path = std::filesystem::path(dir) / kReconstructionsFile;
    data::write_png(path.string(), data::image_grid(concat(rows, 0), shown));
  }
};

const bool kReconstructionRegistered =
    register_task("reconstruction", [] { return std::make_unique<Reconstruction>(); });

}  // namespace
}  // namespace nabla::tasks
