// What a Tensor handle points to: storage, layout, and the autograd fields. Internal.
#pragma once

#include <memory>

#include "nabla/tensor.hpp"

namespace nabla {

namespace autograd {
struct Node;
}

// A buffer from the caching allocator, shared by a tensor and its views. Sized for a contiguous
// `shape` of `dtype`; the shape also names the request in the allocator's errors.
struct Storage {
  Storage(const Shape& shape, DType dtype);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t nbytes = 0;
  DType dtype;
};

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset);

  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  int64_t numel = 1;
  DType dtype;

  // autograd
  bool requires_grad = false;               // set on leaves by the user, on outputs by ops
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;                   // which output of grad_fn this tensor is
  std::shared_ptr<TensorImpl> grad;
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: the node that adds into grad
  // Leaves: run by the backward once it added this leaf's gradient (id, hook).
  std::vector<std::pair<int64_t, std::function<void(const Tensor&)>>> post_accumulate_hooks;
  // Row-sparse tensors (Tensor::is_row_sparse): the row numbers of the stored rows (i64 [R]) and
  // the row count of the tensor it stands for; null and 0 for a dense tensor.
  std::shared_ptr<TensorImpl> sparse_rows;
  int64_t sparse_dense_rows = 0;

  void* data() const {
    return static_cast<char*>(storage->data) + offset * static_cast<int64_t>(dtype_size(dtype));
  }
};

Shape contiguous_strides(const Shape& shape);
// The element count of `shape`; Error when a size is negative or the count overflows int64_t
// (core::checked_numel), so that no shape wraps to a small buffer.
int64_t shape_numel(const Shape& shape);

// A fresh contiguous tensor from the allocator (uninitialized).
Tensor make_tensor(const Shape& shape, DType dtype);
// A view of `base`'s storage with its own layout; no autograd.
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);
// A contiguous copy converted to `dtype`; not recorded by autograd.
Tensor contiguous_copy(const Tensor& src, DType dtype);
// `t` itself when it is contiguous (or undefined), else a contiguous copy; not recorded by
// autograd. For kernels that read memory in order, inside ops that record their own backward.
Tensor contiguous_data(const Tensor& t);

}  // namespace nabla
