// Exact k-NN on the GPU (knn_cuda.h), with knn.h's contract and knn.cc's method: a low-precision candidate
// pass, an exact double re-rank of the candidates, a rounding-error certificate, brute force where it fails.
//
// Legend: nq queries, nb base rows, d features (dp: d padded to kBK with zeros), k neighbours,
// cap = k + m candidates kept per query; x' = a row in the frame (shifted by about the base mean and scaled
// by a power of two, as frame.h explains); u = 2^-24 (float32); BM x BN = a block's tile.
//
// 1. Frame (device): per-feature sums over fixed row chunks combined in order (deterministic), the shift as
//    make_frame (frame.h) rounds it, the largest |x - shift| by an (exact, order-free) atomic max, then x'
//    padded to [rows rounded up to BM, dp] with zeros, and |x'|^2 per row in float32.
// 2. Candidate pass: a block owns BM queries (of all, or of a list of rows for a redo) and sweeps the base
//    BN rows at a time. The BM x BN block of dot products is computed in shared memory (tensor cores via
//    wmma m16n16k8 on tf32-rounded values, "tf32", or on values split in two tf32 halves, "tf32x3", which
//    of the two decided by how tf32 does on a sample of the queries; or float32 FMAs), then each query
//    row is scanned by one warp: a distance |q|^2 + |b|^2 - 2 q.b that beats the row's cap-th key is inserted
//    into the row's sorted list (global memory, only this warp touches it). Keys are (float distance, index)
//    in one integer whose order is the pair order, so the kept set does not depend on the order of arrival.
//    No [nq, nb] matrix: memory is the tiles plus cap keys per query.
// 3. Re-rank: one warp per query computes the candidates' exact distances (sum_t (double(q_t) -
//    double(b_t))^2, t ascending, each operation rounded on its own: __dsub_rn / __dmul_rn / __dadd_rn, the
//    same value as knn_exact_dist2), ranks them by (distance, index) and writes the best k.
// 4. Certificate (in the frame's units): a row outside the candidates has pass distance P >= A, the cap-th
//    key's. The pass errs by |P - D| <= c (|a|^2 + |b|^2 + D) with D the true (frame) distance:
//    - float32 (sequential FMAs): dot product gamma_d |a||b| (2|a||b| <= |a|^2 + |b|^2), norms gamma_d,
//      fl(na + nb) and the final FMA one rounding each, the frame's own rounding of x - shift (u per value:
//      2u (|a|^2 + |b|^2) + u D): c = 1.25 (2d + 8) u, knn.cc's constant.
//    - tf32: the inputs of the products are rounded to tf32 (ut = 2^-11 relative each: (2ut + ut^2)
//      |a_t b_t|), their products are exact in float32, the accumulation allowed 4du (see below):
//      c = 1.25 (5d + 8) u + 2.5 ut.
//    - tf32x3: x = hi + lo + e with hi, lo tf32 and |e| <= 2^-22 |x| = 4u |x|; hi hi + hi lo + lo hi differs
//      from a_t b_t by at most (4u + 4u + 4u + tiny) |a_t b_t| (lo lo and the two e terms), each of the
//      3d products of tf32 values is exact in float32, and their sum, as the tensor cores accumulate it
//      (not specified as IEEE round-to-nearest: truncation, aligned partial sums), is allowed 2u per
//      addition: (6d + 13) u |a||b| for the dot product. With the norms (du, float32, own kernel) and the
//      roundings above (8u): c = 1.25 (7d + 24) u, 25% to spare as knn.cc's. (Plain tf32, one product of
//      the rounded values, errs by 2^-10 of the norms: on clustered embeddings, whose neighbour distances
//      are ~1/50 of the norms, it certified almost no query in a float64 emulation; tf32x3 nearly all. On
//      unclustered data both certify nearly all, and tf32 does a third of the arithmetic.)
//    Subnormal inputs that the hardware flushes move a product by < 2^-126: the 1e-30 d term covers them.
//    With |b|^2 <= 2|a|^2 + 2D, the row's true distance is >= (A - 3c|a|^2) / (1 + 3c). If that exceeds the
//    k-th exact distance (with the double sum's own rounding allowed for, as knn.cc does), no row outside
//    can enter the answer. A query that fails (rows tied or within rounding error at the k-th place) is
//    redone by the float32 pass when the tensor cores ran first (a 3.5 times tighter bound; as knn.cc's
//    float32 redo after bf16), then by brute force (step 5).
// 5. Brute force: one warp per query over every base row, exact distances, a sorted list of k exact keys.
//
// Determinism: every reduction has a fixed order, the one atomic is a max (exact), and the kept sets are
// the smallest under a total order: two runs give the same bits, and the CPU's answer.
#include <cuda_runtime.h>
#include <math_constants.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/device_buffer.h"
#include "knn/knn_cuda.h"

