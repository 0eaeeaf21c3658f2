#include "nn/ref/batchnorm2d.h"

#include <cmath>

#include "nn/ref/partition.h"
#include "nn/ref/reduce.h"

namespace eos::ref {

template <typename T>
void batchnorm2d_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma, const T* beta,
                               T* y, T* mean, T* invstd, T* running_mean, T* running_var, double momentum,
                               double eps) {
  const int64_t m = n * s;
#pragma omp parallel for schedule(static) if (n * c * s >= kParallelMinWork)
  for (int64_t ch = 0; ch < c; ++ch) {
    double lanes[8] = {};
    for (int64_t i = 0; i < n; ++i) add_lanes(x + (i * c + ch) * s, s, lanes);
    const double mu = combine_lanes(lanes) / static_cast<double>(m);
    double sq_lanes[8] = {};  // second pass: exact centring, no cancellation
    for (int64_t i = 0; i < n; ++i) add_sq_lanes(x + (i * c + ch) * s, s, mu, sq_lanes);
    const double sq = combine_lanes(sq_lanes);
    const double var = sq / static_cast<double>(m);
    const double is = 1.0 / std::sqrt(var + eps);
    const double scale = is * gamma[ch];
    const double shift = beta[ch] - mu * scale;
    for (int64_t i = 0; i < n; ++i) {
      const T* xs = x + (i * c + ch) * s;
      T* ys = y + (i * c + ch) * s;
      const T sc = static_cast<T>(scale), sh = static_cast<T>(shift);
      for (int64_t j = 0; j < s; ++j) ys[j] = xs[j] * sc + sh;
    }
    mean[ch] = static_cast<T>(mu);
    invstd[ch] = static_cast<T>(is);
    const double unbiased = var * static_cast<double>(m) / static_cast<double>(m - 1);
    running_mean[ch] = static_cast<T>((1.0 - momentum) * running_mean[ch] + momentum * mu);
    running_var[ch] = static_cast<T>((1.0 - momentum) * running_var[ch] + momentum * unbiased);
  }
}

template <typename T>
void batchnorm2d_forward_eval(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma, const T* beta,
                              const T* running_mean, const T* running_var, double eps, T* y) {
#pragma omp parallel for schedule(static) if (n * c * s >= kParallelMinWork)
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const int64_t ch = plane % c;
    const double scale = gamma[ch] / std::sqrt(static_cast<double>(running_var[ch]) + eps);
    const T sc = static_cast<T>(scale), sh = static_cast<T>(beta[ch] - running_mean[ch] * scale);
    const T* xs = x + plane * s;
    T* ys = y + plane * s;
    for (int64_t j = 0; j < s; ++j) ys[j] = xs[j] * sc + sh;
  }
}

template <typename T>
void batchnorm2d_backward(int64_t n, int64_t c, int64_t s, const T* x, const T* dy, const T* gamma,
                          const T* mean, const T* invstd, T* dx, T* dgamma, T* dbeta) {
  const double m = static_cast<double>(n * s);
#pragma omp parallel for schedule(static) if (n * c * s >= kParallelMinWork)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mu = mean[ch], is = invstd[ch];
    double dy_lanes[8] = {}, dot_lanes[8] = {};  // sum(dy) and sum(dy * (x - mean))
    for (int64_t i = 0; i < n; ++i)
      add_dot_lanes(dy + (i * c + ch) * s, x + (i * c + ch) * s, s, mu, dy_lanes, dot_lanes);
    const double sum_dy = combine_lanes(dy_lanes), sum_dy_xc = combine_lanes(dot_lanes);
    const double dg = sum_dy_xc * is;
    // dx = k * dy + a * (x - mean) + b: gamma * invstd * (dy - sum_dy / M - xhat * dg / M) regrouped.
    const double k = gamma[ch] * is;
    const double a = -k * dg * is / m;
    const double b = -k * sum_dy / m;
    const T kt = static_cast<T>(k), at = static_cast<T>(a), bt = static_cast<T>(b), mt = static_cast<T>(mu);
    for (int64_t i = 0; i < n; ++i) {
      const T* xs = x + (i * c + ch) * s;
      const T* ds = dy + (i * c + ch) * s;
      T* out = dx + (i * c + ch) * s;
      for (int64_t j = 0; j < s; ++j) out[j] = kt * ds[j] + at * (xs[j] - mt) + bt;
    }
    dgamma[ch] = static_cast<T>(dg);
    dbeta[ch] = static_cast<T>(sum_dy);
  }
}

#define EOS_INSTANTIATE(T)                                                                                 \
  template void batchnorm2d_forward_train<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T*,  \
                                             T*, T*, T*, T*, double, double);                              \
  template void batchnorm2d_forward_eval<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*,       \
                                            const T*, const T*, double, T*);                               \
  template void batchnorm2d_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, \
                                        const T*, T*, T*, T*);
EOS_INSTANTIATE(float)
EOS_INSTANTIATE(double)
#undef EOS_INSTANTIATE

}  // namespace eos::ref
