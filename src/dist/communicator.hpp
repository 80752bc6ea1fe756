// The raw collectives under nabla::dist's, shared by the MPI build (environment.cpp) and the
// single-process one (environment_unavailable.cpp). Every call may come from any thread: the MPI
// build serializes them (MPI_THREAD_SERIALIZED), so the data-parallel communication thread and the
// training thread never enter MPI at once.
#pragma once

#include <cstdint>

namespace nabla::dist::internal {

// In place, element-wise sums across ranks; identity in a single process.
void all_reduce_sum(float* data, int64_t count);
void all_reduce_sum(double* data, int64_t count);
void all_reduce_sum(int64_t* data, int64_t count);
// `bytes` bytes at `data` take rank `root`'s values.
void broadcast(void* data, int64_t bytes, int root);

}  // namespace nabla::dist::internal
