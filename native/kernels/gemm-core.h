// The GEMM engine behind kernels/gemm.cc: C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b] (+ bias),
// row-major, single precision (spec: src/backend/ref/gemm.ts, contract: src/backend/kernels.ts).
// Two paths:
//   - packed (m > 8): GotoBLAS/BLIS-style loops. B is packed per KC×NC panel into NR-wide
//     slivers, A per MC×KC block into MR-tall slivers (zero-padded, so transposes cost nothing
//     in the inner loop), and a register-blocked micro-kernel computes one MR×NR tile of C with
//     alpha/beta/bias applied in registers. Micro-tiles: AVX-512 12×32 (24 zmm accumulators),
//     AVX2+FMA 6×16, portable 4×8 on x86 / 8×8 elsewhere (plain C++ the compiler vectorizes).
//   - few rows (m <= 8, token-by-token decoding): no packing; B is streamed once, either as
//     rows of k×n (axpy form) or as rows of n×k (dot products), all m rows at a time.
// Threads: one persistent pool (common/threadpool.h). Batches split over batch items when they
// divide evenly (or are many); otherwise each product splits over whole MR-row tiles among a
// team that packs every B panel together (one barrier per panel) while each member packs its own
// A blocks, or, for few-row-tile products, over NR-column tiles. Small products stay on the
// calling thread. Packing buffers are thread-local and grow-only (no allocation per call).
// Not here: argument parsing (kernels/gemm.cc), shape validation (src/tensor).
#pragma once
#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include "common/dispatch.h"
#include "common/threadpool.h"
#if R1TS_X86
#include <immintrin.h>
#endif
// GCC 12's AVX-512 headers build some results from _mm*_undefined_*(), which its
// -Wmaybe-uninitialized then reports at every inlined use: a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace r1ts {
namespace gemm {

struct Args {
  int64_t batch, m, n, k;
  bool transA, transB;
  float alpha, beta;
  int64_t strideA, strideB, strideC;
  const float* a;
  const float* b;
  float* c;
  const float* bias;
};

// One C element's epilogue: alpha·acc (+ beta·c) (+ bias). beta == 0 never reads c.
R1TS_INLINE void store1(float* c, float acc, float alpha, float beta, const float* bias) {
  float r = alpha * acc;
  if (beta != 0.0f) r += beta * *c;
  if (bias) r += *bias;
  *c = r;
}

// ---------------------------------------------------------------------------------------------
// Micro-kernels: C[0:mr, 0:nr] (ldc) = epilogue(Ap·Bp) over kc steps, where Ap holds kc columns
// of MR values and Bp kc rows of NR values (zero-padded past mr/nr). bias points at C column 0's
// bias (or null).
using TileFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr, int nr, float alpha, float beta,
                        const float* bias);

// Portable: fixed-size loops over a local accumulator block; -O3 vectorizes the j loops.
template <int MR, int NR>
void tile_portable(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc, int mr, int nr, float alpha,
                   float beta, const float* bias) {
  float acc[MR][NR] = {};
  for (int64_t l = 0; l < kc; l++) {
    const float* a = ap + l * MR;
    const float* b = bp + l * NR;
    for (int i = 0; i < MR; i++) {
      const float av = a[i];
      for (int j = 0; j < NR; j++) acc[i][j] += av * b[j];
    }
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) store1(c + i * ldc + j, acc[i][j], alpha, beta, bias ? bias + j : nullptr);
}

#if R1TS_X86
// AVX2+FMA: MR×16 (two ymm per row), MR = 6 gives 12 accumulators in 16 registers.
template <int MR>
R1TS_TARGET_AVX2 void tile_avx2(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc, int mr, int nr,
                                float alpha, float beta, const float* bias) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps();
  for (int64_t l = 0; l < kc; l++) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const __m256 av = _mm256_broadcast_ss(ap + i);
      c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
    }
    ap += MR;
    bp += 16;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (mr == MR && nr == 16) {
    const __m256 z = _mm256_setzero_ps();
    const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : z, bias1 = bias ? _mm256_loadu_ps(bias + 8) : z;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      float* ci = c + i * ldc;
      __m256 r0 = _mm256_fmadd_ps(va, c0[i], bias0), r1 = _mm256_fmadd_ps(va, c1[i], bias1);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  alignas(32) float t[MR][16];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    _mm256_store_ps(t[i], c0[i]);
    _mm256_store_ps(t[i] + 8, c1[i]);
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) store1(c + i * ldc + j, t[i][j], alpha, beta, bias ? bias + j : nullptr);
}

// AVX-512: MR×32 (two zmm per row). Edges use masked loads/stores, so no scratch tile.
template <int MR>
R1TS_TARGET_AVX512 void tile_avx512(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc, int mr,
                                    int nr, float alpha, float beta, const float* bias) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int i = 0; i < mr; i++) {  // the C tile is needed only after the k loop: fetch it meanwhile
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t l = 0; l < kc; l++) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const __m512 av = _mm512_set1_ps(ap[i]);
      c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
    }
    ap += MR;
    bp += 32;
  }
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : static_cast<__mmask16>((1u << (nr - 16)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), z = _mm512_setzero_ps();
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : z, bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : z;
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_fmadd_ps(va, c0[i], bias0), r1 = _mm512_fmadd_ps(va, c1[i], bias1);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
  }
}
#endif

