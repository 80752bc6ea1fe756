// PNG through libpng, shared by the reader (image_io.cpp), the writer (png_write.cpp) and
// TensorBoard's images. Internal.
#pragma once

#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <string>

#include "nabla/tensor.hpp"

namespace nabla::data::internal {

// The largest image read or written: far beyond any image a model here takes (2^28 pixels is
// 16384 x 16384), and small enough that width * height * channels cannot overflow.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// libpng reports errors through longjmp; the message is kept for the Error thrown after it.
struct PngErrors {
  std::jmp_buf jump;
  std::string message;
};

inline void on_png_error(png_structp png, png_const_charp message) {
  auto* errors = static_cast<PngErrors*>(png_get_error_ptr(png));
  errors->message = message;
  std::longjmp(errors->jump, 1);
}

inline void on_png_warning(png_structp, png_const_charp) {}

// `image` as contiguous u8 [C, H, W] with C = 1, 3 or 4 ([H, W] becomes [1, H, W]); floating
// values in [0, 1] are scaled to 0..255 and rounded. Errors start with `what` (the caller and the
// file or tag) and name the expected shape and dtype.
Tensor png_pixels(const Tensor& image, const std::string& what);

// The bytes of a PNG file holding `image` (any form png_pixels takes).
std::string encode_png(const Tensor& image, const std::string& what);

// read_image's PNG reader, keeping an alpha channel: grey + alpha as [2, H, W], RGBA as
// [4, H, W]. (read_image drops alpha, as models take grey or RGB.)
Tensor read_png_with_alpha(const std::string& path);

}  // namespace nabla::data::internal
