// Multi-head / grouped-query attention as in Llama and Qwen2: q/k/v
// projections (Qwen2 puts a bias on them), RoPE on q and k, causal attention
// through the tiled kernel (GQA: Hq query heads share Hkv key/value heads),
// output projection. With a KV cache the new rows are appended at each
// sequence's offset and attention runs over the cached rows.
// Not here: DeepSeek-V3's MLA (mla.ts).

import { attention, linear, reshape, writeRows, type Tensor } from '../tensor/index.ts';
import type { Rng } from '../core/rng.ts';
import type { LayerCache, StepContext } from './kv-cache.ts';
import { packedAttention } from './prefix-pack.ts';
import { Linear } from './layers.ts';
import { Module } from './module.ts';
import type { RotaryEmbedding } from './rope.ts';

export interface AttentionConfig {
  dim: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Bias on the q, k, v projections (Qwen2: true). */
  qkvBias: boolean;
  /** Bias on the output projection. */
  oBias: boolean;
}

export class Attention extends Module {
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly wo: Linear;

  constructor(readonly cfg: AttentionConfig, rng: Rng) {
    super();
    const { dim, nHeads, nKvHeads, headDim } = cfg;
    this.wq = new Linear(dim, nHeads * headDim, { rng, bias: cfg.qkvBias });
    this.wk = new Linear(dim, nKvHeads * headDim, { rng, bias: cfg.qkvBias });
    this.wv = new Linear(dim, nKvHeads * headDim, { rng, bias: cfg.qkvBias });
    this.wo = new Linear(nHeads * headDim, dim, { rng, bias: cfg.oBias });
  }

  cacheShape() {
    return { kHeads: this.cfg.nKvHeads, kDim: this.cfg.headDim, vHeads: this.cfg.nKvHeads, vDim: this.cfg.headDim };
  }

  forward(x: Tensor, ctx: StepContext, rope: RotaryEmbedding, cache: LayerCache | null): Tensor {
    const { B, T } = ctx;
    const { nHeads: H, nKvHeads: Hkv, headDim: D } = this.cfg;
    const q = rope.apply(reshape(this.wq.forward(x), [B, T, H, D]), ctx.pos); // [B, T, H, D]
    const k = rope.apply(reshape(this.wk.forward(x), [B, T, Hkv, D]), ctx.pos); // [B, T, Hkv, D]
    const v = reshape(this.wv.forward(x), [B, T, Hkv, D]); // [B, T, Hkv, D]
    let o: Tensor;
    if (cache && ctx.cache) {
      writeRows(cache.k, k, ctx.cache.starts);
      writeRows(cache.v, v, ctx.cache.starts);
      o = attention(q, cache.k, cache.v, { causal: true, qOffsets: ctx.cache.qOffsets, kvLens: ctx.cache.kvLens }); // [B, T, H, D]
    } else if (ctx.pack) {
      o = packedAttention(q, k, v, ctx.pack); // [1, T, H, D]
    } else {
      o = attention(q, k, v, { causal: true, qOffset: 0 }); // [B, T, H, D]
    }
    return linear(reshape(o, [B, T, H * D]), this.wo.weight, this.wo.bias); // [B, T, C]
  }
}
