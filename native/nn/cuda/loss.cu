// Classification losses on the device (nn/losses.h): every LossKind, the same formulas as nn/losses.cc, in
// double precision.
//
// One block of kBlock threads does the whole batch (a batch is a few hundred rows of K logits, too little
// work to split across blocks): thread t takes the samples t, t + kBlock, ..., and the per-thread partial
// sums (the weighted-mean normaliser, then the loss) are combined by detail::block_sum's fixed tree, so the
// result does not depend on scheduling. Without a per-row scratch array (K is a run-time size), each row's
// log-softmax is recomputed term by term where losses.cc reads its stored copy; the recomputation repeats
// the same operations, so the values are the same.
//
// Why the _rn intrinsics: nvcc fuses a * b + c into one FMA by default, which rounds differently from the
// CPU's separate multiply and add; every product that is not exact and feeds an addition is written with
// __dmul_rn / __dadd_rn / __dsub_rn (never fused), so the only differences from losses.cc are the device's
// exp / log / pow (within an ulp or two of glibc's) and the order of the batch sums.
#include <stdexcept>

#include "core/cuda_check.h"
#include "nn/cuda/common_kernels.cuh"
#include "nn/cuda/ops.h"

namespace eos::cuda {

using detail::kBlock;

namespace {

// One row's log-softmax inputs: logp[j] = scale * (z[j] - shift_j) - lse, shift_j = margin at the label.
struct Row {
  const float* z;
  double scale, margin;  // margin: subtracted from the label's logit (ldam), else 0
  int32_t label;
  double lse;

  __device__ double scaled(int64_t j) const {
    const double shift = j == label ? margin : 0.0;
    return __dmul_rn(scale, static_cast<double>(z[j]) - shift);
  }
  __device__ double logp(int64_t j) const { return scaled(j) - lse; }
};

// losses.cc's log_softmax_row: the max-shifted log-sum-exp of the scaled row.
__device__ double row_lse(const Row& row, int64_t k) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < k; ++j) mx = fmax(mx, row.scaled(j));
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += exp(row.scaled(j) - mx);
  return mx + log(sum);
}

// ASL's term of class j: its contribution to the sample's loss (before the class weight) and g[j] =
// d loss / d logp[j] (ditto), as losses.cc's kAsl case.
struct AslTerm {
  double loss, g;
};
__device__ AslTerm asl_term(const DeviceLoss& cfg, const Row& row, int64_t j, int64_t k) {
  const double eps = cfg.asl_eps, gp = cfg.asl_gamma_pos, gn = cfg.asl_gamma_neg;
  const double off = eps / static_cast<double>(k);
  const double lp = row.logp(j), p = exp(lp);
  const double t = (j == row.label ? 1.0 - eps : 0.0) + off;
  if (j == row.label) {
    const double a = gp == 0.0 ? 1.0 : pow(1.0 - p, gp);
    const double da = (gp == 0.0 || p >= 1.0) ? 0.0 : -gp * pow(1.0 - p, gp - 1.0) * p;
    return AslTerm{__dmul_rn(-t * a, lp), -t * __dadd_rn(a, __dmul_rn(da, lp))};
  }
  const double a = gn == 0.0 ? 1.0 : pow(p, gn);
  return AslTerm{__dmul_rn(-t * a, lp), -t * __dadd_rn(a, __dmul_rn(__dmul_rn(gn, a), lp))};
}

