// SGD with momentum on the device (nn/sgd.h): the same per-element order of operations as nn/sgd.cc, in
// float, so the update is bitwise the CPU's.
//
// Why the _rn intrinsics: nvcc contracts a * b + c into one fused multiply-add by default, which rounds once
// where the CPU (baseline x86-64, no FMA instructions) rounds twice. __fmul_rn / __fadd_rn / __fsub_rn are
// never contracted, so each step rounds exactly where sgd.cc's does.
#include <algorithm>

#include "core/cuda_check.h"
#include "nn/cuda/ops.h"

namespace eos::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void sgd_kernel(int64_t count, float* __restrict__ params, const float* __restrict__ grads,
                           float* __restrict__ momentum, float mom, float wd, bool use_momentum,
                           bool nesterov, const double* __restrict__ lr_ptr,
                           const int32_t* __restrict__ skip) {
  if (skip && *skip != 0) return;                // a diverged epoch: leave every buffer as it is
  const float lr = static_cast<float>(*lr_ptr);  // sgd.cc: static_cast<T>(cfg.lr)
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    float g = grads[i];
    const float p = params[i];
    if (wd != 0.0f) g = __fadd_rn(g, __fmul_rn(wd, p));
    float step = g;
    if (use_momentum) {
      const float buf = __fadd_rn(__fmul_rn(mom, momentum[i]), g);
      momentum[i] = buf;
      step = nesterov ? __fadd_rn(g, __fmul_rn(mom, buf)) : buf;
    }
    params[i] = __fsub_rn(p, __fmul_rn(lr, step));
  }
}

}  // namespace

void sgd_step(int64_t count, float* params, const float* grads, float* momentum, const SgdConfig& cfg,
              const double* lr, const int32_t* skip, cudaStream_t stream) {
  if (count <= 0) return;
  // Grid-stride loop: a grid of at most 4096 blocks covers any count (fixed by the count alone).
  const int64_t blocks = std::min<int64_t>((count + kThreads - 1) / kThreads, 4096);
  sgd_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      count, params, grads, momentum, static_cast<float>(cfg.momentum), static_cast<float>(cfg.weight_decay),
      cfg.momentum != 0.0, cfg.nesterov, lr, skip);
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
