// 3x3 convolution on the device (nn/ref/conv2d.h): zero padding 1, stride 1 or 2, no bias, NCHW, PyTorch's
// weight layout. Each pass is an implicit GEMM: its operand tiles are gathered from the tensors straight into
// shared memory (no im2col buffer), multiplied there, and written to the output.
//
//   forward          y [K, N*P*Q]   = w [K, 9*C]            x^ [9*C, N*P*Q]   (x^: the im2col view of x)
//   backward data    dx [C, N*H*W]  = w^T [C, 9*K]          dy^ [9*K, N*H*W]  (dy^: the taps that reach each
//                                                                              input pixel, zeros elsewhere)
//   backward weights dw [K, C*9]    = dy [K, N*P*Q]         x^T [N*P*Q, C*9]
// (the first two reduce tap-major, channels in blocks of 16; see ForwardLoader).
//
// Tiles: a block of kThreads threads computes a BM x BN tile of the output, stepping through the reduction
// kBK at a time with two shared-memory buffers (one barrier per step; the next step's global loads are issued
// before the current step's arithmetic). BM follows the GEMM's rows (16, 32 or 64, so that 16-channel layers
// waste nothing) and BN = 4096 / BM. Arithmetic per MathMode:
//   kFp32  every thread a 4 x 4 register tile of fp32 FMAs;
//   kTf32  tensor cores (nvcuda::wmma m16n16k8), inputs rounded to tf32 when stored to shared memory;
//   kBf16  tensor cores (m16n16k16), inputs rounded to bf16 when stored to shared memory;
// both tensor-core modes accumulate in fp32, each warp a 16 x 32 tile.
//
// Determinism: every output element is one thread's (or one warp fragment's) fixed sequence of operations.
// The weight gradient reduces over N*P*Q: that range is cut into a fixed number of chunks (weight_split(), a
// function of the shape only), each chunk's block writes its partial tile to the workspace, and a second
// kernel sums the chunks in chunk order. No atomics anywhere.
//
// Index arithmetic is 32-bit (the launchers refuse tensors of 2^31 elements or more): 64-bit division on the
// device is several times slower and the gathers divide per element.
#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "core/cuda_check.h"
#include "nn/cuda/common_kernels.cuh"
#include "nn/cuda/ops.h"

namespace eos::cuda {

const char* math_mode_name(MathMode mode) {
  switch (mode) {
    case MathMode::kFp32:
      return "fp32";
    case MathMode::kTf32:
      return "tf32";
    case MathMode::kBf16:
      return "bf16";
  }
  return "unknown";
}

namespace {

using namespace nvcuda;

constexpr int kThreads = 256;    // per GEMM block (8 warps)
constexpr int kBK = 16;          // reduction step (a multiple of both tensor-core k sizes, 8 and 16)
constexpr int kTileArea = 4096;  // BM * BN: 16 outputs per thread

// --- shared memory ---------------------------------------------------------------------------------------

template <MathMode MODE>
struct Element {
  using T = float;
};
template <>
struct Element<MathMode::kBf16> {
  using T = __nv_bfloat16;
};

// Two buffers of A [kBK][LDA] (element (m, r) at r * LDA + m, i.e. A column-major) and B [kBK][LDB]
// (element (r, n) at r * LDB + n, row-major), and after the loop the output tile C [BM][LDC] over the same
// bytes. The row padding (16 bytes) staggers the banks of the column-wise stores; it keeps every row start
// 32-byte aligned for wmma (kBK rows of LDA elements: 16 * LDA * sizeof(T) is a multiple of 32).
template <int BM, int BN, MathMode MODE>
struct Smem {
  using T = typename Element<MODE>::T;
  static constexpr MathMode kMode = MODE;
  static constexpr int kPad = 16 / static_cast<int>(sizeof(T));
  static constexpr int LDA = BM + kPad, LDB = BN + kPad, LDC = BN + 4;
  static constexpr int kTileBytes = 2 * kBK * (LDA + LDB) * static_cast<int>(sizeof(T));
  static constexpr int kCBytes = BM * LDC * static_cast<int>(sizeof(float));
  static constexpr int kBytes = kTileBytes > kCBytes ? kTileBytes : kCBytes;
  static_assert(kBytes <= 48 * 1024, "static shared memory limit");

