#include "nn/topology.h"

#include <cmath>
#include <stdexcept>

namespace eos {

std::string validate_spec(const NetworkSpec& s) {
  if (s.depth < 8 || (s.depth - 2) % 6 != 0 || s.depth > 2000) {
    return "depth must be 6n + 2 for n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got " +
           std::to_string(s.depth);
  }
  if (s.in_channels < 1 || s.in_channels > 16) {
    return "in_channels must be in [1, 16] (1 for grey, 3 for RGB), got " + std::to_string(s.in_channels);
  }
  if (s.side < 8 || s.side > 4096) return "side must be in [8, 4096], got " + std::to_string(s.side);
  if (s.classes < 2 || s.classes > 100000) {
    return "classes must be in [2, 100000], got " + std::to_string(s.classes);
  }
  if (!(s.bn_momentum >= 0.0 && s.bn_momentum <= 1.0)) return "bn_momentum must be in [0, 1]";
  if (!(s.bn_eps > 0.0 && std::isfinite(s.bn_eps))) return "bn_eps must be a positive finite number";
  return "";
}

const TensorInfo* find_tensor(const std::vector<TensorInfo>& table, const std::string& name) {
  for (const TensorInfo& t : table) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

class Builder {
 public:
  explicit Builder(Topology& t) : t_(t) {}

  void param(const std::string& name, std::vector<int64_t> shape) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    t_.parameters.push_back(TensorInfo{name, t_.parameter_count, std::move(shape), count});
    t_.parameter_count += count;
  }
  void buffer(const std::string& name, int64_t c) {
    t_.buffers.push_back(TensorInfo{name, t_.buffer_count, {c}, c});
    t_.buffer_count += c;
  }
  int layer(LayerKind kind, const std::string& name, int64_t c_in, int64_t c_out, int64_t side_in,
            int64_t side_out, int64_t stride, int block) {
    t_.layers.push_back(TopologyLayer{kind, name, c_in, c_out, side_in, side_out, stride, block});
    return static_cast<int>(t_.layers.size()) - 1;
  }
  int conv(const std::string& name, int64_t c_in, int64_t c_out, int64_t side_in, int64_t stride, int block) {
    param(name + ".weight", {c_out, c_in, 3, 3});
    return layer(LayerKind::kConv, name, c_in, c_out, side_in, (side_in - 1) / stride + 1, stride, block);
  }
  int batchnorm(const std::string& name, int64_t c, int64_t side, int block) {
    param(name + ".weight", {c});
    param(name + ".bias", {c});
    buffer(name + ".running_mean", c);
    buffer(name + ".running_var", c);
    t_.batchnorms.push_back(name);
    return layer(LayerKind::kBatchNorm, name, c, c, side, side, 1, block);
  }
  void relu(int64_t c, int64_t side, int block) { layer(LayerKind::kRelu, "", c, c, side, side, 1, block); }

 private:
  Topology& t_;
};

}  // namespace

Topology resnet_topology(const NetworkSpec& spec) {
  const std::string problem = validate_spec(spec);
  if (!problem.empty()) throw std::invalid_argument(problem);
  Topology t;
  t.spec = spec;
  Builder b(t);
  b.conv("conv1", spec.in_channels, 16, spec.side, 1, -1);
  b.batchnorm("bn1", 16, spec.side, -1);
  b.relu(16, spec.side, -1);
  const int64_t blocks = (spec.depth - 2) / 6;
  int64_t planes_in = 16, side = spec.side;
  for (int stage = 1; stage <= 3; ++stage) {
    const int64_t planes = int64_t{16} << (stage - 1);
    for (int64_t i = 0; i < blocks; ++i) {
      ResidualBlock rb;
      rb.prefix = "layer" + std::to_string(stage) + "." + std::to_string(i);
      rb.planes_in = planes_in;
      rb.planes = planes;
      rb.stride = (stage > 1 && i == 0) ? 2 : 1;
      rb.side_in = side;
      rb.side_out = (side - 1) / rb.stride + 1;
      const int id = static_cast<int>(t.blocks.size());
      const std::string pre = rb.prefix + ".";
      rb.conv1 = b.conv(pre + "conv1", planes_in, planes, side, rb.stride, id);
      rb.bn1 = b.batchnorm(pre + "bn1", planes, rb.side_out, id);
      b.relu(planes, rb.side_out, id);
      rb.conv2 = b.conv(pre + "conv2", planes, planes, rb.side_out, 1, id);
      rb.bn2 = b.batchnorm(pre + "bn2", planes, rb.side_out, id);
      b.layer(LayerKind::kShortcutAdd, "", planes_in, planes, side, rb.side_out, rb.stride, id);
      b.relu(planes, rb.side_out, id);
      t.blocks.push_back(rb);
      planes_in = planes;
      side = rb.side_out;
    }
  }
  b.layer(LayerKind::kAvgPool, "", planes_in, Topology::kEmbeddingDim, side, 1, 1, -1);
  if (spec.head == HeadKind::kLinear) {
    b.param("linear.weight", {spec.classes, Topology::kEmbeddingDim});
    b.param("linear.bias", {spec.classes});
    b.layer(LayerKind::kLinear, "linear", Topology::kEmbeddingDim, spec.classes, 1, 1, 1, -1);
  } else {
    b.param("linear.weight", {Topology::kEmbeddingDim, spec.classes});  // NormedLinear: [in, out]
    b.layer(LayerKind::kCosine, "linear", Topology::kEmbeddingDim, spec.classes, 1, 1, 1, -1);
  }
  return t;
}

}  // namespace eos
