// Classifier heads on the device: the fully connected layer (nn/ref/linear.h) and the cosine-normalised head
// (nn/ref/normed_linear.h). Same legends and formulas, and the same arithmetic: one thread per output sums
// its terms in double in the ref kernel's order, so the results are bitwise the ref kernels'. The heads are
// a few thousand outputs with at most a few hundred terms each, far too small for anything cleverer to pay.
//
// Why the _rn intrinsics: nvcc fuses a * b + c into one FMA by default; the products of two floats are exact
// in double (so a fused sum of them rounds as the CPU does), but u * dot in the normalisation backward is
// not, so it is written with __dmul_rn / __dsub_rn, which are never fused.
#include "core/cuda_check.h"
#include "nn/cuda/common_kernels.cuh"
#include "nn/cuda/ops.h"

namespace eos::cuda {

using detail::grid_for;
using detail::kBlock;

namespace {

constexpr double kNormEps = 1e-12;  // F.normalize's default eps, as nn/ref/normed_linear.cc

__device__ inline int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// y[r, o] = b[o] + sum_i x[r, i] w[o, i]
__global__ void linear_forward_kernel(int64_t n, int64_t in, int64_t out, const float* __restrict__ x,
                                      const float* __restrict__ w, const float* __restrict__ b,
                                      float* __restrict__ y) {
  for (int64_t e = global_index(); e < n * out; e += grid_stride()) {
    const int64_t r = e / out, o = e - r * out;
    const float* xr = x + r * in;
    const float* wo = w + o * in;
    double sum = b ? static_cast<double>(b[o]) : 0.0;
    for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(xr[i]) * wo[i];
    y[e] = static_cast<float>(sum);
  }
}

// dx[r, i] = sum_o dy[r, o] w[o, i]
__global__ void linear_dx_kernel(int64_t n, int64_t in, int64_t out, const float* __restrict__ w,
                                 const float* __restrict__ dy, float* __restrict__ dx) {
  for (int64_t e = global_index(); e < n * in; e += grid_stride()) {
    const int64_t r = e / in, i = e - r * in;
    double sum = 0;
    for (int64_t o = 0; o < out; ++o) sum += static_cast<double>(dy[r * out + o]) * w[o * in + i];
    dx[e] = static_cast<float>(sum);
  }
}

// dw[o, i] = sum_r dy[r, o] x[r, i] for e < out * in; then db[o] = sum_r dy[r, o] for the next `out` threads
// when db is wanted.
__global__ void linear_dw_kernel(int64_t n, int64_t in, int64_t out, const float* __restrict__ x,
                                 const float* __restrict__ dy, float* __restrict__ dw,
                                 float* __restrict__ db) {
  const int64_t count = out * in + (db ? out : 0);
  for (int64_t e = global_index(); e < count; e += grid_stride()) {
    double sum = 0;
    if (e < out * in) {
      const int64_t o = e / in, i = e - o * in;
      for (int64_t r = 0; r < n; ++r) sum += static_cast<double>(dy[r * out + o]) * x[r * in + i];
      dw[e] = static_cast<float>(sum);
    } else {
      const int64_t o = e - out * in;
      for (int64_t r = 0; r < n; ++r) sum += dy[r * out + o];
      db[o] = static_cast<float>(sum);
    }
  }
}

// The normed head's scratch (floats, the ref's layout): xn [N, I], wn [I, O], |x| [N], |w| [O], dxn [N, I],
// dwn [I, O].
struct NormedScratch {
  float *xn, *wn, *xnorm, *wnorm, *dxn, *dwn;
  NormedScratch(int64_t n, int64_t in, int64_t out, void* workspace) {
    xn = static_cast<float*>(workspace);
    wn = xn + n * in;
    xnorm = wn + in * out;
    wnorm = xnorm + n;
    dxn = wnorm + out;
    dwn = dxn + n * in;
  }
};

// Vector v of `count` vectors of `len` elements: element i at base + v * stride + i * step.
struct Strided {
  int64_t len, stride, step;
  __device__ int64_t at(int64_t v, int64_t i) const { return v * stride + i * step; }
};

// Unit vector and clamped norm max(|v|, eps) of one vector (the ref's normalize_vectors for one v).
__device__ void normalize_one(const Strided& a, int64_t v, const float* src, float* dst, float* norms) {
  double sq = 0;
  for (int64_t i = 0; i < a.len; ++i) {
    const double e = src[a.at(v, i)];
    sq += e * e;
  }
  const double root = sqrt(sq);
  const double norm = root < kNormEps ? kNormEps : root;  // std::max(root, eps), NaN kept as the ref keeps it
  for (int64_t i = 0; i < a.len; ++i) dst[a.at(v, i)] = static_cast<float>(src[a.at(v, i)] / norm);
  norms[v] = static_cast<float>(norm);
}

// dv = (du - u (u . du)) / norm, or du / eps where the norm was clamped (the ref's normalize_backward).
__device__ void normalize_backward_one(const Strided& a, int64_t v, const float* u, const float* norms,
                                       const float* du, float* dv) {
  const double norm = norms[v];
  double dot = 0;
  for (int64_t i = 0; i < a.len; ++i) dot += static_cast<double>(u[a.at(v, i)]) * du[a.at(v, i)];
  const bool clamped = !(norm > kNormEps);
  for (int64_t i = 0; i < a.len; ++i) {
    const int64_t e = a.at(v, i);
    const double g = du[e];
    dv[e] = static_cast<float>(clamped ? g / kNormEps : __dsub_rn(g, __dmul_rn(u[e], dot)) / norm);
  }
}

// Rows of x (threads [0, n)) and columns of w (threads [n, n + out)).
__global__ void normalize_kernel(int64_t n, int64_t in, int64_t out, const float* __restrict__ x,
                                 const float* __restrict__ w, NormedScratch s) {
  const Strided rows{in, in, 1}, cols{in, 1, out};
  for (int64_t v = global_index(); v < n + out; v += grid_stride()) {
    if (v < n) {
      normalize_one(rows, v, x, s.xn, s.xnorm);
    } else {
      normalize_one(cols, v - n, w, s.wn, s.wnorm);
    }
  }
}

// y[r, o] = sum_i xn[r, i] wn[i, o]
__global__ void normed_forward_kernel(int64_t n, int64_t in, int64_t out, NormedScratch s,
                                      float* __restrict__ y) {
  for (int64_t e = global_index(); e < n * out; e += grid_stride()) {
    const int64_t r = e / out, o = e - r * out;
    double sum = 0;
    for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(s.xn[r * in + i]) * s.wn[i * out + o];
    y[e] = static_cast<float>(sum);
  }
}

// dwn = xn^T dy (threads [0, in * out)), then dxn = dy wn^T (the next n * in threads, when wanted).
__global__ void normed_grad_kernel(int64_t n, int64_t in, int64_t out, const float* __restrict__ dy,
                                   bool want_dx, NormedScratch s) {
  const int64_t count = in * out + (want_dx ? n * in : 0);
  for (int64_t e = global_index(); e < count; e += grid_stride()) {
    double sum = 0;
    if (e < in * out) {
      const int64_t i = e / out, o = e - i * out;
      for (int64_t r = 0; r < n; ++r) sum += static_cast<double>(s.xn[r * in + i]) * dy[r * out + o];
      s.dwn[e] = static_cast<float>(sum);
    } else {
      const int64_t f = e - in * out, r = f / in, i = f - r * in;
      for (int64_t o = 0; o < out; ++o) sum += static_cast<double>(dy[r * out + o]) * s.wn[i * out + o];
      s.dxn[f] = static_cast<float>(sum);
    }
  }
}

// dw through the column normalisation (threads [0, out)), dx through the row one (the next n, when wanted).
__global__ void normed_backward_kernel(int64_t n, int64_t in, int64_t out, float* __restrict__ dx,
                                       float* __restrict__ dw, NormedScratch s) {
  const Strided rows{in, in, 1}, cols{in, 1, out};
  const int64_t count = out + (dx ? n : 0);
  for (int64_t v = global_index(); v < count; v += grid_stride()) {
    if (v < out) {
      normalize_backward_one(cols, v, s.wn, s.wnorm, s.dwn, dw);
    } else {
      normalize_backward_one(rows, v - out, s.xn, s.xnorm, s.dxn, dx);
    }
  }
}

}  // namespace

void linear_forward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, const float* b,
                    float* y, cudaStream_t stream) {
  if (n * out <= 0) return;
  linear_forward_kernel<<<grid_for(n * out), kBlock, 0, stream>>>(n, in, out, x, w, b, y);
  EOS_CUDA_CHECK_LAUNCH();
}