// ---------------------------------------------------------------------------------------------
// Packing. op(A) is m×k: element (i, l) is a[i·k + l], or a[l·m + i] when transposed.
// op(B) is k×n: element (l, j) is b[l·n + j], or b[j·k + l] when transposed.

// `rows` (<= W) source rows of kc floats, ld apart → out[l·W + r], rows past `rows` zeroed.
template <int W>
void interleave_rows(const float* src, int64_t ld, int rows, int64_t kc, float* __restrict o) {
  int r = 0;
#if R1TS_X86
  // Four rows at a time through 4×4 SSE transposes (SSE is in every x86-64).
  const int64_t kv = kc / 4 * 4;
  for (; r + 4 <= rows; r += 4) {
    const float* p0 = src + r * ld;
    const float* p1 = p0 + ld;
    const float* p2 = p1 + ld;
    const float* p3 = p2 + ld;
    float* d = o + r;
    for (int64_t l = 0; l < kv; l += 4, d += 4 * W) {
      __m128 x0 = _mm_loadu_ps(p0 + l), x1 = _mm_loadu_ps(p1 + l), x2 = _mm_loadu_ps(p2 + l), x3 = _mm_loadu_ps(p3 + l);
      _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
      _mm_storeu_ps(d, x0);
      _mm_storeu_ps(d + W, x1);
      _mm_storeu_ps(d + 2 * W, x2);
      _mm_storeu_ps(d + 3 * W, x3);
    }
    for (int64_t l = kv; l < kc; l++) {
      float* e = o + l * W + r;
      e[0] = p0[l];
      e[1] = p1[l];
      e[2] = p2[l];
      e[3] = p3[l];
    }
  }
#endif
  for (; r < rows; r++) {
    const float* p = src + r * ld;
    for (int64_t l = 0; l < kc; l++) o[l * W + r] = p[l];
  }
  for (; r < W; r++)
    for (int64_t l = 0; l < kc; l++) o[l * W + r] = 0.0f;
}

// A rows [i0, i0+mc) × cols [l0, l0+kc) → slivers of MR rows: out[s][l][r], zero rows past mc.
template <int MR>
void pack_a(const float* a, bool trans, int64_t m, int64_t k, int64_t i0, int64_t mc, int64_t l0, int64_t kc, float* __restrict out) {
  if (trans) {
    // Row l of the stored A holds column l of op(A): read it once, contiguously, into every sliver.
    const int64_t full = mc / MR * MR;
    for (int64_t l = 0; l < kc; l++) {
      const float* src = a + (l0 + l) * m + i0;
      for (int64_t s = 0; s < full; s += MR) std::memcpy(out + s * kc + l * MR, src + s, MR * sizeof(float));
      if (full < mc) {
        float* d = out + full * kc + l * MR;
        int r = 0;
        for (; r < mc - full; r++) d[r] = src[full + r];
        for (; r < MR; r++) d[r] = 0.0f;
      }
    }
    return;
  }
  for (int64_t s = 0; s < mc; s += MR)
    interleave_rows<MR>(a + (i0 + s) * k + l0, k, static_cast<int>(std::min<int64_t>(MR, mc - s)), kc, out + s * kc);
}

// B rows [l0, l0+kc) × cols [j0, j0+nc) → slivers of NR columns: out[s][l][c], zero cols past nc.
template <int NR>
void pack_b(const float* b, bool trans, int64_t k, int64_t n, int64_t l0, int64_t kc, int64_t j0, int64_t nc, float* __restrict out) {
  if (trans) {
    for (int64_t s = 0; s < nc; s += NR)
      interleave_rows<NR>(b + (j0 + s) * k + l0, k, static_cast<int>(std::min<int64_t>(NR, nc - s)), kc, out + s * kc);
    return;
  }
  // Row l of B: read once, contiguously, into every sliver.
  const int64_t full = nc / NR * NR;
  for (int64_t l = 0; l < kc; l++) {
    const float* src = b + (l0 + l) * n + j0;
    for (int64_t s = 0; s < full; s += NR) std::memcpy(out + s * kc + l * NR, src + s, NR * sizeof(float));
    if (full < nc) {
      float* d = out + full * kc + l * NR;
      int c = 0;
      for (; c < nc - full; c++) d[c] = src[full + c];
      for (; c < NR; c++) d[c] = 0.0f;
    }
  }
}

// Thread-local, 64-byte aligned, grow-only scratch (pool threads are persistent).
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      cap = n;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
inline Scratch& scratch_a() {
  static thread_local Scratch s;
  return s;
}
inline Scratch& scratch_b() {
  static thread_local Scratch s;
  return s;
}
inline Scratch& scratch_shared() {  // the calling thread's, lent to its team
  static thread_local Scratch s;
  return s;
}

// Blocking for one level: micro-tile MR×NR; KC deep panels; A blocks of MC rows (L2);
// B panels of NC columns (L3).
template <int MR_, int NR_, int KC_, int MC_, int NC_>
struct Blocking {
  static constexpr int MR = MR_, NR = NR_, KC = KC_, MC = MC_, NC = NC_;
};

