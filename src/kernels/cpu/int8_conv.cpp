#include "kernels/cpu/int8_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <compare>
#include <functional>
#include <unordered_map>
#include <vector>

#include "core/loop.hpp"
#include "core/tensor_impl.hpp"
#include "kernels/cpu/intrinsics.hpp"
#include "kernels/cpu/onednn.hpp"

namespace nabla::kernels::cpu {

namespace {

using dnnl::memory;
using DataType = memory::data_type;
using Tag = memory::format_tag;

memory::desc data_desc(int64_t batch, int64_t channels, int64_t h, int64_t w, DataType type,
                       Tag tag) {
  return memory::desc({batch, channels, h, w}, type, tag);
}

memory::dims weight_dims(const ConvGeometry& g) {
  const int64_t cout = g.out_channels / g.groups, cin = g.in_channels / g.groups;
  if (g.groups == 1) return {cout, cin, g.kernel_h, g.kernel_w};
  return {g.groups, cout, cin, g.kernel_h, g.kernel_w};
}

// A dense layer's product: a 1x1 kernel over 1x1 images, without groups or padding.
bool is_dense(const ConvGeometry& g) {
  return g.in_h == 1 && g.in_w == 1 && g.kernel_h == 1 && g.kernel_w == 1 && g.groups == 1 &&
         g.pad_top == 0 && g.pad_bottom == 0 && g.pad_left == 0 && g.pad_right == 0;
}

// A primitive is specific to its batch size and the thread count it was created for.
struct Key {
  int64_t batch;
  int threads;
  auto operator<=>(const Key&) const = default;
};

// Everything one batch size runs: the input's quantizing reorder (f32 NCHW -> u8/s8 NHWC; nabla's
// own loop replaces it on AVX-512), the convolution with its weights in the layout it chose, and
// the reorder of its f32 NHWC output to NCHW (none for a 1x1 output, where the two are the same
// bytes). A dense layer (1x1 kernel over 1x1 images) runs oneDNN's int8 matmul on [M, K] x [K, N]
// instead: measured, 0.065 ms for 256 x 784 x 128 on one thread against 0.29 ms for the same
// product as a 1x1 convolution, whose kernels block over image positions that are not there.
struct Entry {
  dnnl::reorder quantize;
  dnnl::primitive op;                    // the convolution, or the matmul of a dense layer
  memory::desc x_plain, src, dst, bias;  // the f32 input as given; the primitive's operands
  memory weights;
  memory bias_values;     // in the units of the primitive's accumulator; empty without a bias
  dnnl::reorder to_nchw;  // empty for a 1x1 output
  std::string implementation;
};

// One value quantized as the vector loop does: x / s rounded to nearest even, saturated.
inline uint8_t quantize_one(float x, float inv_scale, bool is_unsigned) {
  const float low = is_unsigned ? 0.f : -128.f, high = is_unsigned ? 255.f : 127.f;
  const float v = std::nearbyint(std::min(std::max(x * inv_scale, low), high));
  return is_unsigned ? static_cast<uint8_t>(v) : static_cast<uint8_t>(static_cast<int8_t>(v));
}

// 16 values quantized to 16 bytes (u8 or s8 in two's complement); lanes beyond `mask` read 0.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m128i quantize16(
    const float* x, __mmask16 mask, __m512 inv_scale, __m512 low, __m512 high) {
  __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x), inv_scale);
  v = _mm512_min_ps(_mm512_max_ps(v, low), high);      // a NaN becomes `low`
  return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));  // rounds to nearest even (MXCSR)
}

