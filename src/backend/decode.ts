// The decode kernels' contract: what one KV-cache decode step (one new token per sequence,
// src/nn/decode.ts) needs beyond the Kernels of kernels.ts, as one typed interface. The
// reference (src/backend/ref/decode.ts) is the spec and the oracle; the native wrappers
// (src/backend/native/decode.ts) run the addon's kernels/decode-attention.cc.
// Like Kernels: flat row-major typed arrays plus sizes; outputs are not allocated here; shapes
// are the caller's to validate; indices that come from data (lens, starts, positions) are
// checked and throw RangeError naming the bad value.
// Not here: prefill/training attention (Kernels.attention), the projections (Kernels.gemm),
// MoE routing (src/nn/decode.ts).

import type { F32, I32 } from './kernels.ts';

export interface DecodeAttentionParams {
  B: number;
  /** Rows of the cache per sequence. */
  Tmax: number;
  /** Query heads; a multiple of Hkv (query head h reads kv head floor(h / (Hq / Hkv))). */
  Hq: number;
  Hkv: number;
  /** Head dim of q and k. */
  D: number;
  /** Head dim of v and out. */
  Dv: number;
  /** Multiplies q·k before the softmax. */
  scale: number;
}

export interface DecodeGqaParams extends DecodeAttentionParams {
  /** The first rotaryDim dims of each q and k head rotate (even, in [2, D]). */
  rotaryDim: number;
  /** Pair layout: (2i, 2i+1) when true, (i, i + rotaryDim/2) when false (the rope kernel's). */
  interleaved: boolean;
}

export interface DecodeMlaParams {
  B: number;
  Tmax: number;
  /** Heads. */
  H: number;
  /** Per-head query/key dims without / with rotary embedding, value dim. */
  Dn: number;
  Dr: number;
  Dv: number;
  /** Rank of the latent (kv_lora_rank). */
  R: number;
  /** RMSNorm epsilon of the latent. */
  eps: number;
  interleaved: boolean;
  scale: number;
}

export interface MoeExpertsParams {
  /** Tokens (rows of x and out). */
  N: number;
  /** Model width. */
  C: number;
  /** Hidden size of each expert. */
  F: number;
  /** Routed experts (entries of counts, w1s, w3s, w2s). */
  E: number;
}

export interface DecodeKernels {
  /**
   * out [B, Hq, Dv] = softmax(scale·q·kᵀ)·v per sequence b over its keys j < lens[b], with q [B, Hq, D]
   * (one query row per sequence), k [B, Tmax, Hkv, D], v [B, Tmax, Hkv, Dv]. lens[b] = 0 gives zeros;
   * lens[b] outside [0, Tmax] throws RangeError.
   */
  decodeAttention(q: F32, k: F32, v: F32, out: F32, lens: I32, p: DecodeAttentionParams): void;
  /**
   * One decode step of MHA/GQA attention: q [B, Hq, D] and k [B, Hkv, D] rotated at positions pos [B]
   * (tables cos/sin [maxPos, rotaryDim/2]); the rotated k and v [B, Hkv, Dv] written into the caches
   * cacheK [B, Tmax, Hkv, D], cacheV [B, Tmax, Hkv, Dv] at row starts[b]; then decodeAttention over
   * lens[b] rows into out [B, Hq, Dv]. q, k, v are not modified.
   */
  decodeGqa(q: F32, k: F32, v: F32, cos: F32, sin: F32, pos: I32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32, p: DecodeGqaParams): void;
  /**
   * One decode step of MLA's absorbed path between the projections. Inputs q [B, H, Dn + Dr]
   * (the wq output), kv [B, R + Dr] (the wkv_a output), the latent norm's weight normW [R],
   * wkvB [H·(Dn + Dv), R]. Per sequence b: c = rmsnorm(kv[b, :R])·normW, kpe = rope(kv[b, R:]);
   * cacheK [B, Tmax, R + Dr] row starts[b] = [c ‖ kpe], cacheV [B, Tmax, R] row starts[b] = c; per head h:
   * qf = [q_nope·W_UK[h] ‖ rope(q_pe)] (W_UK[h] = wkvB rows h·(Dn+Dv) .. +Dn, [Dn, R]), attention of qf
   * over the lens[b] cached rows (keys cacheK; values the latent part cacheK[.., :R], which is what every
   * absorbed step writes to cacheV too, so cacheV is written but never read) → o [R], out[b, h] = W_UV[h]·o
   * (W_UV[h] = the next Dv rows, [Dv, R]) into out [B, H, Dv].
   */
  decodeMla(q: F32, kv: F32, normW: F32, cos: F32, sin: F32, pos: I32, wkvB: F32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32, p: DecodeMlaParams): void;
  /**
   * decodeMla's step for MLA's naive path, whose cache holds per-head rows: with c and kpe as there,
   * [k_nope ‖ v] = W_kvb[h]·c per head (wkvB rows h·(Dn+Dv) .. +Dn+Dv), cacheK [B, Tmax, H, Dn + Dr]
   * row starts[b] head h = [k_nope ‖ kpe], cacheV [B, Tmax, H, Dv] = v; then per head attention of
   * [q_nope ‖ rope(q_pe)] over that head's lens[b] cached rows into out [B, H, Dv].
   */
  decodeMlaNaive(q: F32, kv: F32, normW: F32, cos: F32, sin: F32, pos: I32, wkvB: F32, cacheK: F32, cacheV: F32, starts: I32, lens: I32, out: F32, p: DecodeMlaParams): void;
  /**
   * The routed experts of a MoE step over pairs grouped by expert: pair i (the first counts[0] are
   * expert 0's, the next counts[1] expert 1's, ...) takes row tokenOf[i] of x [N, C] and weight w[i];
   * each expert e computes y = (silu(rows·w1s[e]ᵀ) ⊙ rows·w3s[e]ᵀ)·w2s[e]ᵀ over its rows
   * (w1s[e], w3s[e] [F, C]; w2s[e] [C, F]) into ys [Σcounts, C] (scratch, overwritten), then
   * out[tokenOf[i]] += w[i]·ys[i] (out [N, C] accumulates). tokenOf outside [0, N) throws RangeError.
   */
  moeExperts(x: F32, tokenOf: I32, w: F32, counts: I32, w1s: readonly F32[], w3s: readonly F32[], w2s: readonly F32[], ys: F32, out: F32, p: MoeExpertsParams): void;
}
