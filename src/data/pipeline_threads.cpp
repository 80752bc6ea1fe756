// The threaded stages of data::Pipeline: a map run by worker threads whose results come out in
// input order, and prefetch. Both bound what they hold, deliver a thread's exception to the
// consumer after the elements before it, and stop and join their threads when destroyed.
#include <omp.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "data/pipeline_internal.hpp"
#include "nabla/error.hpp"

namespace nabla::data::pipeline_internal {
namespace {

// An element, or the error raised instead of it.
struct PipelineResult {
  std::optional<Element> element;
  std::exception_ptr error;
};

// Elements are numbered in the order they are pulled from the upstream (under pull_mutex_, so
// number and element agree); a worker maps its element outside every lock and files the result
// under its number; next() hands results out by number. At most `capacity_` elements are pulled
// and not yet handed out.
class PipelineParallelMapStream : public Stream {
 public:
  PipelineParallelMapStream(std::unique_ptr<Stream> upstream, RandomMapFn fn, bool random,
                            uint64_t seed, uint64_t iteration, int64_t workers)
      : upstream_(std::move(upstream)),
        fn_(std::move(fn)),
        random_(random),
        seed_(seed),
        iteration_(iteration),
        capacity_(2 * workers) {
    for (int64_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }

  ~PipelineParallelMapStream() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  std::optional<Element> next() override {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return results_.count(next_out_) > 0 || ended(); });
    const auto it = results_.find(next_out_);
    if (it == results_.end() || failed_) return std::nullopt;
    PipelineResult result = std::move(it->second);
    results_.erase(it);
    ++next_out_;
    if (result.error) {
      failed_ = true;  // an error ends the stream: what follows it is not delivered
      stop_ = true;
      lock.unlock();
      space_.notify_all();
      std::rethrow_exception(result.error);
    }
    lock.unlock();
    space_.notify_all();
    return std::move(result.element);
  }

 private:
  bool ended() const { return failed_ || (end_ >= 0 && next_out_ >= end_); }

  void work() {
    // The map's work stays on this thread: an OpenMP team per worker would oversubscribe the
    // cores the training step uses.
    omp_set_num_threads(1);
    for (;;) {
      int64_t number = 0;
      std::optional<Element> element;
      {
        std::unique_lock<std::mutex> pull(pull_mutex_);
        {
          std::unique_lock<std::mutex> lock(mutex_);
          space_.wait(lock,
                      [this] { return stop_ || end_ >= 0 || pulled_ - next_out_ < capacity_; });
          if (stop_ || end_ >= 0) return;
        }
        std::exception_ptr error;
        try {
          element = upstream_->next();
        } catch (...) {
          error = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(mutex_);
        number = pulled_++;
        if (error || !element) {
          if (error) results_[number] = {std::nullopt, error};
          end_ = error ? number + 1 : number;
        }
      }
      if (!element) {
        ready_.notify_all();
        space_.notify_all();
        return;
      }
      PipelineResult result;
      try {
        Generator gen(random_ ? pipeline_seed(seed_, iteration_, static_cast<uint64_t>(number))
                              : 0);
        result.element = fn_(std::move(*element), gen);
      } catch (...) {
        result.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        results_[number] = std::move(result);
      }
      ready_.notify_all();
    }
  }

  std::unique_ptr<Stream> upstream_;
  RandomMapFn fn_;
  bool random_;
  uint64_t seed_, iteration_;
  int64_t capacity_;
  std::mutex pull_mutex_;          // one worker at a time reads the upstream
  std::mutex mutex_;               // everything below
  std::condition_variable ready_;  // a result was filed or the input ended
  std::condition_variable space_;  // a result was taken, or stop
  std::map<int64_t, PipelineResult> results_;
  int64_t pulled_ = 0, next_out_ = 0;
  int64_t end_ = -1;  // the number of the last result + 1 once the input ended
  bool stop_ = false, failed_ = false;
  std::vector<std::thread> threads_;  // last: they start once the members they use exist
};

class PipelinePrefetchStream : public Stream {
 public:
  PipelinePrefetchStream(std::unique_ptr<Stream> upstream, int64_t buffer)
      : upstream_(std::move(upstream)),
        capacity_(static_cast<size_t>(buffer)),
        thread_([this] { run(); }) {}

  ~PipelinePrefetchStream() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }

  std::optional<Element> next() override {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty() || finished_; });
    if (queue_.empty()) {
      if (error_) {
        std::exception_ptr error = error_;
        error_ = nullptr;  // thrown once; the stream has ended
        std::rethrow_exception(error);
      }
      return std::nullopt;
    }
    Element element = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_.notify_one();
    return element;
  }

 private:
  void run() {
    omp_set_num_threads(1);
    try {
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          space_.wait(lock, [this] { return queue_.size() < capacity_ || stop_; });
          if (stop_) break;
        }
        std::optional<Element> element = upstream_->next();  // the work that overlaps
        if (!element) break;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          queue_.push_back(std::move(*element));
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

  std::unique_ptr<Stream> upstream_;
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Element> queue_;
  bool stop_ = false, finished_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last
};

}  // namespace

std::unique_ptr<Stream> open_parallel_map(std::unique_ptr<Stream> upstream, RandomMapFn fn,
                                          bool random, uint64_t seed, uint64_t iteration,
                                          int64_t workers) {
  return std::make_unique<PipelineParallelMapStream>(std::move(upstream), std::move(fn), random,
                                                     seed, iteration, workers);
}

std::unique_ptr<Stream> open_prefetch(std::unique_ptr<Stream> upstream, int64_t buffer) {
  return std::make_unique<PipelinePrefetchStream>(std::move(upstream), buffer);
}

}  // namespace nabla::data::pipeline_internal