namespace eos::cuda {
namespace {

constexpr int kBM = 128;  // queries per block
constexpr int kBN = 128;  // base rows per sweep step
constexpr int kBK = 32;   // features per shared-memory stage
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kLdAB = kBK + 4;  // row stride of the staged rows (a multiple of 4 floats, as wmma requires)
constexpr int kLdS = kBN + 4;   // row stride of the dot-product tile
constexpr unsigned kFull = 0xffffffffu;
constexpr int64_t kScratchBudget = int64_t{1} << 30;  // bytes of per-query lists a chunk of queries may use
constexpr int kFrameChunks = 256;                     // fixed row chunks of the frame's sums
constexpr int64_t kSampleRows = 1024;                 // queries that judge whether plain tf32 certifies
static_assert(kBM == kBN, "one loop stages both sides' rows, and self-search pads both sides alike");

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// ---- keys -------------------------------------------------------------------------------------------------

// A pass candidate: order-preserving float bits above the index (topk.h's candidate_key, on the device).
using PassKey = unsigned long long;
constexpr PassKey kEmptyPassKey = ~PassKey{0};

__device__ inline PassKey pass_key(float dist, int32_t index) {
  unsigned bits = __float_as_uint(dist + 0.0f);  // -0 folded into +0
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<PassKey>(bits) << 32) | static_cast<unsigned>(index);
}
__device__ inline float pass_key_dist(PassKey key) {
  unsigned bits = static_cast<unsigned>(key >> 32);
  bits = (bits & 0x80000000u) ? (bits & 0x7fffffffu) : ~bits;
  return __uint_as_float(bits);
}
// The distance a pass key must not exceed to enter a list whose cap-th key is `last`.
__device__ inline float threshold_of(PassKey last) {
  return last == kEmptyPassKey ? CUDART_INF_F : pass_key_dist(last);
}
__device__ inline int32_t pass_key_index(PassKey key) {
  return static_cast<int32_t>(static_cast<unsigned>(key));
}

// An exact candidate: (double distance, index), ordered by distance then index.
struct ExactKey {
  double dist;
  int32_t index;
};
__device__ inline bool key_less(PassKey a, PassKey b) { return a < b; }
__device__ inline bool key_less(const ExactKey& a, const ExactKey& b) {
  return a.dist < b.dist || (a.dist == b.dist && a.index < b.index);
}
__device__ inline PassKey shuffle_key(PassKey key, int lane) { return __shfl_sync(kFull, key, lane); }
__device__ inline ExactKey shuffle_key(const ExactKey& key, int lane) {
  return ExactKey{__shfl_sync(kFull, key.dist, lane), __shfl_sync(kFull, key.index, lane)};
}

// Inserts `key` (the same in every lane) into the ascending list[0, cap) of distinct keys, dropping the
// last; a no-op when it does not beat list[cap - 1]. The whole warp calls it; returns the new list[cap - 1].
// The shift runs from the top chunk of 32 down, each chunk reading its slots' predecessors before writing,
// so no slot is read after it was overwritten.
template <typename Key>
__device__ Key warp_insert(Key* list, int64_t cap, const Key& key, int lane) {
  int64_t pos = 0;  // keys below `key`
  for (int64_t base = 0; base < cap; base += 32) {
    const int64_t j = base + lane;
    const bool below = j < cap && key_less(list[j], key);
    const unsigned mask = __ballot_sync(kFull, below);
    pos += __popc(mask);
    if (mask != kFull) break;  // sorted: nothing further up is below
  }
  if (pos < cap) {
    for (int64_t chunk = (cap - 1) / 32; chunk >= pos / 32; --chunk) {
      const int64_t j = chunk * 32 + lane;
      const bool write = j < cap && j >= pos;
      Key v = key;
      if (write && j > pos) v = list[j - 1];
      __syncwarp();
      if (write) list[j] = v;
      __syncwarp();
    }
  }
  return list[cap - 1];
}

// Offers each lane's (key, wanted) to the list, lowest lane first; `last` is the list's cap-th key, kept
// current. A key that no longer beats it when its turn comes is dropped by warp_insert.
template <typename Key>
__device__ void warp_offer(Key* list, int64_t cap, const Key& key, bool wanted, Key& last, int lane) {
  for (unsigned mask = __ballot_sync(kFull, wanted && key_less(key, last)); mask != 0; mask &= mask - 1) {
    const Key k = shuffle_key(key, __ffs(mask) - 1);
    if (key_less(k, last)) last = warp_insert(list, cap, k, lane);
  }
}

// knn_exact_dist2 on the device: each operation rounded on its own (no FMA), t ascending, from 0.0.
__device__ inline double exact_dist2(const float* a, const float* b, int64_t d) {
  double sum = 0.0;
  for (int64_t t = 0; t < d; ++t) {
    const double diff = __dsub_rn(static_cast<double>(a[t]), static_cast<double>(b[t]));
    sum = __dadd_rn(sum, __dmul_rn(diff, diff));
  }
  return sum;
}

// ---- frame ------------------------------------------------------------------------------------------------

// Block c sums features over rows [n c / chunks, n (c + 1) / chunks) in row order.
__global__ void frame_sums_kernel(const float* x, int64_t n, int64_t d, int chunks, double* sum,
                                  double* sum2) {
  const int64_t c = blockIdx.x;
  const int64_t r0 = n * c / chunks, r1 = n * (c + 1) / chunks;
  for (int64_t t = threadIdx.x; t < d; t += blockDim.x) {
    double s = 0.0, s2 = 0.0;
    for (int64_t i = r0; i < r1; ++i) {
      const double v = x[i * d + t];
      s += v;
      s2 += v * v;
    }
    sum[c * d + t] = s;
    sum2[c * d + t] = s2;
  }
}

// *out = max over x of |x_t - shift_t| as float bits (non-negative floats order as their bits; +inf too).
__global__ void max_abs_kernel(const float* x, int64_t n, int64_t d, const float* shift, unsigned* out) {
  float m = 0.0f;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n * d;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    m = fmaxf(m, fabsf(x[e] - shift[e % d]));
  }
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_down_sync(kFull, m, o));
  if ((threadIdx.x & 31) == 0) atomicMax(out, __float_as_uint(m));
}