// Loss of one sample (unnormalised, as losses.cc's li) and, when dlogits is set, its row of dL/dlogits.
__device__ double sample_loss(const DeviceLoss& cfg, int64_t k, const float* logits, const int32_t* labels,
                              int64_t i, double denom, float* dlogits) {
  const int32_t y = labels[i];
  const double w = cfg.class_weights ? cfg.class_weights[y] : 1.0;
  const bool ldam = cfg.kind == LossKind::kLdam;
  Row row{logits + i * k, ldam ? cfg.ldam_scale : 1.0, ldam ? cfg.ldam_margins[y] : 0.0, y, 0.0};
  row.lse = row_lse(row, k);

  // g[j] = dL_i / dlogp[j]; the label's entry only, except for ASL (recomputed per j below).
  double li = 0, g_label = 0;
  switch (cfg.kind) {
    case LossKind::kCrossEntropy:
    case LossKind::kLdam:
      li = -w * row.logp(y);
      g_label = -w;
      break;
    case LossKind::kFocal: {
      const double ce = -w * row.logp(y);
      const double pt = exp(-ce);
      const double one_m = 1.0 - pt;
      const double gamma = cfg.focal_gamma;
      li = (gamma == 0.0 ? 1.0 : pow(one_m, gamma)) * ce;
      double dce = gamma == 0.0 ? 1.0 : pow(one_m, gamma);
      if (gamma != 0.0 && ce > 0.0 && one_m > 0.0)
        dce = __dadd_rn(dce, gamma * pow(one_m, gamma - 1.0) * pt * ce);
      g_label = -w * dce;
      break;
    }
    case LossKind::kAsl:
      for (int64_t j = 0; j < k; ++j) li += asl_term(cfg, row, j, k).loss;
      li *= w;
      break;
  }
  if (dlogits) {
    const bool asl = cfg.kind == LossKind::kAsl;
    double gsum = 0;
    if (asl) {
      // Rounded product, then the add: losses.cc sums g[j] = g * w after rounding it.
      for (int64_t j = 0; j < k; ++j) gsum = __dadd_rn(gsum, __dmul_rn(asl_term(cfg, row, j, k).g, w));
    } else {
      // losses.cc sums its whole g vector, zeros included; adding zeros changes nothing but the sign of a
      // zero, which the product below makes irrelevant.
      gsum = g_label;
    }
    for (int64_t j = 0; j < k; ++j) {
      const double g = asl ? asl_term(cfg, row, j, k).g * w : (j == y ? g_label : 0.0);
      const double d = __dsub_rn(g, __dmul_rn(exp(row.logp(j)), gsum));
      dlogits[i * k + j] = static_cast<float>(__dmul_rn(row.scale, d) / denom);
    }
  }
  return li;
}

__global__ void __launch_bounds__(kBlock)
    loss_kernel(DeviceLoss cfg, int64_t n, int64_t k, const float* __restrict__ logits,
                const int32_t* __restrict__ labels, float* __restrict__ dlogits, double* __restrict__ loss) {
  __shared__ double scratch[kBlock];
  const int64_t t = threadIdx.x;
  // The normaliser of the batch mean: the weight sum for weighted CE / LDAM / ASL, else N (focal's mean is
  // plain even with weights, as the reference's).
  double denom = static_cast<double>(n);
  if (cfg.kind != LossKind::kFocal && cfg.class_weights) {
    double part = 0;
    for (int64_t i = t; i < n; i += kBlock) part += cfg.class_weights[labels[i]];
    denom = detail::block_sum(part, scratch);
  }
  double part = 0;
  for (int64_t i = t; i < n; i += kBlock) part += sample_loss(cfg, k, logits, labels, i, denom, dlogits);
  const double total = detail::block_sum(part, scratch);
  if (t == 0) *loss = total / denom;
}

}  // namespace

int64_t loss_workspace_bytes(int64_t n, int64_t k) { return 0; }  // shared memory only

void loss_forward_backward(const DeviceLoss& cfg, int64_t n, int64_t k, const float* logits,
                           const int32_t* labels, float* dlogits, double* loss, void* workspace,
                           cudaStream_t stream) {
  // The kernel reads ldam_margins[label] unguarded: a null pointer there would fault the whole context.
  if (cfg.kind == LossKind::kLdam && cfg.ldam_margins == nullptr) {
    throw std::invalid_argument("cuda loss: ldam needs cfg.ldam_margins (device, one per class)");
  }
  loss_kernel<<<1, kBlock, 0, stream>>>(cfg, n, k, logits, labels, dlogits, loss);
  EOS_CUDA_CHECK_LAUNCH();
}

}  // namespace eos::cuda
