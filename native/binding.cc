// The r1ts native addon's entry point: exports every kernel registered with
// R1TS_EXPORT (kernels/*.cc) plus CPU-dispatch and thread-pool controls.
// Reached from TypeScript only through src/backend/native.
#include <napi.h>
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
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

// Tensors are fresh Float32Arrays (V8 callocs their memory). With glibc's defaults a
// large one is mmapped, or carved from heap top that free() trims back to the OS, so
// every training step page-faults its outputs in again: on this VM that cost more than
// the arithmetic (an 8 MB logits array: ~30 ms of faults vs 1.8 ms of GEMM). Serving
// blocks up to 32 MB from the heap and keeping up to R1TS_MALLOC_KEEP_MB (1024; 0 =
// glibc's defaults) of freed heap makes later steps reuse faulted-in pages.
// Returns the bytes kept (0 when untouched, or not glibc).
static long tune_malloc() {
#if defined(__GLIBC__)
  const char* e = std::getenv("R1TS_MALLOC_KEEP_MB");
  const long mb = e ? std::strtol(e, nullptr, 10) : 1024;
  if (mb <= 0) return 0;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(mb > 2047 ? 2047 : mb) << 20);
  return mb << 20;
#else
  return 0;
#endif
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static const long kept = tune_malloc();
  exports.Set("mallocKeepBytes", Napi::Number::New(env, static_cast<double>(kept)));
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
