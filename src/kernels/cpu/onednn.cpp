#include "kernels/cpu/onednn.hpp"

#include "nabla/error.hpp"

namespace nabla::kernels::cpu::onednn {

const dnnl::engine& engine() {
  // Never destroyed: streams of threads that outlive static destruction still point to it.
  static const dnnl::engine* const kEngine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *kEngine;
}

bool has_avx512() {
  static const bool kAvx512 = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto avx512 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
    return (isa & avx512) == avx512;  // the ISA values are nested bit masks
  }();
  return kAvx512;
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
