// DataLoader: per-epoch seeded order, batching, and a one-thread prefetcher with a bounded queue.
#include <omp.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "nabla/data.hpp"
#include "nabla/pipeline.hpp"

namespace nabla::data {
namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

// splitmix64's finalizer: a bijective mix whose outputs for nearby inputs look independent.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The augmentation generator's seed for one batch: a function of (seed, epoch, batch index) only,
// so a batch is augmented the same whichever thread assembles it and whatever came before. The
// first step starts from a different constant than the shuffle's, so the two streams differ.
// A sharded loader mixes its shard in, so that the shards of one batch draw differently.
uint64_t augmentation_seed(uint64_t seed, int64_t epoch, int64_t batch_index, int64_t shard) {
  uint64_t z = mix64(seed ^ 0xA5A5A5A5F00DCAFEULL);
  z = mix64(z + kGoldenGamma * static_cast<uint64_t>(epoch + 1));
  z = mix64(z + kGoldenGamma * static_cast<uint64_t>(batch_index + 1));
  return shard == 0 ? z : mix64(z + kGoldenGamma * static_cast<uint64_t>(shard));
}

}  // namespace

// Assembles batches first..count-1 of an epoch on a background thread, at most kCapacity ahead of
// the consumer. Batches come out in order; an error while assembling batch k is rethrown by
// pop() after batches first..k-1 were handed out.
struct DataLoader::Prefetcher {
  static constexpr size_t kCapacity = 2;

  Prefetcher(std::function<Batch(int64_t)> make, int64_t first, int64_t count)
      : make_(std::move(make)), first_(first), count_(count), thread_([this] { run(); }) {}

  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }

  Batch pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty() || finished_; });
    if (queue_.empty()) {
      NABLA_CHECK(error_ != nullptr, "DataLoader: read past the end of the epoch");
      std::rethrow_exception(error_);
    }
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_.notify_one();
    return batch;
  }

 private:
  void run() {
    // The batch work stays on this one thread: should it ever reach a parallel kernel, a second
    // OpenMP team would compete with the training step's team for the same cores.
    omp_set_num_threads(1);
    try {
      for (int64_t i = first_; i < count_; ++i) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          space_.wait(lock, [this] { return queue_.size() < kCapacity || stop_; });
          if (stop_) break;
        }
        Batch batch = make_(i);  // outside the lock: this is the work that overlaps the step
        {
          std::lock_guard<std::mutex> lock(mutex_);
          queue_.push_back(std::move(batch));
        }
        ready_.notify_one();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    ready_.notify_all();
  }

  std::function<Batch(int64_t)> make_;
  int64_t first_, count_;
  std::mutex mutex_;
  std::condition_variable ready_;  // a batch was queued or the thread finished
  std::condition_variable space_;  // a batch was taken or the thread must stop
  std::deque<Batch> queue_;
  bool stop_ = false;
  bool finished_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after the members it uses exist
};

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  NABLA_CHECK(dataset_ != nullptr, "DataLoader: expected a dataset, got null");
  NABLA_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ",
              options_.batch_size);
  NABLA_CHECK(options_.shard_count >= 1 && options_.shard_index >= 0 &&
                  options_.shard_index < options_.shard_count,
              "DataLoader: shard_index must lie in [0, shard_count) with shard_count >= 1, got ",
              options_.shard_index, " of ", options_.shard_count);
}

DataLoader::DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options)
    : DataLoader(std::make_shared<TensorDataset>(std::move(inputs), std::move(targets)), options) {}

