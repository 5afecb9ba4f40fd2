// The inference-only decode step of the layers: one new token per sequence through the KV
// cache, computed on raw Float32Arrays with reused scratch buffers and direct kernel calls —
// no Tensor per op, no autograd tape, no fresh output per op. Residual adds are fused into
// the output GEMMs (beta = 1), attention is one native call per layer for the whole batch
// (decodeGqa / decodeMla / decodeMlaNaive: RoPE, cache append and attention; MLA's absorbed
// path in one call),
// and MoE groups the batch's tokens per expert (one native call runs the experts in parallel
// over the pool, one GEMM chain per expert, and scatters their weighted outputs).
// Values equal the modules' forward() up to float summation order; the tests check that.
// Not here: prefill, training, ragged multi-token steps (the modules' forward()), the
// trunk and the head (src/models/decode.ts).

import type { DecodeKernels } from '../backend/decode.ts';
import type { Kernels } from '../backend/kernels.ts';
import { nativeDecodeKernels } from '../backend/native/decode.ts';
import { refDecodeKernels } from '../backend/ref/decode.ts';
import { currentBackend, type Tensor } from '../tensor/index.ts';
import type { Attention } from './attention.ts';
import type { LayerCache } from './kv-cache.ts';
import type { MLP, RMSNorm } from './layers.ts';
import type { MLA } from './mla.ts';
import type { Gate, MoE } from './moe.ts';
import type { RotaryEmbedding } from './rope.ts';

/** The decode kernels of the active backend: native when it runs and the addon has them, else the reference. */
export function decodeKernels(): DecodeKernels {
  return currentBackend().name === 'native' && nativeDecodeKernels ? nativeDecodeKernels : refDecodeKernels;
}

/** Named grow-only f32 buffers reused across decode steps (one set per model). */
export class DecodeScratch {
  private readonly bufs = new Map<string, Float32Array>();

  /** A buffer of exactly n floats under `name`; its contents are whatever the last user left. */
  f32(name: string, n: number): Float32Array {
    let b = this.bufs.get(name);
    if (!b || b.length < n) {
      b = new Float32Array(Math.max(n, b ? 2 * b.length : 0));
      this.bufs.set(name, b);
    }
    return b.subarray(0, n);
  }
}

/** Where the step's rows go: B sequences, one new row each. */
export interface DecodeRows {
  B: number;
  /** Absolute position of each new row (= its cache row), i32 [B]. */
  pos: Int32Array;
  /** Cache row the new k/v is written to, i32 [B] (= pos). */
  starts: Int32Array;
  /** Keys visible to each sequence's query after the append, i32 [B] (starts + 1, or starts for a padding row). */
  lens: Int32Array;
}

const f32 = (t: Tensor): Float32Array => t.data as Float32Array;

/** out [rows, out] (=, or += when accumulate) x [rows, in] · Wᵀ (+ bias). */
export function linearInto(k: Kernels, x: Float32Array, rows: number, weight: Tensor, bias: Tensor | null, out: Float32Array, accumulate = false): void {
  const [n, kk] = weight.shape;
  k.gemm(x, f32(weight), out, { batch: 1, m: rows, n, k: kk, transA: false, transB: true, alpha: 1, beta: accumulate ? 1 : 0, strideA: 0, strideB: 0, strideC: 0, bias: bias ? f32(bias) : null });
}

/** out [rows, C] = RMSNorm(x). */
export function rmsnormInto(k: Kernels, ws: DecodeScratch, norm: RMSNorm, x: Float32Array, rows: number, out: Float32Array): void {
  k.rmsnorm(x, f32(norm.weight), out, ws.f32('rstd', rows), rows, norm.dim, norm.eps);
}

/** h [B, C] += Attention(xn) for one new row per sequence (MHA/GQA, Llama/Qwen2). */
export function attentionDecode(attn: Attention, xn: Float32Array, r: DecodeRows, rope: RotaryEmbedding, cache: LayerCache, ws: DecodeScratch, h: Float32Array): void {
  const k = currentBackend().kernels;
  const { nHeads: H, nKvHeads: Hkv, headDim: D } = attn.cfg;
  const B = r.B;
  const q = ws.f32('q', B * H * D); // [B, H, D]
  const kk = ws.f32('k', B * Hkv * D); // [B, Hkv, D]
  const v = ws.f32('v', B * Hkv * D); // [B, Hkv, D]
  linearInto(k, xn, B, attn.wq.weight, attn.wq.bias, q);
  linearInto(k, xn, B, attn.wk.weight, attn.wk.bias, kk);
  linearInto(k, xn, B, attn.wv.weight, attn.wv.bias, v);
  const o = ws.f32('attnOut', B * H * D); // [B, H, D]
  decodeKernels().decodeGqa(q, kk, v, f32(rope.cos), f32(rope.sin), r.pos, f32(cache.k), f32(cache.v), r.starts, r.lens, o, {
    B, Tmax: cache.k.shape[1], Hq: H, Hkv, D, Dv: D, scale: 1 / Math.sqrt(D), rotaryDim: rope.cfg.dim, interleaved: rope.cfg.interleaved,
  });
  linearInto(k, o, B, attn.wo.weight, attn.wo.bias, h, true);
}

