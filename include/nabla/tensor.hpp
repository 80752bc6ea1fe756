// Tensors: n-dimensional strided arrays with shared storage, the autograd fields that make them
// differentiable, creation functions, random generators and thread settings. A `Tensor` is a cheap
// handle: copying it aliases the same data; `clone()` copies.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "nabla/error.hpp"

namespace nabla {

enum class DType : uint8_t { f32, f64, i64, u8, boolean };
enum class Device : uint8_t { cpu };

const char* dtype_name(DType dtype);  // "f32", "f64", "i64", "u8", "bool"
size_t dtype_size(DType dtype);
bool is_floating(DType dtype);
std::ostream& operator<<(std::ostream& os, DType dtype);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::u8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::boolean;
}

class TensorImpl;
class Generator;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  // --- metadata ---
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const;
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const;
  int64_t offset() const;  // in elements, into the storage
  DType dtype() const;
  Device device() const { return Device::cpu; }
  bool is_contiguous() const;
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  bool shares_storage(const Tensor& other) const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // --- data access (the dtype must match T, else Error) ---
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  void* raw_data() const;  // first element, any dtype
  template <class T>
  T item() const;  // one-element tensors
  template <class T>
  T at(std::initializer_list<int64_t> index) const;  // one element, any layout
  template <class T>
  std::vector<T> to_vector() const;  // all elements in row-major order
  double item() const;               // one element, converted to double

  // --- autograd ---
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward reaches it
  void set_grad(const Tensor& grad);
  void zero_grad(bool set_to_none = true);
  // Backpropagates from this tensor. A non-scalar needs an explicit `gradient` of its shape.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same data, cut from the graph
  // --- row-sparse gradients (Embedding with sparse=true, sampled_softmax_loss) ---
  // A row-sparse tensor stands for a [rows, ...] tensor of which only some rows are non-zero
  // (PyTorch's sparse COO gradient of nn.Embedding(sparse=True), coalesced): shape() is that of
  // the stored rows' values, [R, ...]; sparse_row_indices() their row numbers (i64 [R], unique,
  // ascending); dense_shape() the shape it stands for. Only gradients are row-sparse: the backward
  // engine sums them, optimizers that support them update the stored rows only, and everything
  // else that reads a gradient refuses them with an Error. Ops on it see the values.
  bool is_row_sparse() const;
  Tensor sparse_row_indices() const;  // undefined for a dense tensor
  Shape dense_shape() const;          // shape() for a dense tensor
  Tensor to_dense() const;            // a dense copy; this tensor when already dense
  // Leaves: `hook(leaf)` runs each time a backward has added this leaf's gradient into grad(),
  // once per backward, as soon as it is complete (PyTorch's register_post_accumulate_grad_hook).
  // Data-parallel training starts reducing gradients there while backward goes on. Returns an
  // id for remove_post_accumulate_grad_hook.
  int64_t register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook);
  void remove_post_accumulate_grad_hook(int64_t id);

  // --- views (share storage; differentiable) ---
  Tensor reshape(const Shape& shape) const;  // a view when the strides allow, else a copy
  Tensor view(const Shape& shape) const;     // always a view, Error when impossible
  Tensor flatten(int64_t start_axis = 0, int64_t end_axis = -1) const;
  Tensor transpose(int64_t axis0, int64_t axis1) const;
  Tensor t() const;  // 2-d transpose
  Tensor permute(const Shape& axes) const;
  Tensor slice(int64_t axis, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t axis, int64_t index) const;  // removes the axis
  Tensor squeeze() const;
  Tensor squeeze(int64_t axis) const;
  Tensor unsqueeze(int64_t axis) const;
  Tensor expand(const Shape& shape) const;

  // --- copies ---
  Tensor contiguous() const;  // this tensor when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;      // differentiable between floating types
  Tensor& copy_(const Tensor& src);  // in place, broadcasting src; not recorded
  Tensor& fill_(double value);       // in place; not recorded

  // --- a few common ops as methods (the free functions in ops.hpp are the full set) ---
  Tensor sum() const;
  Tensor mean() const;

  std::string to_string() const;  // like PyTorch: tensor([[1., 2.]], shape=[1, 2], dtype=f32)

 private:
  void check_dtype(DType expected, const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& tensor);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// --- creation ---
Tensor empty(const Shape& shape, DType dtype = DType::f32);
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
Tensor scalar_tensor(double value, DType dtype = DType::f32);  // 0-d
Tensor arange(double end, DType dtype = DType::i64);
Tensor arange(double start, double end, double step = 1, DType dtype = DType::i64);
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);
// From values in row-major order; `shape` defaults to 1-d. Error when the counts differ.
Tensor from_vector(const std::vector<float>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<uint8_t>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<bool>& values, const Shape& shape = {});

// The row-sparse tensor (see Tensor::is_row_sparse) sum_i e(row_ids[i]) x rows[i] of `dense_rows`
// rows: rows[i] ([K, ...] values) belongs to row row_ids[i] (i64 [K], in [0, dense_rows));
// rows of one id are summed in the order given, and the result's rows are sorted. Not recorded.
Tensor row_sparse(const Tensor& row_ids, const Tensor& rows, int64_t dense_rows);

