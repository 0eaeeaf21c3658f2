// Single-threaded matrix multiply used by the reference convolution (callers parallelise over images).
//
// Legend: C is M x N, row-major with row stride ldc; op(A) is M x K; op(B) is K x N.
//   trans_a = false: A is stored M x K (row stride lda); trans_a = true: A is stored K x M, op(A) = A^T.
//   trans_b likewise for B (K x N stored, or N x K stored and transposed).
// C = op(A) op(B) when `accumulate` is false, C += op(A) op(B) when it is true.
//
// Determinism: each element of C adds its K products in increasing k within blocks of 256, and adds the
// blocks in order, whatever the thread, alignment or vector width; so results are reproducible bitwise for
// a given build.
#pragma once

#include <cstdint>

namespace eos::ref {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, bool accumulate, T* c, int64_t ldc);

}  // namespace eos::ref