// Floats in one packed KC×NC B panel covering `cols` columns.
template <class BK>
size_t panel_floats(int64_t cols) {
  return static_cast<size_t>(BK::KC) * ((std::min<int64_t>(BK::NC, cols) + BK::NR - 1) / BK::NR * BK::NR);
}

// Spin barrier for the threads of one pool job (they all run at once).
struct SpinBarrier {
  std::atomic<int> count{0}, phase{0};
  int n = 1;
  void wait() {
    const int ph = phase.load(std::memory_order_acquire);
    if (count.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
      count.store(0, std::memory_order_relaxed);
      phase.store(ph + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; phase.load(std::memory_order_acquire) == ph; spins++) {
      if (spins < 4096) {
#if R1TS_X86
        _mm_pause();
#endif
      } else {
        std::this_thread::yield();  // the machine is oversubscribed: let the laggard run
      }
    }
  }
};

// Threads computing one product together: each packs its share of every B panel into a shared,
// double-buffered panel (one barrier per panel), then multiplies its own rows against all of it.
struct Team {
  int tid, nt;
  float* panel[2];
  SpinBarrier* barrier;
};

// One product, C rows [i0, i1) × cols [j0, j1). Alone (team == null) the thread packs B itself;
// in a team every member must call this with the same columns (all members meet at each barrier).
template <class BK>
void blocked(const Args& g, const float* a, const float* b, float* c, int64_t i0, int64_t i1, int64_t j0, int64_t j1, TileFn tile,
             const Team* team) {
  constexpr int MR = BK::MR, NR = BK::NR;
  const int64_t m = g.m, n = g.n, k = g.k;
  float* own = team ? nullptr : scratch_b().get(panel_floats<BK>(j1 - j0));
  float* ap = scratch_a().get(static_cast<size_t>(BK::KC) * ((std::min<int64_t>(BK::MC, std::max<int64_t>(i1 - i0, 1)) + MR - 1) / MR * MR));
  int panel_no = 0;
  for (int64_t jc = j0; jc < j1; jc += BK::NC) {
    const int64_t nc = std::min<int64_t>(BK::NC, j1 - jc);
    for (int64_t pc = 0; pc < k; pc += BK::KC, panel_no++) {
      const int64_t kc = std::min<int64_t>(BK::KC, k - pc);
      const bool first = pc == 0;
      const float beta = first ? g.beta : 1.0f;
      const float* bias = first && g.bias ? g.bias + jc : nullptr;
      float* bp = own;
      if (team) {
        bp = team->panel[panel_no & 1];
        const int64_t slivers = (nc + NR - 1) / NR;
        const int64_t s0 = slivers * team->tid / team->nt, s1 = slivers * (team->tid + 1) / team->nt;
        if (s0 < s1) pack_b<NR>(b, g.transB, k, n, pc, kc, jc + s0 * NR, std::min(nc, s1 * NR) - s0 * NR, bp + s0 * NR * kc);
        team->barrier->wait();
      } else {
        pack_b<NR>(b, g.transB, k, n, pc, kc, jc, nc, bp);
      }
      for (int64_t ic = i0; ic < i1; ic += BK::MC) {
        const int64_t mc = std::min<int64_t>(BK::MC, i1 - ic);
        pack_a<MR>(a, g.transA, m, k, ic, mc, pc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            tile(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * n + jc + jr, n, mr, nr, g.alpha, beta, bias ? bias + jr : nullptr);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Few rows (m <= 8). a points at m contiguous rows of k (transposed A is gathered first).
// nn: B is k×n (ldb = n), columns [j0, j1). nt: B is n×k, rows [j0, j1) of B = columns of C.
using FewFn = void (*)(int m, int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha, float beta,
                       const float* bias);

inline void few_nn_portable(int m, int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                            float beta, const float* bias) {
  constexpr int W = 64;
  float acc[8][W];
  for (int64_t j = j0; j < j1; j += W) {
    const int w = static_cast<int>(std::min<int64_t>(W, j1 - j));
    for (int i = 0; i < m; i++)
      for (int t = 0; t < W; t++) acc[i][t] = 0.0f;
    for (int64_t l = 0; l < k; l++) {
      const float* br = b + l * n + j;
      for (int i = 0; i < m; i++) {
        const float av = a[i * k + l];
        float* ac = acc[i];
        if (w == W) {
          for (int t = 0; t < W; t++) ac[t] += av * br[t];
        } else {
          for (int t = 0; t < w; t++) ac[t] += av * br[t];
        }
      }
    }
    for (int i = 0; i < m; i++)
      for (int t = 0; t < w; t++) store1(c + i * n + j + t, acc[i][t], alpha, beta, bias ? bias + j + t : nullptr);
  }
}

inline void few_nt_portable(int m, int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                            float beta, const float* bias) {
  for (int64_t j = j0; j < j1; j++) {
    const float* br = b + j * k;
    for (int i = 0; i < m; i++) {
      const float* ar = a + i * k;
      float s[8] = {};
      int64_t l = 0;
      for (; l + 8 <= k; l += 8)
        for (int t = 0; t < 8; t++) s[t] += ar[l + t] * br[l + t];
      float acc = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
      for (; l < k; l++) acc += ar[l] * br[l];
      store1(c + i * n + j, acc, alpha, beta, bias ? bias + j : nullptr);
    }
  }
}

#if R1TS_X86
template <int M>
R1TS_TARGET_AVX512 void few_nn_avx512_reg_m(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                                        float beta, const float* bias) {
  // Four zmm columns per row for m <= 2, two otherwise: at most 16 accumulators.
  constexpr int NV = M <= 2 ? 4 : 2;
  constexpr int W = 16 * NV;
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), z = _mm512_setzero_ps();
  for (int64_t j = j0; j < j1; j += W) {
    const int64_t w = std::min<int64_t>(W, j1 - j);
    __mmask16 mk[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      const int64_t r = w - 16 * v;
      mk[v] = r >= 16 ? 0xffff : r <= 0 ? 0 : static_cast<__mmask16>((1u << r) - 1);
    }
    __m512 acc[M][NV];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] = z;
    const float* bp = b + j;
    if (w == W) {
      for (int64_t l = 0; l < k; l++, bp += n) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(bp + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) {
          const __m512 av = _mm512_set1_ps(a[i * k + l]);
#pragma GCC unroll 4
          for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
      }
    } else {
      for (int64_t l = 0; l < k; l++, bp += n) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = _mm512_maskz_loadu_ps(mk[v], bp + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) {
          const __m512 av = _mm512_set1_ps(a[i * k + l]);
#pragma GCC unroll 4
          for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
      }
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      const __m512 bs = bias ? _mm512_maskz_loadu_ps(mk[v], bias + j + 16 * v) : z;
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        float* ci = c + i * n + j + 16 * v;
        __m512 r = _mm512_fmadd_ps(va, acc[i][v], bs);
        if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[v], ci), r);
        _mm512_mask_storeu_ps(ci, mk[v], r);
      }
    }
  }
}

R1TS_TARGET_AVX512 R1TS_INLINE float hsum512(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// m <= 4 rows against a k×n B: too few rows to hide the strided column walk of few_nn_avx512_reg_m, so
// B is streamed row-contiguously instead, KB rows at a time, into an L1-resident row of sums.
template <int M>
R1TS_TARGET_AVX512 void few_nn_stream_avx512(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1,
                                             float alpha, float beta, const float* bias) {
  constexpr int KB = M == 1 ? 8 : 16 / M;  // M·KB broadcast multipliers in registers; 8 B rows in flight at m = 1 (16 were slower)
  constexpr int64_t W = 1024;  // columns per chunk: M·W sums stay in L1 (512 was a little slower)
  alignas(64) float acc[M][W];
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), z = _mm512_setzero_ps();
  for (int64_t jc = j0; jc < j1; jc += W) {
    const int64_t w = std::min<int64_t>(W, j1 - jc);
    const int64_t nv = (w + 15) / 16;
    const __mmask16 last = static_cast<__mmask16>(w % 16 == 0 ? 0xffff : (1u << (w % 16)) - 1);
    for (int i = 0; i < M; i++) std::memset(acc[i], 0, sizeof(float) * nv * 16);
    int64_t l = 0;
    for (; l + KB <= k; l += KB) {
      __m512 av[M][KB];
#pragma GCC unroll 8
      for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int t = 0; t < KB; t++) av[i][t] = _mm512_set1_ps(a[i * k + l + t]);
      const float* bp = b + l * n + jc;
      for (int64_t v = 0; v < nv; v++) {
        const __mmask16 mk = v == nv - 1 ? last : static_cast<__mmask16>(0xffff);
        __m512 s[M];
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) s[i] = _mm512_load_ps(acc[i] + 16 * v);
#pragma GCC unroll 8
        for (int t = 0; t < KB; t++) {
          const __m512 bv = _mm512_maskz_loadu_ps(mk, bp + t * n + 16 * v);
#pragma GCC unroll 8
          for (int i = 0; i < M; i++) s[i] = _mm512_fmadd_ps(av[i][t], bv, s[i]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) _mm512_store_ps(acc[i] + 16 * v, s[i]);
      }
    }
    for (; l < k; l++) {
      const float* bp = b + l * n + jc;
      for (int64_t v = 0; v < nv; v++) {
        const __mmask16 mk = v == nv - 1 ? last : static_cast<__mmask16>(0xffff);
        const __m512 bv = _mm512_maskz_loadu_ps(mk, bp + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++)
          _mm512_store_ps(acc[i] + 16 * v, _mm512_fmadd_ps(_mm512_set1_ps(a[i * k + l]), bv, _mm512_load_ps(acc[i] + 16 * v)));
      }
    }
    for (int64_t v = 0; v < nv; v++) {
      const __mmask16 mk = v == nv - 1 ? last : static_cast<__mmask16>(0xffff);
      const __m512 bs = bias ? _mm512_maskz_loadu_ps(mk, bias + jc + 16 * v) : z;
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        float* ci = c + i * n + jc + 16 * v;
        __m512 r = _mm512_fmadd_ps(va, _mm512_load_ps(acc[i] + 16 * v), bs);
        if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, ci), r);
        _mm512_mask_storeu_ps(ci, mk, r);
      }
    }
  }
}

