// Registration functions of the addon's areas; each adds its functions to the exports object.
#pragma once

#include <napi.h>

namespace eos::addon {

void register_info(Napi::Env env, Napi::Object exports);
void register_augment(Napi::Env env, Napi::Object exports);
void register_head(Napi::Env env, Napi::Object exports);
void register_network(Napi::Env env, Napi::Object exports);
void register_knn(Napi::Env env, Napi::Object exports);
void register_approx_knn(Napi::Env env, Napi::Object exports);
void register_topology(Napi::Env env, Napi::Object exports);

}  // namespace eos::addon
