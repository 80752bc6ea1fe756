// Data-parallel training in C++ (docs/distributed.md): the classic MLP on Fashion-MNIST, each
// process training on its part of every batch, the gradients averaged across processes.
//   mpirun -np 2 build/examples/data_parallel        # two processes on this machine
//   build/examples/data_parallel                     # one process works too
#include <iostream>
#include <optional>

#include "nabla/nabla.hpp"

using namespace nabla;

int main() {
  // Started by mpirun, every process runs this program. MPI lives as long as `mpi`; an exception
  // that escapes main aborts the whole job instead of leaving the other ranks waiting for it.
  // (A build without MPI trains in this one process.)
  std::optional<dist::Environment> mpi;
  if (dist::built_with_mpi()) mpi.emplace();
  try {
    // Every rank loads all the data; fit gives each its part of each batch.
    const data::MnistData data = data::load_fashion_mnist("", /*raw=*/true);
    manual_seed(0);  // every rank builds the same model; fit broadcasts rank 0's weights anyway
    train::Model model({layers::Rescaling(1.0 / 255), layers::Flatten(), layers::Dense(128, "relu"),
                        layers::Dense(10, "softmax")});
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    // Callbacks that write act on rank 0 only, and keep their state on every rank.
    const std::vector<train::CallbackPtr> callbacks = {
        dist::rank_zero_only(std::make_shared<train::CSVLogger>("data_parallel_metrics.csv"))};
    model.fit(data.train_images, data.train_labels,
              {.epochs = 3,
               .batch_size = 32,  // per process: a step trains on 32 x processes samples
               .verbose = dist::rank() == 0 ? 1 : 0,
               .callbacks = callbacks,
               .strategy = std::make_shared<dist::DataParallel>()});
    const train::EvaluationReport report =
        model.evaluate(data.test_images, data.test_labels, 256, 0);
    if (dist::rank() == 0) {
      std::cout << "Test accuracy on " << dist::size() << " process(es): " << report["accuracy"]
                << "\n";
      model.save("data_parallel.safetensors");
    }
  } catch (const std::exception& e) {
    dist::abort(1, "data_parallel: rank " + std::to_string(dist::rank()) + ": " + e.what());
  }
  return 0;
}
