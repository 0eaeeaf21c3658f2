// An optional fused implementation of the trunk (every layer before the head) that a backend may provide.
//
// Why: the per-op Backend interface cannot express what makes oneDNN fast (activations kept in its blocked
// layout end to end, batch norm fused with ReLU, primitives built once per batch size). A TrunkProvider runs
// the whole trunk at once over the network's own flat buffers (PyTorch layouts); the network keeps the head,
// the loss, SGD and every table, so checkpoints and tests see no difference.
#pragma once

#include <cstdint>

namespace eos {

class TrunkProvider {
 public:
  virtual ~TrunkProvider() = default;
  virtual const char* name() const = 0;
  // x [batch, C, S, S] NCHW host; features [batch, 64] host. Training forward uses batch statistics and
  // updates the running statistics in the network's buffers; backward writes every trunk gradient.
  virtual void forward_train(const float* x, int64_t batch, float* features) = 0;
  virtual void backward(const float* dfeatures) = 0;
  virtual void forward_eval(const float* x, int64_t batch, float* features) = 0;
};

}  // namespace eos
