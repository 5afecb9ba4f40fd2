// Multi-versioning helpers. A kernel writes its loop once as an always-inline
// body `name##_body` (plain C++, GCC vector extensions or intrinsics guarded by
// the level template argument), and R1TS_MULTIVERSION stamps out one copy per
// CPU level with the matching target attribute plus a dispatcher `name(...)`
// that picks the copy for cpu_level() on every call.
#pragma once
#include "common/cpu.h"

#define R1TS_INLINE inline __attribute__((always_inline))

#if R1TS_X86
#define R1TS_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define R1TS_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define R1TS_MULTIVERSION(name, PARAMS, ARGS)                                      \
  R1TS_TARGET_AVX512 static void name##_avx512 PARAMS { name##_body<2> ARGS; } \
  R1TS_TARGET_AVX2 static void name##_avx2 PARAMS { name##_body<1> ARGS; }     \
  static void name##_portable PARAMS { name##_body<0> ARGS; }                  \
  static void name PARAMS {                                                     \
    switch (::r1ts::cpu_level()) {                                              \
      case ::r1ts::kAvx512: name##_avx512 ARGS; return;                         \
      case ::r1ts::kAvx2: name##_avx2 ARGS; return;                             \
      default: name##_portable ARGS; return;                                    \
    }                                                                           \
  }
#else
#define R1TS_TARGET_AVX512
#define R1TS_TARGET_AVX2
#define R1TS_MULTIVERSION(name, PARAMS, ARGS)                     \
  static void name PARAMS { name##_body<0> ARGS; }
#endif
