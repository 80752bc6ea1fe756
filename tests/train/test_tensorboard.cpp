// TensorBoard event files: SummaryWriter's scalars, histograms, images and text read back with
// read_events, the raw records checked with `protoc --decode_raw`, corrupted and truncated files,
// and the TensorBoard callback's Keras layout during fit().
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "data/test_util.hpp"
#include "data/tfrecord.hpp"
#include "nabla/data.hpp"
#include "nabla/tensorboard.hpp"
#include "train/tensorboard_histogram.hpp"

namespace nabla::train {
namespace {

namespace fs = std::filesystem;
using nabla::testing::error_message;
using nabla::testing::read_bytes;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

// The one event file in `dir`.
std::string event_file_in(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path().string());
  EXPECT_EQ(files.size(), 1u) << "in " << dir;
  return files.empty() ? "" : files[0];
}

// Every value of `events` named `tag`, with its event's step.
std::vector<std::pair<int64_t, SummaryValue>> values_of(const std::vector<TensorBoardEvent>& events,
                                                        const std::string& tag) {
  std::vector<std::pair<int64_t, SummaryValue>> found;
  for (const TensorBoardEvent& event : events) {
    for (const SummaryValue& value : event.values) {
      if (value.tag == tag) found.emplace_back(event.step, value);
    }
  }
  return found;
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0' ? name : "localhost";
}

TEST(TensorBoardWriter, StartsAFileWithItsVersionEvent) {
  TempDir dir;
  const std::string log_dir = dir.file("runs/first");  // created with its parent
  const double before =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  SummaryWriter writer(log_dir);
  EXPECT_EQ(writer.log_dir(), log_dir);
  const std::string name = fs::path(writer.path()).filename().string();
  EXPECT_TRUE(std::regex_match(name, std::regex("events\\.out\\.tfevents\\.[0-9]{10}\\.(.*)")))
      << name;
  EXPECT_EQ(name.substr(name.find('.', 30) + 1), host_name());
  EXPECT_EQ(event_file_in(log_dir), writer.path());
  // Written at once: TensorBoard sees the run before the first value.
  const std::vector<TensorBoardEvent> events = read_events(writer.path());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[0].step, 0);
  EXPECT_TRUE(events[0].values.empty());
  EXPECT_GE(events[0].wall_time, std::floor(before));
  EXPECT_LT(events[0].wall_time, before + 60);
  // A second writer in the same second gets its own file.
  SummaryWriter second(log_dir);
  EXPECT_NE(second.path(), writer.path());
}

TEST(TensorBoardWriter, ScalarsRoundTrip) {
  TempDir dir;
  SummaryWriter writer(dir.file("run"));
  writer.add_scalar("loss", 0.5, 3);
  writer.add_scalar("loss", 0.25, 4);
  writer.add_scalar("metrics/accuracy", 0.1, -1);
  writer.flush();
  const std::vector<TensorBoardEvent> events = read_events(writer.path());
  ASSERT_EQ(events.size(), 4u);
  const auto loss = values_of(events, "loss");
  ASSERT_EQ(loss.size(), 2u);
  EXPECT_EQ(loss[0].first, 3);
  EXPECT_EQ(loss[0].second.kind, SummaryValue::Kind::scalar);
  EXPECT_EQ(loss[0].second.scalar, 0.5);
  EXPECT_EQ(loss[1].first, 4);
  EXPECT_EQ(loss[1].second.scalar, 0.25);
  const auto accuracy = values_of(events, "metrics/accuracy");
  ASSERT_EQ(accuracy.size(), 1u);
  EXPECT_EQ(accuracy[0].first, -1);
  EXPECT_EQ(accuracy[0].second.scalar, static_cast<double>(0.1f));  // TensorBoard stores floats
  EXPECT_LE(events[0].wall_time, events[3].wall_time);
}

