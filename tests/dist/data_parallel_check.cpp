// Data-parallel training checked against one process, run by CTest under
// `mpirun --oversubscribe -np N`: with N processes and batch B each, the weights after every
// step must equal those of a single process training with batch N*B (to float rounding), and the
// epoch figures must match. Every rank also trains the single-process reference itself, so no
// file passes between them. Exit status 0 only when every check holds on every rank.
//
// Cases: 195 samples, so that the last step's 3 samples leave one of 4 ranks with none; overlap
// on with buckets of one parameter each (every bucket launched from backward's hooks), overlap
// on with the default buckets, overlap off; a model with BatchNormalization, whose running
// statistics must agree across ranks at the end.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "nabla/dist.hpp"
#include "nabla/nabla.hpp"
#include "support/class_samples.hpp"
#include "support/weights.hpp"

using namespace nabla;

namespace {

constexpr int64_t kBatch = 8;  // per process
constexpr int64_t kEpochs = 2;

int failures = 0;

void fail(const std::string& what) {
  std::fprintf(stderr, "rank %d: FAIL: %s\n", dist::rank(), what.c_str());
  ++failures;
}

train::Model make_model(bool batch_norm) {
  manual_seed(5);
  std::vector<nn::ModulePtr> stack = {layers::Dense(16, "relu")};
  if (batch_norm) stack.push_back(layers::BatchNormalization());
  stack.push_back(layers::Dense(12, "tanh"));
  stack.push_back(layers::Dense(3, "softmax"));
  train::Model model(stack);
  model.build({6});
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  return model;
}

struct Trained {
  std::vector<std::vector<float>> steps;  // the weights after each step
  train::History history;
};

Trained train_once(train::Model& model, const testing::ClassSamples& data, int64_t batch,
                   train::DistributedStrategyPtr strategy) {
  Trained out;
  auto record = std::make_shared<train::LambdaCallback>(
      train::LambdaCallbackFunctions{.on_batch_end = [&](int64_t, const train::Logs&) {
        out.steps.push_back(testing::weights_of(model));
      }});
  out.history = model.fit(data.x, data.y,
                          {.epochs = kEpochs,
                           .batch_size = batch,
                           .verbose = 0,
                           .callbacks = {record},
                           .seed = 3,
                           .strategy = std::move(strategy)});
  return out;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) /
                                (1.0 + std::abs(static_cast<double>(b[i]))));
  }
  return worst;
}

void check_case(const std::string& name, bool batch_norm, dist::DataParallelOptions options) {
  // Batch normalization needs two samples per rank in the last batch: 200 = 6 * 32 + 8.
  const testing::ClassSamples data = testing::class_samples(batch_norm ? 200 : 195, 6, 3, 17);
  train::Model reference_model = make_model(batch_norm);
  const Trained reference = train_once(reference_model, data, kBatch * dist::size(), nullptr);
  train::Model model = make_model(batch_norm);
  auto strategy = std::make_shared<dist::DataParallel>(options);
  const Trained parallel = train_once(model, data, kBatch, strategy);

  // A failed check never skips the collectives below: every rank must make the same calls, or
  // the job would hang instead of failing.
  const bool same_steps = parallel.steps.size() == reference.steps.size();
  if (!same_steps) {
    fail(name + ": " + std::to_string(parallel.steps.size()) + " steps, one process made " +
         std::to_string(reference.steps.size()));
  }
  // BatchNormalization normalizes each rank's batch by its own statistics: the steps differ from
  // one process's by design, so only agreement across ranks is checked for it.
  if (same_steps && !batch_norm) {
    for (size_t k = 0; k < parallel.steps.size(); ++k) {
      const double d = max_difference(parallel.steps[k], reference.steps[k]);
      if (d > 2e-5) {
        fail(name + ": step " + std::to_string(k + 1) + ": weights differ from one process's " +
             "by " + std::to_string(d));
        break;
      }
    }
    for (const std::string key : {"loss", "accuracy"}) {
      const auto& got = parallel.history.history.at(key);
      const auto& want = reference.history.history.at(key);
      for (size_t e = 0; e < want.size(); ++e) {
        if (std::abs(got[e] - want[e]) > 1e-5 * (1 + std::abs(want[e]))) {
          fail(name + ": epoch " + std::to_string(e + 1) + " " + key + " " +
               std::to_string(got[e]) + ", one process " + std::to_string(want[e]));
        }
      }
    }
  }
  // Every rank ends with rank 0's weights and buffers, bit for bit.
  std::vector<float> mine = testing::weights_of(model);
  for (const auto& [buffer_name, buffer] : model.module().named_buffers()) {
    if (buffer.dtype() != DType::f32) continue;
    const std::vector<float> values = buffer.detach().contiguous().to_vector<float>();
    mine.insert(mine.end(), values.begin(), values.end());
  }
  Tensor rank0 = from_vector(mine, {static_cast<int64_t>(mine.size())}).contiguous();
  dist::broadcast(rank0, 0);
  if (rank0.to_vector<float>() != mine) fail(name + ": the ranks' weights or buffers differ");
  const dist::DataParallelStats& stats = strategy->stats();
  if (stats.steps != static_cast<int64_t>(reference.steps.size())) {
    fail(name + ": the strategy counted " + std::to_string(stats.steps) + " steps");
  }
  if (dist::rank() == 0) {
    std::printf("%s: %zu steps %s; %lld buckets reduced\n", name.c_str(), parallel.steps.size(),
                batch_norm
                    ? "with the ranks in agreement"
                    : ("equal to one process's with batch " + std::to_string(kBatch * dist::size()))
                          .c_str(),
                static_cast<long long>(stats.buckets));
  }
}

