// conv1d, conv2d and conv_transpose2d (src/ops/conv.cpp): outputs and the gradients of input,
// weight and bias against PyTorch in f32 (oneDNN) and f64 (im2col + gemm), gradcheck of every
// option (stride, padding, dilation, groups, Keras "same", output_padding, non-contiguous input),
// only the needed gradients computed, both kernel paths agreeing, and the argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <tuple>

#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/onednn.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {

std::vector<int64_t> values(const OpCase& c, const char* name) {
  return c.attr(name, std::vector<int64_t>{});
}

ConvOptions conv_options(const OpCase& c) {
  return {values(c, "stride"), values(c, "padding"), values(c, "dilation"),
          c.attr<int64_t>("groups", 1), c.attr<std::string>("padding_mode", "")};
}

const std::vector<std::string> kConvInputs = {"x", "weight", "bias"};

// f32 through oneDNN or im2col, and f64 (im2col + gemm) against the cases' "f64" values.
const std::vector<OpTest> kConvTests = {
    {.name = "conv1d",
     .fn =
         [](const OpCase& c) {
           return conv1d(c.input("x"), c.input("weight"), c.input("bias"), conv_options(c));
         },
     .grad_inputs = kConvInputs,
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-11, 1e-12}},
    {.name = "conv2d",
     .fn =
         [](const OpCase& c) {
           return conv2d(c.input("x"), c.input("weight"), c.input("bias"), conv_options(c));
         },
     .grad_inputs = kConvInputs,
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-11, 1e-12}},
    {.name = "conv_transpose2d",
     .fn =
         [](const OpCase& c) {
           const ConvTransposeOptions options{values(c, "stride"), values(c, "padding"),
                                              values(c, "output_padding"), values(c, "dilation"),
                                              c.attr<int64_t>("groups", 1)};
           return conv_transpose2d(c.input("x"), c.input("weight"), c.input("bias"), options);
         },
     .grad_inputs = kConvInputs,
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-11, 1e-12}},
};

}  // namespace

TEST(Conv, MatchesPyTorch) { nabla::testing::check_ops("conv", kConvTests); }

// ---- gradcheck (f64) ----

TEST(Conv1d, Gradcheck) {
  const Tensor x = leaf({2, 4, 9}, 1), w = leaf({6, 2, 3}, 2), b = leaf({6}, 3);
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv1d(in[0], in[1], in[2], {.stride = {2}, .padding = {1}, .groups = 2});
      },
      {x, w, b});
  EXPECT_GRADCHECK(
      [](const Inputs& in) { return conv1d(in[0], in[1], Tensor(), {.dilation = {3}}); },
      {leaf({1, 2, 11}, 4), leaf({3, 2, 3}, 5)});
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv1d(in[0], in[1], in[2], {.stride = {2}, .padding_mode = "same"});
      },
      {leaf({2, 2, 8}, 6), leaf({3, 2, 4}, 7), leaf({3}, 8)});
}

TEST(Conv2d, GradcheckStridePaddingDilation) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv2d(in[0], in[1], in[2], {.stride = {2, 1}, .padding = {1, 2}});
      },
      {leaf({2, 3, 5, 4}, 1), leaf({2, 3, 3, 2}, 2), leaf({2}, 3)});
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv2d(in[0], in[1], Tensor(), {.stride = {2}, .dilation = {2, 1}});
      },
      {leaf({1, 2, 7, 6}, 4), leaf({2, 2, 2, 3}, 5)});
}

TEST(Conv2d, GradcheckGroupsAndDepthwise) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) { return conv2d(in[0], in[1], in[2], {.padding = {1}, .groups = 2}); },
      {leaf({2, 4, 4, 3}, 1), leaf({6, 2, 3, 3}, 2), leaf({6}, 3)});
  // Depthwise with a channel multiplier of 2, strided.
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv2d(in[0], in[1], in[2], {.stride = {2}, .padding = {1}, .groups = 3});
      },
      {leaf({1, 3, 5, 5}, 4), leaf({6, 1, 3, 3}, 5), leaf({6}, 6)});
}

TEST(Conv2d, GradcheckSameWithStride2AndEvenKernel) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv2d(in[0], in[1], in[2], {.stride = {2}, .padding_mode = "same"});
      },
      {leaf({1, 2, 7, 6}, 1), leaf({2, 2, 4, 2}, 2), leaf({2}, 3)});
}

TEST(Conv2d, GradcheckNonContiguousInputAndPointwise) {
  const Tensor x = noncontiguous_leaf({2, 2, 5, 4}, 1);
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_GRADCHECK([](const Inputs& in) { return conv2d(in[0], in[1], in[2], {.padding = {1}}); },
                   {x, leaf({3, 2, 3, 3}, 2), leaf({3}, 3)});
  EXPECT_GRADCHECK(
      [](const Inputs& in) { return conv2d(in[0], in[1], Tensor(), {.padding_mode = "valid"}); },
      {noncontiguous_leaf({2, 3, 3, 4}, 4), noncontiguous_leaf({2, 3, 1, 1}, 5)});
}