TEST(TensorBoardHistogram, DefaultEdgesArePyTorchs) {
  const std::vector<double>& edges = internal::default_histogram_edges();
  ASSERT_EQ(edges.size(), 1549u);  // 774 per sign, and 0
  EXPECT_EQ(edges[774], 0.0);
  EXPECT_EQ(edges[775], 1e-12);
  EXPECT_EQ(edges[773], -1e-12);
  EXPECT_EQ(edges[776], 1e-12 * 1.1);
  EXPECT_LT(edges.back(), 1e20);
  EXPECT_GE(edges.back() * 1.1, 1e20);
  for (size_t i = 0; i < edges.size(); ++i) EXPECT_EQ(edges[i], -edges[edges.size() - 1 - i]);
}

TEST(TensorBoardHistogram, CountsAndTrimsAsPyTorch) {
  // All zeros: bucket [0, 1e-12) holds them, and PyTorch keeps one empty bucket below, which ends
  // at 0.
  HistogramSummary zeros_histogram = internal::make_histogram(zeros({3}), "test");
  EXPECT_EQ(zeros_histogram.bucket_limit, (std::vector<double>{0.0, 1e-12}));
  EXPECT_EQ(zeros_histogram.bucket, (std::vector<double>{0, 3}));

  const Tensor values = from_vector(std::vector<float>{-1.f, 0.5f, 2.f, 0.5f, 0.f}, {5});
  const HistogramSummary h = internal::make_histogram(values, "test");
  EXPECT_EQ(h.min, -1);
  EXPECT_EQ(h.max, 2);
  EXPECT_EQ(h.num, 5);
  EXPECT_EQ(h.sum, 2);
  EXPECT_EQ(h.sum_squares, 5.5);
  ASSERT_EQ(h.bucket.size(), h.bucket_limit.size());
  // First an empty bucket ending at the edge below -1, last the bucket holding 2.
  const std::vector<double>& edges = internal::default_histogram_edges();
  const auto right_edge = [&](double v) {  // of the bucket [edges[i], edges[i + 1]) holding v
    return *std::upper_bound(edges.begin(), edges.end(), v);
  };
  EXPECT_EQ(h.bucket.front(), 0);
  EXPECT_EQ(h.bucket_limit.front(), *(std::upper_bound(edges.begin(), edges.end(), -1.0) - 1));
  EXPECT_EQ(h.bucket_limit.back(), right_edge(2.0));
  EXPECT_GT(h.bucket_limit.back(), 2.0);
  EXPECT_LT(h.bucket_limit.back(), 2.2);
  double total = 0;
  for (size_t i = 0; i < h.bucket.size(); ++i) {
    total += h.bucket[i];
    if (i > 0) {
      EXPECT_LT(h.bucket_limit[i - 1], h.bucket_limit[i]);
    }
    const double limit = h.bucket_limit[i];
    const double expected = limit == right_edge(-1.0)  ? 1
                            : limit == right_edge(0.0) ? 1
                            : limit == right_edge(0.5) ? 2
                            : limit == right_edge(2.0) ? 1
                                                       : 0;
    EXPECT_EQ(h.bucket[i], expected) << "bucket ending at " << limit;
  }
  EXPECT_EQ(total, 5);
}

TEST(TensorBoardWriter, HistogramsRoundTripAndRejectBadValues) {
  TempDir dir;
  SummaryWriter writer(dir.file("run"));
  const Tensor values = from_vector(std::vector<double>{3, -2, 0.25, 7}, {2, 2}).t();
  writer.add_histogram("weights", values, 2);
  writer.flush();
  const auto found = values_of(read_events(writer.path()), "weights");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, 2);
  const SummaryValue& value = found[0].second;
  EXPECT_EQ(value.kind, SummaryValue::Kind::histogram);
  const HistogramSummary expected = internal::make_histogram(values, "test");
  EXPECT_EQ(value.histogram.min, -2);
  EXPECT_EQ(value.histogram.max, 7);
  EXPECT_EQ(value.histogram.num, 4);
  EXPECT_EQ(value.histogram.sum, 8.25);
  EXPECT_EQ(value.histogram.sum_squares, 9 + 4 + 0.0625 + 49);
  EXPECT_EQ(value.histogram.bucket_limit, expected.bucket_limit);
  EXPECT_EQ(value.histogram.bucket, expected.bucket);

  EXPECT_EQ(error_message([&] { writer.add_histogram("empty", zeros({0}), 0); }),
            "SummaryWriter::add_histogram: tag 'empty': expected values for the histogram, got an "
            "empty tensor");
  const std::string message = error_message([&] {
    writer.add_histogram("nan", from_vector(std::vector<float>{1.f, NAN}, {2}), 0);
  });
  EXPECT_NE(message.find("SummaryWriter::add_histogram: tag 'nan': histogram values must be "
                         "finite and within +-"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("got nan at element 1"), std::string::npos) << message;
}

