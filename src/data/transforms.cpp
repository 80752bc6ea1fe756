// Data transforms: scaling, normalization, train/validation split.
#include <cmath>

#include "core/tensor_impl.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

DType floating_result(DType dtype) { return dtype == DType::f64 ? DType::f64 : DType::f32; }

// A fresh contiguous copy of `x` as `dtype`, with f(index, value) applied to every element.
template <class F>
Tensor map_copy(const Tensor& x, DType dtype, F f) {
  Tensor out = contiguous_copy(x, dtype);
  const int64_t n = out.numel();
  if (dtype == DType::f64) {
    double* p = out.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = f(i, p[i]);
  } else {
    float* p = out.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(f(i, static_cast<double>(p[i])));
  }
  return out;
}

}  // namespace

Tensor scale(const Tensor& x, double factor, DType dtype) {
  NABLA_CHECK(x.defined(), "scale: expected a defined tensor");
  NABLA_CHECK(is_floating(dtype), "scale: expected a floating result dtype, got ",
              dtype_name(dtype));
  return map_copy(x, dtype, [factor](int64_t, double v) { return v * factor; });
}

Tensor normalize(const Tensor& x, double mean, double std) {
  NABLA_CHECK(x.defined(), "normalize: expected a defined tensor");
  NABLA_CHECK(std > 0, "normalize: std must be positive, got ", std);
  const double inv = 1.0 / std;
  return map_copy(x, floating_result(x.dtype()),
                  [mean, inv](int64_t, double v) { return (v - mean) * inv; });
}

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std,
                 int64_t channel_axis) {
  NABLA_CHECK(x.defined(), "normalize: expected a defined tensor");
  const int64_t rank = x.dim();
  const int64_t axis = channel_axis < 0 ? channel_axis + rank : channel_axis;
  NABLA_CHECK(axis >= 0 && axis < rank, "normalize: channel_axis ", channel_axis,
              " out of range for shape ", x.shape());
  const int64_t channels = x.size(axis);
  NABLA_CHECK(
      static_cast<int64_t>(mean.size()) == channels && static_cast<int64_t>(std.size()) == channels,
      "normalize: expected ", channels, " means and stds (axis ", axis, " of shape ", x.shape(),
      "), got ", mean.size(), " and ", std.size());
  std::vector<double> inv(std.size());
  for (size_t c = 0; c < std.size(); ++c) {
    NABLA_CHECK(std[c] > 0, "normalize: std[", c, "] must be positive, got ", std[c]);
    inv[c] = 1.0 / std[c];
  }
  int64_t inner = 1;
  for (int64_t a = axis + 1; a < rank; ++a) inner *= x.size(a);
  return map_copy(x, floating_result(x.dtype()), [&](int64_t i, double v) {
    const int64_t c = (i / inner) % channels;
    return (v - mean[c]) * inv[c];
  });
}

Split train_validation_split(const Tensor& inputs, const Tensor& targets, double fraction,
                             uint64_t seed, bool shuffle) {
  NABLA_CHECK(inputs.defined() && inputs.dim() >= 1,
              "train_validation_split: expected inputs with a sample axis");
  NABLA_CHECK(fraction >= 0 && fraction < 1,
              "train_validation_split: fraction must be in [0, 1), got ", fraction);
  const int64_t n = inputs.size(0);
  NABLA_CHECK(!targets.defined() || (targets.dim() >= 1 && targets.size(0) == n),
              "train_validation_split: inputs have ", n, " samples (shape ", inputs.shape(),
              ") but targets have shape ", targets.shape());
  const auto held_out = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
  std::vector<int64_t> order;
  if (shuffle) {
    Generator generator(seed);
    order = randperm(n, &generator).to_vector<int64_t>();
  } else {
    order.resize(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  const std::vector<int64_t> train(order.begin(), order.end() - held_out);
  const std::vector<int64_t> validation(order.end() - held_out, order.end());
  Split split;
  split.train_inputs = gather_rows(inputs, train);
  split.validation_inputs = gather_rows(inputs, validation);
  if (targets.defined()) {
    split.train_targets = gather_rows(targets, train);
    split.validation_targets = gather_rows(targets, validation);
  }
  return split;
}

}  // namespace nabla::data