// (Σ s0, Σ s1, Σ s2, Σ s3) with shared shuffles.
R1TS_TARGET_AVX512 R1TS_INLINE __m128 hsum512x4(__m512 s0, __m512 s1, __m512 s2, __m512 s3) {
  const __m512 x = _mm512_add_ps(_mm512_unpacklo_ps(s0, s1), _mm512_unpackhi_ps(s0, s1));  // per lane: s0 s1 s0 s1
  const __m512 y = _mm512_add_ps(_mm512_unpacklo_ps(s2, s3), _mm512_unpackhi_ps(s2, s3));  // per lane: s2 s3 s2 s3
  __m512 z = _mm512_add_ps(_mm512_shuffle_ps(x, y, 0x44), _mm512_shuffle_ps(x, y, 0xee));  // per lane: s0 s1 s2 s3
  z = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0x4e));
  z = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0xb1));
  return _mm512_castps512_ps128(z);
}

// J (4 or 1) columns of C (rows j.. of B) for M <= 4 rows of A: M·J zmm dot-product accumulators.
template <int M, int J>
R1TS_TARGET_AVX512 R1TS_INLINE void few_nt_avx512_block(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j, float alpha,
                                                        float beta, const float* bias) {
  const int64_t kv = k / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (k - kv)) - 1);
  // Two partial sums per output when M·J < 8, so at least 8 FMA chains hide the FMA latency.
  constexpr int U = M * J < 8 ? 2 : 1;
  __m512 acc[M][J], acc2[M][J];
