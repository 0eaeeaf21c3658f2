#include "nn/ref/linear.h"

#include "nn/ref/partition.h"

namespace eos::ref {

template <typename T>
void linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b, T* y) {
#pragma omp parallel for schedule(static) if (n * in * out >= kParallelMinWork)
  for (int64_t r = 0; r < n; ++r) {
    const T* xr = x + r * in;
    for (int64_t o = 0; o < out; ++o) {
      const T* wo = w + o * in;
      double sum = b ? static_cast<double>(b[o]) : 0.0;
      for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(xr[i]) * wo[i];
      y[r * out + o] = static_cast<T>(sum);
    }
  }
}

template <typename T>
void linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db) {
  if (dx) {
#pragma omp parallel for schedule(static) if (n * in * out >= kParallelMinWork)
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t i = 0; i < in; ++i) {
        double sum = 0;
        for (int64_t o = 0; o < out; ++o) sum += static_cast<double>(dy[r * out + o]) * w[o * in + i];
        dx[r * in + i] = static_cast<T>(sum);
      }
    }
  }
#pragma omp parallel for schedule(static) if (n * in * out >= kParallelMinWork)
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      double sum = 0;
      for (int64_t r = 0; r < n; ++r) sum += static_cast<double>(dy[r * out + o]) * x[r * in + i];
      dw[o * in + i] = static_cast<T>(sum);
    }
    if (db) {
      double sum = 0;
      for (int64_t r = 0; r < n; ++r) sum += dy[r * out + o];
      db[o] = static_cast<T>(sum);
    }
  }
}

template void linear_forward<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*,
                                    float*);
template void linear_forward<double>(int64_t, int64_t, int64_t, const double*, const double*, const double*,
                                     double*);
template void linear_backward<float>(int64_t, int64_t, int64_t, const float*, const float*, const float*,
                                     float*, float*, float*);
template void linear_backward<double>(int64_t, int64_t, int64_t, const double*, const double*, const double*,
                                      double*, double*, double*);

}  // namespace eos::ref
