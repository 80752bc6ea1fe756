// Size arithmetic that cannot wrap. Element counts, byte sizes and offsets computed from shapes
// and from file headers (user input) go through here, so that a huge size is an Error naming
// what asked for it, never a wrapped count that passes a later check: unchecked, an IDX header of
// 1531578832 x 2801924005 once passed as 784 pixels, and an input shape of 2^31 x 2^31 floats
// wrapped to a 0-byte buffer that a kernel then wrote. Internal.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "nabla/error.hpp"

namespace nabla::core {

// Each function takes `what...`: the parts of a name for the error ("read_idx: ", path), streamed
// together only when the check fails, so that the hot path (every tensor) builds no string.

// a * b for sizes; Error naming `what` when the product does not fit in int64_t.
template <class... What>
int64_t checked_mul(int64_t a, int64_t b, const What&... what) {
  int64_t product = 0;
  NABLA_CHECK(!__builtin_mul_overflow(a, b, &product), what..., ": ", a, " x ", b,
              " overflows 64 bits");
  return product;
}

// a + b for sizes and offsets; Error naming `what` when the sum does not fit in int64_t.
template <class... What>
int64_t checked_add(int64_t a, int64_t b, const What&... what) {
  int64_t sum = 0;
  NABLA_CHECK(!__builtin_add_overflow(a, b, &sum), what..., ": ", a, " + ", b,
              " overflows 64 bits");
  return sum;
}

// The element count of `shape`; Error naming `what` and the shape when a size is negative or the
// sizes multiply past int64_t. A size 0 counts as 1 in that product: an empty tensor's count fits
// whatever its other sizes are, but its strides are products of them too, and a shape such as
// [0, 2^40, 2^40] from a file header would wrap them.
template <class... What>
int64_t checked_numel(const Shape& shape, const What&... what) {
  int64_t span = 1;
  bool empty = false, overflow = false;
  for (int64_t size : shape) {
    NABLA_CHECK(size >= 0, what..., ": negative size in shape ", shape);
    empty = empty || size == 0;
    overflow = overflow || __builtin_mul_overflow(span, size == 0 ? 1 : size, &span);
  }
  NABLA_CHECK(!overflow, what..., ": shape ", shape,
              empty ? " has sizes whose product (its strides) does not fit in 64 bits"
                    : " has more elements than fit in 64 bits");
  return empty ? 0 : span;
}

// The bytes of `count` elements of `item_bytes` each; Error naming `what` on overflow.
template <class... What>
int64_t checked_nbytes(int64_t count, int64_t item_bytes, const What&... what) {
  int64_t bytes = 0;
  NABLA_CHECK(!__builtin_mul_overflow(count, item_bytes, &bytes), what..., ": ", count,
              " elements of ", item_bytes, " bytes need more than 2^63 bytes");
  return bytes;
}

// "12.3 GiB": a byte count in an error, readable at a glance (printed beside the exact count).
inline std::string readable_bytes(uint64_t nbytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(nbytes);
  int unit = 0;
  while (value >= 1024 && unit < 6) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace nabla::core
