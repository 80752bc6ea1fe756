#include "kernels/cpu/gemm_matmul.hpp"

#include <omp.h>

#include <algorithm>
#include <compare>
#include <cstdint>
#include <unordered_map>

#include "core/loop.hpp"
#include "core/uninitialized_buffer.hpp"
#include "kernels/cpu/bf16_round.hpp"
#include "kernels/cpu/onednn.hpp"
#include "kernels/cpu/rnn.hpp"
#include "kernels/cpu/serial_scope.hpp"
#include "nabla/error.hpp"

namespace nabla::kernels::cpu {

namespace {

using dnnl::memory;
using DataType = memory::data_type;

// A primitive is specific to the operands' type, shapes, transposes, strides, alpha, beta and the
// thread count it was created for (oneDNN sizes its per-thread work at creation).
struct GemmKey {
  DataType type;  // of A and B: f32 or bf16 (C is f32)
  bool trans_a, trans_b;
  int64_t M, N, K, lda, ldb, ldc;
  float alpha, beta;
  int threads;
  bool bias = false;  // one value per column of C
  bool relu = false;  // after the bias and the sum with beta C
  auto operator<=>(const GemmKey&) const = default;
};

memory::desc bias_desc(const GemmKey& k) {
  return memory::desc({1, k.N}, DataType::f32, memory::dims{k.N, 1});
}

// An operand as stored, [rows, cols] with row stride ld: op(X) itself or, transposed, its
// transpose.
struct Stored {
  const float* data;
  int64_t rows, cols, ld;
};

// A stored operand rounded to bf16 into a compact copy (row stride cols).
void round_operand_to_bf16(const Stored& x, uint16_t* out) {
  parallel_for_if(x.rows * x.cols >= (1 << 16), x.rows, [&](int64_t r) {
    round_row_to_bf16(x.data + r * x.ld, x.cols, out + r * x.cols);
  });
}

// op(X) [rows, cols] of storage with row stride ld: row-major, or transposed storage (oneDNN's
// matmul reads both).
memory::desc operand_view(DataType type, int64_t rows, int64_t cols, bool trans, int64_t ld) {
  return memory::desc({rows, cols}, type, trans ? memory::dims{1, ld} : memory::dims{ld, 1});
}

dnnl::matmul create_gemm(const GemmKey& k) {
  const memory::desc c({k.M, k.N}, DataType::f32, memory::dims{k.ldc, 1});
  dnnl::primitive_attr attr;
  if (k.alpha != 1.f) attr.set_output_scales(0, {k.alpha});
  dnnl::post_ops ops;
  if (k.beta != 0.f) ops.append_sum(k.beta);
  if (k.relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  const memory::desc a = operand_view(k.type, k.M, k.K, k.trans_a, k.lda);
  const memory::desc b = operand_view(k.type, k.K, k.N, k.trans_b, k.ldb);
  const dnnl::matmul::desc desc =
      k.bias ? dnnl::matmul::desc(a, b, bias_desc(k), c) : dnnl::matmul::desc(a, b, c);
  return dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, onednn::engine()));
}

// The primitives for the calling thread. One primitive run by two threads at once ran each call
// 9x slower (a bf16 32 x 512 x 128 product: 13 -> 116 us on each thread, Zen 5 EPYC), so the
// calls made inside a parallel region (one per thread: an LSTM's row slices) use primitives of
// their thread's own; the thread pool's threads live as long as the process, and so do these.
using GemmCache = onednn::PrimitiveCache<GemmKey, dnnl::matmul>;
GemmCache& cache() {
  static auto* const shared = new GemmCache;
  if (!omp_in_parallel()) return *shared;
  static thread_local auto* const own = new GemmCache;
  return *own;
}

// C = alpha op(A) op(B) + beta C (+ bias, relu) by the cached primitive for `key`; A and B of
// key.type.
void run_matmul(const GemmKey& key, const void* A, const void* B, float* C,
                const float* bias = nullptr) {
  try {
    const dnnl::matmul matmul = cache().get(key, create_gemm);
    const dnnl::engine& engine = onednn::engine();
    dnnl::stream& stream = onednn::stream();
    memory a_mem(operand_view(key.type, key.M, key.K, key.trans_a, key.lda), engine,
                 const_cast<void*>(A));
    memory b_mem(operand_view(key.type, key.K, key.N, key.trans_b, key.ldb), engine,
                 const_cast<void*>(B));
    memory c_mem(memory::desc({key.M, key.N}, DataType::f32, memory::dims{key.ldc, 1}), engine, C);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};
    if (key.bias)
      args.emplace(DNNL_ARG_BIAS, memory(bias_desc(key), engine, const_cast<float*>(bias)));
    matmul.execute(stream, args);
    stream.wait();
  } catch (const dnnl::error& e) {
    onednn::throw_error(key.type == DataType::bf16 ? "gemm (bf16)" : "gemm (f32 matmul)", e);
  }
}

}  // namespace

void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc) {
  const Stored a{A, trans_a ? K : M, trans_a ? M : K, lda};
  const Stored b{B, trans_b ? N : K, trans_b ? K : N, ldb};
  // Both copies in one buffer.
  const UninitializedBuffer<uint16_t> buffer(M * K + K * N);
  uint16_t* a16 = buffer.data();
  uint16_t* b16 = a16 + M * K;
  round_operand_to_bf16(a, a16);
  round_operand_to_bf16(b, b16);
  // The compact copies' row strides: op(A) is M x K, op(B) K x N, either stored transposed.
  gemm_bf16_rounded(trans_a, trans_b, M, N, K, alpha, a16, trans_a ? M : K, b16, trans_b ? K : N,
                    beta, C, ldc);
}

