// CPU feature detection for run-time dispatch (see cpu.h).
#include "common/cpu.h"
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace r1ts {

static int detect() {
#if R1TS_X86
  __builtin_cpu_init();
  // libgcc's checks include the OS's XSAVE support for the wider registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAvx2;
#endif
  return kPortable;
}

static int initial_level() {
  int lvl = detect();
  const char* e = std::getenv("R1TS_CPU");
  if (e) {
    if (!std::strcmp(e, "portable")) lvl = kPortable;
    else if (!std::strcmp(e, "avx2") && lvl > kAvx2) lvl = kAvx2;
  }
  return lvl;
}

static std::atomic<int> g_level{initial_level()};

int cpu_max_level() {
  static const int max = detect();
  return max;
}
int cpu_level() { return g_level.load(std::memory_order_relaxed); }
int set_cpu_level(int level) {
  if (level < kPortable) level = kPortable;
  if (level > cpu_max_level()) level = cpu_max_level();
  g_level.store(level);
  return level;
}
const char* cpu_level_name(int level) {
  switch (level) {
    case kAvx512: return "avx512";
    case kAvx2: return "avx2";
    default: return "portable";
  }
}

}  // namespace r1ts
