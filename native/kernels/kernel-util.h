// Shared helpers of the elementwise/reduction/layer kernels: reading the packed
// Float64Array of sizes and strides the TS wrappers pass, collapsing a strided
// N-d iteration to its fewest dims and walking a flat range of it in inner runs,
// running a range on the pool only when it is large enough to pay, and JS-style
// number formatting for error messages.
// Not here: any kernel math (vmath.h, the kernel files), N-API registration (registry.h).
#pragma once
#include <napi.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"

namespace r1ts {
// Inline namespace: used as r1ts::name, mangled apart from any same-named helper elsewhere in the addon.
inline namespace kernel_util {

/** Typed-array arguments: registry.h's one-call helpers under the names these kernels use. */
inline float* arg_f32(const Napi::CallbackInfo& info, size_t i, const char* kernel, size_t* len = nullptr) { return f32_arg(info, i, kernel, len); }
inline int32_t* arg_i32(const Napi::CallbackInfo& info, size_t i, const char* kernel, size_t* len = nullptr) { return i32_arg(info, i, kernel, len); }

/** A Float64Array argument (the packed sizes/strides of binary and copy). */
inline const double* f64_arg(const Napi::CallbackInfo& info, size_t i, const char* kernel, size_t* len) {
  return typed_array_arg<double>(info, i, kernel, napi_float64_array, "Float64Array", len);
}

/** Formats a number as JS's String(n) does for integers (and close enough otherwise). */
inline std::string js_num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) return std::to_string(static_cast<int64_t>(v));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // shortest form that round-trips, like JS
  for (int p = 1; p <= 17; p++) {
    char b2[40];
    std::snprintf(b2, sizeof b2, "%.*g", p, v);
    if (std::strtod(b2, nullptr) == v) return b2;
  }
  return buf;
}

/**
 * Runs fn(begin, end) over [0, n): inline on the caller when n < 2·grain (no std::function, no pool),
 * else split over the pool in contiguous chunks of >= grain.
 */
template <class F> inline void par_range(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  if (n < 2 * grain || pool_threads() <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  parallel_for(n, grain, fn);
}

constexpr int kMaxRank = 16;

/**
 * A strided iteration over `shape` for K operands (strides in elements), collapsed: dims of size 1
 * dropped, adjacent dims merged where every operand is contiguous across them. rank 0 = one element.
 */
template <int K> struct NdIter {
  int rank = 0;
  int64_t total = 1;
  int64_t shape[kMaxRank];
  int64_t st[K][kMaxRank];

  /** Returns false when the collapsed rank exceeds kMaxRank. */
  bool init(int r, const double* shp, const double* const* strides) {
    rank = 0;
    total = 1;
    for (int d = 0; d < r; d++) total *= static_cast<int64_t>(shp[d]);
    if (total == 0) return true;
    for (int d = 0; d < r; d++) {
      int64_t n = static_cast<int64_t>(shp[d]);
      if (n == 1) continue;
      if (rank > 0) {
        bool merge = true;
        for (int k = 0; k < K; k++) merge = merge && st[k][rank - 1] == static_cast<int64_t>(strides[k][d]) * n;
        if (merge) {
          shape[rank - 1] *= n;
          for (int k = 0; k < K; k++) st[k][rank - 1] = static_cast<int64_t>(strides[k][d]);
          continue;
        }
      }
      if (rank == kMaxRank) return false;
      shape[rank] = n;
      for (int k = 0; k < K; k++) st[k][rank] = static_cast<int64_t>(strides[k][d]);
      rank++;
    }
    return true;
  }

  int64_t inner() const { return rank ? shape[rank - 1] : 1; }
  int64_t inner_stride(int k) const { return rank ? st[k][rank - 1] : 0; }

  /**
   * Calls run(off[K], len) for the inner runs covering flat indices [begin, end): off are the operands'
   * element offsets of the run's first element, len its length (contiguous in the flat index).
   */
  template <class F> R1TS_INLINE void walk(int64_t begin, int64_t end, F&& run) const {
    int64_t idx[kMaxRank];
    int64_t off[K];
    for (int k = 0; k < K; k++) off[k] = 0;
    int64_t rem = begin;
    for (int d = rank - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      for (int k = 0; k < K; k++) off[k] += idx[d] * st[k][d];
    }
    if (rank == 0) {
      if (begin < end) run(off, int64_t{1});
      return;
    }
    const int last = rank - 1;
    const int64_t n0 = shape[last];
    int64_t pos = begin;
    while (pos < end) {
      int64_t len = n0 - idx[last];
      if (len > end - pos) len = end - pos;
      run(off, len);
      pos += len;
      if (pos >= end) break;
      // advance to the start of the next inner run
      for (int k = 0; k < K; k++) off[k] -= idx[last] * st[k][last];
      idx[last] = 0;
      for (int d = last - 1; d >= 0; d--) {
        idx[d]++;
        for (int k = 0; k < K; k++) off[k] += st[k][d];
        if (idx[d] < shape[d]) break;
        for (int k = 0; k < K; k++) off[k] -= shape[d] * st[k][d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace kernel_util
}  // namespace r1ts
