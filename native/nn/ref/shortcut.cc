#include "nn/ref/shortcut.h"

#include <algorithm>

#include "nn/ref/partition.h"

namespace eos::ref {

template <typename T>
void shortcut_add_forward(const ShortcutDims& d, const T* x, T* y) {
  const int64_t hw = d.h * d.w, pq = d.p * d.q;
#pragma omp parallel for schedule(static) if (d.n * d.c_out * pq >= kParallelMinWork)
  for (int64_t plane = 0; plane < d.n * d.c_in; ++plane) {
    const int64_t n = plane / d.c_in, c = plane % d.c_in;
    const T* xs = x + plane * hw;
    T* ys = y + (n * d.c_out + c + d.pad) * pq;
    if (d.stride == 1) {
      for (int64_t i = 0; i < pq; ++i) ys[i] += xs[i];
    } else {
      for (int64_t p = 0; p < d.p; ++p) {
        for (int64_t q = 0; q < d.q; ++q) ys[p * d.q + q] += xs[p * d.stride * d.w + q * d.stride];
      }
    }
  }
}

template <typename T>
void shortcut_add_backward(const ShortcutDims& d, const T* dy, T* dx, bool accumulate) {
  const int64_t hw = d.h * d.w, pq = d.p * d.q;
#pragma omp parallel for schedule(static) if (d.n * d.c_out * pq >= kParallelMinWork)
  for (int64_t plane = 0; plane < d.n * d.c_in; ++plane) {
    const int64_t n = plane / d.c_in, c = plane % d.c_in;
    T* xs = dx + plane * hw;
    const T* ys = dy + (n * d.c_out + c + d.pad) * pq;
    if (d.stride == 1) {
      if (accumulate) {
        for (int64_t i = 0; i < pq; ++i) xs[i] += ys[i];
      } else {
        std::copy(ys, ys + pq, xs);
      }
    } else {
      if (!accumulate) std::fill(xs, xs + hw, T(0));
      for (int64_t p = 0; p < d.p; ++p) {
        for (int64_t q = 0; q < d.q; ++q) xs[p * d.stride * d.w + q * d.stride] += ys[p * d.q + q];
      }
    }
  }
}

template void shortcut_add_forward<float>(const ShortcutDims&, const float*, float*);
template void shortcut_add_forward<double>(const ShortcutDims&, const double*, double*);
template void shortcut_add_backward<float>(const ShortcutDims&, const float*, float*, bool);
template void shortcut_add_backward<double>(const ShortcutDims&, const double*, double*, bool);

}  // namespace eos::ref