TEST(ConvTranspose2d, Gradcheck) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv_transpose2d(in[0], in[1], in[2],
                                {.stride = {2}, .padding = {1}, .output_padding = {1}});
      },
      {leaf({2, 3, 3, 2}, 1), leaf({3, 2, 3, 3}, 2), leaf({2}, 3)});
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv_transpose2d(in[0], in[1], in[2], {.stride = {2, 1}, .groups = 2});
      },
      {leaf({1, 4, 3, 3}, 4), leaf({4, 2, 2, 3}, 5), leaf({4}, 6)});
  // output_padding beyond the stride (allowed below the dilation), non-contiguous input.
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv_transpose2d(in[0], in[1], Tensor(), {.output_padding = {1}, .dilation = {2}});
      },
      {noncontiguous_leaf({1, 2, 3, 4}, 7), leaf({2, 1, 2, 2}, 8)});
}

// ---- shapes, needed gradients, kernel paths ----

TEST(Conv2d, OutputShapes) {
  const Tensor x = randn({2, 3, 7, 8});
  // Keras "same": ceil(in / stride) whatever the kernel.
  EXPECT_EQ(
      conv2d(x, randn({4, 3, 4, 3}), Tensor(), {.stride = {2, 3}, .padding_mode = "same"}).shape(),
      (Shape{2, 4, 4, 3}));
  EXPECT_EQ(conv2d(x, randn({4, 3, 3, 3}), Tensor(), {.padding_mode = "valid"}).shape(),
            (Shape{2, 4, 5, 6}));
  EXPECT_EQ(conv2d(x, randn({6, 1, 3, 3}), Tensor(), {.dilation = {2}, .groups = 3}).shape(),
            (Shape{2, 6, 3, 4}));
  EXPECT_EQ(conv1d(randn({1, 2, 10}), randn({3, 2, 3}), Tensor(), {.stride = {3}}).shape(),
            (Shape{1, 3, 3}));
  // (in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
  EXPECT_EQ(conv_transpose2d(x, randn({3, 2, 3, 3}), Tensor(),
                             {.stride = {2}, .padding = {1}, .output_padding = {1, 0}})
                .shape(),
            (Shape{2, 2, 14, 15}));
}

TEST(Conv2d, SameWithStrideOnePreservesSizeAndPadsAfter) {
  // A 2x2 kernel of ones over a 1x1x2x2 input: "same" adds the zero after (right/bottom).
  const Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor y = conv2d(x, ones({1, 1, 2, 2}), Tensor(), {.padding_mode = "same"});
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{10, 6, 7, 4}));
}

