// data::Pipeline: sources, stages, determinism across worker counts, buffer semantics, errors
// reaching the consumer, and memory bounded by the buffers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "data/test_util.hpp"
#include "nabla/data.hpp"
#include "nabla/pipeline.hpp"

namespace nabla {
namespace {

using data::Element;
using data::Pipeline;
using nabla::testing::error_message;
using nabla::testing::TempDir;

Element pipeline_test_scalar(int64_t i) {
  Element element;
  element.input = scalar_tensor(static_cast<double>(i), DType::f32);
  element.target = scalar_tensor(static_cast<double>(i % 3), DType::i64);
  return element;
}

// Every element's input values, in order (batches flattened).
std::vector<float> pipeline_values(const std::vector<Element>& elements) {
  std::vector<float> out;
  for (const Element& element : elements) {
    for (float v : element.input.contiguous().to_vector<float>()) out.push_back(v);
  }
  return out;
}

std::vector<float> pipeline_range(int64_t begin, int64_t end) {
  std::vector<float> out;
  for (int64_t i = begin; i < end; ++i) out.push_back(static_cast<float>(i));
  return out;
}

TEST(Pipeline, FromTensorsBatchesRowsInOrder) {
  const Tensor x = arange(0, 10, 1, DType::f32).reshape({5, 2});
  const Tensor y = arange(5);
  const Pipeline p = Pipeline::from_tensors(x, y).batch(2);
  EXPECT_EQ(p.cardinality(), 3);
  const std::vector<Element> batches = p.collect();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].input.shape(), (Shape{2, 2}));
  EXPECT_EQ(batches[2].input.shape(), (Shape{1, 2}));
  EXPECT_EQ(pipeline_values(batches), pipeline_range(0, 10));
  EXPECT_EQ(batches[1].target.to_vector<int64_t>(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Pipeline::from_tensors(x, y).batch(2, /*drop_remainder=*/true).collect().size(), 2u);
  EXPECT_EQ(Pipeline::from_tensors(x, y).batch(2, true).cardinality(), 2);
}

// The elements of a pipeline with random maps, a shuffle and batches are those of the same
// pipeline run on the pulling thread, whatever the number of workers.
TEST(Pipeline, DeterministicWhateverTheWorkerCount) {
  const auto make = [](int64_t workers) {
    return Pipeline::from_function(200, pipeline_test_scalar)
        .map_random(
            [](Element e, Generator& gen) {
              // Uneven work, so that workers finish out of order.
              const int64_t spins = gen.next_int(0, 20000);
              double sink = 0;
              for (int64_t i = 0; i < spins; ++i) sink += 1e-9 * static_cast<double>(i);
              e.input = e.input * 1000.0 + static_cast<double>(spins % 1000) + sink * 0;
              return e;
            },
            /*seed=*/7, workers)
        .shuffle(16, /*seed=*/3)
        .batch(7)
        .prefetch(2);
  };
  const std::vector<float> serial = pipeline_values(make(0).collect(0));
  ASSERT_EQ(serial.size(), 200u);
  for (int64_t workers : {1, 2, 5}) {
    EXPECT_EQ(pipeline_values(make(workers).collect(0)), serial) << workers << " workers";
  }
  EXPECT_EQ(pipeline_values(make(3).collect(0)), serial);  // runs repeat
  EXPECT_NE(pipeline_values(make(3).collect(1)), serial);  // another epoch, another order
  EXPECT_EQ(pipeline_values(make(0).collect(1)), pipeline_values(make(4).collect(1)));
}

TEST(Pipeline, ParallelMapKeepsInputOrder) {
  const Pipeline p = Pipeline::from_function(300, pipeline_test_scalar)
                         .map(
                             [](Element e) {
                               const auto i = static_cast<int64_t>(e.input.item());
                               double sink = 0;
                               for (int64_t k = 0; k < (i % 7) * 5000; ++k)
                                 sink += static_cast<double>(k);
                               e.input = e.input + 1.0 + sink * 0;
                               return e;
                             },
                             4);
  EXPECT_EQ(pipeline_values(p.collect()), pipeline_range(1, 301));
}

TEST(Pipeline, ShuffleBufferSemantics) {
  const Pipeline source = Pipeline::from_function(50, pipeline_test_scalar);
  // A buffer of one keeps the order.
  EXPECT_EQ(pipeline_values(source.shuffle(1, 5).collect()), pipeline_range(0, 50));
  // A buffer as large as the data: a permutation, different each iteration.
  const std::vector<float> full = pipeline_values(source.shuffle(50, 5).collect(0));
  std::vector<float> sorted = full;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, pipeline_range(0, 50));
  EXPECT_NE(full, pipeline_range(0, 50));
  EXPECT_NE(full, pipeline_values(source.shuffle(50, 5).collect(1)));
  EXPECT_EQ(full, pipeline_values(source.shuffle(50, 5).collect(0)));
  // A buffer of 4: the i-th output was among the first i + 4 inputs; every element once.
  const std::vector<float> local = pipeline_values(source.shuffle(4, 9).collect());
  for (size_t i = 0; i < local.size(); ++i) EXPECT_LT(local[i], static_cast<float>(i + 4)) << i;
  sorted = local;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, pipeline_range(0, 50));
  EXPECT_NE(local, pipeline_range(0, 50));
}

