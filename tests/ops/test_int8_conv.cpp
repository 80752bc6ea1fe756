// The int8 convolution kernel (kernels/cpu/int8_conv.hpp): it computes exactly what f64 computes
// on the operands quantized as documented (per-channel symmetric weights, the input with its
// calibrated scale, u8 or s8), scaled back, plus the bias, then relu -- up to f32 rounding of the
// result; and it stays close to the f32 convolution it approximates.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/int8_conv.hpp"

namespace {

using nabla::kernels::cpu::ConvGeometry;
using nabla::kernels::cpu::int8_input_scale;
using nabla::kernels::cpu::int8_weight_levels;
using nabla::kernels::cpu::Int8Conv;
using nabla::kernels::cpu::Int8InputScale;

std::vector<float> int8_uniform(int64_t n, float low, float high, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// The reference: both operands quantized as the kernel documents, the product in f64.
std::vector<double> int8_reference(const ConvGeometry& g, const std::vector<float>& x,
                                   const std::vector<float>& w, const std::vector<float>& bias,
                                   Int8InputScale in, bool relu) {
  const int64_t per_channel = g.weight_numel() / g.out_channels;
  std::vector<double> wq(w.size()), ws(g.out_channels);
  for (int64_t c = 0; c < g.out_channels; ++c) {
    float largest = 0;
    for (int64_t i = 0; i < per_channel; ++i)
      largest = std::max(largest, std::fabs(w[c * per_channel + i]));
    ws[c] = largest / static_cast<float>(int8_weight_levels());
    for (int64_t i = 0; i < per_channel; ++i)
      wq[c * per_channel + i] = std::nearbyint(w[c * per_channel + i] / static_cast<float>(ws[c]));
  }
  const double low = in.is_unsigned ? 0 : -128, high = in.is_unsigned ? 255 : 127;
  std::vector<double> xq(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    xq[i] = std::clamp<double>(std::nearbyint(x[i] * (1.f / in.scale)), low, high);
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  std::vector<double> y(g.output_numel());
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t co = 0; co < g.out_channels; ++co)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          double acc = 0;
          const int64_t group = co / cout_g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t kh = 0; kh < g.kernel_h; ++kh)
              for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
                const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
                const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
                if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
                const int64_t c = group * cin_g + ci;
                acc += xq[((n * g.in_channels + c) * g.in_h + ih) * g.in_w + iw] *
                       wq[((co * cin_g + ci) * g.kernel_h + kh) * g.kernel_w + kw];
              }
          double v = acc * in.scale * ws[co] + (bias.empty() ? 0.0 : bias[co]);
          if (relu) v = std::max(v, 0.0);
          y[((n * g.out_channels + co) * g.out_h + oh) * g.out_w + ow] = v;
        }
  return y;
}

// A valid (unpadded) 3x3 convolution over `size` x `size` images.
ConvGeometry valid3x3(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size) {
  return {.batch = batch,
          .in_channels = in_channels,
          .out_channels = out_channels,
          .in_h = size,
          .in_w = size,
          .out_h = size - 2,
          .out_w = size - 2,
          .kernel_h = 3,
          .kernel_w = 3};
}

struct Int8Case {
  const char* name;
  ConvGeometry g;
  float x_low, x_high;
  bool bias, relu;
};

