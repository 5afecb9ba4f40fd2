// The per-CPU-level body of the native attention kernels (native/kernels/attention.cc).
// It is NOT a normal header: attention.cc includes it once per dispatch level with
// ATT_L (0 portable, 1 AVX2+FMA, 2 AVX-512), ATT_NS (namespace) and ATT_TARGET (the
// function target attribute) defined, so every function here is compiled for that level.
// It holds: a tiny vector layer (one lane type per level), a fast exp2, a small-GEMM
// micro-kernel family that broadcasts A from any strides and vectorizes over C's columns,
// and the two block routines: the forward (one block of query rows against all its visible
// key blocks, online softmax) and the backward (one chunk of key blocks, all query rows).
// It does not parse arguments, pack the backward's inputs or schedule threads (attention.cc).
//
// Layout trick: the forward works on Sᵀ (keys × query rows) and Oᵀ (Dv × query rows), so the
// vector lanes run over query rows: the softmax max/sum are lane-wise (no horizontal
// reductions), and K and V are read in place by scalar broadcasts (no packing of K or V).

namespace r1ts {
namespace ATT_NS {

#define ATT_INLINE ATT_TARGET inline __attribute__((always_inline))

// ---- vector layer -----------------------------------------------------------------------
#if ATT_L == 2
using vf = __m512;
using vm = __mmask16;
constexpr int W = 16;
constexpr int kMR = 6, kNV = 4;  // micro-tile: 6 rows × 4 vectors (24 accumulators)
ATT_INLINE vf vzero() { return _mm512_setzero_ps(); }
ATT_INLINE vf vset1(float x) { return _mm512_set1_ps(x); }
ATT_INLINE vf vload(const float* p) { return _mm512_loadu_ps(p); }
ATT_INLINE vf vloadt(const float* p, vm m) { return _mm512_maskz_loadu_ps(m, p); }
ATT_INLINE void vstore(float* p, vf x) { _mm512_storeu_ps(p, x); }
ATT_INLINE void vstoret(float* p, vf x, vm m) { _mm512_mask_storeu_ps(p, m, x); }
ATT_INLINE vm tailmask(int n) { return static_cast<vm>((1u << n) - 1u); }
ATT_INLINE vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
ATT_INLINE vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
ATT_INLINE vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
ATT_INLINE vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/** max(a, b); a NaN in b propagates. */
ATT_INLINE vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
/** a < b ? x : y */
ATT_INLINE vf vsel_lt(vf a, vf b, vf x, vf y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
/** 2^x; 0 below 2^-126 (and for -inf), NaN propagates. */
ATT_INLINE vf vexp2(vf x) {
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_NLT_UQ);
  x = _mm512_min_ps(_mm512_set1_ps(127.0f), x);
  const vf n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const vf f = _mm512_sub_ps(x, n);  // [-0.5, 0.5]
  vf p = _mm512_set1_ps(1.5403530393381606e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(keep, p, n);
}
#elif ATT_L == 1
using vf = __m256;
using vm = __m256i;
constexpr int W = 8;
constexpr int kMR = 6, kNV = 2;  // 6 × 2 vectors (12 accumulators of 16 registers)
ATT_INLINE vf vzero() { return _mm256_setzero_ps(); }
ATT_INLINE vf vset1(float x) { return _mm256_set1_ps(x); }
ATT_INLINE vf vload(const float* p) { return _mm256_loadu_ps(p); }
ATT_INLINE vf vloadt(const float* p, vm m) { return _mm256_maskload_ps(p, m); }
ATT_INLINE void vstore(float* p, vf x) { _mm256_storeu_ps(p, x); }
ATT_INLINE void vstoret(float* p, vf x, vm m) { _mm256_maskstore_ps(p, m, x); }
ATT_INLINE vm tailmask(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
ATT_INLINE vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
ATT_INLINE vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
ATT_INLINE vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
ATT_INLINE vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
ATT_INLINE vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
ATT_INLINE vf vsel_lt(vf a, vf b, vf x, vf y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
ATT_INLINE vf vexp2(vf x) {
  const vf keep = _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_NLT_UQ);
  x = _mm256_min_ps(_mm256_set1_ps(127.0f), x);
  x = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
  const vf n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const vf f = _mm256_sub_ps(x, n);
  vf p = _mm256_set1_ps(1.5403530393381606e-4f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558146428443e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291076284772e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504108664821580e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022650695910071e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718055994531e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}
#else
// Portable: one float per "vector"; plain C++ that any compiler (and arm64) builds.
using vf = float;
using vm = int;
constexpr int W = 1;
constexpr int kMR = 4, kNV = 4;
ATT_INLINE vf vzero() { return 0.0f; }
ATT_INLINE vf vset1(float x) { return x; }
ATT_INLINE vf vload(const float* p) { return *p; }
ATT_INLINE vf vloadt(const float* p, vm) { return *p; }
ATT_INLINE void vstore(float* p, vf x) { *p = x; }
ATT_INLINE void vstoret(float* p, vf x, vm) { *p = x; }
ATT_INLINE vm tailmask(int n) { return n; }
ATT_INLINE vf vadd(vf a, vf b) { return a + b; }
ATT_INLINE vf vsub(vf a, vf b) { return a - b; }
ATT_INLINE vf vmul(vf a, vf b) { return a * b; }
ATT_INLINE vf vfma(vf a, vf b, vf c) { return a * b + c; }
ATT_INLINE vf vmax(vf a, vf b) { return a > b ? a : b; }
ATT_INLINE vf vsel_lt(vf a, vf b, vf x, vf y) { return a < b ? x : y; }
ATT_INLINE vf vexp2(vf x) { return x < -126.0f ? 0.0f : std::exp2(x < 127.0f ? x : 127.0f); }
#endif

// ---- small GEMM ---------------------------------------------------------------------------
// C[M×N] (+)= A·B with A[m][k] = A[m·sm + k·sk] (scalar broadcasts, read in place) where either
// sk = 1 (AK: A's rows run along k) or sm = 1 (A's columns run along m), B row-major with leading
// dim ldb, C row-major with ldc. Vectorized over N.

using MkFn = void (*)(int64_t K, const float* A, int64_t sm, int64_t sk, const float* B, int64_t ldb, float* C, int64_t ldc, bool acc, vm tm);
// (sm = 1 is passed as such; only sk varies there.)

template <int MR, int NV, bool T, bool AK>
ATT_TARGET __attribute__((noinline)) static void mk(int64_t K, const float* A, int64_t sm, int64_t sk, const float* B, int64_t ldb, float* C, int64_t ldc,
                                                    bool acc, vm tm) {
  vf c[MR][NV];
#pragma GCC unroll 8
  for (int m = 0; m < MR; m++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
      if (!acc) c[m][v] = vzero();
      else if (T && v == NV - 1) c[m][v] = vloadt(C + m * ldc + v * W, tm);
      else c[m][v] = vload(C + m * ldc + v * W);
    }
  const float* a[MR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; m++) a[m] = A + m * sm;
  for (int64_t k = 0; k < K; k++) {
    vf b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) b[v] = (T && v == NV - 1) ? vloadt(B + v * W, tm) : vload(B + v * W);
    B += ldb;
#pragma GCC unroll 8
    for (int m = 0; m < MR; m++) {
      const vf av = AK ? vset1(a[m][k]) : vset1(A[m]);  // AK: one index for all rows; else one pointer
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) c[m][v] = vfma(av, b[v], c[m][v]);
    }
    if (!AK) A += sk;
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; m++)
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
      if (T && v == NV - 1) vstoret(C + m * ldc + v * W, c[m][v], tm);
      else vstore(C + m * ldc + v * W, c[m][v]);
    }
}

#define ATT_MK2(m, n) \
  case (m) * 8 + (n): return ak ? (t ? mk<(m), (n), true, true> : mk<(m), (n), false, true>) : (t ? mk<(m), (n), true, false> : mk<(m), (n), false, false>);
#define ATT_MKROW(m) ATT_MK2(m, 1) ATT_MK2(m, 2) ATT_MK2(m, 3) ATT_MK2(m, 4)

ATT_TARGET static MkFn pick_mk(int mr, int nv, bool t, bool ak) {
  switch (mr * 8 + nv) {
    ATT_MKROW(1) ATT_MKROW(2) ATT_MKROW(3) ATT_MKROW(4) ATT_MKROW(5) ATT_MKROW(6)
    default: return nullptr;
  }
}
#undef ATT_MK2
#undef ATT_MKROW

ATT_TARGET static void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t sm, int64_t sk, const float* B, int64_t ldb, float* C, int64_t ldc,
                            bool acc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 && acc) return;
  constexpr int64_t NB = static_cast<int64_t>(kNV) * W;
  for (int64_t n0 = 0; n0 < N; n0 += NB) {
    const int64_t nn = N - n0 < NB ? N - n0 : NB;
    const int nv = static_cast<int>((nn + W - 1) / W);
    const int rem = static_cast<int>(nn % W);
    const vm tm = tailmask(rem == 0 ? W : rem);
    const bool ak = sk == 1;  // otherwise sm == 1 (every caller is one or the other)
    const MkFn full = pick_mk(kMR, nv, rem != 0, ak);
    int64_t m0 = 0;
    for (; m0 + kMR <= M; m0 += kMR) full(K, A + m0 * sm, sm, sk, B + n0, ldb, C + m0 * ldc + n0, ldc, acc, tm);
    if (m0 < M) pick_mk(static_cast<int>(M - m0), nv, rem != 0, ak)(K, A + m0 * sm, sm, sk, B + n0, ldb, C + m0 * ldc + n0, ldc, acc, tm);
  }
}

