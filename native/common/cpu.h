// Run-time CPU dispatch levels. Kernels compile one variant per level (with
// function-level target attributes on x86-64) and pick one per call with
// cpu_level(). The level can be lowered (R1TS_CPU, or setCpuLevel from JS) so
// every variant is testable on one machine.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#define R1TS_X86 1
#else
#define R1TS_X86 0
#endif

namespace r1ts {

enum CpuLevel : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

/** Highest level this CPU and OS support. */
int cpu_max_level();
/** Level kernels should use now (<= cpu_max_level()). */
int cpu_level();
/** Caps the level; returns the level in force. */
int set_cpu_level(int level);
const char* cpu_level_name(int level);

}  // namespace r1ts
