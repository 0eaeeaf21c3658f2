#include "nn/dnnl/blocked_ops.h"

#include <algorithm>

namespace eos::dnnl_backend {

namespace {

bool same_layout(const BlockedLayout& a, const BlockedLayout& b) {
  return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w && a.sn == b.sn && a.sc == b.sc &&
         a.sh == b.sh && a.sw == b.sw && a.blk == b.blk;
}

}  // namespace

void residual_add_relu_forward(const ShortcutDims& d, const BlockedLayout& lx, const float* x,
                               const BlockedLayout& ly, float* y) {
  const int64_t image = ly.sn;
  if (d.stride == 1 && d.pad == 0 && same_layout(lx, ly)) {
    // Identity shortcut on identical layouts: one streaming pass over the whole tensor.
    const int64_t total = image * d.n;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < total; ++i) y[i] = std::max(y[i] + x[i], 0.0f);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < d.n; ++n) {
    for (int64_t c = 0; c < d.c_in; ++c) {
      for (int64_t p = 0; p < d.p; ++p) {
        for (int64_t q = 0; q < d.q; ++q)
          y[ly.at(n, c + d.pad, p, q)] += x[lx.at(n, c, p * d.stride, q * d.stride)];
      }
    }
    float* yn = y + n * image;
    for (int64_t i = 0; i < image; ++i) yn[i] = std::max(yn[i], 0.0f);
  }
}

void shortcut_fill(const ShortcutDims& d, const BlockedLayout& lx, const float* x, const BlockedLayout& ly,
                   float* y) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < d.n; ++n) {
    std::fill(y + n * ly.sn, y + (n + 1) * ly.sn, 0.0f);
    for (int64_t c = 0; c < d.c_in; ++c) {
      for (int64_t p = 0; p < d.p; ++p) {
        for (int64_t q = 0; q < d.q; ++q)
          y[ly.at(n, c + d.pad, p, q)] = x[lx.at(n, c, p * d.stride, q * d.stride)];
      }
    }
  }
}

void residual_add_relu_backward(const ShortcutDims& d, const BlockedLayout& ldy, const float* dy,
                                const BlockedLayout& ldx, float* dx, const float* mask) {
  const int64_t image = ldx.sn;
  if (d.stride == 1 && d.pad == 0 && same_layout(ldx, ldy)) {
    const int64_t total = image * d.n;
    if (mask) {
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < total; ++i) dx[i] = mask[i] > 0 ? dx[i] + dy[i] : 0.0f;
    } else {
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < total; ++i) dx[i] += dy[i];
    }
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < d.n; ++n) {
    for (int64_t c = 0; c < d.c_in; ++c) {
      for (int64_t p = 0; p < d.p; ++p) {
        for (int64_t q = 0; q < d.q; ++q) {
          dx[ldx.at(n, c, p * d.stride, q * d.stride)] += dy[ldy.at(n, c + d.pad, p, q)];
        }
      }
    }
    if (mask) {
      float* dxn = dx + n * image;
      const float* mn = mask + n * image;
      for (int64_t i = 0; i < image; ++i) dxn[i] = mn[i] > 0 ? dxn[i] : 0.0f;
    }
  }
}

void global_avgpool_forward(const BlockedLayout& lx, const float* x, float* features) {
  const int64_t blocks = (lx.c + lx.blk - 1) / lx.blk;
  const double inv = 1.0 / static_cast<double>(lx.h * lx.w);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < lx.n; ++n) {
    for (int64_t cb = 0; cb < blocks; ++cb) {
      // Channels of one block are contiguous: sum them side by side, pixels in a fixed order.
      double acc[64] = {};
      const int64_t width = std::min<int64_t>(lx.blk, 64);
      for (int64_t c0 = 0; c0 < lx.blk; c0 += width) {
        std::fill(acc, acc + width, 0.0);
        for (int64_t h = 0; h < lx.h; ++h) {
          for (int64_t w = 0; w < lx.w; ++w) {
            const float* px = x + n * lx.sn + cb * lx.sc + h * lx.sh + w * lx.sw + c0;
            for (int64_t i = 0; i < width; ++i) acc[i] += px[i];
          }
        }
        for (int64_t i = 0; i < width; ++i) {
          const int64_t c = cb * lx.blk + c0 + i;
          if (c < lx.c) features[n * lx.c + c] = static_cast<float>(acc[i] * inv);
        }
      }
    }
  }
}

void global_avgpool_relu_backward(const BlockedLayout& ly, const float* y, const float* dfeatures,
                                  float* dx) {
  const int64_t blocks = (ly.c + ly.blk - 1) / ly.blk;
  const double inv = 1.0 / static_cast<double>(ly.h * ly.w);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < ly.n; ++n) {
    std::fill(dx + n * ly.sn, dx + (n + 1) * ly.sn, 0.0f);  // padding channels included
    for (int64_t cb = 0; cb < blocks; ++cb) {
      for (int64_t i = 0; i < ly.blk; ++i) {
        const int64_t c = cb * ly.blk + i;
        if (c >= ly.c) break;
        const float g = static_cast<float>(static_cast<double>(dfeatures[n * ly.c + c]) * inv);
        for (int64_t h = 0; h < ly.h; ++h) {
          for (int64_t w = 0; w < ly.w; ++w) {
            const int64_t o = ly.at(n, c, h, w);
            dx[o] = y[o] > 0 ? g : 0.0f;
          }
        }
      }
    }
  }
}

}  // namespace eos::dnnl_backend
