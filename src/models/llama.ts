// Llama and Qwen2 (the dense families of the R1 distilled models): GQA
// attention with RoPE on rotated halves, SwiGLU MLP, RMSNorm pre-norm blocks,
// optionally tied output head. Qwen2 differs only in its q/k/v biases.
// Internal names follow DeepSeek's (embed, layers.i.attn.wq, ffn.w1, ...);
// src/io maps Hugging Face names onto them.

import type { Rng } from '../core/rng.ts';
import { Attention } from '../nn/attention.ts';
import { Embedding, Linear, MLP, RMSNorm } from '../nn/layers.ts';
import { KVCache, stepContext, type LayerCache, type StepContext } from '../nn/kv-cache.ts';
import { Module } from '../nn/module.ts';
import { RotaryEmbedding } from '../nn/rope.ts';
import { add, denseBlock, ephemeralScope, fusedTraining, linear, linearCrossEntropy, markDeviceConstant, type Tensor } from '../tensor/index.ts';
import type { LlamaConfig } from './config.ts';
import { decodeStep, decodeStepApplies } from './decode.ts';
import { runDecoder, type CausalLM, type ForwardOptions, type ForwardResult } from './model.ts';

export class LlamaBlock extends Module {
  readonly attnNorm: RMSNorm;
  readonly attn: Attention;
  readonly ffnNorm: RMSNorm;
  readonly ffn: MLP;

  constructor(c: LlamaConfig, rng: Rng) {
    super();
    const heads = c.num_attention_heads;
    const qwen = c.model_type === 'qwen2';
    this.attnNorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.attn = new Attention({
      dim: c.hidden_size, nHeads: heads, nKvHeads: c.num_key_value_heads ?? heads, headDim: c.head_dim ?? c.hidden_size / heads,
      qkvBias: qwen || c.attention_bias, oBias: !qwen && c.attention_bias,
    }, rng);
    this.ffnNorm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.ffn = new MLP(c.hidden_size, c.intermediate_size, { rng });
  }

  forward(x: Tensor, ctx: StepContext, rope: RotaryEmbedding, cache: LayerCache | null): Tensor {
    const h = add(x, this.attn.forward(this.attnNorm.forward(x), ctx, rope, cache)); // [B, T, C]
    return add(h, this.ffn.forward(this.ffnNorm.forward(h))); // [B, T, C]
  }

  /**
   * The training forward (no cache, no packing): the whole block as one fused node (src/tensor/fused.ts)
   * when it has no biases and the two norms share eps, else the op-by-op forward.
   */
  trainForward(x: Tensor, ctx: StepContext, rope: RotaryEmbedding): Tensor {
    const a = this.attn;
    const biased = a.wq.bias || a.wk.bias || a.wv.bias || a.wo.bias;
    if (!fusedTraining(x) || biased || this.attnNorm.eps !== this.ffnNorm.eps || ctx.cache || ctx.pack) return this.forward(x, ctx, rope, null);
    return denseBlock(x, {
      attnNorm: this.attnNorm.weight, wq: a.wq.weight, wk: a.wk.weight, wv: a.wv.weight, wo: a.wo.weight,
      ffnNorm: this.ffnNorm.weight, w1: this.ffn.w1.weight, w2: this.ffn.w2.weight, w3: this.ffn.w3.weight,
    }, {
      H: a.cfg.nHeads, Hkv: a.cfg.nKvHeads, D: a.cfg.headDim, eps: this.attnNorm.eps,
      cos: rope.cos, sin: rope.sin, pos: ctx.pos, rotaryDim: rope.cfg.dim, interleaved: rope.cfg.interleaved,
    }); // [B, T, C]
  }
}

export class Llama extends Module implements CausalLM {
  readonly embed: Embedding;
  readonly layers: LlamaBlock[];
  readonly norm: RMSNorm;
  /** null when tie_word_embeddings: the head is embed.weight. */
  readonly head: Linear | null;
  readonly rope: RotaryEmbedding;

  constructor(readonly config: LlamaConfig, rng: Rng) {
    super();
    const c = config;
    this.embed = new Embedding(c.vocab_size, c.hidden_size, { rng });
    this.layers = Array.from({ length: c.num_hidden_layers }, () => new LlamaBlock(c, rng));
    this.norm = new RMSNorm(c.hidden_size, c.rms_norm_eps);
    this.head = c.tie_word_embeddings ? null : new Linear(c.hidden_size, c.vocab_size, { rng });
    const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    this.rope = new RotaryEmbedding({ dim: headDim, maxSeqLen: c.max_position_embeddings, theta: c.rope_theta, interleaved: false, yarn: null });
    markDeviceConstant(this.rope.cos, this.rope.sin); // on the webgpu device: uploaded once, not every step
  }

  get maxSeqLen(): number {
    return this.config.max_position_embeddings;
  }

  newCache(batch: number, maxSeqLen = this.maxSeqLen): KVCache {
    // On the webgpu device when the model is (its buffers then live there too).
    return new KVCache(batch, maxSeqLen, this.layers.map((l) => l.attn.cacheShape()), undefined, { device: this.embed.weight.gpu !== null });
  }

  forward(ids: Tensor, opts: ForwardOptions = {}): ForwardResult {
    // One token per sequence through the cache without gradients: the fast decode step (decode.ts).
    if (decodeStepApplies(this, ids, opts)) return decodeStep(this, this.head ? this.head.weight : this.embed.weight, ids, opts);
    const h = runDecoder(ids, this.embed, this.layers, this.rope, opts); // [B, T, C]
    const logits = linear(this.norm.forward(h), this.head ? this.head.weight : this.embed.weight); // [B, T, V]
    return { logits, hidden: h };
  }

  /** Next-token loss; its activations are recycled by backward() (ephemeralScope): use only the returned tensors after it. */
  loss(ids: Tensor, targets: Tensor): { loss: Tensor; main: Tensor } {
    return ephemeralScope(() => {
      // The head and the cross-entropy fused: the [B, T, V] logits are never kept (ops.ts linearCrossEntropy).
      const [B, T] = ids.shape;
      const ctx = stepContext(B, T, null);
      let h = this.embed.forward(ids); // [B, T, C]
      for (const layer of this.layers) h = layer.trainForward(h, ctx, this.rope); // [B, T, C]
      const main = linearCrossEntropy(this.norm.forward(h), this.head ? this.head.weight : this.embed.weight, targets);
      return { loss: main, main };
    });
  }
}