TEST(Conv2d, ComputesOnlyTheNeededGradients) {
  const Tensor x = randn({2, 3, 6, 6}), w = randn({4, 3, 3, 3}), b = randn({4});
  const Tensor grad_out = randn({2, 4, 4, 4});
  Tensor xa = x.detach().requires_grad_(), wa = w.detach().requires_grad_(),
         ba = b.detach().requires_grad_();
  conv2d(xa, wa, ba).backward(grad_out);

  // Only the weight: the input gets no gradient, the weight the same one.
  Tensor wb = w.detach().requires_grad_();
  conv2d(x, wb, b).backward(grad_out);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_ALL_CLOSE(wb.grad(), wa.grad(), 1e-6, 1e-6);

  // Only the bias: the sum of the upstream gradient over batch and space.
  Tensor bc = b.detach().requires_grad_();
  conv2d(x, w, bc).backward(grad_out);
  EXPECT_ALL_CLOSE(bc.grad(), sum(grad_out, {0, 2, 3}), 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(bc.grad(), ba.grad(), 1e-6, 1e-6);

  // Only the input.
  Tensor xd = x.detach().requires_grad_();
  conv2d(xd, w, b).backward(grad_out);
  EXPECT_ALL_CLOSE(xd.grad(), xa.grad(), 1e-6, 1e-6);
  EXPECT_FALSE(w.grad().defined());

  NoGradGuard no_grad;
  EXPECT_FALSE(conv2d(xa, wa, ba).requires_grad());
}

// The f32 paths at a small CNN's layer sizes (1 -> 8 channels on 28x28: im2col; 32 -> 64 on 13x13:
// oneDNN blocked for the forward and input gradient) against the f64 im2col path.
TEST(Conv2d, F32MatchesF64AtCnnSizes) {
  for (const auto& [x_shape, w_shape] :
       {std::pair<Shape, Shape>{{3, 1, 28, 28}, {8, 1, 3, 3}}, {{2, 32, 13, 13}, {64, 32, 3, 3}}}) {
    SCOPED_TRACE(::testing::PrintToString(w_shape));
    Generator gen(7);
    const Tensor x = randn(x_shape, DType::f64, &gen), w = randn(w_shape, DType::f64, &gen);
    const Tensor b = randn({w_shape[0]}, DType::f64, &gen);
    std::vector<Tensor> grads[2];
    Tensor outs[2];
    for (int k = 0; k < 2; ++k) {
      const DType dtype = k == 0 ? DType::f32 : DType::f64;
      Inputs in{x.to(dtype).requires_grad_(), w.to(dtype).requires_grad_(),
                b.to(dtype).requires_grad_()};
      outs[k] = conv2d(in[0], in[1], in[2]);
      outs[k].backward(ones_like(outs[k]));
      for (const Tensor& t : in) grads[k].push_back(t.grad().to(DType::f64));
    }
    EXPECT_ALL_CLOSE(outs[0].to(DType::f64), outs[1], 1e-4, 1e-4);
    for (int i = 0; i < 3; ++i) EXPECT_ALL_CLOSE(grads[0][i], grads[1][i], 1e-4, 1e-3);
  }
}

// relu fused into the convolution (what Conv2D(activation="relu") runs) gives relu(conv2d(...))
// and its gradients, on the im2col path (1 -> 8 channels), oneDNN's blocked path with a relu
// post-op (32 -> 64), and in f64; with and without the input's gradient (without it, the weight
// gradient masks grad_y itself: per image on the im2col path).
TEST(Conv2d, FusedReluMatchesReluAfter) {
  for (const auto& [x_shape, w_shape] :
       {std::pair<Shape, Shape>{{3, 1, 12, 12}, {8, 1, 3, 3}}, {{2, 32, 9, 9}, {64, 32, 3, 3}}}) {
    for (const auto& [dtype, input_grad] : {std::pair{DType::f32, true},
                                            {DType::f32, false},
                                            {DType::f64, true},
                                            {DType::f64, false}}) {
      SCOPED_TRACE(::testing::PrintToString(w_shape) + " " + ::testing::PrintToString(dtype) +
                   (input_grad ? " with" : " without") + " the input's gradient");
      Generator gen(11);
      const Tensor x0 = randn(x_shape, dtype, &gen), w0 = randn(w_shape, dtype, &gen);
      const Tensor b0 = randn({w_shape[0]}, dtype, &gen);
      Tensor outs[2];
      std::vector<Tensor> grads[2];
      for (int fused = 0; fused < 2; ++fused) {
        Inputs in{x0.detach().requires_grad_(input_grad), w0.detach().requires_grad_(),
                  b0.detach().requires_grad_()};
        outs[fused] = fused ? conv2d(in[0], in[1], in[2], {.padding = {1}, .fused_relu = true})
                            : relu(conv2d(in[0], in[1], in[2], {.padding = {1}}));
        // A gradient that differs per element, so that a wrong mask shows.
        (outs[fused] * arange(0, outs[fused].numel(), 1, dtype).reshape(outs[fused].shape()))
            .sum()
            .backward();
        for (const Tensor& t : in) grads[fused].push_back(t.grad());
      }
      EXPECT_GT(sum(eq(outs[1], zeros_like(outs[1]))).item(), 0);  // the relu did clip
      EXPECT_ALL_CLOSE(outs[1], outs[0], 1e-6, 1e-6);
      EXPECT_EQ(grads[1][0].defined(), input_grad);
      for (int i = input_grad ? 0 : 1; i < 3; ++i)
        EXPECT_ALL_CLOSE(grads[1][i], grads[0][i], 1e-5, 1e-5);
    }
  }
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv2d(in[0], in[1], in[2], {.stride = {2}, .padding = {1}, .fused_relu = true});
      },
      {leaf({2, 3, 6, 5}, 21), leaf({4, 3, 3, 3}, 22), leaf({4}, 23)});
}

