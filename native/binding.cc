// The r1ts native addon's entry point: exports every kernel registered with
// R1TS_EXPORT (kernels/*.cc) plus CPU-dispatch and thread-pool controls.
// Reached from TypeScript only through src/backend/native.
#include <napi.h>
#include "common/cpu.h"
#include "common/registry.h"
#include "common/threadpool.h"

namespace r1ts {

Registration*& registry_head() {
  static Registration* head = nullptr;
  return head;
}

static Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("level", cpu_level_name(cpu_level()));
  o.Set("maxLevel", cpu_level_name(cpu_max_level()));
  o.Set("levelNumber", cpu_level());
  o.Set("maxLevelNumber", cpu_max_level());
  return o;
}

static Napi::Value SetCpuLevel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), set_cpu_level(static_cast<int>(int_arg(info, 0))));
}

static Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_threads()); }

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), set_pool_threads(static_cast<int>(int_arg(info, 0))));
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo, "cpuInfo"));
  exports.Set("setCpuLevel", Napi::Function::New(env, SetCpuLevel, "setCpuLevel"));
  exports.Set("threads", Napi::Function::New(env, Threads, "threads"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  for (Registration* r = registry_head(); r; r = r->next) exports.Set(r->name, Napi::Function::New(env, r->fn, r->name));
  return exports;
}

}  // namespace r1ts

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return r1ts::Init(env, exports); }
NODE_API_MODULE(r1ts, InitModule)