DataLoader::DataLoader(const Pipeline& batches)
    : options_{.batch_size = 1, .shuffle = false, .prefetch = false},
      stream_source_(std::make_shared<const Pipeline>(batches)) {
  NABLA_CHECK(batches.cardinality() != Pipeline::kInfinite, "DataLoader: the pipeline never ",
              "ends (repeat() without a count), so an epoch would not; take() the batches of one");
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::num_batches() const {
  if (streaming()) return stream_source_->cardinality() >= 0 ? stream_source_->cardinality() : -1;
  const int64_t n = dataset_->size(), b = options_.batch_size * options_.shard_count;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t DataLoader::global_batch_size(int64_t batch_index) const {
  NABLA_CHECK(!streaming(), "DataLoader: a pipeline's batches have no global batch size");
  const int64_t n = dataset_->size(), b = options_.batch_size * options_.shard_count;
  return std::clamp<int64_t>(n - batch_index * b, 0, b);
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  NABLA_CHECK(!streaming(), "DataLoader: a pipeline has no sample order to compute ahead");
  const int64_t n = dataset_->size();
  if (!options_.shuffle) {
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    return order;
  }
  // One generator per epoch, seeded from (seed, epoch) through a splitmix64 step, so that any
  // epoch's order can be recomputed on its own (resuming, prefetching) and runs repeat.
  Generator generator(mix64(options_.seed + kGoldenGamma * static_cast<uint64_t>(epoch + 1)));
  return randperm(n, &generator).to_vector<int64_t>();
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  NABLA_CHECK(epoch >= 0, "DataLoader::start_epoch: epoch must be >= 0, got ", epoch);
  if (streaming()) {
    // A resumed epoch skips the batches done: the pipeline gives the same ones again.
    stream_.reset();  // joins the pass's threads before the next one starts
    stream_ = stream_source_->skip(first_batch).open(epoch);
    epoch_ = epoch;
    next_batch_ = first_batch;
    in_epoch_ = true;
    return;
  }
  const int64_t count = num_batches();
  NABLA_CHECK(first_batch >= 0 && first_batch <= count, "DataLoader::start_epoch: first_batch ",
              first_batch, " is outside the epoch's ", count, " batches");
  prefetcher_.reset();  // joins the thread before the order it reads changes
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_batch_ = first_batch;
  in_epoch_ = true;
  if (options_.prefetch && first_batch < count) {
    prefetcher_ = std::make_unique<Prefetcher>([this](int64_t i) { return make_batch(i); },
                                               first_batch, count);
  }
}

Batch DataLoader::make_batch(int64_t batch_index) const {
  // This shard's contiguous part [lo, hi) of the batch's m samples: shard r of R takes
  // [r*m/R, (r+1)*m/R), which is the whole batch when unsharded.
  const int64_t m = global_batch_size(batch_index);
  const int64_t r = options_.shard_index, shards = options_.shard_count;
  const int64_t begin = batch_index * options_.batch_size * shards;
  const int64_t lo = begin + r * m / shards, hi = begin + (r + 1) * m / shards;
  if (lo == hi) return {};  // a short last batch has fewer samples than there are shards
  Batch batch = dataset_->get_batch(std::vector<int64_t>(order_.begin() + lo, order_.begin() + hi));
  if (options_.augmentation) {
    Generator generator(augmentation_seed(options_.seed, epoch_, batch_index, r));
    batch.inputs = options_.augmentation->apply(batch.inputs, generator);
  }
  return batch;
}

std::optional<Batch> DataLoader::next() {
  if (!in_epoch_) start_epoch(epoch_ + 1);
  if (streaming()) {
    std::optional<Element> element;
    try {
      element = stream_->next();
    } catch (...) {
      in_epoch_ = false;
      stream_.reset();
      throw;
    }
    if (!element) {
      in_epoch_ = false;
      stream_.reset();
      return std::nullopt;
    }
    NABLA_CHECK(element->input.defined(), "DataLoader: the pipeline gave an element without an ",
                "input", element->name.empty() ? "" : " (" + element->name + ")",
                "; decode and batch() it first");
    ++next_batch_;
    return Batch{std::move(element->input), std::move(element->target)};
  }
  if (next_batch_ >= num_batches()) {
    in_epoch_ = false;
    prefetcher_.reset();
    return std::nullopt;
  }
  try {
    Batch batch = prefetcher_ ? prefetcher_->pop() : make_batch(next_batch_);
    ++next_batch_;
    return batch;
  } catch (...) {
    // A failed batch ends the epoch; the next call starts the following one.
    in_epoch_ = false;
    prefetcher_.reset();
    throw;
  }
}

DataLoader::Iterator::Iterator(DataLoader* loader) : loader_(loader), current_(loader->next()) {}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  current_ = loader_->next();
  return *this;
}

DataLoader::Iterator DataLoader::begin() {
  start_epoch(epoch_ + 1);
  return Iterator(this);
}

}  // namespace nabla::data
