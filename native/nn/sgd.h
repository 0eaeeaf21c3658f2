// Stochastic gradient descent with momentum, as torch.optim.SGD (dampening 0) computes it.
//
// Legend: P parameters; params, grads, momentum [P] flat buffers (one loop covers the whole network).
// Per element, in PyTorch's order of operations:
//   g = grad + weight_decay * param                    (weight decay added to the gradient)
//   buf = momentum * buf + g                           (buf starts at 0, so the first step gives buf = g,
//                                                       which is what PyTorch's clone on step 1 gives)
//   step = nesterov ? g + momentum * buf : buf
//   param = param - lr * step
// With momentum 0 the buffer is left untouched and step = g. Weight decay applies to every parameter
// (batch-norm weights and biases included), as the reference training script passes model.parameters().
#pragma once

#include <cstdint>

namespace eos {

// Every field is the caller's (the library's defaults live in lib/defaults.ts, not in the engine).
struct SgdConfig {
  double lr = 0;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

template <typename T>
void sgd_step(int64_t count, T* params, const T* grads, T* momentum, const SgdConfig& cfg);

}  // namespace eos