// --- randomness ---
// A seeded generator (Philox-free, portable: the same seed gives the same numbers on any
// platform and compiler). Functions take a Generator* and use the global default when null.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }
  void manual_seed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  uint64_t next_u64();   // splitmix64/xoshiro256** stream
  double next_double();  // uniform in [0, 1)
  double next_normal();  // standard normal (Box-Muller, cached pair)
  // Uniform integer in [low, high], both included (next_u64 modulo the range: the bias is
  // negligible for ranges far below 2^64).
  int64_t next_int(int64_t low, int64_t high);
  std::vector<uint64_t> state() const;
  void set_state(const std::vector<uint64_t>& state);

 private:
  uint64_t seed_ = 0;
  uint64_t s_[4] = {0, 0, 0, 0};
  bool has_spare_ = false;
  double spare_ = 0;
};
Generator& default_generator();
void manual_seed(uint64_t seed);  // seeds the default generator

Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);  // N(0,1)
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32,
               Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, DType dtype = DType::f32,
              Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen = nullptr);  // i64
Tensor randperm(int64_t n, Generator* gen = nullptr);                                     // i64

// --- autograd mode ---
bool is_grad_enabled();
// Turns graph recording off in this thread for its lifetime (like torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// --- anomaly detection (src/autograd/anomaly.cpp) ---
// With the mode on (as torch.autograd.set_detect_anomaly), every op that records a backward node
// checks its outputs for NaN and Inf, and the backward engine checks the gradients each node
// returns; the first bad value is an Error naming the op, its forward or backward, the layer it
// ran in (Sequential and graph models name their layers as summary() does), the shapes and the
// index of the value. Ops that record nothing (no input needs a gradient, NoGradGuard) are not
// checked. The flag is global, not per thread: compute runs on OpenMP threads and a training loop
// may run on another thread than the one that turned the mode on. Off by default; the checks
// cost one pass over each output and gradient when on, nothing but a flag test when off.
void set_detect_anomaly(bool on);
bool is_anomaly_enabled();
// Turns anomaly detection on (or off) for a scope and restores the previous setting after.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool on = true);
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// --- threads ---
// One intra-op pool (OpenMP), shared with oneDNN. Starts from NABLA_NUM_THREADS when set.
void set_num_threads(int n);
int get_num_threads();

// --- denormal numbers ---
// With the flag on, arithmetic treats denormal floats (f32 below 1.2e-38 in magnitude) as 0, on
// the calling thread and the pool's threads (as torch.set_flush_denormal; false where the CPU has
// no such mode). x86 computes on denormals many times slower, and training reaches them (Adam's
// second moments, small gradients): the bench CNN's second epoch ran 7% slower without it.
// Model::fit, evaluate and predict run with it on, as Keras does on TensorFlow; ops called
// directly follow the caller's setting (off by default, as in PyTorch).
bool set_flush_denormal(bool on);
bool flush_denormal();  // the calling thread's setting
// Turns the flag on for a scope and restores it after.
class FlushDenormalGuard {
 public:
  FlushDenormalGuard();
  ~FlushDenormalGuard();
  FlushDenormalGuard(const FlushDenormalGuard&) = delete;
  FlushDenormalGuard& operator=(const FlushDenormalGuard&) = delete;

 private:
  bool previous_;
};

// --- allocator statistics (the caching allocator reuses freed blocks) ---
struct AllocatorStats {
  uint64_t system_allocations = 0;  // blocks obtained from the operating system
  uint64_t allocations = 0;         // requests served (cached or not)
  uint64_t bytes_in_use = 0;
  uint64_t bytes_cached = 0;
  uint64_t peak_bytes_in_use = 0;
};
AllocatorStats allocator_stats();
void empty_cache();  // returns cached blocks to the system

// ---- template definitions ----
template <class T>
T* Tensor::data() {
  check_dtype(dtype_of<T>(), "data");
  return static_cast<T*>(raw_data());
}
template <class T>
const T* Tensor::data() const {
  check_dtype(dtype_of<T>(), "data");
  return static_cast<const T*>(raw_data());
}
template <class T>
T Tensor::item() const {
  check_dtype(dtype_of<T>(), "item");
  NABLA_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return *static_cast<const T*>(raw_data());
}
template <class T>
T Tensor::at(std::initializer_list<int64_t> index) const {
  check_dtype(dtype_of<T>(), "at");
  NABLA_CHECK(static_cast<int64_t>(index.size()) == dim(), "at: expected ", dim(),
              " indices for shape ", shape(), ", got ", index.size());
  int64_t pos = 0, axis = 0;
  for (int64_t i : index) {
    NABLA_CHECK(i >= 0 && i < shape()[axis], "at: index ", i, " out of range for axis ", axis,
                " of shape ", shape());
    pos += i * strides()[axis++];
  }
  return static_cast<const T*>(raw_data())[pos];
}
template <class T>
std::vector<T> Tensor::to_vector() const {
  check_dtype(dtype_of<T>(), "to_vector");
  Tensor c = contiguous();
  const T* p = static_cast<const T*>(c.raw_data());
  return std::vector<T>(p, p + numel());
}

}  // namespace nabla
