// The single-process side of data-parallel training: sharded loaders, the gradient hooks the
// buckets start from, DataParallel in a world of one (which must change nothing), rank-0-only
// callbacks, and checkpoints that record how many processes wrote them. The multi-process checks
// run under mpirun (tests/dist/data_parallel_check.cpp).
#include <gtest/gtest.h>

#include "io/training_state.hpp"
#include "nabla/dist.hpp"
#include "nabla/nabla.hpp"
#include "support/class_samples.hpp"
#include "support/errors.hpp"
#include "support/weights.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

std::vector<float> batch_values(const data::Batch& batch) {
  return batch.size() == 0 ? std::vector<float>{} : batch.inputs.to(DType::f32).to_vector<float>();
}

}  // namespace

TEST(ShardedLoader, ShardsOfABatchMakeTheUnshardedBatch) {
  const Tensor x = arange(25.0).reshape({25, 1});
  const Tensor y = arange(25.0);
  data::DataLoader whole(x, y, {.batch_size = 12, .seed = 4, .prefetch = false});
  std::vector<std::unique_ptr<data::DataLoader>> shards;
  for (int64_t r = 0; r < 3; ++r) {
    shards.push_back(std::make_unique<data::DataLoader>(
        x, y,
        data::DataLoaderOptions{
            .batch_size = 4, .seed = 4, .prefetch = false, .shard_index = r, .shard_count = 3}));
  }
  ASSERT_EQ(whole.num_batches(), 3);
  for (const auto& shard : shards) ASSERT_EQ(shard->num_batches(), 3);
  EXPECT_EQ(shards[0]->global_batch_size(0), 12);
  EXPECT_EQ(shards[0]->global_batch_size(2), 1);  // 25 = 12 + 12 + 1
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    whole.start_epoch(epoch);
    for (const auto& shard : shards) shard->start_epoch(epoch);
    for (int64_t b = 0; b < 3; ++b) {
      const std::vector<float> expected = batch_values(*whole.next());
      std::vector<float> joined;
      std::vector<int64_t> sizes;
      for (const auto& shard : shards) {
        const data::Batch part = *shard->next();
        sizes.push_back(part.size());
        const std::vector<float> values = batch_values(part);
        joined.insert(joined.end(), values.begin(), values.end());
      }
      EXPECT_EQ(joined, expected) << "epoch " << epoch << ", batch " << b;
      const std::vector<int64_t> expected_sizes =
          b < 2 ? std::vector<int64_t>{4, 4, 4} : std::vector<int64_t>{0, 0, 1};  // may get none
      EXPECT_EQ(sizes, expected_sizes);
    }
  }
}

TEST(ShardedLoader, RefusesAShardOutsideTheCount) {
  const Tensor x = zeros({4, 1});
  EXPECT_NE(error_message([&] {
              data::DataLoader loader(x, x, {.shard_index = 2, .shard_count = 2});
            }).find("shard_index must lie in [0, shard_count)"),
            std::string::npos);
}

TEST(PostAccumulateGradHook, RunsOnceWithTheFinalGradient) {
  Tensor w = from_vector(std::vector<float>{1, 2}, {2}).requires_grad_();
  std::vector<std::vector<float>> seen;
  const int64_t id = w.register_post_accumulate_grad_hook(
      [&](const Tensor& leaf) { seen.push_back(leaf.grad().to_vector<float>()); });
  // w reaches the loss along two paths: the hook sees their sum, once.
  (w * 3.0 + w * w).sum().backward();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], (std::vector<float>{5, 7}));  // 3 + 2w
  (w * 2.0).sum().backward();                      // accumulates: the hook sees the total
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[1], (std::vector<float>{7, 9}));
  w.remove_post_accumulate_grad_hook(id);
  (w * 2.0).sum().backward();
  EXPECT_EQ(seen.size(), 2U);
  Tensor computed = w * 2.0;
  EXPECT_NE(error_message([&] {
              computed.register_post_accumulate_grad_hook([](const Tensor&) {});
            }).find("only leaves"),
            std::string::npos);
}

