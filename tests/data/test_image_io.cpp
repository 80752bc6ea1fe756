// data::read_image: PGM and PNG files (grey and colour), and the errors for damaged or hostile
// headers, which must be caught before anything is allocated.
#include <gtest/gtest.h>

#include <fstream>

#include "nabla/data.hpp"
#include "support/errors.hpp"
#include "test_util.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Made with Python's zlib and struct: a 3x2 8-bit grey image (rows 0 128 255 / 10 20 30) and a
// 2x1 RGB image (pure red, then green with blue 7).
const std::vector<unsigned char> kGreyPng = {
    137, 80,  78, 71,  13,  10, 26, 10,  0,   0,   0,   13, 73,  72,  68, 82, 0,   0,  0,
    3,   0,   0,  0,   2,   8,  0,  0,   0,   0,   184, 31, 57,  198, 0,  0,  0,   16, 73,
    68,  65,  84, 120, 156, 99, 96, 104, 248, 207, 192, 37, 34,  7,   0,  8,  103, 1,  188,
    156, 103, 53, 160, 0,   0,  0,  0,   73,  69,  78,  68, 174, 66,  96, 130};
const std::vector<unsigned char> kRgbPng = {
    137, 80, 78,  71, 13, 10,  26,  10, 0,   0,   0,   13,  73,  72,  68,  82, 0,  0,
    0,   2,  0,   0,  0,  1,   8,   2,  0,   0,   0,   123, 64,  232, 221, 0,  0,  0,
    15,  73, 68,  65, 84, 120, 156, 99, 248, 207, 192, 192, 240, 159, 29,  0,  8,  6,
    2,   6,  120, 81, 10, 53,  0,   0,  0,   0,   73,  69,  78,  68,  174, 66, 96, 130};

}  // namespace

TEST(ReadImage, GreyAndColourPng) {
  TempDir dir;
  write_bytes(dir.file("grey.png"), kGreyPng);
  const Tensor grey = data::read_image(dir.file("grey.png"));
  EXPECT_EQ(grey.dtype(), DType::u8);
  EXPECT_EQ(grey.shape(), Shape({2, 3}));
  EXPECT_EQ(grey.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 128, 255, 10, 20, 30}));
  write_bytes(dir.file("rgb.png"), kRgbPng);
  const Tensor rgb = data::read_image(dir.file("rgb.png"));
  EXPECT_EQ(rgb.shape(), Shape({3, 1, 2}));  // channels first
  EXPECT_EQ(rgb.to_vector<uint8_t>(), (std::vector<uint8_t>{255, 0, 0, 255, 0, 7}));
}

TEST(ReadImage, BinaryPgmWithCommentsAndMaximum) {
  TempDir dir;
  write_text(dir.file("a.pgm"),
             std::string("P5\n# made by hand\n2 2\n15\n") + '\0' + '\x05' + '\x0a' + '\x0f');
  const Tensor image = data::read_image(dir.file("a.pgm"));
  EXPECT_EQ(image.shape(), Shape({2, 2}));
  EXPECT_EQ(image.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 85, 170, 255}));
}

TEST(ReadImage, DamagedAndHostileFilesAreOneError) {
  TempDir dir;
  write_text(dir.file("huge.pgm"), "P5 99999999 99999999 255\n");
  EXPECT_NE(error_message([&] {
              data::read_image(dir.file("huge.pgm"));
            }).find("huge.pgm: image size 99999999x99999999 is not a valid size"),
            std::string::npos);
  write_text(dir.file("short.pgm"), "P5 4 4 255\nab");
  EXPECT_NE(error_message([&] {
              data::read_image(dir.file("short.pgm"));
            }).find("short.pgm: truncated: expected 16 pixel bytes, got 2"),
            std::string::npos);
  std::vector<unsigned char> cut(kGreyPng.begin(), kGreyPng.begin() + 40);
  write_bytes(dir.file("cut.png"), cut);
  EXPECT_NE(error_message([&] {
              data::read_image(dir.file("cut.png"));
            }).find("cut.png: not a valid PNG file"),
            std::string::npos);
  write_text(dir.file("x.txt"), "hello");
  EXPECT_NE(error_message([&] {
              data::read_image(dir.file("x.txt"));
            }).find("x.txt: expected a PNG, JPEG or binary PGM (P5) image"),
            std::string::npos);
  EXPECT_NE(error_message([&] { data::read_image(dir.file("missing.png")); }).find("cannot open"),
            std::string::npos);
}
