// Tasks as a library: the registry, tasks::run on a slice of Fashion-MNIST with its checkpoint
// folder, and a task of one's own (the example of docs/architecture.md, "Adding a task").
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "../data/test_util.hpp"
#include "nabla/tasks.hpp"
#include "support/errors.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;

TEST(Tasks, TheBuiltInTasksAreRegistered) {
  // The library's tasks, and "circle" and "failing_circle", which this test binary registers
  // below when it loads.
  EXPECT_EQ(tasks::task_names(),
            (std::vector<std::string>{"circle", "corpus", "digits", "failing_circle", "fortunes",
                                      "gan", "hopfield", "image_folder", "images", "rbm",
                                      "reconstruction", "retrieval", "segmentation", "tfrecord",
                                      "vae", "wide_deep", "word2vec"}));
  EXPECT_EQ(tasks::make_task("fortunes")->name(), "fortunes");
  EXPECT_EQ(error_message([] { tasks::make_task("imagez"); }),
            "unknown task \"imagez\"; tasks: circle, corpus, digits, failing_circle, fortunes, "
            "gan, hopfield, image_folder, images, rbm, reconstruction, retrieval, segmentation, "
            "tfrecord, vae, wide_deep, "
            "word2vec");
  EXPECT_NE(error_message([] {
              tasks::register_task("images", [] { return tasks::make_task("images"); });
            }).find("registered already"),
            std::string::npos);
  // The task follows from the spec.
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("mlp")), "images");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("textcnn")), "fortunes");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("charlm")), "corpus");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("seq2seq")), "digits");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("conv_autoencoder")), "reconstruction");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("vae")), "vae");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("dcgan")), "gan");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("cgan")), "gan");
  EXPECT_EQ(tasks::task_name_for(io::resolve_model_spec("unet")), "segmentation");
}

TEST(Tasks, RunTrainsJudgesAndWritesALoadableCheckpoint) {
  TempDir dir;
  tasks::RunOptions options;
  options.limit = 1000;
  options.epochs = 1;
  options.verbose = 0;
  options.out = dir.path().string();
  std::ostringstream log;
  options.log = &log;
  const tasks::RunResult result = tasks::run("mlp", options);
  EXPECT_EQ(result.task, "images");
  EXPECT_NE(log.str().find("Training mlp on /usr/share/datasets/fashion-mnist: 1000 samples"),
            std::string::npos)
      << log.str();
  ASSERT_EQ(result.figures.size(), 1u);
  EXPECT_EQ(result.figures[0].name, "test_accuracy");
  EXPECT_GT(result.figures[0].value, 0.6);  // 1000 images, one epoch
  EXPECT_EQ(result.figures[0].value, result.report["accuracy"]);
  for (const char* file : {tasks::kWeightsFile, tasks::kSpecFile, tasks::kMetricsFile,
                           tasks::kNormsFile, tasks::kReportFile}) {
    EXPECT_TRUE(std::filesystem::exists(dir.file(file))) << file;
  }
  // The checkpoint holds the spec with the settings it ran with, and its class names.
  std::map<std::string, std::string> metadata;
  train::Model model = train::Model::load(dir.file(tasks::kWeightsFile), &metadata);
  const io::ModelSpec spec = io::parse_model_spec(metadata.at(io::kModelSpecKey), "checkpoint");
  EXPECT_EQ(spec.training.epochs, 1);
  EXPECT_EQ(spec.input_shape, Shape({28, 28}));
  EXPECT_NE(metadata.at(io::kClassNamesKey).find("\"Ankle boot\""), std::string::npos);
  const tasks::TaskData data =
      tasks::make_task("images")->load(spec, model, metadata.at(io::kDataSourceKey));
  EXPECT_EQ(model.evaluate(data.x_test, data.y_test, 256, 0)["accuracy"],
            result.report["accuracy"]);
}

