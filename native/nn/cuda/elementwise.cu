// Elementwise layers and global average pooling on the device: relu (nn/ref/relu.h), the option-A shortcut
// add (nn/ref/shortcut.h) with and without the block's final relu, and global average pooling
// (nn/ref/avgpool.h). Same legends and formulas; every kernel is a grid-stride loop over its output.
#include "core/cuda_check.h"
#include "nn/cuda/common_kernels.cuh"
#include "nn/cuda/ops.h"

namespace eos::cuda {

using detail::grid_for;
using detail::kBlock;

namespace {

__device__ inline int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// x and y may be the same buffer (in place), hence no __restrict__.
__global__ void relu_forward_kernel(int64_t count, const float* x, float* y) {
  for (int64_t i = global_index(); i < count; i += grid_stride()) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

// dx may alias dy.
__global__ void relu_backward_kernel(int64_t count, const float* y, const float* dy, float* dx) {
  for (int64_t i = global_index(); i < count; i += grid_stride()) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// The shortcut's sizes in the index type I of a launch: 32-bit wherever the tensors allow (see use_int32),
// because 64-bit division costs several times more on the device and these kernels divide per element.
template <typename I>
struct Shortcut {
  I n, c_in, h, w, c_out, p, q, stride, pad;
  explicit Shortcut(const ShortcutDims& d)
      : n(static_cast<I>(d.n)),
        c_in(static_cast<I>(d.c_in)),
        h(static_cast<I>(d.h)),
        w(static_cast<I>(d.w)),
        c_out(static_cast<I>(d.c_out)),
        p(static_cast<I>(d.p)),
        q(static_cast<I>(d.q)),
        stride(static_cast<I>(d.stride)),
        pad(static_cast<I>(d.pad)) {}
};

// 32-bit indices are safe when every index, and every index plus a grid stride, stays below 2^31.
bool use_int32(int64_t largest_count) { return largest_count < (int64_t{1} << 30); }
bool shortcut_int32(const ShortcutDims& d) {
  return use_int32(std::max(d.n * d.c_in * d.h * d.w, d.n * d.c_out * d.p * d.q));
}

// y[n, k, p, q] += x[n, k - pad, p * stride, q * stride] over the channels that have a source (the others
// are untouched, as in the ref kernel). One thread per (n, c_in, p, q).
template <typename I>
__global__ void shortcut_add_kernel(Shortcut<I> d, const float* __restrict__ x, float* __restrict__ y) {
  const I pq = d.p * d.q, count = d.n * d.c_in * pq;
  for (I e = static_cast<I>(global_index()); e < count; e += static_cast<I>(grid_stride())) {
    const I plane = e / pq, o = e - plane * pq;
    const I n = plane / d.c_in, c = plane - n * d.c_in;
    const I p = o / d.q, q = o - p * d.q;
    y[(n * d.c_out + c + d.pad) * pq + o] += x[(plane * d.h + p * d.stride) * d.w + q * d.stride];
  }
}

// y = max(0, y + shortcut(x)) over every element of y: the padded channels get max(0, y) (the ref's add of
// nothing, then relu). One thread per (n, c_out, p, q).
template <typename I>
__global__ void shortcut_add_relu_kernel(Shortcut<I> d, const float* __restrict__ x, float* __restrict__ y) {
  const I pq = d.p * d.q, count = d.n * d.c_out * pq;
  for (I e = static_cast<I>(global_index()); e < count; e += static_cast<I>(grid_stride())) {
    const I plane = e / pq, o = e - plane * pq;
    const I n = plane / d.c_out, c = plane - n * d.c_out - d.pad;
    float v = y[e];
    if (c >= 0 && c < d.c_in) {
      const I p = o / d.q, q = o - p * d.q;
      v += x[(((n * d.c_in + c) * d.h) + p * d.stride) * d.w + q * d.stride];
    }
    y[e] = v > 0.0f ? v : 0.0f;
  }
}

// dx[n, c, i, j] = dy[n, c + pad, i / stride, j / stride] where i and j are multiples of the stride, else 0.
// With `accumulate` only the sampled positions are added to (the ref adds nothing elsewhere, which also keeps
// a -0 there bitwise). One thread per element of dx.
template <typename I>
__global__ void shortcut_backward_kernel(Shortcut<I> d, const float* __restrict__ dy, float* __restrict__ dx,
                                         bool accumulate) {
  const I hw = d.h * d.w, count = d.n * d.c_in * hw;
  for (I e = static_cast<I>(global_index()); e < count; e += static_cast<I>(grid_stride())) {
    const I plane = e / hw, o = e - plane * hw;
    const I i = o / d.w, j = o - i * d.w;
    const bool sampled = i % d.stride == 0 && j % d.stride == 0;
    if (sampled) {
      const I n = plane / d.c_in, c = plane - n * d.c_in;
      const float g = dy[((n * d.c_out + c + d.pad) * d.p + i / d.stride) * d.q + j / d.stride];
      // Overwriting: the ref copies (stride 1) or adds onto a zero fill (stride 2, where 0 + -0 gives +0).
      dx[e] = accumulate ? dx[e] + g : (d.stride == 1 ? g : 0.0f + g);
    } else if (!accumulate) {
      dx[e] = 0.0f;
    }
  }
}

// One thread per (n, c) plane, summing in double with the ref's eight interleaved lanes and its combine
// tree (nn/ref/reduce.h), so the result is bitwise the ref kernel's. The planes are small (the last stage's
// 8 x 8), so a thread per plane is enough.
__global__ void avgpool_forward_kernel(int64_t planes, int64_t s, const float* __restrict__ x,
                                       float* __restrict__ y) {
  for (int64_t plane = global_index(); plane < planes; plane += grid_stride()) {
    const float* xs = x + plane * s;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= s; i += 8) {
      for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(xs[i + l]);
    }
    for (int l = 0; i < s; ++i, ++l) acc[l] += static_cast<double>(xs[i]);
    const double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    y[plane] = static_cast<float>(sum / static_cast<double>(s));
  }
}

template <typename I>
__global__ void avgpool_backward_kernel(I planes, I s, const float* __restrict__ dy, float* __restrict__ dx,
                                        bool accumulate) {
  const I count = planes * s;
  for (I e = static_cast<I>(global_index()); e < count; e += static_cast<I>(grid_stride())) {
    const float g = static_cast<float>(static_cast<double>(dy[e / s]) / static_cast<double>(s));
    dx[e] = accumulate ? dx[e] + g : g;
  }
}

}  // namespace

void relu_forward(int64_t count, const float* x, float* y, cudaStream_t stream) {
  if (count <= 0) return;
  relu_forward_kernel<<<grid_for(count), kBlock, 0, stream>>>(count, x, y);
  EOS_CUDA_CHECK_LAUNCH();
}

void relu_backward(int64_t count, const float* y, const float* dy, float* dx, cudaStream_t stream) {
  if (count <= 0) return;
  relu_backward_kernel<<<grid_for(count), kBlock, 0, stream>>>(count, y, dy, dx);
  EOS_CUDA_CHECK_LAUNCH();
}

void shortcut_add_forward(const ShortcutDims& d, const float* x, float* y, cudaStream_t stream) {
  const int64_t count = d.n * d.c_in * d.p * d.q;
  if (count <= 0) return;
  if (shortcut_int32(d)) {
    shortcut_add_kernel<<<grid_for(count), kBlock, 0, stream>>>(Shortcut<int32_t>(d), x, y);
  } else {
    shortcut_add_kernel<<<grid_for(count), kBlock, 0, stream>>>(Shortcut<int64_t>(d), x, y);
  }
  EOS_CUDA_CHECK_LAUNCH();
}

void shortcut_add_relu_forward(const ShortcutDims& d, const float* x, float* y, cudaStream_t stream) {
  const int64_t count = d.n * d.c_out * d.p * d.q;
  if (count <= 0) return;
  if (shortcut_int32(d)) {
    shortcut_add_relu_kernel<<<grid_for(count), kBlock, 0, stream>>>(Shortcut<int32_t>(d), x, y);
  } else {
    shortcut_add_relu_kernel<<<grid_for(count), kBlock, 0, stream>>>(Shortcut<int64_t>(d), x, y);
  }
  EOS_CUDA_CHECK_LAUNCH();
}

void shortcut_add_backward(const ShortcutDims& d, const float* dy, float* dx, bool accumulate,
                           cudaStream_t stream) {
  const int64_t count = d.n * d.c_in * d.h * d.w;
  if (count <= 0) return;
  if (shortcut_int32(d)) {
    shortcut_backward_kernel<<<grid_for(count), kBlock, 0, stream>>>(Shortcut<int32_t>(d), dy, dx,
                                                                     accumulate);
  } else {
    shortcut_backward_kernel<<<grid_for(count), kBlock, 0, stream>>>(Shortcut<int64_t>(d), dy, dx,
                                                                     accumulate);
  }
  EOS_CUDA_CHECK_LAUNCH();
}

void global_avgpool_forward(int64_t n, int64_t c, int64_t s, const float* x, float* y, cudaStream_t stream) {
  if (n * c <= 0) return;
  avgpool_forward_kernel<<<grid_for(n * c), kBlock, 0, stream>>>(n * c, s, x, y);
  EOS_CUDA_CHECK_LAUNCH();
}

void global_avgpool_backward(int64_t n, int64_t c, int64_t s, const float* dy, float* dx, bool accumulate,
                             cudaStream_t stream) {
  if (n * c * s <= 0) return;
  if (use_int32(n * c * s)) {
    avgpool_backward_kernel<<<grid_for(n * c * s), kBlock, 0, stream>>>(
        static_cast<int32_t>(n * c), static_cast<int32_t>(s), dy, dx, accumulate);
  } else {
    avgpool_backward_kernel<<<grid_for(n * c * s), kBlock, 0, stream>>>(n * c, s, dy, dx, accumulate);
  }
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
