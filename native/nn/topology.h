// The CIFAR ResNet (He et al. 2016, "option A" shortcuts) described once: its layer list with PyTorch's
// module names, the table of every parameter and buffer, and the batch-norm layers. Every engine builds
// from it (the ref per-op plan, the oneDNN trunk plan) and the addon serves it to TypeScript (safetensors
// tables, ONNX export), so the architecture and its names are written in this one place.
//
// Architecture for depth 6n + 2, input [N, Cin, S, S]:
//   conv1 (Cin -> 16) - bn1 - relu
//   layer1: n basic blocks, 16 channels, stride 1        (S x S)
//   layer2: n basic blocks, 32 channels, first stride 2  (ceil(S/2))
//   layer3: n basic blocks, 64 channels, first stride 2  (ceil(S/4))
//   global average pool -> 64-d embedding -> head (linear: 64 -> classes with bias; cosine: NormedLinear)
//   basic block: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut as in nn/dims.h.
//
// Tables: parameters in PyTorch's named_parameters() order (conv1.weight, bn1.weight, bn1.bias,
// layer1.0.conv1.weight, ..., linear.weight, linear.bias), each with its offset in one flat buffer; the
// batch-norm running statistics (bn1.running_mean, bn1.running_var, ...) likewise in a second flat buffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eos {

enum class HeadKind { kLinear, kCosine };

struct NetworkSpec {
  int64_t depth = 32;       // 6n + 2, n >= 1
  int64_t in_channels = 3;  // input channels
  int64_t side = 32;        // input height = width, >= 8
  int64_t classes = 10;     // >= 2
  uint64_t seed = 0;        // initialisation seed
  HeadKind head = HeadKind::kLinear;
  double bn_momentum = 0.1;  // PyTorch's BatchNorm2d defaults
  double bn_eps = 1e-5;
};

// An empty string when the spec is valid, otherwise a message naming the field and what was expected.
std::string validate_spec(const NetworkSpec& spec);

// A named tensor inside one of the flat buffers.
struct TensorInfo {
  std::string name;
  int64_t offset;              // elements from the start of the buffer
  std::vector<int64_t> shape;  // PyTorch's shape
  int64_t count;               // product of shape
};

const TensorInfo* find_tensor(const std::vector<TensorInfo>& table, const std::string& name);

enum class LayerKind { kConv, kBatchNorm, kRelu, kShortcutAdd, kAvgPool, kLinear, kCosine };

// One layer in forward order. Shapes are per image: [c_in, side_in, side_in] -> [c_out, side_out, side_out].
struct TopologyLayer {
  LayerKind kind;
  std::string name;  // module name ("conv1", "layer2.0.bn1", "linear"); empty for relu, add and pool
  int64_t c_in, c_out, side_in, side_out;
  int64_t stride = 1;  // convolutions and the shortcut add
  int block = -1;      // index into Topology::blocks for layers inside a basic block (the add: its block)
};

// A basic block: its convolutions and batch norms as indices into Topology::layers.
struct ResidualBlock {
  std::string prefix;  // "layer2.0"
  int64_t planes_in, planes, stride, side_in, side_out;
  int conv1, bn1, conv2, bn2;
};

struct Topology {
  NetworkSpec spec;
  static constexpr int64_t kEmbeddingDim = 64;  // planes of the last stage = width of the pooled embedding
  std::vector<TopologyLayer> layers;
  std::vector<ResidualBlock> blocks;
  std::vector<TensorInfo> parameters, buffers;
  std::vector<std::string> batchnorms;  // "bn1", "layer1.0.bn1", ...: the order of num_batches_tracked
  int64_t parameter_count = 0, buffer_count = 0;
};

// Throws std::invalid_argument for an invalid spec (validate_spec's message).
Topology resnet_topology(const NetworkSpec& spec);

}  // namespace eos
