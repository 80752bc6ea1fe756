// Image files: binary PGM (P5) and PNG (through Debian's libpng), read as u8 tensors. Headers are
// checked before anything is allocated, so a corrupt or hostile header is one clear error.
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include "data/file_util.hpp"
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

// 8-bit grey, grey + alpha, RGB or RGBA (alpha dropped unless keep_alpha); palettes expanded, 16
// bits reduced to 8.
Tensor read_png(const std::string& path, bool keep_alpha) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  NABLA_CHECK(file != nullptr, "read_image: cannot open ", path, ": ", internal::errno_message());
  internal::PngErrors errors;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, internal::on_png_error,
                                           internal::on_png_warning);
  NABLA_CHECK(png != nullptr, "read_image: ", path, ": libpng could not start");
  png_infop info = png_create_info_struct(png);
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  int64_t width = 0, height = 0, channels = 0;
  // Nothing with a destructor is created between setjmp and the libpng calls below.
  if (setjmp(errors.jump) != 0) {
    png_destroy_read_struct(&png, &info, nullptr);
    NABLA_CHECK(false, "read_image: ", path, ": not a valid PNG file: ", errors.message);
  }
  png_init_io(png, file.get());
  png_read_info(png, info);
  width = png_get_image_width(png, info);
  height = png_get_image_height(png, info);
  check_size(path, width, height);
  png_set_expand(png);  // palettes to RGB, low-bit grey to 8 bits, tRNS to alpha
  png_set_strip_16(png);
  if (!keep_alpha) png_set_strip_alpha(png);
  png_read_update_info(png, info);
  channels = png_get_channels(png, info);
  pixels.resize(static_cast<size_t>(width * height * channels));
  rows.resize(static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) rows[y] = pixels.data() + y * width * channels;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  const Tensor hwc = from_vector(pixels, {height, width, channels});
  if (channels == 1) return hwc.view({height, width});
  return hwc.permute({2, 0, 1}).contiguous();  // channels first, as nabla's images
}

}  // namespace

Tensor internal::read_png_with_alpha(const std::string& path) { return read_png(path, true); }

Tensor read_image(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  NABLA_CHECK(probe.good(), "read_image: cannot open ", path);
  char magic[8] = {};
  probe.read(magic, sizeof(magic));
  if (probe.gcount() >= 2 && magic[0] == 'P' && magic[1] == '5') return read_pgm(path);
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (probe.gcount() == 8 && std::equal(kPng, kPng + 8, reinterpret_cast<unsigned char*>(magic))) {
    return read_png(path, false);
  }
  NABLA_CHECK(false, "read_image: ", path, ": expected a PNG or a binary PGM (P5) image");
  return Tensor();
}

}  // namespace nabla::data
