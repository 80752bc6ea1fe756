// Runs a generic lambda with a value of the C++ type matching a dtype:
//   dispatch_floating(t.dtype(), "relu", [&](auto tag) { using T = decltype(tag); ... });
#pragma once

#include "nabla/tensor.hpp"

namespace nabla {

template <class F>
decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    default:
      detail::throw_error(
          detail::str(op, ": expected a floating tensor (f32 or f64), got ", dtype));
  }
}

template <class F>
decltype(auto) dispatch_numeric(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    case DType::i64:
      return f(int64_t{});
    case DType::u8:
      return f(uint8_t{});
    default:
      detail::throw_error(detail::str(op, ": expected a numeric tensor, got ", dtype));
  }
}

template <class F>
decltype(auto) dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    case DType::i64:
      return f(int64_t{});
    case DType::u8:
      return f(uint8_t{});
    case DType::boolean:
      return f(bool{});
  }
  return f(float{});
}

}  // namespace nabla