// out[rows_padded, dp] = x' (zeros past d and past n).
__global__ void map_kernel(const float* x, int64_t n, int64_t d, int64_t dp, int64_t rows_padded,
                           const float* shift, float scale, float* out) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < rows_padded * dp;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / dp, t = e - i * dp;
    out[e] = (i < n && t < d) ? __fmul_rn(__fsub_rn(x[i * d + t], shift[t]), scale) : 0.0f;
  }
}

// norm[i] = |x'_i|^2 in float32, features in order.
__global__ void norm_kernel(const float* xp, int64_t n, int64_t dp, float* norm) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s = 0.0f;
  for (int64_t t = 0; t < dp; ++t) s = fmaf(xp[i * dp + t], xp[i * dp + t], s);
  norm[i] = s;
}

// ---- candidate pass ---------------------------------------------------------------------------------------

constexpr size_t kPassSmem =
    sizeof(float) * (2 * kBM * kLdAB + kBM * kLdS + kBM + kBN) + sizeof(int32_t) * kBM;

// The first-pass arithmetic: float32 FMAs, tensor cores on tf32-rounded values, or tensor cores on values
// split in two tf32 halves (three products).
enum class PassKind { kFp32, kTf32, kTf32x3 };

const char* pass_name(PassKind kind) {
  return kind == PassKind::kFp32 ? "fp32" : kind == PassKind::kTf32 ? "tf32" : "tf32x3";
}

// x rounded to tf32, element by element.
template <typename Frag>
__device__ inline void round_tf32(Frag& f) {
  for (int e = 0; e < f.num_elements; ++e) f.x[e] = nvcuda::wmma::__float_to_tf32(f.x[e]);
}

// hi = x rounded to tf32, lo = the rest rounded to tf32 (x - hi is exact in float32), element by element.
template <typename Frag>
__device__ inline void split_tf32(Frag& hi, Frag& lo) {
  for (int e = 0; e < hi.num_elements; ++e) {
    const float x = hi.x[e];
    const float h = nvcuda::wmma::__float_to_tf32(x);
    hi.x[e] = h;
    lo.x[e] = nvcuda::wmma::__float_to_tf32(__fsub_rn(x, h));
  }
}

// The query row of problem position p: qrows[p] for a subset (the float32 redo), else p.
__device__ inline int64_t query_row(const int32_t* qrows, int64_t p) {
  return qrows == nullptr ? p : qrows[p];
}

