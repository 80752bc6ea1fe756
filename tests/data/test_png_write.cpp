// data::write_png and data::image_grid: every layout written and read back pixel for pixel,
// floating images scaled, and the errors (shape, dtype, range, unwritable path).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <numeric>

#include "data/png.hpp"
#include "nabla/data.hpp"
#include "support/errors.hpp"
#include "test_util.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;

namespace {

// Pixels that differ everywhere, so that a swapped axis or channel shows.
Tensor pattern(const Shape& shape) {
  std::vector<uint8_t> values(static_cast<size_t>(
      std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>())));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return from_vector(values, shape);
}

void expect_same_pixels(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  EXPECT_EQ(actual.to_vector<uint8_t>(), expected.to_vector<uint8_t>());
}

}  // namespace

TEST(PngWrite, GreyAndRgbRoundTripThroughReadImage) {
  TempDir dir;
  const Tensor grey = pattern({5, 7});
  data::write_png(dir.file("grey.png"), grey);
  expect_same_pixels(data::read_image(dir.file("grey.png")), grey);

  const Tensor one_channel = pattern({1, 4, 3});
  data::write_png(dir.file("one.png"), one_channel);
  expect_same_pixels(data::read_image(dir.file("one.png")), one_channel.view({4, 3}));

  const Tensor rgb = pattern({3, 6, 5});
  data::write_png(dir.file("rgb.png"), rgb);
  expect_same_pixels(data::read_image(dir.file("rgb.png")), rgb);
}

TEST(PngWrite, RgbaKeepsItsAlphaChannel) {
  TempDir dir;
  const Tensor rgba = pattern({4, 3, 8});
  data::write_png(dir.file("rgba.png"), rgba);
  expect_same_pixels(data::internal::read_png_with_alpha(dir.file("rgba.png")), rgba);
  // read_image, for models, drops the alpha channel.
  expect_same_pixels(data::read_image(dir.file("rgba.png")), rgba.slice(0, 0, 3).contiguous());
}

TEST(PngWrite, NonContiguousImagesAreWrittenAsTheyLook) {
  TempDir dir;
  const Tensor image = pattern({6, 4}).t();  // [4, 6], transposed strides
  data::write_png(dir.file("t.png"), image);
  expect_same_pixels(data::read_image(dir.file("t.png")), image.contiguous());
}

TEST(PngWrite, FloatingImagesInZeroOneAreScaledAndRounded) {
  TempDir dir;
  data::write_png(dir.file("f.png"),
                  from_vector(std::vector<float>{0.f, 0.5f, 1.f, 0.2f, 0.999f, 0.001f}, {2, 3}));
  EXPECT_EQ(data::read_image(dir.file("f.png")).to_vector<uint8_t>(),
            (std::vector<uint8_t>{0, 128, 255, 51, 255, 0}));
  data::write_png(dir.file("d.png"), from_vector(std::vector<double>{0.25, 0.75}, {1, 1, 2}));
  EXPECT_EQ(data::read_image(dir.file("d.png")).to_vector<uint8_t>(),
            (std::vector<uint8_t>{64, 191}));
}

TEST(PngWrite, ErrorsNameTheFileAndWhatWasExpected) {
  TempDir dir;
  const std::string path = dir.file("bad.png");
  EXPECT_EQ(error_message([&] {
              data::write_png(path, pattern({2, 4, 4}));
            }),
            "write_png: " + path +
                ": expected an image [H, W] or [C, H, W] with C = 1, 3 or 4 (grey, RGB, RGBA), "
                "got shape [2, 4, 4]");
  EXPECT_EQ(error_message([&] {
              data::write_png(path, pattern({1, 1, 4, 4}));
            }),
            "write_png: " + path +
                ": expected an image [H, W] or [C, H, W] with C = 1, 3 or 4 (grey, RGB, RGBA), "
                "got shape [1, 1, 4, 4]");
  EXPECT_EQ(error_message([&] {
              data::write_png(path, zeros({3, 0, 4}, DType::u8));
            }),
            "write_png: " + path + ": expected an image of 1 to 268435456 pixels, got 0x4");
  EXPECT_EQ(
      error_message([&] {
        data::write_png(path, zeros({4, 4}, DType::i64));
      }),
      "write_png: " + path + ": expected u8 pixels or floating values in [0, 1], got dtype i64");
  EXPECT_EQ(error_message([&] {
              data::write_png(path, from_vector(std::vector<float>{0.5f, 1.5f}, {1, 2}));
            }),
            "write_png: " + path +
                ": floating pixel values must lie in [0, 1], got 1.5 at element 1; rescale first "
                "(e.g. (x + 1) / 2 for values in [-1, 1])");
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing written on a rejected image
  const std::string unwritable = dir.file("no/such/folder/x.png");
  EXPECT_EQ(error_message([&] {
              data::write_png(unwritable, pattern({2, 2}));
            }),
            "write_png: cannot write " + unwritable + ": No such file or directory");
}

TEST(ImageGrid, TilesImagesWithPadding) {
  // Three 2x2 single-channel images, two per row, one pixel of padding valued 9.
  const Tensor images =
      from_vector(std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13}, {3, 1, 2, 2});
  const Tensor grid = data::image_grid(images, 2, 1, 9);
  EXPECT_EQ(grid.shape(), (Shape{1, 7, 7}));
  EXPECT_EQ(grid.to_vector<uint8_t>(), (std::vector<uint8_t>{9, 9,  9,  9, 9, 9, 9,  //
                                                             9, 1,  2,  9, 5, 6, 9,  //
                                                             9, 3,  4,  9, 7, 8, 9,  //
                                                             9, 9,  9,  9, 9, 9, 9,  //
                                                             9, 10, 11, 9, 9, 9, 9,  //
                                                             9, 12, 13, 9, 9, 9, 9,  //
                                                             9, 9,  9,  9, 9, 9, 9}));
  // [N, H, W] gives a grey [H', W']; fewer images than columns take only their own width.
  const Tensor row = data::image_grid(images.view({3, 2, 2}), 8, 0);
  EXPECT_EQ(row.shape(), (Shape{2, 6}));
  EXPECT_EQ(row.to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 2, 5, 6, 10, 11, 3, 4, 7, 8, 12, 13}));
}

TEST(ImageGrid, KeepsChannelsAndScalesFloatingImages) {
  const Tensor images = full({2, 3, 1, 1}, 0.5, DType::f32);
  const Tensor grid = data::image_grid(images, 1, 0);
  EXPECT_EQ(grid.shape(), (Shape{3, 2, 1}));
  EXPECT_EQ(grid.dtype(), DType::u8);
  EXPECT_EQ(grid.to_vector<uint8_t>(), std::vector<uint8_t>(6, 128));
  TempDir dir;
  data::write_png(dir.file("grid.png"), grid);
  expect_same_pixels(data::read_image(dir.file("grid.png")), grid);
}

TEST(ImageGrid, RejectsWhatIsNotABatchOfImages) {
  EXPECT_EQ(error_message([] {
              data::image_grid(zeros({4, 4}, DType::u8));
            }),
            "image_grid: expected images [N, C, H, W] or [N, H, W] with N >= 1, got shape [4, 4]");
  EXPECT_EQ(error_message([] {
              data::image_grid(zeros({0, 4, 4}, DType::u8));
            }),
            "image_grid: expected images [N, C, H, W] or [N, H, W] with N >= 1, got shape [0, 4, "
            "4]");
  EXPECT_EQ(error_message([] {
              data::image_grid(zeros({2, 4, 4}, DType::u8), 0);
            }),
            "image_grid: expected columns >= 1 and padding >= 0, got 0 and 2");
}
