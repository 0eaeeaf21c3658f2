// Global average pooling (the CIFAR ResNet's F.avg_pool2d(out, out.size(3)) on its square last stage).
//
// Legend: N batch, C channels, S = H * W pixels; x, dx [N, C, H, W]; y, dy [N, C].
//   y[n, c] = sum_s x[n, c, s] / S;   dx[n, c, s] = dy[n, c] / S.
#pragma once

#include <cstdint>

namespace eos::ref {

template <typename T>
void global_avgpool_forward(int64_t n, int64_t c, int64_t s, const T* x, T* y);

// Writes dx (or adds to it when `accumulate`).
template <typename T>
void global_avgpool_backward(int64_t n, int64_t c, int64_t s, const T* dy, T* dx, bool accumulate);

}  // namespace eos::ref