  __device__ static T* a(unsigned char* base, int buf) {
    return reinterpret_cast<T*>(base) + buf * kBK * LDA;
  }
  __device__ static T* b(unsigned char* base, int buf) {
    return reinterpret_cast<T*>(base) + 2 * kBK * LDA + buf * kBK * LDB;
  }
  __device__ static float* c(unsigned char* base) { return reinterpret_cast<float*>(base); }
};

template <typename T>
__device__ inline T to_tile(float v);
template <>
__device__ inline float to_tile<float>(float v) {
  return v;
}
template <>
__device__ inline __nv_bfloat16 to_tile<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// What a tile element becomes in shared memory: tf32 rounding happens here, once per element, rather than
// on every fragment load (the fragments then hold values tf32 represents exactly).
template <MathMode MODE>
__device__ inline typename Element<MODE>::T stage(float v) {
  if constexpr (MODE == MathMode::kTf32) {
    return wmma::__float_to_tf32(v);
  } else {
    return to_tile<typename Element<MODE>::T>(v);
  }
}

// --- tile arithmetic -------------------------------------------------------------------------------------

// fp32: thread (tm, tn) owns rows tm * 4 .. + 3 and columns tn * 4 .. + 3 of the tile; consecutive threads
// take consecutive column groups (conflict-free float4 reads of B, broadcast reads of A).
template <int BM, int BN, MathMode MODE>
struct Accumulator {
  using S = Smem<BM, BN, MODE>;
  static_assert(BM * BN == kTileArea && BM % 4 == 0 && BN % 4 == 0, "4 x 4 outputs per thread");
  float acc[4][4];
  int tm, tn;

  __device__ Accumulator() {
    tn = static_cast<int>(threadIdx.x) % (BN / 4);
    tm = static_cast<int>(threadIdx.x) / (BN / 4);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
    }
  }

  __device__ void mma(const float* As, const float* Bs) {
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      const float4 a4 = *reinterpret_cast<const float4*>(As + kk * S::LDA + tm * 4);
      const float4 b4 = *reinterpret_cast<const float4*>(Bs + kk * S::LDB + tn * 4);
      const float a[4] = {a4.x, a4.y, a4.z, a4.w}, b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }
  }

  __device__ void store(float* Cs) const {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      *reinterpret_cast<float4*>(Cs + (tm * 4 + i) * S::LDC + tn * 4) =
          make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
    }
  }
};

// Tensor cores: warp w owns rows (w % WARPS_M) * 16 .. + 15 and columns (w / WARPS_M) * 32 .. + 31 (two
// 16 x 16 accumulator fragments).
template <int BM, int BN, MathMode MODE>
struct WmmaAccumulator {
  using S = Smem<BM, BN, MODE>;
  using T = typename S::T;
  static constexpr int WARPS_M = BM / 16, WARPS_N = (kThreads / 32) / WARPS_M;
  static_assert(WARPS_N * 32 == BN, "the warps tile the block tile exactly");
  static constexpr int KS = MODE == MathMode::kTf32 ? 8 : 16;
  using Precision = typename std::conditional<MODE == MathMode::kTf32, wmma::precision::tf32, T>::type;
  wmma::fragment<wmma::accumulator, 16, 16, KS, float> acc[2];
  int m0, n0;

  __device__ WmmaAccumulator() {
    const int warp = static_cast<int>(threadIdx.x) / 32;
    m0 = (warp % WARPS_M) * 16;
    n0 = (warp / WARPS_M) * 32;
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);
  }

  __device__ void mma(const T* As, const T* Bs) {
#pragma unroll
    for (int ks = 0; ks < kBK; ks += KS) {
      wmma::fragment<wmma::matrix_a, 16, 16, KS, Precision, wmma::col_major> a;
      wmma::load_matrix_sync(a, As + ks * S::LDA + m0, S::LDA);
#pragma unroll
      for (int f = 0; f < 2; ++f) {
        wmma::fragment<wmma::matrix_b, 16, 16, KS, Precision, wmma::row_major> b;
        wmma::load_matrix_sync(b, Bs + ks * S::LDB + n0 + 16 * f, S::LDB);
        wmma::mma_sync(acc[f], a, b, acc[f]);
      }
    }
  }

  __device__ void store(float* Cs) const {
#pragma unroll
    for (int f = 0; f < 2; ++f) {
      wmma::store_matrix_sync(Cs + m0 * S::LDC + n0 + 16 * f, acc[f], S::LDC, wmma::mem_row_major);
    }
  }
};

template <int BM, int BN, MathMode MODE>
using AccumulatorFor = typename std::conditional<MODE == MathMode::kFp32, Accumulator<BM, BN, MODE>,
                                                 WmmaAccumulator<BM, BN, MODE>>::type;

