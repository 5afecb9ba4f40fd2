// Native embedding lookup and its backward (spec: src/backend/ref/nn.ts).
// Ids are validated before any work starts (RangeError with the reference's
// message). The backward pass accumulates dout rows into dtable; rows that hit
// the same id must not race, so threads split the embedding dim (each owns a
// column range of every row, 64-byte aligned) instead of the ids: no atomics,
// and the sum order per element is the reference's. Not here: weight tying.
#include <cstdint>
#include <cstring>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

/** Throws the reference's RangeError for the first id outside [0, rows). */
void check_ids(const Napi::CallbackInfo& info, const char* what, const int32_t* ids, size_t ids_len, int64_t n, int64_t rows) {
  if (static_cast<int64_t>(ids_len) < n)
    throw Napi::RangeError::New(info.Env(), std::string(what) + ": ids has " + std::to_string(ids_len) + " entries, fewer than n = " + std::to_string(n));
  for (int64_t i = 0; i < n; i++) {
    const int32_t id = ids[i];
    if (id < 0 || id >= rows)
      throw Napi::RangeError::New(info.Env(), std::string(what) + ": id " + std::to_string(id) + " at position " + std::to_string(i) +
                                                  " is outside the table [0, " + std::to_string(rows) + ")");
  }
}

template <int L>
R1TS_INLINE void emb_back_cols_body(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim, int64_t d0, int64_t d1) {
  const int64_t w = d1 - d0;
  for (int64_t i = 0; i < n; i++) {
    const float* src = dout + i * dim + d0;
    float* dst = dtable + static_cast<int64_t>(ids[i]) * dim + d0;
#pragma omp simd
    for (int64_t j = 0; j < w; j++) dst[j] += src[j];
  }
}
R1TS_MULTIVERSION(emb_back_cols, (const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim, int64_t d0, int64_t d1),
                  (ids, dout, dtable, n, dim, d0, d1))

// (table, ids, out, n, dim)
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  const char* k = "embedding";
  size_t tlen = 0, ilen = 0;
  const float* table = arg_f32(info, 0, k, &tlen);
  const int32_t* ids = arg_i32(info, 1, k, &ilen);
  float* out = arg_f32(info, 2, k);
  int64_t n = int_arg(info, 3), dim = int_arg(info, 4);
  if (n <= 0 || dim <= 0) return info.Env().Undefined();
  check_ids(info, "embedding", ids, ilen, n, static_cast<int64_t>(tlen) / dim);
  int64_t grain = (1 << 15) / dim + 1;
  par_range(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) std::memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, static_cast<size_t>(dim) * sizeof(float));
  });
  return info.Env().Undefined();
}

// (ids, dout, dtable, n, dim)
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  const char* k = "embeddingBackward";
  size_t ilen = 0, tlen = 0;
  const int32_t* ids = arg_i32(info, 0, k, &ilen);
  const float* dout = arg_f32(info, 1, k);
  float* dtable = arg_f32(info, 2, k, &tlen);
  int64_t n = int_arg(info, 3), dim = int_arg(info, 4);
  if (n <= 0 || dim <= 0) return info.Env().Undefined();
  check_ids(info, "embedding backward", ids, ilen, n, static_cast<int64_t>(tlen) / dim);
  constexpr int64_t kColBlock = 16;  // 64 bytes: threads never share a cache line of dtable rows' interiors
  const int64_t blocks = (dim + kColBlock - 1) / kColBlock;
  int nt = pool_threads();
  if (n * dim < (1 << 15)) nt = 1;
  if (blocks < nt) nt = static_cast<int>(blocks);
  if (nt <= 1) {
    emb_back_cols(ids, dout, dtable, n, dim, 0, dim);
  } else {
    parallel_run(nt, [&](int tid, int t) {
      int64_t b = blocks * tid / t * kColBlock, e = blocks * (tid + 1) / t * kColBlock;
      if (e > dim) e = dim;
      if (b < e) emb_back_cols(ids, dout, dtable, n, dim, b, e);
    });
  }
  return info.Env().Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(embedding, r1ts::Embedding)
R1TS_EXPORT(embeddingBackward, r1ts::EmbeddingBackward)
