// The nabla side of the input-pipeline benchmark (bench/pipeline/compare.py runs it with PyTorch's
// DataLoader as the peer, bench/pipeline/torch_loader.py):
//   generate DIR N SIZE CHANNELS   N PNG images of SIZE x SIZE (1 or 3 channels) in 10 class
//                                  folders, DIR/train/CLASS/NNNNNNN.png (and 10 in DIR/test/)
//   records DIR N SHARDS           the same images (28 x 28 grey) as TFRecord shards of PNG
//                                  "image" and int64 "label" records, DIR/train-*.tfrecord
//   throughput DIR WORKERS BATCH REPEATS
//                                  images/s of decode (PNG, libpng) + random crop (padding 4) and
//                                  horizontal flip + batch over DIR/train, REPEATS passes
//   stream PATTERN WORKERS         the same pipeline read without training: images/s and resident
//                                  memory every 1000 batches (a million images in minutes)
//   train PATTERN WORKERS THREADS EPOCHS
//                                  the cnn preset trained on TFRecord shards streamed through a
//                                  pipeline (interleave, decode, shuffle, batch, prefetch): data
//                                  wait share, images/s, resident memory along the run
// Each command prints one JSON object on stdout.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "data/png.hpp"
#include "nabla/nabla.hpp"

namespace {

using namespace nabla;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Resident memory now and at its peak, in MiB (Linux).
double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}
double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// A picture of class `label`: a smooth gradient whose direction depends on the class, plus
// noise, so that PNG compresses it about as much as a small photograph.
Tensor bench_image(int64_t index, int64_t label, int64_t size, int64_t channels) {
  Generator gen(static_cast<uint64_t>(index) * 2654435761u + 17);
  Tensor image = empty({channels, size, size}, DType::u8);
  auto* p = static_cast<uint8_t*>(image.raw_data());
  const double angle = 0.6 * static_cast<double>(label);
  const double dx = std::cos(angle) * 6, dy = std::sin(angle) * 6;
  for (int64_t c = 0; c < channels; ++c) {
    const double offset = gen.next_double() * 128;
    for (int64_t y = 0; y < size; ++y) {
      for (int64_t x = 0; x < size; ++x) {
        const double v = offset + dx * static_cast<double>(x) + dy * static_cast<double>(y) +
                         gen.next_double() * 40;
        *p++ = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
    }
  }
  return image;
}

int generate(const std::string& dir, int64_t count, int64_t size, int64_t channels) {
  const auto start = Clock::now();
  for (const char* part : {"train", "test"}) {
    const int64_t n = std::string(part) == "train" ? count : 10;
    for (int64_t c = 0; c < 10; ++c)
      fs::create_directories(fs::path(dir) / part / std::to_string(c));
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t label = i % 10;
      char name[32];
      std::snprintf(name, sizeof name, "%07lld.png", static_cast<long long>(i));
      data::write_png((fs::path(dir) / part / std::to_string(label) / name).string(),
                      bench_image(i + (n == 10 ? count : 0), label, size, channels));
    }
  }
  std::printf("{\"generated\": %lld, \"seconds\": %.1f}\n", static_cast<long long>(count),
              seconds_since(start));
  return 0;
}

int records(const std::string& dir, int64_t count, int64_t shards) {
  const auto start = Clock::now();
  fs::create_directories(dir);
  for (int64_t shard = 0; shard < shards; ++shard) {
    const int64_t begin = count * shard / shards, end = count * (shard + 1) / shards;
    std::vector<std::string> shard_records(static_cast<size_t>(end - begin));
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = begin; i < end; ++i) {
      const int64_t label = i % 10;
      shard_records[static_cast<size_t>(i - begin)] =
          data::encode_example({{"image", data::bytes_feature({data::internal::encode_png(
                                              bench_image(i, label, 28, 1), "record")})},
                                {"label", data::int64_feature({label})}});
    }
    char name[64];
    std::snprintf(name, sizeof name, "train-%05lld-of-%05lld.tfrecord",
                  static_cast<long long>(shard), static_cast<long long>(shards));
    data::write_tfrecords((fs::path(dir) / name).string(), shard_records);
  }
  std::printf("{\"records\": %lld, \"shards\": %lld, \"seconds\": %.1f}\n",
              static_cast<long long>(count), static_cast<long long>(shards), seconds_since(start));
  return 0;
}

// Decode + random crop (padding 4) + horizontal flip per image on `workers` threads, batches.
data::Pipeline decode_augment_batch(const data::ImageFolderFiles& files, int64_t workers,
                                    int64_t batch) {
  const data::AugmentationPtr augment =
      data::compose({data::random_crop(4), data::random_flip(true, false, 0.5)});
  return data::Pipeline::from_files(files.train_files, files.train_labels)
      .map_random(
          [augment](data::Element e, Generator& gen) {
            e.input = augment->apply(data::read_image(e.name).unsqueeze(0), gen).squeeze(0);
            return e;
          },
          /*seed=*/1, workers)
      .batch(batch)
      .prefetch(2);
}

