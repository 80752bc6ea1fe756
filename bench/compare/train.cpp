// The side-by-side workloads (workloads.hpp: mlp, cnn, lstm) trained with nabla, as the peers of
// bench/compare/train.py (PyTorch); --hidden N: the LSTM's hidden size.
// Adam(1e-3); sparse categorical cross-entropy (computed from the logits, fused); Fashion-MNIST
// preloaded in memory; shuffled batches. By default it runs as `nabla train` does: the images stay
// in memory as bytes and the model's first layer, Rescaling(1/255), scales each batch; --f32-data
// instead preloads them as f32 in [0, 1], as the PyTorch side does. The Keras-style Model runs it
// (compile + fit + evaluate, what a user writes); --loop runs the PyTorch-style loop
// (nn::Sequential, DataLoader, optim::Adam, cross_entropy).
// --limit N trains and tests on the first N samples of each set (the scaling table of
// bench/compare/compare.py times a fixed number of steps that way).
// Prints one JSON object on stdout: seconds per epoch (median of the epochs), samples/s, test
// accuracy after the last epoch and the peak resident memory of the process.
#include "nabla/train.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "nabla/data.hpp"
#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "nabla/optim.hpp"
#include "workloads.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options : nabla::bench::CommonOptions {
  Options() { model = "mlp"; }  // mlp, cnn or lstm
  int64_t batch_size = 32;
  int64_t epochs = 5;
  bool loop = false;
  bool f32_data = false;  // preload images as f32 rather than bytes
  int64_t hidden = 128;   // the LSTM's hidden size
  int64_t limit = 0;      // > 0: only the first `limit` samples of the training and test sets
  std::string precision = "fp32";  // bf16: the whole run in an Autocast scope
};

struct Result {
  std::vector<double> epoch_seconds;
  double test_accuracy = 0;
  double final_loss = 0;  // mean training loss of the last epoch
};

const char* kUsage =
    "usage: nabla_compare [--model mlp|cnn|lstm] [--batch-size N] [--epochs N] [--threads N] "
    "[--seed N] "
    "[--data DIR]"
    " [--loop] [--f32-data] [--hidden N] [--limit N] [--precision fp32|bf16]\n";

Options parse(int argc, char** argv) {
  Options options;
  for (nabla::bench::OptionReader args(argc, argv, "nabla_compare", kUsage); args.next();) {
    const std::string& arg = args.name();
    if (nabla::bench::read_common_option(args, options)) continue;
    if (arg == "--batch-size") {
      options.batch_size = std::stoll(args.value());
    } else if (arg == "--epochs") {
      options.epochs = std::stoll(args.value());
    } else if (arg == "--loop") {
      options.loop = true;
    } else if (arg == "--f32-data") {
      options.f32_data = true;
    } else if (arg == "--hidden") {
      options.hidden = std::stoll(args.value());
    } else if (arg == "--limit") {
      options.limit = std::stoll(args.value());
    } else if (arg == "--precision") {
      options.precision = args.value();
      nabla::parse_precision(options.precision);  // Error for an unknown name
    } else {
      args.unknown();
    }
  }
  NABLA_CHECK(options.model == "mlp" || options.model == "cnn" || options.model == "lstm",
              "nabla_compare: --model must be mlp, cnn or lstm, got ", options.model);
  NABLA_CHECK(options.batch_size > 0 && options.epochs > 0,
              "nabla_compare: expected a positive batch size and epoch count, got ",
              options.batch_size, " and ", options.epochs);
  NABLA_CHECK(options.hidden > 0 && options.limit >= 0,
              "nabla_compare: expected a positive --hidden and a non-negative --limit, got ",
              options.hidden, " and ", options.limit);
  return options;
}

// Times each epoch of Model::fit from its begin to its end callback.
class EpochTimer : public nabla::train::Callback {
 public:
  void on_epoch_begin(int64_t) override { start_ = Clock::now(); }
  void on_epoch_end(int64_t, nabla::train::Logs& logs) override {
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start_).count());
    last_loss = logs.at("loss");
  }
  std::vector<double> seconds;
  double last_loss = 0;

 private:
  Clock::time_point start_;
};

std::vector<nabla::nn::ModulePtr> network(const Options& options, bool softmax) {
  return nabla::bench::workload_network(options.model, options.f32_data, options.hidden, softmax);
}