// --- geometry --------------------------------------------------------------------------------------------

// The convolution's sizes in 32-bit form (see the note on index arithmetic above).
struct Geometry {
  int n, c, h, w, k, p, q, stride;
  int hw, pq, c9;
};

// Tap (i, j) of reduction index r = ch * 9 + i * 3 + j.
struct Tap {
  int ch, i, j;
};
__device__ inline Tap tap_of(int r) {
  const int ch = r / 9, t = r - ch * 9, i = t / 3;
  return Tap{ch, i, t - i * 3};
}

// --- operand loaders -------------------------------------------------------------------------------------
// Each loader fetches one reduction step's A (BM x kBK) and B (kBK x BN) elements into registers and later
// stores them to shared memory. Thread mappings:
//   A, "reduction-fast": thread t loads reduction row (t % 16) of tile rows t / 16 + 16 z (z < BM / 16);
//   B, "column-fast" (forward, backward data): column t % BN of reduction rows t / BN + z * (256 / BN)
//     (z < BN / 16); the column is the same in every step, so its pixel is decoded once;
//   B, "reduction-fast" (backward weights): reduction row t % 16 of columns t / 16 + 16 z.
// Out-of-range elements load as 0, so partial tiles add nothing.

template <int BM, int BN>
struct LoaderBase {
  static constexpr int NA = BM / 16, NB = BN / 16, RSTEP = kThreads / BN;
  static_assert(kThreads % BN == 0 && BM % 16 == 0 && BN % 16 == 0, "loader mappings");
  float ra[NA], rb[NB];

  template <class S>
  __device__ void stash_a(typename S::T* As) const {
    const int t = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int z = 0; z < NA; ++z) As[(t & 15) * S::LDA + (t >> 4) + 16 * z] = stage_of<S>(ra[z]);
  }
  template <class S>
  __device__ void stash_b_column_fast(typename S::T* Bs) const {
    const int t = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int z = 0; z < NB; ++z) Bs[(t / BN + z * RSTEP) * S::LDB + t % BN] = stage_of<S>(rb[z]);
  }
  template <class S>
  __device__ void stash_b_reduction_fast(typename S::T* Bs) const {
    const int t = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int z = 0; z < NB; ++z) Bs[(t & 15) * S::LDB + (t >> 4) + 16 * z] = stage_of<S>(rb[z]);
  }
  template <class S>
  __device__ static typename S::T stage_of(float v) {
    return stage<S::kMode>(v);
  }
};

// Forward and backward data reduce tap-major: reduction step kt covers tap kt / blocks (the same (i, j) for
// the whole step) and the 16 channels (kt % blocks) * 16 .. + 15, where blocks = ceil(channels / 16). So a
// step's bounds checks are one per thread, not one per element, and its gathers walk one channel plane
// apart; channel counts that are not a multiple of 16 pad their last block with zeros.

// Forward: A[k, (tap, c)] = w[k, c, tap], B[(tap, c), (n, p, q)] = x[n, c, p * stride + i - 1, ...].
struct ForwardArgs {
  Geometry g;
  const float* x;
  const float* w;
  float* y;
};

template <int BM, int BN>
struct ForwardLoader : LoaderBase<BM, BN> {
  using Base = LoaderBase<BM, BN>;
  const ForwardArgs& a;
  int m0, cblocks;
  bool col_ok;
  int iy0, ix0;  // the column's top-left tap (may lie in the padding)
  int xoff;      // x offset of channel 0 at (iy0, ix0), valid only with the tap added

  __device__ ForwardLoader(const ForwardArgs& args, int m0_, int n0) : a(args), m0(m0_) {
    const Geometry& g = a.g;
    cblocks = (g.c + 15) / 16;
    const int col = n0 + static_cast<int>(threadIdx.x) % BN;
    col_ok = col < g.n * g.pq;
    const int img = col_ok ? col / g.pq : 0, o = col - img * g.pq, p = o / g.q, q = o - p * g.q;
    iy0 = p * g.stride - 1;
    ix0 = q * g.stride - 1;
    xoff = img * g.c * g.hw + iy0 * g.w + ix0;
  }

  static __device__ int steps(const Geometry& g) { return 9 * ((g.c + 15) / 16); }

