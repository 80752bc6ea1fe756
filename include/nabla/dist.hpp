// Training across processes and machines over MPI (Open MPI from Debian; run under `mpirun` or
// SLURM's `srun`). nabla brings no network layer of its own: processes find each other, and
// messages travel, through MPI.
//
// Data parallelism (dist::DataParallel, as PyTorch's DistributedDataParallel and Horovod): every
// process holds the whole model, trains on its part of each batch, and the gradients are averaged
// across processes by all-reduce before every update, so all replicas take the same step. The
// gradients travel in buckets, each reduced on a communication thread as soon as backward has
// finished its gradients, while backward goes on with the rest.
//
// Built when CMake finds MPI (NABLA_WITH_MPI); without it, dist::built_with_mpi() is false, a
// single process works as always, and asking for more processes is an Error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"
#include "nabla/train.hpp"

namespace nabla::dist {

// Whether this build has MPI.
bool built_with_mpi();
// Whether this process was started by an MPI launcher (mpirun/mpiexec, or srun with PMI/PMIx):
// its environment names a world of processes.
bool launched_by_mpi();

// The process group: MPI initialized for the lifetime of this object (one per process, before
// any other call here), with a communicator of nabla's own. Destroyed while an exception unwinds
// the stack (one rank failed), it aborts every process of the job instead of leaving the others
// waiting for messages that never come.
class Environment {
 public:
  Environment();
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
};

// This process's rank and the number of processes: 0 and 1 without an Environment.
int rank();
int size();
// Processes of the job on this machine (for the default thread count): 1 without MPI.
int local_size();
bool is_initialized();

// Collectives over every process of the group (each must call them in the same order).
void barrier();
// `tensor` (contiguous, f32/f64/i64) takes rank `root`'s values on every rank.
void broadcast(Tensor& tensor, int root = 0);
// Every parameter and buffer of `module` takes rank `root`'s values (Horovod's
// broadcast_parameters): replicas built from different seeds, or a checkpoint found on one
// machine only, start the same.
void broadcast(nn::Module& module, int root = 0);
// In place: element-wise sums across ranks.
void all_reduce_sum(Tensor& tensor);
void all_reduce_sum(std::vector<double>& values);
// Ends every process of the job now with `code`, after printing `message` (if any) on this
// rank's stderr. For a rank that cannot go on: the others would wait for it forever.
[[noreturn]] void abort(int code, const std::string& message = "");

// ---- data parallelism ----
struct DataParallelOptions {
  // Gradients are reduced in buckets of about this many bytes, built in the reverse order of the
  // parameters (the order backward finishes them). Smaller buckets start earlier and overlap
  // more of backward, larger ones make fewer messages.
  int64_t bucket_bytes = 256 * 1024;
  // Reduce each bucket while backward goes on (true), or all of them once backward is done.
  bool overlap = true;
};

// Time spent communicating, for the scaling benchmark.
struct DataParallelStats {
  int64_t steps = 0;
  int64_t buckets = 0;           // buckets reduced
  int64_t bytes = 0;             // gradient bytes all-reduced by this rank
  double reduce_seconds = 0;     // inside MPI_Allreduce on the communication thread
  double wait_seconds = 0;       // the training thread waiting for reductions after backward
  double broadcast_seconds = 0;  // initial weights
};

// train::FitOptions::strategy for data-parallel fit over the Environment's processes:
//   dist::Environment mpi;
//   model.fit(x, y, {.batch_size = 32, .strategy = std::make_shared<dist::DataParallel>()});
// With N processes and batch_size B, each step's update is the one a single process makes with
// batch N*B (to float rounding). f32 parameters only.
class DataParallel : public train::DistributedStrategy {
 public:
  explicit DataParallel(DataParallelOptions options = {});
  ~DataParallel() override;

  int rank() const override;
  int size() const override;
  void begin_training(nn::Module& module, optim::Optimizer& optimizer) override;
  void begin_step(double share) override;
  void update(optim::Optimizer& optimizer) override;
  void synchronize_buffers(nn::Module& module) override;
  void end_training() override;
  void sum(std::vector<double>& values) override;

  const DataParallelStats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- parameter server ----
struct ParameterServerOptions {
  // The last `servers` ranks hold the parameters, split between them by size, and apply the
  // optimizer; the others (the workers) train. At least one of each.
  int servers = 1;
  // 0: synchronous (each step's update is the sum of every worker's gradient, as all-reduce
  // gives). k > 0: asynchronous, each worker's gradient applied as it arrives, and a worker waits
  // only when it is more than k steps ahead of the slowest.
  int64_t staleness = 0;
};

struct ParameterServerStats {
  int64_t steps = 0;            // workers: pushes made
  double exchange_seconds = 0;  // workers: pushing gradients and pulling weights
  int64_t updates = 0;          // servers: optimizer steps applied
  int64_t max_staleness = 0;    // servers: most updates a gradient's weights were behind
  int64_t deferred = 0;         // servers: replies held back by the staleness bound
};

// train::FitOptions::strategy for the parameter-server design (Li et al., OSDI 2014; distributed
// TensorFlow's): workers push their gradients to the servers holding each parameter and pull the
// updated weights; the servers run the optimizer. Every rank calls the same fit: on a server rank
// it serves until the workers are done. rank() and size() count the workers. The workers end
// with the servers' final weights. The optimizer's moments live on the servers: a resumed run
// restarts them.
class ParameterServer : public train::DistributedStrategy {
 public:
  explicit ParameterServer(ParameterServerOptions options = {});
  ~ParameterServer() override;

  int rank() const override;
  int size() const override;
  bool trains() const override;
  void begin_training(nn::Module& module, optim::Optimizer& optimizer) override;
  void begin_step(double share) override;
  void update(optim::Optimizer& optimizer) override;
  void synchronize_buffers(nn::Module& module) override;
  void end_training() override;
  void sum(std::vector<double>& values) override;
  void serve(nn::Module& module, optim::Optimizer& optimizer) override;

  const ParameterServerStats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A callback that acts on rank 0 only (writing checkpoints, logs, event files, a progress
// report), and whose state still travels with checkpoints on every rank.
train::CallbackPtr rank_zero_only(train::CallbackPtr callback);

}  // namespace nabla::dist
