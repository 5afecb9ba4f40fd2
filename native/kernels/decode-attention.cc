// Decode attention: one new query row per sequence against that sequence's KV cache, for every
// row of the batch in one native call (the decode step of src/nn/decode.ts). Three entry points:
//   decodeAttention  q [B, Hq, D] over k [B, Tmax, Hkv, D], v [B, Tmax, Hkv, Dv] (the KVCache
//                    buffers) → out [B, Hq, Dv]; per (b, kv head) the G = Hq / Hkv query heads
//                    share each key/value read; s = scale·q·k over keys j < lens[b], softmax, Σ p·v.
//   decodeGqa        Llama/Qwen2's step: RoPE on the new q and k rows, k and v appended to the
//                    cache at row starts[b], then decodeAttention.
//   decodeMla        DeepSeek-V3's absorbed MLA step between the projections: RMSNorm + RoPE of
//                    the latent row appended to the latent cache, q_nope absorbed through W_UK,
//                    attention over the latent (values read from the keys' latent part, one
//                    stream of rows), the result through W_UV.
//   decodeMlaNaive   the same step for MLA's naive path, whose cache holds per-head keys
//                    [k_nope ‖ k_pe] and values: the latent up-projected through W_kvb, appended,
//                    then per-head attention.
// Each task walks its sequence's cached rows in order (all its heads per row), so cache reads
// stream: at batch 64 the step is bound by reading the cache, not by arithmetic.
// lens[b] = 0 gives out = 0. Tasks run over the thread pool when the work pays for waking it.
// Spec: src/backend/ref/decode.ts (the same math, the oracle of the tests).
// Not here: prefill or training attention (kernels/attention.cc: many query rows, causal
// masks, backward), split-K over very long caches, the projections (GEMMs, called from TS).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

using vm::ld;
using vm::st;
using vm::vf;

// Scratch per thread, grow-only: scores, accumulators, rotated/absorbed queries.
inline float* decode_scratch(size_t n) {
  thread_local std::vector<float> s;
  if (s.size() < n) s.resize(n);
  return s.data();
}

