// The parameter-server strategy over MPI point-to-point messages. The last `servers` ranks each
// hold a shard of the parameters (whole tensors, split by size) in their own copy of the model,
// and run the model's optimizer on that shard; the workers, ranks 0..W-1, train.
//
// A worker's step: to every server, a header {step, share, lr} (tag kHeader) and the shard's
// gradients followed by one flag per parameter (1: this worker has its gradient; tag kGradients);
// then from every server the shard's new weights (tag kWeights). MPI keeps the messages of one
// sender and tag in order, so a server reads a header from any worker, then that worker's
// gradients. When its fit ends, a worker sends a header with step -1 and receives the final
// weights (tag kFinal), so that every worker ends with the servers' weights.
//
// Synchronous (staleness 0): a server waits for one push from every worker, sums the gradients
// weighted by the workers' shares (the step's mean, as all-reduce gives), steps once, and answers
// them all. Asynchronous (staleness k): each push is applied on its own as it comes (the worker's
// mean gradient, with the worker's learning rate), and its answer is held back while the worker
// is more than k steps ahead of the slowest worker still training.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "dist/mpi_world.hpp"
#include "nabla/dist.hpp"

namespace nabla::dist {
namespace {

constexpr int kHeader = 101, kGradients = 102, kWeights = 103, kFinal = 104;
constexpr double kDone = -1;

using PsClock = std::chrono::steady_clock;

}  // namespace

struct ParameterServer::State {
  ParameterServerOptions options;
  ParameterServerStats stats;
  int world_rank = 0, world_size = 1, workers = 1;
  MPI_Comm group = MPI_COMM_NULL;  // the workers among themselves, or the servers
  std::vector<Tensor> params;
  std::vector<std::vector<size_t>> shards;  // per server: indices into params
  std::vector<int64_t> shard_numel;
  double share = 1;
  int64_t step = 0;
  bool training = false;

  bool is_server() const { return world_rank >= workers; }
  int server_rank(size_t server) const { return workers + static_cast<int>(server); }

  // The shard's gradients (zeros where undefined) and one flag per parameter.
  std::vector<float> pack_gradients(size_t server) const {
    std::vector<float> out(static_cast<size_t>(shard_numel[server]) + shards[server].size(), 0.0F);
    size_t at = 0;
    for (size_t k = 0; k < shards[server].size(); ++k) {
      const Tensor& param = params[shards[server][k]];
      const Tensor grad = param.grad();
      NABLA_CHECK(!grad.is_row_sparse(), "ParameterServer: parameter ", shards[server][k],
                  " has a row-sparse gradient (an Embedding with sparse=true, or "
                  "sampled_softmax_loss); the parameter server takes dense gradients: use "
                  "sparse=false");
      if (grad.defined()) {
        NABLA_CHECK(grad.dtype() == DType::f32 && grad.is_contiguous(),
                    "ParameterServer: expected a contiguous f32 gradient");
        std::memcpy(out.data() + at, grad.data<float>(), param.numel() * sizeof(float));
        out[static_cast<size_t>(shard_numel[server]) + k] = 1;
      }
      at += static_cast<size_t>(param.numel());
    }
    return out;
  }

  std::vector<float> pack_weights(size_t server) const {
    std::vector<float> out(static_cast<size_t>(shard_numel[server]));
    size_t at = 0;
    for (size_t j : shards[server]) {
      const Tensor data = params[j].detach();
      std::memcpy(out.data() + at, data.data<float>(), data.numel() * sizeof(float));
      at += static_cast<size_t>(data.numel());
    }
    return out;
  }

  void unpack_weights(size_t server, const std::vector<float>& values) {
    size_t at = 0;
    for (size_t j : shards[server]) {
      Tensor data = params[j].detach();
      std::memcpy(data.data<float>(), values.data() + at, data.numel() * sizeof(float));
      at += static_cast<size_t>(data.numel());
    }
  }