// A max pooling fused into the convolution (what Sequential runs for Conv2D then MaxPooling2D)
// gives bit for bit the values and gradients of max_pool2d after it, with and without relu, on the
// im2col path (1 -> 12, and 1 -> 8 with a 3x2 window: not the direct kernels' shapes; each image
// pooled in cache; without the input's gradient each image's output gradient is rebuilt in cache)
// and oneDNN's blocked path (32 -> 64), in f32 and f64; odd outputs leave their last row and
// column out of every window.
TEST(Conv2d, FusedMaxPoolMatchesPoolAfter) {
  struct Case {
    Shape x, w;
    std::vector<int64_t> window;
  };
  for (const Case& c : {Case{{3, 1, 12, 12}, {12, 1, 3, 3}, {2}},     // 10x10 -> 5x5
                        Case{{2, 1, 13, 12}, {8, 1, 3, 3}, {3, 2}},   // 11x10 -> 3x5
                        Case{{2, 32, 9, 9}, {64, 32, 3, 3}, {2}}}) {  // 7x7 -> 3x3
    for (const auto& [dtype, input_grad, relu_fused] : {std::tuple{DType::f32, true, true},
                                                        {DType::f32, false, true},
                                                        {DType::f32, true, false},
                                                        {DType::f32, false, false},
                                                        {DType::f64, true, true},
                                                        {DType::f64, false, false}}) {
      SCOPED_TRACE(::testing::PrintToString(c.w) + " " + ::testing::PrintToString(dtype) +
                   (input_grad ? " with" : " without") + " the input's gradient" +
                   (relu_fused ? ", relu" : ""));
      Generator gen(12);
      const Tensor x0 = randn(c.x, dtype, &gen), w0 = randn(c.w, dtype, &gen);
      const Tensor b0 = randn({c.w[0]}, dtype, &gen);
      std::vector<float> outs[2];
      std::vector<std::vector<float>> grads[2];
      for (int fused = 0; fused < 2; ++fused) {
        Inputs in{x0.detach().requires_grad_(input_grad), w0.detach().requires_grad_(),
                  b0.detach().requires_grad_()};
        const ConvOptions options{.fused_relu = relu_fused};
        const Tensor out = fused ? conv2d(in[0], in[1], in[2],
                                          {.fused_relu = relu_fused, .fused_max_pool = c.window})
                                 : max_pool2d(conv2d(in[0], in[1], in[2], options), c.window);
        // A gradient that differs per element, so that a wrong position or mask shows.
        (out * arange(0, out.numel(), 1, dtype).reshape(out.shape())).sum().backward();
        outs[fused] = out.detach().to(DType::f32).to_vector<float>();
        for (const Tensor& t : in)
          grads[fused].push_back(t.grad().defined() ? t.grad().to(DType::f32).to_vector<float>()
                                                    : std::vector<float>{});
      }
      EXPECT_EQ(outs[1], outs[0]);
      for (int i = 0; i < 3; ++i) EXPECT_EQ(grads[1][i], grads[0][i]) << i;
      EXPECT_EQ(grads[1][0].empty(), !input_grad);
    }
  }
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return conv2d(in[0], in[1], in[2],
                      {.padding = {1}, .fused_relu = true, .fused_max_pool = {2}});
      },
      {leaf({2, 3, 6, 5}, 31), leaf({4, 3, 3, 3}, 32), leaf({4}, 33)});
}

namespace {

// max |actual - expected| <= tolerance * max |expected|: errors measured against the largest
// values, the scale of a Winograd tile's rounding.
::testing::AssertionResult close_to_scale(const Tensor& actual, const Tensor& expected,
                                          double tolerance) {
  const std::vector<double> a = actual.to(DType::f64).to_vector<double>();
  const std::vector<double> e = expected.to(DType::f64).to_vector<double>();
  if (a.size() != e.size()) return ::testing::AssertionFailure() << "sizes differ";
  double error = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    error = std::max(error, std::abs(a[i] - e[i]));
    scale = std::max(scale, std::abs(e[i]));
  }
  if (error <= tolerance * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max error " << error << " above " << tolerance << " x the largest value " << scale;
}

// The three passes of one implementation on the same inputs (flat f32 buffers).
struct ConvPasses {
  Tensor y, grad_x, grad_weight, grad_bias;
};

ConvPasses run_conv_passes(const kernels::cpu::ConvGeometry& g, const Tensor& x, const Tensor& w,
                           const Tensor& b, const Tensor& gy,
                           kernels::cpu::ConvAlgorithm algorithm) {
  ConvPasses p{empty({g.output_numel()}), empty({g.input_numel()}), empty({g.weight_numel()}),
               empty({g.out_channels})};
  kernels::cpu::conv2d_forward(g, x.data<float>(), w.data<float>(), b.data<float>(),
                               p.y.data<float>(), algorithm);
  kernels::cpu::conv2d_backward_data(g, gy.data<float>(), w.data<float>(), p.grad_x.data<float>(),
                                     algorithm);
  kernels::cpu::conv2d_backward_weights(g, x.data<float>(), gy.data<float>(),
                                        p.grad_weight.data<float>(), p.grad_bias.data<float>(),
                                        algorithm);
  return p;
}

}  // namespace

