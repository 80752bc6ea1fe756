// Image folders: PIL's antialiased bilinear resize, RGB -> L conversion and JPEG decoding
// reproduced pixel for pixel (tests/reference/gen_image_resize.py, Debian's python3-pil), and
// load_image_folder on folder trees made here: classes, the seeded split, the train/ and test/
// layout, grayscale, and one error naming the file for each kind of bad input.
#include <gtest/gtest.h>

#include <sstream>

#include "nabla/data.hpp"
#include "support/reference.hpp"
#include "test_util.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::load_reference;
using nabla::testing::TempDir;
using nabla::testing::tensor_from_json;
using nabla::testing::write_bytes;

namespace {

Tensor image_folder_u8(const nlohmann::json& j) { return tensor_from_json(j).to(DType::u8); }

std::string image_folder_hex_bytes(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return bytes;
}

// A JPEG file written by PIL (the reference data), RGB or grey.
std::string image_folder_jpeg(const std::string& which) {
  return image_folder_hex_bytes(load_reference("image_resize").at("jpeg/" + which).at("bytes"));
}

// A u8 image [channels, height, width] whose pixels encode `value`.
Tensor image_folder_picture(int64_t channels, int64_t height, int64_t width, int value) {
  return full({channels, height, width}, static_cast<double>(value), DType::u8);
}

// DIR/CLASS/NNN.png, `count` pictures per class; the pictures of classes[c] are filled with
// 40 * (c + 1).
void make_image_folder_tree(const std::filesystem::path& dir,
                            const std::vector<std::string>& classes, int count) {
  for (size_t c = 0; c < classes.size(); ++c) {
    std::filesystem::create_directories(dir / classes[c]);
    for (int i = 0; i < count; ++i) {
      data::write_png((dir / classes[c] / (std::to_string(10 + i) + ".png")).string(),
                      image_folder_picture(3, 6 + i % 3, 5, 40 * static_cast<int>(c + 1)));
    }
  }
}

}  // namespace

TEST(ResizeImage, MatchesPilBilinearPixelForPixel) {
  const nlohmann::json reference = load_reference("image_resize");
  int cases = 0;
  for (const auto& [name, c] : reference.items()) {
    if (!name.starts_with("resize/")) continue;
    const Tensor out =
        data::resize_image(image_folder_u8(c.at("x")), c.at("height"), c.at("width"));
    const Tensor expected = image_folder_u8(c.at("out"));
    ASSERT_EQ(out.shape(), expected.shape()) << name;
    EXPECT_EQ(out.to_vector<uint8_t>(), expected.to_vector<uint8_t>()) << name;
    ++cases;
  }
  EXPECT_EQ(cases, 9);
}

TEST(ResizeImage, SameSizeIsUnchangedAndBadInputIsAnError) {
  const Tensor image = image_folder_picture(3, 4, 5, 7);
  EXPECT_EQ(data::resize_image(image, 4, 5).to_vector<uint8_t>(), image.to_vector<uint8_t>());
  EXPECT_NE(error_message([&] {
              data::resize_image(image.to(DType::f32), 2, 2);
            }).find("resize_image: expected a u8 image [H, W] or [C, H, W], got [3, 4, 5] f32"),
            std::string::npos);
  EXPECT_NE(
      error_message([&] { data::resize_image(image, 0, 2); }).find("expected a size > 0, got 0x2"),
      std::string::npos);
}

TEST(ConvertChannels, RgbToGreyIsPilsLuma) {
  const nlohmann::json c = load_reference("image_resize").at("grey/rgb");
  const Tensor grey = data::convert_channels(image_folder_u8(c.at("x")), 1);
  const Tensor expected = image_folder_u8(c.at("out"));
  EXPECT_EQ(grey.shape(), Shape({1, expected.size(0), expected.size(1)}));
  EXPECT_EQ(grey.to_vector<uint8_t>(), expected.to_vector<uint8_t>());
}

TEST(ConvertChannels, GreyToRgbRepeatsTheChannel) {
  const Tensor grey = from_vector(std::vector<uint8_t>{1, 2, 3, 4}, {2, 2});
  const Tensor rgb = data::convert_channels(grey, 3);
  EXPECT_EQ(rgb.shape(), Shape({3, 2, 2}));
  EXPECT_EQ(rgb.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}));
  EXPECT_NE(error_message([&] {
              data::convert_channels(grey, 2);
            }).find("expected 1 or 3 channels, got 2"),
            std::string::npos);
}

