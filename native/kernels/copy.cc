// Native strided copy (spec: copy in src/backend/ref/elementwise.ts) for
// Float32Array and Int32Array data: dst[dstOffset + idx·dstStrides] =
// src[srcOffset + idx·srcStrides]. The iteration is collapsed first
// (kernel-util.h); runs contiguous on both sides are memcpy'd, others go
// element by element. Mixed types convert as a JS typed-array store does
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

/** The data pointer and whether it is an Int32Array (else Float32Array); throws TypeError otherwise. */
void* typed_data(const Napi::CallbackInfo& info, size_t i, bool* is_int) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) {
      *is_int = false;
      return v.As<Napi::Float32Array>().Data();
    }
    if (t == napi_int32_array) {
      *is_int = true;
      return v.As<Napi::Int32Array>().Data();
    }
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
  par_range(it.total, 1 << 15, [&](int64_t b, int64_t e) { copy_run(kind, it, s, d, b, e); });
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(copy, r1ts::Copy)