  void send(const void* data, int64_t count, MPI_Datatype type, int to, int tag) const {
    const std::lock_guard<std::mutex> lock(internal::mpi_lock());
    internal::check_mpi(
        MPI_Send(data, static_cast<int>(count), type, to, tag, internal::world_comm()),
        "parameter server send");
  }
  // Returns the sender.
  int receive(void* data, int64_t count, MPI_Datatype type, int from, int tag) const {
    const std::lock_guard<std::mutex> lock(internal::mpi_lock());
    MPI_Status status;
    internal::check_mpi(
        MPI_Recv(data, static_cast<int>(count), type, from, tag, internal::world_comm(), &status),
        "parameter server receive");
    return status.MPI_SOURCE;
  }
};

ParameterServer::ParameterServer(ParameterServerOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = options;
  s.world_rank = dist::rank();
  s.world_size = dist::size();
  NABLA_CHECK(s.world_size >= 2, "ParameterServer: needs at least 2 processes (a worker and a ",
              "server), this job has ", s.world_size, "; start it with mpirun -np N");
  NABLA_CHECK(options.servers >= 1 && options.servers < s.world_size, "ParameterServer: servers ",
              "must lie in [1, ", s.world_size - 1, "] for ", s.world_size,
              " processes (at least one worker), got ", options.servers);
  NABLA_CHECK(options.staleness >= 0, "ParameterServer: staleness must be >= 0, got ",
              options.staleness);
  s.workers = s.world_size - options.servers;
}

ParameterServer::~ParameterServer() {
  State& s = *state_;
  if (s.group != MPI_COMM_NULL && dist::is_initialized()) {
    const std::lock_guard<std::mutex> lock(internal::mpi_lock());
    MPI_Comm_free(&s.group);
  }
}

int ParameterServer::rank() const { return state_->world_rank; }
int ParameterServer::size() const { return state_->workers; }
bool ParameterServer::trains() const { return !state_->is_server(); }
const ParameterServerStats& ParameterServer::stats() const { return state_->stats; }

void ParameterServer::begin_training(nn::Module& module, optim::Optimizer& optimizer) {
  State& s = *state_;
  NABLA_CHECK(!s.training, "ParameterServer: already attached to a fit that has not ended");
  for (const auto& [name, param] : module.named_parameters()) {
    NABLA_CHECK(param.dtype() == DType::f32, "ParameterServer: parameter '", name, "' is ",
                param.dtype(), "; the parameter server takes f32 parameters");
  }
  // Rank 0's initial values everywhere, servers included.
  broadcast(module, 0);
  if (s.group == MPI_COMM_NULL) {
    const std::lock_guard<std::mutex> lock(internal::mpi_lock());
    internal::check_mpi(
        MPI_Comm_split(internal::world_comm(), s.is_server() ? 1 : 0, s.world_rank, &s.group),
        "MPI_Comm_split");
  }
  // Each parameter to the server holding the fewest values so far: the same on every rank.
  s.params = optimizer.parameters();
  s.shards.assign(static_cast<size_t>(s.options.servers), {});
  s.shard_numel.assign(static_cast<size_t>(s.options.servers), 0);
  for (size_t j = 0; j < s.params.size(); ++j) {
    size_t least = 0;
    for (size_t k = 1; k < s.shards.size(); ++k) {
      if (s.shard_numel[k] < s.shard_numel[least]) least = k;
    }
    s.shards[least].push_back(j);
    s.shard_numel[least] += s.params[j].numel();
  }
  s.step = 0;
  s.training = true;
}

void ParameterServer::begin_step(double share) {
  NABLA_CHECK(share >= 0 && share <= 1, "ParameterServer: a worker's share of a step lies in ",
              "[0, 1], got ", share);
  state_->share = share;
}

void ParameterServer::update(optim::Optimizer& optimizer) {
  State& s = *state_;
  NABLA_CHECK(s.training && !s.is_server(), "ParameterServer::update: no fit is training here");
  const auto start = PsClock::now();
  const double header[3] = {static_cast<double>(s.step), s.share, optimizer.lr()};
  for (size_t server = 0; server < s.shards.size(); ++server) {
    const std::vector<float> gradients = s.pack_gradients(server);
    s.send(header, 3, MPI_DOUBLE, s.server_rank(server), kHeader);
    s.send(gradients.data(), static_cast<int64_t>(gradients.size()), MPI_FLOAT,
           s.server_rank(server), kGradients);
  }
  for (size_t server = 0; server < s.shards.size(); ++server) {
    std::vector<float> weights(static_cast<size_t>(s.shard_numel[server]));
    s.receive(weights.data(), s.shard_numel[server], MPI_FLOAT, s.server_rank(server), kWeights);
    s.unpack_weights(server, weights);
  }
  ++s.step;
  ++s.stats.steps;
  s.stats.exchange_seconds += std::chrono::duration<double>(PsClock::now() - start).count();
}

void ParameterServer::serve(nn::Module& /*module*/, optim::Optimizer& optimizer) {
  State& s = *state_;
  NABLA_CHECK(s.training && s.is_server(), "ParameterServer::serve: this rank is not a server");
  const size_t server = static_cast<size_t>(s.world_rank - s.workers);
  const std::vector<size_t>& shard = s.shards[server];
  const int64_t numel = s.shard_numel[server];
  const size_t message = static_cast<size_t>(numel) + shard.size();
  const auto workers = static_cast<size_t>(s.workers);
  std::vector<bool> done(workers, false);
  std::vector<int64_t> pushed(workers, 0);    // steps each worker has pushed
  std::vector<int64_t> version(workers, 0);   // updates applied when each last got weights
  std::vector<bool> waiting(workers, false);  // answer held back by the staleness bound
  int64_t updates = 0;
  size_t active = workers;
  std::vector<float> incoming(message), summed(message);

  // The optimizer steps the shard's parameters only: the others keep no gradient here.
  const auto apply = [&](const std::vector<float>& values, double lr) {
    optimizer.zero_grad(true);
    size_t at = 0;
    bool any = false;
    for (size_t k = 0; k < shard.size(); ++k) {
      Tensor& param = s.params[shard[k]];
      if (values[static_cast<size_t>(numel) + k] > 0) {
        Tensor grad = empty(param.shape(), DType::f32);
        std::memcpy(grad.data<float>(), values.data() + at, param.numel() * sizeof(float));
        param.set_grad(grad);
        any = true;
      }
      at += static_cast<size_t>(param.numel());
    }
    if (!any) return;
    optimizer.set_lr(lr);
    optimizer.step();
    ++updates;
    ++s.stats.updates;
  };
  const auto answer = [&](size_t worker, int tag) {
    const std::vector<float> weights = s.pack_weights(server);
    s.send(weights.data(), numel, MPI_FLOAT, static_cast<int>(worker), tag);
    version[worker] = updates;
  };
  // The slowest worker still training: a worker may run `staleness` steps ahead of it.
  const auto slowest = [&]() {
    int64_t least = -1;
    for (size_t w = 0; w < workers; ++w) {
      if (!done[w] && (least < 0 || pushed[w] < least)) least = pushed[w];
    }
    return least;
  };

  while (active > 0) {
    if (s.options.staleness == 0) {
      // One push from every worker still training, then one update for them all.
      std::fill(summed.begin(), summed.end(), 0.0F);
      std::vector<size_t> pushers;
      double lr = optimizer.lr();
      for (size_t received = 0; received < active;) {
        double header[3];
        const auto w =
            static_cast<size_t>(s.receive(header, 3, MPI_DOUBLE, MPI_ANY_SOURCE, kHeader));
        if (header[0] == kDone) {  // every worker makes as many steps: they end together
          done[w] = true;
          --active;
          continue;
        }
        s.receive(incoming.data(), static_cast<int64_t>(message), MPI_FLOAT, static_cast<int>(w),
                  kGradients);
        const auto weight = static_cast<float>(header[1]);
        for (int64_t i = 0; i < numel; ++i) summed[static_cast<size_t>(i)] += weight * incoming[i];
        for (size_t k = 0; k < shard.size(); ++k) {
          summed[static_cast<size_t>(numel) + k] += incoming[static_cast<size_t>(numel) + k];
        }
        lr = header[2];
        pushers.push_back(w);
        ++received;
      }
      if (pushers.empty()) break;
      apply(summed, lr);
      for (size_t w : pushers) answer(w, kWeights);
      continue;
    }
    double header[3];
    const auto w = static_cast<size_t>(s.receive(header, 3, MPI_DOUBLE, MPI_ANY_SOURCE, kHeader));
    if (header[0] == kDone) {
      done[w] = true;
      --active;
    } else {
      s.receive(incoming.data(), static_cast<int64_t>(message), MPI_FLOAT, static_cast<int>(w),
                kGradients);
      s.stats.max_staleness = std::max(s.stats.max_staleness, updates - version[w]);
      if (header[1] > 0) apply(incoming, header[2]);
      ++pushed[w];
      waiting[w] = true;
    }
    // Answer every waiting worker the bound lets go on.
    const int64_t least = slowest();
    for (size_t v = 0; v < workers; ++v) {
      if (!waiting[v]) continue;
      if (least >= 0 && pushed[v] - least > s.options.staleness) {
        ++s.stats.deferred;
        continue;
      }
      waiting[v] = false;
      answer(v, kWeights);
    }
  }
  // Every worker ends with the final weights.
  for (size_t w = 0; w < workers; ++w) answer(w, kFinal);
}

void ParameterServer::synchronize_buffers(nn::Module& module) {
  State& s = *state_;
  if (s.workers == 1) return;
  for (auto& [name, buffer] : module.named_buffers()) {
    Tensor data = buffer.detach();
    if (!is_floating(data.dtype())) continue;
    const std::lock_guard<std::mutex> lock(internal::mpi_lock());
    NABLA_CHECK(data.dtype() == DType::f32 && data.is_contiguous(), "ParameterServer: buffer '",
                name, "' is not a contiguous f32 tensor");
    internal::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data<float>(),
                                      static_cast<int>(data.numel()), MPI_FLOAT, MPI_SUM, s.group),
                        "all-reduce of buffers");
    float* values = data.data<float>();
    for (int64_t i = 0; i < data.numel(); ++i) values[i] /= static_cast<float>(s.workers);
  }
}

void ParameterServer::end_training() {
  State& s = *state_;
  if (!s.training) return;
  s.training = false;
  if (s.is_server()) return;
  // Done: the servers answer with their final weights. Never throws (a destructor may call it);
  // a job whose server is gone is ended by the launcher.
  try {
    const double header[3] = {kDone, 0, 0};
    for (size_t server = 0; server < s.shards.size(); ++server) {
      s.send(header, 3, MPI_DOUBLE, s.server_rank(server), kHeader);
    }
    for (size_t server = 0; server < s.shards.size(); ++server) {
      std::vector<float> weights(static_cast<size_t>(s.shard_numel[server]));
      s.receive(weights.data(), s.shard_numel[server], MPI_FLOAT, s.server_rank(server), kFinal);
      s.unpack_weights(server, weights);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nabla: rank %d: the parameter servers did not answer: %s\n", s.world_rank,
                 e.what());
  }
}

void ParameterServer::sum(std::vector<double>& values) {
  State& s = *state_;
  if (s.workers == 1 || values.empty()) return;
  const std::lock_guard<std::mutex> lock(internal::mpi_lock());
  internal::check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                                    MPI_DOUBLE, MPI_SUM, s.group),
                      "all-reduce among the workers");
}

}  // namespace nabla::dist