TEST(TensorBoardWriter, ImagesAreStoredAsPng) {
  TempDir dir;
  SummaryWriter writer(dir.file("run"));
  std::vector<uint8_t> pixels(3 * 4 * 5);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 4);
  const Tensor rgb = from_vector(pixels, {3, 4, 5});
  writer.add_image("samples/rgb", rgb, 1);
  writer.add_image("samples/grey", full({2, 3}, 1.0, DType::f32), 1);
  writer.flush();
  const std::vector<TensorBoardEvent> events = read_events(writer.path());

  const auto stored_rgb = values_of(events, "samples/rgb");
  ASSERT_EQ(stored_rgb.size(), 1u);
  const ImageSummary& image = stored_rgb[0].second.image;
  EXPECT_EQ(stored_rgb[0].second.kind, SummaryValue::Kind::image);
  EXPECT_EQ(image.height, 4);
  EXPECT_EQ(image.width, 5);
  EXPECT_EQ(image.channels, 3);
  write_bytes(dir.file("rgb.png"), image.encoded);
  EXPECT_EQ(data::read_image(dir.file("rgb.png")).to_vector<uint8_t>(), pixels);

  const auto stored_grey = values_of(events, "samples/grey");
  ASSERT_EQ(stored_grey.size(), 1u);
  EXPECT_EQ(stored_grey[0].second.image.channels, 1);
  write_bytes(dir.file("grey.png"), stored_grey[0].second.image.encoded);
  EXPECT_EQ(data::read_image(dir.file("grey.png")).to_vector<uint8_t>(),
            std::vector<uint8_t>(6, 255));

  EXPECT_EQ(
      error_message([&] {
        writer.add_image("bad", zeros({2, 3, 3}, DType::u8), 0);
      }),
      "SummaryWriter::add_image: tag 'bad': expected an image [H, W] or [C, H, W] with C = 1, "
      "3 or 4 (grey, RGB, RGBA), got shape [2, 3, 3]");
}

TEST(TensorBoardWriter, TextIsAStringTensorForTheTextPlugin) {
  TempDir dir;
  SummaryWriter writer(dir.file("run"));
  writer.add_text("notes", "**Adam**, lr 0.001 — ünïcode", 5);
  writer.flush();
  const auto found = values_of(read_events(writer.path()), "notes/text_summary");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, 5);
  EXPECT_EQ(found[0].second.kind, SummaryValue::Kind::text);
  EXPECT_EQ(found[0].second.plugin, "text");
  EXPECT_EQ(found[0].second.text, "**Adam**, lr 0.001 — ünïcode");
}

TEST(TensorBoardWriter, ClosedOrBadFoldersAreErrors) {
  TempDir dir;
  SummaryWriter writer(dir.file("run"));
  writer.add_scalar("loss", 1, 0);
  writer.close();
  EXPECT_EQ(read_events(writer.path()).size(), 2u);  // closing flushed
  EXPECT_EQ(error_message([&] { writer.add_scalar("loss", 1, 1); }),
            "SummaryWriter::add_scalar: the writer of " + writer.path() + " is closed");
  writer.close();  // a second close does nothing
  write_bytes(dir.file("file"), "x");
  EXPECT_EQ(error_message([&] { SummaryWriter in_file(dir.file("file")); }),
            "SummaryWriter: " + dir.file("file") +
                " exists and is not a folder; expected a folder for the event files");
  EXPECT_NE(error_message([&] {
              SummaryWriter under_file(dir.file("file/run"));
            }).find("SummaryWriter: cannot create the log folder " + dir.file("file/run")),
            std::string::npos);
  SummaryWriter fresh(dir.file("run"));
  EXPECT_EQ(error_message([&] { fresh.add_scalar("", 1); }),
            "SummaryWriter::add_scalar: expected a tag, got an empty string");
}

