// The oneDNN CPU engine and stream that every oneDNN primitive in nabla runs on (convolution,
// pooling, normalization, ...), so that primitives are created against one engine and nothing
// creates engines per call. Internal: oneDNN headers never reach include/.
#pragma once

#include <map>
#include <mutex>
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

// Whether oneDNN runs its bf16 kernels on this CPU (effective ISA avx512_core_bf16 or beyond:
// AVX512-BF16 or AMX): nabla::bf16_supported().
bool has_bf16();

// Whether this CPU has VNNI's u8 x s8 dot product into s32 (AVX512-VNNI, AVX-VNNI or AMX). Without
// it oneDNN's int8 kernels add pairs of u8 x s8 products in s16 (vpmaddubsw), which saturates
// unless the weights keep to 7 bits (Int8Conv).
bool has_vnni();

// Primitives (with what goes with them: reorders, chosen layouts) by configuration, each created
// at its first use (oneDNN sizes its work at creation) and kept for the process. get() returns by
// value (primitives are reference-counted handles), so that a concurrent eviction cannot pull one
// from under a caller; beyond 64 entries (a program feeding ever new shapes) the cache starts
// over. Hold one in a never-destroyed static: threads may still run primitives at exit.
template <class Key, class Value>
class PrimitiveCache {
 public:
  template <class Create>
  Value get(const Key& key, const Create& create) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (entries_.size() >= kMaxEntries) entries_.clear();
      it = entries_.emplace(key, create(key)).first;
    }
    return it->second;
  }

 private:
  static constexpr size_t kMaxEntries = 64;
  std::mutex mutex_;
  std::map<Key, Value> entries_;
};

// Throws nabla::Error for a failed oneDNN call: "<what>: oneDNN error: <status and message>".
[[noreturn]] void throw_error(const std::string& what, const dnnl::error& error);

}  // namespace nabla::kernels::cpu::onednn