  __device__ void fetch(int kt) {
    const Geometry& g = a.g;
    const int t = static_cast<int>(threadIdx.x);
    const int tap = kt / cblocks, c0 = (kt - tap * cblocks) * 16, i = tap / 3, j = tap - i * 3;
    const int ca = c0 + (t & 15);
#pragma unroll
    for (int z = 0; z < Base::NA; ++z) {
      const int m = m0 + (t >> 4) + 16 * z;
      this->ra[z] = (m < g.k && ca < g.c) ? a.w[(m * g.c + ca) * 9 + tap] : 0.0f;
    }
    const int iy = iy0 + i, ix = ix0 + j;
    const bool tap_ok = col_ok && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
    const int base = xoff + i * g.w + j;  // channel 0's element (read only where tap_ok)
#pragma unroll
    for (int z = 0; z < Base::NB; ++z) {
      const int c = c0 + t / BN + z * Base::RSTEP;
      this->rb[z] = (tap_ok && c < g.c) ? a.x[base + c * g.hw] : 0.0f;
    }
  }

  template <class S>
  __device__ void stash(typename S::T* As, typename S::T* Bs) const {
    this->template stash_a<S>(As);
    this->template stash_b_column_fast<S>(Bs);
  }
};

// Backward data: A[c, (tap, k)] = w[k, c, tap], B[(tap, k), (n, iy, ix)] = dy[n, k, p, q] where
// iy = p * stride + i - 1 and ix = q * stride + j - 1, 0 where no such (p, q) exists.
struct DataArgs {
  Geometry g;
  const float* w;
  const float* dy;
  float* dx;
  bool accumulate;
};

template <int BM, int BN>
struct DataLoader : LoaderBase<BM, BN> {
  using Base = LoaderBase<BM, BN>;
  const DataArgs& a;
  int m0, kblocks;
  bool col_ok;
  int img, iy, ix;  // the column's input pixel

  __device__ DataLoader(const DataArgs& args, int m0_, int n0) : a(args), m0(m0_) {
    const Geometry& g = a.g;
    kblocks = (g.k + 15) / 16;
    const int col = n0 + static_cast<int>(threadIdx.x) % BN;
    col_ok = col < g.n * g.hw;
    img = col_ok ? col / g.hw : 0;
    const int o = col - img * g.hw;
    iy = o / g.w;
    ix = o - iy * g.w;
  }

  static __device__ int steps(const Geometry& g) { return 9 * ((g.k + 15) / 16); }

  __device__ void fetch(int kt) {
    const Geometry& g = a.g;
    const int t = static_cast<int>(threadIdx.x);
    const int tap = kt / kblocks, k0 = (kt - tap * kblocks) * 16, i = tap / 3, j = tap - i * 3;
    const int ka = k0 + (t & 15);
#pragma unroll
    for (int z = 0; z < Base::NA; ++z) {
      const int m = m0 + (t >> 4) + 16 * z;
      this->ra[z] = (m < g.c && ka < g.k) ? a.w[(ka * g.c + m) * 9 + tap] : 0.0f;
    }
    // The output pixel (p, q) whose tap (i, j) reads this input pixel, if any (stride 1 or 2, checked by
    // the launcher).
    const int ty = iy + 1 - i, tx = ix + 1 - j;
    const bool on_grid = ty >= 0 && tx >= 0 && (g.stride == 1 || ((ty & 1) == 0 && (tx & 1) == 0));
    const int p = g.stride == 1 ? ty : ty >> 1, q = g.stride == 1 ? tx : tx >> 1;
    const bool tap_ok = col_ok && on_grid && p < g.p && q < g.q;
    const int base = img * g.k * g.pq + p * g.q + q;  // output channel 0's element (read only where tap_ok)
#pragma unroll
    for (int z = 0; z < Base::NB; ++z) {
      const int k = k0 + t / BN + z * Base::RSTEP;
      this->rb[z] = (tap_ok && k < g.k) ? a.dy[base + k * g.pq] : 0.0f;
    }
  }

  template <class S>
  __device__ void stash(typename S::T* As, typename S::T* Bs) const {
    this->template stash_a<S>(As);
    this->template stash_b_column_fast<S>(Bs);
  }
};

// Backward weights: A = dy [K, N*P*Q], B = x^T [N*P*Q, C*9]; block z of the grid reduces chunk z.
struct WeightArgs {
  Geometry g;
  const float* x;
  const float* dy;
  float* partials;  // [chunks, K, C*9]
  int tiles_per_chunk;
};