// The node named `name` of a graph read back; a test failure when absent.
GraphNodeSummary node_named(const std::vector<GraphNodeSummary>& graph, const std::string& name) {
  for (const GraphNodeSummary& node : graph) {
    if (node.name == name) return node;
  }
  ADD_FAILURE() << "no graph node named " << name;
  return {};
}

TEST(TensorBoardWriter, GraphsOfSequentialAndFunctionalModels) {
  TempDir dir;
  SummaryWriter writer(dir.file("run"));
  Model mlp({layers::Flatten(), layers::Dense(8, "relu"), layers::Dense(3)}, "mlp");
  EXPECT_EQ(error_message([&] { writer.add_graph(mlp); }),
            "SummaryWriter::add_graph: the model 'mlp' is not built yet; call build(input_shape) "
            "or fit() first");
  mlp.build({4, 4});
  writer.add_graph(mlp);
  auto wide = layers::Input({3}, "wide"), deep = layers::Input({5}, "deep");
  auto hidden = layers::Dense(4, "relu")(deep);
  auto price = layers::Dense(1)(layers::Concatenate()({wide, hidden}));
  Model wide_deep({wide, deep}, {price}, "wide & deep");
  writer.add_graph(wide_deep);
  writer.flush();
  const std::vector<TensorBoardEvent> events = read_events(writer.path());
  ASSERT_EQ(events.size(), 3u);

  // A Sequential: its input, then each layer reading the one before, inside the model's scope.
  const std::vector<GraphNodeSummary>& chain = events[1].graph;
  ASSERT_EQ(chain.size(), 4u);
  const std::vector<std::string> names = {"input", "mlp/flatten", "mlp/dense", "mlp/dense_1"};
  const std::vector<std::string> ops = {"InputLayer", "Flatten", "Dense", "Dense"};
  const std::vector<Shape> shapes = {{-1, 4, 4}, {-1, 16}, {-1, 8}, {-1, 3}};
  const std::vector<int64_t> parameters = {0, 0, 16 * 8 + 8, 8 * 3 + 3};
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(chain[i].name, names[i]);
    EXPECT_EQ(chain[i].op, ops[i]);
    EXPECT_EQ(chain[i].output_shape, shapes[i]);
    EXPECT_EQ(chain[i].parameters, parameters[i]);
    EXPECT_EQ(chain[i].inputs,
              i == 0 ? std::vector<std::string>{} : std::vector<std::string>{names[i - 1]});
  }
  // A graph model: its inputs, and the merge reading both branches; names made valid for
  // TensorFlow ("wide & deep" -> "wide___deep").
  const std::vector<GraphNodeSummary>& graph = events[2].graph;
  ASSERT_EQ(graph.size(), 5u);
  EXPECT_EQ(node_named(graph, "deep").op, "InputLayer");
  EXPECT_EQ(node_named(graph, "deep").output_shape, (Shape{-1, 5}));
  EXPECT_EQ(node_named(graph, "wide___deep/dense").inputs, std::vector<std::string>{"deep"});
  const GraphNodeSummary merge = node_named(graph, "wide___deep/concatenate");
  EXPECT_EQ(merge.op, "Concatenate");
  EXPECT_EQ(merge.inputs, (std::vector<std::string>{"wide", "wide___deep/dense"}));
  EXPECT_EQ(merge.output_shape, (Shape{-1, 7}));
  EXPECT_EQ(node_named(graph, "wide___deep/dense_1").parameters, 8);
}

