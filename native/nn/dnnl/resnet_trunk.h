// The CIFAR ResNet trunk (everything but the head) on oneDNN primitives: one plan per (batch, input shape).
//
// Why a whole-trunk plan instead of one call per layer: oneDNN is fastest when activations stay in its
// blocked layout (nChw16c on AVX-512) from the first convolution to the pooling, when batch norm and ReLU
// run as one fused pass, and when primitives, their memories and one shared scratchpad are created once and
// replayed every step. The plan owns all of that; the caller owns the parameters (plain PyTorch layouts in
// its flat buffers) and passes pointers to them on every call, so SGD, checkpoints and the head stay plain
// C++ over those buffers.
//
// Legend: N batch, C input channels (1 or 3), H x W input pixels, F = 64 pooled features (stage 3 planes).
//   x [N, C, H, W] NCHW input; features, dfeatures [N, F] row-major (the 64-d embedding the head reads).
// Network (nn/topology.h, whose residual blocks the spec carries): conv1 (C -> 16) + bn1 + relu, then the
// basic blocks (the first block of stages 2 and 3 has stride 2 and an option-A shortcut), then global average
// pooling. Block: conv1 + bn1 + relu, conv2 + bn2, + shortcut(x), relu.
//
// Parameter order (TrunkParams): convs[0] / bns[0] are the stem (conv1, bn1); then for residual block i
// (the topology's order): convs[1 + 2 i] = conv1, convs[2 + 2 i] = conv2; bns likewise.
//
// Convolutions: Winograd for stride-1 convolutions with >= 32 channels, direct otherwise (see
// pick_algorithm in the .cc). Fused passes per block, forward: conv1; bn1 with fused ReLU (a bit mask kept
// for the backward pass); conv2; bn2; one custom pass y = relu(y + shortcut(x)). Backward: bn2 backward (its
// diff_dst is already masked by the block's ReLU), conv2 backward weights and data, bn1 backward with the
// fused ReLU mask, conv1 backward weights and data, then one custom pass that adds the shortcut's gradient
// and applies the previous block's ReLU mask. Evaluation folds each batch norm (running statistics) into
// its convolution's weights and a bias, with ReLU and the residual sum as post-ops (Winograd for every
// stride-1 convolution there).
//
// Batch norm: oneDNN returns the biased batch variance; the running variance is updated with the unbiased one
// (var * M / (M - 1), M = N * H * W), as PyTorch does, with momentum `bn_momentum`.
// Determinism: for a fixed thread count, shapes and CPU the results are bitwise reproducible (oneDNN's jit
// kernels reduce in a fixed order; the custom passes are elementwise or reduce in a fixed order).
// Threads: oneDNN (Debian's build) uses OpenMP; it uses the calling thread's omp_get_max_threads().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/topology.h"

namespace eos::dnnl_backend {

// Benchmarking overrides of the plan's choices; the engine reads them from the environment once
// (dnnl_engine.cc says which variables), the plan never does.
struct TrunkTuning {
  std::string conv_algorithm = "auto";  // training convolutions: auto (the rule in the .cc), direct, winograd
  bool eval_direct = false;             // inference keeps the training algorithm instead of Winograd
  bool profile = false;                 // time every step (profile_report)
};

struct TrunkSpec {
  int64_t channels = 3, height = 32, width = 32;  // input
  int64_t stem_planes = 16;
  std::vector<ResidualBlock> blocks;  // the topology's
  double bn_momentum = 0.1, bn_eps = 1e-5;
  TrunkTuning tuning;
};

// The trunk of a topology (input, stem, residual blocks, batch-norm settings), default tuning.
TrunkSpec trunk_spec(const Topology& topology);

// Pointers into the caller's flat buffers (PyTorch layouts). Gradients are overwritten by backward().
struct ConvParams {
  const float* weight;  // [K, C, 3, 3]
  float* grad;          // [K, C, 3, 3]
};
struct BnParams {
  const float* weight;  // gamma [C]
  const float* bias;    // beta [C]
  float* running_mean;  // [C], updated by forward_train
  float* running_var;   // [C], updated by forward_train (unbiased)
  float* weight_grad;   // [C]
  float* bias_grad;     // [C]
};
struct TrunkParams {
  std::vector<ConvParams> convs;  // 1 + 2 * blocks, order above
  std::vector<BnParams> bns;      // same count and order
};

// Pointers of the trunk's parameters inside flat buffers laid out by the topology's tables.
TrunkParams trunk_params(const Topology& topology, float* params, float* grads, float* running_stats);

// Features of the pooled output (the planes of the last stage).
constexpr int64_t kTrunkFeatures = 64;

class Trunk {
 public:
  // Builds every primitive and allocates every buffer for this batch size; throws dnnl::error or
  // std::bad_alloc. Requires batch >= 1, spatial sides >= 8 (training additionally needs N * H * W >= 2 at
  // every batch norm, which N >= 2 guarantees).
  Trunk(const TrunkSpec& spec, int64_t batch);
  ~Trunk();
  Trunk(const Trunk&) = delete;
  Trunk& operator=(const Trunk&) = delete;

  int64_t batch() const;
  const TrunkSpec& spec() const;

  // Training forward (batch statistics, running statistics updated); keeps what backward() needs.
  void forward_train(const TrunkParams& params, const float* x, float* features);
  // Backward of the last forward_train: writes every conv and batch-norm gradient of `params`.
  void backward(const TrunkParams& params, const float* dfeatures);
  // Inference forward with running statistics. It reuses the training activation buffers, so backward()
  // needs a forward_train after it.
  void forward_eval(const TrunkParams& params, const float* x, float* features);

  // "step: implementation" for every oneDNN primitive of the plan (e.g. "conv_fwd k16: jit:avx2"), in the
  // order the steps run (training forward, backward, evaluation), each step once.
  std::vector<std::string> implementations() const;

  // Bytes of activations, workspaces and scratchpad the plan holds.
  int64_t memory_bytes() const;
  // One line per executed step with its accumulated time, when profiling is on (spec.tuning.profile);
  // empty otherwise.
  std::string profile_report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "avx512_core_bf16" etc. and the CPU runtime ("omp", "tbb", "seq", ...) of the linked oneDNN.
std::string dnnl_isa();
std::string dnnl_cpu_runtime();

}  // namespace eos::dnnl_backend