/** Σ lanes by halving (vector adds down to 4 lanes): cheaper than a scalar tree per dot product. */
template <int W> R1TS_INLINE float hsum_fast(vf<W> v) {
  if constexpr (W > 4) {
    vf<W / 2> lo, hi;
    std::memcpy(&lo, &v, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    return hsum_fast<W / 2>(lo + hi);
  } else {
    return (v[0] + v[2]) + (v[1] + v[3]);
  }
}

/** q·k over D floats. */
template <int W> R1TS_INLINE float dot(const float* q, const float* k, int64_t D) {
  vf<W> a0 = vm::splat<W>(0.0f), a1 = a0;
  int64_t i = 0;
  for (; i + 2 * W <= D; i += 2 * W) {
    a0 += vm::load<W>(q + i) * vm::load<W>(k + i);
    a1 += vm::load<W>(q + i + W) * vm::load<W>(k + i + W);
  }
  for (; i + W <= D; i += W) a0 += vm::load<W>(q + i) * vm::load<W>(k + i);
  if (i < D) a1 += vm::load_part<W>(q + i, D - i) * vm::load_part<W>(k + i, D - i);
  return hsum_fast<W>(a0 + a1);
}

/**
 * Attention for one sequence of the query heads of nkv consecutive kv heads (G query heads each):
 * query i (qg + i·D) reads kv head i / G, whose key for row j is at kb + j·ks + (i / G)·D (D floats)
 * and value at vb + j·vs + (i / G)·Dv (Dv floats); out o [nkv·G][Dv]; s is scratch of nkv·G·n floats.
 * The cached rows are walked in order (row j of every head before row j + 1), so the reads stream
 * through memory, a few rows ahead prefetched. n == 0 gives 0.
 */
template <int W>
R1TS_INLINE void attend_heads(const float* qg, int64_t G, int64_t nkv, int64_t D, const float* kb, int64_t ks, const float* vb, int64_t vs,
                              int64_t Dv, int64_t n, float scale, float* o, float* s) {
  const int64_t nq = nkv * G;
  for (int64_t i = 0; i < nq * Dv; i++) o[i] = 0.0f;
  if (n <= 0) return;
  // Rows ahead are prefetched (a row of all heads spans many cache lines; the hardware prefetcher
  // alone stalls on the jumps between sequences' rows).
  const int64_t kbytes = (nkv * D) * 4, vbytes = (nkv * Dv) * 4;
  for (int64_t j = 0; j < n; j++) {
    const float* kj = kb + j * ks;
    if (j + 4 < n) for (int64_t o = 0; o < kbytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(kj + 4 * ks) + o);
    else for (int64_t o = 0; o < vbytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(vb + (j + 4 - n) * vs) + o);
    for (int64_t i = 0; i < nq; i++) s[i * n + j] = dot<W>(qg + i * D, kj + (i / G) * D, D) * scale;
  }
  // Softmax per query (max-subtracted), normalized in place.
  for (int64_t i = 0; i < nq; i++) {
    float* sr = s + i * n;
    float m = -INFINITY;
    for (int64_t t = 0; t < n; t++) m = (sr[t] > m || sr[t] != sr[t]) ? sr[t] : m;
    const double sum = vm::sum_blocks<W>(n, [&](int64_t j, int64_t c) __attribute__((always_inline)) {
      vf<W> e = vm::exp<W>(ld<W>(sr + j, c) - m);
      st<W>(sr + j, e, c);
      return e;
    });
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t t = 0; t < n; t++) sr[t] *= inv;
  }
  for (int64_t j = 0; j < n; j++) {
    const float* vj = vb + j * vs;
    if (j + 4 < n) for (int64_t o = 0; o < vbytes; o += 64) __builtin_prefetch(reinterpret_cast<const char*>(vj + 4 * vs) + o);
    for (int64_t i = 0; i < nq; i++) {
      const vf<W> p = vm::splat<W>(s[i * n + j]);
      const float* v = vj + (i / G) * Dv;
      float* oi = o + i * Dv;
      int64_t c = 0;
      for (; c + W <= Dv; c += W) vm::store<W>(oi + c, vm::load<W>(oi + c) + p * vm::load<W>(v + c));
      if (c < Dv) vm::store_part<W>(oi + c, vm::load_part<W>(oi + c, Dv - c) + p * vm::load_part<W>(v + c, Dv - c), Dv - c);
    }
  }
}

/**
 * Tasks per step: whole sequences when there are enough of them (each task streams its sequence's
 * rows), else one (sequence, kv head) pair per task (more tasks for the pool on small batches).
 */
inline int64_t kv_spans(int64_t B, int64_t Hkv) { return B >= 16 ? 1 : Hkv; }

/** Rotates the first 2·half dims of x (D floats) in place by the table rows c, s (the rope kernel's math). */
R1TS_INLINE void rotate(float* x, const float* c, const float* s, int64_t half, bool interleaved) {
  for (int64_t i = 0; i < half; i++) {
    const int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
    const float x1 = x[i1], x2 = x[i2];
    x[i1] = x1 * c[i] - x2 * s[i];
    x[i2] = x1 * s[i] + x2 * c[i];
  }
}

// ---------------------------------------------------------------------------------------------
// decodeAttention: q [B, Hq, D], k [B, Tmax, Hkv, D], v [B, Tmax, Hkv, Dv] → out [B, Hq, Dv].
struct DecodeAttn {
  int64_t B, Tmax, Hq, Hkv, D, Dv, G;
  float scale;
  const float *q, *k, *v;
  const int32_t* lens;
  float* out;
};

