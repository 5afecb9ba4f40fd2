// What every causal language model of r1ts offers the engine and trainers:
// a forward pass over token ids (optionally through a KV cache, with ragged
// lengths), a training loss, and its KV cache factory.

import type { KVCache } from '../nn/kv-cache.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/index.ts';
import type { ModelConfig } from './config.ts';

export interface ForwardOptions {
  /** Append to (and attend over) this cache; its lens advance by the valid tokens. */
  cache?: KVCache | null;
  /** Valid tokens per row of ids (right padding); default: all T. */
  lengths?: readonly number[];
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
