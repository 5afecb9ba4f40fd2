// Native row-wise softmax family over x [rows, cols] (spec: src/backend/ref/reduce.ts):
// softmax, logSoftmax and their backward passes. Each row: max (NaN ignored, as
// the reference's `x > max` does; a NaN still poisons the row through the sum),
// Σ exp(x - max) accumulated close to double precision (vmath.h sum_blocks),
// then one output pass; the backward dot products, which may cancel, sum in double. Rows are split over the pool.
// Not here: cross-entropy (loss.cc), attention's own softmax.
#include <cmath>
#include <cstdint>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

using vm::vf;
enum SoftmaxKind { kSoftmax, kLogSoftmax, kSoftmaxBack, kLogSoftmaxBack };

/** Row maximum ignoring NaN (-Infinity for an empty row). */
template <int W> R1TS_INLINE float row_max(const float* p, int64_t n) {
  const float ninf = -__builtin_inff();
  vf<W> acc = vm::splat<W>(ninf);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf<W> v = vm::load<W>(p + i);
    acc = v > acc ? v : acc;
  }
  if (i < n) {
    vf<W> v = vm::load_part<W>(p + i, n - i, ninf);
    acc = v > acc ? v : acc;
  }
  return vm::hmax<W>(acc);
}

using vm::ld;
using vm::st;

/** Applies f(i, cnt) -> vector to out[0..n) in W-chunks. */
template <int W, class F> R1TS_INLINE void for_chunks(float* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; i += W) {
    int64_t c = n - i < W ? n - i : W;
    st<W>(out + i, f(i, c), c);
  }
}

template <int L>
R1TS_INLINE void softmax_rows_body(int kind, const float* a, const float* b, float* out, int64_t cols, int64_t r0, int64_t r1) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t r = r0; r < r1; r++) {
    const float* x = a + r * cols;  // x (forward) or y (backward)
    const float* dy = b ? b + r * cols : nullptr;
    float* o = out + r * cols;
    switch (kind) {
      case kSoftmax: {
        const vf<W> m = vm::splat<W>(row_max<W>(x, cols));
        double s = vm::sum_blocks<W>(cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) {
          vf<W> e = vm::exp<W>(ld<W>(x + i, c) - m);
          st<W>(o + i, e, c);
          return e;
        });
        const float inv = static_cast<float>(1.0 / s);
        for_chunks<W>(o, cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return ld<W>(o + i, c) * inv; });
        break;
      }
      case kLogSoftmax: {
        const vf<W> m = vm::splat<W>(row_max<W>(x, cols));
        double s = vm::sum_blocks<W>(cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return vm::exp<W>(ld<W>(x + i, c) - m); });
        const float ls = static_cast<float>(std::log(s));
        for_chunks<W>(o, cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return (ld<W>(x + i, c) - m) - ls; });
        break;
      }
      case kSoftmaxBack: {  // dx = y ⊙ (dy - Σ dy⊙y)
        const float dot = static_cast<float>(
            vm::sum_double<W>(cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return ld<W>(x + i, c) * ld<W>(dy + i, c); }));
        for_chunks<W>(o, cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return ld<W>(x + i, c) * (ld<W>(dy + i, c) - dot); });
        break;
      }
      default: {  // dx = dy - exp(y)·Σ dy
        const float s = static_cast<float>(vm::sum_double<W>(cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return ld<W>(dy + i, c); }));
        for_chunks<W>(o, cols, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return ld<W>(dy + i, c) - vm::exp<W>(ld<W>(x + i, c)) * s; });
        break;
      }
    }
  }
}
R1TS_MULTIVERSION(softmax_rows, (int kind, const float* a, const float* b, float* out, int64_t cols, int64_t r0, int64_t r1),
                  (kind, a, b, out, cols, r0, r1))

void run_rows(int kind, const float* a, const float* b, float* out, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  int64_t grain = (1 << 14) / cols + 1;
  par_range(rows, grain, [&](int64_t r0, int64_t r1) { softmax_rows(kind, a, b, out, cols, r0, r1); });
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  run_rows(kSoftmax, arg_f32(info, 0, "softmax"), nullptr, arg_f32(info, 1, "softmax"), int_arg(info, 2), int_arg(info, 3));
  return info.Env().Undefined();
}
Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  run_rows(kLogSoftmax, arg_f32(info, 0, "logSoftmax"), nullptr, arg_f32(info, 1, "logSoftmax"), int_arg(info, 2), int_arg(info, 3));
  return info.Env().Undefined();
}
// (y, dy, dx, rows, cols)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const char* k = "softmaxBackward";
  run_rows(kSoftmaxBack, arg_f32(info, 0, k), arg_f32(info, 1, k), arg_f32(info, 2, k), int_arg(info, 3), int_arg(info, 4));
  return info.Env().Undefined();
}
Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  const char* k = "logSoftmaxBackward";
  run_rows(kLogSoftmaxBack, arg_f32(info, 0, k), arg_f32(info, 1, k), arg_f32(info, 2, k), int_arg(info, 3), int_arg(info, 4));
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(softmax, r1ts::Softmax)
R1TS_EXPORT(logSoftmax, r1ts::LogSoftmax)
R1TS_EXPORT(softmaxBackward, r1ts::SoftmaxBackward)
R1TS_EXPORT(logSoftmaxBackward, r1ts::LogSoftmaxBackward)