#pragma GCC unroll 8
  for (int i = 0; i < M; i++)
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) acc[i][t] = acc2[i][t] = _mm512_setzero_ps();
  int64_t l = 0;
  if (U == 2) {
    for (; l + 32 <= kv; l += 32) {
      __m512 bv[J], bw[J];
#pragma GCC unroll 4
      for (int t = 0; t < J; t++) {
        bv[t] = _mm512_loadu_ps(b + (j + t) * k + l);
        bw[t] = _mm512_loadu_ps(b + (j + t) * k + l + 16);
        _mm_prefetch(reinterpret_cast<const char*>(b + (j + J + t) * k + l), _MM_HINT_T0);  // the next block's rows
        _mm_prefetch(reinterpret_cast<const char*>(b + (j + J + t) * k + l + 16), _MM_HINT_T0);
      }
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        const __m512 av = _mm512_loadu_ps(a + i * k + l), aw = _mm512_loadu_ps(a + i * k + l + 16);
#pragma GCC unroll 4
        for (int t = 0; t < J; t++) {
          acc[i][t] = _mm512_fmadd_ps(av, bv[t], acc[i][t]);
          acc2[i][t] = _mm512_fmadd_ps(aw, bw[t], acc2[i][t]);
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int t = 0; t < J; t++) acc[i][t] = _mm512_add_ps(acc[i][t], acc2[i][t]);
  }
  for (; l < kv; l += 16) {
    __m512 bv[J];
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) {
      bv[t] = _mm512_loadu_ps(b + (j + t) * k + l);
      _mm_prefetch(reinterpret_cast<const char*>(b + (j + J + t) * k + l), _MM_HINT_T0);  // the next block's rows
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) {
      const __m512 av = _mm512_loadu_ps(a + i * k + l);
#pragma GCC unroll 4
      for (int t = 0; t < J; t++) acc[i][t] = _mm512_fmadd_ps(av, bv[t], acc[i][t]);
    }
  }
  if (tail) {
    __m512 bv[J];
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) bv[t] = _mm512_maskz_loadu_ps(tail, b + (j + t) * k + kv);
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) {
      const __m512 av = _mm512_maskz_loadu_ps(tail, a + i * k + kv);
#pragma GCC unroll 4
      for (int t = 0; t < J; t++) acc[i][t] = _mm512_fmadd_ps(av, bv[t], acc[i][t]);
    }
  }
  if (J == 4) {
    // Reduce the four accumulators of a row together: 4 sums in one xmm, stored as a vector.
    const __m128 va = _mm_set1_ps(alpha), vb = _mm_set1_ps(beta);
    const __m128 bs = bias ? _mm_loadu_ps(bias + j) : _mm_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < M; i++) {
      float* ci = c + i * n + j;
      __m128 r = _mm_fmadd_ps(va, hsum512x4(acc[i][0], acc[i][J > 1 ? 1 : 0], acc[i][J > 2 ? 2 : 0], acc[i][J > 3 ? 3 : 0]), bs);
      if (beta != 0.0f) r = _mm_fmadd_ps(vb, _mm_loadu_ps(ci), r);
      _mm_storeu_ps(ci, r);
    }
    return;
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; i++)
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) store1(c + i * n + j + t, hsum512(acc[i][t]), alpha, beta, bias ? bias + j + t : nullptr);
}

template <int M>
R1TS_TARGET_AVX512 void few_nt_avx512_m(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                                        float beta, const float* bias) {
  int64_t j = j0;
  if constexpr (M > 4) {
    // Rows 0-3, then the rest, against the same four B rows (L1-hot the second time): 16
    // accumulators per pass instead of 2·M with two B rows.
    for (; j + 4 <= j1; j += 4) {
      few_nt_avx512_block<4, 4>(k, n, a, b, c, j, alpha, beta, bias);
      few_nt_avx512_block<M - 4, 4>(k, n, a + 4 * k, b, c + 4 * n, j, alpha, beta, bias);
    }
    for (; j < j1; j++) {
      few_nt_avx512_block<4, 1>(k, n, a, b, c, j, alpha, beta, bias);
      few_nt_avx512_block<M - 4, 1>(k, n, a + 4 * k, b, c + 4 * n, j, alpha, beta, bias);
    }
  } else {
    for (; j + 4 <= j1; j += 4) few_nt_avx512_block<M, 4>(k, n, a, b, c, j, alpha, beta, bias);
    for (; j < j1; j++) few_nt_avx512_block<M, 1>(k, n, a, b, c, j, alpha, beta, bias);
  }
}

