#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"

using nabla::testing::error_message;
using namespace nabla;

namespace {

// n samples: input row i is [i, i + 0.5, -i], target i.
std::shared_ptr<data::TensorDataset> numbered(int64_t n) {
  std::vector<float> inputs;
  std::vector<int64_t> targets;
  for (int64_t i = 0; i < n; ++i) {
    inputs.insert(inputs.end(), {float(i), float(i) + 0.5f, -float(i)});
    targets.push_back(i);
  }
  return std::make_shared<data::TensorDataset>(from_vector(inputs, {n, 3}), from_vector(targets));
}

std::vector<std::vector<int64_t>> epoch_targets(data::DataLoader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (auto& batch : loader) out.push_back(batch.targets.to_vector<int64_t>());
  return out;
}

// A dataset that is not backed by tensors: exercises Dataset::get_batch's default.
class SquaresDataset : public data::Dataset {
 public:
  explicit SquaresDataset(int64_t n, int64_t fail_at = -1) : n_(n), fail_at_(fail_at) {}
  int64_t size() const override { return n_; }
  data::Example get(int64_t i) const override {
    NABLA_CHECK(i != fail_at_, "SquaresDataset: sample ", i, " is unreadable");
    return {from_vector(std::vector<double>{double(i), double(i * i)}, {2}),
            scalar_tensor(double(i), DType::i64)};
  }

 private:
  int64_t n_, fail_at_;
};

}  // namespace

TEST(TensorDataset, GetAndBatch) {
  auto dataset = numbered(5);
  EXPECT_EQ(dataset->size(), 5);
  data::Example example = dataset->get(3);
  EXPECT_EQ(example.input.to_vector<float>(), (std::vector<float>{3, 3.5, -3}));
  EXPECT_EQ(example.target.item<int64_t>(), 3);
  data::Batch batch = dataset->get_batch({4, 0, 1, 2});
  EXPECT_EQ(batch.inputs.shape(), (Shape{4, 3}));
  EXPECT_EQ(batch.size(), 4);
  EXPECT_EQ(batch.inputs.to_vector<float>(),
            (std::vector<float>{4, 4.5, -4, 0, 0.5, 0, 1, 1.5, -1, 2, 2.5, -2}));
  EXPECT_EQ(batch.targets.to_vector<int64_t>(), (std::vector<int64_t>{4, 0, 1, 2}));
  EXPECT_EQ(error_message([&] { dataset->get(5); }),
            "TensorDataset::get: index 5 out of range for 5 samples");
  EXPECT_EQ(error_message([&] {
              dataset->get_batch({1, 7});
            }),
            "gather_rows: index 7 out of range for 5 rows");
}

// Batches of 64 KiB and more are copied on the thread pool (data::gather_rows): shuffled rows,
// runs of consecutive ones and a repeated row, on 1, 2 and 3 threads, are the rows asked for.
TEST(TensorDataset, LargeBatchGatherIsTheRowsOnAnyThreadCount) {
  const int threads = get_num_threads();
  const int64_t rows = 1000, width = 300;  // 1.2 KB rows: 300 of them are 360 KB
  const Tensor source =
      arange(0, static_cast<double>(rows * width)).to(DType::f32).reshape({rows, width});
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < 250; ++i) indices.push_back(i * 37 % rows);
  for (int64_t i = 500; i < 540; ++i) indices.push_back(i);
  for (int i = 0; i < 10; ++i) indices.push_back(999);
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    const Tensor batch = data::gather_rows(source, indices);
    ASSERT_EQ(batch.shape(), (Shape{300, width}));
    for (size_t i = 0; i < indices.size(); ++i)
      ASSERT_EQ(batch.select(0, static_cast<int64_t>(i)).to_vector<float>(),
                source.select(0, indices[i]).to_vector<float>())
          << t << " threads, row " << i;
  }
  set_num_threads(threads);
}

TEST(TensorDataset, MismatchedSampleCounts) {
  EXPECT_EQ(error_message([] {
              data::TensorDataset(zeros({4, 2}), zeros({3}));
            }),
            "TensorDataset: inputs have 4 samples (shape [4, 2]) but targets have 3 (shape [3]); "
            "expected the same number along the first axis");
}

TEST(TensorDataset, NonContiguousInputsAndNoTargets) {
  Tensor inputs = arange(0, 6, 1, DType::f32).reshape({2, 3}).t();  // [3, 2], strided
  data::TensorDataset dataset(inputs);
  data::Batch batch = dataset.get_batch({2, 0});
  EXPECT_EQ(batch.inputs.to_vector<float>(), (std::vector<float>{2, 5, 0, 3}));
  EXPECT_FALSE(batch.targets.defined());
}

TEST(DataLoader, BatchesInOrderWithoutShuffle) {
  data::DataLoader loader(numbered(10), {.batch_size = 4, .shuffle = false});
  EXPECT_EQ(loader.num_batches(), 3);
  auto batches = epoch_targets(loader);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0], (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(batches[2], (std::vector<int64_t>{8, 9}));
}

TEST(DataLoader, DropLast) {
  data::DataLoader loader(numbered(10), {.batch_size = 4, .shuffle = true, .drop_last = true});
  EXPECT_EQ(loader.num_batches(), 2);
  auto batches = epoch_targets(loader);
  ASSERT_EQ(batches.size(), 2u);
  for (const auto& batch : batches) EXPECT_EQ(batch.size(), 4u);
}