// The workload as a Keras user writes it.
Result run_keras(const nabla::data::MnistData& data, const Options& options) {
  using namespace nabla;
  Sequential model(network(options, true));
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  auto timer = std::make_shared<EpochTimer>();
  train::FitOptions fit;
  fit.epochs = options.epochs;
  fit.batch_size = options.batch_size;
  fit.verbose = 0;
  fit.callbacks = {timer};
  fit.seed = options.seed;
  model.fit(data.train_images, data.train_labels, fit);
  const auto report = model.evaluate(data.test_images, data.test_labels, 1000, 0);
  return {timer->seconds, report["accuracy"], timer->last_loss};
}

// The same training written as a PyTorch-style loop. It flushes denormals as fit does and as the
// PyTorch side does (torch.set_flush_denormal): without, Adam's moments of weights whose gradient
// stays 0 decay into the denormals and the update takes twice as long (docs/architecture.md).
Result run_loop(const nabla::data::MnistData& data, const Options& options) {
  using namespace nabla;
  FlushDenormalGuard denormals;
  nn::Sequential model(network(options, false));
  model.build(Shape(data.train_images.shape().begin() + 1, data.train_images.shape().end()));
  optim::Adam optimizer(model.parameters(), {.lr = 1e-3});
  data::DataLoader loader(data.train_images, data.train_labels,
                          {.batch_size = options.batch_size, .seed = options.seed});
  Result result;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const Clock::time_point start = Clock::now();
    model.train();
    double loss_sum = 0;
    for (auto& batch : loader) {
      optimizer.zero_grad();
      Tensor loss = cross_entropy(model(batch.inputs), batch.targets);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item() * static_cast<double>(batch.size());
    }
    result.final_loss = loss_sum / static_cast<double>(loader.dataset_size());
    result.epoch_seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  NoGradGuard no_grad;
  model.eval();
  std::vector<Tensor> predictions;
  for (int64_t first = 0; first < data.test_images.size(0); first += 1000) {
    const int64_t end = std::min(first + 1000, data.test_images.size(0));
    predictions.push_back(argmax(model(data.test_images.slice(0, first, end)), 1));
  }
  Tensor predicted = concat(predictions);
  result.test_accuracy =
      sum(eq(predicted, data.test_labels)).item() / static_cast<double>(data.test_labels.numel());
  return result;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void print_json(const Result& result, const Options& options, int64_t train_size) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double seconds = median(result.epoch_seconds);
  std::printf(
      "{\"framework\": \"nabla (%s, images as %s)\", \"model\": \"%s\", \"batch_size\": %lld, "
      "\"threads\": %d, \"hidden\": %lld, \"train_size\": %lld, "
      "\"epochs\": %lld, \"epoch_seconds\": [",
      options.loop ? "PyTorch-style loop" : "Keras-style Model",
      options.f32_data ? "f32" : "bytes + Rescaling", options.model.c_str(),
      static_cast<long long>(options.batch_size), nabla::get_num_threads(),
      static_cast<long long>(options.hidden), static_cast<long long>(train_size),
      static_cast<long long>(options.epochs));
  for (size_t i = 0; i < result.epoch_seconds.size(); ++i)
    std::printf("%s%.4f", i ? ", " : "", result.epoch_seconds[i]);
  std::printf(
      "], \"s_per_epoch\": %.6f, \"samples_per_s\": %.1f, \"test_accuracy\": %.4f, "
      "\"final_loss\": %.6f, \"peak_rss_mb\": %.1f}\n",
      seconds, static_cast<double>(train_size) / seconds, result.test_accuracy, result.final_loss,
      static_cast<double>(usage.ru_maxrss) / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    if (options.threads > 0) nabla::set_num_threads(options.threads);
    nabla::manual_seed(options.seed);
    nabla::data::MnistData data = nabla::data::load_fashion_mnist(options.data, !options.f32_data);
    // Raw labels are bytes; the losses take i64 class indices (as `nabla train` converts them).
    data.train_labels = data.train_labels.to(nabla::DType::i64);
    data.test_labels = data.test_labels.to(nabla::DType::i64);
    if (options.limit > 0) {
      auto first = [&](const nabla::Tensor& t) {
        return t.slice(0, 0, std::min(options.limit, t.size(0))).contiguous();
      };
      data.train_images = first(data.train_images);
      data.train_labels = first(data.train_labels);
      data.test_images = first(data.test_images);
      data.test_labels = first(data.test_labels);
    }
    if (options.model == "cnn") {  // one channel: [N, 1, 28, 28]
      data.train_images = data.train_images.unsqueeze(1);
      data.test_images = data.test_images.unsqueeze(1);
    }
    const nabla::Autocast precision(nabla::parse_precision(options.precision));
    const Result result = options.loop ? run_loop(data, options) : run_keras(data, options);
    print_json(result, options, data.train_images.size(0));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nabla_compare: error: " << e.what() << "\n";
    return 1;
  }
}
