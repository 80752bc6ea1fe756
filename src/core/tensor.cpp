#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/allocator.hpp"
#include "core/checked_size.hpp"
#include "core/dispatch.hpp"
#include "core/loop.hpp"
#include "core/tensor_impl.hpp"

namespace nabla {

// ---------------------------------------------------------------- errors, dtypes, shapes

namespace detail {
void throw_error(const std::string& message) { throw Error(message); }
}  // namespace detail

std::ostream& operator<<(std::ostream& os, const Shape& shape) {
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  return os << ']';
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i64:
      return "i64";
    case DType::u8:
      return "u8";
    case DType::boolean:
      return "bool";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i64:
      return 8;
    case DType::u8:
      return 1;
    case DType::boolean:
      return 1;
  }
  return 1;
}

bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }

std::ostream& operator<<(std::ostream& os, DType dtype) { return os << dtype_name(dtype); }

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    // Checked: an empty tensor's element count fits whatever its other sizes are, but its
    // strides may not ([0, 2^40, 2^40] from a file header); that is an Error, not a wrapped
    // stride. The product past the outermost axis is not a stride and is skipped.
    if (d > 0) s = core::checked_mul(s, shape[d], "the strides of shape ", shape);
  }
  return strides;
}

int64_t shape_numel(const Shape& shape) { return core::checked_numel(shape, "tensor"); }

// ---------------------------------------------------------------- storage and impl

Storage::Storage(const Shape& shape, DType type)
    : nbytes(static_cast<size_t>(
          core::checked_nbytes(shape_numel(shape), static_cast<int64_t>(dtype_size(type)),
                               "tensor of shape ", shape, " (", dtype_name(type), ")"))),
      dtype(type) {
  data = core::allocate(nbytes, shape, type);
}
Storage::~Storage() { core::deallocate(data, nbytes); }

TensorImpl::TensorImpl(std::shared_ptr<Storage> s, Shape sh, Shape st, int64_t off)
    : storage(std::move(s)), shape(std::move(sh)), strides(std::move(st)), offset(off) {
  numel = shape_numel(shape);
  dtype = storage->dtype;
}

Tensor make_tensor(const Shape& shape, DType dtype) {
  auto storage = std::make_shared<Storage>(shape, dtype);
  return Tensor(
      std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0));
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  return Tensor(std::make_shared<TensorImpl>(base.impl()->storage, shape, strides, offset));
}

// ---------------------------------------------------------------- Tensor metadata

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  NABLA_CHECK(impl != nullptr,
              "tensor: use of an undefined tensor (default-constructed, or a "
              "gradient that was never computed)");
  return *impl;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(shape().size()); }
int64_t Tensor::numel() const { return checked(impl_).numel; }
int64_t Tensor::offset() const { return checked(impl_).offset; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
void* Tensor::raw_data() const { return checked(impl_).data(); }

int64_t Tensor::size(int64_t axis) const {
  int64_t d = dim();
  NABLA_CHECK(axis >= -d && axis < d, "size: axis ", axis, " out of range for a tensor of shape ",
              shape(), " (expected -", d, " <= axis < ", d, ")");
  return shape()[axis < 0 ? axis + d : axis];
}

bool Tensor::is_contiguous() const {
  const auto& impl = checked(impl_);
  int64_t expected = 1;
  for (int64_t d = static_cast<int64_t>(impl.shape.size()) - 1; d >= 0; --d) {
    if (impl.shape[d] == 1) continue;
    if (impl.strides[d] != expected) return false;
    expected *= impl.shape[d];
  }
  return true;
}

bool Tensor::shares_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void Tensor::check_dtype(DType expected, const char* what) const {
  NABLA_CHECK(dtype() == expected, what, ": the tensor has dtype ", dtype(), ", but was read as ",
              expected, " (convert it with .to(DType::", expected, "))");
}

double Tensor::item() const {
  NABLA_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return dispatch_all(dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(*static_cast<const T*>(raw_data()));
  });
}

// ---------------------------------------------------------------- copies

