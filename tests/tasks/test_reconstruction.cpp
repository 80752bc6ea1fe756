// The reconstruction task (autoencoders): a tiny run of each dense preset on a slice of
// Fashion-MNIST, its figures against the trivial baseline of the mean image, the picture it
// writes, and the models it cannot judge.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "../data/test_util.hpp"
#include "nabla/tasks.hpp"
#include "support/errors.hpp"

using namespace nabla;

namespace {

constexpr int64_t kReconstructionSlice = 256;

// The MSE per pixel of predicting, for every test image, the mean of the first `n` training
// images: what a model that ignores its input can do.
double mean_image_mse(int64_t n) {
  const data::MnistData images = data::load_mnist(data::kFashionMnistDir);
  const Tensor mean_image = mean(images.train_images.slice(0, 0, n), {0});
  return mean(square(sub(images.test_images, mean_image))).item();
}

tasks::RunResult run_reconstruction(const std::string& preset, const std::string& out) {
  tasks::RunOptions options;
  options.limit = kReconstructionSlice;
  // One epoch in batches of 8 at lr 0.003: 32 steps, MSE 0.055 (seed 0; the preset's batches of
  // 64 at lr 0.001 take 4 steps and stay above the mean image's 0.087).
  options.epochs = 1;
  options.batch_size = 8;
  options.lr = 0.003;
  options.verbose = 0;
  options.out = out;
  std::ostringstream log;
  options.log = &log;
  return tasks::run(preset, options);
}

std::vector<std::string> figure_names(const tasks::RunResult& result) {
  std::vector<std::string> names;
  for (const tasks::Figure& figure : result.figures) names.push_back(figure.name);
  return names;
}

}  // namespace

TEST(ReconstructionTask, ATinyAutoencoderBeatsTheMeanImageAndDrawsItsReconstructions) {
  nabla::testing::TempDir dir;
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("autoencoder")), "reconstruction");
  const tasks::RunResult result = run_reconstruction("autoencoder", dir.path().string());
  EXPECT_EQ(result.task, "reconstruction");
  ASSERT_EQ(figure_names(result), (std::vector<std::string>{"test_loss", "test_reconstruction_mse",
                                                            "pca_reconstruction_mse"}));
  const double model_mse = result.figures[1].value, pca_mse = result.figures[2].value;
  EXPECT_EQ(result.figures[1].text.rfind("Test reconstruction MSE: 0.0", 0), 0u)
      << result.figures[1].text;
  EXPECT_EQ(result.figures[2].text.rfind("PCA with 32 components: 0.0", 0), 0u)
      << result.figures[2].text;
  // The loss is the MSE over every pixel of the test set, as the figure is.
  EXPECT_NEAR(model_mse, result.report["loss"], 1e-5);
  const double baseline = mean_image_mse(kReconstructionSlice);
  EXPECT_TRUE(std::isfinite(model_mse));
  EXPECT_LT(model_mse, baseline);
  // 32 components of 256 images explain much of the variance the mean image leaves.
  EXPECT_LT(pca_mse, 0.5 * baseline);
  // Two rows of ten test images, each drawn at twice its size with image_grid's 2-pixel padding.
  const Tensor picture = data::read_image(dir.file("reconstructions.png"));
  EXPECT_EQ(picture.shape(), (Shape{2 * (56 + 2) + 2, 10 * (56 + 2) + 2}));
}

TEST(ReconstructionTask, TheDenoisingAutoencoderIsAlsoJudgedOnCorruptedInputs) {
  nabla::testing::TempDir dir;
  const tasks::RunResult result = run_reconstruction("denoising_autoencoder", dir.path().string());
  ASSERT_EQ(
      figure_names(result),
      (std::vector<std::string>{"test_loss", "test_reconstruction_mse", "pca_reconstruction_mse",
                                "test_denoising_mse", "pca_denoising_mse"}));
  EXPECT_EQ(result.figures[4].text.rfind("PCA with 32 components on the corrupted inputs: ", 0), 0u)
      << result.figures[4].text;
  // Noise of 0.2 per pixel costs the linear code: part of it passes through the projection.
  EXPECT_GT(result.figures[4].value, result.figures[2].value);
  EXPECT_TRUE(std::isfinite(result.figures[3].value));
  EXPECT_LT(result.figures[3].value, mean_image_mse(kReconstructionSlice));
  // Originals, noisy inputs, reconstructions.
  const Tensor picture = data::read_image(dir.file("reconstructions.png"));
  EXPECT_EQ(picture.shape(), (Shape{3 * (56 + 2) + 2, 10 * (56 + 2) + 2}));
}

TEST(ReconstructionTask, AModelThatDoesNotGiveBackAnImageIsAnError) {
  io::ModelSpec classifier = io::resolve_model_spec("mlp");
  classifier.task = "reconstruction";
  EXPECT_EQ(nabla::testing::error_message([&] {
              tasks::RunOptions options;
              options.limit = 64;
              options.verbose = 0;
              tasks::run(classifier, options);
            }),
            "the reconstruction task needs a model whose output holds one value per pixel (28 x 28 "
            "= 784), got output shape [1, 10]");
}
