#include "core/allocator.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla {
namespace {

constexpr size_t kAlignment = 64;
// Blocks this large (whole data sets, not a training step's tensors) go back to the system when
// freed: caching them would keep a freed data set resident for the life of the process.
constexpr size_t kLargestCachedBlock = size_t{64} << 20;

// Size classes: multiples of 64 bytes up to 4 KiB, then four classes per power of two, so that
// a cached block wastes at most a quarter of its size.
size_t size_class(size_t nbytes) {
  if (nbytes <= 4096) return (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  size_t power = 4096;
  while (power * 2 < nbytes) power *= 2;
  size_t quarter = power / 4;
  return (nbytes + quarter - 1) / quarter * quarter;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

}  // namespace

namespace core {

void* allocate(size_t nbytes) {
  size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
  Cache& c = cache();
  if (cls >= kLargestCachedBlock) {
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      c.stats.allocations++;
      c.stats.system_allocations++;
      c.stats.bytes_in_use += cls;
      c.stats.peak_bytes_in_use = std::max(c.stats.peak_bytes_in_use, c.stats.bytes_in_use);
    }
    void* p = std::aligned_alloc(kAlignment, cls);
    NABLA_CHECK(p != nullptr, "allocator: out of memory allocating ", nbytes, " bytes");
    return p;
  }
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stats.allocations++;
    c.stats.bytes_in_use += cls;
    if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use)
      c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
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
  if (cls >= kLargestCachedBlock) {
    std::free(ptr);
    return;
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