TEST(Int8Conv, MatchesTheQuantizedReference) {
  ConvGeometry conv3x3{.batch = 3,
                       .in_channels = 32,
                       .out_channels = 64,
                       .in_h = 9,
                       .in_w = 7,
                       .out_h = 9,
                       .out_w = 7,
                       .kernel_h = 3,
                       .kernel_w = 3,
                       .pad_top = 1,
                       .pad_bottom = 1,
                       .pad_left = 1,
                       .pad_right = 1};
  ConvGeometry strided = conv3x3;
  strided.stride_h = strided.stride_w = 2;
  strided.out_h = 5;
  strided.out_w = 4;
  ConvGeometry grouped = conv3x3;
  grouped.groups = 4;
  ConvGeometry dense{.batch = 5, .in_channels = 100, .out_channels = 10};  // a Dense layer
  const ConvGeometry first = valid3x3(2, 1, 16, 12);
  for (const Int8Case& c : {Int8Case{"3x3 u8 bias relu", conv3x3, 0.f, 2.f, true, true},
                            Int8Case{"3x3 s8", conv3x3, -1.f, 3.f, false, false},
                            Int8Case{"strided s8 bias", strided, -2.f, 2.f, true, false},
                            Int8Case{"grouped u8 relu", grouped, 0.f, 1.f, true, true},
                            Int8Case{"dense s8 bias", dense, -4.f, 1.f, true, false},
                            Int8Case{"dense u8 relu", dense, 0.f, 6.f, true, true},
                            Int8Case{"one input channel", first, 0.f, 1.f, true, true}}) {
    SCOPED_TRACE(c.name);
    const ConvGeometry& g = c.g;
    const auto x = int8_uniform(g.input_numel(), c.x_low, c.x_high, 1);
    const auto w = int8_uniform(g.weight_numel(), -0.5f, 0.5f, 2);
    const auto bias = c.bias ? int8_uniform(g.out_channels, -1.f, 1.f, 3) : std::vector<float>{};
    const Int8InputScale in = int8_input_scale(c.x_low, c.x_high);
    EXPECT_EQ(in.is_unsigned, c.x_low >= 0);
    const Int8Conv conv(g, w.data(), c.bias ? bias.data() : nullptr, in, c.relu);
    std::vector<float> y(g.output_numel());
    conv.forward(g.batch, x.data(), y.data());
    const std::vector<double> want = int8_reference(g, x, w, bias, in, c.relu);
    double worst = 0, largest = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      worst = std::max(worst, std::fabs(y[i] - want[i]));
      largest = std::max(largest, std::fabs(want[i]));
    }
    EXPECT_LE(worst, 1e-5 * std::max(1.0, largest)) << conv.implementation(g.batch);

    // And close to the f32 convolution: the quantization error of 8 bits, no more.
    std::vector<float> exact(g.output_numel());
    nabla::kernels::cpu::conv2d_forward<float>(
        g, x.data(), w.data(), c.bias ? bias.data() : nullptr, exact.data(),
        nabla::kernels::cpu::ConvAlgorithm::automatic, c.relu);
    double error = 0;
    for (size_t i = 0; i < y.size(); ++i)
      error = std::max(error, double(std::fabs(y[i] - exact[i])));
    EXPECT_LE(error, 0.03 * largest);
    EXPECT_GT(error, 0.0);  // it did quantize
  }
}

// One kernel serves every batch size (a primitive per size, created at first use).
TEST(Int8Conv, AnyBatchSize) {
  const ConvGeometry g = valid3x3(1, 8, 4, 5);
  const auto w = int8_uniform(g.weight_numel(), -1.f, 1.f, 4);
  const Int8Conv conv(g, w.data(), nullptr, int8_input_scale(0.f, 1.f), false);
  for (int64_t batch : {1, 7, 2}) {
    ConvGeometry gb = g;
    gb.batch = batch;
    const auto x = int8_uniform(gb.input_numel(), 0.f, 1.f, 5);
    std::vector<float> y(gb.output_numel());
    conv.forward(batch, x.data(), y.data());
    const auto want = int8_reference(gb, x, w, {}, int8_input_scale(0.f, 1.f), false);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-5) << batch;
  }
}

TEST(Int8Conv, InputScale) {
  const Int8InputScale relu_out = int8_input_scale(0.f, 5.1f);
  EXPECT_TRUE(relu_out.is_unsigned);
  EXPECT_FLOAT_EQ(relu_out.scale, 5.1f / 255);
  const Int8InputScale signed_range = int8_input_scale(-6.35f, 2.f);
  EXPECT_FALSE(signed_range.is_unsigned);
  EXPECT_FLOAT_EQ(signed_range.scale, 6.35f / 127);
  EXPECT_FLOAT_EQ(int8_input_scale(0.f, 0.f).scale, 1.f);
}

}  // namespace
