#include "kernels/cpu/conv.hpp"

#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/loop.hpp"
#include "core/tensor_impl.hpp"
#include "kernels/cpu/bf16_round.hpp"
#include "kernels/cpu/conv_pool_direct.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/onednn.hpp"
#include "kernels/cpu/reduce.hpp"
#include "kernels/cpu/scratch.hpp"
#include "nabla/autocast.hpp"
#include "nabla/error.hpp"

namespace nabla::kernels::cpu {

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                         int64_t pad_before, int64_t pad_after) {
  const int64_t span = in + pad_before + pad_after - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Winograd F(4x4, 3x3) (oneDNN's avx512_core kernels) computes a 3x3 unit-stride convolution
// with 2.25x fewer multiplies, for the cost of transforming input, weight and output tiles: it
// pays where there are many channels to share the transforms and whole 4x4 tiles of output.
// Measured on a Zen 5 EPYC, 2 threads, batch 64, against oneDNN's direct kernels (ms, direct /
// Winograd; forward, input gradient, weight gradient; docs/architecture.md): 32 -> 64 channels
// 13x13 -> 11x11, the bench CNN's second layer, 0.90 / 0.52, 0.86 / 1.30, 0.93 / 0.63; 64 -> 64 at
// 8x8 0.84 / 0.55, 0.85 / 0.54, 0.98 / 0.73; 128 -> 128 at 4x4 0.83 / 0.71, 0.62 / 0.74,
// 1.09 / 0.50; but 16 -> 16 at 28x28 0.66 / 0.72 forward, 256 -> 256 at 2x2 2-3x slower in every
// pass, and batch 1 twice as slow. The input gradient runs the transposed problem: it needs many
// input channels too. Where oneDNN has no Winograd kernel (no AVX-512) the pass stays direct.
bool conv2d_winograd(const ConvGeometry& g, ConvPass pass) {
  const bool shape = g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 &&
                     g.dilation_h == 1 && g.dilation_w == 1 && g.groups == 1;
  const bool work =
      g.batch >= 8 && g.out_h >= 4 && g.out_w >= 4 && g.in_channels >= 32 && g.out_channels >= 64;
  const bool pass_ok =
      pass != ConvPass::backward_data || (g.in_channels >= 64 && g.out_h >= 6 && g.out_w >= 6);
  return shape && work && pass_ok && onednn::has_avx512();
}

namespace {

// ---- im2col + gemm ----

// The output positions [lo, hi) of an axis whose input position o * stride - pad + offset lies
// inside [0, in); the others read padding.
struct Range {
  int64_t lo, hi;
};

Range valid_outputs(int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t offset) {
  auto ceil_div = [](int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; };
  const int64_t lo = std::min(ceil_div(pad - offset, stride), out);
  const int64_t hi = std::min(ceil_div(in + pad - offset, stride), out);
  return {lo, std::max(lo, hi)};
}

// cols[(c, i, j), (oh, ow)] = x[c, oh * sh - pt + i * dh, ow * sw - pl + j * dw] (0 in padding):
// the [channels * kH * kW, out_h * out_w] matrix whose product with the weights is the output.
template <class T>
void im2col(const T* x, int64_t channels, const ConvGeometry& g, T* cols) {
  const int64_t out_w = g.out_w, plane = g.out_h * g.out_w;
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * g.in_h * g.in_w;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      const Range rows = valid_outputs(g.in_h, g.out_h, g.stride_h, g.pad_top, i * g.dilation_h);
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t shift = j * g.dilation_w - g.pad_left;
        const Range cols_range =
            valid_outputs(g.in_w, out_w, g.stride_w, g.pad_left, j * g.dilation_w);
        T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * plane;
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          T* out = row + oh * out_w;
          if (oh < rows.lo || oh >= rows.hi) {
            std::fill(out, out + out_w, T(0));
            continue;
          }
          const T* xr = xc + (oh * g.stride_h - g.pad_top + i * g.dilation_h) * g.in_w;
          std::fill(out, out + cols_range.lo, T(0));
          if (g.stride_w == 1) {
            std::copy(xr + cols_range.lo + shift, xr + cols_range.hi + shift, out + cols_range.lo);
          } else {
            for (int64_t ow = cols_range.lo; ow < cols_range.hi; ++ow)
              out[ow] = xr[ow * g.stride_w + shift];
          }
          std::fill(out + cols_range.hi, out + out_w, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: x[c, ih, iw] += every column entry that im2col read from it.
template <class T>
void col2im_add(const T* cols, int64_t channels, const ConvGeometry& g, T* x) {
  const int64_t out_w = g.out_w, plane = g.out_h * g.out_w;
  for (int64_t c = 0; c < channels; ++c) {
    T* xc = x + c * g.in_h * g.in_w;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      const Range rows = valid_outputs(g.in_h, g.out_h, g.stride_h, g.pad_top, i * g.dilation_h);
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const int64_t shift = j * g.dilation_w - g.pad_left;
        const Range cols_range =
            valid_outputs(g.in_w, out_w, g.stride_w, g.pad_left, j * g.dilation_w);
        const T* row = cols + ((c * g.kernel_h + i) * g.kernel_w + j) * plane;
        for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
          const T* in = row + oh * out_w;
          T* xr = xc + (oh * g.stride_h - g.pad_top + i * g.dilation_h) * g.in_w + shift;
          for (int64_t ow = cols_range.lo; ow < cols_range.hi; ++ow) xr[ow * g.stride_w] += in[ow];
        }
      }
    }
  }
}

// A 1x1 convolution with unit stride and no padding reads the input itself as its columns.
bool is_pointwise(const ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
         g.pad_top == 0 && g.pad_bottom == 0 && g.pad_left == 0 && g.pad_right == 0 &&
         g.in_h == g.out_h && g.in_w == g.out_w;
}

// The sizes of one group's products: weights [cout, k], columns [k, plane].
struct GroupDims {
  int64_t cin, cout, k, plane, in_plane;
  explicit GroupDims(const ConvGeometry& g)
      : cin(g.in_channels / g.groups),
        cout(g.out_channels / g.groups),
        k(cin * g.kernel_h * g.kernel_w),
        plane(g.out_h * g.out_w),
        in_plane(g.in_h * g.in_w) {}
};

// Multiply-adds below which a convolution stays on one thread: waking the pool costs more than
// the work (and gradient checks run thousands of tiny convolutions).
constexpr int64_t kParallelMacs = 1 << 18;

// Runs f(task) for task in [0, tasks): one task per thread when there are enough of them (each
// gemm then runs on one thread, as oneDNN does inside a parallel region), else one after the
// other with each gemm using the whole pool. Tasks write disjoint outputs, so the results do not
// depend on the thread count.
template <class F>
void for_each_task(const ConvGeometry& g, int64_t tasks, const F& f) {
  if (tasks > 1 && tasks >= omp_get_max_threads() && g.macs() >= kParallelMacs) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) f(t);
  } else {
    for (int64_t t = 0; t < tasks; ++t) f(t);
  }
}