/** dst [n][w] = rows of src w floats wide, ld apart. */
ATT_TARGET static void copy_rows(float* dst, const float* src, int64_t ld, int64_t n, int64_t w) {
  for (int64_t j = 0; j < n; j++) std::memcpy(dst + j * w, src + j * ld, sizeof(float) * w);
}

/** dst [cols][rows] = src [rows][cols]ᵀ · s, in 16 × 16 tiles (both sides stay in L1). */
ATT_TARGET static void transpose_scaled(float* dst, const float* src, int64_t rows, int64_t cols, float s) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16)
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c] * s;
    }
}

// ---- forward --------------------------------------------------------------------------------
// One block of Br query rows (rows enumerate (position, head in the kv group), position-major)
// against every key block it can see. Scratch: Qt [D][Br], S [Bc][Br], Ot [Dv][Br], lim, m, l [Br],
// Kc [Bc][D], Vc [Bc][Dv] (the key block copied contiguous: rows Hkv·D apart alias in L1),
// Tmp [Br][max(D, Dv)] (row-major staging for the transposes of Q in and O out).
ATT_TARGET static void fwd_block(const FwdArgs& a, int64_t bh, int64_t rb, float* ws) {
  const Problem& p = *a.p;
  const int64_t Br = p.Br, D = p.D, Dv = p.Dv, G = p.G;
  const int64_t b = bh / p.Hkv, hk = bh % p.Hkv;
  float* Qt = ws;
  float* S = Qt + D * Br;
  float* Ot = S + kBc * Br;
  float* lim = Ot + Dv * Br;
  float* mrow = lim + Br;
  float* lrow = mrow + Br;
  float* Kc = lrow + Br;
  float* Vc = Kc + kBc * D;
  float* Tmp = Vc + kBc * Dv;  // [Br][max(D, Dv)]
  const int64_t r0 = rb * Br;
  const int64_t rv = p.R - r0 < Br ? p.R - r0 : Br;
  const float qs = p.scale * kLog2e;
  int64_t maxlim = 0, minlim = INT64_MAX;
  // Q rows → Tmp [Br][D] (whole-row copies), then Tmp → Qt [D][Br] out of L1.
  for (int64_t r = 0; r < Br; r++) {
    if (r < rv) {
      const int64_t pos = (r0 + r) / G, g = (r0 + r) % G;
      std::memcpy(Tmp + r * D, a.q + ((b * p.Tq + pos) * p.Hq + hk * G + g) * D, sizeof(float) * D);
      const int64_t L = p.visible(b, pos);
      lim[r] = static_cast<float>(L);
      if (L > maxlim) maxlim = L;
      if (L < minlim) minlim = L;
    } else {
      for (int64_t d = 0; d < D; d++) Tmp[r * D + d] = 0.0f;
      lim[r] = 0.0f;
    }
    mrow[r] = -INFINITY;
    lrow[r] = 0.0f;
  }
  transpose_scaled(Qt, Tmp, Br, D, qs);
  for (int64_t i = 0; i < Dv * Br; i++) Ot[i] = 0.0f;

  const int64_t ldk = p.Hkv * D, ldv = p.Hkv * Dv;
  const float* kb = a.k + (b * p.Tk * p.Hkv + hk) * D;
  const float* vb = a.v + (b * p.Tk * p.Hkv + hk) * Dv;
  const vf ninf = vset1(-INFINITY), lowest = vset1(-3.0e38f), zero = vzero();
  for (int64_t j0 = 0; j0 < maxlim; j0 += kBc) {
    const int64_t bc = maxlim - j0 < kBc ? maxlim - j0 : kBc;
    const float* Kblk = Kc;
    const float* Vblk = Vc;
    if (a.kvpacked) {
      Kblk = a.kp + (bh * p.Tk + j0) * D;
      Vblk = a.vp + (bh * p.Tk + j0) * Dv;
    } else {
      copy_rows(Kc, kb + j0 * ldk, ldk, bc, D);
      copy_rows(Vc, vb + j0 * ldv, ldv, bc, Dv);
    }
    gemm(bc, Br, D, Kblk, D, 1, Qt, Br, S, Br, false);  // Sᵀ = K·(scale·log2e·Q)ᵀ
    const bool masked = j0 + bc > minlim;
    for (int64_t c = 0; c < Br; c += W) {
      const vf mo = vload(mrow + c);
      vf mx = mo;
      if (masked) {
        const vf lv = vload(lim + c);
        for (int64_t j = 0; j < bc; j++) {
          const vf s = vsel_lt(vset1(static_cast<float>(j0 + j)), lv, vload(S + j * Br + c), ninf);
          vstore(S + j * Br + c, s);
          mx = vmax(mx, s);
        }
      } else {
        for (int64_t j = 0; j < bc; j++) mx = vmax(mx, vload(S + j * Br + c));
      }
      const vf mu = vsel_lt(mx, lowest, zero, mx);  // a row with nothing visible yet: reference 0
      const vf alpha = vexp2(vsub(mo, mu));
      vf sum = zero;
      for (int64_t j = 0; j < bc; j++) {
        const vf e = vexp2(vsub(vload(S + j * Br + c), mu));
        vstore(S + j * Br + c, e);
        sum = vadd(sum, e);
      }
      vstore(lrow + c, vfma(vload(lrow + c), alpha, sum));
      vstore(mrow + c, mx);
      if (j0 > 0)
        for (int64_t d = 0; d < Dv; d++) vstore(Ot + d * Br + c, vmul(vload(Ot + d * Br + c), alpha));
    }
    gemm(Dv, Br, bc, Vblk, 1, Dv, S, Br, Ot, Br, true);  // Oᵀ += Vᵀ·Pᵀ
  }

  transpose_scaled(Tmp, Ot, Dv, Br, 1.0f);  // Oᵀ → O [Br][Dv]
  for (int64_t r = 0; r < rv; r++) {
    const int64_t pos = (r0 + r) / G, g = (r0 + r) % G, h = hk * G + g;
    float* o = a.out + ((b * p.Tq + pos) * p.Hq + h) * Dv;
    const float l = lrow[r];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t d = 0; d < Dv; d++) o[d] = Tmp[r * Dv + d] * inv;
    a.lse[(b * p.Hq + h) * p.Tq + pos] = l > 0.0f ? (mrow[r] + std::log2(l)) * kLn2 : -INFINITY;
  }
}

