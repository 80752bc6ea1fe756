// Merge layers: the joins of graph models (residual additions, gating products, skip
// connections concatenated to decoder features).
#include "nabla/nn.hpp"

namespace nabla::nn {
namespace {

void check_several(const std::string& layer, size_t inputs) {
  NABLA_CHECK(inputs >= 2, layer, ": expected two or more inputs, got ", inputs,
              " (call it on a list of tensors in a graph model)");
}

}  // namespace

Merge::Merge(MergeKind kind) : kind_(kind) {}

std::string Merge::type_name() const {
  switch (kind_) {
    case MergeKind::add:
      return "Add";
    case MergeKind::subtract:
      return "Subtract";
    case MergeKind::multiply:
      return "Multiply";
    case MergeKind::average:
      return "Average";
    case MergeKind::maximum:
      return "Maximum";
    case MergeKind::minimum:
      return "Minimum";
  }
  return "Merge";
}

Tensor Merge::forward(const Tensor& x) { return forward_multi({x}); }

Tensor Merge::forward_multi(const std::vector<Tensor>& inputs) {
  check_several(type_name(), inputs.size());
  NABLA_CHECK(kind_ != MergeKind::subtract || inputs.size() == 2,
              "Subtract: expected exactly two inputs, got ", inputs.size());
  for (size_t i = 1; i < inputs.size(); ++i) {
    NABLA_CHECK(inputs[i].shape() == inputs[0].shape(), type_name(),
                ": expected inputs of one shape, got ", inputs[0].shape(), " (input 0) and ",
                inputs[i].shape(), " (input ", i, ")");
  }
  Tensor out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    switch (kind_) {
      case MergeKind::add:
      case MergeKind::average:
        out = add(out, inputs[i]);
        break;
      case MergeKind::subtract:
        out = sub(out, inputs[i]);
        break;
      case MergeKind::multiply:
        out = mul(out, inputs[i]);
        break;
      case MergeKind::maximum:
        out = maximum(out, inputs[i]);
        break;
      case MergeKind::minimum:
        out = minimum(out, inputs[i]);
        break;
    }
  }
  if (kind_ == MergeKind::average) out = out * (1.0 / static_cast<double>(inputs.size()));
  return out;
}

Concatenate::Concatenate(int64_t axis) : axis_(axis) {}

Tensor Concatenate::forward(const Tensor& x) { return forward_multi({x}); }

Tensor Concatenate::forward_multi(const std::vector<Tensor>& inputs) {
  check_several("Concatenate", inputs.size());
  const int64_t rank = inputs[0].dim();
  NABLA_CHECK(axis_ >= -rank && axis_ < rank, "Concatenate: axis ", axis_,
              " is out of range for inputs of shape ", inputs[0].shape());
  NABLA_CHECK(axis_ != 0 && axis_ != -rank, "Concatenate: axis ", axis_,
              " is the batch axis; samples cannot be joined across it");
  const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
  for (size_t i = 1; i < inputs.size(); ++i) {
    Shape a = inputs[0].shape(), b = inputs[i].shape();
    bool compatible = a.size() == b.size();
    if (compatible) {
      a[axis] = b[axis] = 0;
      compatible = a == b;
    }
    NABLA_CHECK(compatible, "Concatenate: inputs must agree on every axis but ", axis_, ", got ",
                inputs[0].shape(), " (input 0) and ", inputs[i].shape(), " (input ", i, ")");
  }
  return concat(inputs, axis);
}

std::string Concatenate::extra_repr() const { return detail::str("axis=", axis_); }

}  // namespace nabla::nn