// Where forward_im2col puts each image's output: into y, or, with a fused max pooling, into a
// per-thread buffer pooled into `pooled` (and `argmax`, unless null) while it is in cache.
template <class T>
struct ForwardOutput {
  T* y = nullptr;
  const Pool2dShape* pool = nullptr;
  T* pooled = nullptr;
  int32_t* argmax = nullptr;
};

template <class T>
void forward_im2col(const ConvGeometry& g, const T* x, const T* weight, const T* bias,
                    const ForwardOutput<T>& out, bool relu) {
  const GroupDims d(g);
  const bool pointwise = is_pointwise(g);
  for_each_task(g, g.batch * g.groups, [&](int64_t task) {
    const int64_t n = task / g.groups, group = task % g.groups;
    const T* xg = x + (n * g.in_channels + group * d.cin) * d.in_plane;
    const int64_t first_plane = n * g.out_channels + group * d.cout;
    T* yg = out.pool != nullptr ? scratch<T, Scratch::image_output>(d.cout * d.plane)
                                : out.y + first_plane * d.plane;
    const T* cols = xg;
    if (!pointwise) {
      T* buffer = scratch<T, Scratch::columns>(d.k * d.plane);
      im2col(xg, d.cin, g, buffer);
      cols = buffer;
    }
    T beta = 0;
    if (bias != nullptr) {  // the output starts as the bias and the product adds onto it
      for (int64_t o = 0; o < d.cout; ++o)
        std::fill(yg + o * d.plane, yg + (o + 1) * d.plane, bias[group * d.cout + o]);
      beta = 1;
    }
    gemm(false, false, d.cout, d.plane, d.k, T(1), weight + group * d.cout * d.k, d.k, cols,
         d.plane, beta, yg, d.plane);
    if (relu) relu_in_place(yg, d.cout * d.plane);  // while the group's output is in cache
    if (out.pool != nullptr) {
      const int64_t pooled_plane = out.pool->out_h * out.pool->out_w;
      for (int64_t o = 0; o < d.cout; ++o) {
        const int64_t at = (first_plane + o) * pooled_plane;
        max_pool2d_plane(*out.pool, yg + o * d.plane, out.pooled + at,
                         out.argmax != nullptr ? out.argmax + at : nullptr);
      }
    }
  });
}

template <class T>
void backward_data_im2col(const ConvGeometry& g, const T* grad_y, const T* weight, T* grad_x) {
  const GroupDims d(g);
  const bool pointwise = is_pointwise(g);
  for_each_task(g, g.batch * g.groups, [&](int64_t task) {
    const int64_t n = task / g.groups, group = task % g.groups;
    const T* gy = grad_y + (n * g.out_channels + group * d.cout) * d.plane;
    T* gx = grad_x + (n * g.in_channels + group * d.cin) * d.in_plane;
    const T* w = weight + group * d.cout * d.k;
    if (pointwise) {
      gemm(true, false, d.k, d.plane, d.cout, T(1), w, d.k, gy, d.plane, T(0), gx, d.plane);
      return;
    }
    T* cols = scratch<T, Scratch::columns>(d.k * d.plane);
    gemm(true, false, d.k, d.plane, d.cout, T(1), w, d.k, gy, d.plane, T(0), cols, d.plane);
    std::fill(gx, gx + d.cin * d.in_plane, T(0));
    col2im_add(cols, d.cin, g, gx);
  });
}

// relu's gradient: grad where the relu's output is positive, else 0.
template <class T>
void relu_mask(int64_t n, const T* grad, const T* relu_out, T* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = relu_out[i] > T(0) ? grad[i] : T(0);
}

// Each image's output gradient as the weight gradient reads it: grad_y itself, masked where a
// fused relu's output is not positive, or rebuilt from the gradient of a fused max pooling.
template <class T>
struct OutputGrad {
  const T* grad;                // [N, C_out, out_h, out_w]; with `pool`, the pooled gradient
  const T* relu_out = nullptr;  // the output of a fused relu (pooled, with `pool`), or null
  const Pool2dShape* pool = nullptr;
  const int32_t* argmax = nullptr;

  // The gradient of image n's channels [c0, c0 + count), [count, out_h * out_w]: grad itself or
  // `buffer` filled.
  const T* image(const ConvGeometry& g, int64_t n, int64_t c0, int64_t count, T* buffer) const {
    const int64_t plane = g.out_h * g.out_w, first = n * g.out_channels + c0;
    if (pool == nullptr) {
      if (relu_out == nullptr) return grad + first * plane;
      relu_mask(count * plane, grad + first * plane, relu_out + first * plane, buffer);
      return buffer;
    }
    const int64_t pooled_plane = pool->out_h * pool->out_w;
    for (int64_t c = 0; c < count; ++c) {
      const int64_t at = (first + c) * pooled_plane;
      max_pool2d_backward_plane(*pool, grad + at, argmax + at, buffer + c * plane,
                                relu_out != nullptr ? relu_out + at : nullptr);
    }
    return buffer;
  }
};

// The batch is split into this many fixed chunks (fewer for small batches), each summed into its
// own partial weight gradient; the partials are then added in chunk order. The result is thus the
// same for any thread count.
constexpr int64_t kWeightGradChunks = 8;

