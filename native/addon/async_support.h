// What the addon's AsyncWorkers share: the JS objects a worker reads (input TypedArrays, the wrapper) stay
// referenced until its promise settles, so the garbage collector cannot free a buffer under a running
// kernel; the optional stop flag (an Int32Array [1] that lib/stop-flag.ts sets from an AbortSignal) is read
// with a relaxed atomic load from the worker thread; and a run stopped by it rejects with an AbortError.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "addon/args.h"

namespace eos::addon {

class KeepAlive {
 public:
  explicit KeepAlive(const std::vector<Napi::Value>& values) {
    for (const Napi::Value& v : values) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }

 private:
  std::vector<Napi::ObjectReference> refs_;
};

// The optional stopFlag argument at position i: nullptr when absent (undefined or null); otherwise its data,
// and the array joins `keep`.
inline const int32_t* stop_flag_arg(const Napi::CallbackInfo& info, size_t i,
                                    std::vector<Napi::Value>& keep) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  auto flag = typed_array_arg<int32_t>(info[i], "stopFlag", 1);
  keep.push_back(info[i]);
  return flag.Data();
}

inline bool stop_requested(const int32_t* flag) {
  return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0;
}

// The rejection of a promise whose run was stopped by its flag: `what` was aborted, name "AbortError" (as
// DOM AbortSignal users expect).
inline Napi::Value abort_error(Napi::Env env, const std::string& what) {
  Napi::Error err = Napi::Error::New(env, what + " was aborted");
  err.Set("name", "AbortError");
  return err.Value();
}

}  // namespace eos::addon
