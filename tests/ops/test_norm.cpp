// Normalization: batch_norm, layer_norm and group_norm against PyTorch (outputs, gradients of x,
// weight and bias, running statistics), gradcheck in f64 (training and eval batch norm, [N, C]
// and [N, C, *], non-contiguous inputs, with and without weight/bias, partial gradients), the
// parallel and chunked kernel paths against the same math written with other ops, results that
// do not depend on the thread count, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

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

const std::vector<std::string> kNormInputs = {"x", "weight", "bias"};

// f32 cases and f64 ones (batch_norm/train_4d_f64); the running statistics are read through
// OpCase::input, so that their update in place is compared with running_*_after.
const std::vector<OpTest> kNormTests = {
    {.name = "batch_norm",
     .fn =
         [](const OpCase& c) {
           return batch_norm(c.input("x"), c.input("running_mean"), c.input("running_var"),
                             c.input("weight"), c.input("bias"), c.attr<bool>("training"),
                             c.attr<double>("momentum"), c.attr<double>("eps"));
         },
     .grad_inputs = kNormInputs,
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-9, 1e-12}},
    {.name = "layer_norm",
     .fn =
         [](const OpCase& c) {
           return layer_norm(c.input("x"), c.attr<Shape>("normalized_shape"), c.input("weight"),
                             c.input("bias"), c.attr<double>("eps"));
         },
     .grad_inputs = kNormInputs,
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-9, 1e-12}},
    {.name = "group_norm",
     .fn =
         [](const OpCase& c) {
           return group_norm(c.input("x"), c.attr<int64_t>("num_groups"), c.input("weight"),
                             c.input("bias"), c.attr<double>("eps"));
         },
     .grad_inputs = kNormInputs,
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-9, 1e-12}},
};

// The same normalizations written with reductions and elementwise ops (their own autograd).
Tensor channel_view(const Tensor& t, int64_t dim) {
  Shape shape(dim, 1);
  shape[1] = t.numel();
  return reshape(t, shape);
}

Tensor composite_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  Axes axes{0};
  for (int64_t d = 2; d < x.dim(); ++d) axes.push_back(d);
  const Tensor m = mean(x, axes, true), v = var(x, axes, 0, true);
  const Tensor xhat = (x - m) / sqrt(v + eps);
  return xhat * channel_view(weight, x.dim()) + channel_view(bias, x.dim());
}

Tensor composite_group_norm(const Tensor& x, int64_t groups, const Tensor& weight,
                            const Tensor& bias, double eps) {
  const Tensor g = reshape(x, {x.size(0), groups, -1});
  const Tensor m = mean(g, {2}, true), v = var(g, {2}, 0, true);
  const Tensor xhat = reshape((g - m) / sqrt(v + eps), x.shape());
  return xhat * channel_view(weight, x.dim()) + channel_view(bias, x.dim());
}

Tensor composite_layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  Axes axes;
  for (int64_t d = x.dim() - weight.dim(); d < x.dim(); ++d) axes.push_back(d);
  const Tensor m = mean(x, axes, true), v = var(x, axes, 0, true);
  return (x - m) / sqrt(v + eps) * weight + bias;
}

using NormFn = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

struct Grads {
  Tensor out, x, weight, bias;
};

// Output and gradients of f at (x, weight, bias) converted to `dtype`, for upstream gradient g.
Grads run_with_grads(const NormFn& f, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& g, DType dtype) {
  auto fresh_leaf = [dtype](const Tensor& t) { return t.to(dtype).clone().requires_grad_(); };
  Tensor xi = fresh_leaf(x), wi = fresh_leaf(weight), bi = fresh_leaf(bias);
  Tensor out = f(xi, wi, bi);
  out.backward(g.to(dtype));
  return {out.detach(), xi.grad(), wi.grad(), bi.grad()};
}

