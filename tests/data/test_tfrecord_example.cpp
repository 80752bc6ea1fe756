// tf.train.Example records and TFRecord data sets: a fixture written independently of nabla
// (tests/reference/gen_tfrecord_fixture.py: Debian's python3-protobuf, Python's struct, gzip and
// a bitwise CRC-32C) read back exactly, plain and gzip-compressed; records written and read back;
// the feature spec mapping features to tensors; convert to shards and back; and the errors for
// a bad CRC, a truncated record, a missing feature and a feature of the wrong type, which name
// the file, the record number and the feature.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "data/tfrecord.hpp"
#include "nabla/data.hpp"
#include "support/reference.hpp"
#include "test_util.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::load_reference;
using nabla::testing::read_bytes;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

std::string tf_example_fixture(const std::string& name) {
  return std::string(NABLA_REFERENCE_DIR) + "/tfrecord/" + name;
}

std::string tf_example_unhex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return bytes;
}

float tf_example_float_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Records {"image": PNG of a 4x4 picture of value 50 * label, "label", "class_name"}.
std::vector<std::string> tf_example_image_records(int count, int classes) {
  TempDir dir;
  std::vector<std::string> records;
  for (int i = 0; i < count; ++i) {
    const int label = i % classes;
    data::write_png(dir.file("a.png"), full({3, 4, 4}, 50.0 * label, DType::u8));
    records.push_back(data::encode_example(
        {{"image", data::bytes_feature({read_bytes(dir.file("a.png"))})},
         {"label", data::int64_feature({label})},
         {"class_name", data::bytes_feature({"class" + std::to_string(label)})}}));
  }
  return records;
}

}  // namespace

TEST(TFRecordExample, ReadsRecordsWrittenIndependentlyExactly) {
  const nlohmann::json expected =
      nlohmann::json::parse(read_bytes(tf_example_fixture("examples.json"))).at("records");
  for (const char* file : {"examples.tfrecord", "examples.tfrecord.gz"}) {
    const std::vector<std::string> records = data::read_tfrecords(tf_example_fixture(file));
    ASSERT_EQ(records.size(), expected.size()) << file;
    for (size_t r = 0; r < records.size(); ++r) {
      const data::Features features = data::decode_example(records[r], file);
      ASSERT_EQ(features.size(), expected[r].size()) << file << " record " << r;
      for (const auto& [name, values] : expected[r].items()) {
        const data::Feature& feature = features.at(name);
        if (name == "label") {
          EXPECT_EQ(feature.kind, data::Feature::Kind::int64s);
          EXPECT_EQ(feature.int64s, values.get<std::vector<int64_t>>());
        } else if (name == "features") {
          EXPECT_EQ(feature.kind, data::Feature::Kind::floats);
          ASSERT_EQ(feature.floats.size(), values.size());
          for (size_t i = 0; i < values.size(); ++i) {
            const float want = tf_example_float_bits(values[i].get<uint32_t>());
            EXPECT_EQ(std::memcmp(&feature.floats[i], &want, sizeof(float)), 0)
                << file << " record " << r << " float " << i;
          }
        } else {
          EXPECT_EQ(feature.kind, data::Feature::Kind::bytes);
          ASSERT_EQ(feature.bytes.size(), values.size());
          for (size_t i = 0; i < values.size(); ++i) {
            EXPECT_EQ(feature.bytes[i], tf_example_unhex(values[i]));
          }
        }
      }
    }
  }
  // nabla's own encoding of the same features frames to the same file, byte for byte.
  std::string framed;
  for (const std::string& record : data::read_tfrecords(tf_example_fixture("examples.tfrecord"))) {
    data::internal::append_tfrecord(framed,
                                    data::encode_example(data::decode_example(record, "fixture")));
  }
  EXPECT_EQ(framed, read_bytes(tf_example_fixture("examples.tfrecord")));
}