TEST(DecodeImage, JpegMatchesPilPixelForPixel) {
  const nlohmann::json reference = load_reference("image_resize");
  for (const char* which : {"rgb", "grey"}) {
    const nlohmann::json& c = reference.at(std::string("jpeg/") + which);
    const Tensor decoded = data::decode_image(image_folder_hex_bytes(c.at("bytes")), which);
    const Tensor expected = image_folder_u8(c.at("out"));
    ASSERT_EQ(decoded.shape(), expected.shape()) << which;
    EXPECT_EQ(decoded.to_vector<uint8_t>(), expected.to_vector<uint8_t>()) << which;
  }
  // read_image takes JPEG files too.
  TempDir dir;
  write_bytes(dir.file("photo.jpg"), image_folder_jpeg("rgb"));
  EXPECT_EQ(data::read_image(dir.file("photo.jpg")).shape(), Shape({3, 12, 10}));
}

TEST(DecodeImage, TruncatedAndCorruptFilesAreOneError) {
  const std::string jpeg = image_folder_jpeg("rgb");
  EXPECT_NE(error_message([&] {
              data::decode_image(jpeg.substr(0, jpeg.size() / 2), "half.jpg");
            }).find("half.jpg: not a valid JPEG file: Premature end of JPEG file"),
            std::string::npos);
  std::string corrupt = jpeg;
  for (size_t i = 20; i < 60; ++i) corrupt[i] = '\x55';  // inside the quantization tables
  EXPECT_NE(error_message([&] {
              data::decode_image(corrupt, "bad.jpg");
            }).find("bad.jpg: not a valid JPEG file"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              data::decode_image("hello", "x.txt");
            }).find("x.txt: expected a PNG or JPEG image, got other bytes"),
            std::string::npos);
  TempDir dir;
  data::write_png(dir.file("a.png"), image_folder_picture(3, 8, 8, 9));
  const std::string png = nabla::testing::read_bytes(dir.file("a.png"));
  EXPECT_NE(error_message([&] {
              data::decode_image(png.substr(0, png.size() - 20), "cut.png");
            }).find("cut.png: not a valid PNG file"),
            std::string::npos);
}

TEST(ImageFolder, ReadsClassFoldersWithASeededSplit) {
  TempDir dir;
  make_image_folder_tree(dir.path(), {"b_dogs", "a_cats"}, 10);
  EXPECT_TRUE(data::is_image_folder(dir.path().string()));
  EXPECT_EQ(data::image_folder_classes(dir.path().string()),
            (std::vector<std::string>{"a_cats", "b_dogs"}));
  data::ImageFolderOptions options;
  options.height = 4;
  options.width = 3;
  options.test_fraction = 0.2;
  options.seed = 5;
  const data::ImageFolderData images = data::load_image_folder(dir.path().string(), options);
  EXPECT_EQ(images.class_names, (std::vector<std::string>{"a_cats", "b_dogs"}));
  ASSERT_EQ(images.train_images.shape(), Shape({16, 3, 4, 3}));
  ASSERT_EQ(images.test_images.shape(), Shape({4, 3, 4, 3}));
  EXPECT_EQ(images.train_images.dtype(), DType::u8);
  // Two of each class held out; the test part in class order; every pixel its class's value.
  EXPECT_EQ(images.test_labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1}));
  const std::vector<int64_t> train_labels = images.train_labels.to_vector<int64_t>();
  EXPECT_EQ(std::count(train_labels.begin(), train_labels.end(), 0), 8);
  // b_dogs (made first) holds pictures of 40, a_cats 80; labels follow the sorted names.
  for (int64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(images.train_images.select(0, i).to_vector<uint8_t>(),
              std::vector<uint8_t>(36, train_labels[i] == 0 ? 80 : 40));
    EXPECT_NE(images.train_files[i].find(train_labels[i] == 0 ? "a_cats" : "b_dogs"),
              std::string::npos);
  }
  // The same seed holds out the same files; another seed others.
  EXPECT_EQ(data::load_image_folder(dir.path().string(), options).test_files, images.test_files);
  options.seed = 6;
  EXPECT_NE(data::load_image_folder(dir.path().string(), options).test_files, images.test_files);
}

