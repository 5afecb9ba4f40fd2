// Kernel registration: each kernels/<name>.cc registers its N-API entry points
// with R1TS_EXPORT, and binding.cc exports everything registered. Adding a
// kernel therefore touches only its own file.
// Also: small argument helpers that check types and name the bad argument.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>

namespace r1ts {

using KernelFn = Napi::Value (*)(const Napi::CallbackInfo&);

struct Registration {
  const char* name;
  KernelFn fn;
  Registration* next;
};

Registration*& registry_head();

struct Registrar {
  Registrar(const char* name, KernelFn fn) {
    registry_head() = new Registration{name, fn, registry_head()};
  }
};

// Argument access: the TS wrappers (src/backend/native) pass flat positional
// arguments; these throw a TypeError naming the kernel and position on a mismatch.
// One napi_get_typedarray_info call per array (the small-op dispatch cost matters).
template <class T>
inline T* typed_array_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, napi_typedarray_type want, const char* what, size_t* len) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_status st = i < info.Length() ? napi_get_typedarray_info(info.Env(), info[i], &type, &length, &data, nullptr, nullptr) : napi_invalid_arg;
  if (st != napi_ok || type != want) {
    throw Napi::TypeError::New(info.Env(), std::string(kernel) + ": argument " + std::to_string(i) + " must be a " + what);
  }
  if (len) *len = length;
  return static_cast<T*>(data);
}

inline float* f32_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, size_t* len = nullptr) {
  return typed_array_arg<float>(info, i, kernel, napi_float32_array, "Float32Array", len);
}

inline int32_t* i32_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, size_t* len = nullptr) {
  return typed_array_arg<int32_t>(info, i, kernel, napi_int32_array, "Int32Array", len);
}

/** Optional typed array: null/undefined give nullptr. */
inline float* f32_opt(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return f32_arg(info, i, kernel);
}
inline int32_t* i32_opt(const Napi::CallbackInfo& info, size_t i, const char* kernel) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return i32_arg(info, i, kernel);
}

inline int64_t int_arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}
inline double num_arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}
inline bool bool_arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].ToBoolean().Value();
}

}  // namespace r1ts

#define R1TS_CONCAT_(a, b) a##b
#define R1TS_CONCAT(a, b) R1TS_CONCAT_(a, b)
/** Registers fn as the addon export `name` (a bare identifier). */
#define R1TS_EXPORT(name, fn) static ::r1ts::Registrar R1TS_CONCAT(r1ts_registrar_, name)(#name, fn);
