// The op interface a compute backend implements: `ref` (portable C++, nn/ref/), later `dnnl` (oneDNN) and
// a CUDA backend. The network (nn/network.h) is written only against this interface.
//
// Contract:
// - Memory: every pointer an op receives was obtained from the same backend's allocate() (plus an offset).
//   For CPU backends that is host memory; a GPU backend returns device memory and implements upload and
//   download as copies. The network moves data in and out only through upload() and download().
// - Layouts: parameters and their gradients are plain PyTorch layouts (conv weight [K, C, 3, 3], linear
//   weight [O, I], cosine-head weight [I, O], vectors [C]); the 2-d outputs of pooling and of the heads are
//   plain row-major [N, C]; the network's input is uploaded as NCHW. Activations between layers are opaque:
//   a backend may keep them in its own layout (e.g. oneDNN's blocked nChw16c) as long as one tensor of
//   logical shape [N, C, H, W] fits in N*C*H*W elements (the arena gives each tensor exactly that) and all
//   of its ops agree on it. Only the first convolution reads an NCHW activation (the uploaded input).
// - Aliasing: relu_forward/relu_backward and batchnorm_backward may run in place (output == input).
// - Accumulation: ops with an `accumulate` flag add into their output instead of overwriting it; parameter
//   gradients are always overwritten.
// - Determinism: for a fixed thread count, results must be bitwise reproducible.
// - Scratch memory is the backend's business (sized lazily, reused: no per-step allocation in steady state).
// T is float for production backends; the ref backend also instantiates double for gradient checks.
#pragma once

#include <cstdint>

#include "nn/dims.h"
#include "nn/sgd.h"

namespace eos {

template <typename T>
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // --- memory
  virtual T* allocate(int64_t count) = 0;  // zero-filled
  virtual void release(T* p) = 0;
  virtual void upload(T* dst, const T* host, int64_t count) = 0;
  virtual void download(T* host, const T* src, int64_t count) = 0;

  // --- 3x3 convolution, padding 1, no bias (see ConvDims)
  virtual void conv3x3_forward(const ConvDims& d, const T* x, const T* w, T* y) = 0;
  virtual void conv3x3_backward_data(const ConvDims& d, const T* w, const T* dy, T* dx, bool accumulate) = 0;
  virtual void conv3x3_backward_weights(const ConvDims& d, const T* x, const T* dy, T* dw) = 0;

  // --- batch normalisation over [N, C, S]; mean/invstd [C] are saved for the backward pass
  virtual void batchnorm_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma,
                                       const T* beta, T* y, T* mean, T* invstd, T* running_mean,
                                       T* running_var, double momentum, double eps) = 0;
  virtual void batchnorm_forward_eval(int64_t n, int64_t c, int64_t s, const T* x, const T* gamma,
                                      const T* beta, const T* running_mean, const T* running_var, double eps,
                                      T* y) = 0;
  virtual void batchnorm_backward(int64_t n, int64_t c, int64_t s, const T* x, const T* dy, const T* gamma,
                                  const T* mean, const T* invstd, T* dx, T* dgamma, T* dbeta) = 0;

  // --- elementwise
  virtual void relu_forward(int64_t count, const T* x, T* y) = 0;
  virtual void relu_backward(int64_t count, const T* y, const T* dy, T* dx) = 0;

  // --- residual add with the option-A shortcut (y += shortcut(x); see ShortcutDims)
  virtual void shortcut_add_forward(const ShortcutDims& d, const T* x, T* y) = 0;
  virtual void shortcut_add_backward(const ShortcutDims& d, const T* dy, T* dx, bool accumulate) = 0;

  // --- global average pooling [N, C, S] -> [N, C]
  virtual void global_avgpool_forward(int64_t n, int64_t c, int64_t s, const T* x, T* y) = 0;
  virtual void global_avgpool_backward(int64_t n, int64_t c, int64_t s, const T* dy, T* dx,
                                       bool accumulate) = 0;

  // --- heads: linear (w [O, I], b [O]) and cosine-normalised (w [I, O], no bias); dx may be null
  virtual void linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* b,
                              T* y) = 0;
  virtual void linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* db) = 0;
  virtual void normed_linear_forward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, T* y) = 0;
  virtual void normed_linear_backward(int64_t n, int64_t in, int64_t out, const T* x, const T* w, const T* dy,
                                      T* dx, T* dw) = 0;

  // --- optimizer over flat buffers
  virtual void sgd_step(int64_t count, T* params, const T* grads, T* momentum, const SgdConfig& cfg) = 0;
};

}  // namespace eos