TEST(TFRecordExample, WritesPlainAndGzipFilesThatReadBack) {
  TempDir dir;
  const std::vector<std::string> records = {
      data::encode_example({{"x", data::float_feature({1.5f, -2})},
                            {"y", data::int64_feature({-3, 4})},
                            {"z", data::bytes_feature({"", std::string("a\0b", 3)})}}),
      data::encode_example({})};
  data::write_tfrecords(dir.file("a.tfrecord"), records);
  data::write_tfrecords(dir.file("a.tfrecord.gz"), records);
  const std::string gz = read_bytes(dir.file("a.tfrecord.gz"));
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_EQ(data::read_tfrecords(dir.file("a.tfrecord")), records);
  EXPECT_EQ(data::read_tfrecords(dir.file("a.tfrecord.gz")), records);
  const data::Features back = data::decode_example(records[0], "r");
  EXPECT_EQ(back.at("x").floats, (std::vector<float>{1.5f, -2}));
  EXPECT_EQ(back.at("y").int64s, (std::vector<int64_t>{-3, 4}));
  EXPECT_EQ(back.at("z").bytes, (std::vector<std::string>{"", std::string("a\0b", 3)}));
  EXPECT_TRUE(data::decode_example(records[1], "r").empty());
  // A gzip file cut short.
  write_bytes(dir.file("cut.tfrecord.gz"), gz.substr(0, gz.size() - 12));
  EXPECT_NE(error_message([&] {
              data::read_tfrecords(dir.file("cut.tfrecord.gz"));
            }).find("cut.tfrecord.gz: truncated: the gzip stream ends early"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              data::decode_example("\xff\xff\xff", "f: record 2");
            }).find("f: record 2: not a tf.train.Example"),
            std::string::npos);
}

