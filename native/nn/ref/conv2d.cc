#include "nn/ref/conv2d.h"

#include <omp.h>

#include <algorithm>

#include "nn/ref/gemm.h"
#include "nn/ref/partition.h"

namespace eos::ref {

namespace {

// col[(c * 9 + i * 3 + j), (p * Q + q)] = x[c, p * stride + i - 1, q * stride + j - 1] (0 outside the image)
// for one image x [C, H, W]; col is [C*9, P*Q].
template <typename T>
void im2col(const ConvDims& d, const T* x, T* col) {
  const int64_t pq = d.p * d.q;
  for (int64_t c = 0; c < d.c; ++c) {
    const T* xc = x + c * d.h * d.w;
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        T* row = col + (c * 9 + i * 3 + j) * pq;
        // Output columns q whose input column q * stride + j - 1 lies inside [0, W).
        const int64_t q_lo = (j == 0) ? 1 : 0;
        const int64_t q_hi = std::min(d.q, (d.w - j) / d.stride + 1);
        for (int64_t p = 0; p < d.p; ++p) {
          T* out = row + p * d.q;
          const int64_t iy = p * d.stride + i - 1;
          if (iy < 0 || iy >= d.h) {
            std::fill(out, out + d.q, T(0));
            continue;
          }
          const T* in = xc + iy * d.w + j - 1;
          for (int64_t q = 0; q < q_lo; ++q) out[q] = T(0);
          if (d.stride == 1) {
            for (int64_t q = q_lo; q < q_hi; ++q) out[q] = in[q];
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) out[q] = in[q * d.stride];
          }
          for (int64_t q = q_hi; q < d.q; ++q) out[q] = T(0);
        }
      }
    }
  }
}

// The adjoint of im2col: x[c, iy, ix] += every col entry that im2col copied from it. x is [C, H, W].
template <typename T>
void col2im_add(const ConvDims& d, const T* col, T* x) {
  const int64_t pq = d.p * d.q;
  for (int64_t c = 0; c < d.c; ++c) {
    T* xc = x + c * d.h * d.w;
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        const T* row = col + (c * 9 + i * 3 + j) * pq;
        const int64_t q_lo = (j == 0) ? 1 : 0;
        const int64_t q_hi = std::min(d.q, (d.w - j) / d.stride + 1);
        for (int64_t p = 0; p < d.p; ++p) {
          const int64_t iy = p * d.stride + i - 1;
          if (iy < 0 || iy >= d.h) continue;
          const T* in = row + p * d.q;
          T* out = xc + iy * d.w + j - 1;
          if (d.stride == 1) {
            for (int64_t q = q_lo; q < q_hi; ++q) out[q] += in[q];
          } else {
            for (int64_t q = q_lo; q < q_hi; ++q) out[q * d.stride] += in[q];
          }
        }
      }
    }
  }
}

int64_t col_size(const ConvDims& d) { return d.c * 9 * d.p * d.q; }

// Multiply-adds of one pass; small convolutions stay on one thread.
bool go_parallel(const ConvDims& d) {
  return d.n > 1 && d.n * d.k * d.c * 9 * d.p * d.q >= 8 * kParallelMinWork;
}

}  // namespace

int64_t conv2d_workspace_size(const ConvDims& d, int threads) {
  // Per thread: one column matrix and one partial weight gradient.
  return static_cast<int64_t>(std::max(threads, 1)) * (col_size(d) + d.k * d.c * 9);
}

template <typename T>
void conv2d_forward(const ConvDims& d, const T* x, const T* w, T* y, T* workspace) {
  const int64_t chw = d.c * d.h * d.w, kpq = d.k * d.p * d.q, pq = d.p * d.q, c9 = d.c * 9;
#pragma omp parallel if (go_parallel(d))
  {
    T* col = workspace + omp_get_thread_num() * col_size(d);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < d.n; ++n) {
      im2col(d, x + n * chw, col);
      // y_n [K, PQ] = w [K, C*9] col [C*9, PQ]
      gemm(false, false, d.k, pq, c9, w, c9, col, pq, false, y + n * kpq, pq);
    }
  }
}

template <typename T>
void conv2d_backward_data(const ConvDims& d, const T* w, const T* dy, T* dx, bool accumulate, T* workspace) {
  const int64_t chw = d.c * d.h * d.w, kpq = d.k * d.p * d.q, pq = d.p * d.q, c9 = d.c * 9;
#pragma omp parallel if (go_parallel(d))
  {
    T* col = workspace + omp_get_thread_num() * col_size(d);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < d.n; ++n) {
      // dcol [C*9, PQ] = w^T [C*9, K] dy_n [K, PQ]
      gemm(true, false, c9, pq, d.k, w, c9, dy + n * kpq, pq, false, col, pq);
      T* dxn = dx + n * chw;
      if (!accumulate) std::fill(dxn, dxn + chw, T(0));
      col2im_add(d, col, dxn);
    }
  }
}

template <typename T>
void conv2d_backward_weights(const ConvDims& d, const T* x, const T* dy, T* dw, T* workspace) {
  const int64_t chw = d.c * d.h * d.w, kpq = d.k * d.p * d.q, pq = d.p * d.q, c9 = d.c * 9;
  const int64_t wsize = d.k * c9;
#pragma omp parallel if (go_parallel(d))
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    // Workspace: nt column matrices, then nt partial gradients (nt <= the count it was sized for).
    T* partials = workspace + nt * col_size(d);
    T* col = workspace + t * col_size(d);
    T* part = partials + t * wsize;
    std::fill(part, part + wsize, T(0));
    const Range r = partition(d.n, t, nt);
    for (int64_t n = r.begin; n < r.end; ++n) {
      im2col(d, x + n * chw, col);
      // part [K, C*9] += dy_n [K, PQ] col^T [PQ, C*9]
      gemm(false, true, d.k, c9, pq, dy + n * kpq, pq, col, pq, true, part, c9);
    }
#pragma omp barrier
    // Combine the partial sums in thread order; threads split the weight elements.
    const Range e = partition(wsize, t, nt);
    for (int64_t i = e.begin; i < e.end; ++i) {
      T s = partials[i];
      for (int u = 1; u < nt; ++u) s += partials[u * wsize + i];
      dw[i] = s;
    }
  }
}

#define EOS_INSTANTIATE(T)                                                                  \
  template void conv2d_forward<T>(const ConvDims&, const T*, const T*, T*, T*);             \
  template void conv2d_backward_data<T>(const ConvDims&, const T*, const T*, T*, bool, T*); \
  template void conv2d_backward_weights<T>(const ConvDims&, const T*, const T*, T*, T*);
EOS_INSTANTIATE(float)
EOS_INSTANTIATE(double)
#undef EOS_INSTANTIATE

}  // namespace eos::ref
