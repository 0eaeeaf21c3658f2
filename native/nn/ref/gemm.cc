#include "nn/ref/gemm.h"

#include <algorithm>
#include <vector>

namespace eos::ref {

namespace {

// Register tile (kMr x kNr accumulators), and cache blocks: a kKc x kNc panel of B and a kMc x kKc block of
// A are packed into contiguous strips so that the micro-kernel streams through memory linearly.
constexpr int64_t kMr = 6, kNr = 16;
constexpr int64_t kKc = 256, kMc = 96, kNc = 1024;

// Packs rows [i0, i0 + mc) x columns [p0, p0 + kc) of op(A) into strips of kMr rows, k-major inside a strip
// (element (i, p) of strip s at out[s * kc * kMr + p * kMr + i]); missing rows of the last strip are 0.
template <typename T>
void pack_a(bool trans, const T* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out) {
  for (int64_t s = 0; s < mc; s += kMr) {
    const int64_t mr = std::min(kMr, mc - s);
    T* dst = out + s * kc;
    for (int64_t p = 0; p < kc; ++p) {
      for (int64_t i = 0; i < mr; ++i) {
        const int64_t row = i0 + s + i, col = p0 + p;
        dst[p * kMr + i] = trans ? a[col * lda + row] : a[row * lda + col];
      }
      for (int64_t i = mr; i < kMr; ++i) dst[p * kMr + i] = T(0);
    }
  }
}

// Packs rows [p0, p0 + kc) x columns [j0, j0 + nc) of op(B) into strips of kNr columns, k-major inside a
// strip (element (p, j) of strip s at out[s * kc * kNr + p * kNr + j]); missing columns are 0.
template <typename T>
void pack_b(bool trans, const T* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  for (int64_t s = 0; s < nc; s += kNr) {
    const int64_t nr = std::min(kNr, nc - s);
    T* dst = out + s * kc;
    if (!trans) {
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = b + (p0 + p) * ldb + j0 + s;
        for (int64_t j = 0; j < nr; ++j) dst[p * kNr + j] = src[j];
        for (int64_t j = nr; j < kNr; ++j) dst[p * kNr + j] = T(0);
      }
    } else {
      for (int64_t j = 0; j < nr; ++j) {
        const T* src = b + (j0 + s + j) * ldb + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * kNr + j] = src[p];
      }
      for (int64_t p = 0; p < kc; ++p) {
        for (int64_t j = nr; j < kNr; ++j) dst[p * kNr + j] = T(0);
      }
    }
  }
}

// acc (kMr x kNr) = sum over p < kc of column p of the A strip times row p of the B strip.
// With GCC or Clang the kNr-wide rows are generic vectors (the compiler maps them onto whatever SIMD width
// the target has: 1 zmm, 2 ymm or 4 xmm registers), which keeps the kMr x kNr accumulators in registers;
// other compilers get the plain loop. Both add the products of each element in increasing p.
#if defined(__GNUC__)
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* __restrict acc) {
  typedef T Row __attribute__((vector_size(kNr * sizeof(T))));
  Row r[kMr];
  for (int64_t i = 0; i < kMr; ++i) r[i] = Row{};
  for (int64_t p = 0; p < kc; ++p) {
    Row bq;
    __builtin_memcpy(&bq, bp + p * kNr, sizeof(Row));
    const T* aq = ap + p * kMr;
#pragma GCC unroll 8
    for (int64_t i = 0; i < kMr; ++i) r[i] += aq[i] * bq;
  }
  for (int64_t i = 0; i < kMr; ++i) __builtin_memcpy(acc + i * kNr, &r[i], sizeof(Row));
}
#else
template <typename T>
inline void micro_kernel(int64_t kc, const T* ap, const T* bp, T* acc) {
  for (int64_t e = 0; e < kMr * kNr; ++e) acc[e] = T(0);
  for (int64_t p = 0; p < kc; ++p) {
    for (int64_t i = 0; i < kMr; ++i) {
      const T ai = ap[p * kMr + i];
      for (int64_t j = 0; j < kNr; ++j) acc[i * kNr + j] += ai * bp[p * kNr + j];
    }
  }
}
#endif

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, bool accumulate, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    }
    return;
  }
  // Packing buffers live as long as the thread; they grow to their maximum size once.
  thread_local std::vector<T> a_pack, b_pack;
  a_pack.resize(static_cast<size_t>(((kMc + kMr - 1) / kMr) * kMr * kKc));
  b_pack.resize(static_cast<size_t>(((kNc + kNr - 1) / kNr) * kNr * kKc));
  T acc[kMr * kNr];

  for (int64_t j0 = 0; j0 < n; j0 += kNc) {
    const int64_t nc = std::min(kNc, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kKc) {
      const int64_t kc = std::min(kKc, k - p0);
      const bool add = accumulate || p0 > 0;
      pack_b(trans_b, b, ldb, p0, kc, j0, nc, b_pack.data());
      for (int64_t i0 = 0; i0 < m; i0 += kMc) {
        const int64_t mc = std::min(kMc, m - i0);
        pack_a(trans_a, a, lda, i0, mc, p0, kc, a_pack.data());
        for (int64_t js = 0; js < nc; js += kNr) {
          const int64_t nr = std::min(kNr, nc - js);
          for (int64_t is = 0; is < mc; is += kMr) {
            const int64_t mr = std::min(kMr, mc - is);
            micro_kernel(kc, a_pack.data() + is * kc, b_pack.data() + js * kc, acc);
            for (int64_t i = 0; i < mr; ++i) {
              T* crow = c + (i0 + is + i) * ldc + j0 + js;
              const T* arow = acc + i * kNr;
              if (add) {
                for (int64_t j = 0; j < nr; ++j) crow[j] += arow[j];
              } else {
                for (int64_t j = 0; j < nr; ++j) crow[j] = arow[j];
              }
            }
          }
        }
      }
    }
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                          bool, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                           int64_t, bool, double*, int64_t);

}  // namespace eos::ref
