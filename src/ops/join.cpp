// Joining and splitting along an axis. concat copies each input into its slice of the output
// and its backward hands each input the matching slice of the gradient; stack is concat of
// unsqueezed inputs; split returns slices (views), so its backward is slice's.
#include <algorithm>
#include <numeric>

#include "autograd/node.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {
// All tensors converted to their promoted dtype (differentiably), so concat copies one dtype.
std::vector<Tensor> promoted(const std::vector<Tensor>& tensors) {
  DType dtype = tensors[0].dtype();
  for (const Tensor& t : tensors) dtype = promote_types(dtype, t.dtype());
  std::vector<Tensor> out;
  out.reserve(tensors.size());
  for (const Tensor& t : tensors) out.push_back(cast_to(t, dtype));
  return out;
}

// Every tensor has tensor 0's shape except on axis `a` (when a >= 0), or an Error naming the op,
// the offending tensor's index and both shapes.
void check_same_shapes(const std::vector<Tensor>& tensors, int64_t a, const char* op) {
  const Shape& first = tensors[0].shape();
  for (size_t i = 1; i < tensors.size(); ++i) {
    const Shape& shape = tensors[i].shape();
    bool same = shape.size() == first.size();
    for (size_t d = 0; same && d < shape.size(); ++d)
      same = shape[d] == first[d] || static_cast<int64_t>(d) == a;
    if (a >= 0) {
      NABLA_CHECK(same, op, ": tensor ", i, " has shape ", shape, ", but tensor 0 has shape ",
                  first, " (expected the same sizes on every axis but ", a, ")");
    } else {
      NABLA_CHECK(same, op, ": tensor ", i, " has shape ", shape, ", but tensor 0 has shape ",
                  first, " (expected all shapes equal)");
    }
  }
}
}  // namespace

Tensor concat(const std::vector<Tensor>& inputs, int64_t axis) {
  NABLA_CHECK(!inputs.empty(), "concat: expected at least one tensor, got none");
  for (size_t i = 0; i < inputs.size(); ++i) {
    NABLA_CHECK(inputs[i].dim() > 0, "concat: tensor ", i,
                " is a scalar (shape []); expected tensors with at least one axis (use stack)");
  }
  const int64_t a = normalize_axis(axis, inputs[0].dim(), "concat", inputs[0].shape());
  check_same_shapes(inputs, a, "concat");
  const std::vector<Tensor> tensors = promoted(inputs);
  Shape shape = tensors[0].shape();
  Shape sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.shape()[a]);
  shape[a] = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  Tensor out = make_tensor(shape, tensors[0].dtype());
  int64_t start = 0;
  for (const Tensor& t : tensors) {
    make_view(out, t.shape(), out.strides(), start * out.strides()[a]).copy_(t);
    start += t.shape()[a];
  }
  if (needs_grad(tensors)) {
    record("ConcatBackward", tensors, {out}, [a, sizes](auto& g) {
      std::vector<Tensor> grads;  // views of the gradient; inputs without grad ignore theirs
      int64_t begin = 0;
      for (int64_t size : sizes) {
        grads.push_back(slice(g[0], a, begin, begin + size));
        begin += size;
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t axis) {
  NABLA_CHECK(!tensors.empty(), "stack: expected at least one tensor, got none");
  check_same_shapes(tensors, -1, "stack");
  const int64_t a = normalize_axis(axis, tensors[0].dim() + 1, "stack", tensors[0].shape());
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(unsqueeze(t, a));
  return concat(expanded, a);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t axis) {
  NABLA_CHECK(x.dim() > 0, "split: cannot split a scalar (shape [])");
  const int64_t a = normalize_axis(axis, x.dim(), "split", x.shape());
  const int64_t len = x.shape()[a];
  NABLA_CHECK(split_size > 0 || (split_size == 0 && len == 0),
              "split: split_size must be positive, got ", split_size);
  std::vector<Tensor> parts;
  if (len == 0) return {slice(x, a, 0, 0)};
  for (int64_t start = 0; start < len; start += split_size)
    parts.push_back(slice(x, a, start, std::min(start + split_size, len)));
  return parts;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
  NABLA_CHECK(x.dim() > 0, "split: cannot split a scalar (shape [])");
  const int64_t a = normalize_axis(axis, x.dim(), "split", x.shape());
  int64_t total = 0;
  for (int64_t s : sizes) {
    NABLA_CHECK(s >= 0, "split: sizes must be non-negative, got ", sizes);
    total += s;
  }
  NABLA_CHECK(total == x.shape()[a], "split: sizes ", sizes, " sum to ", total, ", but axis ", axis,
              " of shape ", x.shape(), " has size ", x.shape()[a], " (expected them to sum to ",
              x.shape()[a], ")");
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(slice(x, a, start, start + s));
    start += s;
  }
  return parts;
}

}  // namespace nabla
