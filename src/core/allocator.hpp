// The caching allocator: 64-byte-aligned blocks, kept on free lists by size class after use so
// that a warmed-up training step obtains no memory from the system.
#pragma once

#include <cstddef>

namespace nabla::core {

void* allocate(size_t nbytes);
void deallocate(void* ptr, size_t nbytes);

}  // namespace nabla::core
