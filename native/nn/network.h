// The reference network: the topology (nn/topology.h) run layer by layer with the reference kernels of
// nn/ref/ over host memory, NCHW activations. It is the ground truth every faster engine is tested against
// (PyTorch fixtures, finite differences in double precision) and the compute of the ref engine.
//
// Memory: the parameters, gradients, momentum and running statistics of HostModel; activations and gradient
// scratch in one arena sized for a batch capacity (reserve) and reused for every smaller batch.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "nn/head_ops.h"
#include "nn/host_model.h"
#include "nn/layer_plan.h"
#include "nn/losses.h"
#include "nn/sgd.h"

namespace eos {

enum class Mode { kTrain, kEval };

template <typename T>
class Network : public HostModel<T> {
 public:
  static constexpr int64_t kEmbeddingDim = Topology::kEmbeddingDim;

  // Builds the layer plan and initialises the parameters from spec.seed. Throws std::invalid_argument for
  // an invalid spec.
  explicit Network(const NetworkSpec& spec);

  // OpenMP threads for every following call (<= 0: every core). Results are bitwise reproducible for a
  // fixed thread count.
  void set_threads(int threads) { threads_ = threads; }

  // Sizes the activation arena for batches up to `capacity` (forward does it on demand).
  void reserve(int64_t capacity);
  int64_t capacity() const { return capacity_; }
  int64_t arena_elements() const { return arena_.size(); }

  // x: host [batch, Cin, S, S] NCHW. Writes logits [batch, classes] and the pooled embeddings [batch, 64]
  // when those pointers are not null. Train mode uses batch statistics and updates the running ones.
  void forward(const T* x, int64_t batch, Mode mode, T* logits, T* embeddings);
  // Parameter gradients (overwritten) from dL/dlogits (host [batch, classes]) of the last forward, which
  // must have been in train mode. Throws std::logic_error otherwise.
  void backward(const T* dlogits);
  void sgd_step(const SgdConfig& cfg);
  // forward(train) + loss + backward + SGD step on one batch; returns the loss (before the step). Writes the
  // logits when `logits` is not null.
  double train_step(const T* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                    const SgdConfig& sgd, T* logits = nullptr);

  // Testing aid for comparisons of two engines: when tracking is on, every train-mode forward records the
  // smallest |x| over the inputs of every ReLU. Two correct engines may put an input on opposite sides of a
  // ReLU only where |x| is within their rounding error, and there their gradients legitimately differ, so a
  // comparison picks inputs whose margin is well above that error. Costs one pass over each ReLU input.
  void track_relu_margin(bool on) { track_relu_margin_ = on; }
  // The smallest |x| recorded since the last call (+inf when none), and a reset.
  double take_relu_margin();

 private:
  struct Act {
    int64_t c, side;  // per-image shape [c, side, side]
    int64_t offset;   // in the arena (set by reserve)
  };
  using Layer = PlanLayer;  // nn/layer_plan.h

  T* act(int id) const { return arena_.data() + acts_[id].offset; }
  T* grad(int slot) const { return arena_.data() + slot_offsets_[slot]; }
  int64_t act_count(int id) const { return acts_[id].c * acts_[id].side * acts_[id].side; }
  T* workspace(int64_t count);

  int threads_ = 0;
  std::vector<Layer> layers_;
  std::vector<Act> acts_;
  int input_ = -1, embedding_ = -1, logits_ = -1;
  std::vector<int64_t> slot_sizes_;    // per-image elements of each gradient slot
  std::vector<int64_t> slot_offsets_;  // in the arena (set by reserve)
  HostHead<T> head_;

  HostArray<T> stats_;  // saved batch mean and invstd of every batch norm
  HostArray<T> arena_;
  std::vector<T> workspace_;  // the convolutions' scratch, grown to the largest request and reused
  int64_t capacity_ = 0;
  int64_t train_batch_ = 0;  // batch of the last train-mode forward (0: none, or an eval forward since)
  std::vector<T> host_logits_, host_dlogits_;
  bool track_relu_margin_ = false;
  double relu_margin_ = std::numeric_limits<double>::infinity();
};

}  // namespace eos
