// The few passes of the ResNet trunk that oneDNN has no fused primitive for, written directly over oneDNN's
// activation layouts (plain nchw/nhwc or channel-blocked nChw8c/nChw16c): residual add + ReLU, its backward
// (shortcut gradient + the previous block's ReLU mask), and global average pooling with its backward fused
// with the last ReLU's mask.
//
// Legend: a tensor of logical shape [N, C, H, W] stored with BlockedLayout l keeps element (n, c, h, w) at
//   n * sn + (c / blk) * sc + h * sh + w * sw + c % blk   (blk = 1 for plain layouts),
//   and image n's elements (padding channels included) fill [n * sn, (n + 1) * sn).
// Every pass is parallel over images (OpenMP static) and elementwise or reduced in a fixed order, so results
// do not depend on the thread count.
#pragma once

#include <cstdint>

#include "nn/dims.h"

namespace eos::dnnl_backend {

struct BlockedLayout {
  int64_t n, c, h, w;      // logical dims
  int64_t sn, sc, sh, sw;  // strides (sc: of one channel block)
  int64_t blk;             // channels per block (1: plain)
  int64_t at(int64_t in, int64_t ic, int64_t ih, int64_t iw) const {
    return in * sn + (ic / blk) * sc + ih * sh + iw * sw + ic % blk;
  }
};

// y = relu(y + shortcut(x)) (see ShortcutDims). Padding channels of y stay 0.
void residual_add_relu_forward(const ShortcutDims& d, const BlockedLayout& lx, const float* x,
                               const BlockedLayout& ly, float* y);

// y = shortcut(x): y's channels outside [pad, pad + Ci) are zero (inference: the second convolution of the
// block then adds its output onto y).
void shortcut_fill(const ShortcutDims& d, const BlockedLayout& lx, const float* x, const BlockedLayout& ly,
                   float* y);

// dx = (dx + shortcut^T(dy)) masked by (mask > 0) when mask is non-null. dx and mask share layout ldx.
void residual_add_relu_backward(const ShortcutDims& d, const BlockedLayout& ldy, const float* dy,
                                const BlockedLayout& ldx, float* dx, const float* mask);

// features[n, c] = mean over h, w of x[n, c, h, w]; features is row-major [N, C].
void global_avgpool_forward(const BlockedLayout& lx, const float* x, float* features);

// dx[n, c, h, w] = (y[n, c, h, w] > 0) ? dfeatures[n, c] / (H * W) : 0 (pooling backward fused with the
// ReLU that produced y, the pooling's input). dx has layout ly.
void global_avgpool_relu_backward(const BlockedLayout& ly, const float* y, const float* dfeatures, float* dx);

}  // namespace eos::dnnl_backend
