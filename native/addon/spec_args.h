// The one parser of a network spec object { depth, inChannels, inputSize, classes, head, seed } (used by
// NativeNetwork and topology()), and the JS form of a topology's tensor table.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "addon/args.h"
#include "nn/topology.h"

namespace eos::addon {

inline NetworkSpec spec_arg(const Napi::Value& s) {
  Napi::Env env = s.Env();
  if (!s.IsObject()) throw_type(env, "spec must be an object { depth, inChannels, inputSize, classes, ... }");
  NetworkSpec spec;
  spec.depth = integer_arg(option(s, "depth"), "spec.depth", 8, 2000);
  spec.in_channels = integer_arg(option(s, "inChannels"), "spec.inChannels", 1, 16);
  spec.side = integer_arg(option(s, "inputSize"), "spec.inputSize", 8, 4096);
  spec.classes = integer_arg(option(s, "classes"), "spec.classes", 2, 100000);
  const Napi::Value head = option(s, "head");
  const std::string head_name = head.IsString() ? head.As<Napi::String>().Utf8Value() : "";
  if (head_name != "linear" && head_name != "cosine")
    throw_type(env, "spec.head must be 'linear' or 'cosine'");
  spec.head = head_name == "linear" ? HeadKind::kLinear : HeadKind::kCosine;
  spec.seed = static_cast<uint64_t>(integer_arg(option(s, "seed"), "spec.seed", 0, (1LL << 53) - 1));
  const std::string problem = validate_spec(spec);
  if (!problem.empty()) throw_range(env, "spec." + problem);
  return spec;
}

inline Napi::Array tensor_table(Napi::Env env, const std::vector<TensorInfo>& t) {
  Napi::Array out = Napi::Array::New(env, t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", t[i].name);
    o.Set("offset", static_cast<double>(t[i].offset));
    Napi::Array shape = Napi::Array::New(env, t[i].shape.size());
    for (size_t j = 0; j < t[i].shape.size(); ++j)
      shape.Set(static_cast<uint32_t>(j), static_cast<double>(t[i].shape[j]));
    o.Set("shape", shape);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

inline Napi::Array string_list(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array out = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) out.Set(static_cast<uint32_t>(i), v[i]);
  return out;
}

}  // namespace eos::addon
