#include "nn/layer_plan.h"

#include <algorithm>

namespace eos {

namespace {

int add_activation(LayerPlan& plan, int64_t c, int64_t side) {
  plan.activations.push_back(PlanActivation{c, side});
  return static_cast<int>(plan.activations.size()) - 1;
}

void plan_gradient_slots(LayerPlan& plan) {
  std::vector<int64_t>& sizes = plan.slot_sizes;
  std::vector<int> slot_of(plan.activations.size(), -1);
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
  auto input_grad = [&](PlanLayer& l, int src) {  // the slot for the gradient of activation src
    if (slot_of[src] < 0) {
      slot_of[src] = acquire(plan.activations[src].elements());
      l.accumulate = false;
    } else {
      l.accumulate = true;
    }
    l.grad_in = slot_of[src];
  };
  slot_of[plan.logits] = acquire(plan.activations[plan.logits].elements());
  for (auto it = plan.layers.rbegin(); it != plan.layers.rend(); ++it) {
    PlanLayer& l = *it;
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
        if (l.in != plan.input) input_grad(l, l.in);
        busy[l.grad_out] = false;
        slot_of[l.out] = -1;
        break;
    }
  }
}

}  // namespace

LayerPlan layer_plan(const Topology& topo) {
  LayerPlan plan;
  auto parameter = [&](const std::string& name) { return find_tensor(topo.parameters, name)->offset; };
  auto buffer = [&](const std::string& name) { return find_tensor(topo.buffers, name)->offset; };
  plan.input = add_activation(plan, topo.spec.in_channels, topo.spec.side);
  int x = plan.input;
  std::vector<int> block_input(topo.blocks.size(), -1);
  for (const TopologyLayer& t : topo.layers) {
    PlanLayer l{t.kind};
    l.c_in = t.c_in;
    l.c_out = t.c_out;
    l.side_in = t.side_in;
    l.side_out = t.side_out;
    l.stride = t.stride;
    l.in = x;
    if (t.block >= 0 && block_input[t.block] < 0) block_input[t.block] = x;
    switch (t.kind) {
      case LayerKind::kConv:
        l.weight = parameter(t.name + ".weight");
        l.out = add_activation(plan, t.c_out, t.side_out);
        break;
      case LayerKind::kBatchNorm:
        l.weight = parameter(t.name + ".weight");
        l.bias = parameter(t.name + ".bias");
        l.running_mean = buffer(t.name + ".running_mean");
        l.running_var = buffer(t.name + ".running_var");
        l.stats = plan.stats_count;
        plan.stats_count += 2 * t.c_in;
        l.bn = static_cast<int>(std::find(topo.batchnorms.begin(), topo.batchnorms.end(), t.name) -
                                topo.batchnorms.begin());
        l.out = add_activation(plan, t.c_in, t.side_in);
        break;
      case LayerKind::kRelu:
        l.out = x;
        break;
      case LayerKind::kShortcutAdd:
        l.out = x;
        l.aux = block_input[t.block];
        break;
      case LayerKind::kAvgPool:
        plan.embedding = l.out = add_activation(plan, Topology::kEmbeddingDim, 1);
        break;
      case LayerKind::kLinear:
      case LayerKind::kCosine:
        l.weight = parameter("linear.weight");
        if (t.kind == LayerKind::kLinear) l.bias = parameter("linear.bias");
        plan.logits = l.out = add_activation(plan, t.c_out, 1);
        break;
    }
    plan.layers.push_back(l);
    x = l.out;
  }
  plan_gradient_slots(plan);
  return plan;
}

}  // namespace eos
