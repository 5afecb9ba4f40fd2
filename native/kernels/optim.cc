// Native optimizer kernels: AdamW update, Σx² (double accumulation) and in-place
// scaling for global-norm clipping. Spec: src/backend/ref/loss.ts.
#include <cmath>
#include <cstdint>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"

namespace r1ts {
namespace {

constexpr int64_t kGrain = 1 << 15;

template <int L>
R1TS_INLINE void adamw_run_body(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps, float decay,
                            float inv_bc1, float inv_sqrt_bc2) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - lr * (mi * inv_bc1) / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}
R1TS_MULTIVERSION(adamw_run,
                  (float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps, float decay, float inv_bc1,
                   float inv_sqrt_bc2),
                  (p, g, m, v, n, lr, b1, b2, eps, decay, inv_bc1, inv_sqrt_bc2))

template <int L>
R1TS_INLINE void sumsq_run_body(const float* x, int64_t n, double* out) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  *out = s;
}
R1TS_MULTIVERSION(sumsq_run, (const float* x, int64_t n, double* out), (x, n, out))

template <int L>
R1TS_INLINE void scale_run_body(float* x, int64_t n, float s) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}
R1TS_MULTIVERSION(scale_run, (float* x, int64_t n, float s), (x, n, s))

Napi::Value AdamW(const Napi::CallbackInfo& info) {
  const char* k = "adamw";
  float* p = f32_arg(info, 0, k);
  float* g = f32_arg(info, 1, k);
  float* m = f32_arg(info, 2, k);
  float* v = f32_arg(info, 3, k);
  int64_t n = int_arg(info, 4);
  double lr = num_arg(info, 5), b1 = num_arg(info, 6), b2 = num_arg(info, 7), eps = num_arg(info, 8), wd = num_arg(info, 9);
  double step = num_arg(info, 10);
  float inv_bc1 = static_cast<float>(1.0 / (1.0 - std::pow(b1, step)));
  float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(b2, step)));
  float decay = static_cast<float>(1.0 - lr * wd);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    adamw_run(p + b, g + b, m + b, v + b, e - b, static_cast<float>(lr), static_cast<float>(b1), static_cast<float>(b2), static_cast<float>(eps), decay,
              inv_bc1, inv_sqrt_bc2);
  });
  return info.Env().Undefined();
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  const float* x = f32_arg(info, 0, "sumSquares");
  int64_t n = int_arg(info, 1);
  double partial[256] = {0};
  parallel_run(static_cast<int>((n + kGrain - 1) / kGrain), [&](int tid, int nt) {
    int64_t b = n * tid / nt, e = n * (tid + 1) / nt;
    sumsq_run(x + b, e - b, &partial[tid]);
  });
  double s = 0;
  for (double v : partial) s += v;
  return Napi::Number::New(info.Env(), s);
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  float* x = f32_arg(info, 0, "scale");
  int64_t n = int_arg(info, 1);
  float s = static_cast<float>(num_arg(info, 2));
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { scale_run(x + b, e - b, s); });
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(adamw, r1ts::AdamW)
R1TS_EXPORT(sumSquares, r1ts::SumSquares)
R1TS_EXPORT(scale, r1ts::Scale)
