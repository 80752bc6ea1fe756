// Data-parallel training: gradients averaged across ranks in buckets, each all-reduced on a
// communication thread as soon as backward has finished its parameters' gradients (PyTorch DDP's
// design), so that messages travel while backward computes the rest.
//
// Every rank must reduce the same buckets in the same order. Buckets are launched strictly in
// index order (bucket k waits for buckets < k), and the buckets are built in the reverse order of
// the parameters, which is about the order backward finishes them; a bucket whose gradients come
// late only delays those after it. Each bucket carries, after its gradients, one count per
// parameter of the ranks that computed its gradient: a parameter no rank reached keeps no
// gradient, so that the optimizer skips it as it would in one process.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "dist/communicator.hpp"
#include "nabla/dist.hpp"
#include "nabla/ops.hpp"

namespace nabla::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

struct DataParallel::State {
  struct Bucket {
    std::vector<size_t> params;    // indices into State::params
    std::vector<int64_t> offsets;  // of each parameter's gradient in `buffer`
    int64_t numel = 0;             // gradient values; the per-parameter counts follow
    std::vector<float> buffer;
    size_t pending = 0;  // parameters of this step whose gradient is not final yet
  };

  DataParallelOptions options;
  DataParallelStats stats;
  std::vector<Tensor> params;
  std::vector<size_t> bucket_of;  // per parameter
  std::vector<int64_t> hook_ids;  // per parameter, with overlap
  std::vector<Bucket> buckets;
  bool training = false;
  bool armed = false;  // between begin_step and update
  double share = 1.0;
  size_t next_launch = 0;  // the next bucket to hand to the communication thread

  // The communication thread: reduces the buckets queued, in order.
  std::thread thread;
  std::mutex mutex;
  std::condition_variable work, finished;
  std::deque<size_t> queue;
  size_t reduced = 0;  // buckets of this step done
  bool stop = false;
  std::exception_ptr error;

  void communicate() {
    for (;;) {
      size_t index = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        work.wait(lock, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;
        index = queue.front();
        queue.pop_front();
      }
      Bucket& bucket = buckets[index];
      const auto start = Clock::now();
      try {
        internal::all_reduce_sum(bucket.buffer.data(), static_cast<int64_t>(bucket.buffer.size()));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
      const double spent = seconds_since(start);
      {
        std::lock_guard<std::mutex> lock(mutex);
        stats.reduce_seconds += spent;
        ++reduced;
      }
      finished.notify_all();
    }
  }

  // Copies the bucket's gradients, weighted by this rank's share, and queues it.
  void launch(size_t index) {
    Bucket& bucket = buckets[index];
    for (size_t k = 0; k < bucket.params.size(); ++k) {
      const Tensor grad = params[bucket.params[k]].grad();
      // The all-reduce sums whole tensors; a row-sparse gradient's rows differ by rank.
      NABLA_CHECK(!grad.is_row_sparse(), "DataParallel: parameter ", bucket.params[k],
                  " has a row-sparse gradient (an Embedding with sparse=true, or "
                  "sampled_softmax_loss); data-parallel training all-reduces dense gradients: "
                  "use sparse=false");
      float* out = bucket.buffer.data() + bucket.offsets[k];
      const int64_t n = params[bucket.params[k]].numel();
      float& count = bucket.buffer[static_cast<size_t>(bucket.numel) + k];
      if (!grad.defined()) {
        std::fill(out, out + n, 0.0F);
        count = 0;
        continue;
      }
      NABLA_CHECK(grad.dtype() == DType::f32 && grad.is_contiguous(),
                  "DataParallel: expected a contiguous f32 gradient");
      const float* g = grad.data<float>();
      const auto w = static_cast<float>(share);
      if (share == 1.0) {
        std::memcpy(out, g, static_cast<size_t>(n) * sizeof(float));
      } else {
        for (int64_t i = 0; i < n; ++i) out[i] = w * g[i];
      }
      count = 1;
    }
    stats.bytes += bucket.numel * static_cast<int64_t>(sizeof(float));
    {
      std::lock_guard<std::mutex> lock(mutex);
      queue.push_back(index);
    }
    work.notify_one();
  }

  // Launches the buckets from next_launch on whose gradients are all final.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      launch(next_launch++);
    }
  }

  void on_gradient(size_t param) {
    if (!armed) return;  // a backward outside the fit's steps (a callback's own)
    Bucket& bucket = buckets[bucket_of[param]];
    if (bucket.pending > 0) --bucket.pending;
    launch_ready();
  }

  void build_buckets(int64_t bucket_bytes) {
    buckets.clear();
    bucket_of.assign(params.size(), 0);
    for (size_t j = params.size(); j-- > 0;) {
      const int64_t bytes = params[j].numel() * static_cast<int64_t>(sizeof(float));
      if (buckets.empty() ||
          (!buckets.back().params.empty() &&
           buckets.back().numel * static_cast<int64_t>(sizeof(float)) + bytes > bucket_bytes)) {
        buckets.emplace_back();
      }
      Bucket& bucket = buckets.back();
      bucket_of[j] = buckets.size() - 1;
      bucket.params.push_back(j);
      bucket.offsets.push_back(bucket.numel);
      bucket.numel += params[j].numel();
    }
    for (Bucket& bucket : buckets) {
      bucket.buffer.assign(static_cast<size_t>(bucket.numel) + bucket.params.size(), 0.0F);
    }
  }

  void stop_thread() {
    if (!thread.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    work.notify_all();
    thread.join();
    stop = false;
  }
};

