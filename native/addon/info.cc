// `info()`: what this binary was built with and what it runs on.
#include <napi.h>

#include <string>

#include "addon/exports.h"
#include "core/cpu_level.h"
#include "core/threads.h"

#ifdef EOS_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
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

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
  uint32_t n = 0;
  backends.Set(n++, "ref");
#ifdef EOS_HAVE_DNNL
  backends.Set(n++, "dnnl");
  const dnnl_version_t* v = dnnl_version();
  out.Set("backend", "dnnl");
  out.Set("dnnlVersion",
          std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  out.Set("dnnlIsa", dnnl_isa_name(dnnl_get_effective_cpu_isa()));
#else
  out.Set("backend", "ref");
  out.Set("dnnlVersion", env.Null());
  out.Set("dnnlIsa", env.Null());
#endif
  out.Set("backends", backends);
#ifdef EOS_HAVE_CUDA
  out.Set("cuda", true);
#else
  out.Set("cuda", false);
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