namespace {

// The start of part i of [0, n) cut into `parts` near-equal parts, at a multiple of `align`.
int64_t split_point(int64_t n, int64_t parts, int64_t i, int64_t align) {
  if (i >= parts) return n;
  return std::min(n, (n * i / parts + align / 2) / align * align);
}

}  // namespace

void gemm_bf16_rounded(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta,
                       float* C, int64_t ldc, const GemmEpilogue<float>& epilogue) {
  // Inside a parallel region (a thread's slice of a recurrent layer, or its block of C below) the
  // product is planned and run for the calling thread alone, and so are products under 2^23
  // multiply-adds, which oneDNN's bf16 kernels ran as fast or faster on one thread than on two
  // (Zen 5 EPYC, us: 128 x 784 x 32 with A transposed 17.8 against 30.6, 16 x 128 x 784 11.9
  // against 15.1).
  constexpr int64_t kSerialMacs = int64_t{1} << 23;
  const bool serial = omp_in_parallel() || M * N * K < kSerialMacs;
  const int threads = omp_get_max_threads();
  if (serial || threads == 1) {
    const SerialScope scope(serial);
    run_matmul({DataType::bf16, trans_a, trans_b, M, N, K, lda, ldb, ldc, alpha, beta,
                omp_get_max_threads(), epilogue.bias != nullptr, epilogue.relu},
               A, B, C, epilogue.bias);
    return;
  }
  // Larger products: oneDNN's own split of a bf16 matmul over the threads ran far below twice its
  // one-thread speed, so each thread runs a block of C with a primitive of its own. Blocks of
  // columns where B is not transposed, N >= M and K >= 64, else blocks of rows, as measured (Zen 5
  // EPYC, 2 threads, us, oneDNN's split against blocks of rows / of columns): the bench MLP's
  // 256 x 128 x 784 (X W^T) 99 / 88 / 106, its weight gradient 128 x 784 x 256 (A transposed)
  // 129 / 96 / 81, 256 x 784 x 128 103 / 82 / 79; the bench CNN's dense layer 64 x 128 x 1600
  // 66 / 59 / 71, 128 x 1600 x 64 87 / 60 / 49, 64 x 1600 x 128 81 / 81 / 49; 512 x 1024 x 32 with
  // A transposed 111 / 87 / 142; 512^3 408 / 390 / 426; in 28 shapes of 64-1024 rows the rule's
  // choice was within 5% of oneDNN's split or faster (up to 1.9x). (Its f32 matmul splits well:
  // 256 x 128 x 784 179 / 189 / 222.) Each block's values are those of one primitive on one
  // thread, the same at every call.
  const bool by_columns = !trans_b && N >= M && K >= 64;
  on_each_thread(threads, [&](int64_t t, int64_t parts) {
    if (by_columns) {
      const int64_t n0 = split_point(N, parts, t, 16), n1 = split_point(N, parts, t + 1, 16);
      if (n1 > n0)
        gemm_bf16_rounded(trans_a, trans_b, M, n1 - n0, K, alpha, A, lda, B + n0, ldb, beta, C + n0,
                          ldc, {epilogue.bias ? epilogue.bias + n0 : nullptr, epilogue.relu});
    } else {
      const int64_t m0 = split_point(M, parts, t, 1), m1 = split_point(M, parts, t + 1, 1);
      if (m1 > m0)
        gemm_bf16_rounded(trans_a, trans_b, m1 - m0, N, K, alpha, trans_a ? A + m0 : A + m0 * lda,
                          lda, B, ldb, beta, C + m0 * ldc, ldc, epilogue);
    }
  });
}

void gemm_f32_matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc, const GemmEpilogue<float>& epilogue) {
  const int threads = omp_get_max_threads();
  const bool bias = epilogue.bias != nullptr;
  // The primitive packs its B operand for every product, and with rows at most half the columns
  // (a dense layer's X W^T at a batch below half its units) packing the smaller A instead pays:
  // C^T = op(B)^T op(A)^T, computed into a compact buffer and transposed into C (Zen 5 EPYC,
  // 2 threads, the products alone, us: 32 x 128 x 784 28 -> 24, 16 x 128 x 784 21 -> 14,
  // 32 x 512 x 1024 168 -> 117, 64 x 512 x 1024 263 -> 193; 64 x 128 x 784 even, 96 x 128 x 784
  // 68 -> 77).
  if (2 * M <= N) {
    const UninitializedBuffer<float> t(N * M);  // C^T, [N, M]
    float t_beta = beta;
    if (bias) {
      // A bias per row of C^T: oneDNN's matmul ran a bias of that shape on its reference kernel
      // (the bench MLP at batch 32: 45 s per epoch), so C^T starts as the bias instead.
      NABLA_CHECK(beta == 0.f, "gemm: a bias comes with beta = 0, got beta = ", beta);
      for (int64_t n = 0; n < N; ++n) std::fill_n(t.data() + n * M, M, epilogue.bias[n]);
      t_beta = 1.f;
    } else if (beta != 0.f) {
      transpose(C, M, N, ldc, t.data(), M);
    }
    run_matmul({DataType::f32, !trans_b, !trans_a, N, M, K, ldb, lda, M, alpha, t_beta, threads,
                false, epilogue.relu},
               B, A, t.data());
    transpose(t.data(), N, M, M, C, ldc);
    return;
  }
  run_matmul({DataType::f32, trans_a, trans_b, M, N, K, lda, ldb, ldc, alpha, beta, threads, bias,
              epilogue.relu},
             A, B, C, epilogue.bias);
}

}  // namespace nabla::kernels::cpu
