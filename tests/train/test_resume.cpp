// Full checkpoints and exact resume: a fit stopped at any step and resumed from its checkpoint
// ends bit for bit where an uninterrupted fit ends; the training state survives its JSON; damaged
// or foreign checkpoints are errors that change nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "data/test_util.hpp"
#include "io/training_state.hpp"
#include "nabla/nabla.hpp"
#include "support/class_samples.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;

namespace {

// 52 samples of 6 features in 3 classes: 7 batches of 8 per epoch, the last one partial.
using Data = nabla::testing::ClassSamples;
Data make_data() { return nabla::testing::class_samples(52, 6, 3, 7); }

// Dropout draws from the default generator, the scheduler moves the rate every epoch, a
// validation split adds val_ figures: everything a resume must carry.
struct TrainingRun {
  train::Model model;
  std::shared_ptr<train::LearningRateScheduler> schedule;
};
TrainingRun make_run(int units = 16) {
  manual_seed(3);
  train::Model model(
      {layers::Dense(units, "relu"), layers::Dropout(0.25), layers::Dense(3, "softmax")});
  model.build({6});
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  auto scheduler = std::make_shared<optim::StepLR>(model.optimizer(), 1, 0.5);
  return {std::move(model), std::make_shared<train::LearningRateScheduler>(scheduler)};
}

train::FitOptions fit_options(const TrainingRun& run, std::vector<train::CallbackPtr> more = {}) {
  std::vector<train::CallbackPtr> callbacks = {run.schedule};
  callbacks.insert(callbacks.end(), more.begin(), more.end());
  return {.epochs = 3,
          .batch_size = 8,
          .validation_split = 0.125,
          .verbose = 0,
          .callbacks = callbacks,
          .seed = 11};
}

// Stops the fit after `steps` batches in all.
class StopAfter : public train::Callback {
 public:
  explicit StopAfter(int64_t steps) : steps_(steps) {}
  void on_batch_end(int64_t, const train::Logs&) override {
    if (++done_ == steps_) model().stop_training();
  }

 private:
  int64_t steps_, done_ = 0;
};

std::vector<std::vector<float>> weights(const train::Model& model) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, tensor] : model.module().state_dict()) {
    out.push_back(tensor.to_vector<float>());
  }
  return out;
}

// Trains to step `stop` with a checkpoint every step, then resumes a fresh model from the
// checkpoint of that step; returns the resumed run's history and final weights.
std::pair<train::History, std::vector<std::vector<float>>> stop_and_resume(const TempDir& dir,
                                                                           int64_t stop) {
  const Data data = make_data();
  const std::string pattern = dir.file("ckpt-{step:03d}.safetensors");
  {
    TrainingRun run = make_run();
    auto checkpoint = std::make_shared<train::ModelCheckpoint>(
        pattern, train::ModelCheckpointOptions{.every_steps = 1});
    // Same callback count and order as the resumed fit below: the checkpointer stands in for
    // the stopper.
    run.model.fit(data.x, data.y,
                  fit_options(run, {checkpoint, std::make_shared<StopAfter>(stop)}));
  }
  char name[32];
  std::snprintf(name, sizeof(name), "ckpt-%03lld.safetensors", static_cast<long long>(stop));
  TrainingRun resumed = make_run();
  manual_seed(12345);  // whatever the generator holds now, the checkpoint's state replaces it
  train::FitOptions options = fit_options(
      resumed, {std::make_shared<train::ModelCheckpoint>(dir.file("again-{step}.safetensors")),
                std::make_shared<StopAfter>(1000)});
  options.resume =
      std::make_shared<const train::TrainingState>(resumed.model.load_checkpoint(dir.file(name)));
  train::History history = resumed.model.fit(data.x, data.y, options);
  return {history, weights(resumed.model)};
}

}  // namespace

TEST(Resume, StoppedAtAnyStepEndsBitIdentical) {
  const Data data = make_data();
  TrainingRun reference = make_run();
  // The same callbacks as the checkpointed runs, so that all see the same sequence of calls.
  const train::History expected = reference.model.fit(
      data.x, data.y,
      fit_options(reference,
                  {std::make_shared<train::Callback>(), std::make_shared<StopAfter>(1000)}));
  const auto expected_weights = weights(reference.model);
  ASSERT_EQ(expected.epoch.size(), 3u);
  // Six batches per epoch (46 training samples): mid-epoch 1, its last batch, the first batch of
  // epoch 2, mid-epoch 3, and the very last step.
  for (int64_t stop : {3, 6, 7, 14, 18}) {
    TempDir dir;
    const auto [history, final_weights] = stop_and_resume(dir, stop);
    EXPECT_EQ(final_weights, expected_weights) << "stopped after step " << stop;
    EXPECT_EQ(history.epoch, expected.epoch) << "stopped after step " << stop;
    EXPECT_EQ(history.history, expected.history) << "stopped after step " << stop;
  }
}

