// The topology (nn/topology.h) as an engine that runs one layer at a time needs it: activation tensors,
// parameter offsets and the backward pass's gradient buffers ("slots"). One plan for the ref network and the
// CUDA engine, so both compute the same sums in the same order.
//
// Activations: a convolution, batch norm, the pool and the head write new tensors; relu and the residual add
// reuse their input's tensor (in place), as the slot plan assumes.
// Slots: walking the layers backwards once, as backward() does: relu, batch norm and the residual add's
// branch work in place; a convolution, the pool, the head or the shortcut writes the gradient of its input
// into a new slot, or adds to it (accumulate) when another consumer already wrote it; a slot is released when
// the layer that consumed it is done. Slots are reused by size, so the arena needs only a few gradient
// buffers (three per resolution for the ResNet).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/topology.h"

namespace eos {

struct PlanActivation {
  int64_t c, side;  // per-image shape [c, side, side]
  int64_t elements() const { return c * side * side; }
};

// A topology layer with what running it needs.
struct PlanLayer {
  LayerKind kind;
  int in = -1, out = -1, aux = -1;  // activation ids; aux is the shortcut's source
  int64_t c_in = 0, c_out = 0, side_in = 0, side_out = 0, stride = 1;
  int64_t weight = -1, bias = -1;                           // offsets into the parameter / gradient buffers
  int64_t running_mean = -1, running_var = -1, stats = -1;  // batch norm: buffers; saved mean, invstd
  int bn = -1;                                              // batch norm: index in Topology::batchnorms
  int grad_in = -1, grad_out = -1;                          // gradient slots
  bool accumulate = false;                                  // add into grad_in instead of overwriting it
  bool relu = false;  // an engine's choice: the relu after this layer runs in its pass (the plan: false)
};

struct LayerPlan {
  std::vector<PlanActivation> activations;
  std::vector<PlanLayer> layers;
  int input = -1, embedding = -1, logits = -1;  // activation ids
  int64_t stats_count = 0;                      // saved batch mean and invstd of every batch norm
  std::vector<int64_t> slot_sizes;              // per-image elements of each gradient slot
};

LayerPlan layer_plan(const Topology& topo);

}  // namespace eos