TEST(TensorBoardWriter, DestroyingOrReplacingAWriterKeepsItsEvents) {
  TempDir dir;
  std::string first_path;
  {
    SummaryWriter writer(dir.file("run"));
    writer.add_scalar("loss", 1, 0);
    first_path = writer.path();
    writer = SummaryWriter(dir.file("other"));  // the first file is flushed and closed
    EXPECT_EQ(read_events(first_path).size(), 2u);
    writer.add_scalar("loss", 2, 0);
    SummaryWriter moved(std::move(writer));
    EXPECT_EQ(error_message([&] { writer.add_scalar("loss", 3, 0); }),
              "SummaryWriter::add_scalar: the writer was moved from");
  }
  EXPECT_EQ(values_of(read_events(event_file_in(dir.file("other"))), "loss").size(), 1u);
}

TEST(TensorBoardReader, CorruptAndTruncatedFilesNameTheOffset) {
  TempDir dir;
  std::string path;
  {
    SummaryWriter writer(dir.file("run"));
    writer.add_scalar("loss", 0.5, 1);
    path = writer.path();
  }
  const std::string bytes = read_bytes(path);
  const size_t second = data::read_tfrecords(path)[0].size() + 16;  // the scalar's record
  std::string corrupt = bytes;
  corrupt[second + 14] ^= 0x20;
  write_bytes(path, corrupt);
  const std::string message = error_message([&] { read_events(path); });
  EXPECT_EQ(message, "read_events: " + path + ": corrupt TFRecord at byte offset " +
                         std::to_string(second) + " (record 1): the CRC-32C of its " +
                         std::to_string(bytes.size() - second - 16) +
                         " bytes of data does not match");
  write_bytes(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_NE(error_message([&] { read_events(path); })
                .find("read_events: " + path + ": truncated TFRecord at byte offset " +
                      std::to_string(second)),
            std::string::npos);
  // A sound record that is not an Event message.
  std::string not_an_event;
  data::internal::append_tfrecord(not_an_event, "\xff\xff\xff");
  write_bytes(path, bytes + not_an_event);
  EXPECT_EQ(error_message([&] { read_events(path); }),
            "read_events: " + path + ": the record at byte offset " + std::to_string(bytes.size()) +
                " is not a TensorBoard Event message");
}

// protoc, from Debian's protobuf-compiler, decodes a record without nabla's .proto: the field
// numbers on the wire are TensorFlow's.
TEST(TensorBoardReader, ProtocDecodesTheRecords) {
  if (std::system("command -v protoc > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "protoc is not installed (Debian: protobuf-compiler)";
  }
  TempDir dir;
  std::string path;
  {
    SummaryWriter writer(dir.file("run"));
    writer.add_scalar("loss", 0.5, 3);
    writer.add_text("note", "hello", 4);
    path = writer.path();
  }
  const std::vector<std::string> records = data::read_tfrecords(path);
  ASSERT_EQ(records.size(), 3u);
  const auto decode = [&](size_t i) {
    const std::string record = dir.file("record" + std::to_string(i));
    write_bytes(record, records[i]);
    EXPECT_EQ(std::system(("protoc --decode_raw < " + record + " > " + record + ".txt").c_str()),
              0);
    return read_bytes(record + ".txt");
  };
  // Event: 1 wall_time (fixed64), 2 step, 3 file_version, 5 summary; Summary.Value: 1 tag,
  // 2 simple_value (fixed32: 0.5f is 0x3f000000), 8 tensor, 9 metadata.
  EXPECT_TRUE(std::regex_search(decode(0), std::regex("^1: 0x[0-9a-f]+\n3: \"brain.Event:2\"\n$")))
      << decode(0);
  EXPECT_TRUE(std::regex_search(
      decode(1), std::regex("^1: 0x[0-9a-f]+\n2: 3\n5 \\{\n  1 \\{\n    1: \"loss\"\n    2: "
                            "0x3f000000\n  \\}\n\\}\n$")))
      << decode(1);
  // Tensor: 1 dtype (DT_STRING = 7), 2 shape {2 dim {1 size}}, 8 string_val; metadata: 1
  // plugin_data {1 plugin_name}.
  EXPECT_TRUE(std::regex_search(
      decode(2), std::regex("2: 4\n5 \\{\n  1 \\{\n    1: \"note/text_summary\"\n    8 \\{\n      "
                            "1: 7\n      2 \\{\n        2 \\{\n          1: 1\n        \\}\n      "
                            "\\}\n      8: \"hello\"\n    \\}\n    9 \\{\n      1 \\{\n        1: "
                            "\"text\"\n      \\}\n    \\}\n  \\}\n\\}\n$")))
      << decode(2);
}

// ---- the callback ----

// 96 points of two classes (the sign of x0 + x1), for a model that trains in a few steps.
struct Points {
  Tensor x, y;
};
Points two_classes() {
  Generator gen(3);
  const Tensor x = randn({96, 2}, DType::f32, &gen);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 96; ++i) labels.push_back(x.at<float>({i, 0}) + x.at<float>({i, 1}) > 0);
  return {x, from_vector(labels, {96})};
}

Model small_model() {
  manual_seed(1);
  Model model({layers::Dense(4, "relu"), layers::Dense(2, "softmax")});
  model.build({2});
  model.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = 0.05}),
                "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