template <int L>
R1TS_INLINE void decode_attn_tasks_body(const DecodeAttn* a, int64_t t0, int64_t t1) {
  constexpr int W = vm::Lanes<L>::W;
  const int64_t G = a->G, spans = kv_spans(a->B, a->Hkv), per = a->Hkv / spans;
  for (int64_t task = t0; task < t1; task++) {
    const int64_t b = task / spans, hk = task % spans * per, n = a->lens[b];
    float* s = decode_scratch(static_cast<size_t>(per * G * n));
    attend_heads<W>(a->q + (b * a->Hq + hk * G) * a->D, G, per, a->D, a->k + (b * a->Tmax * a->Hkv + hk) * a->D, a->Hkv * a->D,
                    a->v + (b * a->Tmax * a->Hkv + hk) * a->Dv, a->Hkv * a->Dv, a->Dv, n, a->scale, a->out + (b * a->Hq + hk * G) * a->Dv, s);
  }
}
R1TS_MULTIVERSION(decode_attn_tasks, (const DecodeAttn* a, int64_t t0, int64_t t1), (a, t0, t1))

// ---------------------------------------------------------------------------------------------
// decodeGqa: rope on the new q/k rows, k/v appended to the cache at starts[b], then attention.
struct DecodeGqa {
  int64_t B, Tmax, Hq, Hkv, D, Dv, G, half;
  bool interleaved;
  float scale;
  const float *q, *k, *v, *cos, *sin;
  const int32_t *pos, *starts, *lens;
  float *ck, *cv, *out;
};

template <int L>
R1TS_INLINE void decode_gqa_tasks_body(const DecodeGqa* a, int64_t t0, int64_t t1) {
  constexpr int W = vm::Lanes<L>::W;
  const int64_t G = a->G, D = a->D, Dv = a->Dv, spans = kv_spans(a->B, a->Hkv), per = a->Hkv / spans;
  for (int64_t task = t0; task < t1; task++) {
    const int64_t b = task / spans, hk0 = task % spans * per, n = a->lens[b];
    const float* c = a->cos + static_cast<int64_t>(a->pos[b]) * a->half;
    const float* sn = a->sin + static_cast<int64_t>(a->pos[b]) * a->half;
    // Append the rotated keys and the values of kv heads hk0 .. hk0 + per - 1 at row starts[b].
    for (int64_t hk = hk0; hk < hk0 + per; hk++) {
      float* kd = a->ck + ((b * a->Tmax + a->starts[b]) * a->Hkv + hk) * D;
      std::memcpy(kd, a->k + (b * a->Hkv + hk) * D, sizeof(float) * D);
      rotate(kd, c, sn, a->half, a->interleaved);
      std::memcpy(a->cv + ((b * a->Tmax + a->starts[b]) * a->Hkv + hk) * Dv, a->v + (b * a->Hkv + hk) * Dv, sizeof(float) * Dv);
    }
    const int64_t nq = per * G;
    float* s = decode_scratch(static_cast<size_t>(nq * D + nq * n));
    float* qg = s + nq * n;
    std::memcpy(qg, a->q + (b * a->Hq + hk0 * G) * D, sizeof(float) * nq * D);
    for (int64_t i = 0; i < nq; i++) rotate(qg + i * D, c, sn, a->half, a->interleaved);
    attend_heads<W>(qg, G, per, D, a->ck + (b * a->Tmax * a->Hkv + hk0) * D, a->Hkv * D, a->cv + (b * a->Tmax * a->Hkv + hk0) * Dv, a->Hkv * Dv, Dv,
                    n, a->scale, a->out + (b * a->Hq + hk0 * G) * Dv, s);
  }
}
R1TS_MULTIVERSION(decode_gqa_tasks, (const DecodeGqa* a, int64_t t0, int64_t t1), (a, t0, t1))

// ---------------------------------------------------------------------------------------------
// decodeMla: MLA's absorbed decode between the projections, per sequence b:
//   c = rmsnorm(kv[b, :R])·w;  kpe = rope(kv[b, R:]);  cache k[b, starts[b]] = [c ‖ kpe], v = c;
//   per head h: qf[h] = [q_nope[h]·W_UK[h] ‖ rope(q_pe[h])];  ol[h] = attention over the latent;
//   out[b, h] = W_UV[h]·ol[h]   with wkvB [H, Dn + Dv, R] (W_UK = rows 0..Dn-1, W_UV = rows Dn..).
struct DecodeMla {
  int64_t B, Tmax, H, Dn, Dr, Dv, R;
  bool interleaved;
  float scale, eps;
  const float *q, *kv, *normw, *cos, *sin, *wkvb;
  const int32_t *pos, *starts, *lens;
  float *ck, *cv, *out;
};