// 3x3 unit-stride convolutions with many channels run oneDNN's Winograd kernels on AVX-512 CPUs
// (kernels/cpu/conv.hpp, conv2d_winograd): every pass within rounding of im2col + sgemm, the same
// bits when run again, and through the fused max pooling the values and gradients of f64.
TEST(Conv2d, WinogradMatchesIm2colWithinRounding) {
  using kernels::cpu::ConvAlgorithm;
  using kernels::cpu::ConvGeometry;
  using kernels::cpu::ConvPass;
  const ConvGeometry cases[] = {
      // 64 -> 64 at 8x8, "same": Winograd in all three passes.
      {.batch = 8,
       .in_channels = 64,
       .out_channels = 64,
       .in_h = 8,
       .in_w = 8,
       .out_h = 8,
       .out_w = 8,
       .kernel_h = 3,
       .kernel_w = 3,
       .pad_top = 1,
       .pad_bottom = 1,
       .pad_left = 1,
       .pad_right = 1},
      // The bench CNN's second layer, 32 -> 64 at 13x13 -> 11x11: the input gradient stays direct.
      {.batch = 8,
       .in_channels = 32,
       .out_channels = 64,
       .in_h = 13,
       .in_w = 13,
       .out_h = 11,
       .out_w = 11,
       .kernel_h = 3,
       .kernel_w = 3}};
  const bool avx512 = kernels::cpu::onednn::has_avx512();
  for (const ConvGeometry& g : cases) {
    SCOPED_TRACE(::testing::Message() << g.in_channels << " -> " << g.out_channels);
    EXPECT_EQ(kernels::cpu::conv2d_winograd(g, ConvPass::forward), avx512);
    EXPECT_EQ(kernels::cpu::conv2d_winograd(g, ConvPass::backward_weights), avx512);
    EXPECT_EQ(kernels::cpu::conv2d_winograd(g, ConvPass::backward_data),
              avx512 && g.in_channels == 64);
    Generator gen(21);
    const Tensor x = randn({g.input_numel()}, DType::f32, &gen);
    const Tensor w = randn({g.weight_numel()}, DType::f32, &gen);
    const Tensor b = randn({g.out_channels}, DType::f32, &gen);
    const Tensor gy = randn({g.output_numel()}, DType::f32, &gen);
    const ConvPasses im2col = run_conv_passes(g, x, w, b, gy, ConvAlgorithm::im2col);
    const ConvPasses automatic = run_conv_passes(g, x, w, b, gy, ConvAlgorithm::automatic);
    const ConvPasses again = run_conv_passes(g, x, w, b, gy, ConvAlgorithm::automatic);
    // Sums of 288-576 products of unit normals (|y| up to ~100): Winograd's transforms add
    // rounding errors of the order of the tile's largest values: measured up to 1.6e-6 of the
    // largest value (the direct kernels: 2.5e-7).
    EXPECT_TRUE(close_to_scale(automatic.y, im2col.y, 5e-6));
    EXPECT_TRUE(close_to_scale(automatic.grad_x, im2col.grad_x, 5e-6));
    EXPECT_TRUE(close_to_scale(automatic.grad_weight, im2col.grad_weight, 5e-6));
    EXPECT_TRUE(close_to_scale(automatic.grad_bias, im2col.grad_bias, 5e-6));
    EXPECT_EQ(again.y.to_vector<float>(), automatic.y.to_vector<float>());
    EXPECT_EQ(again.grad_x.to_vector<float>(), automatic.grad_x.to_vector<float>());
    EXPECT_EQ(again.grad_weight.to_vector<float>(), automatic.grad_weight.to_vector<float>());
    EXPECT_EQ(again.grad_bias.to_vector<float>(), automatic.grad_bias.to_vector<float>());
  }
  // Through the op with a fused relu and max pooling (the pooling reads Winograd's blocked output,
  // the gradient passes its blocked gradient), against the same in f64 (im2col).
  Generator gen(22);
  const Tensor x0 = randn({8, 32, 13, 13}, DType::f64, &gen),
               w0 = randn({64, 32, 3, 3}, DType::f64, &gen);
  const Tensor b0 = randn({64}, DType::f64, &gen);
  Tensor outs[2], grads[2][3];
  for (int f32 = 0; f32 < 2; ++f32) {
    const DType dtype = f32 ? DType::f32 : DType::f64;
    Inputs in{x0.to(dtype).detach().requires_grad_(), w0.to(dtype).detach().requires_grad_(),
              b0.to(dtype).detach().requires_grad_()};
    outs[f32] = conv2d(in[0], in[1], in[2], {.fused_relu = true, .fused_max_pool = {2}});
    (outs[f32] * arange(0, outs[f32].numel(), 1, dtype).reshape(outs[f32].shape()) / 1000.0)
        .sum()
        .backward();
    for (int i = 0; i < 3; ++i) grads[f32][i] = in[i].grad().to(DType::f64);
  }
  EXPECT_TRUE(close_to_scale(outs[1].to(DType::f64), outs[0], 5e-6));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(close_to_scale(grads[1][i], grads[0][i], 5e-6)) << i;
}