template <int BM, int BN>
struct WeightLoader : LoaderBase<BM, BN> {
  using Base = LoaderBase<BM, BN>;
  const WeightArgs& a;
  int m0;
  // Per column z of this thread (fixed for the whole loop, so decoded once): its tap i * 3 + j, or 15 (never
  // inside) past C*9, and its x offset relative to the tap (1, 1) of channel 0: the channel plane plus the
  // tap's shift (i - 1) * W + (j - 1).
  int ctap[Base::NB], coff[Base::NB];

  __device__ WeightLoader(const WeightArgs& args, int m0_, int n0) : a(args), m0(m0_) {
    const Geometry& g = a.g;
#pragma unroll
    for (int z = 0; z < Base::NB; ++z) {
      const int col = n0 + (static_cast<int>(threadIdx.x) >> 4) + 16 * z;
      const Tap tp = tap_of(col);
      ctap[z] = col < g.c9 ? tp.i * 3 + tp.j : 15;
      coff[z] = col < g.c9 ? tp.ch * g.hw + (tp.i - 1) * g.w + (tp.j - 1) : 0;
    }
  }

  __device__ void fetch(int kt) {
    const Geometry& g = a.g;
    const int t = static_cast<int>(threadIdx.x);
    const int r = kt * kBK + (t & 15);  // this thread's output pixel, the same for its A and B elements
    const bool row_ok = r < g.n * g.pq;
    const int img = row_ok ? r / g.pq : 0, o = r - img * g.pq, p = o / g.q, q = o - p * g.q;
    const int dyrow = (img * g.k) * g.pq + o;
#pragma unroll
    for (int z = 0; z < Base::NA; ++z) {
      const int m = m0 + (t >> 4) + 16 * z;
      this->ra[z] = (row_ok && m < g.k) ? a.dy[dyrow + m * g.pq] : 0.0f;
    }
    // Which of the 9 taps of output pixel (p, q) lie inside the image: bit i * 3 + j. The centre row and
    // column (p * stride, q * stride) always do.
    const int iy = p * g.stride - 1, ix = q * g.stride - 1;
    const int rows = 2 | (iy >= 0 ? 1 : 0) | (iy + 2 < g.h ? 4 : 0);
    const int cols = 2 | (ix >= 0 ? 1 : 0) | (ix + 2 < g.w ? 4 : 0);
    const int inside =
        row_ok ? ((rows & 1 ? cols : 0) | (rows & 2 ? cols << 3 : 0) | (rows & 4 ? cols << 6 : 0)) : 0;
    const int base = img * g.c * g.hw + (iy + 1) * g.w + (ix + 1);  // channel 0 at the tap (1, 1)
#pragma unroll
    for (int z = 0; z < Base::NB; ++z) {
      this->rb[z] = ((inside >> ctap[z]) & 1) ? a.x[base + coff[z]] : 0.0f;
    }
  }

  template <class S>
  __device__ void stash(typename S::T* As, typename S::T* Bs) const {
    this->template stash_a<S>(As);
    this->template stash_b_reduction_fast<S>(Bs);
  }
};

// --- the GEMM main loop ----------------------------------------------------------------------------------

// Runs reduction steps [kt_begin, kt_end) and leaves the block's BM x BN result in Smem::c(smem).
template <int BM, int BN, MathMode MODE, class Loader>
__device__ void gemm_tile(Loader& ld, int kt_begin, int kt_end, unsigned char* smem) {
  using S = Smem<BM, BN, MODE>;
  AccumulatorFor<BM, BN, MODE> acc;
  if (kt_begin < kt_end) ld.fetch(kt_begin);
  for (int kt = kt_begin; kt < kt_end; ++kt) {
    const int buf = (kt - kt_begin) & 1;
    // Safe with one barrier per step: buffer `buf` was last read in step kt - 2, and every thread passed
    // step kt - 1's barrier after finishing that.
    ld.template stash<S>(S::a(smem, buf), S::b(smem, buf));
    __syncthreads();
    if (kt + 1 < kt_end) ld.fetch(kt + 1);
    acc.mma(S::a(smem, buf), S::b(smem, buf));
  }
  __syncthreads();  // the output tile overwrites the operand buffers
  acc.store(S::c(smem));
  __syncthreads();
}