template <int L>
R1TS_INLINE void decode_mla_tasks_body(const DecodeMla* a, int64_t t0, int64_t t1) {
  constexpr int W = vm::Lanes<L>::W;
  const int64_t H = a->H, Dn = a->Dn, Dr = a->Dr, Dv = a->Dv, R = a->R, Dk = R + Dr, half = Dr / 2;
  for (int64_t b = t0; b < t1; b++) {
    const int64_t n = a->lens[b];
    const float* c = a->cos + static_cast<int64_t>(a->pos[b]) * half;
    const float* sn = a->sin + static_cast<int64_t>(a->pos[b]) * half;
    // The latent row: RMSNorm (the rmsnorm kernel's math: Σx² in double), then the rotary key.
    const float* kvr = a->kv + b * (R + Dr);
    float* kd = a->ck + (b * a->Tmax + a->starts[b]) * Dk;
    float* vd = a->cv + (b * a->Tmax + a->starts[b]) * R;
    const double ss = vm::sum_blocks<W>(R, [&](int64_t i, int64_t cnt) __attribute__((always_inline)) {
      vf<W> x = ld<W>(kvr + i, cnt);
      return x * x;
    });
    const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(R) + static_cast<double>(a->eps)));
    for (int64_t i = 0; i < R; i++) kd[i] = vd[i] = kvr[i] * rs * a->normw[i];
    std::memcpy(kd + R, kvr + R, sizeof(float) * Dr);
    rotate(kd + R, c, sn, half, a->interleaved);
    // Absorbed queries qf [H][R + Dr].
    float* s = decode_scratch(static_cast<size_t>(H * Dk + H * R + H * n));
    float* qf = s + H * n;
    float* ol = qf + H * Dk;
    for (int64_t h = 0; h < H; h++) {
      const float* qh = a->q + (b * H + h) * (Dn + Dr);
      float* qo = qf + h * Dk;
      for (int64_t i = 0; i < R; i++) qo[i] = 0.0f;
      for (int64_t d = 0; d < Dn; d++) {
        const vf<W> x = vm::splat<W>(qh[d]);
        const float* wr = a->wkvb + (h * (Dn + Dv) + d) * R;
        int64_t i = 0;
        for (; i + W <= R; i += W) vm::store<W>(qo + i, vm::load<W>(qo + i) + x * vm::load<W>(wr + i));
        if (i < R) vm::store_part<W>(qo + i, vm::load_part<W>(qo + i, R - i) + x * vm::load_part<W>(wr + i, R - i), R - i);
      }
      std::memcpy(qo + R, qh + Dn, sizeof(float) * Dr);
      rotate(qo + R, c, sn, half, a->interleaved);
    }
    // Values are the latent part of the cached keys (cacheV holds the same floats): one stream of rows.
    attend_heads<W>(qf, H, 1, Dk, a->ck + b * a->Tmax * Dk, Dk, a->ck + b * a->Tmax * Dk, Dk, R, n, a->scale, ol, s);
    // Out: per head, W_UV[h] [Dv, R] times the attended latent.
    for (int64_t h = 0; h < H; h++) {
      const float* oh = ol + h * R;
      float* o = a->out + (b * H + h) * Dv;
      for (int64_t e = 0; e < Dv; e++) {
        const float* wr = a->wkvb + (h * (Dn + Dv) + Dn + e) * R;
        vf<W> d0 = vm::splat<W>(0.0f);
        int64_t i = 0;
        for (; i + W <= R; i += W) d0 += vm::load<W>(oh + i) * vm::load<W>(wr + i);
        if (i < R) d0 += vm::load_part<W>(oh + i, R - i) * vm::load_part<W>(wr + i, R - i);
        o[e] = vm::hsum<W>(d0);
      }
    }
  }
}
R1TS_MULTIVERSION(decode_mla_tasks, (const DecodeMla* a, int64_t t0, int64_t t1), (a, t0, t1))