// Reads the train file back inside fit(), right after TensorBoard's on_epoch_end: what a crash at
// that point would leave on disk.
class ReadsTrainFile : public Callback {
 public:
  explicit ReadsTrainFile(fs::path dir) : dir_(std::move(dir)) {}
  void on_epoch_end(int64_t epoch, Logs& logs) override {
    const auto loss = values_of(read_events(event_file_in(dir_)), "epoch_loss");
    ASSERT_EQ(loss.size(), static_cast<size_t>(epoch + 1));
    EXPECT_EQ(loss.back().second.scalar, static_cast<double>(static_cast<float>(logs.at("loss"))));
  }

 private:
  fs::path dir_;
};

TEST(TensorBoardCallback, WritesKerasLayoutAndFlushesEveryEpoch) {
  TempDir dir;
  const Points data = two_classes();
  Model model = small_model();
  const fs::path log_dir = dir.path() / "logs";
  // Batches of 24 over 72 training samples: 3 per epoch, 6 in all; batch scalars every 2.
  const History history = model.fit(
      data.x, data.y,
      {.epochs = 2,
       .batch_size = 24,
       .validation_split = 0.25,
       .verbose = 0,
       .callbacks = {
           std::make_shared<TensorBoard>(log_dir.string(), TensorBoardOptions{.update_freq = 2}),
           std::make_shared<ReadsTrainFile>(log_dir / "train")}});

  const std::vector<TensorBoardEvent> train = read_events(event_file_in(log_dir / "train"));
  EXPECT_EQ(train[0].file_version, "brain.Event:2");
  for (const std::string name : {"loss", "accuracy"}) {
    const auto found = values_of(train, "epoch_" + name);
    ASSERT_EQ(found.size(), 2u) << name;
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      EXPECT_EQ(found[epoch].first, epoch);
      EXPECT_EQ(found[epoch].second.scalar, static_cast<float>(history[name][epoch])) << name;
    }
  }
  const auto lr = values_of(train, "epoch_learning_rate");
  ASSERT_EQ(lr.size(), 2u);
  EXPECT_EQ(lr[1].second.scalar, 0.05f);
  const auto batch_loss = values_of(train, "batch_loss");
  ASSERT_EQ(batch_loss.size(), 3u);
  EXPECT_EQ(batch_loss[0].first, 2);
  EXPECT_EQ(batch_loss[2].first, 6);
  EXPECT_EQ(values_of(train, "batch_learning_rate").size(), 3u);
  EXPECT_TRUE(values_of(train, "epoch_val_loss").empty());
  // The layer graph, written when training began.
  ASSERT_GE(train.size(), 2u);
  ASSERT_EQ(train[1].graph.size(), 3u);
  EXPECT_EQ(train[1].graph[2].name, "sequential/dense_1");
  EXPECT_EQ(train[1].graph[2].inputs, std::vector<std::string>{"sequential/dense"});

  // Validation values in their own folder, without the val_ prefix.
  const std::vector<TensorBoardEvent> validation =
      read_events(event_file_in(log_dir / "validation"));
  const auto val_loss = values_of(validation, "epoch_loss");
  ASSERT_EQ(val_loss.size(), 2u);
  EXPECT_EQ(val_loss[1].second.scalar, static_cast<float>(history["val_loss"][1]));
  EXPECT_EQ(values_of(validation, "epoch_accuracy").size(), 2u);

  // Every parameter and its gradient, each epoch.
  for (const auto& [name, parameter] : model.module().named_parameters()) {
    const auto weights = values_of(train, name + "/histogram");
    ASSERT_EQ(weights.size(), 2u) << name;
    EXPECT_EQ(weights[1].first, 1);
    EXPECT_EQ(weights[1].second.histogram.num, static_cast<double>(parameter.numel()));
    const std::vector<float> final_values = parameter.detach().contiguous().to_vector<float>();
    EXPECT_EQ(weights[1].second.histogram.max,
              *std::max_element(final_values.begin(), final_values.end()));
    const auto gradients = values_of(train, name + "/gradient");
    ASSERT_EQ(gradients.size(), 2u) << name;
    EXPECT_EQ(gradients[1].second.histogram.sum,
              internal::make_histogram(parameter.grad(), "test").sum);
  }
}

