// UninitializedBuffer<E>: room for n values of E (a float, a double, or the 16 bits of a bf16
// value) from the caching allocator, left uninitialized, for a kernel's temporaries. A
// std::vector would zero it and, past malloc's mmap threshold, fault its pages in at every call
// (a bf16 LSTM pass spent a quarter of its time so). Copies share the memory, as tensors do.
#pragma once

#include <cstdint>

#include "core/tensor_impl.hpp"

namespace nabla {

template <class E>
class UninitializedBuffer {
 public:
  UninitializedBuffer() = default;
  explicit UninitializedBuffer(int64_t n)
      : storage_(make_tensor({(n * static_cast<int64_t>(sizeof(E)) + 3) / 4}, DType::f32)) {}
  E* data() const { return storage_.defined() ? static_cast<E*>(storage_.raw_data()) : nullptr; }

 private:
  Tensor storage_;  // f32 elements: nabla has no dtype for bf16
};

}  // namespace nabla