// f32 and f64 through the fused op against the composite in f64; then the fused f32 op with one
// and with two threads, which must agree bit for bit.
void expect_matches_composite(const NormFn& fused, const NormFn& composite, const Shape& shape,
                              int64_t params, double offset) {
  Generator gen(7);
  const Tensor x = randn(shape, DType::f64, &gen) * 1.5 + offset;
  const Tensor weight = randn({params}, DType::f64, &gen) + 1.0;
  const Tensor bias = randn({params}, DType::f64, &gen);
  const Tensor g = randn(shape, DType::f64, &gen);
  const Grads want = run_with_grads(composite, x, weight, bias, g, DType::f64);
  const Grads got64 = run_with_grads(fused, x, weight, bias, g, DType::f64);
  const Grads got32 = run_with_grads(fused, x, weight, bias, g, DType::f32);
  for (const auto& [got, rtol, atol] : {std::tuple{got64, 1e-9, 1e-9}, {got32, 1e-4, 2e-5}}) {
    EXPECT_ALL_CLOSE(got.out, want.out, rtol, atol);
    EXPECT_ALL_CLOSE(got.x, want.x, rtol, atol);
    // Parameter gradients sum over many elements: their f32 error grows with the count.
    EXPECT_ALL_CLOSE(got.weight, want.weight, rtol, atol * 100);
    EXPECT_ALL_CLOSE(got.bias, want.bias, rtol, atol * 100);
  }
  const int threads = get_num_threads();
  set_num_threads(1);
  const Grads one = run_with_grads(fused, x, weight, bias, g, DType::f32);
  set_num_threads(2);
  const Grads two = run_with_grads(fused, x, weight, bias, g, DType::f32);
  set_num_threads(threads);
  EXPECT_EQ(one.out.to_vector<float>(), two.out.to_vector<float>());
  EXPECT_EQ(one.x.to_vector<float>(), two.x.to_vector<float>());
  EXPECT_EQ(one.weight.to_vector<float>(), two.weight.to_vector<float>());
  EXPECT_EQ(one.bias.to_vector<float>(), two.bias.to_vector<float>());
}

Tensor train_bn(const Tensor& x, const Tensor& w = Tensor(), const Tensor& b = Tensor()) {
  return batch_norm(x, Tensor(), Tensor(), w, b, true);
}

}  // namespace

TEST(Norm, MatchesPyTorch) { nabla::testing::check_ops("norm", kNormTests); }