void linear_backward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, cudaStream_t stream) {
  if (dx && n * in > 0) {
    linear_dx_kernel<<<grid_for(n * in), kBlock, 0, stream>>>(n, in, out, w, dy, dx);
    EOS_CUDA_CHECK_LAUNCH();
  }
  const int64_t count = out * in + (db ? out : 0);
  if (count > 0) {
    linear_dw_kernel<<<grid_for(count), kBlock, 0, stream>>>(n, in, out, x, dy, dw, db);
    EOS_CUDA_CHECK_LAUNCH();
  }
}

int64_t normed_linear_workspace_bytes(int64_t n, int64_t in, int64_t out) {
  return (2 * (n * in + in * out) + n + out) * static_cast<int64_t>(sizeof(float));
}

void normed_linear_forward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, float* y,
                           void* workspace, cudaStream_t stream) {
  if (n * out <= 0) return;
  const NormedScratch s(n, in, out, workspace);
  normalize_kernel<<<grid_for(n + out), kBlock, 0, stream>>>(n, in, out, x, w, s);
  EOS_CUDA_CHECK_LAUNCH();
  normed_forward_kernel<<<grid_for(n * out), kBlock, 0, stream>>>(n, in, out, s, y);
  EOS_CUDA_CHECK_LAUNCH();
}

void normed_linear_backward(int64_t n, int64_t in, int64_t out, const float* x, const float* w,
                            const float* dy, float* dx, float* dw, void* workspace, cudaStream_t stream) {
  if (n * out <= 0 && in * out <= 0) return;
  const NormedScratch s(n, in, out, workspace);
  normalize_kernel<<<grid_for(n + out), kBlock, 0, stream>>>(n, in, out, x, w, s);
  EOS_CUDA_CHECK_LAUNCH();
  const bool want_dx = dx != nullptr;
  normed_grad_kernel<<<grid_for(in * out + (want_dx ? n * in : 0)), kBlock, 0, stream>>>(n, in, out, dy,
                                                                                         want_dx, s);
  EOS_CUDA_CHECK_LAUNCH();
  normed_backward_kernel<<<grid_for(out + (want_dx ? n : 0)), kBlock, 0, stream>>>(n, in, out, dx, dw, s);
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
