// nabla's kernel benchmarks (Google Benchmark): GEMM against the machine's measured fp32 FMA peak,
// elementwise ops, fused softmax cross-entropy, convolution at a small CNN's shapes, a full
// training step of the classic MLP, and an LSTM layer's forward and backward.
// `make bench` runs this through bench/run.sh; timings never enter a pass/fail test.
//
// GEMM and the convolution kernel comparison call the internal kernels (src/kernels/cpu/) so that
// the figures are the kernels' work alone; everything else goes through the public API, as a
// user's program would.
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_matmul.hpp"
#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "nabla/optim.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMinTime = 0.3;  // seconds per benchmark run; repetitions give the spread

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- the machine's fp32 FMA peak ----
// Independent accumulator chains hide the FMA latency (4-5 cycles) behind the issue width (2 FMA
// per cycle on current x86 cores), so the loop runs at the FMA units' throughput limit. The widest
// vectors the CPU has are used, chosen at run time so that the bench runs on any x86-64.
constexpr int kChains = 12;

__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t iterations, float seed) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(seed + static_cast<float>(c));
  const __m512 mul = _mm512_set1_ps(0.9999999f), add = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  }
  for (int c = 1; c < kChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iterations, float seed) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(seed + static_cast<float>(c));
  const __m256 mul = _mm256_set1_ps(0.9999999f), add = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  }
  for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }
const char* peak_isa() { return has_avx512() ? "avx512" : "avx2"; }
int vector_floats() { return has_avx512() ? 16 : 8; }

// GFLOP/s of the FMA loop run by `threads` threads at once: the best of a few short rounds, so
// that a moment of interference from other processes does not lower the peak.
double measure_peak_gflops(int threads) {
  constexpr int64_t kIterations = 2'000'000;
  constexpr int kRounds = 7;
  const double flops_per_thread = 2.0 * kChains * vector_floats() * kIterations;
  double best = 0;
  float sink = 0;
  for (int round = 0; round < kRounds; ++round) {
    Clock::time_point start;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
#pragma omp barrier
      if (omp_get_thread_num() == 0) start = Clock::now();
      const float seed = static_cast<float>(omp_get_thread_num());
      sink += has_avx512() ? fma_loop_avx512(kIterations, seed) : fma_loop_avx2(kIterations, seed);
    }
    best = std::max(best, flops_per_thread * threads / seconds_since(start) / 1e9);
  }
  benchmark::DoNotOptimize(sink);
  return best;
}

// The best FMA rate measured so far for `threads`, after measuring once more. Other processes
// can only lower a measurement, so the running maximum converges on the machine's true peak;
// every GEMM benchmark measures again right before it runs.
double peak_gflops(int threads) {
  static std::map<int, double> best;
  double& peak = best[threads];
  peak = std::max(peak, measure_peak_gflops(threads));
  return peak;
}

void BM_PeakFma(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) state.counters["GFLOPs"] = peak_gflops(threads);
  state.SetLabel(peak_isa());
}
BENCHMARK(BM_PeakFma)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(1)->UseRealTime();

// ---- GEMM ----
struct GemmShape {
  const char* name;
  bool trans_a, trans_b;
  int64_t M, N, K;
};

// Square products, then the six products of one MLP training step (784 -> 128 -> 10) at batch 32
// in PyTorch's layout (weights [out, in], so the forward multiplies by W^T).
const std::vector<GemmShape>& gemm_shapes() {
  static const std::vector<GemmShape> shapes = {
      {"square 256", false, false, 256, 256, 256},
      {"square 512", false, false, 512, 512, 512},
      {"square 1024", false, false, 1024, 1024, 1024},
      {"fc1 fwd x@W1^T 32x784x128", false, true, 32, 128, 784},
      {"fc1 dW g^T@x 128x32x784", true, false, 128, 784, 32},
      {"fc2 fwd h@W2^T 32x128x10", false, true, 32, 10, 128},
      {"fc2 dW g^T@h 10x32x128", true, false, 10, 128, 32},
      {"fc2 dh g@W2 32x10x128", false, false, 32, 128, 10},
      {"fc1 fwd x@W1^T 256x784x128", false, true, 256, 128, 784},
      {"fc1 dW g^T@x 128x256x784", true, false, 128, 784, 256},
      // The bench CNN's second convolution (32 -> 64, 3x3 on 13x13), one image per product.
      {"conv2 fwd W@cols 64x121x288", false, false, 64, 121, 288},
      {"conv2 dx W^T@g 288x121x64", true, false, 288, 121, 64},
      {"conv2 dW cols@g^T 289x64x121", false, true, 289, 64, 121},
  };
  return shapes;
}

