// Native strided copy (spec: copy in src/backend/ref/elementwise.ts) for
// Float32Array and Int32Array data: dst[dstOffset + idx·dstStrides] =
// src[srcOffset + idx·srcStrides]. The iteration is collapsed first
// (kernel-util.h); runs contiguous on both sides are memcpy'd, 2-d transposes
// (also batched) go in cache tiles, others element by element. Mixed types convert as a JS typed-array store does
// (int → float; float → int by ToInt32: truncate, wrap mod 2^32, NaN/±Inf → 0).
// Not here: elementwise math (elementwise.cc).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

inline int32_t js_to_int32(float v) {
  if (!std::isfinite(v)) return 0;
  double t = std::trunc(static_cast<double>(v));
  double m = std::fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

struct Same { R1TS_INLINE uint32_t operator()(uint32_t v) const { return v; } };
struct IntToFloat { R1TS_INLINE float operator()(int32_t v) const { return static_cast<float>(v); } };
struct FloatToInt { R1TS_INLINE int32_t operator()(float v) const { return js_to_int32(v); } };

template <class S, class D, class Cv>
R1TS_INLINE void copy_walk(Cv cv, const NdIter<2>& it, const S* src, D* dst, int64_t begin, int64_t end) {
  const int64_t ss = it.inner_stride(0), sd = it.inner_stride(1);
  it.walk(begin, end, [&](const int64_t* off, int64_t len) __attribute__((always_inline)) {
    const S* s = src + off[0];
    D* d = dst + off[1];
    if (ss == 1 && sd == 1) {
      if constexpr (std::is_same<Cv, Same>::value) {
        std::memcpy(d, s, static_cast<size_t>(len) * sizeof(S));
      } else {
        for (int64_t i = 0; i < len; i++) d[i] = cv(s[i]);
      }
    } else if (sd == 1) {
      for (int64_t i = 0; i < len; i++) d[i] = cv(s[i * ss]);
    } else {
      for (int64_t i = 0; i < len; i++) d[i * sd] = cv(s[i * ss]);
    }
  });
}

enum Kind { kSame = 0, kI2F = 1, kF2I = 2 };

template <int L>
R1TS_INLINE void copy_run_body(int kind, const NdIter<2>& it, const void* src, void* dst, int64_t begin, int64_t end) {
  switch (kind) {
    case kSame: copy_walk(Same{}, it, static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), begin, end); return;
    case kI2F: copy_walk(IntToFloat{}, it, static_cast<const int32_t*>(src), static_cast<float*>(dst), begin, end); return;
    default: copy_walk(FloatToInt{}, it, static_cast<const float*>(src), static_cast<int32_t*>(dst), begin, end); return;
  }
}
R1TS_MULTIVERSION(copy_run, (int kind, const NdIter<2>& it, const void* src, void* dst, int64_t begin, int64_t end),
                  (kind, it, src, dst, begin, end))

// Transposing copies (dst contiguous along the last dim, src contiguous along the one before) go
// tile by tile so both sides stay in cache: task t = (outer slice, band of kTile rows of dim rank-2).
constexpr int64_t kTile = 64;

/** True when the collapsed iteration is a batch of 2-d transposes worth tiling. */
bool is_transpose(const NdIter<2>& it) {
  if (it.rank < 2) return false;
  const int l = it.rank - 1;
  return it.st[1][l] == 1 && it.st[0][l] != 1 && it.st[0][l - 1] == 1 && it.shape[l] >= kTile && it.shape[l - 1] >= kTile;
}

