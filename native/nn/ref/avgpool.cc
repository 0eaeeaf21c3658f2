#include "nn/ref/avgpool.h"

#include "nn/ref/partition.h"
#include "nn/ref/reduce.h"

namespace eos::ref {

template <typename T>
void global_avgpool_forward(int64_t n, int64_t c, int64_t s, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n * c * s >= kParallelMinWork)
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const T* xs = x + plane * s;
    double lanes[8] = {};
    add_lanes(xs, s, lanes);
    y[plane] = static_cast<T>(combine_lanes(lanes) / static_cast<double>(s));
  }
}

template <typename T>
void global_avgpool_backward(int64_t n, int64_t c, int64_t s, const T* dy, T* dx, bool accumulate) {
#pragma omp parallel for schedule(static) if (n * c * s >= kParallelMinWork)
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const T g = static_cast<T>(static_cast<double>(dy[plane]) / static_cast<double>(s));
    T* xs = dx + plane * s;
    if (accumulate) {
      for (int64_t j = 0; j < s; ++j) xs[j] += g;
    } else {
      for (int64_t j = 0; j < s; ++j) xs[j] = g;
    }
  }
}

template void global_avgpool_forward<float>(int64_t, int64_t, int64_t, const float*, float*);
template void global_avgpool_forward<double>(int64_t, int64_t, int64_t, const double*, double*);
template void global_avgpool_backward<float>(int64_t, int64_t, int64_t, const float*, float*, bool);
template void global_avgpool_backward<double>(int64_t, int64_t, int64_t, const double*, double*, bool);

}  // namespace eos::ref
