// Residual addition with the CIFAR ResNet's "option A" shortcut (see ShortcutDims in nn/dims.h).
//
// Legend: x [N, Ci, H, W] block input; y [N, Co, P, Q] residual branch; pad = Co / 4 at a stage change.
//   forward:  y[n, k, p, q] += x[n, k - pad, p * stride, q * stride]   for 0 <= k - pad < Ci
//             (the identity when stride 1 and pad 0; other channels of y receive zeros, i.e. nothing).
//   backward: dx[n, c, i, j] = dy[n, c + pad, i / stride, j / stride] where i and j are multiples of the
//             stride, else 0; the gradient of the branch is dy itself, so nothing is done for it.
// y is updated in place: the block's sum is stored in the branch's buffer.
#pragma once

#include "nn/dims.h"

namespace eos::ref {

template <typename T>
void shortcut_add_forward(const ShortcutDims& d, const T* x, T* y);

// Writes dx (or adds to it when `accumulate`).
template <typename T>
void shortcut_add_backward(const ShortcutDims& d, const T* dy, T* dx, bool accumulate);

}  // namespace eos::ref