// Sums the chunks' partial weight gradients in chunk order and transposes each group's
// [rows, cout] block (rows = k, or k + 1 with the bias row last) into the [cout, k] weights and
// the bias (its row skipped when grad_bias is null).
template <class T>
void sum_weight_grad_partials(const ConvGeometry& g, const T* partials, int64_t chunks,
                              int64_t rows, T* grad_weight, T* grad_bias) {
  const GroupDims d(g);
  const int64_t block = rows * d.cout, size = block * g.groups;
  parallel_for_if(chunks * size >= (1 << 16), size, [&](int64_t e) {
    T sum = partials[e];
    for (int64_t chunk = 1; chunk < chunks; ++chunk) sum += partials[chunk * size + e];
    const int64_t group = e / block, r = e % block / d.cout, o = group * d.cout + e % d.cout;
    if (r < d.k) {
      grad_weight[o * d.k + r] = sum;
    } else if (grad_bias != nullptr) {
      grad_bias[o] = sum;
    }
  });
}

// Per chunk and group, partial[k, o] = cols @ grad_y^T summed over the chunk's samples: the
// transposed product, whose long inner dimension (output positions) and wide output suit gemm
// even when the kernel has few entries (k = 9 for a 3x3 kernel on one channel). With a bias, the
// columns get a last row of ones, so that the same product also yields the bias gradient.
template <class T>
void backward_weights_im2col(const ConvGeometry& g, const T* x, const OutputGrad<T>& grad_y,
                             T* grad_weight, T* grad_bias) {
  const GroupDims d(g);
  const int64_t rows = d.k + (grad_bias != nullptr ? 1 : 0);
  const int64_t block = rows * d.cout, size = block * g.groups;
  const int64_t chunks = std::min(g.batch, kWeightGradChunks);
  T* partials = scratch<T, Scratch::weight_partials>(chunks * size);
  parallel_for_if(chunks > 1 && g.macs() >= kParallelMacs, chunks, [&](int64_t chunk) {
    T* cols = scratch<T, Scratch::columns>(rows * d.plane);
    std::fill(cols + d.k * d.plane, cols + rows * d.plane, T(1));
    const int64_t begin = chunk * g.batch / chunks, end = (chunk + 1) * g.batch / chunks;
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t group = 0; group < g.groups; ++group) {
        im2col(x + (n * g.in_channels + group * d.cin) * d.in_plane, d.cin, g, cols);
        const T* gy = grad_y.image(g, n, group * d.cout, d.cout,
                                   scratch<T, Scratch::image_grad>(d.cout * d.plane));
        gemm(false, true, rows, d.cout, d.plane, T(1), cols, d.plane, gy, d.plane,
             n == begin ? T(0) : T(1), partials + chunk * size + group * block, d.cout);
      }
    }
  });
  sum_weight_grad_partials(g, partials, chunks, rows, grad_weight, grad_bias);
}

// The weight gradient of a first layer with a fused pooling on the direct kernels
// (conv_pool_direct.hpp), in the same fixed chunks as the im2col path.
void backward_weights_direct_pool(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                                  const float* grad_pooled, const int32_t* argmax,
                                  const float* relu_pooled, float* grad_weight, float* grad_bias) {
  const int64_t rows = g.in_channels * g.kernel_h * g.kernel_w + 1, size = rows * g.out_channels;
  const int64_t chunks = std::min(g.batch, kWeightGradChunks);
  const int64_t in = g.in_channels * g.in_h * g.in_w,
                out = pool.planes / g.batch * pool.out_h * pool.out_w;
  float* partials = scratch<float, Scratch::weight_partials>(chunks * size);
  parallel_for_if(chunks > 1 && g.macs() >= kParallelMacs, chunks, [&](int64_t chunk) {
    float* partial = partials + chunk * size;
    std::fill(partial, partial + size, 0.0f);
    for (int64_t n = chunk * g.batch / chunks; n < (chunk + 1) * g.batch / chunks; ++n) {
      direct_conv_pool_weight_grad(g, pool, x + n * in, grad_pooled + n * out, argmax + n * out,
                                   relu_pooled != nullptr ? relu_pooled + n * out : nullptr,
                                   partial);
    }
  });
  sum_weight_grad_partials(g, partials, chunks, rows, grad_weight, grad_bias);
}

// ---- oneDNN primitives ----

using dnnl::memory;

// nabla's layouts: NCHW data, OIHW weights ([C_out, C_in / groups, kH, kW] is goihw when split
// into groups: the same bytes), and the bias.
memory::desc data_desc(int64_t batch, int64_t channels, int64_t h, int64_t w) {
  return memory::desc({batch, channels, h, w}, memory::data_type::f32, memory::format_tag::nchw);
}
memory::desc input_desc(const ConvGeometry& g) {
  return data_desc(g.batch, g.in_channels, g.in_h, g.in_w);
}
memory::desc output_desc(const ConvGeometry& g) {
  return data_desc(g.batch, g.out_channels, g.out_h, g.out_w);
}
memory::desc weights_desc(const ConvGeometry& g) {
  const int64_t cout = g.out_channels / g.groups, cin = g.in_channels / g.groups;
  if (g.groups == 1)
    return memory::desc({cout, cin, g.kernel_h, g.kernel_w}, memory::data_type::f32,
                        memory::format_tag::oihw);
  return memory::desc({g.groups, cout, cin, g.kernel_h, g.kernel_w}, memory::data_type::f32,
                      memory::format_tag::goihw);
}
memory::desc bias_desc(const ConvGeometry& g) {
  return memory::desc({g.out_channels}, memory::data_type::f32, memory::format_tag::x);
}
// The same dimensions with the layout left to the primitive (blocked, e.g. nChw8c on AVX2), in
// bf16 for a pass's inputs inside an Autocast scope (its outputs stay f32).
memory::desc any_layout(const memory::desc& plain, bool bf16 = false) {
  return memory::desc(plain.dims(), bf16 ? memory::data_type::bf16 : memory::data_type::f32,
                      memory::format_tag::any);
}

// A primitive is specific to its geometry, pass, bias, layouts, and the thread count it was
// created for (oneDNN sizes its per-thread work at creation).
struct PrimitiveKey {
  ConvGeometry geometry;
  ConvPass pass;
  bool bias;
  bool blocked;
  bool bf16;  // blocked only: the inputs rounded to bf16 (nabla/autocast.hpp)
  bool relu;  // forward only: relu as a post-op on the output
  int threads;
  auto operator<=>(const PrimitiveKey&) const = default;
};