template <int BM, int BN, MathMode MODE>
__global__ void __launch_bounds__(kThreads) forward_kernel(ForwardArgs args) {
  using S = Smem<BM, BN, MODE>;
  __shared__ __align__(128) unsigned char smem[S::kBytes];
  const Geometry& g = args.g;
  const int m0 = static_cast<int>(blockIdx.y) * BM, n0 = static_cast<int>(blockIdx.x) * BN;
  ForwardLoader<BM, BN> ld(args, m0, n0);
  gemm_tile<BM, BN, MODE>(ld, 0, ForwardLoader<BM, BN>::steps(g), smem);
  const float* Cs = S::c(smem);
  for (int e = static_cast<int>(threadIdx.x); e < BM * BN; e += kThreads) {
    const int ml = e / BN, nl = e - ml * BN, m = m0 + ml, col = n0 + nl;
    if (m >= g.k || col >= g.n * g.pq) continue;
    const int img = col / g.pq, o = col - img * g.pq;
    args.y[(static_cast<int64_t>(img) * g.k + m) * g.pq + o] = Cs[ml * S::LDC + nl];
  }
}

template <int BM, int BN, MathMode MODE>
__global__ void __launch_bounds__(kThreads) data_kernel(DataArgs args) {
  using S = Smem<BM, BN, MODE>;
  __shared__ __align__(128) unsigned char smem[S::kBytes];
  const Geometry& g = args.g;
  const int m0 = static_cast<int>(blockIdx.y) * BM, n0 = static_cast<int>(blockIdx.x) * BN;
  DataLoader<BM, BN> ld(args, m0, n0);
  gemm_tile<BM, BN, MODE>(ld, 0, DataLoader<BM, BN>::steps(g), smem);
  const float* Cs = S::c(smem);
  for (int e = static_cast<int>(threadIdx.x); e < BM * BN; e += kThreads) {
    const int ml = e / BN, nl = e - ml * BN, m = m0 + ml, col = n0 + nl;
    if (m >= g.c || col >= g.n * g.hw) continue;
    const int img = col / g.hw, o = col - img * g.hw;
    float* out = args.dx + (static_cast<int64_t>(img) * g.c + m) * g.hw + o;
    const float v = Cs[ml * S::LDC + nl];
    *out = args.accumulate ? *out + v : v;
  }
}

template <int BM, int BN, MathMode MODE>
__global__ void __launch_bounds__(kThreads) weight_kernel(WeightArgs args) {
  using S = Smem<BM, BN, MODE>;
  __shared__ __align__(128) unsigned char smem[S::kBytes];
  const Geometry& g = args.g;
  const int m0 = static_cast<int>(blockIdx.y) * BM, n0 = static_cast<int>(blockIdx.x) * BN;
  const int chunk = static_cast<int>(blockIdx.z), ktiles = (g.n * g.pq + kBK - 1) / kBK;
  const int kt_begin = chunk * args.tiles_per_chunk;
  const int kt_end = kt_begin + args.tiles_per_chunk < ktiles ? kt_begin + args.tiles_per_chunk : ktiles;
  WeightLoader<BM, BN> ld(args, m0, n0);
  gemm_tile<BM, BN, MODE>(ld, kt_begin, kt_end, smem);
  const float* Cs = S::c(smem);
  float* part = args.partials + static_cast<int64_t>(chunk) * g.k * g.c9;
  for (int e = static_cast<int>(threadIdx.x); e < BM * BN; e += kThreads) {
    const int ml = e / BN, nl = e - ml * BN, m = m0 + ml, col = n0 + nl;
    if (m >= g.k || col >= g.c9) continue;
    part[m * g.c9 + col] = Cs[ml * S::LDC + nl];
  }
}

// dw[i] = the sum over chunks of partials[chunk, i], in a fixed order: block b takes outputs b * 32 .. + 31
// (one per lane, so every chunk's row is read coalesced); its 8 warps sum the chunks ty, ty + 8, ... in
// turn, and the 8 warp sums are added in a fixed tree.
constexpr int kSumCols = 32, kSumLanes = 8;
__global__ void __launch_bounds__(kSumCols* kSumLanes)
    sum_chunks_kernel(int count, int chunks, const float* __restrict__ partials, float* __restrict__ dw) {
  __shared__ float sums[kSumLanes][kSumCols];
  const int tx = static_cast<int>(threadIdx.x) % kSumCols, ty = static_cast<int>(threadIdx.x) / kSumCols;
  const int i = static_cast<int>(blockIdx.x) * kSumCols + tx;
  float s = 0.0f;
  if (i < count) {
#pragma unroll 4
    for (int c = ty; c < chunks; c += kSumLanes) s += partials[static_cast<int64_t>(c) * count + i];
  }
  sums[ty][tx] = s;
  __syncthreads();
  for (int half = kSumLanes / 2; half > 0; half >>= 1) {
    if (ty < half) sums[ty][tx] += sums[ty + half][tx];
    __syncthreads();
  }
  if (ty == 0 && i < count) dw[i] = sums[0][tx];
}

