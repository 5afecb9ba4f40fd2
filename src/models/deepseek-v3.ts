// DeepSeek-V3: MLA attention, DeepSeekMoE feed-forward (the first
// first_k_dense_replace layers dense), RMSNorm pre-norm blocks, an untied
// output head, and an optional depth-1 MTP module. Names follow the official
// inference code (embed, layers.i.attn/ffn/attnNorm/ffnNorm, norm, head);
// src/io maps Hugging Face names onto them. Hugging Face config fields select
// the sizes (config.ts). YaRN follows the official code: rope_scaling.mscale sets
// the softmax-scale multiplier and the rotary tables are not rescaled (Hugging
// Face's mscale_all_dim/mscale ratio on cos/sin is 1 in every released config).

import type { Rng } from '../core/rng.ts';
import { Embedding, Linear, MLP, RMSNorm } from '../nn/layers.ts';
import { KVCache, stepContext, type LayerCache, type StepContext } from '../nn/kv-cache.ts';
import { MLA, type AttnImpl } from '../nn/mla.ts';
import { MoE } from '../nn/moe.ts';
import { Module } from '../nn/module.ts';
import { RotaryEmbedding, yarnScaleMultiplier, type RopeConfig } from '../nn/rope.ts';
import { add, cat, ephemeralScope, fusedTraining, isGradEnabled, linear, linearCrossEntropy, markDeviceConstant, narrow, residualAdd, type Tensor } from '../tensor/index.ts';
import type { DeepseekV3Config } from './config.ts';
import { decodeStep, decodeStepApplies } from './decode.ts';
import { runDecoder, type CausalLM, type ForwardOptions, type ForwardResult } from './model.ts';

export class Block extends Module {
  readonly attnNorm: RMSNorm;
  readonly attn: MLA;
  readonly ffnNorm: RMSNorm;
  readonly ffn: MLP | MoE;

  constructor(layerId: number, c: DeepseekV3Config, scaleMultiplier: number, rng: Rng) {
    super();
    this.attnNorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.attn = new MLA({
      dim: c.hidden_size, nHeads: c.num_attention_heads, qLoraRank: c.q_lora_rank, kvLoraRank: c.kv_lora_rank,
      qkNopeHeadDim: c.qk_nope_head_dim, qkRopeHeadDim: c.qk_rope_head_dim, vHeadDim: c.v_head_dim, scaleMultiplier, normEps: c.rms_norm_eps,
    }, rng);
    this.ffnNorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.ffn = layerId < c.first_k_dense_replace
      ? new MLP(c.hidden_size, c.intermediate_size, { rng })
      : new MoE({
        dim: c.hidden_size, nRoutedExperts: c.n_routed_experts, nSharedExperts: c.n_shared_experts, topK: c.num_experts_per_tok,
        nGroup: c.n_group, topkGroup: c.topk_group, routeScale: c.routed_scaling_factor, scoringFunc: c.scoring_func,
        moeInterDim: c.moe_intermediate_size, gateBias: c.topk_method === 'noaux_tc', auxLossAlpha: c.aux_loss_alpha,
      }, rng);
  }

  forward(x: Tensor, ctx: StepContext, rope: RotaryEmbedding, cache: LayerCache | null): Tensor {
    // Training: residual adds that give the residual stream its own gradient buffer (src/tensor/fused.ts).
    const res = this.training && isGradEnabled() && fusedTraining(x) ? residualAdd : add;
    const h = res(x, this.attn.forward(this.attnNorm.forward(x), ctx, rope, cache)); // [B, T, C]
    return res(h, this.ffn.forward(this.ffnNorm.forward(h))); // [B, T, C]
  }
}

/**
 * Depth-1 multi-token prediction: from the main model's last hidden state at i and the
 * embedding of token i+1, predict token i+2 through one more block and the shared head.
 * h' = eh_proj([enorm(emb(t_{i+1})) ; hnorm(h_i)]) (the embedding first, as the checkpoints store it).
 */
export class MTP extends Module {
  readonly enorm: RMSNorm;
  readonly hnorm: RMSNorm;
  readonly ehProj: Linear; // [C, 2C]
  readonly block: Block;
  readonly norm: RMSNorm;

  constructor(c: DeepseekV3Config, scaleMultiplier: number, rng: Rng) {
    super();
    this.enorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.hnorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.ehProj = new Linear(2 * c.hidden_size, c.hidden_size, { rng });
    this.block = new Block(c.num_hidden_layers, c, scaleMultiplier, rng);
    this.norm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
  }

  /** h [B, T, C] (main model, before its final norm), nextEmb [B, T, C] = emb(t_{i+1}) → hidden [B, T, C]. */
  forward(h: Tensor, nextEmb: Tensor, ctx: StepContext, rope: RotaryEmbedding): Tensor {
    const x = this.ehProj.forward(cat([this.enorm.forward(nextEmb), this.hnorm.forward(h)], 2)); // [B, T, C]
    return this.norm.forward(this.block.forward(x, ctx, rope, null)); // [B, T, C]
  }
}

export class DeepseekV3 extends Module implements CausalLM {
  readonly embed: Embedding;
  readonly layers: Block[];
  readonly norm: RMSNorm;
  readonly head: Linear;
  readonly mtp: MTP[];
  readonly rope: RotaryEmbedding;

