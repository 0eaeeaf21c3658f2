// The reference backend: host memory, NCHW activations, the kernels of nn/ref/ (OpenMP, deterministic for
// a given thread count). Portable: it is also what the node-gyp build uses.
#pragma once

#include <memory>

#include "nn/backend.h"

namespace eos {

template <typename T>
std::unique_ptr<Backend<T>> make_ref_backend();

}  // namespace eos
