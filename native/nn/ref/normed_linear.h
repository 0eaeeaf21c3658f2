// Cosine-normalised classifier head used with the LDAM loss (the LDAM reference's NormedLinear):
//   out = F.normalize(x, dim=1) @ F.normalize(w, dim=0), with w stored [in, out] and no bias.
//
// Legend: N batch, I input features, O outputs; x, dx [N, I]; w, dw [I, O] (the reference's layout,
//   transposed relative to nn.Linear); y, dy [N, O].
//   xn[n, :] = x[n, :] / max(|x[n, :]|, 1e-12),  wn[:, o] = w[:, o] / max(|w[:, o]|, 1e-12)
//   y[n, o] = sum_i xn[n, i] wn[i, o]   (a cosine similarity in [-1, 1])
// Backward through v -> u = v / max(|v|, eps): dv = (du - u (u . du)) / |v| when |v| > eps, otherwise
// du / eps (the clamp is constant there, as in PyTorch's autograd of F.normalize).
// Sums run in double precision in a fixed order; no result depends on the thread count.
#pragma once

#include <cstdint>

namespace eos::ref {

// Elements of scratch memory the functions below need.
int64_t normed_linear_workspace_size(int64_t n, int64_t in, int64_t out);

template <typename T>
void normed_linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, T* y, T* workspace);

// dx may be null (not needed); dw is overwritten.
template <typename T>
void normed_linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx,
                            T* dw, T* workspace);

}  // namespace eos::ref