// ---------------------------------------------------------------------------------------------
// decodeMlaNaive: MLA's naive decode step (the cache holds per-head keys and values), per b:
//   c = rmsnorm(kv[b, :R])·w;  [k_nope ‖ v][h] = W_kvb[h]·c;  kpe = rope(kv[b, R:]);
//   cache k[b, starts[b], h] = [k_nope[h] ‖ kpe], v[b, starts[b], h] = v[h];
//   q[h] = [q_nope[h] ‖ rope(q_pe[h])];  out[b, h] = attention of q[h] over head h's cached rows.
template <int L>
R1TS_INLINE void decode_mla_naive_tasks_body(const DecodeMla* a, int64_t t0, int64_t t1) {
  constexpr int W = vm::Lanes<L>::W;
  const int64_t H = a->H, Dn = a->Dn, Dr = a->Dr, Dv = a->Dv, R = a->R, Dk = Dn + Dr, half = Dr / 2;
  for (int64_t b = t0; b < t1; b++) {
    const int64_t n = a->lens[b];
    const float* c = a->cos + static_cast<int64_t>(a->pos[b]) * half;
    const float* sn = a->sin + static_cast<int64_t>(a->pos[b]) * half;
    float* s = decode_scratch(static_cast<size_t>(H * n + H * Dk + R + Dr));
    float* qf = s + H * n;  // [H][Dn + Dr]
    float* lat = qf + H * Dk;  // [R] normalized latent, then [Dr] rotated k_pe
    float* kpe = lat + R;
    const float* kvr = a->kv + b * (R + Dr);
    const double ss = vm::sum_blocks<W>(R, [&](int64_t i, int64_t cnt) __attribute__((always_inline)) {
      vf<W> x = ld<W>(kvr + i, cnt);
      return x * x;
    });
    const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(R) + static_cast<double>(a->eps)));
    for (int64_t i = 0; i < R; i++) lat[i] = kvr[i] * rs * a->normw[i];
    std::memcpy(kpe, kvr + R, sizeof(float) * Dr);
    rotate(kpe, c, sn, half, a->interleaved);
    float* kd = a->ck + (b * a->Tmax + a->starts[b]) * H * Dk;
    float* vd = a->cv + (b * a->Tmax + a->starts[b]) * H * Dv;
    for (int64_t h = 0; h < H; h++) {
      for (int64_t d = 0; d < Dn + Dv; d++) {
        const float up = dot<W>(lat, a->wkvb + (h * (Dn + Dv) + d) * R, R);
        if (d < Dn) kd[h * Dk + d] = up;
        else vd[h * Dv + d - Dn] = up;
      }
      std::memcpy(kd + h * Dk + Dn, kpe, sizeof(float) * Dr);
      std::memcpy(qf + h * Dk, a->q + (b * H + h) * Dk, sizeof(float) * Dk);
      rotate(qf + h * Dk + Dn, c, sn, half, a->interleaved);
    }
    attend_heads<W>(qf, 1, H, Dk, a->ck + b * a->Tmax * H * Dk, H * Dk, a->cv + b * a->Tmax * H * Dv, H * Dv, Dv, n, a->scale, a->out + b * H * Dv, s);
  }
}
R1TS_MULTIVERSION(decode_mla_naive_tasks, (const DecodeMla* a, int64_t t0, int64_t t1), (a, t0, t1))

// ---------------------------------------------------------------------------------------------
// Argument checks (on the JS thread, before any work).

