#include "nn/ref/normed_linear.h"

#include <algorithm>
#include <cmath>

namespace eos::ref {

namespace {

constexpr double kNormEps = 1e-12;  // F.normalize's default eps

// Normalises `count` vectors of `len` elements spaced `stride` apart with element step `step`:
// vector v starts at src + v * stride. Writes the unit vectors to dst (same addressing) and the clamped
// norms max(|v|, eps) to norms[v].
template <typename T>
void normalize_vectors(int64_t count, int64_t len, int64_t stride, int64_t step, const T* src, T* dst,
                       T* norms) {
  for (int64_t v = 0; v < count; ++v) {
    double sq = 0;
    for (int64_t i = 0; i < len; ++i) {
      const double e = src[v * stride + i * step];
      sq += e * e;
    }
    const double norm = std::max(std::sqrt(sq), kNormEps);
    for (int64_t i = 0; i < len; ++i)
      dst[v * stride + i * step] = static_cast<T>(src[v * stride + i * step] / norm);
    norms[v] = static_cast<T>(norm);
  }
}

// dv = (du - u (u . du)) / norm when the norm was not clamped, du / eps when it was. Same addressing as
// above.
template <typename T>
void normalize_backward(int64_t count, int64_t len, int64_t stride, int64_t step, const T* u, const T* norms,
                        const T* du, T* dv) {
  for (int64_t v = 0; v < count; ++v) {
    const double norm = norms[v];
    double dot = 0;
    for (int64_t i = 0; i < len; ++i)
      dot += static_cast<double>(u[v * stride + i * step]) * du[v * stride + i * step];
    const bool clamped = !(norm > kNormEps);
    for (int64_t i = 0; i < len; ++i) {
      const int64_t e = v * stride + i * step;
      dv[e] = static_cast<T>(clamped ? du[e] / kNormEps : (du[e] - u[e] * dot) / norm);
    }
  }
}

}  // namespace

int64_t normed_linear_workspace_size(int64_t n, int64_t in, int64_t out) {
  // xn [N, I], wn [I, O], |x| [N], |w| [O], and the gradients dxn [N, I], dwn [I, O].
  return 2 * (n * in + in * out) + n + out;
}

template <typename T>
void normed_linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, T* y, T* workspace) {
  T* xn = workspace;
  T* wn = xn + n * in;
  T* xnorm = wn + in * out;
  T* wnorm = xnorm + n;
  normalize_vectors(n, in, in, 1, x, xn, xnorm);     // rows of x
  normalize_vectors(out, in, 1, out, w, wn, wnorm);  // columns of w
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0;
      for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(xn[r * in + i]) * wn[i * out + o];
      y[r * out + o] = static_cast<T>(sum);
    }
  }
}

template <typename T>
void normed_linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx,
                            T* dw, T* workspace) {
  T* xn = workspace;
  T* wn = xn + n * in;
  T* xnorm = wn + in * out;
  T* wnorm = xnorm + n;
  T* dxn = wnorm + out;
  T* dwn = dxn + n * in;
  normalize_vectors(n, in, in, 1, x, xn, xnorm);
  normalize_vectors(out, in, 1, out, w, wn, wnorm);
  if (dx) {
    for (int64_t r = 0; r < n; ++r) {  // dxn = dy wn^T
      for (int64_t i = 0; i < in; ++i) {
        double sum = 0;
        for (int64_t o = 0; o < out; ++o) sum += static_cast<double>(dy[r * out + o]) * wn[i * out + o];
        dxn[r * in + i] = static_cast<T>(sum);
      }
    }
    normalize_backward(n, in, in, 1, xn, xnorm, dxn, dx);
  }
  for (int64_t i = 0; i < in; ++i) {  // dwn = xn^T dy
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0;
      for (int64_t r = 0; r < n; ++r) sum += static_cast<double>(xn[r * in + i]) * dy[r * out + o];
      dwn[i * out + o] = static_cast<T>(sum);
    }
  }
  normalize_backward(out, in, 1, out, wn, wnorm, dwn, dw);
}

#define EOS_INSTANTIATE(T)                                                                                 \
  template void normed_linear_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*, T*);           \
  template void normed_linear_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*, \
                                          T*);
EOS_INSTANTIATE(float)
EOS_INSTANTIATE(double)
#undef EOS_INSTANTIATE

}  // namespace eos::ref
