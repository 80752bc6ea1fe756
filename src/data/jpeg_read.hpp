// JPEG decoding through libjpeg-turbo, for read_image and decode_image. Internal.
#pragma once

#include <string>

#include "nabla/tensor.hpp"

namespace nabla::data::internal {

// Whether `bytes` start with a JPEG's SOI marker and the next marker's 0xFF.
bool looks_like_jpeg(const std::string& bytes);

// The image a JPEG file's bytes hold, as u8 [H, W] (grey) or [3, H, W] (colour; YCbCr converted
// to RGB by libjpeg). Errors start with `name`: corrupt data, a truncated file (libjpeg's warning
// "premature end of data" counts as an error), CMYK images, more than kMaxImagePixels.
Tensor decode_jpeg(const std::string& bytes, const std::string& name);

}  // namespace nabla::data::internal