// ---- backward -------------------------------------------------------------------------------
// Key blocks jb = chunk, chunk + nch, ... of one (batch, kv head) against every query row block
// that sees them (inputs pre-packed by attention.cc). dK/dV of a key block are summed locally
// over all rows (all heads of the group) and written once; dQ goes to this chunk's own buffer.
// Scratch: S/P [Bc][Br], dP/dS [Bc][Br], dK [Bc][D], dV [Bc][Dv], Kc [Bc][D], Vc [Bc][Dv].
ATT_TARGET static void bwd_chunk(const BwdArgs& a, int64_t bh, int64_t ch, float* ws) {
  const Problem& p = *a.p;
  const int64_t Br = p.Br, D = p.D, Dv = p.Dv, Rp = p.Rp;
  const int64_t b = bh / p.Hkv, hk = bh % p.Hkv;
  float* S = ws;
  float* dP = S + kBc * Br;
  float* dK = dP + kBc * Br;
  float* dV = dK + kBc * D;
  float* Kc = dV + kBc * Dv;
  float* Vc = Kc + kBc * D;
  const float* Qt = a.qt + bh * D * Rp;
  const float* Qr = a.qr + bh * Rp * D;
  const float* dOt = a.dot + bh * Dv * Rp;
  const float* dOr = a.dor + bh * Rp * Dv;
  const float* lse2 = a.lse2 + bh * Rp;
  const float* delta = a.delta + bh * Rp;
  const float* lim = a.lim + bh * Rp;
  const int64_t* bmax = a.bmax + bh * p.nrb;
  const int64_t* bmin = a.bmin + bh * p.nrb;
  float* dQ = a.dqbuf + (bh * a.nch + ch) * Rp * D;
  const int64_t ldk = p.Hkv * D, ldv = p.Hkv * Dv;
  const float* kb = a.k + (b * p.Tk * p.Hkv + hk) * D;
  const float* vb = a.v + (b * p.Tk * p.Hkv + hk) * Dv;
  float* dkb = a.dk + (b * p.Tk * p.Hkv + hk) * D;
  float* dvb = a.dv + (b * p.Tk * p.Hkv + hk) * Dv;
  const vf sc = vset1(p.scale), zero = vzero();
  const int64_t nkb = (p.Tk + kBc - 1) / kBc;
  for (int64_t i = 0; i < p.R * D; i++) dQ[i] = 0.0f;
  for (int64_t jb = ch; jb < nkb; jb += a.nch) {
    const int64_t j0 = jb * kBc;
    const int64_t bc = p.Tk - j0 < kBc ? p.Tk - j0 : kBc;
    copy_rows(Kc, kb + j0 * ldk, ldk, bc, D);
    copy_rows(Vc, vb + j0 * ldv, ldv, bc, Dv);
    for (int64_t i = 0; i < bc * D; i++) dK[i] = 0.0f;
    for (int64_t i = 0; i < bc * Dv; i++) dV[i] = 0.0f;
    for (int64_t rb = 0; rb < p.nrb; rb++) {
      if (bmax[rb] <= j0) continue;
      const bool masked = bmin[rb] < j0 + bc;
      const int64_t r0 = rb * Br;
      const int64_t rv = p.R - r0 < Br ? p.R - r0 : Br;
      gemm(bc, Br, D, Kc, D, 1, Qt + r0 * D, Br, S, Br, false);  // Sᵀ (log2 units)
      for (int64_t c = 0; c < Br; c += W) {
        const vf lv = vload(lse2 + r0 + c), limv = vload(lim + r0 + c);
        for (int64_t j = 0; j < bc; j++) {
          vf e = vexp2(vsub(vload(S + j * Br + c), lv));
          if (masked) e = vsel_lt(vset1(static_cast<float>(j0 + j)), limv, e, zero);
          vstore(S + j * Br + c, e);  // Pᵀ
        }
      }
      gemm(bc, Dv, rv, S, Br, 1, dOr + r0 * Dv, Dv, dV, Dv, true);      // dV += Pᵀ·dO
      gemm(bc, Br, Dv, Vc, Dv, 1, dOt + r0 * Dv, Br, dP, Br, false);  // dPᵀ = V·dOᵀ
      for (int64_t c = 0; c < Br; c += W) {
        const vf dl = vload(delta + r0 + c);
        for (int64_t j = 0; j < bc; j++) {
          const vf ds = vmul(vmul(vload(S + j * Br + c), vsub(vload(dP + j * Br + c), dl)), sc);
          vstore(dP + j * Br + c, ds);  // dSᵀ (scale folded in)
        }
      }
      gemm(bc, D, rv, dP, Br, 1, Qr + r0 * D, D, dK, D, true);        // dK += dSᵀ·Q
      gemm(rv, D, bc, dP, 1, Br, Kc, D, dQ + r0 * D, D, true);  // dQ += dS·K
    }
    for (int64_t j = 0; j < bc; j++) {
      for (int64_t d = 0; d < D; d++) dkb[(j0 + j) * ldk + d] = dK[j * D + d];
      for (int64_t d = 0; d < Dv; d++) dvb[(j0 + j) * ldv + d] = dV[j * Dv + d];
    }
  }
}

#undef ATT_INLINE

}  // namespace ATT_NS
}  // namespace r1ts
