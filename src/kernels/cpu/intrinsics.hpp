// The x86 intrinsics (<immintrin.h>), for every kernel file that uses them: include this instead.
// GCC 12 warns that its own AVX-512 intrinsics (_mm512_i32gather_ps, _mm512_max_ps, the
// conversions, ...) read an uninitialized __Y once they are inlined into a caller: a false
// positive of its headers' _mm512_undefined_* (GCC bug 105593, fixed in GCC 13). The warnings are
// silenced for the header's own lines only, which works where this is the translation unit's
// first inclusion of <immintrin.h>: every file of nabla's takes the intrinsics from here.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