template <int M>
R1TS_TARGET_AVX2 void few_nn_avx2_reg_m(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                                    float beta, const float* bias) {
  constexpr int NV = M <= 2 ? 4 : M <= 5 ? 2 : 1;  // <= 12 accumulators in 16 ymm
  constexpr int W = 8 * NV;
  int64_t j = j0;
  for (; j + W <= j1; j += W) {
    __m256 acc[M][NV];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    const float* bp = b + j;
    for (int64_t l = 0; l < k; l++, bp += n) {
      __m256 bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(bp + 8 * v);
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        const __m256 av = _mm256_broadcast_ss(a + i * k + l);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
      }
    }
    alignas(32) float t[8];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        _mm256_store_ps(t, acc[i][v]);
        for (int u = 0; u < 8; u++) store1(c + i * n + j + 8 * v + u, t[u], alpha, beta, bias ? bias + j + 8 * v + u : nullptr);
      }
  }
  if (j < j1) few_nn_portable(M, k, n, a, b, c, j, j1, alpha, beta, bias);
}

// m <= 4 rows against a k×n B, streamed row-contiguously (see few_nn_stream_avx512).
template <int M>
R1TS_TARGET_AVX2 void few_nn_stream_avx2(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                                         float beta, const float* bias) {
  constexpr int KB = 8 / M;
  constexpr int64_t W = 512;
  alignas(32) float acc[M][W];
  for (int64_t jc = j0; jc < j1; jc += W) {
    const int64_t w = std::min<int64_t>(W, j1 - jc);
    const int64_t wv = w / 8 * 8;  // vector columns; the last w % 8 are done in scalar
    for (int i = 0; i < M; i++) std::memset(acc[i], 0, sizeof(float) * w);
    int64_t l = 0;
    for (; l + KB <= k; l += KB) {
      __m256 av[M][KB];
#pragma GCC unroll 8
      for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int t = 0; t < KB; t++) av[i][t] = _mm256_broadcast_ss(a + i * k + l + t);
      const float* bp = b + l * n + jc;
      for (int64_t v = 0; v < wv; v += 8) {
        __m256 sm[M];
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) sm[i] = _mm256_load_ps(acc[i] + v);
#pragma GCC unroll 8
        for (int t = 0; t < KB; t++) {
          const __m256 bv = _mm256_loadu_ps(bp + t * n + v);
#pragma GCC unroll 8
          for (int i = 0; i < M; i++) sm[i] = _mm256_fmadd_ps(av[i][t], bv, sm[i]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) _mm256_store_ps(acc[i] + v, sm[i]);
      }
    }
    for (; l < k; l++) {
      const float* bp = b + l * n + jc;
      for (int64_t v = 0; v < wv; v += 8) {
        const __m256 bv = _mm256_loadu_ps(bp + v);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++)
          _mm256_store_ps(acc[i] + v, _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * k + l), bv, _mm256_load_ps(acc[i] + v)));
      }
    }
    for (int64_t t = wv; t < w; t++)  // column tail
      for (int64_t l2 = 0; l2 < k; l2++) {
        const float bv = b[l2 * n + jc + t];
        for (int i = 0; i < M; i++) acc[i][t] += a[i * k + l2] * bv;
      }
    for (int i = 0; i < M; i++)
      for (int64_t t = 0; t < w; t++) store1(c + i * n + jc + t, acc[i][t], alpha, beta, bias ? bias + jc + t : nullptr);
  }
}

R1TS_TARGET_AVX2 inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// J columns of C (rows j.. of B) for M <= 4 rows of A: M·J <= 8 ymm dot-product accumulators.
template <int M, int J>
R1TS_TARGET_AVX2 R1TS_INLINE void few_nt_avx2_block(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j, float alpha,
                                                    float beta, const float* bias) {
  const int64_t kv = k / 8 * 8;
  __m256 acc[M][J];
#pragma GCC unroll 4
  for (int i = 0; i < M; i++)
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) acc[i][t] = _mm256_setzero_ps();
  for (int64_t l = 0; l < kv; l += 8) {
    __m256 bv[J];
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) {
      bv[t] = _mm256_loadu_ps(b + (j + t) * k + l);
      _mm_prefetch(reinterpret_cast<const char*>(b + (j + J + t) * k + l), _MM_HINT_T0);  // the next block's rows
    }
#pragma GCC unroll 4
    for (int i = 0; i < M; i++) {
      const __m256 av = _mm256_loadu_ps(a + i * k + l);
#pragma GCC unroll 4
      for (int t = 0; t < J; t++) acc[i][t] = _mm256_fmadd_ps(av, bv[t], acc[i][t]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < M; i++)
#pragma GCC unroll 4
    for (int t = 0; t < J; t++) {
      const float* br = b + (j + t) * k;
      float s = hsum256(acc[i][t]);
      for (int64_t l = kv; l < k; l++) s += a[i * k + l] * br[l];
      store1(c + i * n + j + t, s, alpha, beta, bias ? bias + j + t : nullptr);
    }
}

