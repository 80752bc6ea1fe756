// nabla_predict_compare: inference throughput of the side-by-side MLP and CNN (workloads.hpp), the
// peer of bench/compare/predict.py (PyTorch in torch.inference_mode(), and its FX post-training
// int8 quantization). The model is first trained one epoch (Adam 1e-3, batch 64, f32 images in
// [0, 1] as the PyTorch side keeps them), then, in fp32 and after post-training int8
// quantization (calibrated on the first 2048 training images):
//   - its test accuracy (Model::evaluate, the 10000 test images);
//   - images per second of Model::predict at batch 1 (the first --batch1-images test images, one
//     call per image, as a server answering single requests) and at batch 256 (the whole test
//     set): the median of --passes timed passes after one untimed pass.
// Prints one JSON object on stdout.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "workloads.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options : nabla::bench::CommonOptions {
  Options() { model = "cnn"; }
  int64_t batch1_images = 2000;
  int passes = 3;
};

const char* kUsage =
    "usage: nabla_predict_compare [--model mlp|cnn] [--threads N] [--seed N] [--data DIR] "
    "[--batch1-images N] [--passes N]\n";

Options parse(int argc, char** argv) {
  Options options;
  for (nabla::bench::OptionReader args(argc, argv, "nabla_predict_compare", kUsage); args.next();) {
    const std::string& arg = args.name();
    if (nabla::bench::read_common_option(args, options)) continue;
    if (arg == "--batch1-images") {
      options.batch1_images = std::stoll(args.value());
    } else if (arg == "--passes") {
      options.passes = std::stoi(args.value());
    } else {
      args.unknown();
    }
  }
  NABLA_CHECK(options.model == "mlp" || options.model == "cnn",
              "nabla_predict_compare: --model must be mlp or cnn, got ", options.model);
  NABLA_CHECK(options.batch1_images > 0 && options.passes > 0,
              "nabla_predict_compare: --batch1-images and --passes must be positive");
  return options;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Images per second of model.predict(x, batch_size): the median of `passes` timed passes after
// an untimed one (which creates the primitives of this batch size).
double images_per_second(nabla::train::Model& model, const nabla::Tensor& x, int64_t batch_size,
                         int passes) {
  model.predict(x, batch_size);
  std::vector<double> rates;
  for (int pass = 0; pass < passes; ++pass) {
    const Clock::time_point start = Clock::now();
    model.predict(x, batch_size);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(static_cast<double>(x.size(0)) / seconds);
  }
  return median(rates);
}

struct Measured {
  double accuracy, batch1, batch256;
};

Measured measure(nabla::train::Model& model, const nabla::data::MnistData& data,
                 const Options& options) {
  const nabla::Tensor single = data.test_images.slice(0, 0, options.batch1_images);
  return {model.evaluate(data.test_images, data.test_labels, 256, 0)["accuracy"],
          images_per_second(model, single, 1, options.passes),
          images_per_second(model, data.test_images, 256, options.passes)};
}

void print_side(const char* name, const Measured& m, bool last) {
  std::printf("\"%s\": {\"test_accuracy\": %.4f, \"images_per_s\": {\"1\": %.1f, \"256\": %.1f}}%s",
              name, m.accuracy, m.batch1, m.batch256, last ? "" : ", ");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    using namespace nabla;
    const Options options = parse(argc, argv);
    if (options.threads > 0) set_num_threads(options.threads);
    manual_seed(options.seed);
    data::MnistData data = data::load_fashion_mnist(options.data, false);  // f32 in [0, 1]
    data.train_labels = data.train_labels.to(DType::i64);
    data.test_labels = data.test_labels.to(DType::i64);
    if (options.model == "cnn") {
      data.train_images = data.train_images.unsqueeze(1);
      data.test_images = data.test_images.unsqueeze(1);
    }
    NABLA_CHECK(options.batch1_images <= data.test_images.size(0),
                "nabla_predict_compare: --batch1-images ", options.batch1_images, " exceeds the ",
                data.test_images.size(0), " test images");
    train::Sequential model(bench::workload_network(options.model, true, 0, true));
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    train::FitOptions fit;
    fit.epochs = 1;
    fit.batch_size = 64;
    fit.verbose = 0;
    fit.seed = options.seed;
    model.fit(data.train_images, data.train_labels, fit);

    const Measured fp32 = measure(model, data, options);
    const Clock::time_point start = Clock::now();
    const QuantizationReport quantized =
        model.quantize_int8(data.train_images, {.calibration_samples = 2048});
    const double calibration_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const Measured int8 = measure(model, data, options);

    std::printf("{\"framework\": \"nabla\", \"model\": \"%s\", \"threads\": %d, ",
                options.model.c_str(), get_num_threads());
    print_side("fp32", fp32, false);
    print_side("int8", int8, false);
    std::printf("\"int8_layers\": %zu, \"calibration_seconds\": %.3f}\n", quantized.layers.size(),
                calibration_seconds);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nabla_predict_compare: error: " << e.what() << "\n";
    return 1;
  }
}
