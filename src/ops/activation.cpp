// Activation functions, with PyTorch's definitions and gradients, and `activation(x, name)` for
// layers configured by a Keras/PyTorch name. Softmax and log-softmax run on the row/axis kernels
// of kernels/cpu/softmax.hpp (shared with the fused cross-entropy loss).
#include <algorithm>
#include <array>
#include <cmath>

#include "autograd/node.hpp"
#include "kernels/cpu/softmax.hpp"
#include "ops/elementwise.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;     // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2*pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kGeluCubic = 0.044715;                  // the tanh approximation's x^3 term

}  // namespace

Tensor relu(const Tensor& x) {
  // `v < 0 ? 0 : v` keeps NaN (and -0), as torch.relu does.
  Tensor out = map1(x, "relu", [](auto v) { return v < 0 ? decltype(v)(0) : v; });
  record_pointwise("ReluBackward", x, out, out.detach(),
                   [](auto g, auto y) { return y > 0 ? g : decltype(g)(0); });
  return out;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  Tensor out = map1(x, "leaky_relu", [negative_slope](auto v) {
    return v > 0 ? v : v * static_cast<decltype(v)>(negative_slope);
  });
  record_pointwise("LeakyReluBackward", x, out, x, [negative_slope](auto g, auto v) {
    return v > 0 ? g : g * static_cast<decltype(g)>(negative_slope);
  });
  return out;
}

Tensor elu(const Tensor& x, double alpha) {
  Tensor out = map1(x, "elu", [alpha](auto v) {
    return v > 0 ? v : static_cast<decltype(v)>(alpha) * std::expm1(v);
  });
  record_pointwise("EluBackward", x, out, x, [alpha](auto g, auto v) {
    return v > 0 ? g : g * static_cast<decltype(g)>(alpha) * std::exp(v);
  });
  return out;
}

Tensor gelu(const Tensor& x, bool tanh_approximation) {
  if (tanh_approximation) {
    // 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
    Tensor out = map1(x, "gelu", [](auto v) {
      using T = decltype(v);
      const T u = T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v);
      return T(0.5) * v * (1 + std::tanh(u));
    });
    record_pointwise("GeluBackward", x, out, x, [](auto g, auto v) {
      using T = decltype(v);
      const T t = std::tanh(T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v));
      const T du = T(kSqrt2OverPi) * (1 + 3 * T(kGeluCubic) * v * v);
      return g * (T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * du);
    });
    return out;
  }
  // x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); derivative Phi(x) + x phi(x)
  Tensor out = map1(x, "gelu", [](auto v) {
    using T = decltype(v);
    return T(0.5) * v * (1 + std::erf(v * T(kSqrtHalf)));
  });
  record_pointwise("GeluBackward", x, out, x, [](auto g, auto v) {
    using T = decltype(v);
    const T cdf = T(0.5) * (1 + std::erf(v * T(kSqrtHalf)));
    const T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
    return g * (cdf + v * pdf);
  });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  // exp(-v) overflows to inf for very negative v, giving exactly 0: no NaN on either side.
  Tensor out = map1(x, "sigmoid", [](auto v) { return 1 / (1 + std::exp(-v)); });
  record_pointwise("SigmoidBackward", x, out, out.detach(),
                   [](auto g, auto y) { return g * y * (1 - y); });
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = map1(x, "tanh", [](auto v) { return std::tanh(v); });
  record_pointwise("TanhBackward", x, out, out.detach(),
                   [](auto g, auto y) { return g * (1 - y * y); });
  return out;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  // log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold (as PyTorch) so that
  // exp never overflows.
  Tensor out = map1(x, "softplus", [beta, threshold](auto v) {
    using T = decltype(v);
    const T z = v * T(beta);
    return z > T(threshold) ? v : std::log1p(std::exp(z)) / T(beta);
  });
  record_pointwise("SoftplusBackward", x, out, x, [beta, threshold](auto g, auto v) -> decltype(g) {
    using T = decltype(v);
    const T z = v * T(beta);
    if (z > T(threshold)) return g;
    const T e = std::exp(z);
    return g * e / (e + 1);
  });
  return out;
}

namespace {

// x viewed as [outer, dim, inner] around `axis` (a 0-d tensor is one element).
struct AxisSplit {
  int64_t outer = 1, dim = 1, inner = 1;
};
AxisSplit split_at(const Shape& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) {
      s.outer *= shape[d];
    } else if (d == axis) {
      s.dim = shape[d];
    } else {
      s.inner *= shape[d];
    }
  }
  return s;
}

// softmax and log_softmax: the same stable kernel shape, the same backward shape.
Tensor softmax_family(const Tensor& x, int64_t axis_in, bool log) {
  namespace cpu = kernels::cpu;
  const char* op = log ? "log_softmax" : "softmax";
  const int64_t axis = normalize_axis(axis_in, x.dim(), op, x.shape());
  const AxisSplit s = split_at(x.shape(), axis);
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const Tensor in = contiguous_data(x);
    auto kernel = log ? cpu::log_softmax_axis<T> : cpu::softmax_axis<T>;
    kernel(in.data<T>(), s.outer, s.dim, s.inner, out.data<T>());
  });
  if (needs_grad({x})) {
    record(log ? "LogSoftmaxBackward" : "SoftmaxBackward", {x}, {out},
           [y = out.detach(), s, log](auto& g) {
             const Tensor grad = g[0].to(y.dtype()).contiguous();
             Tensor grad_x = make_tensor(y.shape(), y.dtype());
             dispatch_floating(y.dtype(), "softmax backward", [&](auto tag) {
               using T = decltype(tag);
               auto kernel =
                   log ? cpu::log_softmax_backward_axis<T> : cpu::softmax_backward_axis<T>;
               kernel(y.data<T>(), grad.data<T>(), s.outer, s.dim, s.inner, grad_x.data<T>());
             });
             return std::vector<Tensor>{grad_x};
           });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) { return softmax_family(x, axis, false); }
Tensor log_softmax(const Tensor& x, int64_t axis) { return softmax_family(x, axis, true); }

namespace {
struct NamedActivation {
  const char* name;
  Tensor (*apply)(const Tensor&);
};
// Each with its PyTorch/Keras defaults.
constexpr std::array<NamedActivation, 9> kActivations = {{
    {"relu", [](const Tensor& t) { return relu(t); }},
    {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
    {"tanh", [](const Tensor& t) { return tanh(t); }},
    {"softmax", [](const Tensor& t) { return softmax(t); }},
    {"log_softmax", [](const Tensor& t) { return log_softmax(t); }},
    {"gelu", [](const Tensor& t) { return gelu(t); }},
    {"elu", [](const Tensor& t) { return elu(t); }},
    {"leaky_relu", [](const Tensor& t) { return leaky_relu(t); }},
    {"softplus", [](const Tensor& t) { return softplus(t); }},
}};

std::string known_activations() {
  std::string known;
  for (const NamedActivation& a : kActivations) known += detail::str(a.name, ", ");
  return known + "linear, or \"\" for none";
}
}  // namespace

Tensor activation(const Tensor& x, const std::string& name) {
  if (name.empty() || name == "linear") return x;
  const auto it = std::find_if(kActivations.begin(), kActivations.end(),
                               [&](const NamedActivation& a) { return name == a.name; });
  NABLA_CHECK(it != kActivations.end(), "activation: unknown name '", name,
              "' (expected one of: ", known_activations(), ")");
  return it->apply(x);
}

}  // namespace nabla