struct Lens {
  const Napi::CallbackInfo& info;
  const char* kernel;
  void need(const char* what, size_t have, int64_t want) const {
    if (static_cast<int64_t>(have) < want) {
      throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": " + what + " has " + std::to_string(have) + " elements, needs " +
                                                  std::to_string(want));
    }
  }
  /** Each lens[b] in [0, Tmax]; returns Σ lens. */
  int64_t visible(const int32_t* lens, int64_t B, int64_t Tmax) const {
    int64_t sum = 0;
    for (int64_t b = 0; b < B; b++) {
      if (lens[b] < 0 || lens[b] > Tmax) {
        throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": lens[" + std::to_string(b) + "] = " + std::to_string(lens[b]) +
                                                    " is outside [0, " + std::to_string(Tmax) + "]");
      }
      sum += lens[b];
    }
    return sum;
  }
  /** Each starts[b] a cache row (< Tmax) and each pos[b] a table row (< maxPos). */
  void rows(const int32_t* starts, const int32_t* pos, int64_t B, int64_t Tmax, int64_t maxPos) const {
    for (int64_t b = 0; b < B; b++) {
      if (starts[b] < 0 || starts[b] >= Tmax) {
        throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": starts[" + std::to_string(b) + "] = " + std::to_string(starts[b]) +
                                                    " is outside the cache's rows [0, " + std::to_string(Tmax) + ")");
      }
      if (pos[b] < 0 || pos[b] >= maxPos) {
        throw Napi::RangeError::New(info.Env(), std::string(kernel) + ": position " + std::to_string(pos[b]) + " at row " + std::to_string(b) +
                                                    " is outside the table [0, " + std::to_string(maxPos) + ")");
      }
    }
  }
};

/** Grain (tasks per chunk) so that each pool chunk holds ~2^16 multiply-adds: waking the pool costs microseconds. */
inline int64_t grain_for(int64_t tasks, int64_t macs) { return std::max<int64_t>(1, tasks * (int64_t{1} << 16) / std::max<int64_t>(macs, 1)); }

// decodeAttention(q, k, v, out, lens, B, Tmax, Hq, Hkv, D, Dv, scale)
Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  const Lens chk{info, "decodeAttention"};
  size_t lq = 0, lk = 0, lv = 0, lo = 0, ll = 0;
  DecodeAttn a{};
  a.q = arg_f32(info, 0, chk.kernel, &lq);
  a.k = arg_f32(info, 1, chk.kernel, &lk);
  a.v = arg_f32(info, 2, chk.kernel, &lv);
  a.out = arg_f32(info, 3, chk.kernel, &lo);
  a.lens = arg_i32(info, 4, chk.kernel, &ll);
  a.B = int_arg(info, 5), a.Tmax = int_arg(info, 6), a.Hq = int_arg(info, 7), a.Hkv = int_arg(info, 8), a.D = int_arg(info, 9), a.Dv = int_arg(info, 10);
  a.scale = static_cast<float>(num_arg(info, 11));
  if (a.B < 0 || a.Tmax < 0 || a.Hq < 1 || a.Hkv < 1 || a.D < 1 || a.Dv < 1 || a.Hq % a.Hkv != 0) {
    throw Napi::RangeError::New(info.Env(), "decodeAttention: expected B, Tmax >= 0, D, Dv >= 1 and Hq a positive multiple of Hkv; got B " +
                                                std::to_string(a.B) + ", Tmax " + std::to_string(a.Tmax) + ", Hq " + std::to_string(a.Hq) + ", Hkv " +
                                                std::to_string(a.Hkv) + ", D " + std::to_string(a.D) + ", Dv " + std::to_string(a.Dv));
  }
  a.G = a.Hq / a.Hkv;
  chk.need("q", lq, a.B * a.Hq * a.D);
  chk.need("k", lk, a.B * a.Tmax * a.Hkv * a.D);
  chk.need("v", lv, a.B * a.Tmax * a.Hkv * a.Dv);
  chk.need("out", lo, a.B * a.Hq * a.Dv);
  chk.need("lens", ll, a.B);
  const int64_t macs = chk.visible(a.lens, a.B, a.Tmax) * a.Hq * (a.D + a.Dv);
  const int64_t tasks = a.B * kv_spans(a.B, a.Hkv);
  par_range(tasks, grain_for(tasks, macs), [&](int64_t t0, int64_t t1) { decode_attn_tasks(&a, t0, t1); });
  return info.Env().Undefined();
}

