// Image files: binary PGM (P5), PNG (through Debian's libpng) and JPEG (libjpeg-turbo,
// jpeg_read.cpp), read as u8 tensors. Headers are checked before anything is allocated, so a
// corrupt or hostile header is one clear error.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "data/file_util.hpp"
#include "data/jpeg_read.hpp"
#include "data/png.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

void check_size(const std::string& path, int64_t width, int64_t height) {
  NABLA_CHECK(width > 0 && height > 0 && width <= internal::kMaxImagePixels &&
                  height <= internal::kMaxImagePixels &&
                  width * height <= internal::kMaxImagePixels,
              "read_image: ", path, ": image size ", width, "x", height,
              " is not a valid size (at ", "most ", internal::kMaxImagePixels, " pixels)");
}

// The next header token of a PGM file, skipping whitespace and # comments.
std::string pgm_token(std::istream& in, const std::string& path) {
  std::string token;
  while (in) {
    const int c = in.get();
    if (c == '#') {
      std::string comment;
      std::getline(in, comment);
    } else if (c == EOF || std::isspace(c)) {
      if (!token.empty()) return token;
    } else {
      token += static_cast<char>(c);
      NABLA_CHECK(token.size() <= 16, "read_image: ", path, ": bad PGM header (token too long)");
    }
  }
  NABLA_CHECK(false, "read_image: ", path, ": truncated PGM header");
  return token;
}

int64_t pgm_number(std::istream& in, const std::string& path, const char* what) {
  const std::string token = pgm_token(in, path);
  NABLA_CHECK(token.size() < 10 && token.find_first_not_of("0123456789") == std::string::npos,
              "read_image: ", path, ": bad PGM ", what, " '", token, "'");
  return std::stoll(token);
}

Tensor read_pgm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK(in.good(), "read_image: cannot open ", path);
  NABLA_CHECK(pgm_token(in, path) == "P5", "read_image: ", path, ": expected a binary PGM (P5)");
  const int64_t width = pgm_number(in, path, "width");
  const int64_t height = pgm_number(in, path, "height");
  const int64_t max_value = pgm_number(in, path, "maximum value");
  check_size(path, width, height);
  NABLA_CHECK(max_value > 0 && max_value < 256, "read_image: ", path,
              ": expected an 8-bit PGM (maximum value 1 to 255), got maximum ", max_value);
  // A header is checked against the file before its pixels are allocated.
  const std::optional<int64_t> file_bytes = internal::regular_file_size(path);
  const int64_t header_bytes = static_cast<int64_t>(in.tellg());
  NABLA_CHECK(!file_bytes || *file_bytes - header_bytes >= width * height, "read_image: ", path,
              ": truncated: expected ", width * height, " pixel bytes, got ",
              file_bytes ? *file_bytes - header_bytes : 0);
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height));
  in.read(reinterpret_cast<char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  NABLA_CHECK(in.gcount() == static_cast<std::streamsize>(pixels.size()), "read_image: ", path,
              ": truncated: expected ", pixels.size(), " pixel bytes, got ", in.gcount());
  if (max_value != 255) {
    for (uint8_t& p : pixels) p = static_cast<uint8_t>(p * 255 / max_value);
  }
  return from_vector(pixels, {height, width});
}

// libpng reads through this from memory; reading past the end is a truncated file.
struct PngSource {
  const std::string* bytes;
  size_t offset = 0;
};

void read_png_bytes(png_structp png, png_bytep out, png_size_t count) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > source->bytes->size() - source->offset) png_error(png, "truncated file");
  std::memcpy(out, source->bytes->data() + source->offset, count);
  source->offset += count;
}

// 8-bit grey, grey + alpha, RGB or RGBA (alpha dropped unless keep_alpha); palettes expanded, 16
// bits reduced to 8. Errors start with `name`.
Tensor decode_png(const std::string& bytes, const std::string& name, bool keep_alpha) {
  internal::PngErrors errors;
  PngSource source{&bytes};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, internal::on_png_error,
                                           internal::on_png_warning);
  NABLA_CHECK(png != nullptr, name, ": libpng could not start");
  png_infop info = png_create_info_struct(png);
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  int64_t width = 0, height = 0, channels = 0;
  bool size_ok = true;
  // Nothing with a destructor is created between setjmp and the libpng calls below.
  if (setjmp(errors.jump) != 0) {
    png_destroy_read_struct(&png, &info, nullptr);
    NABLA_CHECK(false, name, ": not a valid PNG file: ", errors.message);
  }
  png_set_read_fn(png, &source, read_png_bytes);
  png_read_info(png, info);
  width = png_get_image_width(png, info);
  height = png_get_image_height(png, info);
  size_ok = width > 0 && height > 0 && width <= internal::kMaxImagePixels &&
            height <= internal::kMaxImagePixels && width * height <= internal::kMaxImagePixels;
  if (size_ok) {
    png_set_expand(png);  // palettes to RGB, low-bit grey to 8 bits, tRNS to alpha
    png_set_strip_16(png);
    if (!keep_alpha) png_set_strip_alpha(png);
    png_read_update_info(png, info);
    channels = png_get_channels(png, info);
    pixels.resize(static_cast<size_t>(width * height * channels));
    rows.resize(static_cast<size_t>(height));
    for (int64_t y = 0; y < height; ++y) rows[y] = pixels.data() + y * width * channels;
    png_read_image(png, rows.data());
  }
  png_destroy_read_struct(&png, &info, nullptr);
  NABLA_CHECK(size_ok, name, ": image size ", width, "x", height, " is not a valid size (at ",
              "most ", internal::kMaxImagePixels, " pixels)");
  const Tensor hwc = from_vector(pixels, {height, width, channels});
  if (channels == 1) return hwc.view({height, width});
  return hwc.permute({2, 0, 1}).contiguous();  // channels first, as nabla's images
}

bool looks_like_png(const std::string& bytes) {
  static const char kPng[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  return bytes.size() >= 8 && std::equal(kPng, kPng + 8, bytes.data());
}

}  // namespace

Tensor internal::read_png_with_alpha(const std::string& path) {
  return decode_png(internal::read_file(path, "read_image"), "read_image: " + path, true);
}

Tensor decode_image(const std::string& bytes, const std::string& name) {
  if (looks_like_png(bytes)) return decode_png(bytes, name, false);
  if (internal::looks_like_jpeg(bytes)) return internal::decode_jpeg(bytes, name);
  NABLA_CHECK(false, name, ": expected a PNG or JPEG image, got ",
              bytes.empty() ? "an empty file" : "other bytes");
  return Tensor();
}

Tensor read_image(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  NABLA_CHECK(probe.good(), "read_image: cannot open ", path);
  char magic[8] = {};
  probe.read(magic, sizeof(magic));
  if (probe.gcount() >= 2 && magic[0] == 'P' && magic[1] == '5') return read_pgm(path);
  const std::string bytes = internal::read_file(path, "read_image");
  NABLA_CHECK(looks_like_png(bytes) || internal::looks_like_jpeg(bytes), "read_image: ", path,
              ": expected a PNG, JPEG or binary PGM (P5) image");
  return decode_image(bytes, "read_image: " + path);
}

}  // namespace nabla::data
