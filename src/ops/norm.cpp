// Normalization ops with PyTorch 1.13's semantics: batch_norm (batch statistics with a biased
// variance when training, running statistics updated in place with the unbiased one; running
// statistics in eval), layer_norm and group_norm, each with optional weight (gamma) and bias
// (beta). The statistics and the per-plane coefficients are computed here in double; the passes
// over the data are the fused kernels of kernels/cpu/norm.hpp. Forward saves each set's mean and
// inverse standard deviation (not the normalized input); backward uses the closed forms
//   dx = gamma * inv_std / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)),
//   dgamma = sum(dy * xhat), dbeta = sum(dy).
#include "kernels/cpu/norm.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;
namespace cpu = kernels::cpu;

namespace {

// Batch and group norm see x [N, C, *] as [n, c, s].
struct ChannelLayout {
  int64_t n = 0, c = 0, s = 1;
};

ChannelLayout channel_layout(const Tensor& x, const char* op) {
  NABLA_CHECK(x.dim() >= 2, op, ": expected an input with at least 2 axes [N, C, *], got shape ",
              x.shape());
  ChannelLayout l{x.size(0), x.size(1), 1};
  for (int64_t d = 2; d < x.dim(); ++d) l.s *= x.size(d);
  return l;
}

// An optional parameter or buffer must have `expected` shape and the input's dtype.
void check_param(const Tensor& t, const char* op, const char* name, const Shape& expected,
                 const std::string& what, const Tensor& x) {
  if (!t.defined()) return;
  NABLA_CHECK(t.shape() == expected, op, ": ", name, " of shape ", t.shape(), " does not match ",
              what, "; expected shape ", expected);
  NABLA_CHECK(t.dtype() == x.dtype(), op, ": ", name, " has dtype ", t.dtype(),
              " but the input has dtype ", x.dtype(), "; expected the same dtype");
}

std::string channels_of(const ChannelLayout& l, const Tensor& x) {
  return detail::str("the ", l.c, " channels of input shape ", x.shape());
}

// The gradient flowing into a node, contiguous and in the forward's dtype.
Tensor contiguous_grad(const Tensor& g, DType dtype) {
  return g.is_contiguous() && g.dtype() == dtype ? g : contiguous_copy(g, dtype);
}

// The values of an optional tensor in row-major order, or `count` copies of `fill`.
std::vector<double> values_or(const Tensor& t, int64_t count, double fill) {
  if (!t.defined()) return std::vector<double>(count, fill);
  const Tensor c = contiguous_copy(t, DType::f64);
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

template <class T>
std::vector<T> cast_values(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

Tensor tensor_of(const std::vector<double>& v, const Shape& shape, DType dtype) {
  Tensor t = make_tensor(shape, dtype);
  dispatch_floating(dtype, "tensor_of", [&](auto tag) {
    using T = decltype(tag);
    std::copy(v.begin(), v.end(), t.data<T>());
  });
  return t;
}

// Which inputs of {x, weight, bias} a backward must produce a gradient for.
struct GradMask {
  bool x, weight, bias;
};
GradMask grad_mask(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  auto wants = [](const Tensor& t) { return t.defined() && t.requires_grad(); };
  return {wants(x), wants(weight), wants(bias)};
}

// The statistics the forward normalizes with and the backward needs: one mean and inverse
// standard deviation per normalized set (channel, (sample, group) or row).
struct Stats {
  std::vector<double> mean, inv_std;
};

// ---- batch norm ----

// r = (1 - momentum) * r + momentum * stat, in place and not recorded (a buffer update).
void update_running(const Tensor& running, const std::vector<double>& stat, double momentum) {
  if (!running.defined()) return;
  dispatch_floating(running.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(running.raw_data());
    const int64_t stride = running.strides()[0];
    for (size_t ch = 0; ch < stat.size(); ++ch) {
      T& r = p[static_cast<int64_t>(ch) * stride];
      r = static_cast<T>((1 - momentum) * static_cast<double>(r) + momentum * stat[ch]);
    }
  });
}

Stats batch_statistics(const Tensor& xc, const ChannelLayout& l, const Tensor& running_mean,
                       const Tensor& running_var, double momentum, double eps) {
  Stats st{std::vector<double>(l.c), std::vector<double>(l.c)};
  std::vector<double> var(l.c);
  dispatch_floating(xc.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    cpu::channel_moments(xc.data<T>(), l.n, l.c, l.s, st.mean.data(), var.data());
  });
  const int64_t count = l.n * l.s;
  if (count > 0) {  // an empty batch has no statistics to move the running ones towards
    std::vector<double> unbiased(l.c);
    for (int64_t ch = 0; ch < l.c; ++ch)
      unbiased[ch] = var[ch] * static_cast<double>(count) / static_cast<double>(count - 1);
    update_running(running_mean, st.mean, momentum);
    update_running(running_var, unbiased, momentum);
  }
  for (int64_t ch = 0; ch < l.c; ++ch) st.inv_std[ch] = 1.0 / std::sqrt(var[ch] + eps);
  return st;
}

Stats running_statistics(const Tensor& running_mean, const Tensor& running_var, int64_t c,
                         double eps) {
  Stats st{values_or(running_mean, c, 0), values_or(running_var, c, 1)};
  for (double& v : st.inv_std) v = 1.0 / std::sqrt(v + eps);
  return st;
}

// Training: the statistics depend on x, hence the two sums in dx. Eval: they are constants and
// dx = gamma * inv_std * dy.
std::vector<Tensor> batch_norm_backward(const Tensor& grad, const Tensor& xc,
                                        const ChannelLayout& l, const Stats& st,
                                        const std::vector<double>& gamma, bool training,
                                        GradMask mask) {
  const Tensor dy = contiguous_grad(grad, xc.dtype());
  const double count = static_cast<double>(l.n * l.s);
  std::vector<double> sum_dy(l.c, 0.0), sum_dy_xmu(l.c, 0.0);
  std::vector<Tensor> grads(3);
  dispatch_floating(xc.dtype(), "batch_norm backward", [&](auto tag) {
    using T = decltype(tag);
    if (training || mask.weight || mask.bias)
      cpu::channel_grad_sums(xc.data<T>(), dy.data<T>(), l.n, l.c, l.s, st.mean.data(),
                             sum_dy.data(), sum_dy_xmu.data());
    if (!mask.x) return;
    std::vector<T> centre(l.c), k(l.c), p(l.c, T(0)), q(l.c, T(0));
    for (int64_t ch = 0; ch < l.c; ++ch) {
      const double inv = st.inv_std[ch], scale = gamma[ch] * inv;
      centre[ch] = static_cast<T>(st.mean[ch]);
      k[ch] = static_cast<T>(scale);
      if (training) {
        p[ch] = static_cast<T>(-scale * inv * inv * sum_dy_xmu[ch] / count);
        q[ch] = static_cast<T>(-scale * sum_dy[ch] / count);
      }
    }
    grads[0] = make_tensor(xc.shape(), xc.dtype());
    cpu::plane_affine_backward(dy.data<T>(), xc.data<T>(), l.n, l.c, l.s, centre.data(), k.data(),
                               p.data(), q.data(), 0, grads[0].data<T>());
  });
  if (mask.weight) {
    std::vector<double> dgamma(l.c);
    for (int64_t ch = 0; ch < l.c; ++ch) dgamma[ch] = sum_dy_xmu[ch] * st.inv_std[ch];
    grads[1] = tensor_of(dgamma, {l.c}, xc.dtype());
  }
  if (mask.bias) grads[2] = tensor_of(sum_dy, {l.c}, xc.dtype());
  return grads;
}

// ---- group norm ----

std::vector<Tensor> group_norm_backward(const Tensor& grad, const Tensor& xc,
                                        const ChannelLayout& l, int64_t groups, const Stats& st,
                                        const std::vector<double>& gamma, GradMask mask) {
  const Tensor dy = contiguous_grad(grad, xc.dtype());
  const int64_t per_group = l.c / groups, planes = l.n * l.c;
  const double count = static_cast<double>(per_group * l.s);
  // Sums over each (sample, channel) plane, from which every gradient follows.
  std::vector<double> sum_dy(planes), sum_dy_xmu(planes);
  std::vector<Tensor> grads(3);
  dispatch_floating(xc.dtype(), "group_norm backward", [&](auto tag) {
    using T = decltype(tag);
    cpu::plane_grad_sums(xc.data<T>(), dy.data<T>(), planes, l.s, st.mean.data(), per_group,
                         sum_dy.data(), sum_dy_xmu.data());
    if (!mask.x) return;
    std::vector<T> centre(planes), k(planes), p(planes), q(planes);
    for (int64_t row = 0; row < l.n * groups; ++row) {
      // Over the group: a = sum(dy * gamma), b = sum(dy * gamma * (x - mean)).
      double a = 0, b = 0;
      const int64_t first = row * per_group, g0 = (row % groups) * per_group;
      for (int64_t j = 0; j < per_group; ++j) {
        a += gamma[g0 + j] * sum_dy[first + j];
        b += gamma[g0 + j] * sum_dy_xmu[first + j];
      }
      const double inv = st.inv_std[row];
      const T tp = static_cast<T>(-inv * inv * inv * b / count);
      const T tq = static_cast<T>(-inv * a / count);
      for (int64_t j = 0; j < per_group; ++j) {
        centre[first + j] = static_cast<T>(st.mean[row]);
        k[first + j] = static_cast<T>(inv * gamma[g0 + j]);
        p[first + j] = tp;
        q[first + j] = tq;
      }
    }
    grads[0] = make_tensor(xc.shape(), xc.dtype());
    cpu::plane_affine_backward(dy.data<T>(), xc.data<T>(), l.n, l.c, l.s, centre.data(), k.data(),
                               p.data(), q.data(), l.c, grads[0].data<T>());
  });
  if (mask.weight || mask.bias) {
    std::vector<double> dgamma(l.c, 0.0), dbeta(l.c, 0.0);
    for (int64_t i = 0; i < planes; ++i) {
      const int64_t ch = i % l.c, row = i / per_group;
      dgamma[ch] += sum_dy_xmu[i] * st.inv_std[row];
      dbeta[ch] += sum_dy[i];
    }
    if (mask.weight) grads[1] = tensor_of(dgamma, {l.c}, xc.dtype());
    if (mask.bias) grads[2] = tensor_of(dbeta, {l.c}, xc.dtype());
  }
  return grads;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  const ChannelLayout l = channel_layout(x, op);
  const std::string channels = channels_of(l, x);
  check_param(weight, op, "weight", {l.c}, channels, x);
  check_param(bias, op, "bias", {l.c}, channels, x);
  check_param(running_mean, op, "running_mean", {l.c}, channels, x);
  check_param(running_var, op, "running_var", {l.c}, channels, x);
  if (training) {
    NABLA_CHECK(l.n * l.s != 1, op,
                ": expected more than 1 value per channel when training, got input shape ",
                x.shape());
  } else {
    NABLA_CHECK(running_mean.defined() && running_var.defined(), op,
                ": running_mean and running_var must be defined in eval mode (training=false); "
                "pass the running statistics or training=true");
  }
  const Tensor xc = contiguous_data(x);
  Stats st;
  if (training) {
    st = batch_statistics(xc, l, running_mean, running_var, momentum, eps);
  } else {
    st = running_statistics(running_mean, running_var, l.c, eps);
  }
  std::vector<double> gamma = values_or(weight, l.c, 1), beta = values_or(bias, l.c, 0);
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> scale(l.c);
    for (int64_t ch = 0; ch < l.c; ++ch) scale[ch] = static_cast<T>(gamma[ch] * st.inv_std[ch]);
    const std::vector<T> centre = cast_values<T>(st.mean), shift = cast_values<T>(beta);
    cpu::plane_affine(xc.data<T>(), l.n, l.c, l.s, centre.data(), scale.data(), shift.data(), 0,
                      out.data<T>());
  });
  if (needs_grad({x, weight, bias})) {
    record("BatchNormBackward", {x, weight, bias}, {out},
           [xc, l, st = std::move(st), gamma = std::move(gamma), training,
            mask = grad_mask(x, weight, bias)](auto& g) {
             return batch_norm_backward(g[0], xc, l, st, gamma, training, mask);
           });
  }
  return out;
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "group_norm";
  const ChannelLayout l = channel_layout(x, op);
  NABLA_CHECK(num_groups > 0 && l.c % num_groups == 0, op, ": num_groups ", num_groups,
              " does not divide the ", l.c, " channels of input shape ", x.shape(),
              "; expected a positive divisor of ", l.c);
  const std::string channels = channels_of(l, x);
  check_param(weight, op, "weight", {l.c}, channels, x);
  check_param(bias, op, "bias", {l.c}, channels, x);
  const Tensor xc = contiguous_data(x);
  const int64_t rows = l.n * num_groups, per_group = l.c / num_groups;
  Stats st{std::vector<double>(rows), std::vector<double>(rows)};
  std::vector<double> gamma = values_or(weight, l.c, 1), beta = values_or(bias, l.c, 0);
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> var(rows);
    cpu::row_moments(xc.data<T>(), rows, per_group * l.s, st.mean.data(), var.data());
    for (int64_t r = 0; r < rows; ++r) st.inv_std[r] = 1.0 / std::sqrt(var[r] + eps);
    // Coefficients per (sample, channel) plane: its group's statistics and its channel's gamma.
    const int64_t planes = l.n * l.c;
    std::vector<T> centre(planes), scale(planes), shift(planes);
    for (int64_t i = 0; i < planes; ++i) {
      const int64_t ch = i % l.c, row = i / per_group;
      centre[i] = static_cast<T>(st.mean[row]);
      scale[i] = static_cast<T>(gamma[ch] * st.inv_std[row]);
      shift[i] = static_cast<T>(beta[ch]);
    }
    cpu::plane_affine(xc.data<T>(), l.n, l.c, l.s, centre.data(), scale.data(), shift.data(), l.c,
                      out.data<T>());
  });
  if (needs_grad({x, weight, bias})) {
    record("GroupNormBackward", {x, weight, bias}, {out},
           [xc, l, num_groups, st = std::move(st), gamma = std::move(gamma),
            mask = grad_mask(x, weight, bias)](auto& g) {
             return group_norm_backward(g[0], xc, l, num_groups, st, gamma, mask);
           });
  }
  return out;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  const bool trailing_match =
      x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape;
  if (!trailing_match) {
    std::string expected = "[*";
    for (int64_t d : normalized_shape) expected += detail::str(", ", d);
    detail::throw_error(detail::str(op, ": normalized_shape ", normalized_shape,
                                    " does not match the trailing axes of input shape ", x.shape(),
                                    "; expected an input of shape ", expected, "]"));
  }
  const std::string what = detail::str("normalized_shape ", normalized_shape);
  check_param(weight, op, "weight", normalized_shape, what, x);
  check_param(bias, op, "bias", normalized_shape, what, x);
  const int64_t cols = shape_numel(normalized_shape);
  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - k));
  const Tensor xc = contiguous_data(x);
  const Tensor gamma =
      weight.defined() ? contiguous_data(weight) : ones(normalized_shape, x.dtype());
  const Tensor beta = bias.defined() ? contiguous_data(bias) : zeros(normalized_shape, x.dtype());
  Stats st{std::vector<double>(rows), std::vector<double>(rows)};
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    cpu::layer_norm_forward(xc.data<T>(), rows, cols, gamma.data<T>(), beta.data<T>(), eps,
                            out.data<T>(), st.mean.data(), st.inv_std.data());
  });
  if (needs_grad({x, weight, bias})) {
    record("LayerNormBackward", {x, weight, bias}, {out},
           [xc, gamma, rows, cols, normalized_shape, st = std::move(st),
            mask = grad_mask(x, weight, bias)](auto& g) {
             const Tensor dy = contiguous_grad(g[0], xc.dtype());
             std::vector<Tensor> grads(3);
             if (mask.x) grads[0] = make_tensor(xc.shape(), xc.dtype());
             if (mask.weight) grads[1] = make_tensor(normalized_shape, xc.dtype());
             if (mask.bias) grads[2] = make_tensor(normalized_shape, xc.dtype());
             dispatch_floating(xc.dtype(), "layer_norm backward", [&](auto tag) {
               using T = decltype(tag);
               auto ptr = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
               cpu::layer_norm_backward(xc.data<T>(), dy.data<T>(), rows, cols, st.mean.data(),
                                        st.inv_std.data(), gamma.data<T>(), ptr(grads[0]),
                                        ptr(grads[1]), ptr(grads[2]));
             });
             return grads;
           });
  }
  return out;
}

}  // namespace nabla
