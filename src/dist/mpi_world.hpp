// The MPI communicator and lock behind nabla::dist, for the files that speak MPI themselves (the
// parameter server's messages). MPI builds only.
#pragma once

#include <mpi.h>

#include <mutex>

namespace nabla::dist::internal {

// nabla's communicator over every process of the job (MPI_COMM_WORLD's duplicate).
MPI_Comm world_comm();
// Held around every MPI call: MPI_THREAD_SERIALIZED allows one thread inside MPI at a time.
std::mutex& mpi_lock();
// Error naming the rank and MPI's message when `code` is not MPI_SUCCESS.
void check_mpi(int code, const char* what);

}  // namespace nabla::dist::internal
