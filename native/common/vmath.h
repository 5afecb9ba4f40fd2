// Vectorized float math for the native kernels, written once with GCC vector
// extensions and instantiated per CPU level: W = 16 lanes (AVX-512), 8 (AVX2+FMA)
// or 4 (portable: SSE2 on x86-64, NEON on arm64). Everything here is
// always-inline and target-neutral, so it compiles with the target attribute of
// the R1TS_MULTIVERSION copy that inlines it (dispatch.h); no intrinsics.
// exp, expm1 (x <= 0), log and tanh are accurate to a few ulp over the whole
// float range and propagate NaN; sigmoid, silu and gelu (tanh form) build on them.
// Not here: kernels, threading, scalar libm replacements.
#pragma once
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vector arguments only ever appear inside inlined code
#include <cstdint>
#include <cstring>
#include "common/dispatch.h"

namespace r1ts {
namespace vm {

template <int W> struct VecT;
#define R1TS_VECT_(N)                                             \
  template <> struct VecT<N> {                                    \
    typedef float f __attribute__((vector_size(4 * N)));          \
    typedef int32_t i __attribute__((vector_size(4 * N)));        \
    typedef double d __attribute__((vector_size(8 * N)));         \
  };
R1TS_VECT_(4)
R1TS_VECT_(8)
R1TS_VECT_(16)
#undef R1TS_VECT_

template <int W> using vf = typename VecT<W>::f;
template <int W> using vi = typename VecT<W>::i;
template <int W> using vd = typename VecT<W>::d;

/** Lanes per float vector at a dispatch level (CpuLevel). */
template <int L> struct Lanes { static constexpr int W = L >= 2 ? 16 : (L == 1 ? 8 : 4); };

// ---- loads, stores, lanes ------------------------------------------------

template <int W> R1TS_INLINE vf<W> splat(float s) {
  vf<W> v;  // not vf<W>{} + s, which turns -0 into +0
  for (int k = 0; k < W; k++) v[k] = s;
  return v;
}
template <int W> R1TS_INLINE vi<W> splati(int32_t s) { return vi<W>{} + s; }
template <int W> R1TS_INLINE vf<W> load(const float* p) {
  vf<W> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <int W> R1TS_INLINE void store(float* p, vf<W> v) { std::memcpy(p, &v, sizeof v); }
/** Loads n < W floats; the other lanes are `fill`. */
template <int W> R1TS_INLINE vf<W> load_part(const float* p, int64_t n, float fill = 0.0f) {
  float t[W];
  for (int k = 0; k < W; k++) t[k] = fill;
  std::memcpy(t, p, static_cast<size_t>(n) * sizeof(float));
  return load<W>(t);
}
/** Stores the first n < W lanes. */
template <int W> R1TS_INLINE void store_part(float* p, vf<W> v, int64_t n) {
  float t[W];
  store<W>(t, v);
  std::memcpy(p, t, static_cast<size_t>(n) * sizeof(float));
}
/** Loads c <= W floats (a full vector when c == W). */
template <int W> R1TS_INLINE vf<W> ld(const float* p, int64_t c) { return c == W ? load<W>(p) : load_part<W>(p, c); }
/** Stores the first c <= W lanes (a full vector when c == W). */
template <int W> R1TS_INLINE void st(float* p, vf<W> v, int64_t c) {
  if (c == W) store<W>(p, v);
  else store_part<W>(p, v, c);
}
template <int W> R1TS_INLINE vi<W> iota() {
  vi<W> r;
  for (int k = 0; k < W; k++) r[k] = k;
  return r;
}
/** Lanes >= n become 0 (used on partial vectors before a reduction). */
template <int W> R1TS_INLINE vf<W> keep_first(vf<W> v, int64_t n) {
  return (iota<W>() < static_cast<int32_t>(n)) ? v : splat<W>(0.0f);
}
template <int W> R1TS_INLINE vf<W> as_f(vi<W> v) { return (vf<W>)v; }
template <int W> R1TS_INLINE vi<W> as_i(vf<W> v) { return (vi<W>)v; }
/** 1.0f where the mask is set, else 0.0f. */
template <int W> R1TS_INLINE vf<W> mask_to_one(vi<W> m) { return as_f<W>(m & as_i<W>(splat<W>(1.0f))); }
template <int W> R1TS_INLINE vf<W> vabs(vf<W> x) { return as_f<W>(as_i<W>(x) & 0x7fffffff); }

/** max/min that return NaN when the first operand is NaN, else the larger/smaller (the reference's rule). */
template <int W> R1TS_INLINE vf<W> max_nan(vf<W> a, vf<W> b) { return ((a > b) | (a != a)) ? a : b; }
template <int W> R1TS_INLINE vf<W> min_nan(vf<W> a, vf<W> b) { return ((a < b) | (a != a)) ? a : b; }

// ---- horizontal reductions ------------------------------------------------

/** Σ lanes in double. */
template <int W> R1TS_INLINE double hsum_d(vf<W> v) {
  vd<W> d = __builtin_convertvector(v, vd<W>);
  double s[W];
  std::memcpy(s, &d, sizeof s);
  for (int w = W / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; k++) s[k] += s[k + w];
  return s[0];
}
template <int W> R1TS_INLINE float hsum(vf<W> v) {
  float s[W];
  store<W>(s, v);
  for (int w = W / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; k++) s[k] += s[k + w];
  return s[0];
}
/** Largest lane, NaN if any lane is NaN. */
template <int W> R1TS_INLINE float hmax_nan(vf<W> v) {
  float s[W];
  store<W>(s, v);
  float m = s[0];
  for (int k = 1; k < W; k++) m = (s[k] > m || s[k] != s[k]) ? s[k] : m;
  return m;
}
/** Largest lane ignoring NaN (like `if (v > m) m = v` from -Infinity). */
template <int W> R1TS_INLINE float hmax(vf<W> v) {
  float s[W];
  store<W>(s, v);
  float m = s[0];
  for (int k = 1; k < W; k++) m = s[k] > m ? s[k] : m;
  return m;
}

/**
 * Σ over i < n of f(i, cnt), where f returns the W-lane vector for elements i..i+cnt (cnt < W only at
 * the end; lanes >= cnt are ignored). Accumulates in float within blocks of 512 elements (two vector
 * accumulators, <= 128 terms per lane) and across blocks in double: for sums of non-negative terms
 * (Σ exp, Σ x²) the relative error stays near float precision however long the row. Sums that can
 * cancel use sum_double.
 */
template <int W, class F> R1TS_INLINE double sum_blocks(int64_t n, F f) {
  double total = 0;
  int64_t i = 0;
  while (i < n) {
    int64_t e = n - i > 512 ? i + 512 : n;
    vf<W> a0 = splat<W>(0.0f), a1 = a0;
    for (; i + 2 * W <= e; i += 2 * W) {
      a0 += f(i, W);
      a1 += f(i + W, W);
    }
    for (; i + W <= e; i += W) a0 += f(i, W);
    if (i < e) {
      a1 += keep_first<W>(f(i, e - i), e - i);
      i = e;
    }
    total += hsum_d<W>(a0 + a1);
  }
  return total;
}

/** Like sum_blocks, but every vector is widened and accumulated in double (for sums that may cancel). */
template <int W, class F> R1TS_INLINE double sum_double(int64_t n, F f) {
  vd<W> a0 = vd<W>{}, a1 = vd<W>{};
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    a0 += __builtin_convertvector(f(i, W), vd<W>);
    a1 += __builtin_convertvector(f(i + W, W), vd<W>);
  }
  for (; i + W <= n; i += W) a0 += __builtin_convertvector(f(i, W), vd<W>);
  if (i < n) a1 += __builtin_convertvector(keep_first<W>(f(i, n - i), n - i), vd<W>);
  a0 += a1;
  double s[W];
  std::memcpy(s, &a0, sizeof s);
  for (int w = W / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; k++) s[k] += s[k + w];
  return s[0];
}

/** Applies the vector function f to x[0..n) into out (out may be x); the tail goes through a padded vector. */
template <int W, class F> R1TS_INLINE void map1(const float* x, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store<W>(out + i, f(load<W>(x + i)));
  if (i < n) store_part<W>(out + i, f(load_part<W>(x + i, n - i)), n - i);
}

// ---- transcendental functions ----------------------------------------------

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits: n·kLn2Hi is exact for |n| < 2^15
constexpr float kLn2Lo = -2.12194440054690583e-4f;
constexpr float kRoundMagic = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer (|v| < 2^22)

/** 2^n for integer lanes n in [-126, 127]. */
template <int W> R1TS_INLINE vf<W> pow2i(vi<W> n) { return as_f<W>((n + 127) << 23); }

/**
 * e^x: x = n·ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r by its Taylor series to degree 7
 * (truncation < 0.1 ulp), then scaled by 2^n in two steps so results down to the subnormals are right.
 * Overflows to +Inf, underflows to 0, NaN stays NaN.
 */
template <int W> R1TS_INLINE vf<W> exp(vf<W> x) {
  vf<W> xc = x < -104.0f ? splat<W>(-104.0f) : x;
  xc = xc > 88.75f ? splat<W>(88.75f) : xc;
  vf<W> t = xc * kLog2e + kRoundMagic;
  vf<W> n = t - kRoundMagic;
  vi<W> ni = as_i<W>(t) - as_i<W>(splat<W>(kRoundMagic));
  vf<W> r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  vf<W> p = splat<W>(1.0f / 5040.0f);
  p = p * r + (1.0f / 720.0f);
  p = p * r + (1.0f / 120.0f);
  p = p * r + (1.0f / 24.0f);
  p = p * r + (1.0f / 6.0f);
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  vi<W> n1 = ni >> 1;
  return p * pow2i<W>(n1) * pow2i<W>(ni - n1);
}

/** e^x - 1 for x <= 0 (accurate near 0, where exp(x) - 1 would cancel); NaN stays NaN. */
template <int W> R1TS_INLINE vf<W> expm1_neg(vf<W> x) {
  vf<W> xc = x < -30.0f ? splat<W>(-30.0f) : x;  // e^-30 - 1 rounds to -1
  vf<W> t = xc * kLog2e + kRoundMagic;
  vf<W> n = t - kRoundMagic;
  vi<W> ni = as_i<W>(t) - as_i<W>(splat<W>(kRoundMagic));
  vf<W> r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  // e^r - 1 = r + r²·(1/2 + r/6 + ... + r^6/8!)
  vf<W> p = splat<W>(1.0f / 40320.0f);
  p = p * r + (1.0f / 5040.0f);
  p = p * r + (1.0f / 720.0f);
  p = p * r + (1.0f / 120.0f);
  p = p * r + (1.0f / 24.0f);
  p = p * r + (1.0f / 6.0f);
  p = p * r + 0.5f;
  vf<W> q = r + (r * r) * p;
  vf<W> s = pow2i<W>(ni);
  return s * q + (s - 1.0f);  // 2^n·(e^r - 1) + (2^n - 1)
}

/**
 * Natural log: x = m·2^e with m in [√½, √2), log(m) = 2·atanh(s) with s = (m-1)/(m+1), |s| <= 0.1716,
 * as an odd series to s^13. Subnormals are rescaled first. log(0) = -Inf, log(x<0) = NaN, log(Inf) = Inf.
 */
template <int W> R1TS_INLINE vf<W> log(vf<W> x) {
  vi<W> tiny = x < 1.17549435e-38f;
  vf<W> xs = tiny ? x * 8388608.0f : x;  // 2^23
  vi<W> bits = as_i<W>(xs);
  vi<W> e = ((bits >> 23) & 0xff) - 127 + (tiny & -23);
  vf<W> m = as_f<W>((bits & 0x007fffff) | 0x3f800000);
  vi<W> big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = e - big;  // big is -1 where set
  vf<W> f = m - 1.0f;
  vf<W> s = f / (f + 2.0f);
  vf<W> z = s * s;
  vf<W> R = splat<W>(1.0f / 13.0f);
  R = R * z + (1.0f / 11.0f);
  R = R * z + (1.0f / 9.0f);
  R = R * z + (1.0f / 7.0f);
  R = R * z + (1.0f / 5.0f);
  R = R * z + (1.0f / 3.0f);
  R = R * z;
  vf<W> t2 = s + s;
  vf<W> ef = __builtin_convertvector(e, vf<W>);
  vf<W> res = ef * kLn2Hi + (t2 + (t2 * R + ef * kLn2Lo));
  const float inf = __builtin_inff();
  res = (x == 0.0f) ? splat<W>(-inf) : res;
  res = (x < 0.0f) ? splat<W>(__builtin_nanf("")) : res;
  res = (x == inf) ? x : res;
  return (x != x) ? x : res;
}

/** tanh(x) = sign(x)·(-em)/(em + 2) with em = e^(-2|x|) - 1: no cancellation near 0. */
template <int W> R1TS_INLINE vf<W> tanh(vf<W> x) {
  vf<W> a = vabs<W>(x);
  vf<W> em = expm1_neg<W>(-2.0f * a);
  vf<W> t = -em / (em + 2.0f);
  return as_f<W>(as_i<W>(t) | (as_i<W>(x) & static_cast<int32_t>(0x80000000u)));
}

/** 1 / (1 + e^-x), as e^x / (1 + e^x) for x < 0 so that e^-x never overflows. */
template <int W> R1TS_INLINE vf<W> sigmoid(vf<W> x) {
  vf<W> e = exp<W>(-vabs<W>(x));
  vf<W> r = 1.0f / (1.0f + e);
  return x < 0.0f ? e * r : r;
}
/** x·sigmoid(x) */
template <int W> R1TS_INLINE vf<W> silu(vf<W> x) { return x * sigmoid<W>(x); }
/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) */
template <int W> R1TS_INLINE vf<W> gelu(vf<W> x) {
  vf<W> inner = 0.797884560802865356f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanh<W>(inner));
}

}  // namespace vm
}  // namespace r1ts