TEST(ImageFolder, TrainAndTestFoldersAndGrayscale) {
  TempDir dir;
  make_image_folder_tree(dir.path() / "train", {"x", "y", "z"}, 3);
  make_image_folder_tree(dir.path() / "test", {"x", "y", "z"}, 2);
  write_bytes((dir.path() / "train" / "y" / "photo.jpg").string(), image_folder_jpeg("grey"));
  write_bytes((dir.path() / ".DS_Store").string(), "hidden entries are skipped");
  data::ImageFolderOptions options;
  options.height = 5;
  options.width = 5;
  options.channels = 1;
  const data::ImageFolderData images = data::load_image_folder(dir.path().string(), options);
  EXPECT_EQ(images.class_names, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(images.train_images.shape(), Shape({10, 1, 5, 5}));
  EXPECT_EQ(images.test_images.shape(), Shape({6, 1, 5, 5}));
  EXPECT_EQ(images.test_labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  // Class x's pictures are RGB (40, 40, 40): grey 40.
  EXPECT_EQ(images.test_images.select(0, 0).to_vector<uint8_t>(), std::vector<uint8_t>(25, 40));
}

TEST(ImageFolder, BadInputIsOneErrorNamingTheFile) {
  data::ImageFolderOptions options;
  options.height = 4;
  options.width = 4;
  {
    TempDir dir;
    make_image_folder_tree(dir.path(), {"a", "b"}, 4);
    write_bytes((dir.path() / "b" / "notes.txt").string(), "not an image");
    const std::string message =
        error_message([&] { data::load_image_folder(dir.path().string(), options); });
    EXPECT_NE(message.find("b/notes.txt: expected a PNG, JPEG or binary PGM (P5) image"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("--skip-bad-records"), std::string::npos);
    // Skipped with a warning each and a count.
    std::ostringstream warnings;
    options.skip_bad_records = true;
    options.warnings = &warnings;
    const data::ImageFolderData images = data::load_image_folder(dir.path().string(), options);
    EXPECT_EQ(images.skipped, 1);
    EXPECT_EQ(images.train_images.size(0) + images.test_images.size(0), 8);
    EXPECT_NE(warnings.str().find("nabla: warning: skipping a bad image: read_image: "),
              std::string::npos);
    EXPECT_NE(warnings.str().find("nabla: warning: skipped 1 bad image in "), std::string::npos);
    options.skip_bad_records = false;
    options.warnings = nullptr;
  }
  {
    TempDir dir;
    make_image_folder_tree(dir.path(), {"a", "b"}, 4);
    const std::string jpeg = image_folder_jpeg("rgb");
    write_bytes((dir.path() / "a" / "cut.jpg").string(), jpeg.substr(0, jpeg.size() - 100));
    EXPECT_NE(error_message([&] {
                data::load_image_folder(dir.path().string(), options);
              }).find("a/cut.jpg: not a valid JPEG file"),
              std::string::npos);
  }
  {
    TempDir dir;
    make_image_folder_tree(dir.path(), {"a", "b"}, 4);
    std::filesystem::create_directories(dir.path() / "c");
    EXPECT_NE(error_message([&] {
                data::load_image_folder(dir.path().string(), options);
              }).find("the class folder " + (dir.path() / "c").string() + " holds no files"),
              std::string::npos);
  }
  {
    TempDir dir;
    make_image_folder_tree(dir.path() / "train", {"a", "b"}, 2);
    make_image_folder_tree(dir.path() / "test", {"a", "c"}, 2);
    EXPECT_NE(error_message([&] {
                data::load_image_folder(dir.path().string(), options);
              }).find("test/ holds the class folders [a, c], train/ [a, b]"),
              std::string::npos);
  }
  {
    TempDir dir;
    make_image_folder_tree(dir.path(), {"a"}, 2);
    write_bytes(dir.file("stray.png"), "x");
    EXPECT_FALSE(data::is_image_folder(dir.path().string()));
    EXPECT_NE(error_message([&] {
                data::load_image_folder(dir.path().string(), options);
              }).find("stray.png is a file; expected only class folders"),
              std::string::npos);
  }
}
