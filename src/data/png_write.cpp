// Writing pictures: PNG encoding through libpng (into memory, so that files are written atomically
// and TensorBoard can embed the bytes), and grids of images for pictures of samples.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

#include "core/checked_size.hpp"
#include "data/png.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

// `image` as contiguous u8 of the same shape; floating values in [0, 1] scaled to 0..255.
Tensor pixel_bytes(const Tensor& image, const std::string& what) {
  if (image.dtype() == DType::u8) return image.contiguous();
  NABLA_CHECK(is_floating(image.dtype()), what,
              ": expected u8 pixels or floating values in [0, 1], got dtype ", image.dtype());
  const Tensor values = image.detach().to(DType::f64).contiguous();
  const double* value = values.data<double>();
  Tensor bytes = empty(image.shape(), DType::u8);
  uint8_t* byte = bytes.data<uint8_t>();
  for (int64_t i = 0; i < image.numel(); ++i) {
    // Written so that NaN fails too.
    NABLA_CHECK(value[i] >= 0 && value[i] <= 1, what,
                ": floating pixel values must lie in [0, 1], got ", value[i], " at element ", i,
                "; rescale first (e.g. (x + 1) / 2 for values in [-1, 1])");
    byte[i] = static_cast<uint8_t>(std::lround(value[i] * 255));
  }
  return bytes;
}

int png_color_type(int64_t channels) {
  return channels == 1   ? PNG_COLOR_TYPE_GRAY
         : channels == 3 ? PNG_COLOR_TYPE_RGB
                         : PNG_COLOR_TYPE_RGB_ALPHA;
}

// libpng's output callback: appends to the std::string given to png_set_write_fn. An exception
// must not cross libpng's C frames, so a failed append becomes a libpng error.
void append_png_bytes(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  try {
    out->append(reinterpret_cast<const char*>(data), size);
  } catch (const std::exception&) {
    png_error(png, "out of memory");
  }
}

}  // namespace

Tensor internal::png_pixels(const Tensor& image, const std::string& what) {
  NABLA_CHECK(image.defined(), what, ": expected an image tensor, got an undefined one");
  const bool valid =
      image.dim() == 2 ||
      (image.dim() == 3 && (image.size(0) == 1 || image.size(0) == 3 || image.size(0) == 4));
  NABLA_CHECK(valid, what,
              ": expected an image [H, W] or [C, H, W] with C = 1, 3 or 4 (grey, RGB, RGBA), got "
              "shape ",
              image.shape());
  const Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  const int64_t height = chw.size(1), width = chw.size(2);
  NABLA_CHECK(height > 0 && width > 0 && height * width <= kMaxImagePixels, what,
              ": expected an image of 1 to ", kMaxImagePixels, " pixels, got ", height, "x", width);
  return pixel_bytes(chw, what);
}

std::string internal::encode_png(const Tensor& image, const std::string& what) {
  const Tensor pixels = png_pixels(image, what);
  const int64_t channels = pixels.size(0), height = pixels.size(1), width = pixels.size(2);
  // libpng takes rows with the channels of each pixel together.
  Tensor interleaved = pixels.permute({1, 2, 0}).contiguous();
  uint8_t* data = interleaved.data<uint8_t>();
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) rows[y] = data + y * width * channels;
  std::string bytes;
  PngErrors errors;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, on_png_error, on_png_warning);
  NABLA_CHECK(png != nullptr, what, ": libpng could not start");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) png_destroy_write_struct(&png, nullptr);
  NABLA_CHECK(info != nullptr, what, ": libpng could not start");
  // Nothing with a destructor is created between setjmp and the libpng calls below.
  if (setjmp(errors.jump) != 0) {
    png_destroy_write_struct(&png, &info);
    NABLA_CHECK(false, what, ": libpng could not encode the image: ", errors.message);
  }
  png_set_write_fn(png, &bytes, append_png_bytes, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               png_color_type(channels), PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return bytes;
}

void write_png(const std::string& path, const Tensor& image) {
  write_file_atomic(path, internal::encode_png(image, "write_png: " + path), "write_png");
}

Tensor image_grid(const Tensor& images, int64_t columns, int64_t padding, uint8_t pad_value) {
  NABLA_CHECK(images.defined(), "image_grid: expected images, got an undefined tensor");
  NABLA_CHECK((images.dim() == 3 || images.dim() == 4) && images.size(0) > 0,
              "image_grid: expected images [N, C, H, W] or [N, H, W] with N >= 1, got shape ",
              images.shape());
  NABLA_CHECK(columns >= 1 && padding >= 0,
              "image_grid: expected columns >= 1 and padding >= 0, got ", columns, " and ",
              padding);
  const bool grey = images.dim() == 3;
  const Tensor pixels = pixel_bytes(grey ? images.unsqueeze(1) : images, "image_grid");
  const int64_t count = pixels.size(0), channels = pixels.size(1);
  const int64_t height = pixels.size(2), width = pixels.size(3);
  const int64_t grid_columns = std::min(columns, count);
  const int64_t grid_rows = (count + grid_columns - 1) / grid_columns;
  const int64_t cell_height = core::checked_add(height, padding, "image_grid");
  const int64_t cell_width = core::checked_add(width, padding, "image_grid");
  const int64_t grid_height = core::checked_add(
      core::checked_mul(grid_rows, cell_height, "image_grid"), padding, "image_grid");
  const int64_t grid_width = core::checked_add(
      core::checked_mul(grid_columns, cell_width, "image_grid"), padding, "image_grid");
  Tensor grid = full({channels, grid_height, grid_width}, pad_value, DType::u8);
  const uint8_t* source = pixels.data<uint8_t>();
  uint8_t* target = grid.data<uint8_t>();
  for (int64_t n = 0; n < count; ++n) {
    const int64_t top = padding + (n / grid_columns) * cell_height;
    const int64_t left = padding + (n % grid_columns) * cell_width;
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t y = 0; y < height; ++y) {
        std::memcpy(target + (c * grid_height + top + y) * grid_width + left,
                    source + ((n * channels + c) * height + y) * width, static_cast<size_t>(width));
      }
    }
  }
  return grey ? grid.view({grid_height, grid_width}) : grid;
}

}  // namespace nabla::data
