// Usage: make_image_folder DIR
// Writes image folders of generated pictures for the image-folder e2e tests, at test time rather
// than committed: three classes a small CNN tells apart in a few steps (horizontal stripes,
// vertical stripes, a checkerboard; colour ones also tinted by class), each picture of its own
// size, phase, period and noise, half PNG (libpng) and half JPEG (libjpeg-turbo), some
// grey, some with alpha.
//   DIR/good/{checks,hstripes,vstripes}/NNN.{png,jpg}   200 pictures per class
//   DIR/split/{train,test}/{checks,hstripes,vstripes}/   the same layout split in two folders
//   DIR/truncated, DIR/text, DIR/empty                    10 pictures per class and one bad entry
//       each: a JPEG cut short (hstripes/006.jpg), a text file (vstripes/notes.txt), an empty
//       class folder (zebra)
//   DIR/hstripes.jpg                                      one more picture, for predict --image
//   DIR/records/{bad_crc,truncated,missing_label,wrong_type}.tfrecord   TFRecord files of four
//       records (PNG "image", int64 "label"), record 2 damaged: a flipped bit in its data, cut
//       short, without "label", "label" as a float list
#include <algorithm>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <png.h>
// clang-format on

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "nabla/data.hpp"

namespace fs = std::filesystem;
using namespace nabla;

namespace {

// A picture of class `label` [channels, height, width] in u8.
std::vector<uint8_t> picture(int label, int64_t channels, int64_t height, int64_t width,
                             std::mt19937& rng) {
  std::uniform_int_distribution<int> phase(0, 7), noise(-30, 30), period(3, 6);
  const int p = period(rng), offset = phase(rng);
  std::vector<uint8_t> pixels(static_cast<size_t>(channels * height * width));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const int64_t u = (label == 0 ? x / p + y / p : label == 1 ? y / p : x / p) + offset;
        // Colour pictures are also tinted by class (channel `label` brighter).
        const int tint = channels >= 3 && c == label ? 50 : 0;
        const int value = (u % 2 == 0 ? 180 : 50) + noise(rng) + tint;
        pixels[static_cast<size_t>((c * height + y) * width + x)] =
            static_cast<uint8_t>(std::clamp(value, 0, 255));
      }
    }
  }
  return pixels;
}

void write_jpeg(const std::string& path, const std::vector<uint8_t>& chw, int64_t channels,
                int64_t height, int64_t width) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = static_cast<int>(channels);
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 90, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(width * channels));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        row[static_cast<size_t>(x * channels + c)] =
            chw[static_cast<size_t>((c * height + y) * width + x)];
      }
    }
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&info, &pointer, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
}

// PNG through libpng directly: data::write_png writes atomically with an fsync per file, which
// would make a thousand pictures take seconds.
void write_png_file(const std::string& path, const std::vector<uint8_t>& chw, int64_t channels,
                    int64_t height, int64_t width) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, file);
  const int type = channels == 1   ? PNG_COLOR_TYPE_GRAY
                   : channels == 3 ? PNG_COLOR_TYPE_RGB
                                   : PNG_COLOR_TYPE_RGB_ALPHA;
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<uint8_t> row(static_cast<size_t>(width * channels));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        row[static_cast<size_t>(x * channels + c)] =
            chw[static_cast<size_t>((c * height + y) * width + x)];
      }
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

const std::vector<std::string> kClasses = {"checks", "hstripes", "vstripes"};

// `count` pictures per class into DIR/CLASS/, numbered from `first`.
void write_class_folders(const fs::path& dir, int first, int count, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> size(24, 48);
  for (int label = 0; label < 3; ++label) {
    fs::create_directories(dir / kClasses[label]);
    for (int i = first; i < first + count; ++i) {
      const int64_t channels = i % 5 == 0 ? 1 : (i % 7 == 0 ? 4 : 3);
      const int64_t height = size(rng), width = size(rng);
      std::vector<uint8_t> pixels = picture(label, channels, height, width, rng);
      char name[16];
      std::snprintf(name, sizeof(name), "%03d", i);
      const fs::path stem = dir / kClasses[label] / name;
      if (i % 2 == 0 && channels != 4) {
        write_jpeg(stem.string() + ".jpg", pixels, channels, height, width);
      } else {
        write_png_file(stem.string() + ".png", pixels, channels, height, width);
      }
    }
  }
}

// Four records of a 4x4 grey PNG and a label; record 2 is `damaged` unless that is empty.
std::vector<std::string> records_with(const fs::path& dir, const data::Features& damaged) {
  const fs::path png = dir / "picture.png";
  data::write_png(png.string(), full({1, 4, 4}, 128, DType::u8));
  std::ifstream in(png, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  fs::remove(png);
  std::vector<std::string> records;
  for (int i = 0; i < 4; ++i) {
    data::Features features = {{"image", data::bytes_feature({bytes})},
                               {"label", data::int64_feature({i % 2})}};
    records.push_back(data::encode_example(i == 2 && !damaged.empty() ? damaged : features));
  }
  return records;
}

void write_bad_records(const fs::path& dir) {
  fs::create_directories(dir);
  const std::vector<std::string> good = records_with(dir, {});
  std::string framed;
  data::write_tfrecords((dir / "good.tfrecord").string(), good);
  std::ifstream in(dir / "good.tfrecord", std::ios::binary);
  framed.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  // Record 2 starts after two records of 12 + size + 4 bytes.
  const size_t third = 2 * (16 + good[0].size());
  std::string flipped = framed;
  flipped[third + 12 + 5] ^= 0x04;
  std::ofstream(dir / "bad_crc.tfrecord", std::ios::binary) << flipped;
  std::ofstream(dir / "truncated.tfrecord", std::ios::binary)
      << framed.substr(0, third + 12 + good[2].size() / 2);
  fs::remove(dir / "good.tfrecord");
  data::write_tfrecords((dir / "missing_label.tfrecord").string(),
                        records_with(dir, {{"image", data::bytes_feature({"x"})}}));
  data::write_tfrecords((dir / "wrong_type.tfrecord").string(),
                        records_with(dir, {{"image", data::bytes_feature({"x"})},
                                           {"label", data::float_feature({1})}}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_image_folder DIR\n";
    return 2;
  }
  const fs::path dir = argv[1];
  fs::remove_all(dir);
  std::mt19937 rng(18);
  write_class_folders(dir / "good", 0, 200, rng);
  write_class_folders(dir / "split" / "train", 0, 45, rng);
  write_class_folders(dir / "split" / "test", 45, 15, rng);
  for (const char* bad : {"truncated", "text", "empty"}) write_class_folders(dir / bad, 0, 10, rng);
  const fs::path cut = dir / "truncated" / "hstripes" / "006.jpg";
  fs::resize_file(cut, fs::file_size(cut) / 2);
  std::ofstream(dir / "text" / "vstripes" / "notes.txt") << "not an image\n";
  fs::create_directories(dir / "empty" / "zebra");
  write_class_folders(dir / "extra", 2, 1, rng);  // picture 2: an RGB JPEG
  fs::rename(dir / "extra" / "hstripes" / "002.jpg", dir / "hstripes.jpg");
  fs::remove_all(dir / "extra");
  write_bad_records(dir / "records");
  return 0;
}
