// bf16 mixed precision on the CPU, as PyTorch's torch.autocast("cpu", dtype=torch.bfloat16).
//
// Inside an Autocast scope, the calling thread's matrix products (matmul, linear, the recurrent
// layers' gate products) and convolutions round their operands to bfloat16 and run oneDNN's bf16
// kernels (AVX512-BF16 or AMX instructions), accumulating and writing their results in fp32.
// Tensors stay fp32 throughout: the master weights, the optimizer, the loss, normalization,
// activations and every other op are unchanged, so a scope is all it takes to switch a model.
// The backward of an op recorded inside a scope runs in the precision of its forward, wherever
// backward() is called (as PyTorch's autocast, whose saved bf16 operands do the same).
//
// Products too small to gain stay fp32: rounding the operands of an [M, K] x [K, N] product
// touches K (M + N) values for its M N K multiply-adds, so M N / (M + N) must reach 256 (a
// 512 x 512 output, or 1024 rows of 342 columns); so do convolutions with fewer than 16 channels
// on a side, and anything computed in f64. On a CPU without bf16 instructions a scope
// prints one warning and everything runs in fp32.
#pragma once

#include <string>
#include <string_view>

namespace nabla {

enum class Precision { fp32, bf16 };

// "fp32" (or "float32") and "bf16" (or "bfloat16"); Error naming the accepted names otherwise.
Precision parse_precision(std::string_view name);
const char* precision_name(Precision precision);  // "fp32", "bf16"

// Whether this CPU runs oneDNN's bf16 kernels (AVX512-BF16 or AMX; ONEDNN_MAX_CPU_ISA can lower
// what oneDNN uses, and then this).
bool bf16_supported();

// The precision the calling thread's products and convolutions run in now: bf16 inside an
// Autocast scope for bf16 on a CPU that has it, else fp32.
Precision compute_precision();

// Sets the calling thread's compute precision for the scope and restores the previous one after.
// Autocast(Precision::fp32) turns it off inside an enclosing bf16 scope.
class Autocast {
 public:
  explicit Autocast(Precision precision = Precision::bf16);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  Precision previous_;
};

}  // namespace nabla
