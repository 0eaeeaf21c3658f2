// `topology(spec)`: the network's architecture as native/nn/topology.h describes it, for TypeScript's
// safetensors tables and ONNX exporter (so the layer list is written once, in native code).
//
// JS: topology({ depth, inChannels, inputSize, classes, head, seed }) ->
//   { parameters: [{ name, offset, shape }], buffers: [...], batchNorms: string[], embeddingSize,
//     blocks: [{ prefix, inPlanes, planes, stride }] }
#include <napi.h>

#include "addon/exports.h"
#include "addon/spec_args.h"

namespace eos::addon {
namespace {

Napi::Value TopologyOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Topology t = resnet_topology(spec_arg(info[0]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("parameters", tensor_table(env, t.parameters));
  out.Set("buffers", tensor_table(env, t.buffers));
  out.Set("batchNorms", string_list(env, t.batchnorms));
  out.Set("embeddingSize", static_cast<double>(Topology::kEmbeddingDim));
  Napi::Array blocks = Napi::Array::New(env, t.blocks.size());
  for (size_t i = 0; i < t.blocks.size(); ++i) {
    const ResidualBlock& b = t.blocks[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("prefix", b.prefix);
    o.Set("inPlanes", static_cast<double>(b.planes_in));
    o.Set("planes", static_cast<double>(b.planes));
    o.Set("stride", static_cast<double>(b.stride));
    blocks.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("blocks", blocks);
  return out;
}

}  // namespace

void register_topology(Napi::Env env, Napi::Object exports) {
  exports.Set("topology", Napi::Function::New(env, TopologyOf, "topology"));
}

}  // namespace eos::addon