namespace {
// dst[i] = convert(src[i]) over a common (broadcast) shape, any strides.
void copy_elements(const Tensor& dst, const Tensor& src_broadcast) {
  LoopOperands<2> ops;
  ops.ptrs = {static_cast<char*>(dst.raw_data()), static_cast<char*>(src_broadcast.raw_data())};
  ops.strides = {dst.strides(), src_broadcast.strides()};
  const int64_t dsize = dtype_size(dst.dtype()), ssize = dtype_size(src_broadcast.dtype());
  for (auto& s : ops.strides[0]) s *= dsize;
  for (auto& s : ops.strides[1]) s *= ssize;
  dispatch_all(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_all(src_broadcast.dtype(), [&](auto stag) {
      using S = decltype(stag);
      for_each_row<2>(dst.shape(), ops,
                      [](std::array<char*, 2> p, std::array<int64_t, 2> st, int64_t n) {
                        if (st[0] == sizeof(D) && st[1] == sizeof(S)) {
                          D* d = reinterpret_cast<D*>(p[0]);
                          const S* s = reinterpret_cast<const S*>(p[1]);
                          if constexpr (std::is_same_v<D, S>) {
                            std::memcpy(d, s, n * sizeof(D));
                          } else {
                            for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
                          }
                          return;
                        }
                        for (int64_t i = 0; i < n; ++i)
                          *reinterpret_cast<D*>(p[0] + i * st[0]) =
                              static_cast<D>(*reinterpret_cast<const S*>(p[1] + i * st[1]));
                      });
    });
  });
}

// Strides that make `src` read as if broadcast to `shape` (NumPy rules), or an Error.
Shape broadcast_strides(const Tensor& src, const Shape& shape, const char* op) {
  const int64_t nd = static_cast<int64_t>(shape.size()), sd = src.dim();
  NABLA_CHECK(sd <= nd, op, ": cannot broadcast shape ", src.shape(), " to ", shape);
  Shape strides(nd, 0);
  for (int64_t i = 0; i < sd; ++i) {
    int64_t d = nd - sd + i;
    if (src.shape()[i] == shape[d]) {
      strides[d] = src.strides()[i];
    } else {
      NABLA_CHECK(src.shape()[i] == 1, op, ": cannot broadcast shape ", src.shape(), " to ", shape,
                  " (axis ", i, " has size ", src.shape()[i], ", expected 1 or ", shape[d], ")");
    }
  }
  return strides;
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  Tensor view = make_view(src, shape(), broadcast_strides(src, shape(), "copy_"), src.offset());
  copy_elements(*this, view);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  dispatch_all(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T v = static_cast<T>(value);
    if (is_contiguous()) {
      T* p = static_cast<T*>(raw_data());
      std::fill(p, p + numel(), v);
      return;
    }
    LoopOperands<1> ops;
    ops.ptrs = {static_cast<char*>(raw_data())};
    ops.strides = {strides()};
    for (auto& s : ops.strides[0]) s *= sizeof(T);
    for_each_row<1>(shape(), ops,
                    [v](std::array<char*, 1> p, std::array<int64_t, 1> st, int64_t n) {
                      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * st[0]) = v;
                    });
  });
  return *this;
}

// Copies without recording: the differentiable versions live in src/ops/copy.cpp.
Tensor contiguous_data(const Tensor& t) {
  return !t.defined() || t.is_contiguous() ? t : contiguous_copy(t, t.dtype());
}

Tensor contiguous_copy(const Tensor& src, DType dtype) {
  Tensor out = make_tensor(src.shape(), dtype);
  copy_elements(out, src);
  return out;
}

// ---------------------------------------------------------------- printing

namespace {
void print_elements(std::ostream& os, const Tensor& t, int64_t axis, int64_t offset, int indent) {
  const int64_t n = t.shape()[axis];
  const bool last = axis == t.dim() - 1;
  constexpr int64_t kEdge = 3;  // elements shown at each end of a long axis, as PyTorch does
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge + 1 && i == kEdge) {
      os << (last ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - kEdge - 1;
      continue;
    }
    const int64_t pos = offset + i * t.strides()[axis];
    if (last) {
      dispatch_all(t.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T v = static_cast<const T*>(t.impl()->storage->data)[pos];
        if constexpr (std::is_same_v<T, bool>) {
          os << (v ? "True" : "False");
        } else if constexpr (std::is_floating_point_v<T>) {
          std::ostringstream s;
          s.precision(4);
          s << v;
          std::string text = s.str();
          if (std::isfinite(v) && text.find_first_of(".e") == std::string::npos) text += '.';
          os << text;
        } else {
          os << static_cast<int64_t>(v);
        }
      });
    } else {
      print_elements(os, t, axis + 1, pos, indent + 1);
    }
    if (i + 1 < n) os << (last ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}
}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  if (dim() == 0) {
    Tensor one = make_view(*this, {1}, {1}, offset());
    std::ostringstream inner;
    print_elements(inner, one, 0, offset(), 7);
    std::string s = inner.str();
    os << s.substr(1, s.size() - 2);
  } else {
    print_elements(os, *this, 0, offset(), 7);
  }
  os << ", shape=" << shape() << ", dtype=" << dtype();
  if (requires_grad()) os << ", requires_grad=True";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& tensor) {
  return os << tensor.to_string();
}