// The parameter server with one server rank (the last) and the others as workers. Synchronous:
// every step equals one process's with batch workers*B. Asynchronous: training goes on (the
// loss falls) and every worker ends with the servers' final weights.
void check_parameter_server(int64_t staleness) {
  const std::string name = "parameter server, staleness " + std::to_string(staleness);
  const testing::ClassSamples data = testing::class_samples(195, 6, 3, 17);
  const int workers = dist::size() - 1;
  train::Model reference_model = make_model(false);
  const Trained reference = train_once(reference_model, data, kBatch * workers, nullptr);
  train::Model model = make_model(false);
  auto strategy = std::make_shared<dist::ParameterServer>(
      dist::ParameterServerOptions{.servers = 1, .staleness = staleness});
  const Trained parallel = train_once(model, data, kBatch, strategy);
  const bool server = !strategy->trains();
  if (!server && parallel.steps.size() != reference.steps.size()) {
    fail(name + ": " + std::to_string(parallel.steps.size()) + " steps, one process made " +
         std::to_string(reference.steps.size()));
  } else if (!server && staleness == 0) {
    for (size_t k = 0; k < parallel.steps.size(); ++k) {
      const double d = max_difference(parallel.steps[k], reference.steps[k]);
      if (d > 2e-5) {
        fail(name + ": step " + std::to_string(k + 1) + ": weights differ from one process's " +
             "by " + std::to_string(d));
        break;
      }
    }
  } else if (!server) {
    const auto& loss = parallel.history.history.at("loss");
    if (!(std::isfinite(loss.back()) && loss.back() < loss.front())) {
      fail(name + ": the loss went from " + std::to_string(loss.front()) + " to " +
           std::to_string(loss.back()));
    }
  }
  // The workers end with the same weights (the server's model holds only its shard's news).
  const std::vector<float> mine = nabla::testing::weights_of(model);
  Tensor rank0 = from_vector(mine, {static_cast<int64_t>(mine.size())}).contiguous();
  dist::broadcast(rank0, 0);
  if (!server && rank0.to_vector<float>() != mine) fail(name + ": the workers' weights differ");
  if (server) {
    std::printf("%s: %lld updates served, at most %lld behind, %lld answers held back\n",
                name.c_str(), static_cast<long long>(strategy->stats().updates),
                static_cast<long long>(strategy->stats().max_staleness),
                static_cast<long long>(strategy->stats().deferred));
  }
}

}  // namespace

int main() {
  dist::Environment mpi;
  set_num_threads(1);
  try {
    check_case("one bucket per parameter, overlapped", false, {.bucket_bytes = 1, .overlap = true});
    check_case("default buckets, overlapped", false, {});
    check_case("no overlap", false, {.overlap = false});
    check_case("batch normalization", true, {.bucket_bytes = 256});
    check_parameter_server(0);
    check_parameter_server(2);
  } catch (const std::exception& e) {
    // The other ranks may be inside a collective this rank will never join: end the job.
    dist::abort(1, "rank " + std::to_string(dist::rank()) + ": FAIL: error: " + e.what());
  }
  std::vector<double> total = {static_cast<double>(failures)};
  dist::all_reduce_sum(total);
  if (dist::rank() == 0) {
    std::printf("%s on %d processes\n", total[0] == 0 ? "PASS" : "FAIL", dist::size());
  }
  return total[0] == 0 ? 0 : 1;
}
