// Native rotary position embedding of x [N, H, D] (spec: rope in src/backend/ref/nn.ts):
// both pair layouts (interleaved (2i, 2i+1), DeepSeek-V3; split (i, i + rotaryDim/2),
// Llama/Qwen2), partial rotary dim (the rest of each head is copied through when
// out != x) and the inverse rotation for the backward pass. Positions are
// checked against the tables before any work starts (RangeError, the reference's
// message). Work is split over the N·H head rows. Not here: building the cos/sin
// tables (src/nn).
#include <cmath>
#include <cstdint>
#include <cstring>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

using vm::vf;

using vm::ld;
using vm::st;

struct RopeArgs {
  const float* x;
  float* out;
  const float* cos;
  const float* sin;
  const int32_t* pos;
  int64_t H, D, rot;
  bool interleaved, inverse;
};

template <int L>
R1TS_INLINE void rope_rows_body(const RopeArgs& a, int64_t t0, int64_t t1) {
  constexpr int W = vm::Lanes<L>::W;
  const int64_t half = a.rot / 2;
  const float sgn = a.inverse ? -1.0f : 1.0f;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t n = t / a.H;
    const float* xr = a.x + t * a.D;
    float* o = a.out + t * a.D;
    const float* c = a.cos + static_cast<int64_t>(a.pos[n]) * half;
    const float* s = a.sin + static_cast<int64_t>(a.pos[n]) * half;
    if (!a.interleaved) {
      for (int64_t i = 0; i < half; i += W) {
        int64_t m = half - i < W ? half - i : W;
        vf<W> x1 = ld<W>(xr + i, m), x2 = ld<W>(xr + half + i, m);
        vf<W> cv = ld<W>(c + i, m), sv = ld<W>(s + i, m) * sgn;
        st<W>(o + i, x1 * cv - x2 * sv, m);
        st<W>(o + half + i, x1 * sv + x2 * cv, m);
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < half; i++) {
        float x1 = xr[2 * i], x2 = xr[2 * i + 1];
        float cv = c[i], sv = s[i] * sgn;
        o[2 * i] = x1 * cv - x2 * sv;
        o[2 * i + 1] = x1 * sv + x2 * cv;
      }
    }
    if (o != xr && a.rot < a.D) std::memcpy(o + a.rot, xr + a.rot, static_cast<size_t>(a.D - a.rot) * sizeof(float));
  }
}
R1TS_MULTIVERSION(rope_rows, (const RopeArgs& a, int64_t t0, int64_t t1), (a, t0, t1))

// (x, out, cos, sin, pos, N, H, D, rotaryDim, interleaved, inverse)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  const char* k = "rope";
  size_t cos_len = 0, sin_len = 0, pos_len = 0;
  RopeArgs a;
  a.x = arg_f32(info, 0, k);
  a.out = arg_f32(info, 1, k);
  a.cos = arg_f32(info, 2, k, &cos_len);
  a.sin = arg_f32(info, 3, k, &sin_len);
  a.pos = arg_i32(info, 4, k, &pos_len);
  int64_t N = int_arg(info, 5);
  a.H = int_arg(info, 6);
  a.D = int_arg(info, 7);
  a.rot = int_arg(info, 8);
  a.interleaved = bool_arg(info, 9);
  a.inverse = bool_arg(info, 10);
  const int64_t half = a.rot / 2;
  if (N <= 0 || a.H <= 0 || a.D <= 0) return info.Env().Undefined();
  if (static_cast<int64_t>(pos_len) < N) throw Napi::RangeError::New(info.Env(), "rope: pos has " + std::to_string(pos_len) + " entries, fewer than N = " + std::to_string(N));
  if (half > 0) {
    // Validate every position before touching anything: the tables hold maxPos rows of rotaryDim/2.
    const int64_t max_pos = static_cast<int64_t>((cos_len < sin_len ? cos_len : sin_len) / static_cast<size_t>(half));
    for (int64_t n = 0; n < N; n++) {
      const int32_t p = a.pos[n];
      if (p < 0 || p >= max_pos)
        throw Napi::RangeError::New(info.Env(), "rope: position " + std::to_string(p) + " at row " + std::to_string(n) + " is outside the table [0, " +
                                                    std::to_string(max_pos) + ")");
    }
  }
  int64_t grain = (1 << 14) / a.D + 1;
  par_range(N * a.H, grain, [&](int64_t b, int64_t e) { rope_rows(a, b, e); });
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(rope, r1ts::Rope)