// Random operands of a shape as stored (op(A) is [M, K], op(B) is [K, N]) and the output.
struct GemmOperands {
  explicit GemmOperands(const GemmShape& s)
      : lda(s.trans_a ? s.M : s.K),
        ldb(s.trans_b ? s.K : s.N),
        a(nabla::randn({s.trans_a ? s.K : s.M, lda})),
        b(nabla::randn({s.trans_b ? s.N : s.K, ldb})),
        c(nabla::zeros({s.M, s.N})) {}
  int64_t lda, ldb;
  nabla::Tensor a, b, c;
};

void BM_Gemm(benchmark::State& state) {
  const GemmShape& s = gemm_shapes()[static_cast<size_t>(state.range(0))];
  const int threads = static_cast<int>(state.range(1));
  nabla::set_num_threads(threads);
  GemmOperands o(s);
  auto run = [&] {
    nabla::kernels::cpu::gemm(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.f, o.a.data<float>(), o.lda,
                              o.b.data<float>(), o.ldb, 0.f, o.c.data<float>(), s.N);
  };
  run();  // oneDNN picks and JIT-compiles its kernel at the first call
  const double peak = peak_gflops(threads);
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  const double gflops = 2.0 * s.M * s.N * s.K * state.iterations() / seconds_since(start) / 1e9;
  state.counters["GFLOPs"] = gflops;
  state.counters["peak_GFLOPs"] = peak;
  state.counters["pct_peak"] = 100 * gflops / peak;
  state.SetLabel(s.name);
}
BENCHMARK(BM_Gemm)
    ->ArgNames({"shape", "threads"})
    ->ArgsProduct({benchmark::CreateDenseRange(0, 12, 1), {1, 2}})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The same products in bf16 (kernels::cpu::gemm inside an Autocast scope, where large enough):
// the operands rounded to bf16, then oneDNN's bf16 matmul; the rounding included.
void BM_GemmBf16(benchmark::State& state) {
  if (!nabla::bf16_supported()) {
    state.SkipWithError("this CPU has no bf16 instructions");
    return;
  }
  const GemmShape& s = gemm_shapes()[static_cast<size_t>(state.range(0))];
  nabla::set_num_threads(static_cast<int>(state.range(1)));
  GemmOperands o(s);
  auto run = [&] {
    nabla::kernels::cpu::gemm_bf16(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.f, o.a.data<float>(),
                                   o.lda, o.b.data<float>(), o.ldb, 0.f, o.c.data<float>(), s.N);
  };
  run();
  const Clock::time_point start = Clock::now();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPs"] =
      2.0 * s.M * s.N * s.K * state.iterations() / seconds_since(start) / 1e9;
  state.SetLabel(s.name);
}
BENCHMARK(BM_GemmBf16)
    ->ArgNames({"shape", "threads"})
    ->ArgsProduct({benchmark::CreateDenseRange(0, 12, 1), {1, 2}})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- elementwise (public ops, 1M floats; output allocation from the caching allocator included)
constexpr int64_t kElementwiseSize = 1 << 20;