// The convolution's memory arguments as nabla holds them: oneDNN argument id, plain layout, and
// whether the primitive writes it.
struct ArgSpec {
  int id;
  memory::desc plain;
  bool output;
};

std::vector<ArgSpec> arg_specs(const ConvGeometry& g, ConvPass pass, bool bias) {
  switch (pass) {
    case ConvPass::forward: {
      std::vector<ArgSpec> specs{{DNNL_ARG_SRC, input_desc(g), false},
                                 {DNNL_ARG_WEIGHTS, weights_desc(g), false},
                                 {DNNL_ARG_DST, output_desc(g), true}};
      if (bias) specs.push_back({DNNL_ARG_BIAS, bias_desc(g), false});
      return specs;
    }
    case ConvPass::backward_data:
      return {{DNNL_ARG_DIFF_DST, output_desc(g), false},
              {DNNL_ARG_WEIGHTS, weights_desc(g), false},
              {DNNL_ARG_DIFF_SRC, input_desc(g), true}};
    case ConvPass::backward_weights: {
      std::vector<ArgSpec> specs{{DNNL_ARG_SRC, input_desc(g), false},
                                 {DNNL_ARG_DIFF_DST, output_desc(g), false},
                                 {DNNL_ARG_DIFF_WEIGHTS, weights_desc(g), true}};
      if (bias) specs.push_back({DNNL_ARG_DIFF_BIAS, bias_desc(g), true});
      return specs;
    }
  }
  return {};
}

// A primitive and, for each argument whose chosen layout is not nabla's, the reorder into it
// (inputs) or out of it (outputs). With plain layouts there are none: buffers are used in place.
struct CachedConv {
  struct Arg {
    ArgSpec spec;
    memory::desc layout;
    dnnl::primitive reorder;  // empty when layout == spec.plain
  };
  dnnl::primitive primitive;
  std::vector<Arg> args;
};

dnnl::convolution_forward::primitive_desc forward_pd(const ConvGeometry& g, bool bias, bool blocked,
                                                     bool bf16, bool relu = false,
                                                     bool winograd = false) {
  auto input = [&](const memory::desc& d) { return blocked ? any_layout(d, bf16) : d; };
  auto output = [&](const memory::desc& d) { return blocked ? any_layout(d) : d; };
  const memory::dims strides{g.stride_h, g.stride_w}, padding_l{g.pad_top, g.pad_left},
      padding_r{g.pad_bottom, g.pad_right}, dilates{g.dilation_h - 1, g.dilation_w - 1};
  const auto kind = dnnl::prop_kind::forward_training;
  const auto algorithm =
      winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
  const auto desc =
      bias ? dnnl::convolution_forward::desc(
                 kind, algorithm, input(input_desc(g)), input(weights_desc(g)), bias_desc(g),
                 output(output_desc(g)), strides, dilates, padding_l, padding_r)
           : dnnl::convolution_forward::desc(kind, algorithm, input(input_desc(g)),
                                             input(weights_desc(g)), output(output_desc(g)),
                                             strides, dilates, padding_l, padding_r);
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  return dnnl::convolution_forward::primitive_desc(desc, attr, onednn::engine());
}

CachedConv create_conv(const PrimitiveKey& key, bool winograd) {
  const ConvGeometry& g = key.geometry;
  // A pass's inputs in bf16 with Autocast, its outputs (and the bias) in f32.
  auto input = [&](const memory::desc& d) { return key.blocked ? any_layout(d, key.bf16) : d; };
  auto output = [&](const memory::desc& d) { return key.blocked ? any_layout(d) : d; };
  const memory::dims strides{g.stride_h, g.stride_w}, padding_l{g.pad_top, g.pad_left},
      padding_r{g.pad_bottom, g.pad_right}, dilates{g.dilation_h - 1, g.dilation_w - 1};
  const auto algorithm =
      winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
  CachedConv conv;
  dnnl::primitive_desc_base pd;
  if (key.pass == ConvPass::forward) {
    const auto fwd = forward_pd(g, key.bias, key.blocked, key.bf16, key.relu, winograd);
    conv.primitive = dnnl::convolution_forward(fwd);
    pd = fwd;
  } else if (key.pass == ConvPass::backward_data) {
    const dnnl::convolution_backward_data::desc desc(algorithm, output(input_desc(g)),
                                                     input(weights_desc(g)), input(output_desc(g)),
                                                     strides, dilates, padding_l, padding_r);
    const dnnl::convolution_backward_data::primitive_desc bwd(
        desc, onednn::engine(), forward_pd(g, false, key.blocked, key.bf16, false, winograd));
    conv.primitive = dnnl::convolution_backward_data(bwd);
    pd = bwd;
  } else {
    const auto desc =
        key.bias ? dnnl::convolution_backward_weights::desc(
                       algorithm, input(input_desc(g)), output(weights_desc(g)), bias_desc(g),
                       input(output_desc(g)), strides, dilates, padding_l, padding_r)
                 : dnnl::convolution_backward_weights::desc(
                       algorithm, input(input_desc(g)), output(weights_desc(g)),
                       input(output_desc(g)), strides, dilates, padding_l, padding_r);
    const dnnl::convolution_backward_weights::primitive_desc bwd(
        desc, onednn::engine(), forward_pd(g, key.bias, key.blocked, key.bf16, false, winograd));
    conv.primitive = dnnl::convolution_backward_weights(bwd);
    pd = bwd;
  }
  const dnnl::engine& engine = onednn::engine();
  for (const ArgSpec& spec : arg_specs(g, key.pass, key.bias)) {
    CachedConv::Arg arg{spec, pd.query_md(dnnl::query::exec_arg_md, spec.id), {}};
    if (arg.layout != spec.plain) {
      arg.reorder =
          spec.output
              ? dnnl::reorder(dnnl::reorder::primitive_desc(engine, arg.layout, engine, spec.plain))
              : dnnl::reorder(
                    dnnl::reorder::primitive_desc(engine, spec.plain, engine, arg.layout));
    }
    conv.args.push_back(arg);
  }
  return conv;
}