TEST(Resume, TrainingStateSurvivesItsJson) {
  train::TrainingState state;
  state.epoch = 4;
  state.step = 17;
  state.global_step = 1234;
  state.seen = 544;
  state.loss_sum = 0.1 + 0.2;  // not representable in few digits
  state.output_sums = {1.0 / 3.0, std::numeric_limits<double>::infinity()};
  state.metrics = {{{3.0, 5.0}, {}}, {{0.5, 2.0}}};
  state.history.epoch = {0, 1};
  state.history.history["loss"] = {2.5, std::nextafter(1.0, 2.0)};
  state.history.history["val_loss"] = {std::numeric_limits<double>::quiet_NaN(), 1.0};
  Generator generator(9);
  generator.next_normal();  // a cached spare normal is part of the state
  state.generator = generator.state();
  state.callbacks = {{}, {{"best", 0.25}, {"wait", 2}}};

  const std::string json = io::internal::training_state_to_json(state);
  const train::TrainingState back = io::internal::training_state_from_json(json, "t.safetensors");
  EXPECT_EQ(back.epoch, 4);
  EXPECT_EQ(back.step, 17);
  EXPECT_EQ(back.global_step, 1234);
  EXPECT_EQ(back.seen, 544);
  EXPECT_EQ(back.loss_sum, 0.1 + 0.2);
  EXPECT_EQ(back.output_sums[0], 1.0 / 3.0);
  EXPECT_TRUE(std::isinf(back.output_sums[1]));
  EXPECT_EQ(back.metrics, state.metrics);
  EXPECT_EQ(back.history.epoch, state.history.epoch);
  EXPECT_EQ(back.history.history.at("loss"), state.history.history.at("loss"));
  EXPECT_TRUE(std::isnan(back.history.history.at("val_loss")[0]));
  EXPECT_EQ(back.generator, state.generator);
  EXPECT_EQ(back.callbacks, state.callbacks);
}

TEST(Resume, DamagedTrainingStateIsAnErrorNamingTheField) {
  const auto error_of = [](const std::string& json) {
    return error_message([&] { io::internal::training_state_from_json(json, "c.safetensors"); });
  };
  train::TrainingState state;
  const std::string good = io::internal::training_state_to_json(state);
  EXPECT_NE(error_of("{").find("c.safetensors"), std::string::npos);
  EXPECT_NE(error_of(R"({"version": 2})").find("this nabla reads version 1"), std::string::npos);
  std::string negative = good;
  negative.replace(negative.find("\"epoch\":0"), 9, "\"epoch\":-1");
  EXPECT_NE(error_of(negative).find("'epoch' is -1, expected a count >= 0"), std::string::npos)
      << error_of(negative);
  std::string generator = good;
  generator.replace(generator.find("\"generator\":[]"), 14, "\"generator\":[1,2]");
  EXPECT_NE(error_of(generator).find("'generator'"), std::string::npos) << error_of(generator);
}

TEST(Resume, ChecksumCatchesAFlippedBit) {
  TempDir dir;
  const std::string path = dir.file("c.safetensors");
  io::save_safetensors(path, {{"w", arange(64.0).to(DType::f32)}}, {{"note", "x"}}, true);
  EXPECT_EQ(io::load_safetensors(path).metadata.count(io::kChecksumKey), 1u);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(-7, std::ios::end);
  file.put('\x7f');
  file.close();
  const std::string error = error_message([&] { io::load_safetensors(path); });
  EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST(Resume, ACheckpointOfAnotherModelChangesNothing) {
  TempDir dir;
  const Data data = make_data();
  TrainingRun other = make_run(8);
  auto checkpoint = std::make_shared<train::ModelCheckpoint>(dir.file("other.safetensors"));
  other.model.fit(data.x, data.y, {.epochs = 1, .verbose = 0, .callbacks = {checkpoint}});

  TrainingRun run = make_run(16);
  run.model.fit(data.x, data.y, {.epochs = 1, .verbose = 0});
  const auto before = weights(run.model);
  const auto optimizer_before = run.model.optimizer().state_dict();
  const std::string error =
      error_message([&] { run.model.load_checkpoint(dir.file("other.safetensors")); });
  EXPECT_NE(error.find("other.safetensors"), std::string::npos) << error;
  EXPECT_NE(error.find("shape"), std::string::npos) << error;
  EXPECT_EQ(weights(run.model), before);
  const auto optimizer_after = run.model.optimizer().state_dict();
  ASSERT_EQ(optimizer_after.size(), optimizer_before.size());
  for (const auto& [key, value] : optimizer_before) {
    EXPECT_EQ(optimizer_after.at(key).to(DType::f64).to_vector<double>(),
              value.to(DType::f64).to_vector<double>())
        << key;
  }
  // A full checkpoint still loads as a plain model.
  io::LoadedModel loaded = io::load_model(dir.file("other.safetensors"));
  EXPECT_EQ(loaded.model->state_dict().size(), 4u);
}

TEST(Resume, ModelCheckpointKeepsTheNewestFiles) {
  TempDir dir;
  const Data data = make_data();
  TrainingRun run = make_run();
  auto checkpoint = std::make_shared<train::ModelCheckpoint>(
      dir.file("ckpt-{step:03d}.safetensors"),
      train::ModelCheckpointOptions{.every_steps = 2, .keep = 2});
  run.model.fit(data.x, data.y,
                {.epochs = 2, .batch_size = 8, .verbose = 0, .callbacks = {checkpoint}});
  ASSERT_EQ(checkpoint->saved().size(), 7u);  // steps 2, 4, ..., 14
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"ckpt-012.safetensors", "ckpt-014.safetensors"}));
}

