// Decode MoE: the routed experts of one decode step in one native call (src/nn/decode.ts's
// moeDecode). The caller has grouped the batch's (token, slot) pairs by expert: pair i (sorted
// by expert, counts[e] pairs for expert e) reads token tokenOf[i] of x [N, C] and carries the
// routing weight w[i]. Per expert e with pairs: rows = x[tokenOf[pairs of e]];
//   y = (silu(rows·W1[e]ᵀ) ⊙ rows·W3[e]ᵀ)·W2[e]ᵀ        (W1, W3 [F, C], W2 [C, F])
// and out[tokenOf[i]] += w[i]·y[i] (accumulates into out, e.g. the residual stream).
// Experts run in parallel over the thread pool (each thread takes whole experts, largest first;
// their GEMMs then run on that thread); the weighted scatter-add runs after, on the caller.
// Spec: moeExperts in src/backend/ref/decode.ts.
// Not here: routing (scores, top-k, weights: src/nn/decode.ts), the shared experts, training.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>
#include "common/dispatch.h"
#include "common/registry.h"
#include "common/threadpool.h"
#include "common/vmath.h"
#include "kernels/gemm-core.h"
#include "kernels/kernel-util.h"

namespace r1ts {
namespace {

template <int L>
R1TS_INLINE void moe_swiglu_body(const float* gate, const float* up, float* out, int64_t n) {
  constexpr int W = vm::Lanes<L>::W;
  for (int64_t i = 0; i < n; i += W) {
    int64_t c = n - i < W ? n - i : W;
    vm::st<W>(out + i, vm::silu<W>(vm::ld<W>(gate + i, c)) * vm::ld<W>(up + i, c), c);
  }
}
R1TS_MULTIVERSION(moe_swiglu, (const float* gate, const float* up, float* out, int64_t n), (gate, up, out, n))

/** C [m, n] = A [m, k] · B[n, k]ᵀ on the calling thread's share (the gemm engine). */
void gemm_nt(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k) {
  gemm::Args g{};
  g.batch = 1, g.m = m, g.n = n, g.k = k;
  g.transA = false, g.transB = true;
  g.alpha = 1.0f, g.beta = 0.0f;
  g.a = a, g.b = b, g.c = c, g.bias = nullptr;
  gemm::run(g);
}

inline std::vector<float>& moe_scratch() {
  thread_local std::vector<float> s;
  return s;
}

struct Expert {
  const float *w1, *w3, *w2;
};

// moeExperts(x, tokenOf, w, counts, w1s, w3s, w2s, ys, out, N, C, F, E)
Napi::Value MoeExperts(const Napi::CallbackInfo& info) {
  const char* kn = "moeExperts";
  Napi::Env env = info.Env();
  size_t lx = 0, lt = 0, lw = 0, lc = 0, ly = 0, lo = 0;
  const float* x = arg_f32(info, 0, kn, &lx);
  const int32_t* tokenOf = arg_i32(info, 1, kn, &lt);
  const float* w = arg_f32(info, 2, kn, &lw);
  const int32_t* counts = arg_i32(info, 3, kn, &lc);
  float* ys = arg_f32(info, 7, kn, &ly);
  float* out = arg_f32(info, 8, kn, &lo);
  const int64_t N = int_arg(info, 9), C = int_arg(info, 10), F = int_arg(info, 11), E = int_arg(info, 12);
  auto fail = [&](const std::string& m) { return Napi::RangeError::New(env, std::string(kn) + ": " + m); };
  if (N < 0 || C < 1 || F < 1 || E < 1) throw fail("expected N >= 0 and C, F, E >= 1");
  if (static_cast<int64_t>(lc) < E) throw fail("counts has " + std::to_string(lc) + " entries, needs " + std::to_string(E));
  int64_t P = 0;
  for (int64_t e = 0; e < E; e++) {
    if (counts[e] < 0) throw fail("counts[" + std::to_string(e) + "] = " + std::to_string(counts[e]) + " is negative");
    P += counts[e];
  }
  if (static_cast<int64_t>(lt) < P || static_cast<int64_t>(lw) < P) throw fail("tokenOf and w need " + std::to_string(P) + " entries (Σ counts)");
  if (static_cast<int64_t>(lx) < N * C || static_cast<int64_t>(lo) < N * C) throw fail("x and out need N·C = " + std::to_string(N * C) + " floats");
  if (static_cast<int64_t>(ly) < P * C) throw fail("ys needs " + std::to_string(P * C) + " floats");
  for (int64_t i = 0; i < P; i++) {
    if (tokenOf[i] < 0 || tokenOf[i] >= N) throw fail("tokenOf[" + std::to_string(i) + "] = " + std::to_string(tokenOf[i]) + " is outside [0, " + std::to_string(N) + ")");
  }
  std::vector<Expert> ex(static_cast<size_t>(E));
  const char* names[3] = {"w1s", "w3s", "w2s"};
  for (int k = 0; k < 3; k++) {
    if (!info[4 + k].IsArray()) throw Napi::TypeError::New(env, std::string(kn) + ": argument " + std::to_string(4 + k) + " (" + names[k] + ") must be an array of Float32Array");
    Napi::Array arr = info[4 + k].As<Napi::Array>();
    if (static_cast<int64_t>(arr.Length()) < E) throw fail(std::string(names[k]) + " has " + std::to_string(arr.Length()) + " weights, needs " + std::to_string(E));
    for (int64_t e = 0; e < E; e++) {
      Napi::Value v = arr.Get(static_cast<uint32_t>(e));
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw Napi::TypeError::New(env, std::string(kn) + ": " + names[k] + "[" + std::to_string(e) + "] must be a Float32Array");
      }
      Napi::Float32Array t = v.As<Napi::Float32Array>();
      if (static_cast<int64_t>(t.ElementLength()) < F * C) throw fail(std::string(names[k]) + "[" + std::to_string(e) + "] has " + std::to_string(t.ElementLength()) + " floats, needs " + std::to_string(F * C));
      (k == 0 ? ex[e].w1 : k == 1 ? ex[e].w3 : ex[e].w2) = t.Data();
    }
  }
  std::vector<int64_t> offset(static_cast<size_t>(E) + 1, 0);
  for (int64_t e = 0; e < E; e++) offset[e + 1] = offset[e] + counts[e];
  // Experts with pairs, largest first (threads take them in this order).
  std::vector<int64_t> order;
  for (int64_t e = 0; e < E; e++) if (counts[e] > 0) order.push_back(e);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return counts[a] > counts[b]; });

  auto run_expert = [&](int64_t e) {
    const int64_t m = counts[e], o = offset[e];
    std::vector<float>& s = moe_scratch();
    const size_t need = static_cast<size_t>(m * C + 3 * m * F);
    if (s.size() < need) s.resize(need);
    float* rows = s.data();
    float* g = rows + m * C;
    float* u = g + m * F;
    float* a = u + m * F;
    for (int64_t r = 0; r < m; r++) std::memcpy(rows + r * C, x + static_cast<int64_t>(tokenOf[o + r]) * C, sizeof(float) * C);
    gemm_nt(rows, ex[e].w1, g, m, F, C);
    gemm_nt(rows, ex[e].w3, u, m, F, C);
    moe_swiglu(g, u, a, m * F);
    gemm_nt(a, ex[e].w2, ys + o * C, m, C, F);
  };
  const int64_t macs = P * 3 * F * C;
  const int nt = static_cast<int>(std::min<int64_t>({static_cast<int64_t>(pool_threads()), static_cast<int64_t>(order.size()), std::max<int64_t>(1, macs >> 18)}));
  if (nt <= 1) {
    for (int64_t e : order) run_expert(e);
  } else {
    std::atomic<size_t> next{0};
    parallel_run(nt, [&](int, int) {
      for (size_t i = next.fetch_add(1); i < order.size(); i = next.fetch_add(1)) run_expert(order[i]);
    });
  }
  // out[tokenOf[i]] += w[i]·ys[i], in pair order (the caller's single thread: rows may repeat).
  for (int64_t i = 0; i < P; i++) {
    float* dst = out + static_cast<int64_t>(tokenOf[i]) * C;
    const float* src = ys + i * C;
    const float wi = w[i];
    for (int64_t c = 0; c < C; c++) dst[c] += wi * src[c];
  }
  return env.Undefined();
}

}  // namespace
}  // namespace r1ts

R1TS_EXPORT(moeExperts, r1ts::MoeExperts)