// The primitive for a configuration, created at its first use: in f32 on blocked layouts with
// Winograd where that pays and oneDNN has it, else direct.
CachedConv cached_conv(const PrimitiveKey& key) {
  static auto* const cache = new onednn::PrimitiveCache<PrimitiveKey, CachedConv>;
  return cache->get(key, [](const PrimitiveKey& k) {
    if (k.blocked && !k.bf16 && conv2d_winograd(k.geometry, k.pass)) {
      try {
        return create_conv(k, true);
      } catch (const dnnl::error& e) {
        if (e.status != dnnl_unimplemented) throw;
      }
    }
    return create_conv(k, false);
  });
}

// A pass's buffer: in nabla's plain layout (reordered in or out where the primitive's differs),
// or already in the primitive's own (a fused max pooling's blocked output and gradient).
struct Operand {
  Operand(const float* data) : data(data) {}  // NOLINT(google-explicit-constructor): plain
  Operand(const float* data, bool in_primitive_layout)
      : data(data), in_primitive_layout(in_primitive_layout) {}
  const float* data;
  bool in_primitive_layout = false;
};

// Runs a pass on nabla's buffers (`buffers`: argument id -> data). Plain arguments in another
// layout go through temporaries from the caching allocator, reordered in before and out after.
void execute(const char* what, const ConvGeometry& g, ConvPass pass, bool bias, bool blocked,
             bool bf16, bool relu, const std::unordered_map<int, Operand>& buffers) {
  try {
    const CachedConv conv =
        cached_conv({g, pass, bias, blocked, bf16, relu, omp_get_max_threads()});
    const dnnl::engine& engine = onednn::engine();
    dnnl::stream& stream = onednn::stream();
    std::unordered_map<int, memory> args;
    std::vector<Tensor> temporaries;
    std::vector<std::pair<const CachedConv::Arg*, std::pair<memory, memory>>> outputs;
    for (const CachedConv::Arg& arg : conv.args) {
      const Operand& operand = buffers.at(arg.spec.id);
      auto* data = const_cast<float*>(operand.data);
      if (operand.in_primitive_layout) {
        args.emplace(arg.spec.id, memory(arg.layout, engine, data));
        continue;
      }
      memory user(arg.spec.plain, engine, data);
      if (!arg.reorder) {
        args.emplace(arg.spec.id, user);
        continue;
      }
      const int64_t floats = static_cast<int64_t>(arg.layout.get_size() / sizeof(float)) + 1;
      temporaries.push_back(make_tensor({floats}, DType::f32));
      memory inner(arg.layout, engine, temporaries.back().raw_data());
      if (arg.spec.output) {
        outputs.push_back({&arg, {inner, user}});
      } else {
        arg.reorder.execute(stream, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}});
      }
      args.emplace(arg.spec.id, inner);
    }
    conv.primitive.execute(stream, args);
    for (auto& [arg, from_to] : outputs)
      arg->reorder.execute(stream, {{DNNL_ARG_FROM, from_to.first}, {DNNL_ARG_TO, from_to.second}});
    stream.wait();
  } catch (const dnnl::error& e) {
    onednn::throw_error(what, e);
  }
}

// The implementations: im2col + gemm, oneDNN on nabla's plain layouts, oneDNN on its blocked
// layouts in f32, and the same with the inputs rounded to bf16 (inside an Autocast scope).
enum class Path { im2col, onednn_plain, onednn_blocked, onednn_bf16 };

void forward_onednn(const ConvGeometry& g, const float* x, const float* weight, const float* bias,
                    float* y, Path path, bool relu) {
  std::unordered_map<int, Operand> buffers{
      {DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, weight}, {DNNL_ARG_DST, y}};
  if (bias != nullptr) buffers.emplace(DNNL_ARG_BIAS, bias);
  execute("conv2d forward", g, ConvPass::forward, bias != nullptr, path != Path::onednn_plain,
          path == Path::onednn_bf16, relu, buffers);
}

void backward_data_onednn(const ConvGeometry& g, const float* grad_y, const float* weight,
                          float* grad_x, Path path) {
  execute("conv2d backward (input)", g, ConvPass::backward_data, false, path != Path::onednn_plain,
          path == Path::onednn_bf16, false,
          {{DNNL_ARG_DIFF_DST, grad_y}, {DNNL_ARG_WEIGHTS, weight}, {DNNL_ARG_DIFF_SRC, grad_x}});
}

void backward_weights_onednn(const ConvGeometry& g, const float* x, const float* grad_y,
                             float* grad_weight, float* grad_bias, Path path) {
  std::unordered_map<int, Operand> buffers{
      {DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, grad_y}, {DNNL_ARG_DIFF_WEIGHTS, grad_weight}};
  if (grad_bias != nullptr) buffers.emplace(DNNL_ARG_DIFF_BIAS, grad_bias);
  execute("conv2d backward (weights)", g, ConvPass::backward_weights, grad_bias != nullptr,
          path != Path::onednn_plain, path == Path::onednn_bf16, false, buffers);
}

// ---- choosing the implementation ----

