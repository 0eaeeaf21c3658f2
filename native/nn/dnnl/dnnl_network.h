// The oneDNN network: the trunk as a whole-trunk oneDNN plan (resnet_trunk.h) over the parameters of a
// HostModel, then the head, the loss and SGD over the same host buffers (the head is a [N, 64] x [64, K]
// product: the reference kernels are as fast as anything there). Keeps the plans of the two most recent
// batch sizes (an epoch needs the full batch and its last partial one; every plan holds its own
// activations). The same interface as the ref Network (forward, train_step), so one engine template runs
// both (nn/host_engine.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/dnnl/resnet_trunk.h"
#include "nn/head_ops.h"
#include "nn/host_model.h"
#include "nn/losses.h"
#include "nn/network.h"

namespace eos::dnnl_backend {

class DnnlNetwork : public HostModel<float> {
 public:
  static constexpr int64_t kEmbeddingDim = Topology::kEmbeddingDim;

  DnnlNetwork(const NetworkSpec& spec, const TrunkTuning& tuning);

  void set_threads(int threads) { threads_ = threads; }
  void reserve(int64_t capacity);
  void forward(const float* x, int64_t batch, Mode mode, float* logits, float* embeddings);
  double train_step(const float* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                    const SgdConfig& sgd, float* logits = nullptr);
  // "step: implementation" of every oneDNN primitive of the current plan (Trunk::implementations).
  std::vector<std::string> implementations();

 private:
  Trunk& plan(int64_t batch);

  TrunkSpec trunk_spec_;
  TrunkParams trunk_params_;
  std::unique_ptr<Trunk> plans_[2];
  int next_ = 0;
  Trunk* current_ = nullptr;
  HostHead<float> head_;
  int64_t head_weight_ = 0, head_bias_ = -1;  // offsets of linear.weight / linear.bias (-1: cosine, none)
  int threads_ = 0;
  int64_t capacity_ = 0;
  HostArray<float> features_, dfeatures_;
  std::vector<float> logits_, dlogits_;
};

}  // namespace eos::dnnl_backend
