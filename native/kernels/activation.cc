// Native SiLU/SwiGLU kernels (spec: src/backend/ref/nn.ts): swiglu forward,
// swigluBackward (dgate, dup) and siluBackward, vectorized with vmath.h's
// overflow-free sigmoid and split over the pool in large chunks.
// Not here: the plain unary silu/sigmoid/gelu (elementwise.cc).
#include <cstdint>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

using vm::vf;
constexpr int64_t kGrain = 1 << 13;

using vm::ld;
using vm::st;

template <int L>
R1TS_INLINE void swiglu_run_body(const float* gate, const float* up, float* out, int64_t n) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t i = 0; i < n; i += W) {
    int64_t c = n - i < W ? n - i : W;
    st<W>(out + i, vm::silu<W>(ld<W>(gate + i, c)) * ld<W>(up + i, c), c);
  }
}
R1TS_MULTIVERSION(swiglu_run, (const float* gate, const float* up, float* out, int64_t n), (gate, up, out, n))

// sg = σ(g); silu = g·sg; silu' = sg·(1 + g·(1 - sg)); dgate = dout·up·silu'; dup = dout·silu
template <int L>
R1TS_INLINE void swiglu_back_run_body(const float* gate, const float* up, const float* dout, float* dgate, float* dup, int64_t n) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t i = 0; i < n; i += W) {
    int64_t c = n - i < W ? n - i : W;
    vf<W> g = ld<W>(gate + i, c), u = ld<W>(up + i, c), d = ld<W>(dout + i, c);
    vf<W> sg = vm::sigmoid<W>(g);
    vf<W> silu = g * sg;
    vf<W> ds = sg * (1.0f + g * (1.0f - sg));
    st<W>(dgate + i, d * u * ds, c);
    st<W>(dup + i, d * silu, c);
  }
}
R1TS_MULTIVERSION(swiglu_back_run, (const float* gate, const float* up, const float* dout, float* dgate, float* dup, int64_t n),
                  (gate, up, dout, dgate, dup, n))

template <int L>
R1TS_INLINE void silu_back_run_body(const float* x, const float* dy, float* dx, int64_t n) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t i = 0; i < n; i += W) {
    int64_t c = n - i < W ? n - i : W;
    vf<W> xv = ld<W>(x + i, c);
    vf<W> sg = vm::sigmoid<W>(xv);
    st<W>(dx + i, ld<W>(dy + i, c) * sg * (1.0f + xv * (1.0f - sg)), c);
  }
}
R1TS_MULTIVERSION(silu_back_run, (const float* x, const float* dy, float* dx, int64_t n), (x, dy, dx, n))

// (gate, up, out, n)
Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  const char* k = "swiglu";
  const float* g = arg_f32(info, 0, k);
  const float* u = arg_f32(info, 1, k);
  float* o = arg_f32(info, 2, k);
  int64_t n = int_arg(info, 3);
  par_range(n, kGrain, [&](int64_t b, int64_t e) { swiglu_run(g + b, u + b, o + b, e - b); });
  return info.Env().Undefined();
}

// (gate, up, dout, dgate, dup, n)
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  const char* k = "swigluBackward";
  const float* g = arg_f32(info, 0, k);
  const float* u = arg_f32(info, 1, k);
  const float* d = arg_f32(info, 2, k);
  float* dg = arg_f32(info, 3, k);
  float* du = arg_f32(info, 4, k);
  int64_t n = int_arg(info, 5);
  par_range(n, kGrain, [&](int64_t b, int64_t e) { swiglu_back_run(g + b, u + b, d + b, dg + b, du + b, e - b); });
  return info.Env().Undefined();
}

// (x, dy, dx, n)
Napi::Value SiluBackward(const Napi::CallbackInfo& info) {
  const char* k = "siluBackward";
  const float* x = arg_f32(info, 0, k);
  const float* dy = arg_f32(info, 1, k);
  float* dx = arg_f32(info, 2, k);
  int64_t n = int_arg(info, 3);
  par_range(n, kGrain, [&](int64_t b, int64_t e) { silu_back_run(x + b, dy + b, dx + b, e - b); });
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(swiglu, r1ts::Swiglu)
R1TS_EXPORT(swigluBackward, r1ts::SwigluBackward)
R1TS_EXPORT(siluBackward, r1ts::SiluBackward)
