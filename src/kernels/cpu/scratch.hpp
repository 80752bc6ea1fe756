// Per-thread buffers reused across calls (OpenMP's threads persist), so that a training step's
// kernels allocate nothing for their temporaries. Each use that can be live while another is has
// a slot of its own; one slot serves several kernels that never run inside one another.
#pragma once

#include <cstdint>
#include <vector>

namespace nabla::kernels::cpu {

enum class Scratch {
  columns,          // im2col's column matrices; the direct convolution's padded image
  weight_partials,  // the weight gradient's per-chunk partial sums
  bias_sums,        // conv_bias_grad's per-sample sums
  image_grad,       // one image's (masked or rebuilt) output gradient
  image_output,     // one image's output before its fused pooling
  window_row,       // a row of pooling windows with the channels in lanes (values, argmax)
  window_mask_row,  // the same row's pooled relu outputs (the backward's mask)
};

// A buffer of at least n elements of T for `kSlot`, this thread's.
template <class T, Scratch kSlot>
T* scratch(int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

}  // namespace nabla::kernels::cpu