// Problem positions [q0, q0 + nqc) (query rows: query_row) against base rows [0, nb) of xb (padded to whole
// tiles); list row l = position q0 + l, cap keys each, filled with kEmptyPassKey beforehand.
template <PassKind kPass>
__global__ void __launch_bounds__(kThreads)
    candidate_pass_kernel(const float* xq, const float* qnorm, const int32_t* qrows, int64_t q0, int64_t nqc,
                          const float* xb, const float* bnorm, int64_t nb, int64_t dp, bool exclude_self,
                          int64_t cap, PassKey* lists) {
  extern __shared__ __align__(128) unsigned char smem_bytes[];
  float* As = reinterpret_cast<float*>(smem_bytes);    // [kBM][kLdAB]
  float* Bs = As + kBM * kLdAB;                        // [kBN][kLdAB]
  float* S = Bs + kBN * kLdAB;                         // [kBM][kLdS] dot products
  float* qn = S + kBM * kLdS;                          // [kBM]
  float* bn = qn + kBM;                                // [kBN]
  int32_t* qi = reinterpret_cast<int32_t*>(bn + kBN);  // [kBM] query rows (past the last: the first's)
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t l0 = static_cast<int64_t>(blockIdx.x) * kBM;  // first list row of the block
  const int rows = nqc - l0 < kBM ? static_cast<int>(nqc - l0) : kBM;
  for (int r = tid; r < kBM; r += kThreads) {
    qi[r] = static_cast<int32_t>(query_row(qrows, q0 + l0 + (r < rows ? r : 0)));
    qn[r] = r < rows ? qnorm[qi[r]] : 0.0f;
  }
  __syncthreads();

  for (int64_t j0 = 0; j0 < nb; j0 += kBN) {
    for (int c = tid; c < kBN; c += kThreads) bn[c] = j0 + c < nb ? bnorm[j0 + c] : 0.0f;
    // The block's dot products, staged kBK features at a time (xb is padded: whole tiles exist; query rows
    // past the block's last repeat its first, and their distances are never looked at).
    using namespace nvcuda;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][4];
    float sacc[8][8];
    const int wm = warp % 4, wn = warp / 4;  // tensor cores: the warp's 32 x 64 part of the tile
    const int ty = tid / 16, tx = tid % 16;  // float32: rows ty + 16 i, columns tx + 16 j
    if constexpr (kPass != PassKind::kFp32) {
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 4; ++b) wmma::fill_fragment(acc[a][b], 0.0f);
    } else {
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) sacc[i][j] = 0.0f;
    }
    for (int64_t k0 = 0; k0 < dp; k0 += kBK) {
      for (int f = tid; f < kBM * kBK / 4; f += kThreads) {
        const int r = f / (kBK / 4), c4 = (f % (kBK / 4)) * 4;
        *reinterpret_cast<float4*>(As + r * kLdAB + c4) =
            *reinterpret_cast<const float4*>(xq + static_cast<int64_t>(qi[r]) * dp + k0 + c4);
        *reinterpret_cast<float4*>(Bs + r * kLdAB + c4) =
            *reinterpret_cast<const float4*>(xb + (j0 + r) * dp + k0 + c4);
      }
      __syncthreads();
      if constexpr (kPass != PassKind::kFp32) {
        // tf32x3: each value split into tf32 halves, x = hi + lo (+ 2^-22 |x| at most): products hi hi +
        // hi lo + lo hi carry float32-like accuracy on tensor cores (lo lo, below 2^-22 of the product, is
        // left out). The split is element-wise, so it does not depend on the fragments' (unspecified) layout.
        constexpr bool kSplit = kPass == PassKind::kTf32x3;
        using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
        using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
        for (int kk = 0; kk < kBK; kk += 8) {
          FragA a_hi[2], a_lo[2];
          for (int a = 0; a < 2; ++a) {
            wmma::load_matrix_sync(a_hi[a], As + (32 * wm + 16 * a) * kLdAB + kk, kLdAB);
            if constexpr (kSplit) {
              split_tf32(a_hi[a], a_lo[a]);
            } else {
              round_tf32(a_hi[a]);
            }
          }
          for (int b = 0; b < 4; ++b) {  // B(k, n) = base row n, feature k: column-major over the staged rows
            FragB b_hi, b_lo;
            wmma::load_matrix_sync(b_hi, Bs + (64 * wn + 16 * b) * kLdAB + kk, kLdAB);
            if constexpr (kSplit) {
              split_tf32(b_hi, b_lo);
            } else {
              round_tf32(b_hi);
            }
            for (int a = 0; a < 2; ++a) {
              if constexpr (kSplit) {
                wmma::mma_sync(acc[a][b], a_lo[a], b_hi, acc[a][b]);
                wmma::mma_sync(acc[a][b], a_hi[a], b_lo, acc[a][b]);
              }
              wmma::mma_sync(acc[a][b], a_hi[a], b_hi, acc[a][b]);
            }
          }
        }
      } else {
        for (int kk = 0; kk < kBK; ++kk) {
          float av[8], bv[8];
          for (int i = 0; i < 8; ++i) av[i] = As[(ty + 16 * i) * kLdAB + kk];
          for (int j = 0; j < 8; ++j) bv[j] = Bs[(tx + 16 * j) * kLdAB + kk];
          for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j) sacc[i][j] = fmaf(av[i], bv[j], sacc[i][j]);
        }
      }
      __syncthreads();
    }
    if constexpr (kPass != PassKind::kFp32) {
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 4; ++b)
          wmma::store_matrix_sync(S + (32 * wm + 16 * a) * kLdS + 64 * wn + 16 * b, acc[a][b], kLdS,
                                  wmma::mem_row_major);
    } else {
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) S[(ty + 16 * i) * kLdS + tx + 16 * j] = sacc[i][j];
    }
    __syncthreads();

    // Selection: warp w scans rows w, w + 8, ...; lane covers columns lane + 32 q. Most distances lose to
    // the row's threshold (the cap-th key's distance; +inf while the list fills): only a warp with a
    // distance at or below it builds keys (<=: a tie may still win on the index).
    // The lane's columns are the same for every row: their norms and bounds are read once.
    constexpr int kCols = kBN / 32;
    float bnv[kCols];
    int32_t jv[kCols];  // base row of the column, or -1 past nb
    for (int q = 0; q < kCols; ++q) {
      const int64_t j = j0 + lane + 32 * q;
      bnv[q] = bn[lane + 32 * q];
      jv[q] = j < nb ? static_cast<int32_t>(j) : -1;
    }
    for (int r = warp; r < rows; r += kWarps) {
      const int32_t self_row = exclude_self ? qi[r] : -1;  // no column is -1 and valid
      PassKey* list = lists + (l0 + r) * cap;
      PassKey last = list[cap - 1];
      float thr = threshold_of(last);
      const float qnr = qn[r];
      for (int q = 0; q < kCols; ++q) {
        const float dist = fmaf(-2.0f, S[r * kLdS + lane + 32 * q], qnr + bnv[q]);
        const bool near = dist <= thr && jv[q] >= 0 && jv[q] != self_row;
        if (__any_sync(kFull, near)) {
          warp_offer(list, cap, pass_key(dist, jv[q]), near, last, lane);
          thr = threshold_of(last);
        }
      }
    }
    __syncthreads();  // S and bn are rewritten by the next step
  }
}

