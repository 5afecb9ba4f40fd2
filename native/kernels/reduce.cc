// Native reductions over the middle axis of x viewed as [outer, r, inner]
// (spec: reduce in src/backend/ref/reduce.ts): sum (accumulated in double, like
// the reference) and max (NaN propagates). inner == 1 reduces
// contiguous rows with vectors; inner > 1 sweeps the r rows of each outer slab
// over a block of inner columns at a time. Work is split over outer rows and
// column blocks, so a reduction over the first axis (outer = 1) is parallel too.
// Not here: the softmax family (softmax.cc), top-k (topk.cc).
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
enum ReduceOp { kSum = 0, kMax = 1 };
constexpr int64_t kColBlock = 256;

template <int L>
R1TS_INLINE void reduce_rows_body(int op, const float* x, float* out, int64_t o0, int64_t o1, int64_t r) {
  constexpr int W = vm::Lanes<L>::W;
  const float ninf = -__builtin_inff();
  for (int64_t o = o0; o < o1; o++) {
    const float* p = x + o * r;
    if (op == kSum) {
      out[o] = static_cast<float>(vm::sum_double<W>(r, [&](int64_t i, int64_t c) __attribute__((always_inline)) {
        return c == W ? vm::load<W>(p + i) : vm::load_part<W>(p + i, c);
      }));
    } else {
      vf<W> acc = vm::splat<W>(ninf);
      int64_t i = 0;
      for (; i + W <= r; i += W) acc = vm::max_nan<W>(vm::load<W>(p + i), acc);
      if (i < r) acc = vm::max_nan<W>(vm::load_part<W>(p + i, r - i, ninf), acc);
      out[o] = vm::hmax_nan<W>(acc);
    }
  }
}
R1TS_MULTIVERSION(reduce_rows, (int op, const float* x, float* out, int64_t o0, int64_t o1, int64_t r), (op, x, out, o0, o1, r))

/** Tasks t in [t0, t1) over (outer slab, block of kColBlock inner columns). */
template <int L>
R1TS_INLINE void reduce_cols_body(int op, const float* x, float* out, int64_t r, int64_t inner, int64_t t0, int64_t t1) {
  const int64_t nblk = (inner + kColBlock - 1) / kColBlock;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t o = t / nblk, j0 = (t % nblk) * kColBlock;
    const int64_t nb = inner - j0 < kColBlock ? inner - j0 : kColBlock;
    const float* base = x + o * r * inner + j0;
    float* dst = out + o * inner + j0;
    if (op == kSum) {
      double acc[kColBlock];
      for (int64_t j = 0; j < nb; j++) acc[j] = 0;
      for (int64_t i = 0; i < r; i++) {
        const float* p = base + i * inner;
#pragma omp simd
        for (int64_t j = 0; j < nb; j++) acc[j] += static_cast<double>(p[j]);
      }
      for (int64_t j = 0; j < nb; j++) dst[j] = static_cast<float>(acc[j]);
    } else {
      float acc[kColBlock];
      for (int64_t j = 0; j < nb; j++) acc[j] = -__builtin_inff();
      for (int64_t i = 0; i < r; i++) {
        const float* p = base + i * inner;
#pragma omp simd
        for (int64_t j = 0; j < nb; j++) acc[j] = (p[j] > acc[j] || p[j] != p[j]) ? p[j] : acc[j];
      }
      for (int64_t j = 0; j < nb; j++) dst[j] = acc[j];
    }
  }
}
R1TS_MULTIVERSION(reduce_cols, (int op, const float* x, float* out, int64_t r, int64_t inner, int64_t t0, int64_t t1),
                  (op, x, out, r, inner, t0, t1))

// Arguments: op (0 sum, 1 max), x, out, outer, r, inner.
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const char* k = "reduce";
  int op = static_cast<int>(int_arg(info, 0));
  if (op != kSum && op != kMax) throw Napi::RangeError::New(info.Env(), "reduce: unknown op index " + std::to_string(op));
  const float* x = arg_f32(info, 1, k);
  float* out = arg_f32(info, 2, k);
  int64_t outer = int_arg(info, 3), r = int_arg(info, 4), inner = int_arg(info, 5);
  if (outer <= 0 || inner <= 0) return info.Env().Undefined();
  const int64_t work = r > 0 ? r : 1;
  if (inner == 1) {
    int64_t grain = (1 << 15) / work + 1;
    par_range(outer, grain, [&](int64_t b, int64_t e) { reduce_rows(op, x, out, b, e, r); });
  } else {
    int64_t tasks = outer * ((inner + kColBlock - 1) / kColBlock);
    int64_t grain = (1 << 15) / (work * kColBlock) + 1;
    par_range(tasks, grain, [&](int64_t b, int64_t e) { reduce_cols(op, x, out, r, inner, b, e); });
  }
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(reduce, r1ts::Reduce)