// One input channel, 3x3, 16k filters and 2x2 pooling (an MNIST CNN's first layer) take the direct
// kernels in f32 (conv_pool_direct.hpp: channels in vector lanes, the pooling in registers), which
// sum in another order than im2col: the same values and gradients within rounding, the same
// argmax (positions whose gradient is 0 stay 0), with and without relu, bias and padding, odd
// sizes; without the input's gradient the weight gradient runs on them too.
TEST(Conv2d, DirectFusedMaxPoolMatchesPoolAfter) {
  struct Case {
    Shape x, w;
    std::vector<int64_t> padding;
  };
  for (const Case& c : {Case{{5, 1, 28, 28}, {32, 1, 3, 3}, {}},      // 26x26 -> 13x13
                        Case{{3, 1, 13, 12}, {48, 1, 3, 3}, {}},      // 11x10 -> 5x5
                        Case{{2, 1, 10, 10}, {16, 1, 3, 3}, {1}}}) {  // same: 10x10 -> 5x5
    for (const auto& [relu_fused, with_bias] :
         {std::pair{true, true}, {false, true}, {true, false}}) {
      SCOPED_TRACE(::testing::PrintToString(c.w) + (relu_fused ? " relu" : "") +
                   (with_bias ? " bias" : ""));
      Generator gen(13);
      const Tensor x0 = randn(c.x, DType::f32, &gen), w0 = randn(c.w, DType::f32, &gen);
      const Tensor b0 = with_bias ? randn({c.w[0]}, DType::f32, &gen) : Tensor();
      Tensor outs[2], grads[2][2];
      for (int fused = 0; fused < 2; ++fused) {
        const Tensor x = x0.detach(), w = w0.detach().requires_grad_();
        const Tensor b = with_bias ? b0.detach().requires_grad_() : Tensor();
        const ConvOptions options{.padding = c.padding, .fused_relu = relu_fused};
        ConvOptions fused_options = options;
        fused_options.fused_max_pool = {2};
        outs[fused] =
            fused ? conv2d(x, w, b, fused_options) : max_pool2d(conv2d(x, w, b, options), {2});
        (outs[fused] * arange(0, outs[fused].numel(), 1).reshape(outs[fused].shape()))
            .sum()
            .backward();
        grads[fused][0] = w.grad();
        if (with_bias) grads[fused][1] = b.grad();
      }
      EXPECT_ALL_CLOSE(outs[1], outs[0], 1e-6, 1e-5);
      EXPECT_ALL_CLOSE(grads[1][0], grads[0][0], 1e-4, 1e-5);
      if (with_bias) {
        EXPECT_ALL_CLOSE(grads[1][1], grads[0][1], 1e-4, 1e-5);
      }
    }
  }
  const Tensor x = zeros({1, 1, 4, 4}), w = zeros({2, 1, 3, 3});
  EXPECT_EQ(error_message([&] { conv2d(x, w, Tensor(), {.fused_max_pool = {3}}); }),
            "conv2d: fused_max_pool window [3, 3] is larger than the convolution's output [2, 2]");
  EXPECT_EQ(error_message([&] {
              conv2d(x, w, Tensor(), {.fused_max_pool = {1, 2, 3}});
            }),
            "conv2d: fused_max_pool takes one value for both axes or two ({rows, cols}), got "
            "[1, 2, 3]");
  EXPECT_EQ(error_message([&] {
              conv1d(zeros({1, 1, 8}), zeros({2, 1, 3}), Tensor(), {.fused_max_pool = {2}});
            }),
            "conv1d: fused_max_pool needs two spatial axes (conv2d), got 1");
}

// The automatic f32 paths give bit-identical results on 1 and 2 threads (the im2col weight
// gradient sums its batch in fixed chunks; oneDNN's direct forward and input gradient do not split
// sums) -- except oneDNN's weight gradient, used where its AVX-512 kernels run, which splits the
// batch by the thread count: there the two agree to rounding.
TEST(Conv2d, SameResultsOnAnyThreadCount) {
  const int threads = get_num_threads();
  Generator gen(5);
  const Tensor x0 = randn({8, 32, 9, 9}, DType::f32, &gen),
               w0 = randn({32, 32, 3, 3}, DType::f32, &gen);
  const Tensor b0 = randn({32}, DType::f32, &gen), v0 = randn({4, 1, 12, 12}, DType::f32, &gen);
  const Tensor k0 = randn({16, 1, 3, 3}, DType::f32, &gen);
  // The bench CNN's second convolution, whose batch oneDNN may split over threads.
  const Tensor u0 = randn({64, 32, 13, 13}, DType::f32, &gen),
               m0 = randn({64, 32, 3, 3}, DType::f32, &gen);
  std::vector<std::vector<float>> results[2];
  for (int t = 0; t < 2; ++t) {
    set_num_threads(t + 1);
    Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_(),
           b = b0.detach().requires_grad_(), k = k0.detach().requires_grad_(),
           m = m0.detach().requires_grad_();
    const Tensor y = conv2d(x, w, b, {.padding = {1}});
    const Tensor z = conv2d(v0, k, Tensor(), {.stride = {2}});
    const Tensor c = conv2d(u0, m, Tensor(), {.fused_relu = true});
    (square(y).sum() + square(z).sum() + square(c).sum()).backward();
    for (const Tensor& r : {y, x.grad(), w.grad(), b.grad(), z, k.grad(), c, m.grad()})
      results[t].push_back(r.detach().to_vector<float>());
  }
  set_num_threads(threads);
  const size_t onednn_weight_grad = 7;  // m.grad()
  for (size_t i = 0; i < results[0].size(); ++i) {
    if (i == onednn_weight_grad) {
      // Sums of 64 x 121 products that cancel: rounding is relative to the gradient's scale.
      ASSERT_EQ(results[0][i].size(), results[1][i].size());
      float scale = 0;
      for (float v : results[0][i]) scale = std::max(scale, std::abs(v));
      for (size_t j = 0; j < results[0][i].size(); ++j)
        EXPECT_NEAR(results[0][i][j], results[1][i][j], 1e-5 * scale) << j;
    } else {
      EXPECT_EQ(results[0][i], results[1][i]) << i;
    }
  }
}