// decodeGqa(q, k, v, cos, sin, pos, cacheK, cacheV, starts, lens, out, B, Tmax, Hq, Hkv, D, Dv, rotaryDim, interleaved, scale)
Napi::Value DecodeGqaFn(const Napi::CallbackInfo& info) {
  const Lens chk{info, "decodeGqa"};
  size_t lq = 0, lk = 0, lv = 0, lc = 0, ls = 0, lp = 0, lck = 0, lcv = 0, lst = 0, ll = 0, lo = 0;
  DecodeGqa a{};
  a.q = arg_f32(info, 0, chk.kernel, &lq);
  a.k = arg_f32(info, 1, chk.kernel, &lk);
  a.v = arg_f32(info, 2, chk.kernel, &lv);
  a.cos = arg_f32(info, 3, chk.kernel, &lc);
  a.sin = arg_f32(info, 4, chk.kernel, &ls);
  a.pos = arg_i32(info, 5, chk.kernel, &lp);
  a.ck = arg_f32(info, 6, chk.kernel, &lck);
  a.cv = arg_f32(info, 7, chk.kernel, &lcv);
  a.starts = arg_i32(info, 8, chk.kernel, &lst);
  a.lens = arg_i32(info, 9, chk.kernel, &ll);
  a.out = arg_f32(info, 10, chk.kernel, &lo);
  a.B = int_arg(info, 11), a.Tmax = int_arg(info, 12), a.Hq = int_arg(info, 13), a.Hkv = int_arg(info, 14), a.D = int_arg(info, 15), a.Dv = int_arg(info, 16);
  const int64_t rot = int_arg(info, 17);
  a.interleaved = bool_arg(info, 18);
  a.scale = static_cast<float>(num_arg(info, 19));
  if (a.B < 0 || a.Tmax < 1 || a.Hq < 1 || a.Hkv < 1 || a.D < 1 || a.Dv < 1 || a.Hq % a.Hkv != 0 || rot < 2 || rot % 2 != 0 || rot > a.D) {
    throw Napi::RangeError::New(info.Env(), "decodeGqa: expected B >= 0, Tmax, D, Dv >= 1, Hq a positive multiple of Hkv and an even rotaryDim in [2, D]; got B " +
                                                std::to_string(a.B) + ", Tmax " + std::to_string(a.Tmax) + ", Hq " + std::to_string(a.Hq) + ", Hkv " +
                                                std::to_string(a.Hkv) + ", D " + std::to_string(a.D) + ", rotaryDim " + std::to_string(rot));
  }
  a.G = a.Hq / a.Hkv;
  a.half = rot / 2;
  chk.need("q", lq, a.B * a.Hq * a.D);
  chk.need("k", lk, a.B * a.Hkv * a.D);
  chk.need("v", lv, a.B * a.Hkv * a.Dv);
  chk.need("sin", ls, static_cast<int64_t>(lc));
  chk.need("pos", lp, a.B);
  chk.need("cacheK", lck, a.B * a.Tmax * a.Hkv * a.D);
  chk.need("cacheV", lcv, a.B * a.Tmax * a.Hkv * a.Dv);
  chk.need("starts", lst, a.B);
  chk.need("lens", ll, a.B);
  chk.need("out", lo, a.B * a.Hq * a.Dv);
  chk.rows(a.starts, a.pos, a.B, a.Tmax, static_cast<int64_t>(lc) / a.half);
  const int64_t macs = chk.visible(a.lens, a.B, a.Tmax) * a.Hq * (a.D + a.Dv);
  const int64_t tasks = a.B * kv_spans(a.B, a.Hkv);
  par_range(tasks, grain_for(tasks, macs), [&](int64_t t0, int64_t t1) { decode_gqa_tasks(&a, t0, t1); });
  return info.Env().Undefined();
}

