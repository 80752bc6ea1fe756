// SerialScope: for its lifetime, where asked, the calling thread's OpenMP thread count is one.
// oneDNN sizes a primitive's split from omp_get_max_threads() when it is created and runs it with
// as many threads; small products run faster on one (gemm.cpp, gemm_matmul.cpp), and a primitive
// created inside a parallel region, which runs on the calling thread alone, is then planned for
// that one thread rather than for the whole pool.
#pragma once

#include <omp.h>

namespace nabla::kernels::cpu {

class SerialScope {
 public:
  explicit SerialScope(bool serial) : threads_(serial ? omp_get_max_threads() : 0) {
    if (serial) omp_set_num_threads(1);
  }
  ~SerialScope() {
    if (threads_ > 0) omp_set_num_threads(threads_);
  }
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  int threads_;
};

}  // namespace nabla::kernels::cpu