TEST(TensorBoardCallback, HistogramFrequencyAndLearningRateSchedule) {
  TempDir dir;
  const Points data = two_classes();
  Model model = small_model();
  // The scheduler steps the optimizer at the epoch's end, before TensorBoard's turn: the rate
  // written is still the one the epoch trained with.
  auto halve = std::make_shared<LearningRateScheduler>(
      std::make_shared<optim::StepLR>(model.optimizer(), 1, 0.5));
  model.fit(data.x, data.y,
            {.epochs = 3,
             .batch_size = 32,
             .verbose = 0,
             .callbacks = {halve, std::make_shared<TensorBoard>(
                                      dir.file("logs"), TensorBoardOptions{.histogram_freq = 2})}});
  const std::vector<TensorBoardEvent> train = read_events(event_file_in(dir.file("logs/train")));
  const auto weights = values_of(train, "0.weight/histogram");
  ASSERT_EQ(weights.size(), 2u);  // epochs 0 and 2
  EXPECT_EQ(weights[0].first, 0);
  EXPECT_EQ(weights[1].first, 2);
  const auto lr = values_of(train, "epoch_learning_rate");
  ASSERT_EQ(lr.size(), 3u);
  EXPECT_EQ(lr[0].second.scalar, 0.05f);
  EXPECT_EQ(lr[1].second.scalar, 0.025f);
  EXPECT_EQ(lr[2].second.scalar, 0.0125f);
  EXPECT_TRUE(values_of(train, "epoch_lr").empty());  // the logs' "lr" is not written twice
  EXPECT_TRUE(values_of(train, "batch_loss").empty());
  EXPECT_FALSE(fs::exists(dir.file("logs/validation")));  // no validation data, no folder
}

TEST(TensorBoardCallback, BadSettingsAndUnwritableFoldersAreErrors) {
  EXPECT_EQ(error_message([] { TensorBoard(""); }),
            "TensorBoard: expected a log folder, got an empty path");
  EXPECT_EQ(error_message([] { TensorBoard("logs", {.histogram_freq = -1}); }),
            "TensorBoard: histogram_freq must be >= 0, got -1");
  EXPECT_EQ(error_message([] { TensorBoard("logs", {.update_freq = -2}); }),
            "TensorBoard: update_freq must be >= 0 (0: once per epoch), got -2");
  TempDir dir;
  write_bytes(dir.file("file"), "x");
  const Points data = two_classes();
  Model model = small_model();
  const std::string message = error_message([&] {
    model.fit(data.x, data.y,
              {.verbose = 0, .callbacks = {std::make_shared<TensorBoard>(dir.file("file"))}});
  });
  EXPECT_NE(message.find("SummaryWriter: cannot create the log folder " + dir.file("file/train")),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace nabla::train