namespace {

// A task of one's own: points inside or outside the unit circle, judged by the share of points
// near the circle that the model gets right. Its training hook counts its calls and then trains
// as the default does (a task with a loop of its own would run it there).
int circle_trainings = 0;

class CircleTask : public tasks::Task {
 public:
  std::string name() const override { return "circle"; }
  train::History train(train::Model& model, const tasks::TaskData& data,
                       const train::FitOptions& fit) const override {
    ++circle_trainings;
    return Task::train(model, data, fit);
  }
  tasks::TaskData load(const io::ModelSpec&, const train::Model&,
                       const std::string&) const override {
    Generator gen(3);
    const auto split = [&](int64_t n, Tensor& x, Tensor& y) {
      x = sub(mul(rand({n, 2}, DType::f32, &gen), scalar_tensor(4.0)), scalar_tensor(2.0));
      y = lt(sum(mul(x, x), {1}), scalar_tensor(1.0)).to(DType::i64);
    };
    tasks::TaskData data;
    split(2000, data.x_train, data.y_train);
    split(500, data.x_test, data.y_test);
    data.source = "generated points";
    data.class_names = {"outside", "inside"};
    return data;
  }
  std::vector<tasks::Figure> judge(const io::ModelSpec&, train::Model& model,
                                   const tasks::TaskData& data,
                                   const train::EvaluationReport&) const override {
    const Tensor predicted = argmax(model.predict(data.x_test), 1);
    const Tensor radius = sqrt(sum(mul(data.x_test, data.x_test), {1}));
    int64_t near = 0, right = 0;
    for (int64_t i = 0; i < data.x_test.size(0); ++i) {
      if (std::abs(radius.at<float>({i}) - 1.0f) > 0.25f) continue;
      ++near;
      right += predicted.at<int64_t>({i}) == data.y_test.at<int64_t>({i});
    }
    const double value = near > 0 ? static_cast<double>(right) / static_cast<double>(near) : 0;
    return {{"boundary_accuracy", value, "Accuracy near the circle: " + std::to_string(value)}};
  }
};

const bool kCircleRegistered =
    tasks::register_task("circle", [] { return std::make_unique<CircleTask>(); });

}  // namespace

TEST(Tasks, ATaskOfOnesOwnRunsFromASpecThatNamesIt) {
  ASSERT_TRUE(kCircleRegistered);
  const io::ModelSpec spec = io::parse_model_spec(R"({"name": "circle_mlp", "task": "circle",
    "input_shape": [2],
    "layers": [{"type": "Dense", "units": 32, "activation": "relu"},
               {"type": "Dense", "units": 2, "activation": "softmax"}],
    "training": {"epochs": 20, "lr": 0.01}})",
                                                  "circle.json");
  tasks::RunOptions options;
  options.verbose = 0;
  std::ostringstream log;
  options.log = &log;
  const tasks::RunResult result = tasks::run(spec, options);
  EXPECT_EQ(result.task, "circle");
  EXPECT_EQ(circle_trainings, 1);
  EXPECT_EQ(result.history["loss"].size(), 20u);
  ASSERT_EQ(result.figures.size(), 2u);
  EXPECT_GT(result.figures[0].value, 0.9);  // test accuracy
  EXPECT_EQ(result.figures[1].name, "boundary_accuracy");
  EXPECT_GT(result.figures[1].value, 0.6);
  EXPECT_NE(log.str().find("Training circle_mlp on generated points: 2000 samples"),
            std::string::npos);
}

namespace {

// The circle task, failing after training: a run that fails once its files are being made.
class FailingCircleTask : public CircleTask {
 public:
  std::string name() const override { return "failing_circle"; }
  std::vector<tasks::Figure> judge(const io::ModelSpec&, train::Model&, const tasks::TaskData&,
                                   const train::EvaluationReport&) const override {
    NABLA_CHECK(false, "judging failed");
    return {};
  }
};

const bool kFailingCircleRegistered =
    tasks::register_task("failing_circle", [] { return std::make_unique<FailingCircleTask>(); });

io::ModelSpec circle_spec(const std::string& task) {
  return io::parse_model_spec(R"({"name": "circle_mlp", "task": ")" + task + R"(",
    "input_shape": [2],
    "layers": [{"type": "Dense", "units": 8, "activation": "relu"},
               {"type": "Dense", "units": 2, "activation": "softmax"}],
    "training": {"epochs": 1}})",
                              "circle.json");
}

}  // namespace

