// 2-d batch normalisation on the device (nn/ref/batchnorm2d.h): same legend and formulas, statistics in
// double, optional fused relu.
//
// Reduction order (deterministic): each channel's N images are split into a fixed number of chunks (a
// function of the shape only, see chunking()); block (chunk, channel) sums its chunk with
// detail::block_sum's fixed tree and writes one partial to the workspace; whoever needs a channel total sums
// that channel's partials in chunk order. The variance takes a second pass over x centred on the finished
// mean, as the ref kernel does (no cancellation). The totals are the ref's up to the order of the additions.
//
// Why the _rn intrinsics: nvcc fuses a * b + c into one FMA by default, which rounds differently from the
// CPU's separate multiply and add. The per-element affine maps (y = x * scale + shift, the backward's
// dx = k dy + a (x - mean) + b) and the running-stat updates are written with __fmul_rn / __fadd_rn /
// __dmul_rn / __dadd_rn (never fused) to round exactly where the ref kernel does.
#include "core/cuda_check.h"
#include "nn/cuda/common_kernels.cuh"
#include "nn/cuda/ops.h"

namespace eos::cuda {

using detail::kBlock;

namespace {

// Blocks over all channels the reductions aim for: a few per SM of a large GPU (the CIFAR ResNet's 16-64
// channels alone would leave most SMs idle).
constexpr int64_t kTargetBlocks = 512;

struct Chunking {
  int64_t chunks;     // per channel
  int64_t per_chunk;  // images per chunk (the last chunk may hold fewer)
};
Chunking chunking(int64_t n, int64_t c) {
  const int64_t want = std::max<int64_t>(1, std::min<int64_t>(n, (kTargetBlocks + c - 1) / c));
  const int64_t per = (n + want - 1) / want;
  return Chunking{(n + per - 1) / per, per};
}

// The element range of block (blockIdx.x = chunk, blockIdx.y = channel): images [i0, i1) of channel ch.
struct ChunkRange {
  int64_t ch, chunk, i0, i1;
  __device__ ChunkRange(int64_t n, int64_t per_chunk) {
    ch = blockIdx.y;
    chunk = blockIdx.x;
    i0 = chunk * per_chunk;
    i1 = i0 + per_chunk < n ? i0 + per_chunk : n;
  }
};

// One thread's walk over its elements of a range: the range's elements e = 0, 1, ... in image-major order
// (image i0 + e / s, pixel e % s), this thread's being e = t, t + kBlock, ...; it steps (image, pixel)
// without a division per element.
struct ChunkWalk {
  int64_t img, j;
  const int64_t step_img, step_j;
  __device__ ChunkWalk(const ChunkRange& r, int64_t s)
      : img(r.i0 + threadIdx.x / s), j(threadIdx.x % s), step_img(kBlock / s), step_j(kBlock % s) {}
  __device__ void next(int64_t s) {
    img += step_img;
    j += step_j;
    if (j >= s) {  // j + step_j < 2 s: at most one carry
      j -= s;
      ++img;
    }
  }
  // Index of the current element in an [N, C, S] tensor.
  __device__ int64_t at(int64_t c, int64_t ch, int64_t s) const { return (img * c + ch) * s + j; }
};

// Sum of channel ch's partials in chunk order (partials laid out [c][chunks]).
__device__ double channel_total(const double* partials, int64_t ch, int64_t chunks) {
  double total = 0;
  for (int64_t k = 0; k < chunks; ++k) total += partials[ch * chunks + k];
  return total;
}

__global__ void __launch_bounds__(kBlock)
    bn_sum_kernel(int64_t n, int64_t c, int64_t s, int64_t per_chunk, const float* x, double* sums) {
  __shared__ double scratch[kBlock];
  const ChunkRange r(n, per_chunk);
  double part = 0;
  for (ChunkWalk w(r, s); w.img < r.i1; w.next(s)) part += static_cast<double>(x[w.at(c, r.ch, s)]);
  const double total = detail::block_sum(part, scratch);
  if (threadIdx.x == 0) sums[r.ch * gridDim.x + r.chunk] = total;
}

__global__ void __launch_bounds__(kBlock) bn_sq_kernel(int64_t n, int64_t c, int64_t s, int64_t per_chunk,
                                                       const float* x, const double* sums, double* sqs) {
  __shared__ double scratch[kBlock];
  const ChunkRange r(n, per_chunk);
  const double mu = channel_total(sums, r.ch, gridDim.x) / static_cast<double>(n * s);
  double part = 0;
  for (ChunkWalk w(r, s); w.img < r.i1; w.next(s)) {
    const double d = static_cast<double>(x[w.at(c, r.ch, s)]) - mu;
    part += d * d;
  }
  const double total = detail::block_sum(part, scratch);
  if (threadIdx.x == 0) sqs[r.ch * gridDim.x + r.chunk] = total;
}

// y = x * scale + shift (then relu); block (0, ch) also stores the statistics. x and y may alias.
__global__ void __launch_bounds__(kBlock)
    bn_apply_train_kernel(int64_t n, int64_t c, int64_t s, int64_t per_chunk, const float* x,
                          const float* gamma, const float* beta, const double* sums, const double* sqs,
                          float* y, float* mean, float* invstd, float* running_mean, float* running_var,
                          double momentum, double eps, bool relu) {
  __shared__ float affine[2];
  const ChunkRange r(n, per_chunk);
  if (threadIdx.x == 0) {
    const double m = static_cast<double>(n * s);
    const double mu = channel_total(sums, r.ch, gridDim.x) / m;
    const double var = channel_total(sqs, r.ch, gridDim.x) / m;
    const double is = 1.0 / sqrt(var + eps);
    const double scale = is * gamma[r.ch];
    const double shift = __dsub_rn(beta[r.ch], __dmul_rn(mu, scale));
    affine[0] = static_cast<float>(scale);
    affine[1] = static_cast<float>(shift);
    if (r.chunk == 0) {
      mean[r.ch] = static_cast<float>(mu);
      invstd[r.ch] = static_cast<float>(is);
      const double unbiased = var * m / (m - 1.0);
      running_mean[r.ch] = static_cast<float>(
          __dadd_rn(__dmul_rn(1.0 - momentum, running_mean[r.ch]), __dmul_rn(momentum, mu)));
      running_var[r.ch] = static_cast<float>(
          __dadd_rn(__dmul_rn(1.0 - momentum, running_var[r.ch]), __dmul_rn(momentum, unbiased)));
    }
  }
  __syncthreads();
  const float sc = affine[0], sh = affine[1];
  for (ChunkWalk w(r, s); w.img < r.i1; w.next(s)) {
    const int64_t i = w.at(c, r.ch, s);
    const float v = __fadd_rn(__fmul_rn(x[i], sc), sh);
    y[i] = relu && !(v > 0.0f) ? 0.0f : v;
  }
}

// One thread per element; I is the index type (32-bit wherever the tensor allows: 64-bit division is several
// times slower on the device).
template <typename I>
__global__ void bn_eval_kernel(I n, I c, I s, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, double eps, bool relu,
                               float* y) {
  const I count = n * c * s, stride = static_cast<I>(gridDim.x * blockDim.x);
  for (I e = static_cast<I>(blockIdx.x * blockDim.x + threadIdx.x); e < count; e += stride) {
    const I ch = (e / s) % c;
    const double scale = gamma[ch] / sqrt(static_cast<double>(running_var[ch]) + eps);
    const float sc = static_cast<float>(scale);
    const float sh = static_cast<float>(__dsub_rn(beta[ch], __dmul_rn(running_mean[ch], scale)));
    const float v = __fadd_rn(__fmul_rn(x[e], sc), sh);
    y[e] = relu && !(v > 0.0f) ? 0.0f : v;
  }
}

// dy masked by the forward's relu output (dy where y > 0, as nn/ref/relu.h's backward), or dy itself.
__device__ inline float masked_dy(const float* dy, const float* relu_output, int64_t i) {
  return relu_output && !(relu_output[i] > 0.0f) ? 0.0f : dy[i];
}

// Partials of sum(dy) and sum(dy * (x - mean)), both [c][chunks].
__global__ void __launch_bounds__(kBlock)
    bn_backward_sum_kernel(int64_t n, int64_t c, int64_t s, int64_t per_chunk, const float* x,
                           const float* dy, const float* relu_output, const float* mean, double* sum_dy,
                           double* sum_dot) {
  __shared__ double scratch[kBlock];
  const ChunkRange r(n, per_chunk);
  const double mu = mean[r.ch];
  double part_dy = 0, part_dot = 0;
  for (ChunkWalk w(r, s); w.img < r.i1; w.next(s)) {
    const int64_t i = w.at(c, r.ch, s);
    const double g = masked_dy(dy, relu_output, i);
    part_dy += g;
    part_dot += g * (static_cast<double>(x[i]) - mu);
  }
  const double total_dy = detail::block_sum(part_dy, scratch);
  const double total_dot = detail::block_sum(part_dot, scratch);
  if (threadIdx.x == 0) {
    sum_dy[r.ch * gridDim.x + r.chunk] = total_dy;
    sum_dot[r.ch * gridDim.x + r.chunk] = total_dot;
  }
}

// dx = k dy + a (x - mean) + b per element; block (0, ch) also writes dgamma, dbeta. The sums are complete
// (the previous kernel) before any dx is written, and each element's dy is read before its dx is written
// by the same thread, so dx may alias dy.
__global__ void __launch_bounds__(kBlock)
    bn_backward_apply_kernel(int64_t n, int64_t c, int64_t s, int64_t per_chunk, const float* x,
                             const float* dy, const float* relu_output, const float* gamma, const float* mean,
                             const float* invstd, const double* sum_dy, const double* sum_dot, float* dx,
                             float* dgamma, float* dbeta) {
  __shared__ float coef[4];
  const ChunkRange r(n, per_chunk);
  if (threadIdx.x == 0) {
    const double m = static_cast<double>(n * s);
    const double is = invstd[r.ch];
    const double sdy = channel_total(sum_dy, r.ch, gridDim.x);
    const double sdot = channel_total(sum_dot, r.ch, gridDim.x);
    const double dg = sdot * is;
    const double k = gamma[r.ch] * is;
    coef[0] = static_cast<float>(k);
    coef[1] = static_cast<float>(-k * dg * is / m);
    coef[2] = static_cast<float>(-k * sdy / m);
    coef[3] = mean[r.ch];
    if (r.chunk == 0) {
      dgamma[r.ch] = static_cast<float>(dg);
      dbeta[r.ch] = static_cast<float>(sdy);
    }
  }
  __syncthreads();
  const float kt = coef[0], at = coef[1], bt = coef[2], mt = coef[3];
  for (ChunkWalk w(r, s); w.img < r.i1; w.next(s)) {
    const int64_t i = w.at(c, r.ch, s);
    const float g = masked_dy(dy, relu_output, i);
    dx[i] = __fadd_rn(__fadd_rn(__fmul_rn(kt, g), __fmul_rn(at, __fsub_rn(x[i], mt))), bt);
  }
}

dim3 chunk_grid(const Chunking& k, int64_t c) {
  return dim3(static_cast<unsigned>(k.chunks), static_cast<unsigned>(c));
}

}  // namespace

int64_t batchnorm_workspace_bytes(int64_t n, int64_t c, int64_t s) {
  return 2 * c * chunking(n, c).chunks * static_cast<int64_t>(sizeof(double));
}

void batchnorm_forward_train(int64_t n, int64_t c, int64_t s, const float* x, const float* gamma,
                             const float* beta, float* y, float* mean, float* invstd, float* running_mean,
                             float* running_var, double momentum, double eps, bool relu, void* workspace,
                             cudaStream_t stream) {
  if (n * c * s <= 0) return;
  const Chunking k = chunking(n, c);
  double* sums = static_cast<double*>(workspace);
  double* sqs = sums + c * k.chunks;
  bn_sum_kernel<<<chunk_grid(k, c), kBlock, 0, stream>>>(n, c, s, k.per_chunk, x, sums);
  EOS_CUDA_CHECK_LAUNCH();
  bn_sq_kernel<<<chunk_grid(k, c), kBlock, 0, stream>>>(n, c, s, k.per_chunk, x, sums, sqs);
  EOS_CUDA_CHECK_LAUNCH();
  bn_apply_train_kernel<<<chunk_grid(k, c), kBlock, 0, stream>>>(n, c, s, k.per_chunk, x, gamma, beta, sums,
                                                                 sqs, y, mean, invstd, running_mean,
                                                                 running_var, momentum, eps, relu);
  EOS_CUDA_CHECK_LAUNCH();
}

void batchnorm_forward_eval(int64_t n, int64_t c, int64_t s, const float* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            double eps, bool relu, float* y, cudaStream_t stream) {
  if (n * c * s <= 0) return;
  if (n * c * s < (int64_t{1} << 30)) {  // every index, and every index plus a grid stride, below 2^31
    bn_eval_kernel<<<detail::grid_for(n * c * s), kBlock, 0, stream>>>(
        static_cast<int32_t>(n), static_cast<int32_t>(c), static_cast<int32_t>(s), x, gamma, beta,
        running_mean, running_var, eps, relu, y);
  } else {
    bn_eval_kernel<<<detail::grid_for(n * c * s), kBlock, 0, stream>>>(n, c, s, x, gamma, beta, running_mean,
                                                                       running_var, eps, relu, y);
  }
  EOS_CUDA_CHECK_LAUNCH();
}

void batchnorm_backward(int64_t n, int64_t c, int64_t s, const float* x, const float* dy,
                        const float* relu_output, const float* gamma, const float* mean, const float* invstd,
                        float* dx, float* dgamma, float* dbeta, void* workspace, cudaStream_t stream) {
  if (n * c * s <= 0) return;
  const Chunking k = chunking(n, c);
  double* sum_dy = static_cast<double*>(workspace);
  double* sum_dot = sum_dy + c * k.chunks;
  bn_backward_sum_kernel<<<chunk_grid(k, c), kBlock, 0, stream>>>(n, c, s, k.per_chunk, x, dy, relu_output,
                                                                  mean, sum_dy, sum_dot);
  EOS_CUDA_CHECK_LAUNCH();
  bn_backward_apply_kernel<<<chunk_grid(k, c), kBlock, 0, stream>>>(
      n, c, s, k.per_chunk, x, dy, relu_output, gamma, mean, invstd, sum_dy, sum_dot, dx, dgamma, dbeta);
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
