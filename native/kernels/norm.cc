// Native RMSNorm over rows of x [rows, cols] (spec: src/backend/ref/nn.ts):
// forward saves rstd per row; backward writes dx per row and dw [cols] as a
// reduction over rows: each pool thread sums its rows into a private double
// buffer, and the caller adds the buffers (dw is overwritten, never accumulated).
// rmsnormBackwardAdd (native-only, used by src/tensor/fused.ts) adds the residual stream's gradient in
// the same pass. Not here: LayerNorm (r1ts has none), the autograd rule (src/tensor).
#include <cmath>
#include <cstdint>
#include <vector>
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

template <int L>
R1TS_INLINE void rmsnorm_rows_body(const float* x, const float* w, float* out, float* rstd, int64_t cols, float eps, int64_t r0, int64_t r1) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    double ss = vm::sum_blocks<W>(cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) {
      vf<W> v = ld<W>(xr + i, c);
      return v * v;
    });
    const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps)));
    rstd[r] = rs;
    for (int64_t i = 0; i < cols; i += W) {
      int64_t c = cols - i < W ? cols - i : W;
      st<W>(o + i, ld<W>(xr + i, c) * rs * ld<W>(w + i, c), c);
    }
  }
}
R1TS_MULTIVERSION(rmsnorm_rows, (const float* x, const float* w, float* out, float* rstd, int64_t cols, float eps, int64_t r0, int64_t r1),
                  (x, w, out, rstd, cols, eps, r0, r1))

// dw_j += Σ_r dy·x·rs (into acc, double);  dx_j = rs·w_j·dy_j − x_j·rs³/cols · Σ_k dy_k·w_k·x_k (+ res_j when res is given:
// the residual stream's gradient, added after the norm's own term so the rounding is that of a separate add)
template <int L>
R1TS_INLINE void rmsnorm_back_rows_body(const float* x, const float* w, const float* rstd, const float* dy, const float* res, float* dx, double* acc,
                                        int64_t cols, int64_t r0, int64_t r1) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * cols;
    const float* g = dy + r * cols;
    float* o = dx + r * cols;
    const float rs = rstd[r];
    double dot = vm::sum_double<W>(cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) {
      return ld<W>(g + i, c) * ld<W>(w + i, c) * ld<W>(xr + i, c);
    });
    const float cf = static_cast<float>(dot * static_cast<double>(rs) * rs * rs / static_cast<double>(cols));
    if (res) {
      const float* rr = res + r * cols;
      for (int64_t i = 0; i < cols; i += W) {
        int64_t c = cols - i < W ? cols - i : W;
        vf<W> xv = ld<W>(xr + i, c), gv = ld<W>(g + i, c);
        vf<W> t = rs * ld<W>(w + i, c) * gv - xv * cf;
        st<W>(o + i, t + ld<W>(rr + i, c), c);
      }
    } else {
      for (int64_t i = 0; i < cols; i += W) {
        int64_t c = cols - i < W ? cols - i : W;
        vf<W> xv = ld<W>(xr + i, c), gv = ld<W>(g + i, c);
        st<W>(o + i, rs * ld<W>(w + i, c) * gv - xv * cf, c);
      }
    }
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) acc[j] += static_cast<double>(g[j] * xr[j] * rs);
  }
}
R1TS_MULTIVERSION(rmsnorm_back_rows,
                  (const float* x, const float* w, const float* rstd, const float* dy, const float* res, float* dx, double* acc, int64_t cols, int64_t r0,
                   int64_t r1),
                  (x, w, rstd, dy, res, dx, acc, cols, r0, r1))