DataParallel::DataParallel(DataParallelOptions options) : state_(std::make_unique<State>()) {
  NABLA_CHECK(options.bucket_bytes > 0, "DataParallel: bucket_bytes must be positive, got ",
              options.bucket_bytes);
  state_->options = options;
}

DataParallel::~DataParallel() { end_training(); }

int DataParallel::rank() const { return dist::rank(); }
int DataParallel::size() const { return dist::size(); }
const DataParallelStats& DataParallel::stats() const { return state_->stats; }

void DataParallel::begin_training(nn::Module& module, optim::Optimizer& optimizer) {
  State& s = *state_;
  NABLA_CHECK(!s.training, "DataParallel: already attached to a fit that has not ended");
  s.params = optimizer.parameters();
  for (const auto& [name, param] : module.named_parameters()) {
    NABLA_CHECK(param.dtype() == DType::f32, "DataParallel: parameter '", name, "' is ",
                param.dtype(), "; data-parallel training takes f32 parameters");
  }
  // Rank 0's initial values everywhere.
  const auto start = Clock::now();
  broadcast(module, 0);
  s.stats.broadcast_seconds += seconds_since(start);
  s.build_buckets(s.options.bucket_bytes);
  if (s.options.overlap) {
    s.hook_ids.clear();
    for (size_t j = 0; j < s.params.size(); ++j) {
      State* state = &s;
      s.hook_ids.push_back(s.params[j].register_post_accumulate_grad_hook(
          [state, j](const Tensor& /*leaf*/) { state->on_gradient(j); }));
    }
  }
  s.error = nullptr;
  s.thread = std::thread([&s] { s.communicate(); });
  s.training = true;
}

void DataParallel::begin_step(double share) {
  State& s = *state_;
  NABLA_CHECK(s.training, "DataParallel::begin_step: no fit is running");
  NABLA_CHECK(share >= 0 && share <= 1, "DataParallel: a rank's share of a step lies in [0, 1], ",
              "got ", share);
  s.share = share;
  s.next_launch = 0;
  s.reduced = 0;
  for (State::Bucket& bucket : s.buckets) bucket.pending = bucket.params.size();
  s.armed = s.options.overlap;
}

void DataParallel::update(optim::Optimizer& optimizer) {
  State& s = *state_;
  NABLA_CHECK(s.training, "DataParallel::update: no fit is running");
  s.armed = false;
  // Whatever backward did not finish (parameters it never reached) goes now, in order.
  while (s.next_launch < s.buckets.size()) s.launch(s.next_launch++);
  const auto start = Clock::now();
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.finished.wait(lock, [&] { return s.reduced == s.buckets.size(); });
    if (s.error) std::rethrow_exception(s.error);
  }
  s.stats.wait_seconds += seconds_since(start);
  s.stats.buckets += static_cast<int64_t>(s.buckets.size());
  ++s.stats.steps;
  for (const State::Bucket& bucket : s.buckets) {
    for (size_t k = 0; k < bucket.params.size(); ++k) {
      Tensor& param = s.params[bucket.params[k]];
      if (bucket.buffer[static_cast<size_t>(bucket.numel) + k] == 0) {
        param.set_grad(Tensor());  // no rank reached it: the optimizer skips it
        continue;
      }
      Tensor grad = param.grad();
      if (!grad.defined()) {
        grad = empty(param.shape(), DType::f32);
        param.set_grad(grad);
      }
      std::memcpy(grad.data<float>(), bucket.buffer.data() + bucket.offsets[k],
                  static_cast<size_t>(param.numel()) * sizeof(float));
    }
  }
  optimizer.step();
}

void DataParallel::synchronize_buffers(nn::Module& module) {
  const double ranks = size();
  if (ranks == 1) return;
  for (auto& [name, buffer] : module.named_buffers()) {
    Tensor data = buffer.detach();
    if (is_floating(data.dtype())) {
      all_reduce_sum(data);
      NoGradGuard no_grad;
      data.copy_(data * (1.0 / ranks));
    } else {
      broadcast(data, 0);  // counts (batches tracked): rank 0's
    }
  }
}

void DataParallel::end_training() {
  State& s = *state_;
  if (!s.training) return;
  for (size_t j = 0; j < s.hook_ids.size(); ++j) {
    s.params[j].remove_post_accumulate_grad_hook(s.hook_ids[j]);
  }
  s.hook_ids.clear();
  s.stop_thread();
  s.armed = false;
  s.training = false;
}

void DataParallel::sum(std::vector<double>& values) { all_reduce_sum(values); }

}  // namespace nabla::dist