// The implementation of a pass. `automatic` follows the measurements of bench/bench_kernels.cpp
// (BM_Conv2dKernel) at a small CNN's shapes, summarized in docs/architecture.md: oneDNN's direct
// convolution on blocked layouts, reorders included, is the fastest forward and input gradient
// when groups have many channels (32 -> 64: 15-40% ahead of im2col + sgemm) but up to 9x slower
// than im2col with few (1 -> 32), and for depthwise convolutions (below); for the weight gradient
// of many channels it is also the fastest with its AVX-512 kernels (28% ahead) but 15% behind
// im2col with its AVX2 ones; oneDNN on plain layouts (its own gemm convolution) is never the
// fastest.
Path choose(const ConvGeometry& g, ConvPass pass, ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::onednn:
      return Path::onednn_plain;
    case ConvAlgorithm::onednn_blocked:
      return Path::onednn_blocked;
    case ConvAlgorithm::im2col:
      return Path::im2col;
    case ConvAlgorithm::automatic:
      break;
  }
  constexpr int64_t kMinBlockedChannels = 16;
  const bool wide = g.groups == 1 && g.in_channels >= kMinBlockedChannels &&
                    g.out_channels >= kMinBlockedChannels;
  // Depthwise (a group per input channel, MobileNet's 3x3): oneDNN's depthwise kernels on the
  // blocked layout take 3-25x less time than im2col, which runs one [9, H*W] x [9] product per
  // channel (measured on one thread, batch 64, 3x3, C 32-256 at 28x28 to 7x7, strides 1 and 2:
  // every pass, forward, input and weight gradient; docs/architecture.md).
  const bool depthwise =
      g.groups > 1 && g.groups == g.in_channels && g.in_channels >= kMinBlockedChannels;
  // A pointwise convolution (1x1, unit stride, no padding: MobileNet's and DenseNet's 1x1
  // layers) is one product per image straight on NCHW, no columns to build, while the blocked
  // path reorders the input and the output: from 14x14 up the product is faster forward and for
  // the input gradient; at 7x7 the products are too small and the blocked path wins
  // (docs/architecture.md).
  constexpr int64_t kMinPointwisePlane = 14 * 14;
  const bool plain_pointwise = is_pointwise(g) && g.out_h * g.out_w >= kMinPointwisePlane &&
                               pass != ConvPass::backward_weights;
  // oneDNN rejects negative padding (a transposed convolution's output_padding beyond stride).
  const bool padding_ok = g.pad_bottom >= 0 && g.pad_right >= 0;
  // Inside an Autocast scope for bf16, on the calling thread, every pass oneDNN can run takes its
  // bf16 kernels (on blocked layouts: the pointwise products would stay f32).
  if ((wide || depthwise) && padding_ok && !omp_in_parallel() &&
      compute_precision() == Precision::bf16)
    return Path::onednn_bf16;
  const bool pass_ok = pass != ConvPass::backward_weights || onednn::has_avx512();
  return (wide || depthwise) && !plain_pointwise && padding_ok && pass_ok ? Path::onednn_blocked
                                                                          : Path::im2col;
}

// f64 has no oneDNN convolution; asking for one is a caller's error.
void check_f64_algorithm(ConvAlgorithm algorithm) {
  NABLA_CHECK(algorithm == ConvAlgorithm::automatic || algorithm == ConvAlgorithm::im2col,
              "conv2d: the oneDNN convolution supports f32 only, got f64");
}

// ---- a fused max pooling on oneDNN's blocked layouts ----

const CachedConv::Arg& find_arg(const CachedConv& conv, int id) {
  for (const CachedConv::Arg& arg : conv.args)
    if (arg.spec.id == id) return arg;
  detail::throw_error(detail::str("conv2d: no argument ", id, " in the cached primitive"));
}

int64_t floats_in(const memory::desc& layout) {
  return static_cast<int64_t>(layout.get_size() / sizeof(float));
}

// The channel block b of `layout` when it is [N, C / b, H, W, b] with b = 16 or 8 dividing C
// (oneDNN's nChw16c, nChw8c; f32, or bf16 for a pass's inputs in an Autocast scope), the layout
// the blocked pooling kernels read and write in f32; else 0.
int64_t channel_block(const memory::desc& layout, int64_t batch, int64_t channels, int64_t h,
                      int64_t w) {
  for (const auto& [block, tag] :
       {std::pair{int64_t{16}, memory::format_tag::nChw16c}, {8, memory::format_tag::nChw8c}}) {
    if (channels % block == 0 && block <= kMaxPoolBlock &&
        layout == memory::desc({batch, channels, h, w}, layout.data_type(), tag))
      return block;
  }
  return 0;
}

bool is_bf16(const memory::desc& layout) { return layout.data_type() == memory::data_type::bf16; }

// The forward on the blocked path (f32, or with its inputs in bf16: `bf16`) with the pooling
// reading the primitive's blocked f32 output (no reorder to NCHW) and, for the backward, the input
// kept as the primitive read it. False (nothing done) where the output's layout is not
// channel-blocked.
bool forward_max_pool_blocked(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                              const float* weight, const float* bias, float* pooled,
                              int32_t* argmax, bool relu, bool bf16, ConvMaxPoolState* state) {
  const CachedConv conv =
      cached_conv({g, ConvPass::forward, bias != nullptr, true, bf16, relu, omp_get_max_threads()});
  const memory::desc& dst_layout = find_arg(conv, DNNL_ARG_DST).layout;
  const int64_t block = channel_block(dst_layout, g.batch, g.out_channels, g.out_h, g.out_w);
  if (block == 0 || is_bf16(dst_layout)) return false;
  Tensor y = make_tensor({floats_in(dst_layout)}, DType::f32);
  Operand src = x;
  const CachedConv::Arg& src_arg = find_arg(conv, DNNL_ARG_SRC);
  const int64_t input_block = channel_block(src_arg.layout, g.batch, g.in_channels, g.in_h, g.in_w);
  if (state != nullptr && src_arg.reorder && input_block > 0) {
    // In f32 elements; bf16 values take two bytes each (+1: an odd count of them).
    state->blocked_input = make_tensor({floats_in(src_arg.layout) + 1}, DType::f32);
    state->input_block = input_block;
    state->input_bf16 = is_bf16(src_arg.layout);
    const dnnl::engine& engine = onednn::engine();
    src_arg.reorder.execute(
        onednn::stream(),
        {{DNNL_ARG_FROM, memory(src_arg.spec.plain, engine, const_cast<float*>(x))},
         {DNNL_ARG_TO, memory(src_arg.layout, engine, state->blocked_input.raw_data())}});
    src = Operand(state->blocked_input.data<float>(), true);
  }
  std::unordered_map<int, Operand> buffers{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weight}, {DNNL_ARG_DST, {y.data<float>(), true}}};
  if (bias != nullptr) buffers.emplace(DNNL_ARG_BIAS, bias);
  execute("conv2d forward", g, ConvPass::forward, bias != nullptr, true, bf16, relu, buffers);
  max_pool2d_forward_blocked(pool, g.out_channels, block, y.data<float>(), pooled, argmax);
  return true;
}