// ---- re-rank and certificate ------------------------------------------------------------------------------

struct Certificate {
  double c3;         // 3c of the pass's error bound
  double growth;     // 1 + 2du: a computed norm may be low by gamma_d
  double tiny;       // 1e-30 d: flushed subnormals
  double scale2;     // frame scale^2: exact distances -> frame units
  double kth_slack;  // 1 + (d + 2) 2^-50: the double sum's own rounding
};

// One warp per list row l of the chunk (query row query_row(qrows, q0 + l)): exact distances of its cap
// candidates (to exact[l * cap ...]), the best k by (distance, index) to out_*[l * k ...], and failed[l] =
// whether the certificate fails (every row being a candidate certifies by itself).
__global__ void rerank_kernel(const float* q, const float* b, int64_t d, const int32_t* qrows, int64_t q0,
                              int64_t nqc, const PassKey* lists, int64_t cap, int64_t k, int64_t available,
                              const float* qnorm, Certificate cert, double* exact, int32_t* out_idx,
                              float* out_dist, uint8_t* failed) {
  const int lane = threadIdx.x & 31;
  const int64_t l = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (l >= nqc) return;  // whole warps leave together
  const int64_t i = query_row(qrows, q0 + l);
  const PassKey* list = lists + l * cap;
  // Fewer than cap rows offered: cannot happen for cap <= available, but then nothing here is certain.
  if (list[cap - 1] == kEmptyPassKey) {
    if (lane == 0) failed[l] = 1;
    return;
  }
  double* ex = exact + l * cap;
  for (int64_t c = lane; c < cap; c += 32) ex[c] = exact_dist2(q + i * d, b + pass_key_index(list[c]) * d, d);
  __syncwarp();
  for (int64_t c = lane; c < cap; c += 32) {
    const double dc = ex[c];
    const int32_t ic = pass_key_index(list[c]);
    int64_t rank = 0;
    for (int64_t o = 0; o < cap; ++o) {
      const double dd = ex[o];
      rank += dd < dc || (dd == dc && pass_key_index(list[o]) < ic);
    }
    if (rank < k) {
      out_idx[l * k + rank] = ic;
      out_dist[l * k + rank] = static_cast<float>(dc);
    }
    if (rank == k - 1) {
      bool ok = cap >= available;
      if (!ok) {
        const double worst = pass_key_dist(list[cap - 1]);  // A
        const double norm = static_cast<double>(qnorm[i]) * cert.growth + cert.tiny;
        const double lower = (worst - cert.c3 * norm) / (1.0 + cert.c3);
        ok = lower > dc * cert.scale2 * cert.kth_slack;
      }
      failed[l] = ok ? 0 : 1;
    }
  }
}

// ---- brute force ------------------------------------------------------------------------------------------

__global__ void fill_exact_kernel(ExactKey* keys, int64_t count) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    keys[e] = ExactKey{CUDART_INF, INT32_MAX};
  }
}

// One warp per query rows[g]: exact distances to every base row (but itself under exclude_self), the best
// k kept in lists[g * k ...] (filled with (inf, INT32_MAX) beforehand), written to out_*[g * k ...].
__global__ void brute_force_kernel(const float* q, const float* b, int64_t nb, int64_t d, int64_t k,
                                   bool exclude_self, const int32_t* rows, int64_t count, ExactKey* lists,
                                   int32_t* out_idx, float* out_dist) {
  const int lane = threadIdx.x & 31;
  const int64_t g = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (g >= count) return;
  const int64_t i = rows[g];
  ExactKey* list = lists + g * k;
  ExactKey last = list[k - 1];
  for (int64_t j0 = 0; j0 < nb; j0 += 32) {
    const int64_t j = j0 + lane;
    const bool valid = j < nb && !(exclude_self && j == i);
    const ExactKey key{valid ? exact_dist2(q + i * d, b + j * d, d) : 0.0, static_cast<int32_t>(j)};
    warp_offer(list, k, key, valid, last, lane);
  }
  for (int64_t t = lane; t < k; t += 32) {
    out_idx[g * k + t] = list[t].index;
    out_dist[g * k + t] = static_cast<float>(list[t].dist);
  }
}

// ---- host -------------------------------------------------------------------------------------------------

// Blocks for a grid-stride kernel: enough to fill the device, never more than the work needs.
unsigned strided_grid(int64_t work, int64_t per_block) {
  return static_cast<unsigned>(std::clamp<int64_t>(ceil_div(work, per_block), 1, 1 << 16));
}
// Blocks for a kernel with one thread (or warp) per item: exactly enough.
unsigned exact_grid(int64_t threads) {
  const int64_t blocks = ceil_div(threads, kThreads);
  if (blocks > INT32_MAX)
    throw std::invalid_argument("cuda::knn_search: the problem is too large for one grid");
  return static_cast<unsigned>(std::max<int64_t>(1, blocks));
}

