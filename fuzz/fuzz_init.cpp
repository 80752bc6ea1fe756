// Linked into every fuzz target: runs once before the first input.
#include <cstdlib>

// Tensor allocations above 256 MiB raise nabla::Error: a header may ask for any size, and the
// library's own limit (the physical memory by default) is above libFuzzer's 2 GiB malloc limit,
// which would report such a request as a crash rather than let nabla refuse it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("NABLA_MAX_ALLOC_BYTES", "268435456", 1);
  return 0;
}
