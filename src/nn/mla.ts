// MLA: DeepSeek-V3's Multi-head Latent Attention, following the official
// inference code (inference/model.py) exactly, with both of its paths:
//   naive   — up-project the latent to per-head k_nope and v, concatenate the
//             shared rotary key k_pe to every head, ordinary attention;
//   absorb  — fold wkv_b's key half into the query and its value half into the
//             output, so attention runs against the normalized latent c_kv and
//             k_pe directly (one shared "kv head" of dim kv_lora_rank + rope).
// The two give the same output; the absorbed path's KV cache holds only the
// latent per token: [c_kv ‖ k_pe] as keys and c_kv again as values (the
// attention kernel takes k and v as separate arrays, so c_kv is stored twice:
// 2·kv_lora_rank + qk_rope_head_dim floats per token, against
// n_heads·(qk_head_dim + v_head_dim) for the naive cache).
// Softmax scale: qk_head_dim^-0.5, times mscale² under YaRN (rope.ts).

import type { Rng } from '../core/rng.ts';
import { attention, broadcastTo, cat, fusedTraining, isGradEnabled, linear, matmul, mlaAttention, narrow, permute, reshape, writeRows, type Tensor } from '../tensor/index.ts';
import type { LayerCache, LayerCacheShape, StepContext } from './kv-cache.ts';
import { packedAttention } from './prefix-pack.ts';
import { Linear, RMSNorm } from './layers.ts';
import { Module } from './module.ts';
import type { RotaryEmbedding } from './rope.ts';

export interface MLAConfig {
  dim: number;
  nHeads: number;
  /** Rank of the query compression; 0 = a plain wq projection. */
  qLoraRank: number;
  /** Rank of the joint key/value compression (the cached latent). */
  kvLoraRank: number;
  /** Per-head query/key dims without rotary embedding. */
  qkNopeHeadDim: number;
  /** Per-head dims with rotary embedding (shared k_pe across heads). */
  qkRopeHeadDim: number;
  vHeadDim: number;
  /** Multiplies the default softmax scale (YaRN's mscale², 1 without YaRN). */
  scaleMultiplier: number;
  normEps: number;
}

export type AttnImpl = 'naive' | 'absorb';

export class MLA extends Module {
  readonly wq: Linear | null;
  readonly wqA: Linear | null;
  readonly qNorm: RMSNorm | null;
  readonly wqB: Linear | null;
  readonly wkvA: Linear;
  readonly kvNorm: RMSNorm;
  readonly wkvB: Linear;
  readonly wo: Linear;
  readonly softmaxScale: number;
  /** Which path forward() takes; the cache layout follows it. */
  impl: AttnImpl = 'naive';

  constructor(readonly cfg: MLAConfig, rng: Rng) {
    super();
    const { dim, nHeads: H, qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim } = cfg;
    const qkHead = qkNopeHeadDim + qkRopeHeadDim;
    if (qLoraRank > 0) {
      this.wq = null;
      this.wqA = new Linear(dim, qLoraRank, { rng });
      this.qNorm = new RMSNorm(qLoraRank, cfg.normEps);
      this.wqB = new Linear(qLoraRank, H * qkHead, { rng });
    } else {
      this.wq = new Linear(dim, H * qkHead, { rng });
      this.wqA = this.qNorm = this.wqB = null;
    }
    this.wkvA = new Linear(dim, kvLoraRank + qkRopeHeadDim, { rng });
    this.kvNorm = new RMSNorm(kvLoraRank, cfg.normEps);
    this.wkvB = new Linear(kvLoraRank, H * (qkNopeHeadDim + vHeadDim), { rng });
    this.wo = new Linear(H * vHeadDim, dim, { rng });
    this.softmaxScale = Math.pow(qkHead, -0.5) * cfg.scaleMultiplier;
  }

  cacheShape(): LayerCacheShape {
    const { nHeads: H, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim } = this.cfg;
    return this.impl === 'naive'
      ? { kHeads: H, kDim: qkNopeHeadDim + qkRopeHeadDim, vHeads: H, vDim: vHeadDim }
      : { kHeads: 1, kDim: kvLoraRank + qkRopeHeadDim, vHeads: 1, vDim: kvLoraRank };
  }