// The 16x16 byte matrix rows[0..15] transposed in place, by four levels of unpacking: level l
// interleaves units of 2^(l-1) bytes of row pairs, so that after the last each register holds
// one column.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void transpose16x16(__m128i rows[16]) {
  __m128i a[16], b[16];
  for (int i = 0; i < 8; ++i) {  // 16-bit units: column k of rows 2i, 2i+1
    a[i] = _mm_unpacklo_epi8(rows[2 * i], rows[2 * i + 1]);      // columns 0-7
    a[i + 8] = _mm_unpackhi_epi8(rows[2 * i], rows[2 * i + 1]);  // columns 8-15
  }
  for (int h = 0; h < 2; ++h) {  // 32-bit units: column 8h + 4w + k of rows 4j..4j+3
    for (int j = 0; j < 4; ++j) {
      b[h * 8 + j] = _mm_unpacklo_epi16(a[h * 8 + 2 * j], a[h * 8 + 2 * j + 1]);      // w = 0
      b[h * 8 + 4 + j] = _mm_unpackhi_epi16(a[h * 8 + 2 * j], a[h * 8 + 2 * j + 1]);  // w = 1
    }
  }
  // b[4g + j]: column group g (columns 4g..4g+3) of rows 4j..4j+3.
  for (int g = 0; g < 4; ++g) {  // 64-bit units: columns 4g + 2w + k of rows 8m..8m+7
    for (int m = 0; m < 2; ++m) {
      a[g * 4 + m] = _mm_unpacklo_epi32(b[4 * g + 2 * m], b[4 * g + 2 * m + 1]);      // w = 0
      a[g * 4 + 2 + m] = _mm_unpackhi_epi32(b[4 * g + 2 * m], b[4 * g + 2 * m + 1]);  // w = 1
    }
  }
  // a[2 cp + m]: columns 2cp, 2cp + 1 of rows 8m..8m+7 (cp = 2g + w).
  for (int cp = 0; cp < 8; ++cp) {
    rows[2 * cp] = _mm_unpacklo_epi64(a[2 * cp], a[2 * cp + 1]);
    rows[2 * cp + 1] = _mm_unpackhi_epi64(a[2 * cp], a[2 * cp + 1]);
  }
}

// The AVX-512 parts of quantize_to_nhwc below, each a share of one thread's work (the parallel
// loops stay outside: clang does not give OpenMP's outlined bodies the target features).

// Values [begin, end) of x quantized into q in the same order.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void quantize_in_order(
    const float* x, int64_t begin, int64_t end, float inv_scale, bool is_unsigned, uint8_t* q) {
  const __m512 inv = _mm512_set1_ps(inv_scale);
  const __m512 low = _mm512_set1_ps(is_unsigned ? 0.f : -128.f);
  const __m512 high = _mm512_set1_ps(is_unsigned ? 255.f : 127.f);
  for (int64_t i = begin; i < end; i += 16) {
    const int64_t left = std::min<int64_t>(16, end - i);
    const auto mask = static_cast<__mmask16>((1u << left) - 1);
    _mm_mask_storeu_epi8(q + i, mask, quantize16(x + i, mask, inv, low, high));
  }
}

// Positions [p0, p0 + 16) of one image xi [c, hw] into qi [hw, c].
__attribute__((target("avx512f,avx512bw,avx512vl"))) void quantize_position_tile(
    const float* xi, int64_t c, int64_t hw, int64_t p0, float inv_scale, bool is_unsigned,
    uint8_t* qi) {
  const __m512 inv = _mm512_set1_ps(inv_scale);
  const __m512 low = _mm512_set1_ps(is_unsigned ? 0.f : -128.f);
  const __m512 high = _mm512_set1_ps(is_unsigned ? 255.f : 127.f);
  const int64_t positions = std::min<int64_t>(16, hw - p0);
  const auto mask = static_cast<__mmask16>((1u << positions) - 1);
  int64_t c0 = 0;
  for (; c0 + 16 <= c; c0 += 16) {
    __m128i rows[16];
    for (int i = 0; i < 16; ++i)
      rows[i] = quantize16(xi + (c0 + i) * hw + p0, mask, inv, low, high);
    transpose16x16(rows);
    for (int64_t p = 0; p < positions; ++p)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qi + (p0 + p) * c + c0), rows[p]);
  }
  for (; c0 < c; ++c0)  // channels beyond a multiple of 16
    for (int64_t p = 0; p < positions; ++p)
      qi[(p0 + p) * c + c0] = quantize_one(xi[c0 * hw + p0 + p], inv_scale, is_unsigned);
}

