// Keras's GlobalMaxPooling1D and GlobalAveragePooling1D: [N, T, C] -> [N, C] over the time axis.
// With a mask, only real steps count; a sequence without any gives zeros (not -inf or NaN).
#include <limits>

#include "nabla/nn.hpp"

namespace nabla::nn {

GlobalPooling1D::GlobalPooling1D(bool max) : max_(max) {}

std::string GlobalPooling1D::type_name() const {
  return max_ ? "GlobalMaxPooling1D" : "GlobalAveragePooling1D";
}

namespace {
void check_input(const std::string& layer, const Tensor& x) {
  NABLA_CHECK(x.dim() == 3, layer, ": expected input [N, T, C], got shape ", x.shape());
}
}  // namespace

Tensor GlobalPooling1D::forward(const Tensor& x) {
  check_input(type_name(), x);
  return max_ ? nabla::max(x, 1).values : mean(x, {1});
}

Tensor GlobalPooling1D::forward_masked(const Tensor& x, const Tensor& mask) {
  check_input(type_name(), x);
  if (!mask.defined()) return forward(x);
  NABLA_CHECK(mask.dtype() == DType::boolean && mask.shape() == (Shape{x.size(0), x.size(1)}),
              type_name(), ": expected a bool mask [N, T] = [", x.size(0), ", ", x.size(1),
              "], got ", mask.dtype(), " of shape ", mask.shape());
  const Tensor steps = mask.unsqueeze(-1);     // [N, T, 1]
  const Tensor weights = steps.to(x.dtype());  // 1 for real steps, 0 for padding
  const Tensor counts = sum(weights, {1});     // [N, 1]
  if (!max_) return sum(x * weights, {1}) / clamp(counts, 1.0, std::nullopt);
  const Tensor lowest = scalar_tensor(-std::numeric_limits<double>::infinity(), x.dtype());
  const Tensor best = nabla::max(where(steps, x, lowest), 1).values;
  return where(gt(counts, scalar_tensor(0, x.dtype())), best, scalar_tensor(0, x.dtype()));
}

}  // namespace nabla::nn