TEST(Norm, BatchNormUpdatesRunningStatisticsInPlaceWithoutRecording) {
  Tensor running_mean = zeros({3}), running_var = ones({3});
  const void* mean_data = running_mean.raw_data();
  const Tensor x = from_vector(std::vector<float>{1, 2, 3, 3, 6, 9}, {2, 3});
  Tensor w = ones({3}).requires_grad_();
  batch_norm(x, running_mean, running_var, w, Tensor(), true, 0.5);
  EXPECT_EQ(running_mean.raw_data(), mean_data);
  EXPECT_FALSE(running_mean.requires_grad());
  // mean (2, 4, 6); unbiased variance (2, 8, 18).
  EXPECT_EQ(running_mean.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(running_var.to_vector<float>(), (std::vector<float>{1.5, 4.5, 9.5}));
  // Eval reads them and leaves them alone.
  const Tensor y = batch_norm(x, running_mean, running_var, Tensor(), Tensor(), false, 0.5, 0.0);
  EXPECT_FLOAT_EQ(y.at<float>({1, 2}), static_cast<float>((9 - 3) / std::sqrt(9.5)));
  EXPECT_EQ(running_mean.to_vector<float>(), (std::vector<float>{1, 2, 3}));
}

TEST(Norm, GradcheckBatchNorm) {
  // Training, [N, C] and [N, C, H, W], with running statistics (updated on every call).
  Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
  EXPECT_GRADCHECK(
      [&](const Inputs& in) { return batch_norm(in[0], rm, rv, in[1], in[2], true, 0.1); },
      {leaf({4, 3}, 1), leaf({3}, 2), leaf({3}, 3)});
  EXPECT_GRADCHECK([](const Inputs& in) { return train_bn(in[0], in[1], in[2]); },
                   {noncontiguous_leaf({2, 3, 2, 3}, 4), leaf({3}, 5), leaf({3}, 6)});
  EXPECT_GRADCHECK([](const Inputs& in) { return train_bn(in[0]); }, {leaf({3, 2, 4}, 7)});
  EXPECT_GRADCHECK([](const Inputs& in) { return train_bn(in[0], Tensor(), in[1]); },
                   {leaf({5, 2}, 8), leaf({2}, 9)});
  // Eval: the running statistics are constants.
  const Tensor rv_eval = from_vector(std::vector<double>{0.5, 2.0, 1.3});
  EXPECT_GRADCHECK(
      [&](const Inputs& in) { return batch_norm(in[0], rm, rv_eval, in[1], in[2], false); },
      {noncontiguous_leaf({2, 3, 2, 2}, 10), leaf({3}, 11), leaf({3}, 12)});
  EXPECT_GRADCHECK([&](const Inputs& in) { return batch_norm(in[0], rm, rv_eval, {}, {}, false); },
                   {leaf({4, 3}, 13)});
  // Only the parameters need gradients: x is a constant.
  const Tensor x = leaf({3, 2, 2}, 14).detach();
  EXPECT_GRADCHECK([&](const Inputs& in) { return train_bn(x, in[0], in[1]); },
                   {leaf({2}, 15), leaf({2}, 16)});
}

TEST(Norm, GradcheckLayerNorm) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return layer_norm(in[0], {4, 5}, in[1], in[2]);
      },
      {leaf({3, 4, 5}, 1), leaf({4, 5}, 2), leaf({4, 5}, 3)});
  EXPECT_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], {4}, in[1], in[2]); },
                   {noncontiguous_leaf({2, 3, 4}, 4), leaf({4}, 5), leaf({4}, 6)});
  EXPECT_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], {6}); }, {leaf({2, 6}, 7)});
  const Tensor x = leaf({3, 4}, 8).detach();
  EXPECT_GRADCHECK([&](const Inputs& in) { return layer_norm(x, {4}, in[0]); }, {leaf({4}, 9)});
}

TEST(Norm, GradcheckGroupNorm) {
  EXPECT_GRADCHECK([](const Inputs& in) { return group_norm(in[0], 3, in[1], in[2]); },
                   {leaf({2, 6, 2, 3}, 1), leaf({6}, 2), leaf({6}, 3)});
  EXPECT_GRADCHECK([](const Inputs& in) { return group_norm(in[0], 2, in[1], in[2]); },
                   {noncontiguous_leaf({3, 4}, 4), leaf({4}, 5), leaf({4}, 6)});
  EXPECT_GRADCHECK([](const Inputs& in) { return group_norm(in[0], 1); }, {leaf({2, 3, 4}, 7)});
  EXPECT_GRADCHECK([](const Inputs& in) { return group_norm(in[0], 4, in[1]); },
                   {noncontiguous_leaf({2, 4, 3, 2}, 8), leaf({4}, 9)});
  const Tensor x = leaf({2, 4, 3}, 10).detach();
  EXPECT_GRADCHECK([&](const Inputs& in) { return group_norm(x, 2, in[0], in[1]); },
                   {leaf({4}, 11), leaf({4}, 12)});
}

