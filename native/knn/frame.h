// The coordinates the k-NN float passes work in, and the packing of rows into micro-kernel panels.
//
// Legend: n rows, d features, P rows per panel (the kernel's MR or NR), x' = mapped row, x^ = x' rounded
// to bfloat16.
//
// Frame: distances do not change under translation, nor (up to an exact factor) under scaling by a power
// of two, but the GEMM form |q|^2 + |b|^2 - 2 q.b loses accuracy when the norms dwarf the distances
// (embeddings far from the origin). Every feature is shifted by the base mean rounded to a multiple of
// 2^floor(log2(std)) (few significant bits, so integer-valued data stays integer-valued and exact), and
// everything is scaled by 2^-e into (-1, 1), far from overflow and underflow.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace eos::knn_detail {

struct Frame {
  std::vector<float> shift;
  float scale = 1.0f;  // a power of two
  float map(float x, int64_t t) const { return (x - shift[t]) * scale; }
};

// Sums use 64 fixed row chunks combined in order: the frame does not depend on the thread count.
inline Frame make_frame(const float* q, int64_t nq, const float* b, int64_t nb, int64_t d, int threads) {
  Frame f;
  f.shift.assign(d, 0.0f);
  const int64_t chunks = std::min<int64_t>(64, nb);
  std::vector<double> sum(chunks * d, 0.0), sum2(chunks * d, 0.0);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    double* s = sum.data() + c * d;
    double* s2 = sum2.data() + c * d;
    for (int64_t i = nb * c / chunks; i < nb * (c + 1) / chunks; ++i) {
      for (int64_t t = 0; t < d; ++t) {
        const double v = b[i * d + t];
        s[t] += v;
        s2[t] += v * v;
      }
    }
  }
  for (int64_t t = 0; t < d; ++t) {
    double s = 0.0, s2 = 0.0;
    for (int64_t c = 0; c < chunks; ++c) {
      s += sum[c * d + t];
      s2 += sum2[c * d + t];
    }
    const double mean = s / nb;
    const double var = std::max(0.0, s2 / nb - mean * mean);
    if (!(var > 0.0)) {
      f.shift[t] = static_cast<float>(mean);
    } else {
      const double quantum = std::ldexp(1.0, std::ilogb(std::sqrt(var)));
      f.shift[t] = static_cast<float>(std::nearbyint(mean / quantum) * quantum);
    }
  }
  auto max_abs = [&](const float* x, int64_t n) {
    float m = 0.0f;
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t t = 0; t < d; ++t) m = std::max(m, std::fabs(x[i * d + t] - f.shift[t]));
    }
    return m;
  };
  float m = max_abs(b, nb);
  if (q != b) m = std::max(m, max_abs(q, nq));
  if (!std::isfinite(m)) {  // x - shift overflowed (values near FLT_MAX): no shift
    std::fill(f.shift.begin(), f.shift.end(), 0.0f);
    m = std::max(max_abs(b, nb), q != b ? max_abs(q, nq) : 0.0f);
  }
  if (m > 0.0f) {
    int e = 0;
    std::frexp(m, &e);
    f.scale = std::ldexp(1.0f, -e);
  }
  return f;
}