/** h [B, C] += MLA(xn) through mla.impl's path (its cache layout: the latent for 'absorb', per-head rows for 'naive'). */
export function mlaDecode(mla: MLA, xn: Float32Array, r: DecodeRows, rope: RotaryEmbedding, cache: LayerCache, ws: DecodeScratch, h: Float32Array): void {
  const k = currentBackend().kernels;
  const { nHeads: H, kvLoraRank: R, qkNopeHeadDim: Dn, qkRopeHeadDim: Dr, vHeadDim: Dv } = mla.cfg;
  const B = r.B;
  const q = ws.f32('q', B * H * (Dn + Dr)); // [B, H, Dn+Dr]
  if (mla.wq) linearInto(k, xn, B, mla.wq.weight, mla.wq.bias, q);
  else {
    const qa = ws.f32('qa', B * mla.cfg.qLoraRank); // [B, qLoraRank]
    linearInto(k, xn, B, mla.wqA!.weight, mla.wqA!.bias, qa);
    const qn = ws.f32('qaNorm', B * mla.cfg.qLoraRank); // [B, qLoraRank]
    rmsnormInto(k, ws, mla.qNorm!, qa, B, qn);
    linearInto(k, qn, B, mla.wqB!.weight, mla.wqB!.bias, q);
  }
  const kv = ws.f32('kv', B * (R + Dr)); // [B, R+Dr]
  linearInto(k, xn, B, mla.wkvA.weight, mla.wkvA.bias, kv);
  const o = ws.f32('attnOut', B * H * Dv); // [B, H, Dv]
  const step = mla.impl === 'absorb' ? decodeKernels().decodeMla : decodeKernels().decodeMlaNaive;
  step(q, kv, f32(mla.kvNorm.weight), f32(rope.cos), f32(rope.sin), r.pos, f32(mla.wkvB.weight), f32(cache.k), f32(cache.v), r.starts, r.lens, o, {
    B, Tmax: cache.k.shape[1], H, Dn, Dr, Dv, R, eps: mla.kvNorm.eps, interleaved: rope.cfg.interleaved, scale: mla.softmaxScale,
  });
  linearInto(k, o, B, mla.wo.weight, mla.wo.bias, h, true);
}

/** out [rows, C] (= or +=) w2(silu(w1·x) ⊙ w3·x) for x [rows, C]. */
function swigluMlp(k: Kernels, mlp: MLP, x: Float32Array, rows: number, ws: DecodeScratch, out: Float32Array, accumulate: boolean): void {
  const F = mlp.interDim;
  const g = ws.f32('mlpGate', rows * F), u = ws.f32('mlpUp', rows * F), a = ws.f32('mlpAct', rows * F); // [rows, F] each
  linearInto(k, x, rows, mlp.w1.weight, mlp.w1.bias, g);
  linearInto(k, x, rows, mlp.w3.weight, mlp.w3.bias, u);
  k.swiglu(g, u, a, rows * F);
  linearInto(k, a, rows, mlp.w2.weight, mlp.w2.bias, out, accumulate);
}

/** h [B, C] += MLP(xn). */
export function mlpDecode(mlp: MLP, xn: Float32Array, B: number, ws: DecodeScratch, h: Float32Array): void {
  swigluMlp(currentBackend().kernels, mlp, xn, B, ws, h, true);
}

/**
 * The experts chosen for affinities s [N, E] (Gate.select's rule) into out [N, K]. Without expert
 * groups a single pass keeps the K best per token (ties: the lower index, as Gate.select sorts);
 * with groups it is Gate.select itself.
 */
export function selectExperts(gate: Gate, s: Float32Array, N: number, out: Int32Array): void {
  const { nRoutedExperts: E, topK: K, nGroup } = gate.cfg;
  if (nGroup > 1) {
    out.set(gate.select(s, N));
    return;
  }
  const bias = gate.bias ? f32(gate.bias) : null;
  const best = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    const idx = out.subarray(n * K, (n + 1) * K);
    let have = 0;
    for (let e = 0; e < E; e++) {
      const v = Math.fround(s[n * E + e] + (bias ? bias[e] : 0));
      if (have === K && !(v > best[K - 1])) continue;
      // Insert after every kept value >= v (an equal earlier index stays ahead).
      let at = have === K ? K - 1 : have++;
      while (at > 0 && v > best[at - 1]) {
        best[at] = best[at - 1];
        idx[at] = idx[at - 1];
        at--;
      }
      best[at] = v;
      idx[at] = e;
    }
  }
}