// The backward on the blocked path: the output gradient rebuilt straight into the blocked layout
// that both gradient passes read (in f32, then rounded to bf16 once for both where their inputs
// are bf16), and the forward's blocked input reused. False (nothing done) where a pass is on
// neither blocked path, the passes' paths or layouts differ.
bool backward_max_pool_blocked(const ConvGeometry& g, const Pool2dShape& pool,
                               const ConvMaxPoolState& state, const float* x, const float* weight,
                               const float* grad_pooled, const int32_t* argmax,
                               const float* relu_pooled, float* grad_x, float* grad_weight,
                               float* grad_bias) {
  if (grad_x == nullptr && grad_weight == nullptr) return false;  // the bias alone: plain
  std::vector<Path> paths;
  if (grad_x != nullptr)
    paths.push_back(choose(g, ConvPass::backward_data, ConvAlgorithm::automatic));
  if (grad_weight != nullptr)
    paths.push_back(choose(g, ConvPass::backward_weights, ConvAlgorithm::automatic));
  for (const Path path : paths)
    if (path != paths[0] || (path != Path::onednn_blocked && path != Path::onednn_bf16))
      return false;
  const bool bf16 = paths[0] == Path::onednn_bf16;
  const int threads = omp_get_max_threads();
  const bool bias = grad_bias != nullptr;
  std::vector<memory::desc> diff_dst;
  if (grad_x != nullptr) {
    diff_dst.push_back(
        find_arg(cached_conv({g, ConvPass::backward_data, false, true, bf16, false, threads}),
                 DNNL_ARG_DIFF_DST)
            .layout);
  }
  memory::desc src_layout;
  if (grad_weight != nullptr) {
    const CachedConv conv =
        cached_conv({g, ConvPass::backward_weights, bias, true, bf16, false, threads});
    diff_dst.push_back(find_arg(conv, DNNL_ARG_DIFF_DST).layout);
    src_layout = find_arg(conv, DNNL_ARG_SRC).layout;
  }
  if (diff_dst.size() == 2 && diff_dst[0] != diff_dst[1]) return false;
  const int64_t block = channel_block(diff_dst[0], g.batch, g.out_channels, g.out_h, g.out_w);
  if (block == 0) return false;
  // The block divides the channels: the blocked gradient has exactly the output's elements.
  Tensor grad_y = make_tensor({g.output_numel()}, DType::f32);
  max_pool2d_backward_blocked(pool, g.out_channels, block, grad_pooled, argmax,
                              grad_y.data<float>(), relu_pooled);
  Operand blocked_grad_y(grad_y.data<float>(), true);
  Tensor grad_y_bf16;
  if (is_bf16(diff_dst[0])) {
    grad_y_bf16 = make_tensor({g.output_numel() / 2 + 1}, DType::f32);
    round_to_bf16(grad_y.data<float>(), g.output_numel(),
                  static_cast<uint16_t*>(grad_y_bf16.raw_data()));
    blocked_grad_y = Operand(grad_y_bf16.data<float>(), true);
  }
  if (grad_x != nullptr) {
    execute("conv2d backward (input)", g, ConvPass::backward_data, false, true, bf16, false,
            {{DNNL_ARG_DIFF_DST, blocked_grad_y},
             {DNNL_ARG_WEIGHTS, weight},
             {DNNL_ARG_DIFF_SRC, grad_x}});
  }
  if (grad_weight != nullptr) {
    // The forward's blocked input, where the weight gradient reads that same layout and type.
    const bool reuse =
        state.blocked_input.defined() && state.input_bf16 == is_bf16(src_layout) &&
        channel_block(src_layout, g.batch, g.in_channels, g.in_h, g.in_w) == state.input_block;
    std::unordered_map<int, Operand> buffers{
        {DNNL_ARG_SRC, reuse ? Operand(state.blocked_input.data<float>(), true) : Operand(x)},
        {DNNL_ARG_DIFF_DST, blocked_grad_y},
        {DNNL_ARG_DIFF_WEIGHTS, grad_weight}};
    if (bias) buffers.emplace(DNNL_ARG_DIFF_BIAS, grad_bias);
    execute("conv2d backward (weights)", g, ConvPass::backward_weights, bias, true, bf16, false,
            buffers);
  }
  return true;
}

}  // namespace

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* weight, const T* bias, T* y,
                    ConvAlgorithm algorithm, bool relu) {
  if (g.output_numel() == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    const Path path = choose(g, ConvPass::forward, algorithm);
    if (path != Path::im2col) return forward_onednn(g, x, weight, bias, y, path, relu);
  } else {
    check_f64_algorithm(algorithm);
  }
  forward_im2col(g, x, weight, bias, ForwardOutput<T>{.y = y}, relu);
}

template <class T>
void conv2d_forward_max_pool(const ConvGeometry& g, const Pool2dShape& pool, const T* x,
                             const T* weight, const T* bias, T* pooled, int32_t* argmax, bool relu,
                             ConvMaxPoolState* state) {
  if (g.output_numel() == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (direct_conv_pool_applies(g, pool)) {
      const int64_t in = g.in_channels * g.in_h * g.in_w,
                    out = pool.planes / g.batch * pool.out_h * pool.out_w;
      for_each_task(g, g.batch, [&](int64_t n) {
        direct_conv_pool_forward(g, pool, x + n * in, weight, bias, relu, pooled + n * out,
                                 argmax != nullptr ? argmax + n * out : nullptr);
      });
      return;
    }
    const Path path = choose(g, ConvPass::forward, ConvAlgorithm::automatic);
    if (path == Path::onednn_blocked || path == Path::onednn_bf16) {
      try {
        if (forward_max_pool_blocked(g, pool, x, weight, bias, pooled, argmax, relu,
                                     path == Path::onednn_bf16, state))
          return;
      } catch (const dnnl::error& e) {
        onednn::throw_error("conv2d forward", e);
      }
    }
    if (path != Path::im2col) {
      Tensor y = make_tensor({g.output_numel()}, DType::f32);
      forward_onednn(g, x, weight, bias, y.data<float>(), path, relu);
      max_pool2d_forward(pool, y.data<float>(), pooled, argmax);
      return;
    }
  }
  forward_im2col(g, x, weight, bias,
                 ForwardOutput<T>{.pool = &pool, .pooled = pooled, .argmax = argmax}, relu);
}

template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* grad_y, const T* weight, T* grad_x,
                          ConvAlgorithm algorithm) {
  if (g.input_numel() == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    const Path path = choose(g, ConvPass::backward_data, algorithm);
    if (path != Path::im2col) return backward_data_onednn(g, grad_y, weight, grad_x, path);
  } else {
    check_f64_algorithm(algorithm);
  }
  backward_data_im2col(g, grad_y, weight, grad_x);
}