// Makes `device` the calling thread's current device until the search returns or throws, then restores the
// previous one: the current device is per thread, and a worker thread that later builds an engine takes
// the current device as its own (CudaEngine's constructor), so a search on another GPU must not leave it set.
class CurrentDevice {
 public:
  explicit CurrentDevice(int device) {
    EOS_CUDA_CHECK(cudaGetDevice(&previous_));
    EOS_CUDA_CHECK(cudaSetDevice(device));
  }
  ~CurrentDevice() { cudaSetDevice(previous_); }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int previous_ = 0;
};

// The rows of one side of the search on the device: as given, and in the frame.
struct DeviceRows {
  DeviceBuffer<float> raw;     // [n, d]
  DeviceBuffer<float> mapped;  // [round_up(n, kBM), dp]
  DeviceBuffer<float> norm;    // [n]
};

// Spare candidates beyond k. float32: knn.cc's 8 (its pass errs by ~1e-7 of the norms). About k d delta / 2
// rows lie within a relative band delta of the k-th distance (d-dimensional data); twice that count plus 8,
// at least 16, for the band the certificate needs clear: tf32 (errs by ~1e-3 of the norms) ~0.01 on
// unclustered data, tf32x3 (~3.5 times float32's bound) ~0.0025 on clustered data (norms ~50 times the
// neighbour distances, as embeddings).
int64_t candidates_kept(PassKind kind, int64_t d, int64_t k, int64_t available) {
  const int64_t most = std::max<int64_t>(64, k);
  const int64_t extra = kind == PassKind::kFp32   ? 8
                        : kind == PassKind::kTf32 ? std::clamp<int64_t>(8 + ceil_div(k * d, 100), 16, most)
                                                  : std::clamp<int64_t>(8 + ceil_div(k * d, 400), 16, most);
  return std::min(k + extra, available);
}

// The rounding-error constant c of the pass (the file's comment, step 4).
double pass_error(PassKind kind, int64_t d) {
  constexpr double kU = 0x1p-24, kUt = 0x1p-11;
  switch (kind) {
    case PassKind::kFp32:
      return 1.25 * (2.0 * d + 8.0) * kU;
    case PassKind::kTf32:
      return 1.25 * (5.0 * d + 8.0) * kU + 2.5 * kUt;
    default:
      return 1.25 * (7.0 * d + 24.0) * kU;
  }
}

void check_arguments(const float* queries, int64_t nq, int64_t nb, int64_t d, int64_t k, bool exclude_self,
                     const KnnCudaOptions& options) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("cuda::knn_search: " + what); };
  if (queries == nullptr || nq < 1 || nb < 1 || d < 1) fail("needs queries, nq >= 1, nb >= 1 and d >= 1");
  if (nb >= (int64_t{1} << 31) - 1 || nq >= (int64_t{1} << 31) - 1) fail("rows must be below 2^31 - 1");
  if (exclude_self && nq != nb) fail("exclude_self needs nq == nb");
  const int64_t available = nb - (exclude_self ? 1 : 0);
  if (k < 1 || k > available)
    fail("k must be in [1, " + std::to_string(available) + "], got " + std::to_string(k));
  if ((options.tile_rows != 0 && options.tile_rows != kBM) ||
      (options.tile_cols != 0 && options.tile_cols != kBN)) {
    fail("the device tiles are " + std::to_string(kBM) + " x " + std::to_string(kBN) +
         " (tile_rows and tile_cols must be 0 or those)");
  }
}

}  // namespace

