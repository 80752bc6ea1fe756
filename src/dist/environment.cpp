// The MPI process group behind nabla::dist (built when CMake finds MPI).
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <exception>
#include <mutex>

#include "dist/communicator.hpp"
#include "dist/mpi_world.hpp"
#include "nabla/dist.hpp"

namespace nabla::dist {
namespace {

struct World {
  bool initialized = false;
  MPI_Comm comm = MPI_COMM_NULL;  // nabla's own: a user's messages never meet ours
  int rank = 0;
  int size = 1;
  int local_size = 1;
};

World& world() {
  static World w;
  return w;
}

using internal::check_mpi;
using internal::mpi_lock;

const World& initialized_world(const char* what) {
  const World& w = world();
  NABLA_CHECK(w.initialized, "dist::", what, ": no dist::Environment exists in this process");
  return w;
}

// MPI counts are ints: larger buffers go in pieces.
template <class T, class Call>
void in_pieces(T* data, int64_t count, Call call) {
  constexpr int64_t kPiece = INT_MAX / 2;
  for (int64_t at = 0; at < count; at += kPiece) {
    call(data + at, static_cast<int>(std::min(kPiece, count - at)));
  }
}

template <class T>
void sum_in_place(T* data, int64_t count, MPI_Datatype type) {
  const World& w = world();
  if (!w.initialized || w.size == 1 || count == 0) return;
  const std::lock_guard<std::mutex> lock(mpi_lock());
  in_pieces(data, count, [&](T* piece, int n) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, piece, n, type, MPI_SUM, w.comm), "all-reduce");
  });
}

}  // namespace

bool built_with_mpi() { return true; }

Environment::Environment() {
  World& w = world();
  NABLA_CHECK(!w.initialized, "dist::Environment: one exists already in this process");
  int already = 0;
  MPI_Initialized(&already);
  NABLA_CHECK(!already, "dist::Environment: MPI was initialized elsewhere in this process");
  int provided = 0;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Abort(MPI_COMM_WORLD, 1);  // nothing below can run safely; the launcher reports it
  }
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &w.comm), "MPI_Comm_dup");
  // Errors come back as codes, which check_mpi turns into an Error naming the rank.
  MPI_Comm_set_errhandler(w.comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(w.comm, &w.rank);
  MPI_Comm_size(w.comm, &w.size);
  MPI_Comm local = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(w.comm, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &local),
            "MPI_Comm_split_type");
  MPI_Comm_size(local, &w.local_size);
  MPI_Comm_free(&local);
  w.initialized = true;
}

Environment::~Environment() {
  World& w = world();
  if (std::uncaught_exceptions() > 0 && w.size > 1) {
    // This rank is failing: the others are (or soon will be) waiting for its messages.
    std::fputs("nabla: a rank failed; aborting every process of the job\n", stderr);
    MPI_Abort(w.comm, 1);
  }
  MPI_Comm_free(&w.comm);
  MPI_Finalize();
  w = World{};
}

int rank() { return world().rank; }
int size() { return world().size; }
int local_size() { return world().local_size; }
bool is_initialized() { return world().initialized; }

void barrier() {
  const World& w = initialized_world("barrier");
  const std::lock_guard<std::mutex> lock(mpi_lock());
  check_mpi(MPI_Barrier(w.comm), "barrier");
}

void abort(int code, const std::string& message) {
  if (!message.empty()) {
    std::fputs(message.c_str(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  std::fflush(stdout);
  const World& w = world();
  if (w.initialized) MPI_Abort(w.comm, code);
  std::_Exit(code);
}

namespace internal {

MPI_Comm world_comm() { return world().comm; }

// MPI_THREAD_SERIALIZED promises MPI that no two threads are inside it at once; this lock keeps
// the promise between the communication thread and the training thread.
std::mutex& mpi_lock() {
  static std::mutex m;
  return m;
}

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  NABLA_CHECK(false, "dist: ", what, " failed on rank ", world().rank, ": ",
              std::string(text, static_cast<size_t>(length)));
}

void all_reduce_sum(float* data, int64_t count) { sum_in_place(data, count, MPI_FLOAT); }
void all_reduce_sum(double* data, int64_t count) { sum_in_place(data, count, MPI_DOUBLE); }
void all_reduce_sum(int64_t* data, int64_t count) { sum_in_place(data, count, MPI_INT64_T); }

void broadcast(void* data, int64_t bytes, int root) {
  const World& w = world();
  if (!w.initialized || w.size == 1 || bytes == 0) return;
  const std::lock_guard<std::mutex> lock(mpi_lock());
  in_pieces(static_cast<char*>(data), bytes, [&](char* piece, int n) {
    check_mpi(MPI_Bcast(piece, n, MPI_BYTE, root, w.comm), "broadcast");
  });
}

}  // namespace internal
}  // namespace nabla::dist