// decodeMla / decodeMlaNaive(q, kv, normW, eps, cos, sin, pos, wkvB, cacheK, cacheV, starts, lens, out, B, Tmax, H, Dn, Dr, Dv, R, interleaved, scale)
Napi::Value DecodeMlaAny(const Napi::CallbackInfo& info, bool naive) {
  const Lens chk{info, naive ? "decodeMlaNaive" : "decodeMla"};
  size_t lq = 0, lkv = 0, lw = 0, lc = 0, ls = 0, lp = 0, lwb = 0, lck = 0, lcv = 0, lst = 0, ll = 0, lo = 0;
  DecodeMla a{};
  a.q = arg_f32(info, 0, chk.kernel, &lq);
  a.kv = arg_f32(info, 1, chk.kernel, &lkv);
  a.normw = arg_f32(info, 2, chk.kernel, &lw);
  a.eps = static_cast<float>(num_arg(info, 3));
  a.cos = arg_f32(info, 4, chk.kernel, &lc);
  a.sin = arg_f32(info, 5, chk.kernel, &ls);
  a.pos = arg_i32(info, 6, chk.kernel, &lp);
  a.wkvb = arg_f32(info, 7, chk.kernel, &lwb);
  a.ck = arg_f32(info, 8, chk.kernel, &lck);
  a.cv = arg_f32(info, 9, chk.kernel, &lcv);
  a.starts = arg_i32(info, 10, chk.kernel, &lst);
  a.lens = arg_i32(info, 11, chk.kernel, &ll);
  a.out = arg_f32(info, 12, chk.kernel, &lo);
  a.B = int_arg(info, 13), a.Tmax = int_arg(info, 14), a.H = int_arg(info, 15), a.Dn = int_arg(info, 16), a.Dr = int_arg(info, 17);
  a.Dv = int_arg(info, 18), a.R = int_arg(info, 19);
  a.interleaved = bool_arg(info, 20);
  a.scale = static_cast<float>(num_arg(info, 21));
  if (a.B < 0 || a.Tmax < 1 || a.H < 1 || a.Dn < 0 || a.Dr < 2 || a.Dr % 2 != 0 || a.Dv < 1 || a.R < 1) {
    throw Napi::RangeError::New(info.Env(), "decodeMla: expected B >= 0, Tmax, H, Dv, R >= 1, Dn >= 0 and an even Dr >= 2; got B " + std::to_string(a.B) +
                                                ", Tmax " + std::to_string(a.Tmax) + ", H " + std::to_string(a.H) + ", Dn " + std::to_string(a.Dn) +
                                                ", Dr " + std::to_string(a.Dr) + ", Dv " + std::to_string(a.Dv) + ", R " + std::to_string(a.R));
  }
  chk.need("q", lq, a.B * a.H * (a.Dn + a.Dr));
  chk.need("kv", lkv, a.B * (a.R + a.Dr));
  chk.need("normW", lw, a.R);
  chk.need("sin", ls, static_cast<int64_t>(lc));
  chk.need("pos", lp, a.B);
  chk.need("wkvB", lwb, a.H * (a.Dn + a.Dv) * a.R);
  chk.need("cacheK", lck, a.B * a.Tmax * (naive ? a.H * (a.Dn + a.Dr) : a.R + a.Dr));
  chk.need("cacheV", lcv, a.B * a.Tmax * (naive ? a.H * a.Dv : a.R));
  chk.need("starts", lst, a.B);
  chk.need("lens", ll, a.B);
  chk.need("out", lo, a.B * a.H * a.Dv);
  chk.rows(a.starts, a.pos, a.B, a.Tmax, static_cast<int64_t>(lc) / (a.Dr / 2));
  const int64_t macs = chk.visible(a.lens, a.B, a.Tmax) * a.H * (naive ? a.Dn + a.Dr + a.Dv : 2 * a.R + a.Dr) + a.B * a.H * (a.Dn + a.Dv) * a.R;
  par_range(a.B, grain_for(a.B, macs), [&](int64_t t0, int64_t t1) {
    if (naive) decode_mla_naive_tasks(&a, t0, t1);
    else decode_mla_tasks(&a, t0, t1);
  });
  return info.Env().Undefined();
}

Napi::Value DecodeMlaFn(const Napi::CallbackInfo& info) { return DecodeMlaAny(info, false); }
Napi::Value DecodeMlaNaiveFn(const Napi::CallbackInfo& info) { return DecodeMlaAny(info, true); }

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(decodeAttention, r1ts::DecodeAttention)
R1TS_EXPORT(decodeGqa, r1ts::DecodeGqaFn)
R1TS_EXPORT(decodeMla, r1ts::DecodeMlaFn)
R1TS_EXPORT(decodeMlaNaive, r1ts::DecodeMlaNaiveFn)
