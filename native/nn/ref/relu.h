// Rectified linear unit, elementwise over `count` values (any shape).
//
// Legend: x, y, dy, dx [count].  y = max(x, 0);  dx = dy where y > 0, else 0 (PyTorch's choice at 0).
// The backward pass reads the output y, not the input, so the forward may run in place (y == x), as
// F.relu(..., inplace) and the block's final relu do; dx may also alias dy.
#pragma once

#include <cstdint>

namespace eos::ref {

template <typename T>
void relu_forward(int64_t count, const T* x, T* y);

template <typename T>
void relu_backward(int64_t count, const T* y, const T* dy, T* dx);

}  // namespace eos::ref
