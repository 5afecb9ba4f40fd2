// Native elementwise kernels: unary ops and broadcasting binary ops (spec:
// src/backend/ref/elementwise.ts), plus `opNames`, which lets the TS wrapper
// check that its op indices match the order used here.
// binary collapses its N-d iteration (kernel-util.h) and picks an inner loop by
// the inner strides: both contiguous, b constant (scalar, or [N,1] on [N,C]),
// a constant, or a general strided gather; row-broadcast ([C] on [N,C]) is the
// contiguous loop run per row. Not here: strided copy (copy.cc), activations
// with their backward passes (activation.cc).
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

// Same order as unaryOps / binaryOps in src/backend/kernels.ts (checked by the TS wrapper through opNames).
enum UnaryOp { kNeg, kExp, kLog, kSqrt, kRsqrt, kAbs, kSquare, kRecip, kTanh, kSigmoid, kSilu, kRelu, kGelu, kUnaryCount };
const char* const kUnaryNames[] = {"neg", "exp", "log", "sqrt", "rsqrt", "abs", "square", "recip", "tanh", "sigmoid", "silu", "relu", "gelu"};
enum BinaryOp { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow, kEq, kGt, kGe, kBinaryCount };
const char* const kBinaryNames[] = {"add", "sub", "mul", "div", "max", "min", "pow", "eq", "gt", "ge"};

// ---- unary ----------------------------------------------------------------

template <int L>
R1TS_INLINE void unary_run_body(int op, const float* x, float* out, int64_t n) {
  constexpr int W = vm::Lanes<L>::W;
  switch (op) {
    case kNeg:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = -x[i];
      return;
    case kSqrt:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = std::sqrt(x[i]);
      return;
    case kRsqrt:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = 1.0f / std::sqrt(x[i]);
      return;
    case kAbs:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = std::fabs(x[i]);
      return;
    case kSquare:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = x[i] * x[i];
      return;
    case kRecip:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = 1.0f / x[i];
      return;
    case kRelu:  // x > 0 ? x : 0, so relu(NaN) = 0 as in the reference
#pragma omp simd
      for (int64_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case kExp: vm::map1<W>(x, out, n, [](vf<W> v) __attribute__((always_inline)) { return vm::exp<W>(v); }); return;
    case kLog: vm::map1<W>(x, out, n, [](vf<W> v) __attribute__((always_inline)) { return vm::log<W>(v); }); return;
    case kTanh: vm::map1<W>(x, out, n, [](vf<W> v) __attribute__((always_inline)) { return vm::tanh<W>(v); }); return;
    case kSigmoid: vm::map1<W>(x, out, n, [](vf<W> v) __attribute__((always_inline)) { return vm::sigmoid<W>(v); }); return;
    case kSilu: vm::map1<W>(x, out, n, [](vf<W> v) __attribute__((always_inline)) { return vm::silu<W>(v); }); return;
    case kGelu: vm::map1<W>(x, out, n, [](vf<W> v) __attribute__((always_inline)) { return vm::gelu<W>(v); }); return;
    default: return;
  }
}
R1TS_MULTIVERSION(unary_run, (int op, const float* x, float* out, int64_t n), (op, x, out, n))

bool unary_is_cheap(int op) { return !(op == kExp || op == kLog || op == kTanh || op == kSigmoid || op == kSilu || op == kGelu); }

Napi::Value Unary(const Napi::CallbackInfo& info) {
  const char* k = "unary";
  int op = static_cast<int>(int_arg(info, 0));
  if (op < 0 || op >= kUnaryCount) throw Napi::RangeError::New(info.Env(), "unary: unknown op index " + std::to_string(op));
  const float* x = arg_f32(info, 1, k);
  float* out = arg_f32(info, 2, k);
  int64_t n = int_arg(info, 3);
  int64_t grain = unary_is_cheap(op) ? (1 << 15) : (1 << 12);
  par_range(n, grain, [&](int64_t b, int64_t e) { unary_run(op, x + b, out + b, e - b); });
  return info.Env().Undefined();
}

// ---- binary ---------------------------------------------------------------

/** JS Math.pow on float inputs (C pow differs: pow(1, NaN) = 1 and pow(-1, ±Inf) = 1 there, NaN in JS). */
inline float js_pow(float a, float b) {
  if (b != b) return __builtin_nanf("");
  if (std::fabs(a) == 1.0f && std::isinf(b)) return __builtin_nanf("");
  return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
}

struct OpAdd { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return a + b; } };
struct OpSub { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return a - b; } };
struct OpMul { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return a * b; } };
struct OpDiv { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return a / b; } };
struct OpMax { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return vm::max_nan<W>(a, b); } };
struct OpMin { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return vm::min_nan<W>(a, b); } };
struct OpEq { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return vm::mask_to_one<W>(a == b); } };
struct OpGt { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return vm::mask_to_one<W>(a > b); } };
struct OpGe { template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const { return vm::mask_to_one<W>(a >= b); } };
struct OpPow {
  template <int W> R1TS_INLINE vf<W> operator()(vf<W> a, vf<W> b) const {
    vf<W> r;
    for (int k = 0; k < W; k++) r[k] = js_pow(a[k], b[k]);
    return r;
  }
};

