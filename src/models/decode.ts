// The fast decode step of both model families: when a forward pass is one new token per
// sequence through a KV cache with gradients off (the generation engine's and the benchmark's
// steady state), Llama.forward and DeepseekV3.forward hand it here. The trunk runs on raw
// arrays through src/nn/decode.ts (reused scratch per model, fused attention kernels, residual
// adds inside the GEMMs); only the hidden state and the logits are fresh arrays, returned as
// Tensors the caller owns. Values match the general forward up to float summation order
// (test/models/decode.test.ts checks it step by step, ragged, both families).
// Not here: prefill or any multi-token pass, training, packed rows.

import { env } from '../core/env.ts';
import type { Attention } from '../nn/attention.ts';
import { DecodeScratch, attentionDecode, linearInto, mlaDecode, mlpDecode, moeDecode, rmsnormInto, type DecodeRows } from '../nn/decode.ts';
import { advanceCache, stepContext } from '../nn/kv-cache.ts';
import type { Embedding, MLP, RMSNorm } from '../nn/layers.ts';
import { MLA } from '../nn/mla.ts';
import { MoE } from '../nn/moe.ts';
import type { RotaryEmbedding } from '../nn/rope.ts';
import { Tensor, currentBackend, isGradEnabled } from '../tensor/index.ts';
import type { ForwardOptions, ForwardResult } from './model.ts';

/** The parts of a decoder-only model the decode step reads (both families have them under these names). */
export interface DecodeTrunk {
  readonly embed: Embedding;
  readonly layers: readonly { attnNorm: RMSNorm; attn: Attention | MLA; ffnNorm: RMSNorm; ffn: MLP | MoE }[];
  readonly norm: RMSNorm;
  readonly rope: RotaryEmbedding;
}

let enabled = true;

/** Turns the fast decode step on or off (default on); off, every pass takes the general forward (benchmarks, tests). */
export function setFastDecode(on: boolean): void {
  enabled = on;
}

export function fastDecodeEnabled(): boolean {
  return enabled;
}

/** Whether forward(ids, opts) of this trunk can take the decode step (either MLA path: the step follows impl). */
export function decodeStepApplies(trunk: DecodeTrunk, ids: Tensor, opts: ForwardOptions): boolean {
  // R1TS_CHECK_NAN=1 wants every op's output checked: the general forward does that.
  // A cache of another layer count is left to the general forward (and its errors).
  // A model on the webgpu device takes the general forward (its ops record device kernels); this step reads host arrays.
  return enabled && !!opts.cache && !opts.cache.device && trunk.embed.weight.gpu === null && ids.gpu === null && opts.cache.layers.length === trunk.layers.length && !opts.pack && ids.rank === 2 && ids.shape[1] === 1
    && ids.dtype === 'i32' && !isGradEnabled() && !env.checkNan();
}

const scratch = new WeakMap<object, DecodeScratch>();

/**
 * One decode step: ids [B, 1] through opts.cache (advanced afterwards by lengths, default 1 each)
 * → logits [B, 1, V] = norm(h)·headᵀ and hidden h [B, 1, C]. Call only where decodeStepApplies.
 */
export function decodeStep(trunk: DecodeTrunk, head: Tensor, ids: Tensor, opts: ForwardOptions): ForwardResult {
  const cache = opts.cache!;
  const B = ids.shape[0];
  const ctx = stepContext(B, 1, cache, opts.lengths); // validates the batch against the cache
  const starts = ctx.cache!.qOffsets.data as Int32Array;
  const rows: DecodeRows = { B, pos: starts, starts, lens: ctx.cache!.kvLens.data as Int32Array };
  let ws = scratch.get(trunk);
  if (!ws) scratch.set(trunk, (ws = new DecodeScratch()));
  const k = currentBackend().kernels;
  const C = trunk.embed.dim, V = head.shape[0];
  const h = new Float32Array(B * C); // [B, C] the residual stream; returned as the hidden state
  k.embedding(trunk.embed.weight.data as Float32Array, ids.data as Int32Array, h, B, C);
  const xn = ws.f32('xn', B * C); // [B, C]
  trunk.layers.forEach((l, i) => {
    const lc = cache.layers[i];
    rmsnormInto(k, ws, l.attnNorm, h, B, xn);
    if (l.attn instanceof MLA) mlaDecode(l.attn, xn, rows, trunk.rope, lc, ws, h);
    else attentionDecode(l.attn, xn, rows, trunk.rope, lc, ws, h);
    rmsnormInto(k, ws, l.ffnNorm, h, B, xn);
    if (l.ffn instanceof MoE) moeDecode(l.ffn, xn, B, ws, h);
    else mlpDecode(l.ffn, xn, B, ws, h);
  });
  advanceCache(cache, 1, opts.lengths);
  rmsnormInto(k, ws, trunk.norm, h, B, xn);
  const logits = new Float32Array(B * V); // [B, V]
  linearInto(k, xn, B, head, null, logits);
  return { logits: new Tensor(logits, [B, 1, V]), hidden: new Tensor(h, [B, 1, C]) };
}
