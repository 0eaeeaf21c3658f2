// The classifier head over host memory, both kinds: linear (w [K, D], b [K]) and cosine-normalised
// (NormedLinear, w [D, K], no bias). One place for the pair of reference kernels each kind uses and for the
// scratch the cosine head needs between its forward and backward pass; used by the ref network's head
// layer, the oneDNN engine's head and phase-3 head training.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/ref/linear.h"
#include "nn/ref/normed_linear.h"
#include "nn/topology.h"

namespace eos {

template <typename T>
class HostHead {
 public:
  HostHead(HeadKind kind, int64_t dim, int64_t classes) : kind_(kind), dim_(dim), classes_(classes) {}

  // y [n, K] from x [n, D]; bias is ignored by the cosine head.
  void forward(int64_t n, const T* x, const T* weight, const T* bias, T* y) {
    if (kind_ == HeadKind::kLinear) {
      ref::linear_forward<T>(n, dim_, classes_, x, weight, bias, y);
    } else {
      ref::normed_linear_forward<T>(n, dim_, classes_, x, weight, y, workspace(n));
    }
  }
  // Gradients of the last forward on the same n and x; dx may be null, dbias is ignored by the cosine head.
  void backward(int64_t n, const T* x, const T* weight, const T* dy, T* dx, T* dweight, T* dbias) {
    if (kind_ == HeadKind::kLinear) {
      ref::linear_backward<T>(n, dim_, classes_, x, weight, dy, dx, dweight, dbias);
    } else {
      ref::normed_linear_backward<T>(n, dim_, classes_, x, weight, dy, dx, dweight, workspace(n));
    }
  }

 private:
  T* workspace(int64_t n) {
    const int64_t need = ref::normed_linear_workspace_size(n, dim_, classes_);
    if (static_cast<int64_t>(workspace_.size()) < need) workspace_.resize(static_cast<size_t>(need));
    return workspace_.data();
  }

  HeadKind kind_;
  int64_t dim_, classes_;
  std::vector<T> workspace_;
};

}  // namespace eos