TEST(TFRecordData, FeatureSpecMapsFeaturesToTensors) {
  TempDir dir;
  data::write_tfrecords(dir.file("train-00000-of-00001.tfrecord"), tf_example_image_records(6, 3));
  data::write_tfrecords(dir.file("test-00000-of-00001.tfrecord.gz"),
                        tf_example_image_records(3, 3));
  EXPECT_TRUE(data::is_tfrecord_data(dir.path().string()));
  EXPECT_TRUE(data::is_tfrecord_data(dir.file("train-*.tfrecord")));
  // A list (what the shell makes of --data shards/*.tfrecord), sorted, each file once.
  EXPECT_EQ(data::tfrecord_files(dir.file("train-*.tfrecord") + "," +
                                 dir.file("test-00000-of-00001.tfrecord.gz") + "," +
                                 dir.file("train-00000-of-00001.tfrecord")),
            (std::vector<std::string>{dir.file("test-00000-of-00001.tfrecord.gz"),
                                      dir.file("train-00000-of-00001.tfrecord")}));
  data::TFRecordOptions options;
  options.features.input_shape = {1, 2, 2};
  const data::TFRecordData loaded = data::load_tfrecord_data(dir.path().string(), options);
  EXPECT_EQ(loaded.train_inputs.shape(), Shape({6, 1, 2, 2}));
  EXPECT_EQ(loaded.test_inputs.shape(), Shape({3, 1, 2, 2}));
  EXPECT_EQ(loaded.train_labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(loaded.class_names, (std::vector<std::string>{"class0", "class1", "class2"}));
  // Image 4 (label 1): grey 50 everywhere, resized.
  EXPECT_EQ(loaded.train_inputs.select(0, 4).to_vector<uint8_t>(), std::vector<uint8_t>(4, 50));

  // A float list of fixed length, from shards without train/test names: a seeded split.
  TempDir floats;
  std::vector<std::string> records;
  for (int i = 0; i < 10; ++i) {
    records.push_back(
        data::encode_example({{"features", data::float_feature({static_cast<float>(i), 0.5f, -1})},
                              {"label", data::int64_feature({i % 2})}}));
  }
  data::write_tfrecords(floats.file("rows.tfrecord"), records);
  data::TFRecordOptions rows;
  rows.features.kind = "floats";
  rows.features.input = "features";
  rows.features.input_shape = {3};
  rows.test_fraction = 0.3;
  const data::TFRecordData split = data::load_tfrecord_data(floats.file("rows.tfrecord"), rows);
  EXPECT_EQ(split.train_inputs.shape(), Shape({7, 3}));
  EXPECT_EQ(split.test_inputs.shape(), Shape({3, 3}));
  EXPECT_EQ(split.train_inputs.dtype(), DType::f32);
  EXPECT_EQ(split.class_names, (std::vector<std::string>{"0", "1"}));
}

TEST(TFRecordData, BadRecordsNameFileRecordAndFeature) {
  TempDir dir;
  const std::string path = dir.file("bad.tfrecord");
  data::TFRecordOptions options;
  options.features.input_shape = {1, 2, 2};
  std::vector<std::string> records = tf_example_image_records(4, 2);
  records[2] = data::encode_example({{"image", data::bytes_feature({"x"})}});
  data::write_tfrecords(path, records);
  EXPECT_NE(error_message([&] {
              data::load_tfrecord_data(path, options);
            }).find(path + ": record 2: feature 'label' is missing (the record has: image)"),
            std::string::npos);
  records[2] = data::encode_example(
      {{"image", data::bytes_feature({"x"})}, {"label", data::float_feature({1})}});
  data::write_tfrecords(path, records);
  EXPECT_NE(
      error_message([&] { data::load_tfrecord_data(path, options); })
          .find(path +
                ": record 2: feature 'label' has the wrong type: float_list, expected int64_list"),
      std::string::npos);
  records[2] = data::encode_example(
      {{"image", data::bytes_feature({"not an image"})}, {"label", data::int64_feature({1})}});
  data::write_tfrecords(path, records);
  EXPECT_NE(error_message([&] {
              data::load_tfrecord_data(path, options);
            }).find(path + ": record 2: feature 'image': expected a PNG or JPEG image"),
            std::string::npos);
  // Skipped with a warning each and a count.
  std::ostringstream warnings;
  options.skip_bad_records = true;
  options.warnings = &warnings;
  options.test_fraction = 0.34;
  const data::TFRecordData kept = data::load_tfrecord_data(path, options);
  EXPECT_EQ(kept.skipped, 1);
  EXPECT_EQ(kept.train_inputs.size(0) + kept.test_inputs.size(0), 3);
  EXPECT_NE(warnings.str().find("nabla: warning: skipping a bad record: " + path + ": record 2"),
            std::string::npos);
  EXPECT_NE(warnings.str().find("nabla: warning: skipped 1 bad record in " + path),
            std::string::npos);
  // Framing: a bad CRC and a truncated record name the file and the record, skipped or not.
  std::string bytes = read_bytes(path);
  const size_t second = 12 + records[0].size() + 4;
  bytes[second + 12 + 3] ^= 0x01;
  write_bytes(path, bytes);
  EXPECT_NE(error_message([&] { data::load_tfrecord_data(path, options); })
                .find("read_tfrecords: " + path + ": corrupt TFRecord at byte offset " +
                      std::to_string(second) + " (record 1): the CRC-32C of its"),
            std::string::npos);
  bytes[second + 12 + 3] ^= 0x01;
  write_bytes(path, bytes.substr(0, bytes.size() - 7));
  EXPECT_NE(
      error_message([&] { data::load_tfrecord_data(path, options); }).find("(record 3): expected "),
      std::string::npos);
}

TEST(TFRecordConvert, ImageFolderAndCsvToShardsAndBack) {
  TempDir dir;
  for (const char* name : {"ants", "bees"}) {
    std::filesystem::create_directories(dir.path() / "photos" / name);
    for (int i = 0; i < 5; ++i) {
      data::write_png((dir.path() / "photos" / name / (std::to_string(i) + ".png")).string(),
                      full({3, 3, 4}, name[0] == 'a' ? 10.0 * i : 200.0, DType::u8));
    }
  }
  data::TFRecordConvertOptions options;
  options.shards = 2;
  options.gzip = true;
  const data::ConvertReport to =
      data::convert_to_tfrecord(dir.file("photos"), dir.file("shards"), options);
  EXPECT_EQ(to.train_records, 8);
  EXPECT_EQ(to.test_records, 2);
  EXPECT_EQ(to.files.size(), 4u);
  EXPECT_NE(to.files[0].find("train-00000-of-00002.tfrecord.gz"), std::string::npos);
  const data::ConvertReport back =
      data::convert_from_tfrecord(dir.file("shards"), dir.file("again"), "folder");
  EXPECT_EQ(back.train_records, 8);
  // The files come back byte for byte, under their class names.
  const data::ImageFolderFiles files = data::list_image_folder(dir.file("photos"), 0.2, 0);
  const data::ImageFolderFiles again = data::list_image_folder(dir.file("again"), 0.2, 0);
  EXPECT_EQ(again.class_names, (std::vector<std::string>{"ants", "bees"}));
  ASSERT_EQ(again.test_files.size(), 2u);
  EXPECT_EQ(read_bytes(again.test_files[0]), read_bytes(files.test_files[0]));

  nabla::testing::write_bytes(dir.file("t.csv"),
                              "a,b,kind\n1,2,0\n3,4.5,1\n5,6,1\n7,8,0\n9,10,1\n");
  options.label_column = "kind";
  options.gzip = false;
  options.shards = 1;
  options.test_fraction = 0.4;
  const data::ConvertReport csv =
      data::convert_to_tfrecord(dir.file("t.csv"), dir.file("c"), options);
  EXPECT_EQ(csv.train_records, 3);
  EXPECT_EQ(csv.test_records, 2);
  data::convert_from_tfrecord(dir.file("c"), dir.file("c_back"), "csv");
  const data::CsvTable table = data::read_csv(dir.file("c_back/train.csv"));
  EXPECT_EQ(table.columns, (std::vector<std::string>{"f0", "f1", "label"}));
  EXPECT_EQ(table.values.size(0), 3);
  EXPECT_NE(error_message([&] {
              data::convert_from_tfrecord(dir.file("c"), dir.file("x"), "folder");
            }).find("record 0: feature 'image' is missing"),
            std::string::npos);
}

TEST(TFRecordConvert, IdxFolderToShardsAndBackIsExact) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "mnist");
  std::vector<uint8_t> pixels(6 * 4 * 5);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  const Tensor train_images = from_vector(pixels, {6, 4, 5});
  const Tensor train_labels = from_vector(std::vector<uint8_t>{3, 1, 4, 1, 5, 9}, {6});
  const Tensor test_images = train_images.slice(0, 0, 2).contiguous();
  const Tensor test_labels = from_vector(std::vector<uint8_t>{2, 6}, {2});
  data::write_idx(dir.file("mnist/train-images-idx3-ubyte"), train_images);
  data::write_idx(dir.file("mnist/train-labels-idx1-ubyte"), train_labels);
  data::write_idx(dir.file("mnist/t10k-images-idx3-ubyte"), test_images);
  data::write_idx(dir.file("mnist/t10k-labels-idx1-ubyte"), test_labels);
  data::TFRecordConvertOptions options;
  options.shards = 2;
  const data::ConvertReport to =
      data::convert_to_tfrecord(dir.file("mnist"), dir.file("shards"), options);
  EXPECT_EQ(to.kind, "IDX folder");
  EXPECT_EQ(to.train_records, 6);
  data::convert_from_tfrecord(dir.file("shards/*.tfrecord"), dir.file("back"), "idx");
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    EXPECT_EQ(read_bytes(dir.file(std::string("back/") + name)),
              read_bytes(dir.file(std::string("mnist/") + name)))
        << name;
  }
}
