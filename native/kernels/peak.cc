// The machine's f32 FMA peak, measured: every pool thread runs independent
// chains of vector fused multiply-adds (12 chains, enough to cover the FMA
// latency on two pipes) for about `seconds` of its own CPU time; each thread's
// FLOPs (2 per lane per FMA) over its CPU time is its core's rate, and the peak
// is their sum. CPU time rather than wall time, so that a core shared with
// other processes reads its full rate, not our share of it (a shared machine
// otherwise halves the "peak" and doubles MFU). This is the denominator of MFU (model
// FLOPs utilisation, src/train/trainer.ts): what the cores can do at the CPU
// dispatch level in force (AVX-512, AVX2, or the portable 4-lane vectors), with
// no memory traffic at all, so no real kernel can exceed it.
// Not here: GEMM throughput (gemm.cc; bench/kernels.ts times it).
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <string>
#include <vector>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"

namespace r1ts {
namespace {

using vm::vf;
constexpr int kChains = 12;       // independent accumulators: covers 4-cycle FMA latency on 2 pipes, fits 16 registers
constexpr int64_t kInner = 4096;  // FMA rounds between clock reads

/** This thread's CPU time in seconds (wall time where there is no per-thread clock). */
double thread_seconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec + ts.tv_nsec * 1e-9;
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/** Runs rounds of kChains independent FMAs until `seconds` of this thread's CPU time (or 20× that of wall time) pass; writes the rounds, the CPU seconds and a checksum. */
template <int L>
R1TS_INLINE void fma_chains_body(double seconds, float* sink, int64_t* rounds_out, double* cpu_out) {
  constexpr int W = vm::Lanes<L>::W;
  vf<W> acc[kChains];
  for (int c = 0; c < kChains; c++) acc[c] = vm::splat<W>(1.0f + 0.01f * c);
  volatile float mv = 0.999999f, av = 1e-6f;  // not compile-time constants
  const vf<W> m = vm::splat<W>(mv), a = vm::splat<W>(av);
  const auto w0 = std::chrono::steady_clock::now();
  const double c0 = thread_seconds();
  int64_t rounds = 0;
  double cpu = 0;
  for (;;) {
    for (int64_t i = 0; i < kInner; i++) {
#pragma GCC unroll 12
      for (int c = 0; c < kChains; c++) acc[c] = acc[c] * m + a;  // one FMA each (-ffp-contract=fast, GCC's default)
    }
    rounds += kInner;
    cpu = thread_seconds() - c0;
    if (cpu >= seconds || std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count() >= 20 * seconds) break;
  }
  vf<W> s = acc[0];
  for (int c = 1; c < kChains; c++) s += acc[c];
  float t = 0;
  for (int k = 0; k < W; k++) t += s[k];
  *sink = t;
  *rounds_out = rounds;
  *cpu_out = cpu;
}
R1TS_MULTIVERSION(fma_chains, (double seconds, float* sink, int64_t* rounds, double* cpu), (seconds, sink, rounds, cpu))

int lanes_now() {
  switch (cpu_level()) {
    case kAvx512: return vm::Lanes<2>::W;
    case kAvx2: return vm::Lanes<1>::W;
    default: return vm::Lanes<0>::W;
  }
}

/** fmaPeak(seconds) -> { flops, seconds, threads, lanes, level, checksum }: the sum over pool threads of FMA-chain FLOPs per CPU second; `wallFlops` divides by wall time instead. */
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  const double seconds = num_arg(info, 0);
  if (!(seconds > 0 && seconds <= 60)) throw Napi::RangeError::New(info.Env(), "fmaPeak: seconds must be in (0, 60], got " + std::to_string(seconds));
  const int nt = pool_threads();
  std::vector<int64_t> rounds(nt, 0);
  std::vector<float> sinks(nt, 0);
  std::vector<double> cpu(nt, 0);
  const auto t0 = std::chrono::steady_clock::now();
  parallel_run(nt, [&](int tid, int) { fma_chains(seconds, &sinks[tid], &rounds[tid], &cpu[tid]); });
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int W = lanes_now();
  double flops = 0, total = 0, checksum = 0;
  for (int t = 0; t < nt; t++) {
    const double f = static_cast<double>(rounds[t]) * kChains * W * 2;
    total += f;
    flops += cpu[t] > 0 ? f / cpu[t] : f / dt;
    checksum += sinks[t];
  }
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("flops", flops);
  o.Set("wallFlops", total / dt);
  o.Set("seconds", dt);
  o.Set("threads", nt);
  o.Set("lanes", W);
  o.Set("level", cpu_level_name(cpu_level()));
  o.Set("checksum", checksum);
  return o;
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(fmaPeak, r1ts::FmaPeak)
