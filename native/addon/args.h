// Argument checking for the Node-API entry points.
//
// Every check throws a JS TypeError or RangeError whose message names the argument and what was expected,
// so that no input from JavaScript can reach a kernel unchecked (and none can crash the process).
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace eos::addon {

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

// An integer in [min, max]; `name` is how the argument is called in the JS API.
inline int64_t integer_arg(const Napi::Value& v, const std::string& name, int64_t min, int64_t max) {
  if (!v.IsNumber())
    throw_type(v.Env(), name + " must be a number (an integer), got " + v.ToString().Utf8Value());
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d))
    throw_type(v.Env(), name + " must be an integer, got " + std::to_string(d));
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw_range(v.Env(), name + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                             "], got " + std::to_string(static_cast<int64_t>(d)));
  }
  return static_cast<int64_t>(d);
}

inline double finite_arg(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw_type(v.Env(), name + " must be a finite number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_range(v.Env(), name + " must be a finite number, got " + std::to_string(d));
  return d;
}

inline bool bool_arg(const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) throw_type(v.Env(), name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// Optional field of an options object: `fallback` when the object or the field is undefined.
inline Napi::Value option(const Napi::Value& options, const char* key) {
  if (options.IsUndefined() || options.IsNull()) return options.Env().Undefined();
  return options.As<Napi::Object>().Get(key);
}
inline void require_object_or_undefined(const Napi::Value& v, const std::string& name) {
  if (!v.IsUndefined() && !v.IsNull() && !v.IsObject()) throw_type(v.Env(), name + " must be an object");
}

template <typename T>
struct TypedArrayName;
template <>
struct TypedArrayName<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct TypedArrayName<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};
template <>
struct TypedArrayName<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "Uint8Array";
};

// A TypedArray of element type T. `expected_length` < 0 accepts any length.
template <typename T>
inline Napi::TypedArrayOf<T> typed_array_arg(const Napi::Value& v, const std::string& name,
                                             int64_t expected_length = -1) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayName<T>::type) {
    throw_type(v.Env(), name + " must be a " + TypedArrayName<T>::name);
  }
  auto array = v.As<Napi::TypedArrayOf<T>>();
  if (expected_length >= 0 && static_cast<int64_t>(array.ElementLength()) != expected_length) {
    throw_range(v.Env(), name + " must have length " + std::to_string(expected_length) + ", got " +
                             std::to_string(array.ElementLength()));
  }
  return array;
}

// An array (or TypedArray) of exactly `count` finite numbers; with `positive`, each must be > 0.
inline std::vector<double> number_list_arg(const Napi::Value& v, const std::string& name, int64_t count,
                                           bool positive = false) {
  if (!v.IsArray() && !v.IsTypedArray()) {
    throw_type(v.Env(), name + " must be an array of " + std::to_string(count) + " numbers");
  }
  Napi::Object arr = v.As<Napi::Object>();
  const int64_t length = arr.Get("length").As<Napi::Number>().Int64Value();
  if (length != count) {
    throw_range(v.Env(),
                name + " must have " + std::to_string(count) + " values, got " + std::to_string(length));
  }
  std::vector<double> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const std::string item = name + "[" + std::to_string(i) + "]";
    out[i] = finite_arg(arr.Get(static_cast<uint32_t>(i)), item);
    if (positive && !(out[i] > 0)) throw_range(v.Env(), item + " must be > 0");
  }
  return out;
}

// Index of the first non-finite element, or -1.
inline int64_t first_non_finite(const float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) return i;
  }
  return -1;
}

}  // namespace eos::addon