TEST(Pipeline, PaddedBatchPadsEveryAxisToTheLargest) {
  const Pipeline p = Pipeline::from_function(3, [](int64_t i) {
                       Element e;
                       e.input = full({i + 1}, static_cast<double>(i + 1), DType::i64);
                       e.target = full({1, i + 1}, 5.0, DType::f32);
                       return e;
                     }).padded_batch(3, /*input_pad=*/-1, /*target_pad=*/0);
  const std::vector<Element> batches = p.collect();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].input.shape(), (Shape{3, 3}));
  EXPECT_EQ(batches[0].input.to_vector<int64_t>(),
            (std::vector<int64_t>{1, -1, -1, 2, 2, -1, 3, 3, 3}));
  EXPECT_EQ(batches[0].target.shape(), (Shape{3, 1, 3}));
  EXPECT_EQ(batches[0].target.to_vector<float>(), (std::vector<float>{5, 0, 0, 5, 5, 0, 5, 5, 5}));
  // Plain batch() refuses different shapes, naming them.
  const std::string message = error_message([] {
    Pipeline::from_function(2,
                            [](int64_t i) {
                              Element e;
                              e.input = zeros({i + 1});
                              return e;
                            })
        .batch(2)
        .collect();
  });
  EXPECT_NE(message.find("padded_batch"), std::string::npos) << message;
  EXPECT_NE(message.find("[2]"), std::string::npos) << message;
}

// Shards of 3, 2 and 4 elements (0.., 10.., 20..) interleaved as tf.data interleaves them.
Pipeline pipeline_test_shards() {
  return Pipeline::from_function(3, [](int64_t shard) {
    Element e;
    e.input = scalar_tensor(static_cast<double>(shard), DType::i64);
    return e;
  });
}

Pipeline pipeline_test_shard(const Element& e) {
  const int64_t shard = e.input.item<int64_t>();
  const int64_t lengths[] = {3, 2, 4};
  return Pipeline::from_function(
      lengths[shard], [shard](int64_t i) { return pipeline_test_scalar(10 * shard + i); });
}

TEST(Pipeline, InterleaveOrder) {
  EXPECT_EQ(pipeline_values(pipeline_test_shards().interleave(pipeline_test_shard, 2).collect()),
            (std::vector<float>{0, 10, 1, 11, 2, 20, 21, 22, 23}));
  EXPECT_EQ(pipeline_values(pipeline_test_shards().interleave(pipeline_test_shard, 2, 2).collect()),
            (std::vector<float>{0, 1, 10, 11, 2, 20, 21, 22, 23}));
  // A cycle as long as the shards: round robin.
  EXPECT_EQ(pipeline_values(pipeline_test_shards().interleave(pipeline_test_shard, 3).collect()),
            (std::vector<float>{0, 10, 20, 1, 11, 21, 2, 22, 23}));
  EXPECT_EQ(pipeline_values(pipeline_test_shards().interleave(pipeline_test_shard, 1).collect()),
            (std::vector<float>{0, 1, 2, 10, 11, 20, 21, 22, 23}));
}