// x [n, c, hw] f32 -> q [n, hw, c] bytes, quantized (the input of an NHWC int8 convolution), in
// 16x16 tiles transposed in registers. oneDNN's quantizing reorder does the same at about 0.5 ns
// per value on the AVX-512 EPYC: as long as the int8 convolution after it. Only called where
// onednn::has_avx512().
void quantize_to_nhwc(const float* x, int64_t n, int64_t c, int64_t hw, float inv_scale,
                      bool is_unsigned, uint8_t* q) {
  if (c == 1 || hw == 1) {  // the same order on both sides
    const int64_t total = n * c * hw, chunk = 4096, chunks = (total + chunk - 1) / chunk;
    parallel_for_if(total >= (1 << 16), chunks, [&](int64_t k) {
      quantize_in_order(x, k * chunk, std::min(total, (k + 1) * chunk), inv_scale, is_unsigned, q);
    });
    return;
  }
  const int64_t position_tiles = (hw + 15) / 16;
  parallel_for_if(n * c * hw >= (1 << 16), n * position_tiles, [&](int64_t task) {
    const int64_t image = task / position_tiles, p0 = (task % position_tiles) * 16;
    quantize_position_tile(x + image * c * hw, c, hw, p0, inv_scale, is_unsigned,
                           q + image * hw * c);
  });
}

}  // namespace

struct Int8Conv::Impl {
  ConvGeometry g;
  Int8InputScale input;
  bool relu;
  std::vector<int8_t> weights;       // quantized, [C_out, C_in / groups, kH, kW]
  std::vector<float> output_scales;  // s_in * s_c per output channel
  std::vector<float> bias;           // divided by the output scales; empty: none
  onednn::PrimitiveCache<Key, Entry> cache;

  Entry create(const Key& key) const;
  Entry entry(int64_t batch) {
    return cache.get({batch, omp_get_max_threads()}, [this](const Key& k) { return create(k); });
  }
};

Int8InputScale int8_input_scale(float min, float max) {
  const bool is_unsigned = min >= 0.f;
  const float range = is_unsigned ? max : std::max(std::fabs(min), std::fabs(max));
  if (!(range > 0.f) || !std::isfinite(range)) return {1.f, is_unsigned};
  return {range / (is_unsigned ? 255.f : 127.f), is_unsigned};
}

int int8_weight_levels() { return onednn::has_vnni() ? 127 : 63; }

Int8Conv::Int8Conv(const ConvGeometry& g, const float* weight, const float* bias,
                   Int8InputScale input, bool relu)
    : impl_(std::make_shared<Impl>()) {
  Impl& m = *impl_;
  m.g = g;
  m.g.batch = 1;
  m.input = input;
  m.relu = relu;
  const int64_t per_channel = g.weight_numel() / g.out_channels;
  const auto levels = static_cast<float>(int8_weight_levels());
  m.weights.resize(g.weight_numel());
  m.output_scales.resize(g.out_channels);
  for (int64_t c = 0; c < g.out_channels; ++c) {
    const float* w = weight + c * per_channel;
    float largest = 0.f;
    for (int64_t i = 0; i < per_channel; ++i) largest = std::max(largest, std::fabs(w[i]));
    const float scale = largest > 0.f ? largest / levels : 1.f;
    for (int64_t i = 0; i < per_channel; ++i)
      m.weights[c * per_channel + i] = static_cast<int8_t>(std::nearbyint(w[i] / scale));
    m.output_scales[c] = input.scale * scale;
  }
  // oneDNN 2.x scales the bias with the accumulator (dst = scale * (acc + bias)), so it is kept
  // divided by the output scale: measured, passing it as is added it scaled.
  if (bias != nullptr) {
    m.bias.resize(g.out_channels);
    for (int64_t c = 0; c < g.out_channels; ++c) m.bias[c] = bias[c] / m.output_scales[c];
  }
}

