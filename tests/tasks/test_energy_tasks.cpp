// The hopfield and rbm tasks called from C++ (tasks::run): their figures in order, their values
// on the preset (Hopfield) or a small machine on a slice (RBM), the files they draw, and a run's
// checkpoint holding the stored patterns.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "../data/test_util.hpp"
#include "nabla/energy.hpp"
#include "nabla/tasks.hpp"
#include "support/errors.hpp"

using namespace nabla;

namespace {

std::vector<std::string> energy_figure_names(const tasks::RunResult& result) {
  std::vector<std::string> names;
  for (const tasks::Figure& figure : result.figures) names.push_back(figure.name);
  return names;
}

tasks::RunOptions energy_run_options(const std::string& out, std::ostringstream& log) {
  tasks::RunOptions options;
  options.verbose = 0;
  options.out = out;
  options.log = &log;
  return options;
}

}  // namespace

TEST(EnergyTasks, HopfieldRecallsImagesAndShowsTheCapacityCollapse) {
  nabla::testing::TempDir dir;
  std::ostringstream log;
  const tasks::RunResult result =
      tasks::run("hopfield", energy_run_options(dir.path().string(), log));
  EXPECT_EQ(result.task, "hopfield");
  ASSERT_EQ(energy_figure_names(result),
            (std::vector<std::string>{"test_loss", "images_recalled", "images_recalled_hebbian",
                                      "hebbian_capacity", "storkey_capacity"}));
  EXPECT_NEAR(result.figures[1].value, 0.6, 1e-9);  // 6 of the 10 images, Storkey's rule
  EXPECT_EQ(result.figures[2].value, 0);            // the Hebbian rule: none
  EXPECT_NEAR(result.figures[3].value, 0.10, 1e-9);
  EXPECT_NEAR(result.figures[4].value, 0.36, 1e-9);
  for (const char* file : {"capacity.svg", "recall.png", "model.safetensors"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() / file)) << file;
  }
  // The checkpoint holds the weights the patterns made: the model loaded from it recalls alike.
  train::Model loaded = train::Model::load((dir.path() / "model.safetensors").string());
  const auto* hopfield = dynamic_cast<nn::Sequential&>(loaded.module()).layers()[0].get();
  ASSERT_NE(dynamic_cast<const nn::Hopfield*>(hopfield), nullptr);
  EXPECT_EQ(dynamic_cast<const nn::Hopfield*>(hopfield)->stored(), 10);
}

TEST(EnergyTasks, RbmTrainsOnASliceAndDrawsFiltersAndChains) {
  nabla::testing::TempDir dir;
  std::ostringstream log;
  tasks::RunOptions options = energy_run_options(dir.path().string(), log);
  options.limit = 512;
  options.epochs = 1;
  options.batch_size = 16;
  const io::ModelSpec spec = io::parse_model_spec(
      R"({"name": "rbm_tiny", "task": "rbm", "input_shape": [784],
          "layers": [{"type": "RBM", "units": 32, "cd_steps": 1, "persistent": true}],
          "training": {"optimizer": "sgd", "lr": 0.1, "loss": "mse", "metrics": []}})",
      "rbm_tiny");
  const tasks::RunResult result = tasks::run(spec, options);
  ASSERT_EQ(energy_figure_names(result),
            (std::vector<std::string>{"test_loss", "pseudo_log_likelihood", "rbm_features_accuracy",
                                      "raw_pixels_accuracy"}));
  EXPECT_LT(result.figures[0].value, 0.2);   // 0.25 before training
  EXPECT_GT(result.figures[1].value, -450);  // 784 log 0.5 = -543 before training
  EXPECT_GT(result.figures[2].value, 0.13);  // 0.1753 (seed 0); chance is 0.1
  EXPECT_EQ(result.history.epoch.size(), 1u);
  EXPECT_EQ(result.history["loss"].size(), 1u);
  for (const char* file : {"filters.png", "samples.png", "metrics.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() / file)) << file;
  }
}
