// Data-parallel scaling, run under `mpirun -np P` by bench/dist/scaling.py: a preset (mlp, cnn)
// trained data-parallel with dist::DataParallel on Fashion-MNIST, batch B per process, for two
// epochs of `steps` steps each; the second is timed. Rank 0 prints one JSON object: samples per
// second over all processes, the step time, and the shares of it spent waiting for gradient
// reductions after backward (what overlap could not hide) and inside the all-reduce on the
// communication thread (all the communication, hidden or not), with the bytes reduced per step.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "nabla/dist.hpp"
#include "nabla/io.hpp"
#include "nabla/nabla.hpp"

using namespace nabla;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model = "mlp";
  int64_t batch = 32;  // per process
  int64_t steps = 200;
  int threads = 1;
  bool overlap = true;
  int64_t bucket_bytes = dist::DataParallelOptions{}.bucket_bytes;
  std::string strategy = "allreduce";  // or parameter-server (the last rank serves)
  int64_t staleness = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model")
      o.model = value;
    else if (flag == "--batch")
      o.batch = std::stoll(value);
    else if (flag == "--steps")
      o.steps = std::stoll(value);
    else if (flag == "--threads")
      o.threads = std::stoi(value);
    else if (flag == "--overlap")
      o.overlap = value == "1";
    else if (flag == "--bucket-bytes")
      o.bucket_bytes = std::stoll(value);
    else if (flag == "--strategy")
      o.strategy = value;
    else if (flag == "--staleness")
      o.staleness = std::stoll(value);
    else
      throw Error("nabla_dist_scaling: unknown flag " + flag);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment mpi;
  try {
    const Options o = parse(argc, argv);
    set_num_threads(o.threads);
    const data::MnistData data = data::load_fashion_mnist("", /*raw=*/true);
    io::ModelSpec spec = io::resolve_model_spec(o.model);
    manual_seed(0);
    train::Model model(io::build_model(spec), spec.name);
    model.build(spec.input_shape.empty() ? Shape{1, 28, 28} : spec.input_shape);
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    // All-reduce: the shares of the step spent waiting for reductions after backward and inside
    // MPI_Allreduce. Parameter server (workers = all ranks but the last): the share spent pushing
    // gradients and pulling weights.
    std::shared_ptr<dist::DataParallel> all_reduce;
    std::shared_ptr<dist::ParameterServer> server;
    train::DistributedStrategyPtr strategy;
    if (o.strategy == "parameter-server") {
      server = std::make_shared<dist::ParameterServer>(
          dist::ParameterServerOptions{.servers = 1, .staleness = o.staleness});
      strategy = server;
    } else {
      all_reduce = std::make_shared<dist::DataParallel>(
          dist::DataParallelOptions{.bucket_bytes = o.bucket_bytes, .overlap = o.overlap});
      strategy = all_reduce;
    }
    const int64_t workers = strategy->size();
    const int64_t samples = o.steps * o.batch * workers;
    const Tensor images = data.train_images.slice(0, 0, samples);
    const Tensor y = data.train_labels.slice(0, 0, samples);
    const Tensor inputs = spec.input_shape.size() == 2 ? images : images.unsqueeze(1);
    Clock::time_point epoch_start;
    dist::DataParallelStats before;
    double exchange_before = 0, seconds = 0;
    int64_t steps_before = 0;
    auto timer = std::make_shared<train::LambdaCallback>(train::LambdaCallbackFunctions{
        .on_epoch_begin =
            [&](int64_t) {
              if (all_reduce) before = all_reduce->stats();
              if (server) {
                exchange_before = server->stats().exchange_seconds;
                steps_before = server->stats().steps;
              }
              epoch_start = Clock::now();
            },
        .on_epoch_end =
            [&](int64_t, train::Logs&) {
              seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
            }});
    model.fit(inputs, y,
              {.epochs = 2,
               .batch_size = o.batch,
               .verbose = 0,
               .callbacks = {timer},
               .strategy = strategy});
    if (dist::rank() == 0) {
      double steps = 0, wait = 0, reduce = 0;
      long long bytes = 0;
      if (all_reduce) {
        const dist::DataParallelStats& after = all_reduce->stats();
        steps = static_cast<double>(after.steps - before.steps);
        wait = after.wait_seconds - before.wait_seconds;
        reduce = after.reduce_seconds - before.reduce_seconds;
        bytes = static_cast<long long>((after.bytes - before.bytes) / static_cast<int64_t>(steps));
      } else {
        steps = static_cast<double>(server->stats().steps - steps_before);
        wait = server->stats().exchange_seconds - exchange_before;
      }
      std::printf(
          "{\"model\": \"%s\", \"strategy\": \"%s\", \"processes\": %d, \"workers\": %lld, "
          "\"threads\": %d, \"batch_per_process\": %lld, \"overlap\": %s, \"staleness\": %lld, "
          "\"samples_per_s\": %.1f, \"step_ms\": %.3f, \"wait_share\": %.4f, "
          "\"reduce_share\": %.4f, \"bytes_per_step\": %lld}\n",
          o.model.c_str(), o.strategy.c_str(), dist::size(), static_cast<long long>(workers),
          o.threads, static_cast<long long>(o.batch), o.overlap ? "true" : "false",
          static_cast<long long>(o.staleness),
          steps * static_cast<double>(o.batch * workers) / seconds, seconds / steps * 1e3,
          wait / seconds, reduce / seconds, bytes);
    }
  } catch (const std::exception& e) {
    dist::abort(1, std::string("nabla_dist_scaling: rank ") + std::to_string(dist::rank()) + ": " +
                       e.what());
  }
  return 0;
}
