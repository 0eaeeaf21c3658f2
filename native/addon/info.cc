// `info()`: what this binary was built with and what it runs on.
#include <napi.h>

#include <string>

#include "addon/exports.h"
#include "core/cpu_level.h"
#include "core/threads.h"
#include "nn/engine.h"

#ifdef EOS_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef EOS_HAVE_CUDA
#include <stdexcept>

#include "core/cuda_device.h"
#include "nn/cuda/cuda_engine.h"
#endif

#ifdef EOS_HAVE_FAISS
#include <faiss/Index.h>
#endif

#ifndef EOS_BUILD_SYSTEM
#define EOS_BUILD_SYSTEM "unknown"
#endif

namespace eos::addon {
namespace {

#ifdef EOS_HAVE_DNNL
std::string dnnl_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
      return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "all";
  }
}
#endif

#ifdef EOS_HAVE_CUDA
// The CUDA build and what it finds: targets, versions, every GPU, the convolution math of EOS_CUDA_MATH and
// whether the kernels are bitwise reproducible.
Napi::Object cuda_info(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  const cuda::RuntimeInfo r = cuda::query_runtime();
  out.Set("targets", EOS_CUDA_TARGETS);
  out.Set("driverVersion", cuda::version_string(r.driver_version));
  out.Set("runtimeVersion", cuda::version_string(r.runtime_version));
  Napi::Array devices = Napi::Array::New(env, r.devices.size());
  for (size_t i = 0; i < r.devices.size(); ++i) {
    const cuda::DeviceInfo& d = r.devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("totalMemory", static_cast<double>(d.total_memory));
    o.Set("freeMemory", static_cast<double>(d.free_memory));
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("multiprocessors", d.multiprocessors);
    devices.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("devices", devices);
  out.Set("unavailable", r.unavailable.empty() ? env.Null() : Napi::String::New(env, r.unavailable));
  try {
    out.Set("math", cuda::math_mode_name(cuda::math_mode_from_environment()));
  } catch (const std::invalid_argument& e) {
    out.Set("math", std::string("invalid: ") + e.what());
  }
  // The design of every kernel (nn/cuda/ops.h, augment/augment_cuda.h, the engines): fixed-order reductions,
  // no floating-point atomics.
  out.Set("deterministic",
          "every CUDA kernel reduces in a fixed order (no float atomics): same seed, same GPU, "
          "same bytes");
  return out;
}
#endif

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
  uint32_t n = 0;
  for (const std::string& b : built_backends()) backends.Set(n++, b);
  // What 'auto' runs here (cuda only where a GPU is found).
  out.Set("backend", resolve_backend("auto"));
#ifdef EOS_HAVE_DNNL
  const dnnl_version_t* v = dnnl_version();
  out.Set("dnnlVersion",
          std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  out.Set("dnnlIsa", dnnl_isa_name(dnnl_get_effective_cpu_isa()));
#else
  out.Set("dnnlVersion", env.Null());
  out.Set("dnnlIsa", env.Null());
#endif
  out.Set("backends", backends);
#ifdef EOS_HAVE_CUDA
  out.Set("cuda", true);
  out.Set("cudaInfo", cuda_info(env));
#else
  out.Set("cuda", false);
  out.Set("cudaInfo", env.Null());
#endif
  // Approximate nearest neighbours (approxKnnSearch) need libfaiss, linked by the CMake build when found.
#ifdef EOS_HAVE_FAISS
  out.Set("faiss", true);
  out.Set("faissVersion", std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) +
                              "." + std::to_string(FAISS_VERSION_PATCH));
#else
  out.Set("faiss", false);
  out.Set("faissVersion", env.Null());
#endif
  // Our own SIMD kernels (kNN, ...) run at cpuIsa: the detected level lowered by EOS_MAX_ISA.
  out.Set("cpuIsa", cpu_level_name(cpu_level()));
  out.Set("cpuIsaDetected", cpu_level_name(detected_cpu_level()));
  out.Set("buildSystem", EOS_BUILD_SYSTEM);
  out.Set("defaultThreads", default_thread_count());
  out.Set("compiler", "g++ " __VERSION__);
  return out;
}

}  // namespace

void register_info(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
}

}  // namespace eos::addon