void knn_search(const float* queries, int64_t nq, const float* base, int64_t nb, int64_t d, int64_t k,
                bool exclude_self, int32_t* out_idx, float* out_dist2, const KnnCudaOptions& options,
                KnnCudaStats* stats) {
  const bool self = base == nullptr || (base == queries && nb == nq);
  if (base == nullptr) nb = nq;
  check_arguments(queries, nq, nb, d, k, exclude_self, options);
  std::string why;
  if (!device_available(&why)) throw std::runtime_error("cuda::knn_search: " + why);
  const CurrentDevice on_device(options.device);
  const int64_t dp = round_up(d, kBK);
  const int64_t available = nb - (exclude_self ? 1 : 0);

  // Upload; the frame from the base's statistics (make_frame's rule, frame.h).
  DeviceRows qr, br_own;
  qr.raw.resize(nq * d);
  qr.raw.upload(queries);
  if (!self) {
    br_own.raw.resize(nb * d);
    br_own.raw.upload(base);
  }
  DeviceRows& br = self ? qr : br_own;
  const int chunks = static_cast<int>(std::min<int64_t>(kFrameChunks, nb));
  DeviceBuffer<double> sums(chunks * d), sums2(chunks * d);
  frame_sums_kernel<<<chunks, 128>>>(br.raw.data(), nb, d, chunks, sums.data(), sums2.data());
  EOS_CUDA_CHECK_LAUNCH();
  std::vector<double> hs(chunks * d), hs2(chunks * d);
  sums.download(hs.data());
  sums2.download(hs2.data());
  std::vector<float> shift(d);
  for (int64_t t = 0; t < d; ++t) {
    double s = 0.0, s2 = 0.0;
    for (int c = 0; c < chunks; ++c) {
      s += hs[c * d + t];
      s2 += hs2[c * d + t];
    }
    const double mean = s / nb;
    const double var = std::max(0.0, s2 / nb - mean * mean);
    // The mean rounded to a multiple of 2^floor(log2(std)): few significant bits (frame.h says why).
    const double quantum = var > 0.0 ? std::ldexp(1.0, std::ilogb(std::sqrt(var))) : 0.0;
    shift[t] = static_cast<float>(var > 0.0 ? std::nearbyint(mean / quantum) * quantum : mean);
  }
  DeviceBuffer<float> d_shift(d);
  DeviceBuffer<unsigned> d_max(1);
  auto max_abs = [&]() {
    d_shift.upload(shift.data());
    EOS_CUDA_CHECK(cudaMemset(d_max.data(), 0, sizeof(unsigned)));
    max_abs_kernel<<<strided_grid(nb * d, kThreads * 8), kThreads>>>(br.raw.data(), nb, d, d_shift.data(),
                                                                     d_max.data());
    EOS_CUDA_CHECK_LAUNCH();
    if (!self) {
      max_abs_kernel<<<strided_grid(nq * d, kThreads * 8), kThreads>>>(qr.raw.data(), nq, d, d_shift.data(),
                                                                       d_max.data());
      EOS_CUDA_CHECK_LAUNCH();
    }
    unsigned bits = 0;
    d_max.download(&bits);
    float m;
    std::memcpy(&m, &bits, sizeof m);
    return m;
  };
  float m = max_abs();
  if (!std::isfinite(m)) {  // x - shift overflowed (values near FLT_MAX): no shift
    std::fill(shift.begin(), shift.end(), 0.0f);
    m = max_abs();
  }
  float scale = 1.0f;
  if (m > 0.0f) {
    int e = 0;
    std::frexp(m, &e);
    scale = std::ldexp(1.0f, -e);
  }
  auto map_rows = [&](DeviceRows& rows, int64_t n) {
    const int64_t padded = round_up(n, kBM);
    rows.mapped.resize(padded * dp);
    rows.norm.resize(n);
    map_kernel<<<strided_grid(padded * dp, kThreads * 4), kThreads>>>(
        rows.raw.data(), n, d, dp, padded, d_shift.data(), scale, rows.mapped.data());
    EOS_CUDA_CHECK_LAUNCH();
    norm_kernel<<<exact_grid(n), kThreads>>>(rows.mapped.data(), n, dp, rows.norm.data());
    EOS_CUDA_CHECK_LAUNCH();
  };
  map_rows(qr, nq);
  if (!self) map_rows(br, nb);

  // One pass over the problem's queries: all of them (subset null), or the listed rows (host and device
  // copies). Writes every query's answer; returns the rows whose certificate failed, ascending.
  const double scale2 = static_cast<double>(scale) * static_cast<double>(scale);
  auto run_pass = [&](PassKind kind, const std::vector<int32_t>* subset) {
    const double c = pass_error(kind, d);
    const Certificate cert{3.0 * c, 1.0 + 2.0 * d * 0x1p-24, 1e-30 * d, scale2, 1.0 + (d + 2.0) * 0x1p-50};
    const int64_t cap = candidates_kept(kind, d, k, available);
    const int64_t count = subset == nullptr ? nq : static_cast<int64_t>(subset->size());
    DeviceBuffer<int32_t> d_subset;
    if (subset != nullptr) {
      d_subset.resize(count);
      d_subset.upload(subset->data());
    }
    auto pass = kind == PassKind::kFp32   ? candidate_pass_kernel<PassKind::kFp32>
                : kind == PassKind::kTf32 ? candidate_pass_kernel<PassKind::kTf32>
                                          : candidate_pass_kernel<PassKind::kTf32x3>;
    EOS_CUDA_CHECK(
        cudaFuncSetAttribute(pass, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kPassSmem)));
    // Queries in chunks whose lists and exact scratch fit the budget.
    const int64_t per_query = cap * static_cast<int64_t>(sizeof(PassKey) + sizeof(double));
    const int64_t chunk =
        std::min(round_up(count, kBM), std::max<int64_t>(kBM, kScratchBudget / per_query / kBM * kBM));
    DeviceBuffer<PassKey> lists(chunk * cap);
    DeviceBuffer<double> exact(chunk * cap);
    DeviceBuffer<int32_t> d_idx(chunk * k);
    DeviceBuffer<float> d_dist(chunk * k);
    DeviceBuffer<uint8_t> d_failed(chunk);
    std::vector<uint8_t> failed(chunk);
    std::vector<int32_t> h_idx(subset != nullptr ? chunk * k : 0);
    std::vector<float> h_dist(h_idx.size());
    std::vector<int32_t> redo;
    for (int64_t q0 = 0; q0 < count; q0 += chunk) {
      const int64_t nqc = std::min(chunk, count - q0);
      EOS_CUDA_CHECK(cudaMemset(lists.data(), 0xff, static_cast<size_t>(nqc * cap) * sizeof(PassKey)));
      pass<<<static_cast<unsigned>(ceil_div(nqc, kBM)), kThreads, kPassSmem>>>(
          qr.mapped.data(), qr.norm.data(), d_subset.data(), q0, nqc, br.mapped.data(), br.norm.data(), nb,
          dp, exclude_self, cap, lists.data());
      EOS_CUDA_CHECK_LAUNCH();
      rerank_kernel<<<exact_grid(nqc * 32), kThreads>>>(
          qr.raw.data(), br.raw.data(), d, d_subset.data(), q0, nqc, lists.data(), cap, k, available,
          qr.norm.data(), cert, exact.data(), d_idx.data(), d_dist.data(), d_failed.data());
      EOS_CUDA_CHECK_LAUNCH();
      d_failed.download(failed.data(), nqc);
      if (subset == nullptr) {
        d_idx.download(out_idx + q0 * k, nqc * k);
        d_dist.download(out_dist2 + q0 * k, nqc * k);
      } else {
        d_idx.download(h_idx.data(), nqc * k);
        d_dist.download(h_dist.data(), nqc * k);
      }
      for (int64_t l = 0; l < nqc; ++l) {
        const int64_t i = subset == nullptr ? q0 + l : (*subset)[q0 + l];
        if (subset != nullptr) {
          std::copy(h_idx.begin() + l * k, h_idx.begin() + (l + 1) * k, out_idx + i * k);
          std::copy(h_dist.begin() + l * k, h_dist.begin() + (l + 1) * k, out_dist2 + i * k);
        }
        if (failed[l]) redo.push_back(static_cast<int32_t>(i));
      }
    }
    return redo;
  };

  // The tensor-core pass: plain tf32 (a third of tf32x3's arithmetic) where it certifies, as judged on an
  // evenly spread sample of the queries (most of them: unclustered data), else tf32x3 (clustered data,
  // where tf32 certifies almost nothing). The choice depends on the data only: still deterministic.
  PassKind first = PassKind::kFp32;
  std::vector<int32_t> redo;
  bool first_done = false;
  if (options.tensor_cores) {
    const int64_t samples = std::min(nq, kSampleRows);
    std::vector<int32_t> sample(samples);
    for (int64_t s = 0; s < samples; ++s) sample[s] = static_cast<int32_t>(s * nq / samples);
    std::vector<int32_t> unsettled = run_pass(PassKind::kTf32, &sample);
    const bool tf32_certifies = 4 * static_cast<int64_t>(unsettled.size()) <= samples;
    first = tf32_certifies ? PassKind::kTf32 : PassKind::kTf32x3;
    if (tf32_certifies && samples == nq) {  // the sample was every query: that pass was the first pass
      redo = std::move(unsettled);
      first_done = true;
    }
  }
  // The first pass over every query; float32 over those the tensor cores could not settle (as knn.cc
  // redoes bf16's); brute force last.
  if (!first_done) redo = run_pass(first, nullptr);
  const int64_t float32_rows = first != PassKind::kFp32 ? static_cast<int64_t>(redo.size()) : 0;
  if (first != PassKind::kFp32 && !redo.empty()) redo = run_pass(PassKind::kFp32, &redo);

  // Brute force for the queries the pass could not certify, in groups whose lists fit the budget.
  const int64_t brute = static_cast<int64_t>(redo.size());
  if (brute > 0) {
    const int64_t group =
        std::min(brute, std::max<int64_t>(1, kScratchBudget / (k * int64_t{sizeof(ExactKey)})));
    DeviceBuffer<int32_t> d_rows(brute);
    d_rows.upload(redo.data());
    DeviceBuffer<ExactKey> keys(group * k);
    DeviceBuffer<int32_t> b_idx(group * k);
    DeviceBuffer<float> b_dist(group * k);
    std::vector<int32_t> h_idx(group * k);
    std::vector<float> h_dist(group * k);
    for (int64_t g0 = 0; g0 < brute; g0 += group) {
      const int64_t count = std::min(group, brute - g0);
      fill_exact_kernel<<<strided_grid(count * k, kThreads * 4), kThreads>>>(keys.data(), count * k);
      EOS_CUDA_CHECK_LAUNCH();
      brute_force_kernel<<<exact_grid(count * 32), kThreads>>>(qr.raw.data(), br.raw.data(), nb, d, k,
                                                               exclude_self, d_rows.data() + g0, count,
                                                               keys.data(), b_idx.data(), b_dist.data());
      EOS_CUDA_CHECK_LAUNCH();
      b_idx.download(h_idx.data(), count * k);
      b_dist.download(h_dist.data(), count * k);
      for (int64_t g = 0; g < count; ++g) {
        const int64_t i = redo[g0 + g];
        std::copy(h_idx.begin() + g * k, h_idx.begin() + (g + 1) * k, out_idx + i * k);
        std::copy(h_dist.begin() + g * k, h_dist.begin() + (g + 1) * k, out_dist2 + i * k);
      }
    }
  }
  EOS_CUDA_CHECK(cudaDeviceSynchronize());
  if (stats != nullptr) {
    stats->candidates = candidates_kept(first, d, k, available);
    stats->float32_rows = float32_rows;
    stats->brute_force_rows = brute;
    stats->kernel = pass_name(first);
  }
}

}  // namespace eos::cuda
