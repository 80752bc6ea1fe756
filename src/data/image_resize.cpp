// Image resizing and colour conversion as PIL does them (Pillow's Resample.c and Convert.c), so
// that an image folder read here gives the pixels torchvision's ImageFolder + Resize would: the
// same antialiased bilinear filter, the same fixed-point rounding, horizontal pass first.
#include <algorithm>
#include <cmath>
#include <vector>

#include "nabla/data.hpp"

namespace nabla::data {
namespace {

// Pillow's 8-bit coefficients: 32 - 8 - 2 bits, so that a sum of weighted u8 values fits an int.
constexpr int kResizePrecisionBits = 32 - 8 - 2;

// The taps of one output pixel along an axis: source pixels [first, first + weights.size()).
struct ResizeTaps {
  int64_t first = 0;
  std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc with the bilinear (triangle) filter, whose
// support is 1 input pixel when enlarging and `scale` pixels when shrinking (antialiasing).
std::vector<ResizeTaps> resize_taps(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  std::vector<ResizeTaps> taps(static_cast<size_t>(out_size));
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = (static_cast<double>(o) + 0.5) * scale;
    // Pillow rounds by truncating after adding 0.5 (int cast), then clamps to the image.
    int64_t first = static_cast<int64_t>(center - support + 0.5);
    first = std::max<int64_t>(first, 0);
    int64_t last = static_cast<int64_t>(center + support + 0.5);
    last = std::min(last, in_size);
    std::vector<double> w;
    double total = 0;
    for (int64_t x = first; x < last; ++x) {
      const double distance =
          std::abs((static_cast<double>(x) - center + 0.5) * (1.0 / filter_scale));
      const double value = distance < 1.0 ? 1.0 - distance : 0.0;
      w.push_back(value);
      total += value;
    }
    ResizeTaps& t = taps[static_cast<size_t>(o)];
    t.first = first;
    for (double value : w) {
      const double normalized = total != 0.0 ? value / total : value;
      t.weights.push_back(
          static_cast<int32_t>(normalized < 0 ? -0.5 + normalized * (1 << kResizePrecisionBits)
                                              : 0.5 + normalized * (1 << kResizePrecisionBits)));
    }
  }
  return taps;
}

uint8_t resize_clip8(int32_t value) {
  return static_cast<uint8_t>(std::clamp(value >> kResizePrecisionBits, 0, 255));
}

// One pass over planes [planes, rows, cols] of u8 along the columns (horizontal) or the rows.
std::vector<uint8_t> resize_pass(const std::vector<uint8_t>& in, int64_t planes, int64_t rows,
                                 int64_t cols, int64_t out_size, bool horizontal) {
  const std::vector<ResizeTaps> taps = resize_taps(horizontal ? cols : rows, out_size);
  const int64_t out_rows = horizontal ? rows : out_size, out_cols = horizontal ? out_size : cols;
  std::vector<uint8_t> out(static_cast<size_t>(planes * out_rows * out_cols));
  for (int64_t p = 0; p < planes; ++p) {
    const uint8_t* src = in.data() + p * rows * cols;
    uint8_t* dst = out.data() + p * out_rows * out_cols;
    for (int64_t r = 0; r < out_rows; ++r) {
      for (int64_t c = 0; c < out_cols; ++c) {
        const ResizeTaps& t = taps[static_cast<size_t>(horizontal ? c : r)];
        int32_t sum = 1 << (kResizePrecisionBits - 1);
        for (size_t k = 0; k < t.weights.size(); ++k) {
          const int64_t at = t.first + static_cast<int64_t>(k);
          sum += src[horizontal ? r * cols + at : at * cols + c] * t.weights[k];
        }
        dst[r * out_cols + c] = resize_clip8(sum);
      }
    }
  }
  return out;
}

void check_u8_image(const Tensor& image, const char* op) {
  NABLA_CHECK(image.dtype() == DType::u8 && (image.dim() == 2 || image.dim() == 3), op,
              ": expected a u8 image [H, W] or [C, H, W], got ", image.shape(), " ",
              dtype_name(image.dtype()));
}

}  // namespace

Tensor resize_image(const Tensor& image, int64_t height, int64_t width) {
  check_u8_image(image, "resize_image");
  NABLA_CHECK(height > 0 && width > 0, "resize_image: expected a size > 0, got ", height, "x",
              width);
  const int64_t in_h = image.size(-2), in_w = image.size(-1);
  if (in_h == height && in_w == width) return image;
  const int64_t planes = image.dim() == 3 ? image.size(0) : 1;
  std::vector<uint8_t> pixels = image.contiguous().to_vector<uint8_t>();
  int64_t cols = in_w;
  // Pillow resizes horizontally first, into u8, then vertically; a pass whose size does not
  // change is skipped, as there.
  if (width != in_w) {
    pixels = resize_pass(pixels, planes, in_h, in_w, width, true);
    cols = width;
  }
  if (height != in_h) pixels = resize_pass(pixels, planes, in_h, cols, height, false);
  const Tensor out = from_vector(pixels, {planes, height, width});
  return image.dim() == 2 ? out.view({height, width}) : out;
}

Tensor convert_channels(const Tensor& image, int64_t channels) {
  check_u8_image(image, "convert_channels");
  NABLA_CHECK(channels == 1 || channels == 3, "convert_channels: expected 1 or 3 channels, got ",
              channels);
  const Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  const int64_t have = chw.size(0), h = chw.size(1), w = chw.size(2);
  NABLA_CHECK(have == 1 || have == 3, "convert_channels: expected an image of 1 or 3 channels, ",
              "got ", image.shape());
  if (have == channels) return chw.contiguous();
  if (channels == 3) return chw.expand({3, h, w}).contiguous();
  const std::vector<uint8_t> rgb = chw.contiguous().to_vector<uint8_t>();
  std::vector<uint8_t> grey(static_cast<size_t>(h * w));
  const size_t plane = grey.size();
  for (size_t i = 0; i < plane; ++i) {
    const uint32_t luma =
        rgb[i] * 19595u + rgb[plane + i] * 38470u + rgb[2 * plane + i] * 7471u + 0x8000u;
    grey[i] = static_cast<uint8_t>(luma >> 16);
  }
  return from_vector(grey, {1, h, w});
}

}  // namespace nabla::data
