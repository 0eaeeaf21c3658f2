// Shapes shared by every backend's layer functions.
#pragma once

#include <cstdint>

namespace eos {

// A 3x3 convolution with zero padding 1 and no bias.
//   input [N, C, H, W], weight [K, C, 3, 3], output [N, K, P, Q] with P = (H - 1) / stride + 1 and
//   Q = (W - 1) / stride + 1 (PyTorch's output size for kernel 3, padding 1).
struct ConvDims {
  int64_t n, c, h, w;  // input
  int64_t k, p, q;     // output channels and pixels
  int64_t stride;      // 1 or 2
};

inline ConvDims conv3x3_dims(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride) {
  return ConvDims{n, c, h, w, k, (h - 1) / stride + 1, (w - 1) / stride + 1, stride};
}

// The "option A" shortcut of the CIFAR ResNet, added onto a residual branch.
//   input x [N, Ci, H, W]; branch y [N, Co, P, Q].
//   Identity when Ci == Co and stride == 1. Otherwise (a stage change) x is subsampled as x[:, :, ::2, ::2]
//   (so P = (H + 1) / 2) and zero-padded with `pad` = Co / 4 channels on each side, as the reference
//   implementation's LambdaLayer (F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))) does;
//   that requires Ci + 2 * pad == Co.
struct ShortcutDims {
  int64_t n, c_in, h, w;  // block input
  int64_t c_out, p, q;    // branch output
  int64_t stride;         // 1 (identity) or 2
  int64_t pad;            // zero channels added on each side (0 for the identity)
};

inline ShortcutDims option_a_dims(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out,
                                  int64_t stride) {
  const bool identity = stride == 1 && c_in == c_out;
  ShortcutDims d{};
  d.n = n;
  d.c_in = c_in;
  d.h = h;
  d.w = w;
  d.c_out = c_out;
  d.p = identity ? h : (h + 1) / 2;
  d.q = identity ? w : (w + 1) / 2;
  d.stride = identity ? 1 : 2;
  d.pad = identity ? 0 : c_out / 4;
  return d;
}

}  // namespace eos