TEST(DataLoader, InputsMatchTargetsWhenShuffled) {
  data::DataLoader loader(numbered(13), {.batch_size = 5, .seed = 3});
  for (auto& batch : loader) {
    const auto inputs = batch.inputs.to_vector<float>();
    const auto targets = batch.targets.to_vector<int64_t>();
    for (size_t i = 0; i < targets.size(); ++i) {
      EXPECT_EQ(inputs[3 * i], float(targets[i]));
      EXPECT_EQ(inputs[3 * i + 2], -float(targets[i]));
    }
  }
}

TEST(DataLoader, EverySampleOncePerEpoch) {
  data::DataLoader loader(numbered(23), {.batch_size = 4, .seed = 11});
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> seen;
    for (const auto& batch : epoch_targets(loader))
      seen.insert(seen.end(), batch.begin(), batch.end());
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(23);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(seen, all) << "epoch " << epoch;
  }
}

TEST(DataLoader, ShuffleIsSeededPerEpoch) {
  data::DataLoader a(numbered(50), {.batch_size = 8, .seed = 7});
  data::DataLoader b(numbered(50), {.batch_size = 8, .seed = 7});
  data::DataLoader other_seed(numbered(50), {.batch_size = 8, .seed = 8});
  const auto a0 = epoch_targets(a), a1 = epoch_targets(a);
  EXPECT_EQ(a0, epoch_targets(b));  // runs repeat
  EXPECT_EQ(a1, epoch_targets(b));
  EXPECT_NE(a0, a1);  // epochs differ
  EXPECT_NE(a0, epoch_targets(other_seed));
  std::vector<int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a.epoch_order(0), identity);
  // Any epoch can be replayed on its own.
  a.start_epoch(1);
  std::vector<std::vector<int64_t>> replay;
  while (auto batch = a.next()) replay.push_back(batch->targets.to_vector<int64_t>());
  EXPECT_EQ(replay, a1);
}

TEST(DataLoader, PrefetchGivesIdenticalBatches) {
  data::DataLoader with(numbered(37), {.batch_size = 6, .seed = 5, .prefetch = true});
  data::DataLoader without(numbered(37), {.batch_size = 6, .seed = 5, .prefetch = false});
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<data::Batch> x, y;
    for (auto& batch : with) x.push_back(batch);
    for (auto& batch : without) y.push_back(batch);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].inputs.to_vector<float>(), y[i].inputs.to_vector<float>());
      EXPECT_EQ(x[i].targets.to_vector<int64_t>(), y[i].targets.to_vector<int64_t>());
    }
  }
}

TEST(DataLoader, NextEndsEachEpochWithNullopt) {
  data::DataLoader loader(numbered(5), {.batch_size = 2, .shuffle = false});
  EXPECT_EQ(loader.epoch(), -1);
  int batches = 0;
  while (loader.next()) ++batches;
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(loader.epoch(), 0);
  auto first = loader.next();  // starts epoch 1
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(loader.epoch(), 1);
  EXPECT_EQ(first->targets.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

TEST(DataLoader, AbandonedEpochsAndRestartsDoNotHang) {
  data::DataLoader loader(numbered(100), {.batch_size = 3, .seed = 1});
  for (int round = 0; round < 5; ++round) {
    auto batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    loader.start_epoch(round);  // drops the rest of the epoch, prefetched batches included
    EXPECT_EQ(loader.next()->targets.to_vector<int64_t>().size(), 3u);
  }
  for (auto& batch : loader) {  // break out early; the destructor stops the worker
    EXPECT_EQ(batch.size(), 3);
    break;
  }
}

TEST(DataLoader, GenericDatasetStacksExamples) {
  data::DataLoader loader(std::make_shared<SquaresDataset>(5), {.batch_size = 3, .shuffle = false});
  auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->inputs.shape(), (Shape{3, 2}));
  EXPECT_EQ(batch->inputs.to_vector<double>(), (std::vector<double>{0, 0, 1, 1, 2, 4}));
  EXPECT_EQ(batch->targets.shape(), (Shape{3}));
  EXPECT_EQ(batch->targets.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

TEST(DataLoader, ErrorsFromThePrefetchThreadSurfaceInOrder) {
  for (bool prefetch : {true, false}) {
    data::DataLoader loader(std::make_shared<SquaresDataset>(10, /*fail_at=*/7),
                            {.batch_size = 3, .shuffle = false, .prefetch = prefetch});
    EXPECT_TRUE(loader.next().has_value());  // 0..2
    EXPECT_TRUE(loader.next().has_value());  // 3..5
    EXPECT_EQ(error_message([&] { loader.next(); }), "SquaresDataset: sample 7 is unreadable");
    // The failed epoch is over; the next call starts epoch 1 from its first batch.
    auto batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    EXPECT_EQ(loader.epoch(), 1);
    EXPECT_EQ(batch->targets.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
  }
}

TEST(DataLoader, InvalidOptionsAndEmptyDatasets) {
  EXPECT_EQ(error_message([] { data::DataLoader(numbered(3), {.batch_size = 0}); }),
            "DataLoader: batch_size must be positive, got 0");
  data::DataLoader empty(zeros({0, 2}), Tensor());
  EXPECT_EQ(empty.num_batches(), 0);
  EXPECT_FALSE(empty.next().has_value());
  data::DataLoader small(numbered(3), {.batch_size = 8, .drop_last = true});
  EXPECT_EQ(epoch_targets(small).size(), 0u);
}