  constructor(readonly config: DeepseekV3Config, rng: Rng) {
    super();
    const c = config;
    const yarn = c.rope_scaling
      ? { originalSeqLen: c.rope_scaling.original_max_position_embeddings, factor: c.rope_scaling.factor, betaFast: c.rope_scaling.beta_fast,
        betaSlow: c.rope_scaling.beta_slow, mscale: c.rope_scaling.mscale }
      : null;
    const ropeCfg: RopeConfig = { dim: c.qk_rope_head_dim, maxSeqLen: c.max_position_embeddings, theta: c.rope_theta, interleaved: c.rope_interleave, yarn };
    const scale = yarnScaleMultiplier(ropeCfg);
    this.embed = new Embedding(c.vocab_size, c.hidden_size, { rng });
    this.layers = Array.from({ length: c.num_hidden_layers }, (_, i) => new Block(i, c, scale, rng));
    this.norm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.head = new Linear(c.hidden_size, c.vocab_size, { rng });
    this.mtp = Array.from({ length: c.num_nextn_predict_layers }, () => new MTP(c, scale, rng));
    this.rope = new RotaryEmbedding(ropeCfg);
    markDeviceConstant(this.rope.cos, this.rope.sin); // on the webgpu device: uploaded once, not every step
  }

  get maxSeqLen(): number {
    return this.config.max_position_embeddings;
  }

  /** Chooses MLA's path in every layer ('absorb' caches only the latent). Reset caches after changing it. */
  setAttnImpl(impl: AttnImpl): void {
    for (const l of this.layers) l.attn.impl = impl;
    for (const m of this.mtp) m.block.attn.impl = impl;
  }

  newCache(batch: number, maxSeqLen = this.maxSeqLen): KVCache {
    // On the webgpu device when the model is (its buffers then live there too).
    return new KVCache(batch, maxSeqLen, this.layers.map((l) => l.attn.cacheShape()), undefined, { device: this.embed.weight.gpu !== null });
  }

  forward(ids: Tensor, opts: ForwardOptions = {}): ForwardResult {
    // One token per sequence through the cache without gradients: the fast decode step (decode.ts).
    if (decodeStepApplies(this, ids, opts)) return decodeStep(this, this.head.weight, ids, opts);
    const h = runDecoder(ids, this.embed, this.layers, this.rope, opts); // [B, T, C]
    const logits = linear(this.norm.forward(h), this.head.weight); // [B, T, V]
    return { logits, hidden: h };
  }

  /**
   * Training loss: next-token cross-entropy, plus λ·MTP loss (token i+2 from position i) when the
   * model has MTP, plus the MoE balance losses when α > 0. targets[b, t] = ids[b, t+1] (ignoreIndex -100).
   */
  /** Main + MTP + balance losses; activations are recycled by backward() (ephemeralScope): use only the returned tensors after it. */
  loss(ids: Tensor, targets: Tensor): { loss: Tensor; main: Tensor; mtp: Tensor | null } {
    return ephemeralScope(() => this.lossInScope(ids, targets));
  }

  private lossInScope(ids: Tensor, targets: Tensor): { loss: Tensor; main: Tensor; mtp: Tensor | null } {
    const [B, T] = ids.shape;
    // The head and the cross-entropy fused (ops.ts linearCrossEntropy): no [B, T, V] logits kept.
    const hidden = runDecoder(ids, this.embed, this.layers, this.rope, {}); // [B, T, C]
    const main = linearCrossEntropy(this.norm.forward(hidden), this.head.weight, targets);
    let total = main;
    let mtpLoss: Tensor | null = null;
    if (this.mtp.length > 0 && T > 1) {
      // Position i (< T-1) sees emb(t_{i+1}) = emb(ids[i+1]) and predicts targets[i+1] (= t_{i+2}).
      const ctx = stepContext(B, T - 1, null);
      const nextEmb = this.embed.forward(narrow(ids, 1, 1, T - 1)); // [B, T-1, C]
      const hm = this.mtp[0].forward(narrow(hidden, 1, 0, T - 1), nextEmb, ctx, this.rope); // [B, T-1, C]
      mtpLoss = linearCrossEntropy(hm, this.head.weight, narrow(targets, 1, 1, T - 1));
      total = add(total, mtpLoss.mul(this.config.mtp_loss_weight));
    }
    for (const m of this.moeLayers()) if (m.auxLoss) total = add(total, m.auxLoss);
    return { loss: total, main, mtp: mtpLoss };
  }

  /** The MoE feed-forwards (for balancing updates and load metrics). */
  moeLayers(): MoE[] {
    const out: MoE[] = [];
    for (const l of [...this.layers, ...this.mtp.map((m) => m.block)]) if (l.ffn instanceof MoE) out.push(l.ffn);
    return out;
  }

  /** Auxiliary-loss-free balancing after a training step; returns each MoE layer's load. */
  updateRouterBiases(): Float64Array[] {
    return this.moeLayers().map((m) => m.updateBias(this.config.bias_update_speed));
  }

  /** The same on the webgpu device (no readback): each MoE layer's load as a device tensor [E], to read with the step's readback. */
  updateRouterBiasesOnDevice(): Tensor[] {
    return this.moeLayers().map((m) => m.updateBiasOnDevice(this.config.bias_update_speed));
  }
}