// ---------------------------------------------------------------- creation

Tensor empty(const Shape& shape, DType dtype) { return make_tensor(shape, dtype); }
Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = make_tensor(shape, dtype);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double end, DType dtype) { return arange(0, end, 1, dtype); }
Tensor arange(double start, double end, double step, DType dtype) {
  NABLA_CHECK(step != 0, "arange: step must be non-zero");
  const double count = std::ceil((end - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = make_tensor({n}, dtype);
  dispatch_numeric(dtype, "arange", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + i * step);
  });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  NABLA_CHECK(steps >= 0, "linspace: steps must be >= 0, got ", steps);
  Tensor t = make_tensor({steps}, dtype);
  dispatch_floating(dtype, "linspace", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    const double step = steps > 1 ? (end - start) / (steps - 1) : 0;
    // Like PyTorch, the second half counts back from `end` so that both ends are exact.
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < steps / 2 ? start + i * step : end - (steps - 1 - i) * step);
  });
  return t;
}

namespace {
template <class T>
Tensor from_values(const T* values, int64_t count, const Shape& shape) {
  Shape s = shape.empty() ? Shape{count} : shape;
  NABLA_CHECK(shape_numel(s) == count, "from_vector: ", count, " values do not fill shape ", s,
              " (", shape_numel(s), " elements)");
  Tensor t = make_tensor(s, dtype_of<T>());
  std::copy(values, values + count, t.data<T>());
  return t;
}
}  // namespace

Tensor from_vector(const std::vector<float>& v, const Shape& s) {
  return from_values(v.data(), static_cast<int64_t>(v.size()), s);
}
Tensor from_vector(const std::vector<double>& v, const Shape& s) {
  return from_values(v.data(), static_cast<int64_t>(v.size()), s);
}
Tensor from_vector(const std::vector<int64_t>& v, const Shape& s) {
  return from_values(v.data(), static_cast<int64_t>(v.size()), s);
}
Tensor from_vector(const std::vector<uint8_t>& v, const Shape& s) {
  return from_values(v.data(), static_cast<int64_t>(v.size()), s);
}
Tensor from_vector(const std::vector<bool>& v, const Shape& s) {
  std::vector<uint8_t> bytes(v.begin(), v.end());
  Tensor t = from_values(bytes.data(), static_cast<int64_t>(bytes.size()), s);
  Tensor b = make_tensor(t.shape(), DType::boolean);
  std::memcpy(b.raw_data(), t.raw_data(), bytes.size());
  return b;
}

// ---------------------------------------------------------------- threads

namespace {
int initial_threads() {
  const char* env = std::getenv("NABLA_NUM_THREADS");
  if (env == nullptr || *env == '\0') return omp_get_max_threads();
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(env, &end, 10);
  if (*end == '\0' && errno == 0 && n >= 1 && n <= INT_MAX) {
    omp_set_num_threads(static_cast<int>(n));
    return static_cast<int>(n);
  }
  // Read as the library loads, where an exception would end the program before main: a warning,
  // not the silent default that "abc" or "0" used to get.
  std::fprintf(stderr,
               "nabla: warning: NABLA_NUM_THREADS=%s is not a thread count (an integer >= 1); "
               "using %d threads\n",
               env, omp_get_max_threads());
  return omp_get_max_threads();
}
int& thread_count() {
  static int n = initial_threads();
  return n;
}
// Applies NABLA_NUM_THREADS when the library loads, before any kernel runs.
[[maybe_unused]] const int kThreadsAtLoad = thread_count();
}  // namespace

void set_num_threads(int n) {
  NABLA_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  thread_count() = n;
  omp_set_num_threads(n);
}
int get_num_threads() { return thread_count(); }

}  // namespace nabla