namespace {

train::Model small_model() {
  manual_seed(9);
  train::Model model({layers::Dense(10, "relu"), layers::Dense(3, "softmax")});
  model.build({5});
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

}  // namespace

TEST(DataParallel, InAWorldOfOneChangesNothing) {
  const nabla::testing::ClassSamples data = nabla::testing::class_samples(37, 5, 3, 2);
  train::Model plain = small_model();
  const train::History expected =
      plain.fit(data.x, data.y, {.epochs = 2, .batch_size = 8, .verbose = 0, .seed = 1});
  for (const bool overlap : {true, false}) {
    train::Model model = small_model();
    auto strategy = std::make_shared<dist::DataParallel>(
        dist::DataParallelOptions{.bucket_bytes = 64, .overlap = overlap});
    const train::History history =
        model.fit(data.x, data.y,
                  {.epochs = 2, .batch_size = 8, .verbose = 0, .seed = 1, .strategy = strategy});
    EXPECT_EQ(nabla::testing::weights_of(model), nabla::testing::weights_of(plain))
        << "overlap " << overlap;
    EXPECT_EQ(history.history, expected.history);
    EXPECT_EQ(strategy->stats().steps, 10);    // 2 epochs of 5 batches
    EXPECT_GT(strategy->stats().buckets, 10);  // 4 parameters, 64-byte buckets: several per step
  }
}

TEST(DataParallel, RankZeroOnlyCallbacksActAndKeepTheirState) {
  const nabla::testing::ClassSamples data = nabla::testing::class_samples(16, 5, 3, 2);
  train::Model model = small_model();
  int epochs = 0;
  auto counter = std::make_shared<train::LambdaCallback>(
      train::LambdaCallbackFunctions{.on_epoch_end = [&](int64_t, train::Logs&) { ++epochs; }});
  auto stopper = std::make_shared<train::EarlyStopping>(
      train::EarlyStoppingOptions{.monitor = "loss", .patience = 5});
  const train::CallbackPtr wrapped = dist::rank_zero_only(stopper);
  model.fit(data.x, data.y,
            {.epochs = 3,
             .batch_size = 8,
             .verbose = 0,
             .callbacks = {dist::rank_zero_only(counter), wrapped}});
  EXPECT_EQ(epochs, 3);  // rank 0 of one: the events reach the callback
  std::map<std::string, double> inner, outer;
  stopper->save_state(inner);
  wrapped->save_state(outer);
  EXPECT_FALSE(inner.empty());
  EXPECT_EQ(inner, outer);
}

TEST(DataParallel, AMidEpochCheckpointResumesOnlyWithAsManyProcesses) {
  const nabla::testing::ClassSamples data = nabla::testing::class_samples(32, 5, 3, 2);
  train::Model model = small_model();
  auto state = std::make_shared<train::TrainingState>();
  state->epoch = 0;
  state->step = 2;
  state->processes = 2;
  const std::string message = error_message([&] {
    model.fit(data.x, data.y, {.epochs = 1, .batch_size = 8, .verbose = 0, .resume = state});
  });
  EXPECT_NE(message.find("written by 2 process(es) after batch 2 of epoch 1"), std::string::npos)
      << message;
  // At the end of an epoch any number of processes may go on.
  state->epoch = 1;
  state->step = 0;
  EXPECT_NO_THROW(
      model.fit(data.x, data.y, {.epochs = 2, .batch_size = 8, .verbose = 0, .resume = state}));
}

TEST(DataParallel, TheTrainingStateRecordsItsProcesses) {
  train::TrainingState state;
  state.processes = 4;
  const std::string json = io::internal::training_state_to_json(state);
  EXPECT_EQ(io::internal::training_state_from_json(json, "x").processes, 4);
  // Checkpoints from before data-parallel training come from one process.
  std::string old = json;
  old.erase(old.find("\"processes\":4,"), std::string("\"processes\":4,").size());
  EXPECT_EQ(io::internal::training_state_from_json(old, "x").processes, 1);
}

TEST(DataParallel, WithoutAnEnvironmentTheWorldIsOneProcess) {
  EXPECT_EQ(dist::rank(), 0);
  EXPECT_EQ(dist::size(), 1);
  EXPECT_FALSE(dist::is_initialized());
  std::vector<double> values = {1.5, 2};
  dist::all_reduce_sum(values);
  EXPECT_EQ(values, (std::vector<double>{1.5, 2}));
}
