// Double-precision sums over contiguous float (or double) runs, in a fixed order.
//
// Why 8 interleaved partial sums: one running double sum is a chain of dependent additions (about 4 cycles
// each) that the compiler may not reorder; eight independent partial sums, combined in a fixed pattern at the
// end, let it use vector registers while the result stays the same on every run and thread.
#pragma once

#include <cstdint>

namespace eos::ref {

// Accumulates sum(x[i]) into acc[i mod 8] style lanes (lane l gets the elements with index = l mod 8).
template <typename T>
inline void add_lanes(const T* x, int64_t n, double* acc) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(x[i + l]);
  }
  for (int l = 0; i < n; ++i, ++l) acc[l] += static_cast<double>(x[i]);
}

// Lanes of sum((x[i] - mu)^2).
template <typename T>
inline void add_sq_lanes(const T* x, int64_t n, double mu, double* acc) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) {
      const double d = static_cast<double>(x[i + l]) - mu;
      acc[l] += d * d;
    }
  }
  for (int l = 0; i < n; ++i, ++l) {
    const double d = static_cast<double>(x[i]) - mu;
    acc[l] += d * d;
  }
}

// Lanes of sum(dy[i]) and of sum(dy[i] * (x[i] - mu)).
template <typename T>
inline void add_dot_lanes(const T* dy, const T* x, int64_t n, double mu, double* acc_dy, double* acc_dot) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) {
      const double g = static_cast<double>(dy[i + l]);
      acc_dy[l] += g;
      acc_dot[l] += g * (static_cast<double>(x[i + l]) - mu);
    }
  }
  for (int l = 0; i < n; ++i, ++l) {
    const double g = static_cast<double>(dy[i]);
    acc_dy[l] += g;
    acc_dot[l] += g * (static_cast<double>(x[i]) - mu);
  }
}

// The lanes combined pairwise in a fixed tree.
inline double combine_lanes(const double* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace eos::ref