template <int M>
R1TS_TARGET_AVX2 void few_nt_avx2_rows(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j, int64_t j1, float alpha,
                                       float beta, const float* bias) {
  constexpr int J = M <= 2 ? 4 : 2;
  for (; j + J <= j1; j += J) few_nt_avx2_block<M, J>(k, n, a, b, c, j, alpha, beta, bias);
  for (; j < j1; j++) few_nt_avx2_block<M, 1>(k, n, a, b, c, j, alpha, beta, bias);
}

template <int M>
R1TS_TARGET_AVX2 void few_nt_avx2_m(int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                                    float beta, const float* bias) {
  if constexpr (M > 4) {
    // Rows 0-3, then the rest, over column chunks small enough that B stays in L1 between passes.
    constexpr int64_t kChunkFloats = 4096;
    const int64_t cols = std::max<int64_t>(2, kChunkFloats / std::max<int64_t>(k, 1));
    for (int64_t j = j0; j < j1; j += cols) {
      const int64_t je = std::min(j1, j + cols);
      few_nt_avx2_rows<4>(k, n, a, b, c, j, je, alpha, beta, bias);
      few_nt_avx2_rows<M - 4>(k, n, a + 4 * k, b, c + 4 * n, j, je, alpha, beta, bias);
    }
  } else {
    few_nt_avx2_rows<M>(k, n, a, b, c, j0, j1, alpha, beta, bias);
  }
}

#define R1TS_FEW_SWITCH(fn)                                                                  \
  R1TS_INLINE void fn(int m, int64_t k, int64_t n, const float* a, const float* b, float* c, \
                      int64_t j0, int64_t j1, float alpha, float beta, const float* bias) {  \
    switch (m) {                                                                             \
      case 1: fn##_m<1>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      case 2: fn##_m<2>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      case 3: fn##_m<3>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      case 4: fn##_m<4>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      case 5: fn##_m<5>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      case 6: fn##_m<6>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      case 7: fn##_m<7>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                   \
      default: fn##_m<8>(k, n, a, b, c, j0, j1, alpha, beta, bias); return;                  \
    }                                                                                        \
  }
R1TS_FEW_SWITCH(few_nn_avx512_reg)
inline void few_nn_avx512(int m, int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha,
                          float beta, const float* bias) {
  switch (m) {
    case 1: return few_nn_stream_avx512<1>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    case 2: return few_nn_stream_avx512<2>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    case 3: return few_nn_stream_avx512<3>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    case 4: return few_nn_stream_avx512<4>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    default: return few_nn_avx512_reg(m, k, n, a, b, c, j0, j1, alpha, beta, bias);
  }
}
R1TS_FEW_SWITCH(few_nt_avx512)
R1TS_FEW_SWITCH(few_nn_avx2_reg)
inline void few_nn_avx2(int m, int64_t k, int64_t n, const float* a, const float* b, float* c, int64_t j0, int64_t j1, float alpha, float beta,
                        const float* bias) {
  switch (m) {
    case 1: return few_nn_stream_avx2<1>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    case 2: return few_nn_stream_avx2<2>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    case 3: return few_nn_stream_avx2<3>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    case 4: return few_nn_stream_avx2<4>(k, n, a, b, c, j0, j1, alpha, beta, bias);
    default: return few_nn_avx2_reg(m, k, n, a, b, c, j0, j1, alpha, beta, bias);
  }
}
R1TS_FEW_SWITCH(few_nt_avx2)
#undef R1TS_FEW_SWITCH
#endif

// ---------------------------------------------------------------------------------------------
// Driver.

using B512 = Blocking<12, 32, 256, 192, 4096>;
using B256 = Blocking<6, 16, 256, 144, 4096>;
#if R1TS_X86
using BPortable = Blocking<4, 8, 256, 128, 4096>;  // 8 xmm accumulators: SSE2 has only 16 registers
#else
using BPortable = Blocking<8, 8, 256, 128, 4096>;  // 16 of NEON's 32 q registers
#endif

struct Level {
  TileFn tile;
  FewFn few_nn, few_nt;
  void (*blocked)(const Args&, const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t, TileFn, const Team*);
  size_t (*panel_floats)(int64_t cols);
  int mr, nr;
};

inline Level level_for(int lvl) {
#if R1TS_X86
  if (lvl >= kAvx512) return {tile_avx512<B512::MR>, few_nn_avx512, few_nt_avx512, blocked<B512>, panel_floats<B512>, B512::MR, B512::NR};
  if (lvl >= kAvx2) return {tile_avx2<B256::MR>, few_nn_avx2, few_nt_avx2, blocked<B256>, panel_floats<B256>, B256::MR, B256::NR};
#else
  (void)lvl;
#endif
  return {tile_portable<BPortable::MR, BPortable::NR>, few_nn_portable, few_nt_portable, blocked<BPortable>, panel_floats<BPortable>, BPortable::MR, BPortable::NR};
}

