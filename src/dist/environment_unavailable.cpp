// nabla::dist in a build without MPI: one process, whose collectives change nothing.
#include <cstdio>
#include <cstdlib>

#include "dist/communicator.hpp"
#include "nabla/dist.hpp"

namespace nabla::dist {

bool built_with_mpi() { return false; }

Environment::Environment() {
  NABLA_CHECK(false, "dist::Environment: this nabla was built without MPI; install Open MPI ",
              "(apt-get install libopenmpi-dev openmpi-bin) and build it again");
}

Environment::~Environment() = default;

int rank() { return 0; }
int size() { return 1; }
int local_size() { return 1; }
bool is_initialized() { return false; }
void barrier() {}

void abort(int code, const std::string& message) {
  if (!message.empty()) std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stdout);
  std::_Exit(code);
}

namespace internal {
void all_reduce_sum(float* /*data*/, int64_t /*count*/) {}
void all_reduce_sum(double* /*data*/, int64_t /*count*/) {}
void all_reduce_sum(int64_t* /*data*/, int64_t /*count*/) {}
void broadcast(void* /*data*/, int64_t /*bytes*/, int /*root*/) {}
}  // namespace internal

}  // namespace nabla::dist