// The f32 kernel paths (oneDNN on plain layouts, oneDNN on its blocked layouts with reorders, and
// im2col + sgemm) agree on geometries with strides, dilation, groups, asymmetric padding and a
// 1x1 kernel, with channel counts on both sides of the automatic choice's threshold.
TEST(ConvKernels, AllPathsAgree) {
  using kernels::cpu::ConvAlgorithm;
  using kernels::cpu::ConvGeometry;
  auto geometry = [](ConvGeometry g) {
    g.out_h = kernels::cpu::conv_output_size(g.in_h, g.kernel_h, g.stride_h, g.dilation_h,
                                             g.pad_top, g.pad_bottom);
    g.out_w = kernels::cpu::conv_output_size(g.in_w, g.kernel_w, g.stride_w, g.dilation_w,
                                             g.pad_left, g.pad_right);
    return g;
  };
  const ConvGeometry cases[] = {
      geometry({.batch = 3,
                .in_channels = 4,
                .out_channels = 6,
                .groups = 2,
                .in_h = 9,
                .in_w = 8,
                .kernel_h = 3,
                .kernel_w = 2,
                .stride_h = 2,
                .dilation_w = 2,
                .pad_top = 1,
                .pad_bottom = 2,
                .pad_left = 0,
                .pad_right = 1}),
      geometry({.batch = 2,
                .in_channels = 3,
                .out_channels = 3,
                .groups = 3,
                .in_h = 7,
                .in_w = 7,
                .kernel_h = 3,
                .kernel_w = 3,
                .stride_h = 2,
                .stride_w = 2,
                .pad_top = 1,
                .pad_bottom = 1,
                .pad_left = 1,
                .pad_right = 1}),
      // Depthwise with enough channels for the automatic choice to take oneDNN's blocked path.
      geometry({.batch = 2,
                .in_channels = 16,
                .out_channels = 32,
                .groups = 16,
                .in_h = 9,
                .in_w = 8,
                .kernel_h = 3,
                .kernel_w = 3,
                .stride_h = 2,
                .stride_w = 2,
                .pad_top = 1,
                .pad_bottom = 0,
                .pad_left = 1,
                .pad_right = 1}),
      geometry({.batch = 5, .in_channels = 6, .out_channels = 4, .in_h = 4, .in_w = 5}),
      geometry({.batch = 2,
                .in_channels = 20,
                .out_channels = 24,
                .in_h = 7,
                .in_w = 6,
                .kernel_h = 3,
                .kernel_w = 3,
                .stride_w = 2,
                .pad_top = 1,
                .pad_bottom = 0,
                .pad_left = 1,
                .pad_right = 1}),
      // conv1d's form: height 1.
      geometry({.batch = 2,
                .in_channels = 16,
                .out_channels = 16,
                .in_h = 1,
                .in_w = 9,
                .kernel_w = 3,
                .dilation_w = 2,
                .pad_left = 2,
                .pad_right = 1}),
  };
  const ConvAlgorithm algorithms[] = {ConvAlgorithm::im2col, ConvAlgorithm::onednn,
                                      ConvAlgorithm::onednn_blocked, ConvAlgorithm::automatic};
  for (const ConvGeometry& g : cases) {
    SCOPED_TRACE(::testing::Message() << "channels " << g.in_channels << ", groups " << g.groups
                                      << ", kernel " << g.kernel_h << "x" << g.kernel_w);
    Generator gen(3);
    const Tensor x = randn({g.input_numel()}, DType::f32, &gen);
    const Tensor w = randn({g.weight_numel()}, DType::f32, &gen);
    const Tensor b = randn({g.out_channels}, DType::f32, &gen);
    const Tensor gy = randn({g.output_numel()}, DType::f32, &gen);
    const ConvPasses reference = run_conv_passes(g, x, w, b, gy, algorithms[0]);
    for (int k = 1; k < 4; ++k) {
      SCOPED_TRACE(k);
      const ConvPasses p = run_conv_passes(g, x, w, b, gy, algorithms[k]);
      EXPECT_ALL_CLOSE(p.y, reference.y, 1e-5, 1e-4);
      EXPECT_ALL_CLOSE(p.grad_x, reference.grad_x, 1e-5, 1e-4);
      EXPECT_ALL_CLOSE(p.grad_weight, reference.grad_weight, 1e-5, 1e-4);
      EXPECT_ALL_CLOSE(p.grad_bias, reference.grad_bias, 1e-5, 1e-4);
    }
  }
}

// ---- errors ----

