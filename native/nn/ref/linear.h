// Fully connected layer (PyTorch's nn.Linear): y = x w^T + b.
//
// Legend: N batch, I input features, O outputs; x, dx [N, I]; w, dw [O, I] (PyTorch's layout);
//   b, db [O]; y, dy [N, O].
//   y[n, o] = b[o] + sum_i x[n, i] w[o, i]
//   dx[n, i] = sum_o dy[n, o] w[o, i];  dw[o, i] = sum_n dy[n, o] x[n, i];  db[o] = sum_n dy[n, o]
// Sums run in double precision in a fixed order; no result depends on the thread count.
#pragma once

#include <cstdint>

namespace eos::ref {

// b may be null (no bias).
template <typename T>
void linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b, T* y);

// dx may be null (not needed); db may be null (no bias). dw and db are overwritten.
template <typename T>
void linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db);

}  // namespace eos::ref