// (x, w, out, rstd, rows, cols, eps)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  const char* k = "rmsnorm";
  const float* x = arg_f32(info, 0, k);
  const float* w = arg_f32(info, 1, k);
  float* out = arg_f32(info, 2, k);
  float* rstd = arg_f32(info, 3, k);
  int64_t rows = int_arg(info, 4), cols = int_arg(info, 5);
  float eps = static_cast<float>(num_arg(info, 6));
  if (rows <= 0) return info.Env().Undefined();
  int64_t grain = (1 << 14) / (cols > 0 ? cols : 1) + 1;
  par_range(rows, grain, [&](int64_t b, int64_t e) { rmsnorm_rows(x, w, out, rstd, cols, eps, b, e); });
  return info.Env().Undefined();
}

// dx (and dw) of rmsnorm, plus res when given (the fused residual gradient).
void rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* dy, const float* res, float* dx, float* dw, int64_t rows,
                      int64_t cols) {
  if (cols <= 0) return;
  if (rows < 0) rows = 0;
  int64_t want = rows * cols / (1 << 15);
  int nt = pool_threads();
  if (want < nt) nt = static_cast<int>(want < 1 ? 1 : want);
  if (rows < nt) nt = static_cast<int>(rows < 1 ? 1 : rows);
  std::vector<double> acc(static_cast<size_t>(nt) * cols, 0.0);
  if (nt == 1) {
    rmsnorm_back_rows(x, w, rstd, dy, res, dx, acc.data(), cols, 0, rows);
  } else {
    parallel_run(nt, [&](int tid, int t) {
      int64_t b = rows * tid / t, e = rows * (tid + 1) / t;
      rmsnorm_back_rows(x, w, rstd, dy, res, dx, acc.data() + static_cast<size_t>(tid) * cols, cols, b, e);
    });
  }
  for (int64_t j = 0; j < cols; j++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += acc[static_cast<size_t>(t) * cols + j];
    dw[j] = static_cast<float>(s);
  }
}

// (x, w, rstd, dy, dx, dw, rows, cols)
Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
  const char* k = "rmsnormBackward";
  const float* x = arg_f32(info, 0, k);
  const float* w = arg_f32(info, 1, k);
  const float* rstd = arg_f32(info, 2, k);
  const float* dy = arg_f32(info, 3, k);
  float* dx = arg_f32(info, 4, k);
  float* dw = arg_f32(info, 5, k);
  rmsnorm_backward(x, w, rstd, dy, nullptr, dx, dw, int_arg(info, 6), int_arg(info, 7));
  return info.Env().Undefined();
}

// Native-only (src/tensor/fused.ts, with a composed fallback): dx = res + rmsnorm'(dy); dw overwritten.
// (x, w, rstd, dy, res, dx, dw, rows, cols); res and dx hold rows·cols floats (checked).
Napi::Value RmsNormBackwardAdd(const Napi::CallbackInfo& info) {
  const char* k = "rmsnormBackwardAdd";
  size_t nx = 0, nres = 0, ndx = 0;
  const float* x = arg_f32(info, 0, k, &nx);
  const float* w = arg_f32(info, 1, k);
  const float* rstd = arg_f32(info, 2, k);
  const float* dy = arg_f32(info, 3, k);
  const float* res = arg_f32(info, 4, k, &nres);
  float* dx = arg_f32(info, 5, k, &ndx);
  float* dw = arg_f32(info, 6, k);
  int64_t rows = int_arg(info, 7), cols = int_arg(info, 8);
  const size_t n = static_cast<size_t>(rows > 0 && cols > 0 ? rows * cols : 0);
  if (nx < n || nres < n || ndx < n)
    throw Napi::RangeError::New(info.Env(), "rmsnormBackwardAdd: x, res and dx must hold rows·cols = " + std::to_string(n) + " floats");
  rmsnorm_backward(x, w, rstd, dy, res, dx, dw, rows, cols);
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(rmsnorm, r1ts::RmsNorm)
R1TS_EXPORT(rmsnormBackward, r1ts::RmsNormBackward)
R1TS_EXPORT(rmsnormBackwardAdd, r1ts::RmsNormBackwardAdd)
