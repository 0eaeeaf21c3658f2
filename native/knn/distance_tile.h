// The k-NN distance micro-kernel: one register tile of approximate squared distances.
//
// Legend: MR query rows x NR base rows per tile, d features. Packed operands, feature-major:
//   a[t * MR + r] = feature t of query row r,   b[t * NR + c] = feature t of base row c.
// D[r][c] = (na[r] + nb[c]) - 2 * sum_t a[t*MR + r] * b[t*NR + c], the sum accumulated with t ascending
// in one chain per (r, c), so a pair's value never depends on where in a tile it sits.
// Padding rows/columns carry a NaN norm: their D is NaN and fails every comparison.
//
// The fast rejection lives here, while D is still in registers: the call returns true only when some
// D[r][c] <= thr_row[r] (or, with kCols, <= thr_col[c]), i.e. when the pair might enter a top list; then
// it writes the tile to `out` and, in hits[r], bit c set for each such pair. Almost every tile is
// rejected without touching memory, and the scalar update visits only the flagged pairs.
#pragma once

#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace eos::knn_detail {

#if defined(__AVX512F__)

constexpr int kMR = 12;  // 12 x 2 accumulators of 16 floats: 24 of the 32 zmm registers
constexpr int kNR = 32;
constexpr const char* kKernelName = "avx512";

// D = (na + nb) - 2 acc, the fast rejection and the write-out, shared by the float32 and bf16 kernels.
template <bool kCols>
inline bool tile_epilogue(__m512 (&acc)[kMR][2], const float* na, const float* nb, const float* thr_row,
                          const float* thr_col, float* out, uint32_t* hits) {
  const __m512 two = _mm512_set1_ps(2.0f);
  const __m512 nb0 = _mm512_loadu_ps(nb), nb1 = _mm512_loadu_ps(nb + 16);
  __m512 tc0 = _mm512_setzero_ps(), tc1 = _mm512_setzero_ps();
  if (kCols) {
    tc0 = _mm512_loadu_ps(thr_col);
    tc1 = _mm512_loadu_ps(thr_col + 16);
  }
  __mmask16 any = 0;
  uint32_t row_hits[kMR];
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    const __m512 nr = _mm512_set1_ps(na[r]);
    const __m512 tr = _mm512_set1_ps(thr_row[r]);
    // (na + nb) - 2 acc with one rounding: 2 * acc is exact.
    acc[r][0] = _mm512_fnmadd_ps(two, acc[r][0], _mm512_add_ps(nr, nb0));
    acc[r][1] = _mm512_fnmadd_ps(two, acc[r][1], _mm512_add_ps(nr, nb1));
    // D <= max(tr, tc) is D <= tr or D <= tc; max of two thresholds is exact.
    const __m512 t0 = kCols ? _mm512_maskz_max_ps(0xFFFF, tr, tc0) : tr;
    const __m512 t1 = kCols ? _mm512_maskz_max_ps(0xFFFF, tr, tc1) : tr;
    const __mmask16 lo = _mm512_cmp_ps_mask(acc[r][0], t0, _CMP_LE_OQ);
    const __mmask16 hi = _mm512_cmp_ps_mask(acc[r][1], t1, _CMP_LE_OQ);
    any |= lo | hi;
    row_hits[r] = static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
  }
  if (any == 0) return false;
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    hits[r] = row_hits[r];
    _mm512_storeu_ps(out + r * kNR, acc[r][0]);
    _mm512_storeu_ps(out + r * kNR + 16, acc[r][1]);
  }
  return true;
}

template <bool kCols>
inline bool distance_tile(const float* a, const float* b, int64_t d, const float* na, const float* nb,
                          const float* thr_row, const float* thr_col, float* out, uint32_t* hits) {
  __m512 acc[kMR][2];
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t t = 0; t < d; ++t) {
    const __m512 b0 = _mm512_loadu_ps(b + t * kNR);
    const __m512 b1 = _mm512_loadu_ps(b + t * kNR + 16);
    const float* at = a + t * kMR;
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(at[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  return tile_epilogue<kCols>(acc, na, nb, thr_row, thr_col, out, hits);
}

#if defined(__AVX512BF16__)
constexpr bool kHaveBf16 = true;

// The same tile from bf16 operands: a[p * MR + r] holds features 2p (low half) and 2p + 1 (high half) of
// query row r, b[p * NR + c] those of base row c; pairs = ceil(d / 2). VDPBF16PS adds both products of a
// pair to the float32 accumulator (products exact, sums rounded), twice the arithmetic per instruction of
// an FMA. Subnormal bf16 inputs read as zero, so the packing flushes them (see bf16_bits in knn.cc).
template <bool kCols>
inline bool distance_tile_bf16(const uint32_t* a, const uint32_t* b, int64_t pairs, const float* na,
                               const float* nb, const float* thr_row, const float* thr_col, float* out,
                               uint32_t* hits) {
  __m512 acc[kMR][2];
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * kNR);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * kNR + 16);
    const uint32_t* ap = a + p * kMR;
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
    }
  }
  return tile_epilogue<kCols>(acc, na, nb, thr_row, thr_col, out, hits);
}
#else
constexpr bool kHaveBf16 = false;
template <bool kCols>
inline bool distance_tile_bf16(const uint32_t*, const uint32_t*, int64_t, const float*, const float*,
                               const float*, const float*, float*, uint32_t*) {
  return true;  // never called: kHaveBf16 is false
}
#endif

#else  // portable C++: fixed-size loops the compiler can vectorise over c

constexpr int kMR = 6;
constexpr int kNR = 16;
constexpr const char* kKernelName = "portable";

template <bool kCols>
inline bool distance_tile(const float* a, const float* b, int64_t d, const float* na, const float* nb,
                          const float* thr_row, const float* thr_col, float* out, uint32_t* hits) {
  float acc[kMR][kNR] = {};
  for (int64_t t = 0; t < d; ++t) {
    const float* bt = b + t * kNR;
    const float* at = a + t * kMR;
    for (int r = 0; r < kMR; ++r) {
      const float ar = at[r];
      for (int c = 0; c < kNR; ++c) acc[r][c] += ar * bt[c];
    }
  }
  bool any = false;
  for (int r = 0; r < kMR; ++r) {
    uint32_t row_hits = 0;
    for (int c = 0; c < kNR; ++c) {
      const float dist = (na[r] + nb[c]) - 2.0f * acc[r][c];
      const float thr = kCols && thr_col[c] > thr_row[r] ? thr_col[c] : thr_row[r];
      row_hits |= static_cast<uint32_t>(dist <= thr) << c;
      out[r * kNR + c] = dist;
    }
    hits[r] = row_hits;
    any |= row_hits != 0;
  }
  return any;
}

constexpr bool kHaveBf16 = false;
template <bool kCols>
inline bool distance_tile_bf16(const uint32_t*, const uint32_t*, int64_t, const float*, const float*,
                               const float*, const float*, float*, uint32_t*) {
  return true;  // never called: kHaveBf16 is false
}

#endif

}  // namespace eos::knn_detail