namespace {

// The factor by which oneDNN's reorder into the layout `chosen` multiplies the weights (its kernel
// divides its sums by it again): 1, or 0.5 for the kernels that take s8 inputs without VNNI,
// which thereby keep the s16 sums of pairs of products from saturating.
float weight_scale_adjust(const memory::desc& chosen) {
  const dnnl_memory_extra_desc_t& extra = chosen.data.extra;
  return (extra.flags & dnnl_memory_extra_flag_scale_adjust) != 0 ? extra.scale_adjust : 1.f;
}

}  // namespace

Entry Int8Conv::Impl::create(const Key& key) const {
  const dnnl::engine& engine = onednn::engine();
  const DataType src_type = input.is_unsigned ? DataType::u8 : DataType::s8;
  const bool dense = is_dense(g);
  // The output scales times `factor`, relu fused.
  auto make_attr = [&](float factor) {
    dnnl::primitive_attr attr;
    std::vector<float> scales = output_scales;
    for (float& scale : scales) scale *= factor;
    attr.set_output_scales(1 << 1, scales);  // per output channel (dimension 1)
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    return attr;
  };
  Entry e;
  memory::desc plain_weights;                                 // `weights` as stored
  std::function<dnnl::primitive_desc_base(float)> create_op;  // sets e.op
  if (dense) {
    const int64_t m = key.batch, k = g.in_channels, n = g.out_channels;
    e.x_plain = memory::desc({m, k}, DataType::f32, Tag::ab);
    e.src = memory::desc({m, k}, src_type, Tag::ab);
    e.dst = memory::desc({m, n}, DataType::f32, Tag::ab);
    e.bias = memory::desc({1, n}, DataType::f32, Tag::ab);
    plain_weights = memory::desc({k, n}, DataType::s8, memory::dims{1, k});  // [N, K] read as K x N
    const memory::desc weights_any({k, n}, DataType::s8, Tag::any);
    const auto desc = bias.empty() ? dnnl::matmul::desc(e.src, weights_any, e.dst)
                                   : dnnl::matmul::desc(e.src, weights_any, e.bias, e.dst);
    create_op = [&, desc](float factor) {
      const dnnl::matmul::primitive_desc pd(desc, make_attr(factor), engine);
      e.op = dnnl::matmul(pd);
      return dnnl::primitive_desc_base(pd);
    };
  } else {
    e.x_plain = data_desc(key.batch, g.in_channels, g.in_h, g.in_w, DataType::f32, Tag::nchw);
    e.src = data_desc(key.batch, g.in_channels, g.in_h, g.in_w, src_type, Tag::nhwc);
    e.dst = data_desc(key.batch, g.out_channels, g.out_h, g.out_w, DataType::f32, Tag::nhwc);
    e.bias = memory::desc({g.out_channels}, DataType::f32, Tag::x);
    plain_weights =
        memory::desc(weight_dims(g), DataType::s8, g.groups == 1 ? Tag::oihw : Tag::goihw);
    const memory::desc weights_any(weight_dims(g), DataType::s8, Tag::any);
    const memory::dims strides{g.stride_h, g.stride_w}, padding_l{g.pad_top, g.pad_left},
        padding_r{g.pad_bottom, g.pad_right}, dilates{g.dilation_h - 1, g.dilation_w - 1};
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto direct = dnnl::algorithm::convolution_direct;
    const auto desc =
        bias.empty()
            ? dnnl::convolution_forward::desc(kind, direct, e.src, weights_any, e.dst, strides,
                                              dilates, padding_l, padding_r)
            : dnnl::convolution_forward::desc(kind, direct, e.src, weights_any, e.bias, e.dst,
                                              strides, dilates, padding_l, padding_r);
    create_op = [&, desc](float factor) {
      const dnnl::convolution_forward::primitive_desc pd(desc, make_attr(factor), engine);
      e.op = dnnl::convolution_forward(pd);
      return dnnl::primitive_desc_base(pd);
    };
    if (g.out_h * g.out_w > 1) {
      const memory::desc y_plain =
          data_desc(key.batch, g.out_channels, g.out_h, g.out_w, DataType::f32, Tag::nchw);
      e.to_nchw = dnnl::reorder(dnnl::reorder::primitive_desc(engine, e.dst, engine, y_plain));
    }
  }
  dnnl::primitive_desc_base pd = create_op(1.f);
  // The weights in the chosen layout (for s8 inputs oneDNN's reorder also stores the
  // compensation its kernels add back), once per primitive. Where that reorder halves them it
  // would round the odd ones: it gets them doubled (7 bits there: int8_weight_levels()), and the
  // kernel the output scales halved, so that it computes with exactly the weights quantized.
  const float adjust = weight_scale_adjust(pd.query_md(dnnl::query::weights_md));
  std::vector<int8_t> adjusted;
  if (adjust != 1.f) {
    NABLA_CHECK(adjust == 0.5f && int8_weight_levels() <= 63,
                "Int8Conv: unexpected oneDNN weight scale adjustment ", adjust);
    adjusted.resize(weights.size());
    for (size_t i = 0; i < weights.size(); ++i) adjusted[i] = static_cast<int8_t>(2 * weights[i]);
    pd = create_op(adjust);
  }
  e.implementation = pd.impl_info_str();
  if (!bias.empty()) {  // its scale comes from the output scales given, without the adjustment
    e.bias_values = memory(e.bias, engine);
    auto* values = static_cast<float*>(e.bias_values.get_data_handle());
    for (size_t c = 0; c < bias.size(); ++c) values[c] = bias[c] / adjust;
  }
  memory plain(plain_weights, engine,
               const_cast<int8_t*>(adjusted.empty() ? weights.data() : adjusted.data()));
  e.weights = memory(pd.query_md(dnnl::query::weights_md), engine);
  dnnl::stream& stream = onednn::stream();
  dnnl::reorder(plain, e.weights).execute(stream, plain, e.weights);
  stream.wait();

  // x / s_in, rounded to nearest even and saturated, by oneDNN's quantizing reorder.
  dnnl::primitive_attr quantize_attr;
  quantize_attr.set_output_scales(0, {1.f / input.scale});
  e.quantize =
      dnnl::reorder(dnnl::reorder::primitive_desc(engine, e.x_plain, engine, e.src, quantize_attr));
  return e;
}

