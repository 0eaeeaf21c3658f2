// Module entry point: one line per area of the native API.
#include <napi.h>

#include <stdexcept>

#include "addon/exports.h"
#include "core/cpu_level.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // A bad EOS_MAX_ISA fails the require() with its message, not a later kernel call.
  try {
    eos::cpu_level();
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(env, e.what());
  }
  eos::addon::register_info(env, exports);
  eos::addon::register_augment(env, exports);
  eos::addon::register_head(env, exports);
  eos::addon::register_network(env, exports);
  eos::addon::register_knn(env, exports);
  eos::addon::register_approx_knn(env, exports);
  eos::addon::register_topology(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(eos_native, Init)
