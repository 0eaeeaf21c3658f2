// AVX-512 first-pass kernels (kernel_set.h): 12 x 32 tiles, 24 of the 32 zmm registers accumulating; in
// float32 (AVX-512 F/BW/DQ/VL) and, for the avx512_bf16 level, from bfloat16 pairs (VDPBF16PS).
//
// Compiled for AVX-512 whatever the build's flags, by the target pragma below, and run only where
// cpu_level() says the CPU has it. Everything after the pragma has internal linkage (anonymous namespace,
// no std:: templates, no inline functions from headers): an inline function emitted here would be a weak
// symbol the linker may pick for portable callers, which then die with an illegal instruction on an older
// CPU. test/knn.test.ts checks the object file for weak symbols.
#include "knn/kernel_set.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")

// The bf16 kernel adds AVX512-BF16 (GCC's attribute lists the whole set, not an addition to the pragma).
#define EOS_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))

namespace eos::knn_detail {
namespace {

constexpr int kMR = 12;
constexpr int kNR = 32;

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
    // D <= max(tr, tc) is D <= tr or D <= tc; thresholds are never NaN, so max is exact.
    // (The maskz form, all lanes on, avoids GCC 12's false "uninitialized" warning on the plain one.)
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
bool tile_f32(const float* a, const float* b, int64_t d, const float* na, const float* nb,
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

// VDPBF16PS adds both products of a feature pair to the float32 accumulator (products exact, sums
// rounded), twice the arithmetic per instruction of an FMA. Subnormal bf16 inputs read as zero, so the
// packing flushes them (bf16_bits in frame.h).
template <bool kCols>
EOS_TARGET_BF16 bool tile_bf16(const uint32_t* a, const uint32_t* b, int64_t pairs, const float* na,
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

// The list insertion eight keys at a time, from the top chunk down to the one holding the insertion point.
void insert(uint64_t* list, int64_t cap, uint64_t key) {
  const __m512i k = _mm512_set1_epi64(static_cast<long long>(key));
  for (int64_t c = (cap - 1) / 8 * 8; c >= 0; c -= 8) {
    const __m512i v = _mm512_loadu_si512(list + c);
    const uint64_t before = c > 0 ? list[c - 1] : 0;  // 0 is below every real key
    // shifted = [before, v0, ..., v6]: what each slot holds if everything from it on moves up one.
    // (The maskz form, all lanes on, avoids GCC 12's false "uninitialized" warning on the plain one.)
    const __m512i shifted =
        _mm512_maskz_alignr_epi64(0xFF, v, _mm512_set1_epi64(static_cast<long long>(before)), 7);
    const __mmask8 move = _mm512_cmpgt_epu64_mask(v, k);             // slots whose key moves up
    const __mmask8 from_left = _mm512_cmpgt_epu64_mask(shifted, k);  // ... and get their left neighbour
    const __m512i incoming = _mm512_mask_blend_epi64(from_left, k, shifted);
    _mm512_storeu_si512(list + c, _mm512_mask_blend_epi64(move, v, incoming));
    if (before < key) break;  // the insertion point was in this chunk
  }
}

constexpr KernelSet kSet = {
    "avx512",         // name
    nullptr,          // bf16_name: no bf16 pass
    kMR,              // mr
    kNR,              // nr
    tile_f32<false>,  // f32_rows
    tile_f32<true>,   // f32_both
    nullptr,          // bf16_rows
    nullptr,          // bf16_both
    insert,           // insert
};
constexpr KernelSet kSetBf16 = {
    "avx512",          // name
    "avx512bf16",      // bf16_name
    kMR,               // mr
    kNR,               // nr
    tile_f32<false>,   // f32_rows
    tile_f32<true>,    // f32_both
    tile_bf16<false>,  // bf16_rows
    tile_bf16<true>,   // bf16_both
    insert,            // insert
};

}  // namespace
}  // namespace eos::knn_detail

#undef EOS_TARGET_BF16
#pragma GCC pop_options

// Outside the pragma: callers of any level may run them.
const eos::knn_detail::KernelSet* eos::knn_detail::avx512_kernel_set() { return &kSet; }
const eos::knn_detail::KernelSet* eos::knn_detail::avx512_bf16_kernel_set() { return &kSetBf16; }

#else  // not x86 (or not GCC-compatible): no AVX-512 kernels in this build

const eos::knn_detail::KernelSet* eos::knn_detail::avx512_kernel_set() { return nullptr; }
const eos::knn_detail::KernelSet* eos::knn_detail::avx512_bf16_kernel_set() { return nullptr; }

#endif