void BM_Add(benchmark::State& state) {
  nabla::set_num_threads(static_cast<int>(state.range(0)));
  nabla::Tensor a = nabla::randn({kElementwiseSize}), b = nabla::randn({kElementwiseSize});
  for (auto _ : state) benchmark::DoNotOptimize(nabla::add(a, b));
  // Read a and b, write the output.
  state.counters["bytes_per_s"] = benchmark::Counter(3.0 * sizeof(float) * kElementwiseSize,
                                                     benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Add)->ArgName("threads")->Arg(1)->Arg(2)->MinTime(kMinTime)->UseRealTime();

void BM_Relu(benchmark::State& state) {
  nabla::set_num_threads(static_cast<int>(state.range(0)));
  nabla::Tensor x = nabla::randn({kElementwiseSize});
  for (auto _ : state) benchmark::DoNotOptimize(nabla::relu(x));
  state.counters["bytes_per_s"] = benchmark::Counter(2.0 * sizeof(float) * kElementwiseSize,
                                                     benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Relu)->ArgName("threads")->Arg(1)->Arg(2)->MinTime(kMinTime)->UseRealTime();

// ---- softmax cross-entropy from logits, forward + backward ----
void BM_SoftmaxCrossEntropy(benchmark::State& state) {
  const int64_t rows = state.range(0), classes = state.range(1);
  nabla::set_num_threads(static_cast<int>(state.range(2)));
  nabla::Generator gen(0);
  nabla::Tensor logits = nabla::randn({rows, classes}, nabla::DType::f32, &gen);
  logits.requires_grad_();
  nabla::Tensor labels = nabla::randint(0, classes, {rows}, &gen);
  for (auto _ : state) {
    logits.zero_grad();
    nabla::Tensor loss = nabla::cross_entropy(logits, labels);
    loss.backward();
    benchmark::DoNotOptimize(logits.grad());
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SoftmaxCrossEntropy)
    ->ArgNames({"rows", "classes", "threads"})
    ->Args({32, 10, 1})
    ->Args({256, 10, 1})
    ->Args({1024, 1000, 1})
    ->Args({1024, 1000, 2})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- convolution at the small CNN's shapes (batch 64: conv 1->32 3x3 on 28x28, then, after a
// 2x2 max pool, conv 32->64 3x3 on 13x13). The first layer's input is the data: training needs
// no gradient for it, so its step computes the weight and bias gradients only.
struct ConvShape {
  const char* name;
  int64_t batch, in_channels, out_channels, size, kernel;
  bool grad_input;
};

const std::vector<ConvShape>& conv_shapes() {
  static const std::vector<ConvShape> shapes = {
      {"conv1 1->32 3x3 on 28x28", 64, 1, 32, 28, 3, false},
      {"conv2 32->64 3x3 on 13x13", 64, 32, 64, 13, 3, true},
  };
  return shapes;
}

nabla::kernels::cpu::ConvGeometry conv_geometry(const ConvShape& s) {
  nabla::kernels::cpu::ConvGeometry g;
  g.batch = s.batch;
  g.in_channels = s.in_channels;
  g.out_channels = s.out_channels;
  g.in_h = g.in_w = s.size;
  g.kernel_h = g.kernel_w = s.kernel;
  g.out_h = g.out_w = s.size - s.kernel + 1;
  return g;
}

// The forward's floating-point operations (each gradient costs the same).
double conv_flops(const ConvShape& s) { return 2.0 * conv_geometry(s).macs(); }

void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOPs"] =
      benchmark::Counter(flops_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// conv2d through the public API, no graph recorded.
void BM_Conv2dForward(benchmark::State& state) {
  const ConvShape& s = conv_shapes()[static_cast<size_t>(state.range(0))];
  nabla::set_num_threads(static_cast<int>(state.range(1)));
  nabla::Generator gen(0);
  const nabla::Tensor x =
      nabla::randn({s.batch, s.in_channels, s.size, s.size}, nabla::DType::f32, &gen);
  const nabla::Tensor w =
      nabla::randn({s.out_channels, s.in_channels, s.kernel, s.kernel}, nabla::DType::f32, &gen);
  const nabla::Tensor b = nabla::randn({s.out_channels}, nabla::DType::f32, &gen);
  benchmark::DoNotOptimize(nabla::conv2d(x, w, b));  // creates and caches the primitive
  for (auto _ : state) benchmark::DoNotOptimize(nabla::conv2d(x, w, b));
  set_gflops(state, conv_flops(s));
  state.SetLabel(s.name);
}
BENCHMARK(BM_Conv2dForward)
    ->ArgNames({"shape", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Forward and backward as in a training step: weight and bias gradients, and the input's
// gradient where the layer is not the first.
void BM_Conv2dForwardBackward(benchmark::State& state) {
  const ConvShape& s = conv_shapes()[static_cast<size_t>(state.range(0))];
  nabla::set_num_threads(static_cast<int>(state.range(1)));
  nabla::Generator gen(0);
  nabla::Tensor x = nabla::randn({s.batch, s.in_channels, s.size, s.size}, nabla::DType::f32, &gen);
  nabla::Tensor w =
      nabla::randn({s.out_channels, s.in_channels, s.kernel, s.kernel}, nabla::DType::f32, &gen);
  nabla::Tensor b = nabla::randn({s.out_channels}, nabla::DType::f32, &gen);
  if (s.grad_input) x.requires_grad_();
  w.requires_grad_();
  b.requires_grad_();
  const int64_t out = s.size - s.kernel + 1;
  const nabla::Tensor grad_out =
      nabla::randn({s.batch, s.out_channels, out, out}, nabla::DType::f32, &gen);
  auto step = [&] {
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    nabla::conv2d(x, w, b).backward(grad_out);
  };
  step();
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(w.grad());
  }
  set_gflops(state, conv_flops(s) * (s.grad_input ? 3 : 2));
  state.SetLabel(s.name);
}
BENCHMARK(BM_Conv2dForwardBackward)
    ->ArgNames({"shape", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// One pass of the f32 kernel by each implementation: oneDNN primitives on nabla's plain layouts,
// oneDNN primitives on their preferred (blocked) layouts with the reorders, and im2col +
// dnnl_sgemm -- the comparison behind the automatic choice in src/kernels/cpu/conv.cpp.
void BM_Conv2dKernel(benchmark::State& state) {
  using nabla::kernels::cpu::ConvAlgorithm;
  static const ConvAlgorithm kAlgorithms[] = {ConvAlgorithm::onednn, ConvAlgorithm::onednn_blocked,
                                              ConvAlgorithm::im2col};
  static const char* const kAlgorithmNames[] = {"oneDNN plain", "oneDNN blocked+reorders",
                                                "im2col+sgemm"};
  static const char* const kPasses[] = {"forward", "input grad", "weight+bias grad"};
  const ConvShape& s = conv_shapes()[static_cast<size_t>(state.range(0))];
  const int64_t pass = state.range(1);
  const ConvAlgorithm algorithm = kAlgorithms[state.range(2)];
  nabla::set_num_threads(static_cast<int>(state.range(3)));
  const nabla::kernels::cpu::ConvGeometry g = conv_geometry(s);
  nabla::Generator gen(0);
  nabla::Tensor x = nabla::randn({g.input_numel()}, nabla::DType::f32, &gen);
  nabla::Tensor w = nabla::randn({g.weight_numel()}, nabla::DType::f32, &gen);
  nabla::Tensor b = nabla::randn({g.out_channels}, nabla::DType::f32, &gen);
  nabla::Tensor y = nabla::randn({g.output_numel()}, nabla::DType::f32, &gen);
  auto run = [&] {
    namespace cpu = nabla::kernels::cpu;
    if (pass == 0) {
      cpu::conv2d_forward(g, x.data<float>(), w.data<float>(), b.data<float>(), y.data<float>(),
                          algorithm);
    } else if (pass == 1) {
      cpu::conv2d_backward_data(g, y.data<float>(), w.data<float>(), x.data<float>(), algorithm);
    } else {
      cpu::conv2d_backward_weights(g, x.data<float>(), y.data<float>(), w.data<float>(),
                                   b.data<float>(), algorithm);
    }
  };
  run();  // creates and caches the primitives
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  set_gflops(state, conv_flops(s));
  state.SetLabel(std::string(s.name) + ", " + kPasses[pass] + ", " +
                 kAlgorithmNames[state.range(2)]);
}
BENCHMARK(BM_Conv2dKernel)
    ->ArgNames({"shape", "pass", "algorithm", "threads"})
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {0, 1, 2}, {1, 2}})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- one training step of the classic MLP, PyTorch-style loop ----
std::shared_ptr<nabla::nn::Linear> linear(int64_t in_features, int64_t out_features) {
  nabla::nn::LinearOptions options;
  options.in_features = in_features;
  return std::make_shared<nabla::nn::Linear>(out_features, options);
}

// Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10); Adam(1e-3); cross-entropy from logits.
void BM_MlpTrainStep(benchmark::State& state) {
  const int64_t batch = state.range(0);
  nabla::set_num_threads(static_cast<int>(state.range(1)));
  nabla::manual_seed(0);
  auto model = std::make_shared<nabla::nn::Sequential>(std::vector<nabla::nn::ModulePtr>{
      std::make_shared<nabla::nn::Flatten>(),
      linear(784, 128),
      nabla::nn::ReLU(),
      linear(128, 10),
  });
  nabla::optim::Adam optimizer(model->parameters(), {.lr = 1e-3});
  nabla::Generator gen(1);
  nabla::Tensor images = nabla::rand({batch, 28, 28}, nabla::DType::f32, &gen);
  nabla::Tensor labels = nabla::randint(0, 10, {batch}, &gen);
  auto step = [&] {
    optimizer.zero_grad();
    nabla::Tensor loss = nabla::cross_entropy((*model)(images), labels);
    loss.backward();
    optimizer.step();
    return loss;
  };
  for (int i = 0; i < 3; ++i) step();  // warms the allocator cache and oneDNN's kernels
  for (auto _ : state) benchmark::DoNotOptimize(step());
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MlpTrainStep)
    ->ArgNames({"batch", "threads"})
    ->ArgsProduct({{32, 256}, {1, 2}})
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// LSTM(128) over 28 steps of 28 features at batch 64 (the rows of an MNIST image as a sequence),
// last state out as Keras's default: forward and backward through the layer, parameter gradients
// included.
void BM_LstmForwardBackward(benchmark::State& state) {
  nabla::set_num_threads(static_cast<int>(state.range(0)));
  nabla::manual_seed(0);
  nabla::nn::LSTM lstm(128, {.input_size = 28});
  nabla::Generator gen(1);
  const nabla::Tensor x = nabla::randn({64, 28, 28}, nabla::DType::f32, &gen);
  const nabla::Tensor grad_out = nabla::randn({64, 128}, nabla::DType::f32, &gen);
  auto step = [&] {
    lstm.zero_grad();
    lstm(x).backward(grad_out);
  };
  for (int i = 0; i < 3; ++i) step();  // warms the allocator cache and oneDNN's kernels
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(lstm.parameters()[0].grad());
  }
  state.counters["samples_per_s"] =
      benchmark::Counter(64.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LstmForwardBackward)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
