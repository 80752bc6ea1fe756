// Flush-to-zero and denormals-are-zero: the SSE control register (MXCSR) bits that make x86 treat
// denormal floats as 0. The register is per thread, so the mode is set on the calling thread and
// on each thread of the OpenMP pool (libgomp keeps its threads, and threads it starts later copy
// the register of the thread that starts them).
#include <omp.h>

#include "nabla/tensor.hpp"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace nabla {

#if defined(__SSE__)
namespace {
constexpr unsigned kFlushBits = 0x8040;  // MXCSR bit 15 (flush to zero), bit 6 (DAZ)

void set_this_thread(bool on) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(on ? csr | kFlushBits : csr & ~kFlushBits);
}
}  // namespace

bool set_flush_denormal(bool on) {
  set_this_thread(on);
#pragma omp parallel num_threads(get_num_threads())
  set_this_thread(on);
  return true;
}

bool flush_denormal() { return (_mm_getcsr() & kFlushBits) == kFlushBits; }
#else
bool set_flush_denormal(bool) { return false; }
bool flush_denormal() { return false; }
#endif

FlushDenormalGuard::FlushDenormalGuard() : previous_(flush_denormal()) {
  if (!previous_) set_flush_denormal(true);
}
FlushDenormalGuard::~FlushDenormalGuard() {
  if (!previous_) set_flush_denormal(false);
}

}  // namespace nabla