template <class S, class D, class Cv>
R1TS_INLINE void transpose_tasks(Cv cv, const NdIter<2>& it, const S* src, D* dst, int64_t t0, int64_t t1) {
  const int l = it.rank - 1;
  const int64_t n0 = it.shape[l], n1 = it.shape[l - 1];
  const int64_t s0 = it.st[0][l], d1 = it.st[1][l - 1];
  const int64_t bands = (n1 + kTile - 1) / kTile;
  for (int64_t t = t0; t < t1; t++) {
    int64_t o = t / bands, b = (t % bands) * kTile;
    int64_t so = 0, dof = 0;
    for (int d = l - 2; d >= 0; d--) {
      int64_t i = o % it.shape[d];
      o /= it.shape[d];
      so += i * it.st[0][d];
      dof += i * it.st[1][d];
    }
    const int64_t be = b + kTile < n1 ? b + kTile : n1;
    // Through a kTile×kTile buffer: power-of-two strides would make the lines of a direct tile
    // collide in the same cache sets; here each side is read or written in contiguous runs.
    S buf[kTile][kTile];
    const int64_t nb = be - b;
    for (int64_t c = 0; c < n0; c += kTile) {
      const int64_t nc = c + kTile < n0 ? kTile : n0 - c;
      for (int64_t j = 0; j < nc; j++) {
        const S* sp = src + so + (c + j) * s0 + b;
        for (int64_t i = 0; i < nb; i++) buf[j][i] = sp[i];
      }
      for (int64_t i = 0; i < nb; i++) {
        D* dp = dst + dof + (b + i) * d1 + c;
        for (int64_t j = 0; j < nc; j++) dp[j] = cv(buf[j][i]);
      }
    }
  }
}

template <int L>
R1TS_INLINE void copy_transpose_body(int kind, const NdIter<2>& it, const void* src, void* dst, int64_t t0, int64_t t1) {
  switch (kind) {
    case kSame: transpose_tasks(Same{}, it, static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), t0, t1); return;
    case kI2F: transpose_tasks(IntToFloat{}, it, static_cast<const int32_t*>(src), static_cast<float*>(dst), t0, t1); return;
    default: transpose_tasks(FloatToInt{}, it, static_cast<const float*>(src), static_cast<int32_t*>(dst), t0, t1); return;
  }
}
R1TS_MULTIVERSION(copy_transpose, (int kind, const NdIter<2>& it, const void* src, void* dst, int64_t t0, int64_t t1),
                  (kind, it, src, dst, t0, t1))

/** The data pointer and whether it is an Int32Array (else Float32Array); throws TypeError otherwise. */
void* typed_data(const Napi::CallbackInfo& info, size_t i, bool* is_int) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_status st = napi_get_typedarray_info(info.Env(), info[i], &type, &length, &data, nullptr, nullptr);
  if (st == napi_ok && (type == napi_float32_array || type == napi_int32_array)) {
    *is_int = type == napi_int32_array;
    return data;
  }
  throw Napi::TypeError::New(info.Env(), "copy: argument " + std::to_string(i) + " must be a Float32Array or an Int32Array");
}

// Arguments: src, dst, meta = Float64Array [rank, srcOffset, dstOffset, shape[rank], srcStrides[rank], dstStrides[rank]].
Napi::Value Copy(const Napi::CallbackInfo& info) {
  const char* k = "copy";
  bool src_int = false, dst_int = false;
  void* src = typed_data(info, 0, &src_int);
  void* dst = typed_data(info, 1, &dst_int);
  size_t mlen = 0;
  const double* meta = f64_arg(info, 2, k, &mlen);
  int rank = static_cast<int>(meta[0]);
  if (rank < 0 || mlen < 3 + 3 * static_cast<size_t>(rank)) throw Napi::TypeError::New(info.Env(), "copy: malformed shape/stride block");
  int64_t so = static_cast<int64_t>(meta[1]), dof = static_cast<int64_t>(meta[2]);
  const double* strides[2] = {meta + 3 + rank, meta + 3 + 2 * rank};
  NdIter<2> it;
  if (!it.init(rank, meta + 3, strides)) throw Napi::RangeError::New(info.Env(), "copy: more than 16 dims remain after merging contiguous dims");
  int kind = src_int == dst_int ? kSame : (src_int ? kI2F : kF2I);
  const char* s = static_cast<const char*>(src) + so * 4;
  char* d = static_cast<char*>(dst) + dof * 4;
  if (is_transpose(it)) {
    const int l = it.rank - 1;
    const int64_t bands = (it.shape[l - 1] + kTile - 1) / kTile;
    const int64_t tasks = it.total / (it.shape[l] * it.shape[l - 1]) * bands;
    const int64_t grain = (1 << 15) / (kTile * it.shape[l]) + 1;
    par_range(tasks, grain, [&](int64_t b, int64_t e) { copy_transpose(kind, it, s, d, b, e); });
    return info.Env().Undefined();
  }
  par_range(it.total, 1 << 15, [&](int64_t b, int64_t e) { copy_run(kind, it, s, d, b, e); });
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(copy, r1ts::Copy)
