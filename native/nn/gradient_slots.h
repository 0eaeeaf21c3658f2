// The backward pass's gradient buffers ("slots") for an engine that runs the topology's layers one by one
// (the ref Network, the CUDA engine): one planner, so both accumulate the same sums in the same order.
//
// Walks the layers backwards once, as backward() will: relu, batch norm and the residual add's branch work in
// place; a convolution, the pool, the head or the shortcut writes the gradient of its input into a new slot,
// or adds to it (accumulate) when another consumer already wrote it; a slot is released when the layer that
// consumed it is done. Slots are reused by size, so the arena needs only a few gradient buffers (three per
// resolution for the ResNet).
//
// Layer: any struct with kind (LayerKind), in, out, aux (activation ids), grad_in, grad_out (slots, set here)
// and accumulate (set here). elements(id): per-image elements of activation id. Returns the per-image
// elements of every slot.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/topology.h"

namespace eos {

template <class Layer, class Elements>
std::vector<int64_t> plan_gradient_slots(std::vector<Layer>& layers, int activations, int input, int logits,
                                         Elements elements) {
  std::vector<int64_t> sizes;
  std::vector<int> slot_of(static_cast<size_t>(activations), -1);
  std::vector<bool> busy;
  auto acquire = [&](int64_t size) {
    for (size_t s = 0; s < sizes.size(); ++s) {
      if (!busy[s] && sizes[s] == size) {
        busy[s] = true;
        return static_cast<int>(s);
      }
    }
    sizes.push_back(size);
    busy.push_back(true);
    return static_cast<int>(sizes.size()) - 1;
  };
  auto input_grad = [&](Layer& l, int src) {  // the slot for the gradient of activation src
    if (slot_of[src] < 0) {
      slot_of[src] = acquire(elements(src));
      l.accumulate = false;
    } else {
      l.accumulate = true;
    }
    l.grad_in = slot_of[src];
  };
  slot_of[logits] = acquire(elements(logits));
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    Layer& l = *it;
    l.grad_out = slot_of[l.out];
    switch (l.kind) {
      case LayerKind::kRelu:
        l.grad_in = l.grad_out;
        break;
      case LayerKind::kBatchNorm:
        l.grad_in = l.grad_out;
        slot_of[l.in] = l.grad_out;
        slot_of[l.out] = -1;
        break;
      case LayerKind::kShortcutAdd:
        input_grad(l, l.aux);
        break;
      case LayerKind::kConv:
      case LayerKind::kAvgPool:
      case LayerKind::kLinear:
      case LayerKind::kCosine:
        if (l.in != input) input_grad(l, l.in);
        busy[l.grad_out] = false;
        slot_of[l.out] = -1;
        break;
    }
  }
  return sizes;
}

}  // namespace eos