TEST(Pipeline, TakeSkipRepeatFilter) {
  const Pipeline p = Pipeline::from_function(5, pipeline_test_scalar);
  EXPECT_EQ(pipeline_values(p.take(3).collect()), pipeline_range(0, 3));
  EXPECT_EQ(pipeline_values(p.skip(3).collect()), pipeline_range(3, 5));
  EXPECT_EQ(pipeline_values(p.skip(7).collect()), std::vector<float>{});
  EXPECT_EQ(pipeline_values(p.skip(1).take(2).collect()), pipeline_range(1, 3));
  std::vector<float> twice = pipeline_range(0, 5);
  twice.insert(twice.end(), twice.begin(), twice.end());
  EXPECT_EQ(pipeline_values(p.repeat(2).collect()), twice);
  EXPECT_EQ(p.repeat(2).cardinality(), 10);
  EXPECT_EQ(p.repeat().cardinality(), Pipeline::kInfinite);
  EXPECT_EQ(p.repeat().take(12).cardinality(), 12);
  EXPECT_EQ(p.repeat().take(12).collect().size(), 12u);
  EXPECT_EQ(p.skip(2).cardinality(), 3);
  EXPECT_EQ(p.take(9).cardinality(), 5);
  EXPECT_EQ(p.filter([](const Element&) { return true; }).cardinality(), Pipeline::kUnknown);
  EXPECT_EQ(pipeline_values(p.filter([](const Element& e) {
                               return static_cast<int64_t>(e.input.item()) % 2 == 0;
                             }).collect()),
            (std::vector<float>{0, 2, 4}));
  // Each repetition is an iteration of its own: the shuffle draws anew.
  const std::vector<float> repeated = pipeline_values(p.shuffle(5, 1).repeat(3).collect());
  ASSERT_EQ(repeated.size(), 15u);
  const std::vector<float> first(repeated.begin(), repeated.begin() + 5);
  const std::vector<float> second(repeated.begin() + 5, repeated.begin() + 10);
  EXPECT_EQ(first, pipeline_values(p.shuffle(5, 1).collect()));
  EXPECT_NE(first, second);
  EXPECT_THROW(p.repeat().collect(), Error);  // never ends
}

TEST(Pipeline, CacheInMemoryReadsTheUpstreamOnce) {
  auto calls = std::make_shared<std::atomic<int64_t>>(0);
  const Pipeline p = Pipeline::from_function(6, [calls](int64_t i) {
                       ++*calls;
                       return pipeline_test_scalar(i);
                     }).cache();
  // An abandoned iteration keeps nothing.
  EXPECT_EQ(p.take(2).collect().size(), 2u);
  EXPECT_EQ(pipeline_values(p.collect(0)), pipeline_range(0, 6));
  const int64_t after_first = calls->load();
  EXPECT_EQ(after_first, 8);
  EXPECT_EQ(pipeline_values(p.collect(1)), pipeline_range(0, 6));
  EXPECT_EQ(pipeline_values(p.shuffle(6, 2).collect(1)).size(), 6u);
  EXPECT_EQ(calls->load(), after_first);
}

TEST(Pipeline, CacheInAFileSurvivesThePipeline) {
  TempDir dir;
  const std::string file = dir.file("cache.bin");
  const auto make = [](int64_t i) {
    Element e = pipeline_test_scalar(i);
    e.input = full({2, 3}, static_cast<double>(i), DType::u8);
    e.name = "sample " + std::to_string(i);
    return e;
  };
  const std::vector<Element> first = Pipeline::from_function(4, make).cache(file).collect();
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".part"));
  // A new pipeline on the same file replays it without calling its source.
  const std::vector<Element> replayed =
      Pipeline::from_function(
          4, [](int64_t) -> Element { throw Error("the source should not be read"); })
          .cache(file)
          .collect();
  ASSERT_EQ(replayed.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(replayed[i].input.dtype(), DType::u8);
    EXPECT_EQ(replayed[i].input.shape(), (Shape{2, 3}));
    EXPECT_EQ(replayed[i].input.to_vector<uint8_t>(), first[i].input.to_vector<uint8_t>());
    EXPECT_EQ(replayed[i].target.item<int64_t>(), static_cast<int64_t>(i % 3));
    EXPECT_EQ(replayed[i].name, "sample " + std::to_string(i));
  }
}