TEST(Conv, Errors) {
  const Tensor x = randn({2, 4, 6, 6}), w = randn({8, 4, 3, 3});
  EXPECT_EQ(error_message([&] {
              conv2d(randn({4, 6, 6}), w);
            }),
            "conv2d: expected input [N, C, H, W], got shape [4, 6, 6]");
  EXPECT_EQ(error_message([&] {
              conv1d(x, randn({8, 4, 3}));
            }),
            "conv1d: expected input [N, C, L], got shape [2, 4, 6, 6]");
  EXPECT_EQ(error_message([&] {
              conv2d(x, randn({8, 4, 3}));
            }),
            "conv2d: expected weight [C_out, C_in / groups, kH, kW], got shape [8, 4, 3]");
  EXPECT_EQ(error_message([&] {
              conv2d(x, randn({8, 3, 3, 3}));
            }),
            "conv2d: input of shape [2, 4, 6, 6] has 4 channels, but weight of shape "
            "[8, 3, 3, 3] with groups = 1 expects 3 (weight.shape[1] * groups)");
  EXPECT_EQ(error_message([&] {
              conv2d(x, randn({6, 1, 3, 3}), Tensor(), {.groups = 3});
            }),
            "conv2d: groups = 3 must divide both the input channels (4) and the output channels "
            "(6)");
  EXPECT_EQ(error_message([&] {
              conv2d(x, randn({8, 2, 3, 3}), Tensor(), {.groups = 0});
            }),
            "conv2d: expected groups >= 1, got 0");
  EXPECT_EQ(error_message([&] {
              conv2d(x, randn({8, 4, 5, 5}), Tensor(), {.dilation = {2}});
            }),
            "conv2d: the kernel [5, 5] with dilation [2, 2] is larger than the padded input: input "
            "shape [2, 4, 6, 6] with padding [0, 0] has 6 positions along spatial axis 0, the "
            "dilated kernel spans 9");
  EXPECT_EQ(error_message([&] {
              conv2d(x, randn({8, 4, 7, 3}), Tensor(), {.padding = {0, 1}});
            }),
            "conv2d: the kernel [7, 3] with dilation [1, 1] is larger than the padded input: input "
            "shape [2, 4, 6, 6] with padding [0, 1] has 6 positions along spatial axis 0, the "
            "dilated kernel spans 7");
  EXPECT_EQ(error_message([&] {
              conv2d(x, w, Tensor(), {.stride = {1, 0}});
            }),
            "conv2d: expected stride values >= 1, got [1, 0]");
  EXPECT_EQ(error_message([&] { conv2d(x, w, Tensor(), {.dilation = {0}}); }),
            "conv2d: expected dilation values >= 1, got [0, 0]");
  EXPECT_EQ(error_message([&] { conv2d(x, w, Tensor(), {.padding = {-1}}); }),
            "conv2d: expected padding values >= 0, got [-1, -1]");
  EXPECT_EQ(error_message([&] {
              conv2d(x, w, Tensor(), {.stride = {1, 2, 3}});
            }),
            "conv2d: expected stride to have one value or one per spatial axis (2), got [1, 2, 3]");
  EXPECT_EQ(error_message([&] { conv2d(x, w, Tensor(), {.padding_mode = "full"}); }),
            "conv2d: unknown padding_mode 'full' (expected '' to use padding, 'valid' or 'same')");
  EXPECT_EQ(
      error_message([&] { conv2d(x, w, Tensor(), {.padding = {1}, .padding_mode = "same"}); }),
      "conv2d: padding_mode 'same' sets the padding itself; expected no explicit padding, "
      "got [1]");
  EXPECT_EQ(error_message([&] { conv2d(x, w, randn({4})); }),
            "conv2d: expected a bias of shape [8] (one per output channel), got shape [4]");
  EXPECT_EQ(error_message([&] { conv2d(x, w.to(DType::f64)); }),
            "conv2d: expected the weight to have the input's dtype f32, got f64");
  EXPECT_EQ(error_message([&] { conv2d(x.to(DType::i64), w.to(DType::i64)); }),
            "conv2d: expected a floating input (f32 or f64), got i64");
}

TEST(ConvTranspose2d, Errors) {
  const Tensor x = randn({1, 4, 3, 3}), w = randn({4, 2, 3, 3});
  EXPECT_EQ(error_message([&] {
              conv_transpose2d(randn({4, 3, 3}), w);
            }),
            "conv_transpose2d: expected input [N, C, H, W], got shape [4, 3, 3]");
  EXPECT_EQ(error_message([&] {
              conv_transpose2d(x, randn({3, 2, 3, 3}));
            }),
            "conv_transpose2d: input of shape [1, 4, 3, 3] has 4 channels, but weight of shape "
            "[3, 2, 3, 3] with groups = 1 expects 3 (weight.shape[0])");
  EXPECT_EQ(error_message([&] { conv_transpose2d(x, w, Tensor(), {.groups = 3}); }),
            "conv_transpose2d: groups = 3 must divide both the input channels (4) and the output "
            "channels (6)");
  EXPECT_EQ(error_message(
                [&] { conv_transpose2d(x, w, Tensor(), {.stride = {2}, .output_padding = {2}}); }),
            "conv_transpose2d: expected output_padding smaller than the stride or the dilation in "
            "each axis, got output_padding [2, 2] with stride [2, 2] and dilation [1, 1]");
  EXPECT_EQ(error_message([&] { conv_transpose2d(x, w, Tensor(), {.padding = {3}}); }),
            "conv_transpose2d: input of shape [1, 4, 3, 3] with kernel [3, 3], stride [1, 1], "
            "padding [3, 3], dilation [1, 1] and output_padding [0, 0] gives an empty output "
            "(size -1 along spatial axis 0)");
  EXPECT_EQ(error_message([&] { conv_transpose2d(x, w, Tensor(), {.stride = {0}}); }),
            "conv_transpose2d: expected stride values >= 1, got [0, 0]");
}
