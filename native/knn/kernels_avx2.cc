// AVX2 + FMA first-pass kernel (kernel_set.h): 6 x 16 tiles, 12 of the 16 ymm registers accumulating.
//
// Compiled for AVX2 whatever the build's flags, by the target pragma below, and run only where
// cpu_level() says the CPU has it. Everything after the pragma has internal linkage (anonymous namespace,
// no std:: templates, no inline functions from headers): an inline function emitted here would be a weak
// symbol the linker may pick for portable callers, which then die with an illegal instruction on an older
// CPU. test/knn.test.ts checks the object file for weak symbols.
#include "knn/kernel_set.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace eos::knn_detail {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

// D = (na + nb) - 2 acc, the fast rejection and the write-out.
template <bool kCols>
inline bool tile_epilogue(__m256 (&acc)[kMR][2], const float* na, const float* nb, const float* thr_row,
                          const float* thr_col, float* out, uint32_t* hits) {
  const __m256 two = _mm256_set1_ps(2.0f);
  const __m256 nb0 = _mm256_loadu_ps(nb), nb1 = _mm256_loadu_ps(nb + 8);
  __m256 tc0 = _mm256_setzero_ps(), tc1 = _mm256_setzero_ps();
  if (kCols) {
    tc0 = _mm256_loadu_ps(thr_col);
    tc1 = _mm256_loadu_ps(thr_col + 8);
  }
  uint32_t any = 0;
  uint32_t row_hits[kMR];
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) {
    const __m256 nr = _mm256_set1_ps(na[r]);
    const __m256 tr = _mm256_set1_ps(thr_row[r]);
    // (na + nb) - 2 acc with one rounding: 2 * acc is exact.
    acc[r][0] = _mm256_fnmadd_ps(two, acc[r][0], _mm256_add_ps(nr, nb0));
    acc[r][1] = _mm256_fnmadd_ps(two, acc[r][1], _mm256_add_ps(nr, nb1));
    // D <= max(tr, tc) is D <= tr or D <= tc; thresholds are never NaN, so max is exact.
    const __m256 t0 = kCols ? _mm256_max_ps(tr, tc0) : tr;
    const __m256 t1 = kCols ? _mm256_max_ps(tr, tc1) : tr;
    const uint32_t lo = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(acc[r][0], t0, _CMP_LE_OQ)));
    const uint32_t hi = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(acc[r][1], t1, _CMP_LE_OQ)));
    row_hits[r] = lo | (hi << 8);
    any |= row_hits[r];
  }
  if (any == 0) return false;
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) {
    hits[r] = row_hits[r];
    _mm256_storeu_ps(out + r * kNR, acc[r][0]);
    _mm256_storeu_ps(out + r * kNR + 8, acc[r][1]);
  }
  return true;
}

template <bool kCols>
bool tile_f32(const float* a, const float* b, int64_t d, const float* na, const float* nb,
              const float* thr_row, const float* thr_col, float* out, uint32_t* hits) {
  __m256 acc[kMR][2];
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t t = 0; t < d; ++t) {
    const __m256 b0 = _mm256_loadu_ps(b + t * kNR);
    const __m256 b1 = _mm256_loadu_ps(b + t * kNR + 8);
    const float* at = a + t * kMR;
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m256 ar = _mm256_broadcast_ss(at + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  return tile_epilogue<kCols>(acc, na, nb, thr_row, thr_col, out, hits);
}

// The list insertion four keys at a time, from the top chunk down to the one holding the insertion point.
// AVX2 compares 64-bit lanes as signed only: flipping the top bits turns unsigned order into signed order.
void insert(uint64_t* list, int64_t cap, uint64_t key) {
  const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
  const __m256i k = _mm256_xor_si256(_mm256_set1_epi64x(static_cast<long long>(key)), flip);
  for (int64_t c = (cap - 1) / 4 * 4; c >= 0; c -= 4) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(list + c));
    const uint64_t before = c > 0 ? list[c - 1] : 0;  // 0 is below every real key
    // shifted = [before, v0, v1, v2]: what each slot holds if everything from it on moves up one.
    const __m256i shifted = _mm256_blend_epi32(_mm256_permute4x64_epi64(v, 0x90),
                                               _mm256_set1_epi64x(static_cast<long long>(before)), 0x03);
    const __m256i move = _mm256_cmpgt_epi64(_mm256_xor_si256(v, flip), k);  // slots whose key moves up
    const __m256i from_left = _mm256_cmpgt_epi64(_mm256_xor_si256(shifted, flip), k);  // ... get the left one
    const __m256i incoming = _mm256_blendv_epi8(_mm256_xor_si256(k, flip), shifted, from_left);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(list + c), _mm256_blendv_epi8(v, incoming, move));
    if (before < key) break;  // the insertion point was in this chunk
  }
}

constexpr KernelSet kSet = {
    "avx2",           // name
    nullptr,          // bf16_name: no bf16 pass
    kMR,              // mr
    kNR,              // nr
    tile_f32<false>,  // f32_rows
    tile_f32<true>,   // f32_both
    nullptr,          // bf16_rows
    nullptr,          // bf16_both
    insert,           // insert
};

}  // namespace
}  // namespace eos::knn_detail

#pragma GCC pop_options

// Outside the pragma: callers of any level may run it.
const eos::knn_detail::KernelSet* eos::knn_detail::avx2_kernel_set() { return &kSet; }

#else  // not x86 (or not GCC-compatible): no AVX2 kernels in this build

const eos::knn_detail::KernelSet* eos::knn_detail::avx2_kernel_set() { return nullptr; }

#endif