TEST(Resume, CallbacksCarryTheirState) {
  train::EarlyStopping stopping({.monitor = "loss", .patience = 3});
  stopping.on_train_begin();
  train::Logs logs;
  logs.set("loss", 0.5);
  // on_epoch_end needs no model while the value improves or patience is left.
  stopping.on_epoch_end(0, logs);
  logs.set("loss", 0.7);
  stopping.on_epoch_end(1, logs);
  std::map<std::string, double> values;
  stopping.save_state(values);
  EXPECT_EQ(values.at("best"), 0.5);
  EXPECT_EQ(values.at("wait"), 1);
  train::EarlyStopping restored({.monitor = "loss", .patience = 3});
  restored.on_train_begin();
  restored.restore_state(values, {});
  EXPECT_EQ(restored.best(), 0.5);
  EXPECT_EQ(restored.best_epoch(), 0);

  train::Accuracy accuracy;
  accuracy.set_state({3, 4});
  EXPECT_EQ(accuracy.result(), 0.75);
  EXPECT_EQ(accuracy.state(), (std::vector<double>{3, 4}));
  EXPECT_NE(error_message([&] { accuracy.set_state({1}); }).find("expected a state of 2"),
            std::string::npos);
}

// Keras's BackupAndRestore test, with bits: a fit that fails mid-epoch (a callback throws) leaves
// its backups; the same fit started again resumes from the newest and ends bit for bit where an
// uninterrupted fit ends, then removes the backups. A damaged newest backup is skipped, with a
// warning, for the one before it.
TEST(Resume, BackupAndRestoreResumesAFailedFit) {
  const Data data = make_data();
  TrainingRun reference = make_run();
  const train::History expected = reference.model.fit(
      data.x, data.y,
      fit_options(reference,
                  {std::make_shared<train::Callback>(), std::make_shared<train::Callback>()}));
  const auto expected_weights = weights(reference.model);

  for (const bool damage_newest : {false, true}) {
    TempDir dir;
    const std::string backup_dir = dir.file("backup");
    {
      TrainingRun run = make_run();
      int64_t steps = 0;
      auto crash = std::make_shared<train::LambdaCallback>(
          train::LambdaCallbackFunctions{.on_batch_end = [&](int64_t, const train::Logs&) {
            if (++steps == 9) throw std::runtime_error("the machine went away");
          }});
      auto backup = std::make_shared<train::BackupAndRestore>(
          backup_dir, train::BackupAndRestoreOptions{.every_steps = 2});
      EXPECT_THROW(run.model.fit(data.x, data.y, fit_options(run, {backup, crash})),
                   std::runtime_error);
      // Steps 6 and 8 are kept (keep 2); step 9 crashed before any backup of it.
      EXPECT_EQ(backup->backups(),
                (std::vector<std::string>{backup_dir + "/backup-000000000008.safetensors",
                                          backup_dir + "/backup-000000000006.safetensors"}));
      if (damage_newest) {
        std::string bytes = nabla::testing::read_bytes(backup->backups()[0]);
        bytes[bytes.size() - 3] ^= 0x10;
        nabla::testing::write_bytes(backup->backups()[0], bytes);
      }
    }
    TrainingRun resumed = make_run();
    auto backup = std::make_shared<train::BackupAndRestore>(
        backup_dir, train::BackupAndRestoreOptions{.every_steps = 2});
    int64_t steps_run = 0;
    auto counter = std::make_shared<train::LambdaCallback>(train::LambdaCallbackFunctions{
        .on_batch_end = [&](int64_t, const train::Logs&) { ++steps_run; }});
    ::testing::internal::CaptureStderr();
    const train::History history =
        resumed.model.fit(data.x, data.y, fit_options(resumed, {backup, counter}));
    const std::string warnings = ::testing::internal::GetCapturedStderr();
    // 18 steps in all: resumed after step 8, or after step 6 when that backup is damaged.
    EXPECT_EQ(steps_run, damage_newest ? 12 : 10);
    EXPECT_EQ(weights(resumed.model), expected_weights) << "damaged: " << damage_newest;
    EXPECT_EQ(history.history, expected.history) << "damaged: " << damage_newest;
    EXPECT_EQ(warnings.find("skipping the damaged backup " + backup_dir +
                            "/backup-000000000008.safetensors") != std::string::npos,
              damage_newest)
        << warnings;
    EXPECT_FALSE(std::filesystem::exists(backup_dir));  // removed once the fit ended
  }
}
