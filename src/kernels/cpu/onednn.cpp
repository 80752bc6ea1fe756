#include "kernels/cpu/onednn.hpp"

#include "nabla/error.hpp"

namespace nabla::kernels::cpu::onednn {

const dnnl::engine& engine() {
  // Never destroyed: streams of threads that outlive static destruction still point to it.
  static const dnnl::engine* const kEngine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *kEngine;
}

namespace {
bool has_isa(dnnl::cpu_isa wanted) {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto mask = static_cast<unsigned>(wanted);
  return (isa & mask) == mask;  // the ISA values are nested bit masks
}
}  // namespace

bool has_avx512() {
  static const bool kAvx512 = has_isa(dnnl::cpu_isa::avx512_core);
  return kAvx512;
}

bool has_bf16() {
  static const bool kBf16 = has_isa(dnnl::cpu_isa::avx512_core_bf16);
  return kBf16;
}

bool has_vnni() {
  static const bool kVnni =
      has_isa(dnnl::cpu_isa::avx512_core_vnni) || has_isa(dnnl::cpu_isa::avx2_vnni);
  return kVnni;
}

dnnl::stream& stream() {
  thread_local dnnl::stream stream(engine());
  return stream;
}

void throw_error(const std::string& what, const dnnl::error& error) {
  detail::throw_error(detail::str(what, ": oneDNN error: ", error.what(), " (status ",
                                  static_cast<int>(error.status), ")"));
}

}  // namespace nabla::kernels::cpu::onednn
