// Native cross-entropy from logits [rows, V] and targets [rows] with an ignore
// index (spec: src/backend/ref/loss.ts): forward writes loss and the row's
// log-sum-exp; backward writes (softmax - onehot)·dloss, zero rows for ignored
// targets. Targets are validated before any work starts (RangeError with the
// reference's message). Rows are split over the pool.
// Not here: loss reduction/masking over rows (src/tensor), AdamW (optim.cc).
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

template <int L>
R1TS_INLINE void ce_rows_body(const float* logits, const int32_t* targets, float* loss, float* lse, int64_t V, double ignore, int64_t r0, int64_t r1) {
  constexpr int W = vm::Lanes<L>::W;
  const float ninf = -__builtin_inff();
  for (int64_t r = r0; r < r1; r++) {
    const float* x = logits + r * V;
    vf<W> acc = vm::splat<W>(ninf);
    for (int64_t i = 0; i < V; i += W) {
      vf<W> v = V - i < W ? vm::load_part<W>(x + i, V - i, ninf) : vm::load<W>(x + i);
      acc = v > acc ? v : acc;  // NaN ignored here, as in the reference; it still poisons the sum
    }
    const float mf = vm::hmax<W>(acc);
    const vf<W> m = vm::splat<W>(mf);
    double s = vm::sum_blocks<W>(V, [&](int64_t i, int64_t c) __attribute__((always_inline)) { return vm::exp<W>(ld<W>(x + i, c) - m); });
    const double l = static_cast<double>(mf) + std::log(s);
    lse[r] = static_cast<float>(l);
    const int32_t t = targets[r];
    loss[r] = static_cast<double>(t) == ignore ? 0.0f : static_cast<float>(l - static_cast<double>(x[t]));
  }
}
R1TS_MULTIVERSION(ce_rows, (const float* logits, const int32_t* targets, float* loss, float* lse, int64_t V, double ignore, int64_t r0, int64_t r1),
                  (logits, targets, loss, lse, V, ignore, r0, r1))

template <int L>
R1TS_INLINE void ce_back_rows_body(const float* logits, const int32_t* targets, const float* lse, const float* dloss, float* dlogits, int64_t V,
                                   double ignore, int64_t r0, int64_t r1) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t r = r0; r < r1; r++) {
    const float* x = logits + r * V;
    float* o = dlogits + r * V;
    const int32_t t = targets[r];
    if (static_cast<double>(t) == ignore) {
      std::memset(o, 0, static_cast<size_t>(V) * sizeof(float));
      continue;
    }
    const float g = dloss[r], l = lse[r];
    for (int64_t i = 0; i < V; i += W) {
      int64_t c = V - i < W ? V - i : W;
      st<W>(o + i, vm::exp<W>(ld<W>(x + i, c) - l) * g, c);
    }
    o[t] -= g;
  }
}
R1TS_MULTIVERSION(ce_back_rows,
                  (const float* logits, const int32_t* targets, const float* lse, const float* dloss, float* dlogits, int64_t V, double ignore,
                   int64_t r0, int64_t r1),
                  (logits, targets, lse, dloss, dlogits, V, ignore, r0, r1))

/** Throws the reference's RangeError for the first target outside [0, V) that is not the ignore index. */
void check_targets(const Napi::CallbackInfo& info, const char* op, const int32_t* t, size_t tlen, int64_t rows, int64_t V, double ignore) {
  if (static_cast<int64_t>(tlen) < rows)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": targets has " + std::to_string(tlen) + " entries, fewer than rows = " + std::to_string(rows));
  for (int64_t r = 0; r < rows; r++) {
    if (static_cast<double>(t[r]) == ignore) continue;
    if (t[r] < 0 || t[r] >= V)
      throw Napi::RangeError::New(info.Env(), std::string(op) + ": target " + std::to_string(t[r]) + " at row " + std::to_string(r) + " is outside [0, " +
                                                  std::to_string(V) + ") and is not the ignore index " + js_num(ignore));
  }
}

// (logits, targets, loss, lse, rows, V, ignoreIndex)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const char* k = "crossEntropy";
  size_t tlen = 0;
  const float* logits = arg_f32(info, 0, k);
  const int32_t* targets = arg_i32(info, 1, k, &tlen);
  float* loss = arg_f32(info, 2, k);
  float* lse = arg_f32(info, 3, k);
  int64_t rows = int_arg(info, 4), V = int_arg(info, 5);
  double ignore = num_arg(info, 6);
  if (rows <= 0) return info.Env().Undefined();
  check_targets(info, k, targets, tlen, rows, V, ignore);
  int64_t grain = (1 << 14) / (V > 0 ? V : 1) + 1;
  par_range(rows, grain, [&](int64_t b, int64_t e) { ce_rows(logits, targets, loss, lse, V, ignore, b, e); });
  return info.Env().Undefined();
}

// (logits, targets, lse, dloss, dlogits, rows, V, ignoreIndex)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* k = "crossEntropyBackward";
  size_t tlen = 0;
  const float* logits = arg_f32(info, 0, k);
  const int32_t* targets = arg_i32(info, 1, k, &tlen);
  const float* lse = arg_f32(info, 2, k);
  const float* dloss = arg_f32(info, 3, k);
  float* dlogits = arg_f32(info, 4, k);
  int64_t rows = int_arg(info, 5), V = int_arg(info, 6);
  double ignore = num_arg(info, 7);
  if (rows <= 0) return info.Env().Undefined();
  check_targets(info, k, targets, tlen, rows, V, ignore);
  int64_t grain = (1 << 14) / (V > 0 ? V : 1) + 1;
  par_range(rows, grain, [&](int64_t b, int64_t e) { ce_back_rows(logits, targets, lse, dloss, dlogits, V, ignore, b, e); });
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(crossEntropy, r1ts::CrossEntropy)
R1TS_EXPORT(crossEntropyBackward, r1ts::CrossEntropyBackward)