TEST(Pipeline, AWorkerErrorReachesTheConsumerAfterTheElementsBeforeIt) {
  for (int64_t workers : {0, 1, 3}) {
    const Pipeline p = Pipeline::from_function(100, pipeline_test_scalar)
                           .map(
                               [](Element e) {
                                 NABLA_CHECK(e.input.item() != 5.0, "bad element 5");
                                 return e;
                               },
                               workers)
                           .prefetch(3);
    const std::unique_ptr<data::Stream> stream = p.open();
    for (int64_t i = 0; i < 5; ++i) {
      std::optional<Element> e = stream->next();
      ASSERT_TRUE(e.has_value());
      EXPECT_EQ(e->input.item(), static_cast<double>(i));
    }
    EXPECT_EQ(error_message([&] { stream->next(); }), "bad element 5") << workers << " workers";
    EXPECT_FALSE(stream->next().has_value());
  }
  // An error in the source, under a parallel map.
  const Pipeline failing = Pipeline::from_function(50, [](int64_t i) {
                             NABLA_CHECK(i != 7, "source fails at 7");
                             return pipeline_test_scalar(i);
                           }).map([](Element e) { return e; }, 3);
  const std::unique_ptr<data::Stream> stream = failing.open();
  for (int64_t i = 0; i < 7; ++i) ASSERT_TRUE(stream->next().has_value());
  EXPECT_EQ(error_message([&] { stream->next(); }), "source fails at 7");
}

TEST(Pipeline, DestroyingAStreamMidIterationStopsItsThreads) {
  // Workers and a prefetch thread blocked on full buffers, and a worker that failed: destroying
  // the stream returns (a hang would fail the test by its time limit).
  const Pipeline endless = Pipeline::from_function(Pipeline::kInfinite, pipeline_test_scalar)
                               .map([](Element e) { return e; }, 4)
                               .batch(3)
                               .prefetch(2)
                               .map([](Element e) { return e; }, 2);
  for (int round = 0; round < 20; ++round) {
    std::unique_ptr<data::Stream> stream = endless.open(round);
    ASSERT_TRUE(stream->next().has_value());
    stream.reset();
  }
  const Pipeline failing = Pipeline::from_function(Pipeline::kInfinite,
                                                   [](int64_t i) {
                                                     NABLA_CHECK(i < 3, "fails");
                                                     return pipeline_test_scalar(i);
                                                   })
                               .map([](Element e) { return e; }, 3)
                               .prefetch(1);
  std::unique_ptr<data::Stream> stream = failing.open();
  ASSERT_TRUE(stream->next().has_value());
  stream.reset();
}

// Memory is bounded by the buffers: the elements made and not yet consumed never exceed what
// the stages hold, however long the data.
TEST(Pipeline, MemoryIsBoundedByTheBuffers) {
  auto made = std::make_shared<std::atomic<int64_t>>(0);
  const Pipeline p = Pipeline::from_function(Pipeline::kInfinite,
                                             [made](int64_t i) {
                                               ++*made;
                                               return pipeline_test_scalar(i);
                                             })
                         .map([](Element e) { return e; }, 2)  // 4 in flight
                         .shuffle(8, 1)                        // 8
                         .batch(4)                             // 4 being batched
                         .prefetch(2);                         // 2 batches + 1 being made
  const std::unique_ptr<data::Stream> stream = p.open();
  int64_t consumed = 0, most = 0;
  for (int step = 0; step < 500; ++step) {
    std::optional<Element> batch = stream->next();
    ASSERT_TRUE(batch.has_value());
    consumed += batch->input.size(0);
    most = std::max(most, made->load() - consumed);
  }
  EXPECT_EQ(consumed, 2000);
  EXPECT_LE(most, 4 + 8 + 4 + 3 * 4 + 4);
}