template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* grad_y, T* grad_weight,
                             T* grad_bias, ConvAlgorithm algorithm, const T* relu_out) {
  if (g.batch == 0) {  // an empty batch contributes nothing
    std::fill(grad_weight, grad_weight + g.weight_numel(), T(0));
    if (grad_bias != nullptr) std::fill(grad_bias, grad_bias + g.out_channels, T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    const Path path = choose(g, ConvPass::backward_weights, algorithm);
    if (path != Path::im2col) {
      Tensor masked;
      if (relu_out != nullptr) {  // oneDNN reads the whole gradient: mask a copy first
        masked = make_tensor({g.output_numel()}, DType::f32);
        const int64_t n = g.output_numel();
        constexpr int64_t kChunk = 4096;
        float* out = masked.data<float>();
        parallel_for_if(n >= (1 << 16), (n + kChunk - 1) / kChunk, [&](int64_t c) {
          const int64_t at = c * kChunk;
          relu_mask(std::min(kChunk, n - at), grad_y + at, relu_out + at, out + at);
        });
        grad_y = masked.data<float>();
      }
      return backward_weights_onednn(g, x, grad_y, grad_weight, grad_bias, path);
    }
  } else {
    check_f64_algorithm(algorithm);
  }
  backward_weights_im2col(g, x, OutputGrad<T>{.grad = grad_y, .relu_out = relu_out}, grad_weight,
                          grad_bias);
}

template <class T>
void conv2d_backward_max_pool(const ConvGeometry& g, const Pool2dShape& pool,
                              const ConvMaxPoolState& state, const T* x, const T* weight,
                              const T* grad_pooled, const int32_t* argmax, const T* relu_pooled,
                              T* grad_x, T* grad_weight, T* grad_bias) {
  if (g.batch == 0) {  // an empty batch contributes nothing
    if (grad_weight != nullptr) std::fill(grad_weight, grad_weight + g.weight_numel(), T(0));
    if (grad_bias != nullptr) std::fill(grad_bias, grad_bias + g.out_channels, T(0));
    return;
  }
  bool im2col_weights = true;
  if constexpr (std::is_same_v<T, float>) {
    if (grad_x == nullptr && grad_weight != nullptr && direct_conv_pool_applies(g, pool)) {
      return backward_weights_direct_pool(g, pool, x, grad_pooled, argmax, relu_pooled, grad_weight,
                                          grad_bias);
    }
    try {
      if (backward_max_pool_blocked(g, pool, state, x, weight, grad_pooled, argmax, relu_pooled,
                                    grad_x, grad_weight, grad_bias))
        return;
    } catch (const dnnl::error& e) {
      onednn::throw_error("conv2d backward", e);
    }
    im2col_weights =
        choose(g, ConvPass::backward_weights, ConvAlgorithm::automatic) == Path::im2col;
  }
  if (grad_x == nullptr && grad_weight != nullptr && im2col_weights) {
    // A first layer: each image's output gradient is rebuilt in cache for its weight gradient.
    return backward_weights_im2col(
        g, x,
        OutputGrad<T>{
            .grad = grad_pooled, .relu_out = relu_pooled, .pool = &pool, .argmax = argmax},
        grad_weight, grad_bias);
  }
  // Several passes, or oneDNN's, read the whole output gradient: rebuilt once in NCHW.
  Tensor grad_y =
      make_tensor({g.output_numel()}, std::is_same_v<T, float> ? DType::f32 : DType::f64);
  max_pool2d_backward(pool, grad_pooled, argmax, grad_y.data<T>(), relu_pooled);
  if (grad_x != nullptr) conv2d_backward_data(g, grad_y.data<T>(), weight, grad_x);
  if (grad_weight != nullptr) {
    conv2d_backward_weights(g, x, grad_y.data<T>(), grad_weight, grad_bias);
  } else if (grad_bias != nullptr) {
    conv_bias_grad(grad_y.data<T>(), g.batch, g.out_channels, g.out_h * g.out_w, grad_bias);
  }
}

template <class T>
void conv_bias_grad(const T* grad_y, int64_t batch, int64_t channels, int64_t spatial,
                    T* grad_bias) {
  // Sums over space per (sample, channel), then over samples: fixed orders, any thread count.
  T* per_sample = scratch<T, Scratch::bias_sums>(batch * channels);
  sum_trailing(grad_y, batch * channels, spatial, per_sample);
  sum_rows_into(per_sample, batch, channels, grad_bias);
}

template <class T>
void add_channel_bias(T* y, const T* bias, int64_t batch, int64_t channels, int64_t spatial) {
  parallel_for_if(batch * channels * spatial >= (1 << 16), batch * channels, [&](int64_t row) {
    const T b = bias[row % channels];
    T* p = y + row * spatial;
    for (int64_t i = 0; i < spatial; ++i) p[i] += b;
  });
}

#define NABLA_INSTANTIATE_CONV(T)                                                                  \
  template void conv2d_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*,           \
                                  ConvAlgorithm, bool);                                            \
  template void conv2d_backward_data<T>(const ConvGeometry&, const T*, const T*, T*,               \
                                        ConvAlgorithm);                                            \
  template void conv2d_backward_weights<T>(const ConvGeometry&, const T*, const T*, T*, T*,        \
                                           ConvAlgorithm, const T*);                               \
  template void conv2d_forward_max_pool<T>(const ConvGeometry&, const Pool2dShape&, const T*,      \
                                           const T*, const T*, T*, int32_t*, bool,                 \
                                           ConvMaxPoolState*);                                     \
  template void conv2d_backward_max_pool<T>(const ConvGeometry&, const Pool2dShape&,               \
                                            const ConvMaxPoolState&, const T*, const T*, const T*, \
                                            const int32_t*, const T*, T*, T*, T*);                 \
  template void conv_bias_grad<T>(const T*, int64_t, int64_t, int64_t, T*);                        \
  template void add_channel_bias<T>(T*, const T*, int64_t, int64_t, int64_t);
NABLA_INSTANTIATE_CONV(float)
NABLA_INSTANTIATE_CONV(double)
#undef NABLA_INSTANTIATE_CONV

}  // namespace nabla::kernels::cpu
