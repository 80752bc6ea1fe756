// Strided n-d iteration shared by every elementwise kernel: the shape is walked row by row
// (innermost axis), with adjacent axes merged when all operands allow, and rows are split over
// the thread pool only when the tensor is large enough to pay for waking threads.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla {

// Elements below which elementwise work stays on one thread: at an MLP's batch-32 sizes the
// cost of waking a second thread exceeds the work.
constexpr int64_t kParallelThreshold = 1 << 15;

// body(i) for every i in [0, n): split statically over the thread pool when `parallel` (as
// `#pragma omp parallel for schedule(static)`), else a plain loop on the calling thread. Kernels
// use this, not the pragma's `if` clause: with its condition false, libgomp still forms a
// one-thread team, 1.35 us per call and 3.7 for one nested in another (Zen 5 EPYC), more than
// the whole work of the small kernels that take that branch; the bench MLP's training step at
// batch 32 entered seven such teams (the loss and its backward, the bias gradients, accuracy).
template <class Body>
void parallel_for_if(bool parallel, int64_t n, Body&& body) {
  if (!parallel) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// body(t, count) on each of the `count` threads of one parallel region of up to `threads`
// threads, for work split by hand (a recurrent layer's row slices, a bf16 product's blocks). An
// exception must not leave a parallel region: each thread's is kept and the first thread's first
// one rethrown on the calling thread after the region.
template <class Body>
void on_each_thread(int64_t threads, Body&& body) {
  std::vector<std::exception_ptr> errors(threads);
#pragma omp parallel num_threads(threads)
  {
    const int64_t count = omp_get_num_threads(), t = omp_get_thread_num();
    try {
      body(t, count);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

template <size_t N>
struct LoopOperands {
  std::array<char*, N> ptrs;     // first element of each operand
  std::array<Shape, N> strides;  // in bytes, already broadcast to the loop shape (0 = repeat)
};

// Merges axes that are contiguous with respect to each other in every operand; drops size-1 axes.
template <size_t N>
void coalesce(Shape& shape, std::array<Shape, N>& strides) {
  Shape s;
  std::array<Shape, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!s.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k)
        if (st[k].back() != strides[k][d] * shape[d]) mergeable = false;
      if (mergeable) {
        s.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) st[k].back() = strides[k][d];
        continue;
      }
    }
    s.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  if (s.empty()) {
    s.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(0);
  }
  shape = std::move(s);
  strides = std::move(st);
}

// Calls row(ptrs, inner_strides_in_bytes, n) for every innermost row of `shape`.
template <size_t N, class Row>
void for_each_row(Shape shape, LoopOperands<N> ops, Row&& row) {
  // An empty tensor has no rows; below, a size-0 outer axis would be divided by.
  if (std::find(shape.begin(), shape.end(), int64_t{0}) != shape.end()) return;
  coalesce(shape, ops.strides);
  const int64_t dims = static_cast<int64_t>(shape.size());
  const int64_t inner = shape.back();
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < dims; ++d) rows *= shape[d];
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = ops.strides[k].back();

  auto run_rows = [&](int64_t begin, int64_t end) {
    // Position of row `begin`, then advance like an odometer.
    Shape index(dims > 1 ? dims - 1 : 0, 0);
    int64_t r = begin;
    for (int64_t d = dims - 2; d >= 0; --d) {
      index[d] = r % shape[d];
      r /= shape[d];
    }
    std::array<char*, N> p;
    for (size_t k = 0; k < N; ++k) {
      p[k] = ops.ptrs[k];
      for (int64_t d = 0; d + 1 < dims; ++d) p[k] += index[d] * ops.strides[k][d];
    }
    for (int64_t i = begin; i < end; ++i) {
      row(p, inner_strides, inner);
      for (int64_t d = dims - 2; d >= 0; --d) {
        for (size_t k = 0; k < N; ++k) p[k] += ops.strides[k][d];
        if (++index[d] < shape[d]) break;
        for (size_t k = 0; k < N; ++k) p[k] -= ops.strides[k][d] * shape[d];
        index[d] = 0;
      }
    }
  };

  const int64_t total = rows * inner;
  if (total < kParallelThreshold || rows == 1) {
    if (rows == 1 && total >= kParallelThreshold) {
      // One long row: split it.
#pragma omp parallel
      {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t chunk = (inner + nt - 1) / nt;
        int64_t b = t * chunk, e = std::min(inner, b + chunk);
        if (b < e) {
          std::array<char*, N> p;
          for (size_t k = 0; k < N; ++k) p[k] = ops.ptrs[k] + b * inner_strides[k];
          row(p, inner_strides, e - b);
        }
      }
      return;
    }
    run_rows(0, rows);
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (rows + nt - 1) / nt;
    int64_t b = t * chunk, e = std::min(rows, b + chunk);
    if (b < e) run_rows(b, e);
  }
}

}  // namespace nabla