/** One inner run of len elements: a and b at their inner strides (0 = constant), out contiguous. */
template <int W, class Op>
R1TS_INLINE void binary_inner(Op op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t len) {
  int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + W <= len; i += W) vm::store<W>(out + i, op.template operator()<W>(vm::load<W>(a + i), vm::load<W>(b + i)));
    if (i < len) vm::store_part<W>(out + i, op.template operator()<W>(vm::load_part<W>(a + i, len - i), vm::load_part<W>(b + i, len - i)), len - i);
  } else if (sa == 1 && sb == 0) {
    const vf<W> bv = vm::splat<W>(b[0]);
    for (; i + W <= len; i += W) vm::store<W>(out + i, op.template operator()<W>(vm::load<W>(a + i), bv));
    if (i < len) vm::store_part<W>(out + i, op.template operator()<W>(vm::load_part<W>(a + i, len - i), bv), len - i);
  } else if (sa == 0 && sb == 1) {
    const vf<W> av = vm::splat<W>(a[0]);
    for (; i + W <= len; i += W) vm::store<W>(out + i, op.template operator()<W>(av, vm::load<W>(b + i)));
    if (i < len) vm::store_part<W>(out + i, op.template operator()<W>(av, vm::load_part<W>(b + i, len - i)), len - i);
  } else {
    float ta[W], tb[W];
    for (; i < len; i += W) {
      int64_t m = len - i < W ? len - i : W;
      for (int64_t k = 0; k < m; k++) {
        ta[k] = a[(i + k) * sa];
        tb[k] = b[(i + k) * sb];
      }
      for (int64_t k = m; k < W; k++) ta[k] = tb[k] = 0.0f;
      vf<W> r = op.template operator()<W>(vm::load<W>(ta), vm::load<W>(tb));
      if (m == W) vm::store<W>(out + i, r);
      else vm::store_part<W>(out + i, r, m);
    }
  }
}

template <int W, class Op>
R1TS_INLINE void binary_walk(Op op, const NdIter<3>& it, const float* a, const float* b, float* out, int64_t begin, int64_t end) {
  const int64_t sa = it.inner_stride(0), sb = it.inner_stride(1);
  it.walk(begin, end, [&](const int64_t* off, int64_t len) __attribute__((always_inline)) {
    binary_inner<W>(op, a + off[0], sa, b + off[1], sb, out + off[2], len);
  });
}

template <int L>
R1TS_INLINE void binary_run_body(int op, const NdIter<3>& it, const float* a, const float* b, float* out, int64_t begin, int64_t end) {
  constexpr int W = vm::Lanes<L>::W;
  switch (op) {
    case kAdd: binary_walk<W>(OpAdd{}, it, a, b, out, begin, end); return;
    case kSub: binary_walk<W>(OpSub{}, it, a, b, out, begin, end); return;
    case kMul: binary_walk<W>(OpMul{}, it, a, b, out, begin, end); return;
    case kDiv: binary_walk<W>(OpDiv{}, it, a, b, out, begin, end); return;
    case kMax: binary_walk<W>(OpMax{}, it, a, b, out, begin, end); return;
    case kMin: binary_walk<W>(OpMin{}, it, a, b, out, begin, end); return;
    case kPow: binary_walk<W>(OpPow{}, it, a, b, out, begin, end); return;
    case kEq: binary_walk<W>(OpEq{}, it, a, b, out, begin, end); return;
    case kGt: binary_walk<W>(OpGt{}, it, a, b, out, begin, end); return;
    case kGe: binary_walk<W>(OpGe{}, it, a, b, out, begin, end); return;
    default: return;
  }
}
R1TS_MULTIVERSION(binary_run, (int op, const NdIter<3>& it, const float* a, const float* b, float* out, int64_t begin, int64_t end),
                  (op, it, a, b, out, begin, end))

// Arguments: op index, a, b, out, meta = Float64Array [rank, shape[rank], aStrides[rank], bStrides[rank]].
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const char* k = "binary";
  int op = static_cast<int>(int_arg(info, 0));
  if (op < 0 || op >= kBinaryCount) throw Napi::RangeError::New(info.Env(), "binary: unknown op index " + std::to_string(op));
  const float* a = arg_f32(info, 1, k);
  const float* b = arg_f32(info, 2, k);
  float* out = arg_f32(info, 3, k);
  size_t mlen = 0;
  const double* meta = f64_arg(info, 4, k, &mlen);
  int rank = static_cast<int>(meta[0]);
  if (rank < 0 || mlen < 1 + 3 * static_cast<size_t>(rank)) throw Napi::TypeError::New(info.Env(), "binary: malformed shape/stride block");
  // out's contiguous strides, built from the back
  double ost[64];
  double* ostp = rank <= 64 ? ost : new double[rank];
  double s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    ostp[d] = s;
    s *= meta[1 + d];
  }
  const double* strides[3] = {meta + 1 + rank, meta + 1 + 2 * rank, ostp};
  NdIter<3> it;
  bool ok = it.init(rank, meta + 1, strides);
  if (ostp != ost) delete[] ostp;
  if (!ok) throw Napi::RangeError::New(info.Env(), "binary: more than 16 dims remain after merging contiguous dims");
  int64_t grain = op == kPow ? (1 << 12) : (1 << 15);
  par_range(it.total, grain, [&](int64_t b0, int64_t e0) { binary_run(op, it, a, b, out, b0, e0); });
  return info.Env().Undefined();
}

Napi::Value OpNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array u = Napi::Array::New(env, kUnaryCount), bn = Napi::Array::New(env, kBinaryCount);
  for (int i = 0; i < kUnaryCount; i++) u.Set(static_cast<uint32_t>(i), kUnaryNames[i]);
  for (int i = 0; i < kBinaryCount; i++) bn.Set(static_cast<uint32_t>(i), kBinaryNames[i]);
  o.Set("unary", u);
  o.Set("binary", bn);
  return o;
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(unary, r1ts::Unary)
R1TS_EXPORT(binary, r1ts::Binary)
R1TS_EXPORT(opNames, r1ts::OpNames)
