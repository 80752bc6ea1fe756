// The calling thread's compute precision (nabla/autocast.hpp). Thread-local, as PyTorch's autocast
// state: the kernels read it on the thread that calls them, before they fan out to the pool.
#include "nabla/autocast.hpp"

#include <iostream>
#include <mutex>

#include "kernels/cpu/onednn.hpp"
#include "nabla/error.hpp"

namespace nabla {

namespace {
thread_local Precision current = Precision::fp32;
}  // namespace

Precision parse_precision(std::string_view name) {
  if (name == "fp32" || name == "float32") return Precision::fp32;
  if (name == "bf16" || name == "bfloat16") return Precision::bf16;
  detail::throw_error(detail::str("unknown precision \"", name, "\": expected fp32 or bf16"));
}

const char* precision_name(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

bool bf16_supported() { return kernels::cpu::onednn::has_bf16(); }

Precision compute_precision() { return current; }

Autocast::Autocast(Precision precision) : previous_(current) {
  if (precision == Precision::bf16 && !bf16_supported()) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      std::cerr << "nabla: warning: bf16 needs a CPU with AVX512-BF16 or AMX instructions, which "
                   "this one lacks (or ONEDNN_MAX_CPU_ISA hides): running in fp32\n";
    });
    precision = Precision::fp32;
  }
  current = precision;
}

Autocast::~Autocast() { current = previous_; }

}  // namespace nabla