// bfloat16 bits of x (round to nearest even), subnormals flushed to zero as VDPBF16PS reads them.
// Mapped values are below 1 in magnitude, so rounding never overflows.
// (Branch-free, so that the packing loop vectorises.)
inline uint32_t bf16_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  return (bits & 0x7f800000u) == 0 ? (bits >> 16) & 0x8000u : rounded;
}
inline float bf16_value(uint32_t h) {
  const uint32_t bits = h << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Per-row quantities of the float passes, NaN-padded past n (a padding row's distances are NaN and fail
// every comparison).
struct RowStats {
  std::vector<float> norm;     // |x'|^2, for the float32 pass
  std::vector<float> norm_bf;  // |x^|^2, for the bf16 pass (empty without it)
  std::vector<double> len;     // |x'|, for the bf16 certificate
  std::vector<double> resid;   // |x' - x^|, for the bf16 certificate
  double resid_ratio = 0.0;    // max over rows of resid / len
};

inline RowStats row_stats(const float* x, int64_t n, int64_t d, const Frame& f, bool bf16, int threads) {
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  RowStats s;
  const int64_t padded = n + 96;  // 96 = lcm of the kernels' tile sides
  s.norm.assign(padded, kNaN);
  if (bf16) {
    s.norm_bf.assign(padded, kNaN);
    s.len.assign(n, 0.0);
    s.resid.assign(n, 0.0);
  }
  double ratio = 0.0;
#pragma omp parallel for schedule(static) reduction(max : ratio) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    float norm = 0.0f, norm_bf = 0.0f;
    double len2 = 0.0, resid2 = 0.0;
    for (int64_t t = 0; t < d; ++t) {
      const float v = f.map(x[i * d + t], t);
      norm += v * v;
      if (bf16) {
        const float h = bf16_value(bf16_bits(v));
        norm_bf += h * h;
        len2 += static_cast<double>(v) * v;
        resid2 += (static_cast<double>(v) - h) * (static_cast<double>(v) - h);
      }
    }
    s.norm[i] = norm;
    if (bf16) {
      s.norm_bf[i] = norm_bf;
      s.len[i] = std::sqrt(len2);
      s.resid[i] = std::sqrt(resid2);
      if (len2 > 0.0) ratio = std::max(ratio, s.resid[i] / s.len[i]);
    }
  }
  s.resid_ratio = ratio;
  return s;
}

// Packs `count` rows, row r being x + rows(r) * d, into ceil(count / P) feature-major panels of float32
// words, out[p][t][P] = x'_t of row p * P + j; rows past `count` are zeros. Their norms go to pnorm
// (NaN past count). P is the kernel's tile side (MR or NR), known at run time.
template <typename Rows>
void pack_f32(const float* x, int64_t d, Rows rows, int64_t count, int P, const Frame& f, const float* norms,
              float* out, float* pnorm) {
  for (int64_t r = 0; r < (count + P - 1) / P * P; ++r) {
    float* o = out + (r / P) * d * P + r % P;
    if (r < count) {
      const float* row = x + rows(r) * d;
      for (int64_t t = 0; t < d; ++t) o[t * P] = f.map(row[t], t);
      pnorm[r] = norms[rows(r)];
    } else {
      for (int64_t t = 0; t < d; ++t) o[t * P] = 0.0f;
      pnorm[r] = std::numeric_limits<float>::quiet_NaN();
    }
  }
}

// One row in bf16 pairs: words[t2] holds x^_{2 t2} (low half) and x^_{2 t2 + 1} (high half, zero past d).
inline void bf16_pairs(const float* row, int64_t d, const Frame& f, uint32_t* words) {
  const float* shift = f.shift.data();
  const float scale = f.scale;
  for (int64_t t2 = 0; t2 < d / 2; ++t2) {  // vectorises: no branches, no strides in the output
    const uint32_t lo = bf16_bits((row[2 * t2] - shift[2 * t2]) * scale);
    const uint32_t hi = bf16_bits((row[2 * t2 + 1] - shift[2 * t2 + 1]) * scale);
    words[t2] = lo | (hi << 16);
  }
  if (d % 2 != 0) words[d / 2] = bf16_bits(f.map(row[d - 1], d - 1));
}

// Rows packed in bf16 pairs: out[p][t2][P] = bf16_pairs(row p * P + j)[t2]. `words` is scratch for
// ceil(d / 2) words.
template <typename Rows>
void pack_bf16(const float* x, int64_t d, Rows rows, int64_t count, int P, const Frame& f, const float* norms,
               uint32_t* out, float* pnorm, uint32_t* words) {
  const int64_t pairs = (d + 1) / 2;
  for (int64_t r = 0; r < (count + P - 1) / P * P; ++r) {
    uint32_t* o = out + (r / P) * pairs * P + r % P;
    if (r < count) {
      bf16_pairs(x + rows(r) * d, d, f, words);
      for (int64_t t2 = 0; t2 < pairs; ++t2) o[t2 * P] = words[t2];
      pnorm[r] = norms[rows(r)];
    } else {
      for (int64_t t2 = 0; t2 < pairs; ++t2) o[t2 * P] = 0u;
      pnorm[r] = std::numeric_limits<float>::quiet_NaN();
    }
  }
}

}  // namespace eos::knn_detail
