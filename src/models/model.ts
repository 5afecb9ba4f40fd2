// What every causal language model of r1ts offers the engine and trainers:
// a forward pass over token ids (optionally through a KV cache, with ragged
// lengths), a training loss, and its KV cache factory.

import type { Embedding } from '../nn/layers.ts';
import { advanceCache, packStepContext, stepContext, type KVCache, type LayerCache, type StepContext } from '../nn/kv-cache.ts';
import type { PrefixPack } from '../nn/prefix-pack.ts';
import { R1tsError } from '../core/errors.ts';
import type { Module } from '../nn/module.ts';
import type { RotaryEmbedding } from '../nn/rope.ts';
import type { Tensor } from '../tensor/index.ts';
import type { ModelConfig } from './config.ts';

export interface ForwardOptions {
  /** Append to (and attend over) this cache; its lens advance by the valid tokens. */
  cache?: KVCache | null;
  /** Valid tokens per row of ids (right padding); default: all T. */
  lengths?: readonly number[];
  /** ids [1, N] is a shared-prefix packed row (src/nn/prefix-pack.ts); no cache, no lengths. */
  pack?: PrefixPack | null;
}

export interface ForwardResult {
  /** [B, T, V] */
  logits: Tensor;
  /** Last hidden state before the final norm, [B, T, C]. */
  hidden: Tensor;
}

export interface CausalLM extends Module {
  readonly config: ModelConfig;
  readonly maxSeqLen: number;
  forward(ids: Tensor, opts?: ForwardOptions): ForwardResult;
  /** Training loss for ids [B, T] and targets [B, T] (ignore index -100); `loss` is what to backpropagate. */
  loss(ids: Tensor, targets: Tensor): { loss: Tensor; main: Tensor };
  newCache(batch: number, maxSeqLen?: number): KVCache;
}

/** A pre-norm decoder block of either family. */
export interface DecoderBlock {
  forward(x: Tensor, ctx: StepContext, rope: RotaryEmbedding, cache: LayerCache | null): Tensor;
}

/**
 * The shared trunk of both families: embed ids [B, T], run the blocks (through the cache when
 * given, advancing it afterwards), and return the last hidden state [B, T, C] before the final norm.
 */
export function runDecoder(ids: Tensor, embed: Embedding, layers: readonly DecoderBlock[], rope: RotaryEmbedding, opts: ForwardOptions): Tensor {
  const [B, T] = ids.shape;
  const cache = opts.cache ?? null;
  if (opts.pack && (cache || opts.lengths || B !== 1 || T !== opts.pack.tokens)) {
    throw new R1tsError(`forward: a packed pass takes ids [1, ${opts.pack.tokens}] without a cache or lengths; got ids [${B}, ${T}]${cache ? ' and a cache' : ''}${opts.lengths ? ' and lengths' : ''}`);
  }
  const ctx = opts.pack ? packStepContext(opts.pack) : stepContext(B, T, cache, opts.lengths);
  let h = embed.forward(ids); // [B, T, C]
  layers.forEach((layer, i) => {
    h = layer.forward(h, ctx, rope, cache ? cache.layers[i] : null);
  });
  if (cache) advanceCache(cache, T, opts.lengths);
  return h;
}