void Int8Conv::forward(int64_t batch, const float* x, float* y) const {
  try {
    const Entry e = impl_->entry(batch);
    const dnnl::engine& engine = onednn::engine();
    dnnl::stream& stream = onednn::stream();
    const ConvGeometry& g = impl_->g;
    memory x_plain(e.x_plain, engine, const_cast<float*>(x));
    const Tensor q = make_tensor({static_cast<int64_t>(e.src.get_size())}, DType::u8);
    memory src(e.src, engine, q.raw_data());
    if (onednn::has_avx512()) {
      quantize_to_nhwc(x, batch, g.in_channels, g.in_h * g.in_w, 1.f / impl_->input.scale,
                       impl_->input.is_unsigned, static_cast<uint8_t*>(q.raw_data()));
    } else {
      e.quantize.execute(stream, x_plain, src);
    }
    Tensor staged;  // the NHWC output, when it differs from NCHW
    if (e.to_nchw) staged = make_tensor({static_cast<int64_t>(e.dst.get_size() / 4)}, DType::f32);
    memory dst(e.dst, engine, e.to_nchw ? staged.raw_data() : y);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DST, dst}};
    if (e.bias_values) args.emplace(DNNL_ARG_BIAS, e.bias_values);
    e.op.execute(stream, args);
    if (e.to_nchw) {
      memory y_plain(data_desc(batch, g.out_channels, g.out_h, g.out_w, DataType::f32, Tag::nchw),
                     engine, y);
      e.to_nchw.execute(stream, dst, y_plain);
    }
    stream.wait();
  } catch (const dnnl::error& error) {
    onednn::throw_error("int8 convolution", error);
  }
}

std::string Int8Conv::implementation(int64_t batch) const {
  try {
    return impl_->entry(batch).implementation;
  } catch (const dnnl::error& error) {
    onednn::throw_error("int8 convolution", error);
  }
}

}  // namespace nabla::kernels::cpu