TEST(Tasks, ARunsFilesAppearTogetherAndAFailedRunLeavesThePreviousOnes) {
  ASSERT_TRUE(kFailingCircleRegistered);
  namespace fs = std::filesystem;
  TempDir dir;
  tasks::RunOptions options;
  options.verbose = 0;
  options.out = dir.path().string();
  std::ostringstream log;
  options.log = &log;
  tasks::run(circle_spec("circle"), options);
  const std::vector<std::string> outputs = {tasks::kWeightsFile, tasks::kSpecFile,
                                            tasks::kMetricsFile, tasks::kNormsFile,
                                            tasks::kReportFile};
  std::map<std::string, std::string> before;
  for (const std::string& file : outputs) before[file] = nabla::testing::read_bytes(dir.file(file));

  // What killed runs leave: temporary files of nabla's atomic writes (mkstemp's six characters,
  // or the process id of older versions) and the staging folder of a process that is gone (no
  // process id exceeds 2^22 on Linux). Files of other names, and the staging folder of a live
  // process (this one), stay.
  const std::vector<std::string> stale = {"model.safetensors.tmp-Ab12Cd", "model.json.tmp-48213",
                                          "metrics.csv.tmp-000000"};
  const std::vector<std::string> kept = {"notes.txt.tmp-Ab12Cd", "model.json.tmp-abc",
                                         "model.json.tmp-Ab12Cd.bak"};
  for (const std::string& file : stale) nabla::testing::write_bytes(dir.file(file), "partial");
  for (const std::string& file : kept) nabla::testing::write_bytes(dir.file(file), "mine");
  const std::string dead_staging = dir.file(".nabla-run-99999999-aB3dE9");
  const std::string live_staging = dir.file(".nabla-run-" + std::to_string(::getpid()) + "-zZ9yY8");
  fs::create_directory(dead_staging);
  fs::create_directory(live_staging);
  nabla::testing::write_bytes(dead_staging + "/metrics.csv", "epoch\n");

  // A run that fails after training: the previous run's files are untouched, the leftovers of
  // killed runs gone, and the failed run's own staging folder removed.
  EXPECT_EQ(error_message([&] { tasks::run(circle_spec("failing_circle"), options); }),
            "judging failed");
  for (const std::string& file : outputs) {
    EXPECT_EQ(nabla::testing::read_bytes(dir.file(file)), before[file]) << file;
  }
  for (const std::string& file : stale) EXPECT_FALSE(fs::exists(dir.file(file))) << file;
  for (const std::string& file : kept) EXPECT_TRUE(fs::exists(dir.file(file))) << file;
  EXPECT_FALSE(fs::exists(dead_staging));
  EXPECT_TRUE(fs::exists(live_staging));
  fs::remove(live_staging);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, outputs.size() + kept.size() + 1);  // and the checkpoints folder

  // A run that succeeds replaces all three.
  options.seed = 1;
  tasks::run(circle_spec("circle"), options);
  EXPECT_NE(nabla::testing::read_bytes(dir.file(tasks::kWeightsFile)), before[tasks::kWeightsFile]);
  entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, outputs.size() + kept.size() + 1);  // and the checkpoints folder
}

TEST(Tasks, AReportThatCannotBeWrittenLeavesTheCheckpointAndSaysSo) {
  ASSERT_TRUE(kCircleRegistered);
  namespace fs = std::filesystem;
  TempDir dir;
  // A folder where the report goes: the atomic rename over it fails.
  fs::create_directories(dir.file(tasks::kReportFile) + "/taken");
  tasks::RunOptions options;
  options.verbose = 0;
  options.out = dir.path().string();
  std::ostringstream log;
  options.log = &log;
  const std::string message = error_message([&] { tasks::run(circle_spec("circle"), options); });
  EXPECT_NE(message.find("the checkpoint was saved to " + options.out +
                         ", but report.html could "
                         "not be written: "),
            std::string::npos)
      << message;
  for (const char* file :
       {tasks::kWeightsFile, tasks::kSpecFile, tasks::kMetricsFile, tasks::kNormsFile}) {
    EXPECT_TRUE(fs::exists(dir.file(file))) << file;
  }
  EXPECT_NO_THROW(train::Model::load(dir.file(tasks::kWeightsFile)));

  // With the folder gone, `nabla report`'s library call writes the page from the files.
  fs::remove_all(dir.file(tasks::kReportFile));
  EXPECT_EQ(tasks::write_report(options.out), dir.file(tasks::kReportFile));
  const std::string html = nabla::testing::read_bytes(dir.file(tasks::kReportFile));
  EXPECT_NE(html.find("<svg class=\"heatmap\""), std::string::npos);
  EXPECT_NE(html.find(">inside</text>"), std::string::npos);  // the class names
  EXPECT_NE(html.find("No test image to show: the inputs are not images"), std::string::npos);
}
