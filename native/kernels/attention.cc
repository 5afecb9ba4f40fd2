// Native multi-head attention, forward and backward, FlashAttention-2 style: blocks of query
// rows against blocks of keys with an online softmax (running max and sum, lse saved), never
// materializing the Tq×Tk score matrix; the backward recomputes probabilities from lse with
// delta = rowsum(dO∘O). Causal (qOffset or per-batch qOffsets), right padding (kvLens), GQA
// (the query heads of a kv group are rows of the same block, so K/V are read once per group),
// and D != Dv (MLA). Spec: src/backend/ref/attention.ts; contract: src/backend/kernels.ts.
// This file parses and validates arguments (on the JS thread), packs the backward's inputs,
// schedules blocks over the thread pool and dispatches per CPU level; the block math lives in
// kernels/attention-body.h, compiled once per level (portable, AVX2+FMA, AVX-512).
// Not here: dropout, sliding windows, attention sinks, fp16/bf16 inputs, split-K decode.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#if R1TS_X86
#include <immintrin.h>
#endif
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_ps in max/min/roundscale) when
// they are inlined into target("avx512f") functions of a TU built without -mavx512f.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace r1ts {
namespace attn {

// Block sizes: 64 keys × 64 rows measured best of {32, 64, 128}² on Zen 5 (D = 64): the
// operands of each block product (16 KiB each) then stay in L1/L2.
constexpr int64_t kBc = 64;     // keys per block
constexpr int64_t kBrMax = 64;  // query rows per block (fewer, rounded up to 16, when there are fewer rows)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.69314718055994531f;

struct Problem {
  int64_t B, Tq, Tk, Hq, Hkv, D, Dv;
  int64_t G;    // query heads per kv head
  int64_t R;    // query rows per (batch, kv head): Tq·G, position-major
  int64_t Br;   // rows per block (a multiple of 16)
  int64_t Rp;   // R rounded up to Br
  int64_t nrb;  // row blocks per (batch, kv head)
  float scale;
  bool causal;
  int64_t qOffset;
  const int32_t* qOffsets;
  const int32_t* kvLens;
  /** Number of keys visible to query position pos of batch b (the reference's visibleKeys). */
  int64_t visible(int64_t b, int64_t pos) const {
    int64_t kv = Tk;
    if (kvLens) kv = std::min<int64_t>(kvLens[b], Tk);
    if (kv < 0) kv = 0;
    if (!causal) return kv;
    const int64_t off = qOffsets ? qOffsets[b] : qOffset;
    return std::max<int64_t>(0, std::min<int64_t>(kv, off + pos + 1));
  }
};

struct FwdArgs {
  const Problem* p;
  const float *q, *k, *v;
  float *out, *lse;
  // K and V of each (batch, kv head) copied contiguous, [bh][Tk][D] and [bh][Tk][Dv], when several
  // row blocks will read them (rows Hkv·D apart alias in L1); else each block copies its own.
  bool kvpacked;
  const float *kp, *vp;
};

struct BwdArgs {
  const Problem* p;
  const float *k, *v;
  float *dk, *dv;
  // Packed per (batch, kv head) = bh, rows r = pos·G + g padded to Rp:
  const float* qt;     // [bh][rb][D][Br]  q·scale·log2e, transposed per row block
  const float* qr;     // [bh][Rp][D]  q
  const float* dot;    // [bh][rb][Dv][Br] dO transposed per row block
  const float* dor;    // [bh][Rp][Dv] dO
  const float* lse2;   // [bh][Rp]     lse·log2e (0 where no key is visible)
  const float* delta;  // [bh][Rp]     rowsum(dO∘O)
  const float* lim;    // [bh][Rp]     visible keys per row (0 for padding rows)
  const int64_t* bmax; // [bh][nrb]    max / min of lim over the valid rows of a row block
  const int64_t* bmin;
  float* dqbuf;        // [bh][nch][Rp][D] dQ partial sums, one per key chunk
  int64_t nch;
};

/**
 * Packs the backward's inputs for one (batch, kv head) bh, rows r = pos·G + g (see BwdArgs), 16
 * rows at a time so the transposed stores fill whole cache lines; padding rows get zeros.
 * Also the per-row-block max / min of the visible-key counts.
 */
static void pack_backward_pair(const Problem& p, const float* q, const float* out, const float* lse, const float* dout, float* qt, float* qr, float* dot, float* dor,
                        float* lse2, float* delta, float* lim, int64_t* bmax, int64_t* bmin, int64_t bh) {
  const int64_t D = p.D, Dv = p.Dv, Rp = p.Rp, G = p.G;
  const float qs = p.scale * kLog2e;
  const int64_t b = bh / p.Hkv, hk = bh % p.Hkv;
  float* Qt = qt + bh * D * Rp;
  float* Qr = qr + bh * Rp * D;
  float* dOt = dot + bh * Dv * Rp;
  float* dOr = dor + bh * Rp * Dv;
  for (int64_t r0 = 0; r0 < Rp; r0 += 16) {
    const float* qrow[16];
    const float* grow[16];
    const int64_t n = std::max<int64_t>(0, std::min<int64_t>(16, p.R - r0));
    for (int64_t i = 0; i < n; i++) {
      const int64_t r = r0 + i, pos = r / G, h = hk * G + r % G;
      qrow[i] = q + ((b * p.Tq + pos) * p.Hq + h) * D;
      grow[i] = dout + ((b * p.Tq + pos) * p.Hq + h) * Dv;
      const float* o = out + ((b * p.Tq + pos) * p.Hq + h) * Dv;
      float dl = 0.0f;
      for (int64_t d = 0; d < Dv; d++) dl += grow[i][d] * o[d];
      const float l = lse[(b * p.Hq + h) * p.Tq + pos];
      const int64_t L = p.visible(b, pos);
      lse2[bh * Rp + r] = (L > 0 && std::isfinite(l)) ? l * kLog2e : 0.0f;
      delta[bh * Rp + r] = dl;
      lim[bh * Rp + r] = static_cast<float>(L);
      std::memcpy(Qr + r * D, qrow[i], sizeof(float) * D);
      std::memcpy(dOr + r * Dv, grow[i], sizeof(float) * Dv);
    }
    for (int64_t i = n; i < 16; i++) lse2[bh * Rp + r0 + i] = delta[bh * Rp + r0 + i] = lim[bh * Rp + r0 + i] = 0.0f;
    const int64_t rb = r0 / p.Br, c0 = r0 % p.Br;
    for (int64_t d = 0; d < D; d++) {
      float* dst = Qt + (rb * D + d) * p.Br + c0;
      for (int64_t i = 0; i < n; i++) dst[i] = qrow[i][d] * qs;
      for (int64_t i = n; i < 16; i++) dst[i] = 0.0f;
    }
    for (int64_t d = 0; d < Dv; d++) {
      float* dst = dOt + (rb * Dv + d) * p.Br + c0;
      for (int64_t i = 0; i < n; i++) dst[i] = grow[i][d];
      for (int64_t i = n; i < 16; i++) dst[i] = 0.0f;
    }
  }
  for (int64_t rb = 0; rb < p.nrb; rb++) {
    int64_t mx = 0, mn = INT64_MAX;
    for (int64_t r = rb * p.Br; r < std::min(p.R, (rb + 1) * p.Br); r++) {
      const auto L = static_cast<int64_t>(lim[bh * Rp + r]);
      mx = std::max(mx, L);
      mn = std::min(mn, L);
    }
    bmax[bh * p.nrb + rb] = mx;
    bmin[bh * p.nrb + rb] = mn;
  }
}

}  // namespace attn
}  // namespace r1ts

