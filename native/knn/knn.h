// Exact k-nearest-neighbour search, Euclidean, float32 inputs.
//
// Legend: nq query rows, nb base rows, d features, k neighbours per query; all matrices row-major.
//
// Result: for query i, out_idx[i*k .. i*k+k) holds the k base rows with the smallest squared distance
// |q_i - b_j|^2, nearest first, ties broken by the smaller base index; out_dist2 holds those distances.
// "Exact" means: the same answer as knn_search_reference, which evaluates every distance in double
// precision as sum_t (double(q_t) - double(b_t))^2 (t ascending) and rounds it to float for the output.
//
// How (see knn.cc): a GEMM-style pass computes |q|^2 + |b|^2 - 2 q.b tile by tile (centred and scaled by
// powers of two first, so cancellation stays small), in bfloat16 where the CPU has AVX512-BF16 and in
// float32 otherwise, with micro-kernels chosen at run time for the CPU's ISA level (kernel_set.h:
// AVX-512 + BF16, AVX-512, AVX2 + FMA or portable C++), and keeps the best k + m candidates per query;
// the candidates are then re-ranked with the exact double distances, and a rounding-error bound certifies
// that no row outside them can beat the k-th. A query whose certificate fails (rows tied or within
// rounding error at the k-th place) is redone in float32 (after bf16), then by brute force. Self-search
// (queries are the base) computes every pair once and offers it to both rows.
//
// Determinism: the answer is unique (a total order on (distance, index)), so it is bitwise the same for
// any thread count, tile sizes and ISA level.
#pragma once

#include <cstdint>

#include "core/cpu_level.h"

namespace eos {

struct KnnTiling {
  int64_t tile_rows = 0;  // query rows per tile (and rows per block in self-search); 0 = automatic
  int64_t tile_cols = 0;  // base rows per tile when sweeping queries against the base; 0 = automatic
  int threads = 0;        // OpenMP threads; 0 = OpenMP's default
  bool symmetric = true;  // self-search may compute each pair once; false forces the query x base sweep
  bool bf16 = true;       // first pass in bfloat16 where the CPU has AVX512-BF16; false: float32 only
  // The highest ISA level whose kernels this search may use; the search runs at the lower of this and
  // cpu_level() (the CPU, capped by EOS_MAX_ISA). The default caps nothing. Lets one process test every
  // level; the answer is the same at every level.
  CpuLevel max_level = CpuLevel::kAvx512Bf16;
};

// What the search did, for tests and benchmarks.
struct KnnStats {
  int64_t candidates = 0;        // candidates kept per query before the exact re-ranking (k + m)
  int64_t float32_rows = 0;      // queries the bf16 pass could not certify, redone in float32
  int64_t brute_force_rows = 0;  // queries no pass could certify, solved by brute force
  bool symmetric = false;        // the self-search computed each pair once
  const char* kernel = "";       // first-pass kernel that ran: "avx512bf16", "avx512", "avx2", "portable"
};

// queries: [nq, d]; base: [nb, d], or nullptr for self-search (base = queries, nb = nq).
// exclude_self: query i never gets base row i (requires nq == nb; meant for self-search).
// out_idx, out_dist2: [nq, k]. Preconditions (checked by the caller): nq >= 1, nb >= 1, d >= 1,
// 1 <= k <= nb - (exclude_self ? 1 : 0), nb < 2^31, all values finite.
void knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                bool exclude_self, int32_t* out_idx, float* out_dist2, const KnnTiling& tiling = KnnTiling(),
                KnnStats* stats = nullptr);

// Brute force in double precision, one query at a time (the ground truth for tests). Same arguments and
// results as knn_search. threads <= 0: OpenMP's default.
void knn_search_reference(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d,
                          int64_t k, bool exclude_self, int32_t* out_idx, float* out_dist2, int threads = 0);

// The exact squared distance both functions rank by: sum_t (double(a_t) - double(b_t))^2, t ascending,
// never fused into FMAs, so that a float64 brute force in any language reproduces it bit for bit.
double knn_exact_dist2(const float* a, const float* b, int64_t d);

}  // namespace eos
