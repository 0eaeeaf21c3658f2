// 3x3 convolution, zero padding 1, stride 1 or 2, no bias (every convolution of the CIFAR ResNet).
//
// Legend: N batch, C input channels, H x W input pixels, K output channels, P x Q output pixels,
//   P = (H - 1) / stride + 1, Q = (W - 1) / stride + 1 (what PyTorch gives for kernel 3, padding 1).
//   x [N, C, H, W], w [K, C, 3, 3] (PyTorch's Conv2d weight layout), y [N, K, P, Q], all NCHW row-major.
//   y[n, k, p, q] = sum_{c, i, j} w[k, c, i, j] * x[n, c, p * stride + i - 1, q * stride + j - 1]
//
// Formulation: per image, im2col (a [C*9, P*Q] matrix) then one GEMM; the backward passes use the same
// column matrix. OpenMP splits the batch across threads. The weight gradient sums per-thread partial
// gradients (thread t owns a fixed contiguous block of images) in thread order, so it is bitwise
// reproducible for a given thread count; the other outputs do not depend on the thread count at all.
#pragma once

#include <cstdint>

#include "nn/dims.h"

namespace eos::ref {

// Elements of scratch memory the functions below need with `threads` OpenMP threads.
int64_t conv2d_workspace_size(const ConvDims& d, int threads);

template <typename T>
void conv2d_forward(const ConvDims& d, const T* x, const T* w, T* y, T* workspace);

// dx = dL/dx from dy = dL/dy; with `accumulate` the result is added to dx instead of overwriting it.
template <typename T>
void conv2d_backward_data(const ConvDims& d, const T* w, const T* dy, T* dx, bool accumulate, T* workspace);

// dw = dL/dw (overwritten) from the input x and dy.
template <typename T>
void conv2d_backward_weights(const ConvDims& d, const T* x, const T* dy, T* dw, T* workspace);

}  // namespace eos::ref
