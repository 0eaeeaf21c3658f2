// The CUDA engine's layer operations: device twins of the reference kernels in nn/ref/ (same legends, same
// formulas, same layouts: NCHW float32, PyTorch's weight layouts), over device pointers.
//
// Rules every op keeps, because the engine captures whole training steps as CUDA graphs:
//   - asynchronous on the given stream; no allocation, no synchronisation, no host reads of device data;
//     scratch memory comes from the caller (the *_workspace_bytes functions size it);
//   - deterministic: no atomics whose order varies in a reduction; a reduction runs in a fixed tree order
//     (split-K partial sums go to the workspace and are summed in a fixed order by a second kernel), so the
//     same inputs give the same bytes on the same GPU;
//   - every output element is written (tests poison outputs before each run and check).
// Precision: fp32 throughout (double where the ref kernel reduces in double: batch-norm statistics, loss),
// except the convolutions under MathMode::kTf32 / kBf16, which feed tensor cores rounded inputs and
// accumulate in fp32 (stated error bounds in the tests).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "nn/dims.h"
#include "nn/losses.h"
#include "nn/sgd.h"

namespace eos::cuda {

// Convolution arithmetic: fp32 FMAs (the default; errors comparable to the CPU engines'), or tensor cores on
// tf32 / bf16 inputs with fp32 accumulation (faster; `eos info` and the run config say which one ran).
enum class MathMode { kFp32, kTf32, kBf16 };
const char* math_mode_name(MathMode mode);

// --- 3x3 convolution, zero padding 1, stride 1 or 2, no bias (nn/ref/conv2d.h): x [N, C, H, W],
// w [K, C, 3, 3], y [N, K, P, Q]. Implicit GEMM (no im2col buffer in memory).
int64_t conv3x3_workspace_bytes(const ConvDims& d, MathMode mode);  // the largest of the three passes
void conv3x3_forward(const ConvDims& d, const float* x, const float* w, float* y, MathMode mode,
                     void* workspace, cudaStream_t stream);
// dx from dy; with `accumulate` added to dx instead of overwriting it.
void conv3x3_backward_data(const ConvDims& d, const float* w, const float* dy, float* dx, bool accumulate,
                           MathMode mode, void* workspace, cudaStream_t stream);
// dw (overwritten) from x and dy.
void conv3x3_backward_weights(const ConvDims& d, const float* x, const float* dy, float* dw, MathMode mode,
                              void* workspace, cudaStream_t stream);

// --- batch norm (nn/ref/batchnorm2d.h): n images, c channels, s pixels per channel; statistics reduced in
// double. mean, invstd [c] are saved for the backward pass; running stats updated as PyTorch does.
// relu: apply max(0, .) to the output in the same pass (the backward then takes the relu output y and masks
// dy where y <= 0 before the batch-norm backward).
int64_t batchnorm_workspace_bytes(int64_t n, int64_t c, int64_t s);
void batchnorm_forward_train(int64_t n, int64_t c, int64_t s, const float* x, const float* gamma,
                             const float* beta, float* y, float* mean, float* invstd, float* running_mean,
                             float* running_var, double momentum, double eps, bool relu, void* workspace,
                             cudaStream_t stream);
void batchnorm_forward_eval(int64_t n, int64_t c, int64_t s, const float* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var,
                            double eps, bool relu, float* y, cudaStream_t stream);
// dx may alias dy. relu_output: the forward's output when it ran with relu (dy is masked where it is <= 0),
// or null.
void batchnorm_backward(int64_t n, int64_t c, int64_t s, const float* x, const float* dy,
                        const float* relu_output, const float* gamma, const float* mean, const float* invstd,
                        float* dx, float* dgamma, float* dbeta, void* workspace, cudaStream_t stream);

// --- elementwise and pooling (nn/ref/relu.h, shortcut.h, avgpool.h)
void relu_forward(int64_t count, const float* x, float* y, cudaStream_t stream);  // may run in place
void relu_backward(int64_t count, const float* y, const float* dy, float* dx, cudaStream_t stream);
// y += option-A shortcut of x (in place on the branch output).
void shortcut_add_forward(const ShortcutDims& d, const float* x, float* y, cudaStream_t stream);
// Block sum + relu in one pass: y = max(0, y + shortcut(x)).
void shortcut_add_relu_forward(const ShortcutDims& d, const float* x, float* y, cudaStream_t stream);
void shortcut_add_backward(const ShortcutDims& d, const float* dy, float* dx, bool accumulate,
                           cudaStream_t stream);
void global_avgpool_forward(int64_t n, int64_t c, int64_t s, const float* x, float* y, cudaStream_t stream);
void global_avgpool_backward(int64_t n, int64_t c, int64_t s, const float* dy, float* dx, bool accumulate,
                             cudaStream_t stream);

// --- classifier heads (nn/ref/linear.h: w [O, I], b [O] may be null; nn/ref/normed_linear.h: w [I, O]).
// Sums in double in a fixed order, as the ref kernels.
void linear_forward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, const float* b,
                    float* y, cudaStream_t stream);
// dx and db may be null; dw, db overwritten.
void linear_backward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, cudaStream_t stream);
int64_t normed_linear_workspace_bytes(int64_t n, int64_t in, int64_t out);
void normed_linear_forward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, float* y,
                           void* workspace, cudaStream_t stream);
void normed_linear_backward(int64_t n, int64_t in, int64_t out, const float* x, const float* w,
                            const float* dy, float* dx, float* dw, void* workspace, cudaStream_t stream);

// --- losses (nn/losses.h, every kind, the same formulas in double). Class weights and LDAM margins live in
// device memory ([K] doubles; null when absent), so a captured step can keep them.
struct DeviceLoss {
  LossKind kind = LossKind::kCrossEntropy;
  const double* class_weights = nullptr;  // device [K] or null
  const double* ldam_margins = nullptr;   // device [K], ldam
  double focal_gamma = 1.0, ldam_scale = 30.0;
  double asl_gamma_pos = 0.0, asl_gamma_neg = 4.0, asl_eps = 0.1;
};
int64_t loss_workspace_bytes(int64_t n, int64_t k);
// Writes the batch-mean loss to *loss (device, one double) and dL/dlogits to dlogits (device [n, k]; may be
// null for the loss alone).
void loss_forward_backward(const DeviceLoss& cfg, int64_t n, int64_t k, const float* logits,
                           const int32_t* labels, float* dlogits, double* loss, void* workspace,
                           cudaStream_t stream);

// --- SGD with momentum over one flat buffer (nn/sgd.h, PyTorch's order of operations). The learning rate is
// read from device memory (*lr) so that a captured step follows the schedule without re-capture; `skip`
// (device flag, may be null) makes the kernel do nothing when it is non-zero (a diverged epoch stops
// updating).
void sgd_step(int64_t count, float* params, const float* grads, float* momentum, const SgdConfig& cfg,
              const double* lr, const int32_t* skip, cudaStream_t stream);

}  // namespace eos::cuda