  forward(x: Tensor, ctx: StepContext, rope: RotaryEmbedding, cache: LayerCache | null): Tensor {
    const { B, T } = ctx;
    const { nHeads: H, kvLoraRank: R, qkNopeHeadDim: Dn, qkRopeHeadDim: Dr, vHeadDim: Dv } = this.cfg;
    if (this.wq && this.impl === 'naive' && !cache && !ctx.pack && this.training && isGradEnabled() && fusedTraining(x) && rope.cfg.dim === Dr) {
      // Training: the whole naive path as one fused node (src/tensor/fused.ts), no layout copies in the graph.
      return mlaAttention(x, { wq: this.wq.weight, wkvA: this.wkvA.weight, kvNorm: this.kvNorm.weight, wkvB: this.wkvB.weight, wo: this.wo.weight }, {
        B, T, H, R, Dn, Dr, Dv, eps: this.kvNorm.eps, scale: this.softmaxScale, cos: rope.cos, sin: rope.sin, pos: ctx.pos, interleaved: rope.cfg.interleaved,
      }); // [B, T, C]
    }
    const qFlat = this.wq ? this.wq.forward(x) : this.wqB!.forward(this.qNorm!.forward(this.wqA!.forward(x))); // [B, T, H·(Dn+Dr)]
    const q = reshape(qFlat, [B, T, H, Dn + Dr]);
    const qNope = narrow(q, 3, 0, Dn); // [B, T, H, Dn]
    const qPe = rope.apply(narrow(q, 3, Dn, Dr), ctx.pos); // [B, T, H, Dr]
    const kv = this.wkvA.forward(x); // [B, T, R+Dr]
    const cKv = this.kvNorm.forward(narrow(kv, 2, 0, R)); // [B, T, R]
    const kPe = rope.apply(reshape(narrow(kv, 2, R, Dr), [B, T, 1, Dr]), ctx.pos); // [B, T, 1, Dr]

    let o: Tensor; // [B, T, H, Dv]
    if (this.impl === 'naive') {
      const kvUp = reshape(this.wkvB.forward(cKv), [B, T, H, Dn + Dv]);
      const kNope = narrow(kvUp, 3, 0, Dn); // [B, T, H, Dn]
      const v = narrow(kvUp, 3, Dn, Dv); // [B, T, H, Dv]
      const qFull = cat([qNope, qPe], 3); // [B, T, H, Dn+Dr]
      const k = cat([kNope, broadcastTo(kPe, [B, T, H, Dr])], 3); // [B, T, H, Dn+Dr]
      o = this.attend(qFull, k, v, ctx, cache);
    } else {
      // Absorb wkv_b: w [H, Dn+Dv, R]; q_nope·W_UK per head; attention against the latent; ·W_UVᵀ per head.
      const w = reshape(this.wkvB.weight, [H, Dn + Dv, R]);
      const wUK = narrow(w, 1, 0, Dn); // [H, Dn, R]
      const wUV = narrow(w, 1, Dn, Dv); // [H, Dv, R]
      const qAbs = permute(matmul(permute(reshape(qNope, [B * T, H, Dn]), [1, 0, 2]), wUK), [1, 0, 2]); // [B·T, H, R]
      const qFull = cat([reshape(qAbs, [B, T, H, R]), qPe], 3); // [B, T, H, R+Dr]
      const kLat = cat([reshape(cKv, [B, T, 1, R]), kPe], 3); // [B, T, 1, R+Dr]
      const vLat = reshape(cKv, [B, T, 1, R]); // [B, T, 1, R]
      const oLat = this.attend(qFull, kLat, vLat, ctx, cache); // [B, T, H, R]
      const oH = matmul(permute(reshape(oLat, [B * T, H, R]), [1, 0, 2]), wUV, { transB: true }); // [H, B·T, Dv]
      o = reshape(permute(oH, [1, 0, 2]), [B, T, H, Dv]);
    }
    return linear(reshape(o, [B, T, H * Dv]), this.wo.weight, this.wo.bias); // [B, T, C]
  }

  private attend(q: Tensor, k: Tensor, v: Tensor, ctx: StepContext, cache: LayerCache | null): Tensor {
    if (cache && ctx.cache) {
      writeRows(cache.k, k, ctx.cache.starts);
      writeRows(cache.v, v, ctx.cache.starts);
      return attention(q, cache.k, cache.v, { causal: true, scale: this.softmaxScale, qOffsets: ctx.cache.qOffsets, kvLens: ctx.cache.kvLens });
    }
    if (ctx.pack) return packedAttention(q, k, v, ctx.pack, this.softmaxScale);
    return attention(q, k, v, { causal: true, scale: this.softmaxScale, qOffset: 0 });
  }
}