// --- host side -------------------------------------------------------------------------------------------

// The tile height for a GEMM with m output rows: the smallest of 16, 32, 64 that holds them (64 beyond).
int tile_m(int64_t m) { return m <= 16 ? 16 : m <= 32 ? 32 : 64; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void fail(const std::string& what) { throw std::invalid_argument("conv3x3: " + what); }

Geometry checked_geometry(const ConvDims& d) {
  if (d.n < 1 || d.c < 1 || d.h < 1 || d.w < 1 || d.k < 1) {
    fail("dims n, c, h, w, k must be >= 1 (got n " + std::to_string(d.n) + ", c " + std::to_string(d.c) +
         ", h " + std::to_string(d.h) + ", w " + std::to_string(d.w) + ", k " + std::to_string(d.k) + ")");
  }
  if (d.stride != 1 && d.stride != 2) fail("stride must be 1 or 2 (got " + std::to_string(d.stride) + ")");
  if (d.p != (d.h - 1) / d.stride + 1 || d.q != (d.w - 1) / d.stride + 1) {
    fail("output size p x q must be (h - 1) / stride + 1 by (w - 1) / stride + 1 (got " +
         std::to_string(d.p) + " x " + std::to_string(d.q) + ")");
  }
  const int64_t limit = std::numeric_limits<int32_t>::max();
  if (d.n * d.c * d.h * d.w >= limit || d.n * d.k * d.p * d.q >= limit || d.k * d.c * 9 >= limit) {
    fail("tensors of 2^31 elements or more are not supported");
  }
  Geometry g;
  g.n = static_cast<int>(d.n);
  g.c = static_cast<int>(d.c);
  g.h = static_cast<int>(d.h);
  g.w = static_cast<int>(d.w);
  g.k = static_cast<int>(d.k);
  g.p = static_cast<int>(d.p);
  g.q = static_cast<int>(d.q);
  g.stride = static_cast<int>(d.stride);
  g.hw = g.h * g.w;
  g.pq = g.p * g.q;
  g.c9 = g.c * 9;
  return g;
}

// How the weight gradient's reduction over N*P*Q is cut: into `chunks` runs of `tiles_per_chunk` steps
// (the last one shorter), enough blocks in all (about kTargetBlocks) to fill a large GPU, but no run shorter
// than kMinSteps (a block's fixed costs, and the partials the second kernel reads, must stay small beside
// its arithmetic). Depends on the shape only, so a shape always sums in the same order.
constexpr int64_t kTargetBlocks = 528;  // 4 per SM on a 132-SM H100/H200
constexpr int64_t kMinSteps = 32;
struct WeightSplit {
  int chunks, tiles_per_chunk;
};
WeightSplit weight_split(const ConvDims& d) {
  const int bm = tile_m(d.k), bn = kTileArea / bm;
  const int64_t tiles = ceil_div(d.c * 9, bn) * ceil_div(d.k, bm);
  const int64_t ktiles = ceil_div(d.n * d.p * d.q, kBK);
  const int64_t want = std::max<int64_t>(1, std::min<int64_t>(ktiles, ceil_div(kTargetBlocks, tiles)));
  const int64_t per = std::max(kMinSteps, ceil_div(ktiles, want));
  return WeightSplit{static_cast<int>(ceil_div(ktiles, per)), static_cast<int>(per)};
}

template <MathMode MODE>
void launch_forward(const ForwardArgs& a, int bm, cudaStream_t stream) {
  const int64_t cols = static_cast<int64_t>(a.g.n) * a.g.pq;
  switch (bm) {
    case 16:
      forward_kernel<16, 256, MODE>
          <<<dim3(ceil_div(cols, 256), ceil_div(a.g.k, 16)), kThreads, 0, stream>>>(a);
      break;
    case 32:
      forward_kernel<32, 128, MODE>
          <<<dim3(ceil_div(cols, 128), ceil_div(a.g.k, 32)), kThreads, 0, stream>>>(a);
      break;
    default:
      forward_kernel<64, 64, MODE><<<dim3(ceil_div(cols, 64), ceil_div(a.g.k, 64)), kThreads, 0, stream>>>(a);
      break;
  }
  EOS_CUDA_CHECK_LAUNCH();
}

template <MathMode MODE>
void launch_data(const DataArgs& a, int bm, cudaStream_t stream) {
  const int64_t cols = static_cast<int64_t>(a.g.n) * a.g.hw;
  switch (bm) {
    case 16:
      data_kernel<16, 256, MODE><<<dim3(ceil_div(cols, 256), ceil_div(a.g.c, 16)), kThreads, 0, stream>>>(a);
      break;
    case 32:
      data_kernel<32, 128, MODE><<<dim3(ceil_div(cols, 128), ceil_div(a.g.c, 32)), kThreads, 0, stream>>>(a);
      break;
    default:
      data_kernel<64, 64, MODE><<<dim3(ceil_div(cols, 64), ceil_div(a.g.c, 64)), kThreads, 0, stream>>>(a);
      break;
  }
  EOS_CUDA_CHECK_LAUNCH();
}

template <MathMode MODE>
void launch_weights(const WeightArgs& a, int bm, int chunks, cudaStream_t stream) {
  switch (bm) {
    case 16:
      weight_kernel<16, 256, MODE>
          <<<dim3(ceil_div(a.g.c9, 256), ceil_div(a.g.k, 16), chunks), kThreads, 0, stream>>>(a);
      break;
    case 32:
      weight_kernel<32, 128, MODE>
          <<<dim3(ceil_div(a.g.c9, 128), ceil_div(a.g.k, 32), chunks), kThreads, 0, stream>>>(a);
      break;
    default:
      weight_kernel<64, 64, MODE>
          <<<dim3(ceil_div(a.g.c9, 64), ceil_div(a.g.k, 64), chunks), kThreads, 0, stream>>>(a);
      break;
  }
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace

int64_t conv3x3_workspace_bytes(const ConvDims& d, MathMode mode) {
  checked_geometry(d);
  // Forward and backward data need none; the weight gradient's chunk partials, the same for every mode.
  return static_cast<int64_t>(weight_split(d).chunks) * d.k * d.c * 9 * static_cast<int64_t>(sizeof(float));
}

void conv3x3_forward(const ConvDims& d, const float* x, const float* w, float* y, MathMode mode,
                     void* workspace, cudaStream_t stream) {
  const ForwardArgs a{checked_geometry(d), x, w, y};
  const int bm = tile_m(d.k);
  switch (mode) {
    case MathMode::kFp32:
      launch_forward<MathMode::kFp32>(a, bm, stream);
      break;
    case MathMode::kTf32:
      launch_forward<MathMode::kTf32>(a, bm, stream);
      break;
    case MathMode::kBf16:
      launch_forward<MathMode::kBf16>(a, bm, stream);
      break;
  }
}

void conv3x3_backward_data(const ConvDims& d, const float* w, const float* dy, float* dx, bool accumulate,
                           MathMode mode, void* workspace, cudaStream_t stream) {
  const DataArgs a{checked_geometry(d), w, dy, dx, accumulate};
  const int bm = tile_m(d.c);
  switch (mode) {
    case MathMode::kFp32:
      launch_data<MathMode::kFp32>(a, bm, stream);
      break;
    case MathMode::kTf32:
      launch_data<MathMode::kTf32>(a, bm, stream);
      break;
    case MathMode::kBf16:
      launch_data<MathMode::kBf16>(a, bm, stream);
      break;
  }
}

void conv3x3_backward_weights(const ConvDims& d, const float* x, const float* dy, float* dw, MathMode mode,
                              void* workspace, cudaStream_t stream) {
  const Geometry g = checked_geometry(d);  // first: weight_split divides by sizes that must be >= 1
  const WeightSplit split = weight_split(d);
  const WeightArgs a{g, x, dy, static_cast<float*>(workspace), split.tiles_per_chunk};
  const int bm = tile_m(d.k);
  switch (mode) {
    case MathMode::kFp32:
      launch_weights<MathMode::kFp32>(a, bm, split.chunks, stream);
      break;
    case MathMode::kTf32:
      launch_weights<MathMode::kTf32>(a, bm, split.chunks, stream);
      break;
    case MathMode::kBf16:
      launch_weights<MathMode::kBf16>(a, bm, split.chunks, stream);
      break;
  }
  const int count = static_cast<int>(d.k * d.c * 9);
  sum_chunks_kernel<<<static_cast<unsigned>(ceil_div(count, kSumCols)), kSumCols * kSumLanes, 0, stream>>>(
      count, split.chunks, a.partials, dw);
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