/** h [N, C] += MoE(xn) for N tokens: routed experts over their grouped tokens plus the shared experts. */
export function moeDecode(moe: MoE, xn: Float32Array, N: number, ws: DecodeScratch, h: Float32Array): void {
  const k = currentBackend().kernels;
  const { dim: C, nRoutedExperts: E, topK: K, scoringFunc, routeScale } = moe.cfg;
  const logits = ws.f32('gateLogits', N * E), s = ws.f32('gateScores', N * E); // [N, E]
  linearInto(k, xn, N, moe.gate.weight, null, logits);
  if (scoringFunc === 'softmax') k.softmax(logits, s, N, E);
  else k.unary('sigmoid', logits, s, N * E);
  const chosen = new Int32Array(N * K); // [N, K]
  selectExperts(moe.gate, s, N, chosen);

  // Group the (token, slot) pairs by expert, with their routing weights.
  const counts = new Int32Array(E);
  for (let i = 0; i < N * K; i++) counts[chosen[i]]++;
  const offsets = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + counts[e];
  const fill = offsets.slice(0, E);
  const tokenOf = new Int32Array(N * K); // [N·K] expert-sorted pairs' tokens
  const w = new Float32Array(N * K); // [N·K] their routing weights
  for (let n = 0; n < N; n++) {
    let denom = 0;
    if (scoringFunc === 'sigmoid') for (let j = 0; j < K; j++) denom = Math.fround(denom + s[n * E + chosen[n * K + j]]);
    for (let j = 0; j < K; j++) {
      const e = chosen[n * K + j];
      const at = fill[e]++;
      tokenOf[at] = n;
      let wt = s[n * E + e];
      if (scoringFunc === 'sigmoid') wt = Math.fround(wt / denom);
      w[at] = routeScale !== 1 ? Math.fround(wt * routeScale) : wt;
    }
  }
  if (moe.training) for (let e = 0; e < E; e++) moe.load[e] += counts[e];
  moe.auxLoss = null;

  const F = moe.cfg.moeInterDim;
  const noBias = (m: MLP) => !m.w1.bias && !m.w2.bias && !m.w3.bias;
  if (moe.experts.every(noBias)) {
    // One call: experts in parallel over the pool, then h[tokenOf[i]] += w[i]·y[i]. A shared expert of
    // the routed experts' size joins as expert E over every token with weight 1 (in parallel with them).
    const sh = moe.sharedExperts && moe.sharedExperts.interDim === F && noBias(moe.sharedExperts) ? moe.sharedExperts : null;
    const mlps = sh ? [...moe.experts, sh] : moe.experts;
    const P = N * K + (sh ? N : 0);
    const tok = sh ? new Int32Array(P) : tokenOf, wt = sh ? new Float32Array(P) : w, cnt = sh ? new Int32Array(E + 1) : counts; // [P], [P], [E(+1)]
    if (sh) {
      tok.set(tokenOf);
      wt.set(w);
      cnt.set(counts);
      for (let n = 0; n < N; n++) tok[N * K + n] = n;
      wt.fill(1, N * K);
      cnt[E] = N;
    }
    const weights = (pick: (m: MLP) => Tensor) => mlps.map((x) => f32(pick(x)));
    decodeKernels().moeExperts(xn, tok, wt, cnt, weights((x) => x.w1.weight), weights((x) => x.w3.weight), weights((x) => x.w2.weight), ws.f32('moeOut', P * C), h, {
      N, C, F, E: mlps.length,
    });
    if (moe.sharedExperts && !sh) swigluMlp(k, moe.sharedExperts, xn, N, ws, h, true);
    return;
  }
  const ys = ws.f32('moeOut', N * K * C); // [N·K, C]
  const xs = ws.f32('moeIn', N * K * C); // [N·K, C]
  k.embedding(xn, tokenOf, xs, N * K, C);
  for (let e = 0; e < E; e++) {
    const n = counts[e];
    if (n === 0) continue;
    const o = offsets[e];
    swigluMlp(k, moe.experts[e], xs.subarray(o * C, (o + n) * C), n, ws, ys.subarray(o * C, (o + n) * C), false);
  }
  for (let i = 0; i < N * K; i++) {
    const wt = w[i];
    for (let c = i * C, end = c + C; c < end; c++) ys[c] *= wt;
  }
  k.embeddingBackward(tokenOf, ys, h, N * K, C); // h[tokenOf[i]] += ys[i]
  if (moe.sharedExperts) swigluMlp(k, moe.sharedExperts, xn, N, ws, h, true);
}