int throughput(const std::string& dir, int64_t workers, int64_t batch, int64_t repeats) {
  const data::ImageFolderFiles files = data::list_image_folder(dir, 0.2, 0);
  const data::Pipeline pipeline = decode_augment_batch(files, workers, batch);
  std::vector<double> rates;
  int64_t images = 0;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    images = 0;
    const std::unique_ptr<data::Stream> stream = pipeline.open(r);
    while (std::optional<data::Element> b = stream->next()) images += b->input.size(0);
    rates.push_back(static_cast<double>(images) / seconds_since(start));
  }
  std::printf(
      "{\"side\": \"nabla\", \"workers\": %lld, \"batch\": %lld, \"images\": %lld, "
      "\"images_per_s\": [",
      static_cast<long long>(workers), static_cast<long long>(batch),
      static_cast<long long>(images));
  for (size_t i = 0; i < rates.size(); ++i) std::printf("%s%.1f", i ? ", " : "", rates[i]);
  std::printf("], \"peak_rss_mib\": %.1f}\n", peak_resident_mib());
  return 0;
}

// Reports the resident memory every `every` batches.
class MemoryTrace : public train::Callback {
 public:
  explicit MemoryTrace(int64_t every) : every_(every) {}
  void on_batch_end(int64_t batch, const train::Logs&) override {
    if ((batch + 1) % every_ == 0) samples_.push_back(resident_mib());
  }
  const std::vector<double>& samples() const { return samples_; }

 private:
  int64_t every_;
  std::vector<double> samples_;
};

// TFRecord shards of 28x28 grey PNG records: interleaved 4 at a time, decoded by `workers`
// threads, shuffled in a buffer of 10,000, batched by 64, prefetched.
data::Pipeline streamed_records(const std::string& pattern, int64_t workers) {
  data::TFRecordFeatureSpec features;
  features.input_shape = {1, 28, 28};
  return data::Pipeline::from_files(data::tfrecord_files(pattern))
      .interleave(
          [](const data::Element& shard) { return data::Pipeline::from_tfrecords({shard.name}); },
          /*cycle_length=*/4)
      .map(data::decode_tfrecord_examples(features), workers)
      .shuffle(10000, /*seed=*/1)
      .batch(64)
      .prefetch(2);
}

int stream_records(const std::string& pattern, int64_t workers) {
  const auto start = Clock::now();
  const std::unique_ptr<data::Stream> stream = streamed_records(pattern, workers).open();
  std::vector<double> trace;
  int64_t images = 0, batches = 0;
  while (std::optional<data::Element> batch = stream->next()) {
    images += batch->input.size(0);
    if (++batches % 1000 == 0) trace.push_back(resident_mib());
  }
  const double elapsed = seconds_since(start);
  std::printf(
      "{\"side\": \"nabla\", \"workers\": %lld, \"images\": %lld, \"seconds\": %.1f, "
      "\"images_per_s\": %.0f, \"rss_every_1000_batches_mib\": [",
      static_cast<long long>(workers), static_cast<long long>(images), elapsed,
      static_cast<double>(images) / elapsed);
  for (size_t i = 0; i < trace.size(); ++i) std::printf("%s%.1f", i ? ", " : "", trace[i]);
  std::printf("], \"peak_rss_mib\": %.1f}\n", peak_resident_mib());
  return 0;
}

int train_streamed(const std::string& pattern, int64_t workers, int64_t threads, int64_t epochs) {
  set_num_threads(static_cast<int>(threads));
  const auto start = Clock::now();
  const data::Pipeline pipeline = streamed_records(pattern, workers);
  manual_seed(0);
  io::ModelSpec spec = io::resolve_model_spec("cnn");
  train::Model model(io::build_model(spec), "cnn");
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  auto trace = std::make_shared<MemoryTrace>(100);
  const double before = resident_mib();
  const train::History history =
      model.fit(pipeline, {.epochs = epochs, .verbose = 0, .callbacks = {trace}});
  const double elapsed = seconds_since(start);
  const auto steps = static_cast<int64_t>(trace->samples().size()) * 100;
  std::printf(
      "{\"side\": \"nabla\", \"workers\": %lld, \"threads\": %lld, \"epochs\": %lld, "
      "\"seconds\": %.1f, \"data_wait_share\": %.4f, \"loss\": %.4f, "
      "\"rss_before_fit_mib\": %.1f, \"rss_every_100_batches_mib\": [",
      static_cast<long long>(workers), static_cast<long long>(threads),
      static_cast<long long>(epochs), elapsed, model.data_wait_share(),
      history.history.at("loss").back(), before);
  for (size_t i = 0; i < trace->samples().size(); ++i) {
    std::printf("%s%.1f", i ? ", " : "", trace->samples()[i]);
  }
  std::printf("], \"batches_traced\": %lld, \"peak_rss_mib\": %.1f}\n",
              static_cast<long long>(steps), peak_resident_mib());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto number = [&](size_t i) { return std::stoll(args.at(i)); };
    if (!args.empty() && args[0] == "generate" && args.size() == 5) {
      return generate(args[1], number(2), number(3), number(4));
    }
    if (!args.empty() && args[0] == "records" && args.size() == 4) {
      return records(args[1], number(2), number(3));
    }
    if (!args.empty() && args[0] == "throughput" && args.size() == 5) {
      return throughput(args[1], number(2), number(3), number(4));
    }
    if (!args.empty() && args[0] == "stream" && args.size() == 3) {
      return stream_records(args[1], number(2));
    }
    if (!args.empty() && args[0] == "train" && args.size() == 5) {
      return train_streamed(args[1], number(2), number(3), number(4));
    }
    std::cerr << "usage: nabla_pipeline_bench generate DIR N SIZE CHANNELS | records DIR N SHARDS"
                 " | throughput DIR WORKERS BATCH REPEATS | stream PATTERN WORKERS"
                 " | train PATTERN WORKERS THREADS EPOCHS\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "nabla_pipeline_bench: error: " << e.what() << "\n";
    return 1;
  }
}