// ---- the per-level bodies ------------------------------------------------------------------
#define ATT_L 0
#define ATT_NS attn_portable
#define ATT_TARGET
namespace r1ts { namespace ATT_NS { using namespace ::r1ts::attn; } }
#include "kernels/attention-body.h"
#undef ATT_L
#undef ATT_NS
#undef ATT_TARGET

#if R1TS_X86
#define ATT_L 1
#define ATT_NS attn_avx2
#define ATT_TARGET R1TS_TARGET_AVX2
namespace r1ts { namespace ATT_NS { using namespace ::r1ts::attn; } }
#include "kernels/attention-body.h"
#undef ATT_L
#undef ATT_NS
#undef ATT_TARGET

#define ATT_L 2
#define ATT_NS attn_avx512
#define ATT_TARGET R1TS_TARGET_AVX512
namespace r1ts { namespace ATT_NS { using namespace ::r1ts::attn; } }
#include "kernels/attention-body.h"
#undef ATT_L
#undef ATT_NS
#undef ATT_TARGET
#endif

namespace r1ts {
namespace attn {
namespace {

using FwdFn = void (*)(const FwdArgs&, int64_t, int64_t, float*);
using BwdFn = void (*)(const BwdArgs&, int64_t, int64_t, float*);

FwdFn fwd_for_level() {
#if R1TS_X86
  switch (cpu_level()) {
    case kAvx512: return attn_avx512::fwd_block;
    case kAvx2: return attn_avx2::fwd_block;
    default: break;
  }
#endif
  return attn_portable::fwd_block;
}

BwdFn bwd_for_level() {
#if R1TS_X86
  switch (cpu_level()) {
    case kAvx512: return attn_avx512::bwd_chunk;
    case kAvx2: return attn_avx2::bwd_chunk;
    default: break;
  }
#endif
  return attn_portable::bwd_chunk;
}

/**
 * 64-byte aligned float scratch of n floats (contents unspecified), carved from a buffer that
 * the calling JS thread keeps between calls: fresh multi-megabyte allocations for the backward's
 * packs cost more in page faults and zeroing than the packing itself.
 */
float* cached_scratch(const Napi::Env& env, const char* kname, std::vector<float>& keep, size_t n) {
  if (keep.size() < n + 16) {
    std::vector<float>().swap(keep);
    try {
      keep.resize(n + 16);
    } catch (const std::bad_alloc&) {
      throw Napi::RangeError::New(env, std::string(kname) + ": out of memory for " + std::to_string(n * sizeof(float) >> 20) + " MiB of scratch");
    }
  }
  auto u = reinterpret_cast<uintptr_t>(keep.data());
  return keep.data() + ((64 - (u & 63)) & 63) / sizeof(float);
}
thread_local std::vector<float> tl_fwd_scratch, tl_fwd_packs, tl_bwd_scratch, tl_bwd_packs;

/** Frees kept scratch above 64 MiB when a call ends (a rare huge call should not pin its memory). */
struct TrimScratch {
  ~TrimScratch() {
    for (std::vector<float>* v : {&tl_fwd_scratch, &tl_fwd_packs, &tl_bwd_scratch, &tl_bwd_packs})
      if (v->size() > (size_t(16) << 20)) std::vector<float>().swap(*v);
  }
};

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/** Parses positional arguments from `first` (B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, qOffset, qOffsets, kvLens) and validates them. */
Problem parse_problem(const Napi::CallbackInfo& info, size_t first, const char* kname) {
  Napi::Env env = info.Env();
  Problem p{};
  int64_t* dims[] = {&p.B, &p.Tq, &p.Tk, &p.Hq, &p.Hkv, &p.D, &p.Dv};
  const char* names[] = {"B", "Tq", "Tk", "Hq", "Hkv", "D", "Dv"};
  for (size_t i = 0; i < 7; i++) {
    if (!info[first + i].IsNumber()) throw Napi::TypeError::New(env, std::string(kname) + ": " + names[i] + " must be a number");
    *dims[i] = int_arg(info, first + i);
    if (*dims[i] < 0 || *dims[i] > (int64_t(1) << 31)) throw Napi::RangeError::New(env, std::string(kname) + ": " + names[i] + " = " + std::to_string(*dims[i]) + " is out of range");
  }
  if (p.Hkv < 1 || p.Hq < 1 || p.Hq % p.Hkv != 0)
    throw Napi::RangeError::New(env, std::string(kname) + ": Hq (" + std::to_string(p.Hq) + ") must be a positive multiple of Hkv (" + std::to_string(p.Hkv) + ")");
  if (p.D < 1 || p.Dv < 1) throw Napi::RangeError::New(env, std::string(kname) + ": D and Dv must be >= 1");
  p.scale = static_cast<float>(num_arg(info, first + 7));
  p.causal = bool_arg(info, first + 8);
  p.qOffset = std::max<int64_t>(-(int64_t(1) << 40), std::min<int64_t>(int64_t(1) << 40, int_arg(info, first + 9)));
  size_t n = 0;
  p.qOffsets = nullptr;
  if (!info[first + 10].IsNull() && !info[first + 10].IsUndefined()) {
    p.qOffsets = i32_arg(info, first + 10, kname, &n);
    if (static_cast<int64_t>(n) < p.B) throw Napi::RangeError::New(env, std::string(kname) + ": qOffsets has " + std::to_string(n) + " entries, expected B = " + std::to_string(p.B));
  }
  p.kvLens = nullptr;
  if (!info[first + 11].IsNull() && !info[first + 11].IsUndefined()) {
    p.kvLens = i32_arg(info, first + 11, kname, &n);
    if (static_cast<int64_t>(n) < p.B) throw Napi::RangeError::New(env, std::string(kname) + ": kvLens has " + std::to_string(n) + " entries, expected B = " + std::to_string(p.B));
  }
  // Element counts must not overflow (a wrapped count would pass the length checks).
  const double biggest = std::max({double(p.B) * p.Tq * p.Hq * std::max(p.D, p.Dv), double(p.B) * p.Tk * p.Hkv * std::max(p.D, p.Dv)});
  if (biggest > double(int64_t(1) << 40)) throw Napi::RangeError::New(env, std::string(kname) + ": sizes give more than 2^40 elements");
  p.G = p.Hq / p.Hkv;
  p.R = p.Tq * p.G;
  p.Br = std::min<int64_t>(kBrMax, round_up(std::max<int64_t>(p.R, 1), 16));
  p.Rp = round_up(p.R, p.Br);
  p.nrb = p.Rp / p.Br;
  return p;
}

float* f32_sized(const Napi::CallbackInfo& info, size_t i, const char* kname, const char* what, int64_t need) {
  size_t n = 0;
  float* ptr = f32_arg(info, i, kname, &n);
  if (static_cast<int64_t>(n) < need)
    throw Napi::RangeError::New(info.Env(), std::string(kname) + ": " + what + " has " + std::to_string(n) + " elements, expected " + std::to_string(need));
  return ptr;
}

// attention(q, k, v, out, lse, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, qOffset, qOffsets, kvLens)
Napi::Value Attention(const Napi::CallbackInfo& info) {
  const char* kn = "attention";
  const Problem p = parse_problem(info, 5, kn);
  FwdArgs a{};
  a.p = &p;
  a.q = f32_sized(info, 0, kn, "q", p.B * p.Tq * p.Hq * p.D);
  a.k = f32_sized(info, 1, kn, "k", p.B * p.Tk * p.Hkv * p.D);
  a.v = f32_sized(info, 2, kn, "v", p.B * p.Tk * p.Hkv * p.Dv);
  a.out = f32_sized(info, 3, kn, "out", p.B * p.Tq * p.Hq * p.Dv);
  a.lse = f32_sized(info, 4, kn, "lse", p.B * p.Hq * p.Tq);
  if (p.B == 0 || p.Tq == 0) return info.Env().Undefined();
  TrimScratch trim;

  // Tasks: (bh, row block), the most expensive first (causal blocks see more keys further down).
  struct Task {
    int64_t bh, rb, cost;
  };
  std::vector<Task> tasks;
  tasks.reserve(static_cast<size_t>(p.B * p.Hkv * p.nrb));
  for (int64_t b = 0; b < p.B; b++)
    for (int64_t rb = 0; rb < p.nrb; rb++) {
      const int64_t last = std::min(p.R, (rb + 1) * p.Br) - 1;
      const int64_t cost = p.visible(b, last / p.G) + 1;  // visible() is monotone in pos
      for (int64_t hk = 0; hk < p.Hkv; hk++) tasks.push_back({b * p.Hkv + hk, rb, cost});
    }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& x, const Task& y) { return x.cost > y.cost; });

