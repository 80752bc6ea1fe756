// The oneDNN CPU engine and stream that every oneDNN primitive in nabla runs on (convolution,
// pooling, normalization, ...), so that primitives are created against one engine and nothing
// creates engines per call. Internal: oneDNN headers never reach include/.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <string>

namespace nabla::kernels::cpu::onednn {

// The process-wide CPU engine, created at first use.
const dnnl::engine& engine();

// A stream on engine() for the calling thread. oneDNN streams are not thread-safe, so each thread
// that executes primitives gets its own (creating one on the CPU costs nothing); primitives and
// the engine are shared.
dnnl::stream& stream();

// Whether oneDNN runs its AVX-512 kernels on this CPU (its effective ISA includes avx512_core):
// which convolution path is fastest differs between those and the AVX2 ones (conv.cpp, choose()).
bool has_avx512();

// Throws nabla::Error for a failed oneDNN call: "<what>: oneDNN error: <status and message>".
[[noreturn]] void throw_error(const std::string& what, const dnnl::error& error);

}  // namespace nabla::kernels::cpu::onednn
