#include "core/allocator.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/checked_size.hpp"
#include "nabla/tensor.hpp"

namespace nabla {
namespace {

constexpr size_t kAlignment = 64;
// Blocks this large are cached only once their size class recurs: a block freed in a class not
// requested since an earlier free went back to the system goes back too. A whole data set freed
// once (a 47 MB byte copy of Fashion-MNIST) is not kept resident for the life of the process,
// while a training step's large activations (88 MB for a 32-channel 26x26 map at batch 1024) are
// cached from the second step on. Returning those to the system every step cost the page faults
// of fresh memory each time: the bench CNN at batch 1024 ran 9x slower per image than at 512.
constexpr size_t kLargeBlock = size_t{16} << 20;

constexpr const char* kLimitVariable = "NABLA_MAX_ALLOC_BYTES";

size_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_bytes = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_bytes <= 0) return core::kMaxAllocationLimit;
  return std::min(static_cast<size_t>(pages) * static_cast<size_t>(page_bytes),
                  core::kMaxAllocationLimit);
}

// The limit from NABLA_MAX_ALLOC_BYTES, 0 when unset; Error when it is not a byte count.
size_t limit_from_environment() {
  const char* text = std::getenv(kLimitVariable);
  if (text == nullptr) return 0;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  const bool digits_only = *text >= '0' && *text <= '9' && end != text && *end == '\0';
  NABLA_CHECK(digits_only && errno == 0 && value >= 1 && value <= core::kMaxAllocationLimit,
              kLimitVariable, "=", text, ": expected a byte count from 1 to ",
              core::kMaxAllocationLimit);
  return static_cast<size_t>(value);
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  // Large size classes (kLargeBlock and up) that were once freed to the system: true once the
  // class was requested again after that, and its blocks are cached from then on.
  std::unordered_map<size_t, bool> large_class_recurs;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

}  // namespace

namespace core {

// Size classes: multiples of 64 bytes up to 4 KiB, then four classes per power of two, so that
// a cached block wastes at most a quarter of its size. The power of two comes from bit_floor
// rather than a doubling loop, which never ended above 2^63 bytes.
size_t size_class(size_t nbytes) {
  if (nbytes <= 4096) return (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  const size_t quarter = std::bit_floor(nbytes - 1) / 4;
  return (nbytes + quarter - 1) / quarter * quarter;
}

size_t allocation_limit() {
  // Read once: the environment does not change under a running process, and allocate() is hot.
  static const size_t from_environment = limit_from_environment();
  static const size_t physical = physical_memory();
  return from_environment != 0 ? from_environment : physical;
}

void* allocate(size_t nbytes, const Shape& shape, DType dtype) {
  const size_t limit = allocation_limit();
  if (nbytes > limit) {
    const bool from_environment = std::getenv(kLimitVariable) != nullptr;
    detail::throw_error(detail::str(
        "tensor of shape ", shape, " (", dtype_name(dtype), ") needs ", nbytes, " bytes (",
        readable_bytes(nbytes), "), above the allocation limit of ", limit, " bytes (",
        readable_bytes(limit), from_environment ? ", from " : ", the physical memory; ",
        kLimitVariable, from_environment ? ")" : " raises it)"));
  }
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stats.allocations++;
    c.stats.bytes_in_use += cls;
    if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use)
      c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
    if (cls >= kLargeBlock) {
      auto seen = c.large_class_recurs.find(cls);
      if (seen != c.large_class_recurs.end()) seen->second = true;
    }
    auto it = c.free_blocks.find(cls);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= cls;
      return p;
    }
    c.stats.system_allocations++;
  }
  void* p = std::aligned_alloc(kAlignment, cls);
  if (p == nullptr) {
    empty_cache();
    p = std::aligned_alloc(kAlignment, cls);
  }
  NABLA_CHECK(p != nullptr, "allocator: out of memory allocating ", nbytes, " bytes");
  return p;
}

void deallocate(void* ptr, size_t nbytes) {
  if (ptr == nullptr) return;
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.bytes_in_use -= cls;
  if (cls >= kLargeBlock) {
    const auto [seen, first_free] = c.large_class_recurs.try_emplace(cls, false);
    if (first_free || !seen->second) {
      std::free(ptr);
      return;
    }
  }
  c.stats.bytes_cached += cls;
  c.free_blocks[cls].push_back(ptr);
}

}  // namespace core

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [cls, blocks] : c.free_blocks) {
    for (void* p : blocks) std::free(p);
    c.stats.bytes_cached -= cls * blocks.size();
    blocks.clear();
  }
}

}  // namespace nabla