TEST(Norm, LargeInputsMatchCompositeOpsOnAnyThreadCount) {
  const double eps = 1e-5;
  const NormFn bn = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, eps);
  };
  const NormFn bn_ref = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return composite_batch_norm(x, w, b, eps);
  };
  // Channels split into several chunks along the batch (planes and [N, C] rows), and a batch
  // of two split into channel blocks.
  expect_matches_composite(bn, bn_ref, {40, 3, 24, 24}, 3, 5.0);
  expect_matches_composite(bn, bn_ref, {2, 16, 48, 48}, 16, 0.0);
  expect_matches_composite(bn, bn_ref, {4096, 12}, 12, -3.0);
  const NormFn gn = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return group_norm(x, 4, w, b, eps);
  };
  const NormFn gn_ref = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return composite_group_norm(x, 4, w, b, eps);
  };
  expect_matches_composite(gn, gn_ref, {16, 8, 16, 16}, 8, 2.0);
  const NormFn ln = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return layer_norm(x, {96}, w, b, eps);
  };
  const NormFn ln_ref = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
    return composite_layer_norm(x, w, b, eps);
  };
  expect_matches_composite(ln, ln_ref, {512, 96}, 96, 1.0);
}

TEST(Norm, Errors) {
  const Tensor x = zeros({2, 3, 4});
  EXPECT_EQ(error_message([&] { train_bn(zeros({3})); }),
            "batch_norm: expected an input with at least 2 axes [N, C, *], got shape [3]");
  EXPECT_EQ(error_message([&] { train_bn(x, ones({4})); }),
            "batch_norm: weight of shape [4] does not match the 3 channels of input shape "
            "[2, 3, 4]; expected shape [3]");
  EXPECT_EQ(error_message([&] { batch_norm(x, zeros({3}), ones({2}), {}, {}, true); }),
            "batch_norm: running_var of shape [2] does not match the 3 channels of input shape "
            "[2, 3, 4]; expected shape [3]");
  EXPECT_EQ(error_message([&] { train_bn(x, Tensor(), zeros({3}, DType::f64)); }),
            "batch_norm: bias has dtype f64 but the input has dtype f32; expected the same dtype");
  EXPECT_EQ(error_message([&] {
              train_bn(zeros({1, 3}));
            }),
            "batch_norm: expected more than 1 value per channel when training, got input shape "
            "[1, 3]");
  EXPECT_EQ(error_message([&] {
              train_bn(zeros({1, 3, 1, 1}));
            }),
            "batch_norm: expected more than 1 value per channel when training, got input shape "
            "[1, 3, 1, 1]");
  EXPECT_EQ(error_message([&] { batch_norm(x, zeros({3}), Tensor(), {}, {}, false); }),
            "batch_norm: running_mean and running_var must be defined in eval mode "
            "(training=false); pass the running statistics or training=true");
  EXPECT_EQ(error_message([&] {
              train_bn(zeros({2, 3}, DType::i64));
            }),
            "batch_norm: expected a floating tensor (f32 or f64), got i64");
  EXPECT_EQ(error_message([&] { group_norm(x, 2); }),
            "group_norm: num_groups 2 does not divide the 3 channels of input shape [2, 3, 4]; "
            "expected a positive divisor of 3");
  EXPECT_EQ(error_message([&] { group_norm(zeros({6}), 2); }),
            "group_norm: expected an input with at least 2 axes [N, C, *], got shape [6]");
  EXPECT_EQ(error_message([&] { group_norm(x, 3, Tensor(), ones({6})); }),
            "group_norm: bias of shape [6] does not match the 3 channels of input shape "
            "[2, 3, 4]; expected shape [3]");
  EXPECT_EQ(error_message([&] { layer_norm(x, {3}); }),
            "layer_norm: normalized_shape [3] does not match the trailing axes of input shape "
            "[2, 3, 4]; expected an input of shape [*, 3]");
  EXPECT_EQ(error_message([&] {
              layer_norm(x, {1, 2, 3, 4});
            }),
            "layer_norm: normalized_shape [1, 2, 3, 4] does not match the trailing axes of input "
            "shape [2, 3, 4]; expected an input of shape [*, 1, 2, 3, 4]");
  EXPECT_EQ(error_message([&] {
              layer_norm(x, {3, 4}, ones({12}));
            }),
            "layer_norm: weight of shape [12] does not match normalized_shape [3, 4]; expected "
            "shape [3, 4]");
}
