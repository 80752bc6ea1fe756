// The caching allocator: 64-byte-aligned blocks, kept on free lists by size class after use so
// that a warmed-up training step obtains no memory from the system.
//
// One allocation may not exceed allocation_limit(): physical memory by default, or
// NABLA_MAX_ALLOC_BYTES. A request above it (a shape from a bad header or a typo in an input
// shape) is an Error naming the shape, not an attempt that swaps, gets OOM-killed or hangs.
#pragma once

#include <cstddef>

#include "nabla/tensor.hpp"

namespace nabla::core {

// The most bytes one allocation may take; Error when NABLA_MAX_ALLOC_BYTES is set but is not a
// byte count in [1, kMaxAllocationLimit].
size_t allocation_limit();
// No limit may exceed 2^62 bytes: size classes round up by at most a quarter, and must stay
// representable.
constexpr size_t kMaxAllocationLimit = size_t{1} << 62;

// `nbytes` for a contiguous tensor of `shape` and `dtype` (which name the request in errors).
void* allocate(size_t nbytes, const Shape& shape, DType dtype);
void deallocate(void* ptr, size_t nbytes);

// The block size `nbytes` is rounded up to (exposed for tests); nbytes <= kMaxAllocationLimit.
size_t size_class(size_t nbytes);

}  // namespace nabla::core