TEST(Pipeline, TFRecordRecordsStreamAndDecode) {
  TempDir dir;
  std::vector<std::string> records;
  for (int64_t i = 0; i < 5; ++i) {
    records.push_back(data::encode_example({{"x", data::float_feature({float(i), float(2 * i)})},
                                            {"label", data::int64_feature({i % 2})}}));
  }
  data::write_tfrecords(dir.file("a.tfrecord"), {records[0], records[1], records[2]});
  data::write_tfrecords(dir.file("b.tfrecord.gz"), {records[3], records[4]});
  data::TFRecordFeatureSpec spec;
  spec.kind = "floats";
  spec.input = "x";
  spec.input_shape = {2};
  const Pipeline p = Pipeline::from_tfrecords({dir.file("a.tfrecord"), dir.file("b.tfrecord.gz")})
                         .map(data::decode_tfrecord_examples(spec), 2)
                         .batch(5);
  const std::vector<Element> batches = p.collect();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].input.to_vector<float>(),
            (std::vector<float>{0, 0, 1, 2, 2, 4, 3, 6, 4, 8}));
  EXPECT_EQ(batches[0].target.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0, 1, 0}));
  // A missing feature names the file, the record and the feature.
  spec.input = "pixels";
  const std::string missing = error_message([&] {
    Pipeline::from_tfrecords({dir.file("a.tfrecord")})
        .map(data::decode_tfrecord_examples(spec))
        .collect();
  });
  EXPECT_NE(missing.find("a.tfrecord: record 0"), std::string::npos) << missing;
  EXPECT_NE(missing.find("'pixels'"), std::string::npos) << missing;
  // A flipped byte in the second record's data: the CRC check names it.
  std::string bytes = nabla::testing::read_bytes(dir.file("a.tfrecord"));
  const size_t second = 16 + records[0].size();
  bytes[second + 12 + 3] ^= 0x40;
  nabla::testing::write_bytes(dir.file("bad.tfrecord"), bytes);
  const std::unique_ptr<data::Stream> stream =
      Pipeline::from_tfrecords({dir.file("bad.tfrecord")}).prefetch(2).open();
  ASSERT_TRUE(stream->next().has_value());
  const std::string corrupt = error_message([&] { stream->next(); });
  EXPECT_NE(corrupt.find("bad.tfrecord: record 1"), std::string::npos) << corrupt;
  EXPECT_NE(corrupt.find("CRC-32C"), std::string::npos) << corrupt;
  // Truncated: the last record cut short.
  nabla::testing::write_bytes(dir.file("cut.tfrecord"),
                              nabla::testing::read_bytes(dir.file("a.tfrecord")).substr(0, 40));
  const std::string cut =
      error_message([&] { Pipeline::from_tfrecords({dir.file("cut.tfrecord")}).collect(); });
  EXPECT_NE(cut.find("truncated"), std::string::npos) << cut;
}

TEST(Pipeline, ImageFolderStreamsWhatLoadImageFolderLoads) {
  TempDir dir;
  for (const char* name : {"cat", "dog"}) {
    std::filesystem::create_directories(dir.path() / name);
    for (int i = 0; i < 5; ++i) {
      Generator gen(static_cast<uint64_t>(i * 7 + name[0]));
      const Tensor image = (rand({3, 9 + i, 11}, DType::f32, &gen) * 255.0).to(DType::u8);
      data::write_png((dir.path() / name / (std::to_string(i) + ".png")).string(), image);
    }
  }
  data::ImageFolderOptions options;
  options.height = 6;
  options.width = 8;
  options.test_fraction = 0.2;
  options.seed = 3;
  const data::ImageFolderData loaded = data::load_image_folder(dir.path().string(), options);
  for (bool train : {true, false}) {
    const std::vector<Element> batches =
        Pipeline::from_image_folder(dir.path().string(), options, train, 2).batch(100).collect();
    ASSERT_EQ(batches.size(), 1u);
    const Tensor& images = train ? loaded.train_images : loaded.test_images;
    const Tensor& labels = train ? loaded.train_labels : loaded.test_labels;
    EXPECT_EQ(batches[0].input.shape(), images.shape());
    EXPECT_EQ(batches[0].input.to_vector<uint8_t>(), images.to_vector<uint8_t>());
    EXPECT_EQ(batches[0].target.to_vector<int64_t>(), labels.to_vector<int64_t>());
  }
}

TEST(Pipeline, AugmentDrawsPerElementWhateverTheWorkers) {
  const Tensor images = arange(0, 2 * 3 * 4 * 4, 1, DType::f32).reshape({2 * 3, 4, 4});
  const auto make = [&](int64_t workers) {
    return Pipeline::from_tensors(images.reshape({2, 3, 4, 4}))
        .augment(data::compose({data::random_crop(1), data::random_flip()}), 11, workers)
        .batch(2);
  };
  const std::vector<Element> serial = make(0).collect();
  ASSERT_EQ(serial[0].input.shape(), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(pipeline_values(make(2).collect()), pipeline_values(serial));
  EXPECT_NE(pipeline_values(make(0).collect(1)), pipeline_values(serial));
}

}  // namespace
}  // namespace nabla
