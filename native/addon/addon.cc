// Module entry point: one line per area of the native API.
#include <napi.h>

#include "addon/exports.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  eos::addon::register_info(env, exports);
  eos::addon::register_augment(env, exports);
  eos::addon::register_head(env, exports);
  eos::addon::register_network(env, exports);
  eos::addon::register_knn(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(eos_native, Init)