  const int nt = static_cast<int>(std::min<int64_t>(pool_threads(), static_cast<int64_t>(tasks.size())));
  const int64_t per = round_up(p.D * p.Br + kBc * p.Br + p.Dv * p.Br + 3 * p.Br + kBc * (p.D + p.Dv) + p.Br * std::max(p.D, p.Dv), 16);
  float* ws = cached_scratch(info.Env(), kn, tl_fwd_scratch, static_cast<size_t>(per * nt));
  const FwdFn fn = fwd_for_level();
  a.kvpacked = p.nrb > 1 && p.Tk > 0;
  if (a.kvpacked) {
    const int64_t nbh = p.B * p.Hkv, nkp = round_up(nbh * p.Tk * p.D, 16);
    float* kp = cached_scratch(info.Env(), kn, tl_fwd_packs, static_cast<size_t>(nkp + nbh * p.Tk * p.Dv));
    float* vp = kp + nkp;
    parallel_for(nbh * p.Tk, 256, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) {  // i = bh·Tk + j
        const int64_t bh = i / p.Tk, j = i % p.Tk, b = bh / p.Hkv, hk = bh % p.Hkv;
        std::memcpy(kp + i * p.D, a.k + ((b * p.Tk + j) * p.Hkv + hk) * p.D, sizeof(float) * p.D);
        std::memcpy(vp + i * p.Dv, a.v + ((b * p.Tk + j) * p.Hkv + hk) * p.Dv, sizeof(float) * p.Dv);
      }
    });
    a.kp = kp;
    a.vp = vp;
  }
  std::atomic<int64_t> next{0};
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
  parallel_run(nt, [&](int tid, int) {
    float* w = ws + per * tid;
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < ntasks;) fn(a, tasks[t].bh, tasks[t].rb, w);
  });
  return info.Env().Undefined();
}

// attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, B, Tq, Tk, Hq, Hkv, D, Dv, scale, causal, qOffset, qOffsets, kvLens)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const char* kn = "attentionBackward";
  const Problem p = parse_problem(info, 9, kn);
  const int64_t nq = p.B * p.Tq * p.Hq * p.D, nk = p.B * p.Tk * p.Hkv * p.D, nv = p.B * p.Tk * p.Hkv * p.Dv, no = p.B * p.Tq * p.Hq * p.Dv;
  const float* q = f32_sized(info, 0, kn, "q", nq);
  const float* k = f32_sized(info, 1, kn, "k", nk);
  const float* v = f32_sized(info, 2, kn, "v", nv);
  const float* out = f32_sized(info, 3, kn, "out", no);
  const float* lse = f32_sized(info, 4, kn, "lse", p.B * p.Hq * p.Tq);
  const float* dout = f32_sized(info, 5, kn, "dout", no);
  float* dq = f32_sized(info, 6, kn, "dq", nq);
  float* dk = f32_sized(info, 7, kn, "dk", nk);
  float* dv = f32_sized(info, 8, kn, "dv", nv);
  if (p.B == 0 || p.Tq == 0 || p.Tk == 0) {  // nothing visible anywhere (every output element is still written below otherwise)
    std::fill(dq, dq + nq, 0.0f);
    std::fill(dk, dk + nk, 0.0f);
    std::fill(dv, dv + nv, 0.0f);
    return info.Env().Undefined();
  }
  TrimScratch trim;

  const int64_t nbh = p.B * p.Hkv, D = p.D, Dv = p.Dv, Rp = p.Rp, G = p.G;
  const int threads = pool_threads();
  const int64_t nkb = (p.Tk + kBc - 1) / kBc;
  // Key chunks per (batch, kv head): 1 when there are enough (b, kv head) pairs to keep every
  // thread busy; otherwise the key blocks of a pair are shared out, each chunk with its own dQ.
  int64_t nch = 1;
  if (threads > 1) nch = std::min<int64_t>(nkb, (4 * threads + nbh - 1) / nbh);

  // Everything allocated here, on the JS thread (a worker never allocates or throws).
  const int64_t nrow = nbh * Rp;
  const int64_t sizes[] = {nrow * D, nrow * D, nrow * Dv, nrow * Dv, nrow, nrow, nrow, nrow * nch * D};
  int64_t total = 0;
  for (int64_t z : sizes) total += round_up(z, 16);
  float* base = cached_scratch(info.Env(), kn, tl_bwd_packs, static_cast<size_t>(total));
  float* parts[8];
  for (int i = 0; i < 8; i++) {
    parts[i] = base;
    base += round_up(sizes[i], 16);
  }
  float *qt = parts[0], *qr = parts[1], *dot = parts[2], *dor = parts[3], *lse2 = parts[4], *delta = parts[5], *lim = parts[6], *dqbuf = parts[7];
  std::vector<int64_t> bmax(static_cast<size_t>(nbh * p.nrb)), bmin(static_cast<size_t>(nbh * p.nrb));

  parallel_for(nbh, 1, [&](int64_t bh0, int64_t bh1) {
    for (int64_t bh = bh0; bh < bh1; bh++) pack_backward_pair(p, q, out, lse, dout, qt, qr, dot, dor, lse2, delta, lim, bmax.data(), bmin.data(), bh);
  });

  BwdArgs a{};
  a.p = &p;
  a.k = k;
  a.v = v;
  a.dk = dk;
  a.dv = dv;
  a.qt = qt;
  a.qr = qr;
  a.dot = dot;
  a.dor = dor;
  a.lse2 = lse2;
  a.delta = delta;
  a.lim = lim;
  a.bmax = bmax.data();
  a.bmin = bmin.data();
  a.dqbuf = dqbuf;
  a.nch = nch;

  const int64_t ntasks = nbh * nch;
  const int nt = static_cast<int>(std::min<int64_t>(threads, ntasks));
  const int64_t per = round_up(2 * kBc * p.Br + 2 * kBc * (D + Dv), 16);
  float* ws = cached_scratch(info.Env(), kn, tl_bwd_scratch, static_cast<size_t>(per * nt));
  const BwdFn fn = bwd_for_level();
  std::atomic<int64_t> next{0};
  parallel_run(nt, [&](int tid, int) {
    float* w = ws + per * tid;
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < ntasks;) fn(a, t / nch, t % nch, w);
  });

  // dQ: sum the chunks' partials and scatter rows back to [B, Tq, Hq, D].
  parallel_for(nbh * p.R, 256, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const int64_t bh = i / p.R, r = i % p.R;
      const int64_t b = bh / p.Hkv, hk = bh % p.Hkv, pos = r / G, h = hk * G + r % G;
      float* dst = dq + ((b * p.Tq + pos) * p.Hq + h) * D;
      const float* src = dqbuf + (bh * nch * Rp + r) * D;
      for (int64_t d = 0; d < D; d++) dst[d] = src[d];
      for (int64_t c = 1; c < nch; c++)
        for (int64_t d = 0; d < D; d++) dst[d] += src[c * Rp * D + d];
    }
  });
  return info.Env().Undefined();
}


}  // namespace
}  // namespace attn
}  // namespace r1ts

R1TS_EXPORT(attention, r1ts::attn::Attention)
R1TS_EXPORT(attentionBackward, r1ts::attn::AttentionBackward)