// Products below this many multiply-adds (all batch items) run on the calling thread only: waking
// the pool costs microseconds when its workers spin and tens of them (or a scheduler time slice
// on a busy machine) when they sleep, so a split must save more than that: 2^22 multiply-adds is
// about 45 µs of one core's packed GEMM; few-row products are bandwidth bound, 2^21 of them read
// 8 MB of B at m = 1.
constexpr double kSerialMacs = 1 << 22;
constexpr double kSerialMacsFewRows = 1 << 21;

// Few rows of one batch item, columns [j0, j1).
inline void few_rows(const Level& L, const Args& g, int64_t bi, int64_t j0, int64_t j1) {
  const float* a = g.a + bi * g.strideA;
  const float* b = g.b + bi * g.strideB;
  float* c = g.c + bi * g.strideC;
  const int m = static_cast<int>(g.m);
  if (g.transA && m > 1) {  // gather op(A) into m contiguous rows
    float* t = scratch_a().get(static_cast<size_t>(m * g.k));
    for (int64_t l = 0; l < g.k; l++)
      for (int i = 0; i < m; i++) t[i * g.k + l] = a[l * m + i];
    a = t;
  }
  (g.transB ? L.few_nt : L.few_nn)(m, g.k, g.n, a, b, c, j0, j1, g.alpha, g.beta, g.bias);
}

// k == 0: C = beta·C + bias.
inline void empty_k(const Args& g) {
  for (int64_t bi = 0; bi < g.batch; bi++) {
    float* c = g.c + bi * g.strideC;
    for (int64_t i = 0; i < g.m; i++)
      for (int64_t j = 0; j < g.n; j++) store1(c + i * g.n + j, 0.0f, 1.0f, g.beta, g.bias ? g.bias + j : nullptr);
  }
}

inline void run(const Args& g) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0) return empty_k(g);
  const Level L = level_for(cpu_level());
  const double macs = static_cast<double>(g.batch) * g.m * g.n * g.k;
  const int threads = macs < (g.m <= 8 ? kSerialMacsFewRows : kSerialMacs) ? 1 : pool_threads();

  if (g.m <= 8) {
    // Tasks: (batch item, column chunk); chunks are multiples of 64 columns.
    const int64_t col_chunks = g.batch >= threads ? 1 : std::max<int64_t>(1, std::min<int64_t>(threads, (g.n + 63) / 64));
    const int64_t tasks = g.batch * col_chunks;
    const int nt = static_cast<int>(std::min<int64_t>(threads, tasks));
    auto work = [&](int tid, int t) {
      for (int64_t task = tasks * tid / t; task < tasks * (tid + 1) / t; task++) {
        const int64_t bi = task / col_chunks, ch = task % col_chunks;
        const int64_t units = (g.n + 63) / 64;
        const int64_t j0 = std::min(g.n, units * ch / col_chunks * 64), j1 = std::min(g.n, units * (ch + 1) / col_chunks * 64);
        if (j0 < j1) few_rows(L, g, bi, j0, j1);
      }
    };
    if (nt <= 1) work(0, 1);
    else parallel_run(nt, work);
    return;
  }

  auto item = [&](int64_t bi, int64_t i0, int64_t i1, int64_t j0, int64_t j1, const Team* team) {
    L.blocked(g, g.a + bi * g.strideA, g.b + bi * g.strideB, g.c + bi * g.strideC, i0, i1, j0, j1, L.tile, team);
  };
  if (threads <= 1) {
    for (int64_t bi = 0; bi < g.batch; bi++) item(bi, 0, g.m, 0, g.n, nullptr);
    return;
  }
  if (g.batch % threads == 0 || g.batch >= 4 * threads) {
    parallel_run(threads, [&](int tid, int t) {
      for (int64_t bi = g.batch * tid / t; bi < g.batch * (tid + 1) / t; bi++) item(bi, 0, g.m, 0, g.n, nullptr);
    });
    return;
  }
  const int64_t row_tiles = (g.m + L.mr - 1) / L.mr;
  if (row_tiles >= 4 * threads) {
    // Enough rows: split M over a team that shares the packing of B.
    const size_t pf = L.panel_floats(g.n);
    float* shared = scratch_shared().get(2 * pf);
    for (int64_t bi = 0; bi < g.batch; bi++) {
      SpinBarrier barrier;
      barrier.n = threads;
      parallel_run(threads, [&](int tid, int t) {
        // t is `threads`, or 1 when this call runs inside another pool job (then alone).
        Team team{tid, t, {shared, shared + pf}, &barrier};
        const int64_t lo = std::min(g.m, row_tiles * tid / t * L.mr), hi = std::min(g.m, row_tiles * (tid + 1) / t * L.mr);
        item(bi, lo, hi, 0, g.n, t == threads ? &team : nullptr);
      });
    }
    return;
  }
  // Few rows, many columns: split N; each thread packs the (small) A itself.
  const int64_t col_tiles = (g.n + L.nr - 1) / L.nr;
  const int nt = static_cast<int>(std::min<int64_t>(threads, col_tiles));
  for (int64_t bi = 0; bi < g.batch; bi++) {
    parallel_run(nt, [&](int tid, int t) {
      const int64_t lo = std::min(g.n, col_tiles * tid / t * L.nr), hi = std::min(g.n, col_tiles * (tid + 1) / t * L.nr);
      if (lo < hi) item(bi, 0, g.m, lo, hi, nullptr);
    });
  }
}

}  // namespace gemm
}  // namespace r1ts

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
