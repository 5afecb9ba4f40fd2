// KV cache for batched prefill + decode over sequences of different lengths.
// Each layer owns preallocated buffers [B, maxSeqLen, heads, dim]; `lens[b]`
// counts the tokens cached for sequence b. A forward pass with a cache writes
// its new rows at each sequence's own offset and attends over the whole buffer
// with per-sequence query offsets and valid-key counts (the attention kernel
// skips masked keys), so nothing is copied per step.
// MLA's absorbed path caches the latent instead: see mla.ts.
// On the webgpu device (`device: true`, what a model whose parameters live there makes)
// the buffers are persistent device tensors and the lens stay on the host: writes are the
// writeRows kernel, row copies device copies; rows(start, n) is a view only for start 0
// (a device buffer cannot be bound from an arbitrary offset), so the engine prefills new
// sequences into a second cache and moves their rows over (copyRowFrom).

import { R1tsError } from '../core/errors.ts';
import { deviceCopySpan, deviceCopyWithin, devicePrefixView, deviceZeros, ids, releaseDevice, Tensor, zeros } from '../tensor/index.ts';
import { packPositions, type PrefixPack } from './prefix-pack.ts';

/** One layer's buffers: k [B, Tmax, Hk, Dk], v [B, Tmax, Hv, Dv]. */
export interface LayerCache {
  k: Tensor;
  v: Tensor;
}

export interface LayerCacheShape {
  kHeads: number;
  kDim: number;
  vHeads: number;
  vDim: number;
}

export class KVCache {
  /** Tokens cached per sequence. */
  readonly lens: Int32Array;
  readonly layers: LayerCache[];
  /** True when the buffers live on the webgpu device. */
  readonly device: boolean;
  private readonly view: boolean;

  /** `shared` (used by rows()): lens and buffers of another cache to alias instead of allocating. */
  constructor(readonly batch: number, readonly maxSeqLen: number, shapes: readonly LayerCacheShape[], shared?: { lens: Int32Array; layers: LayerCache[] }, opts: { device?: boolean } = {}) {
    this.lens = shared?.lens ?? new Int32Array(batch);
    this.view = shared !== undefined;
    this.device = shared ? shared.layers.some((l) => l.k.gpu !== null) : opts.device === true;
    const make = this.device ? deviceZeros : zeros;
    this.layers = shared?.layers ?? shapes.map((s) => ({ k: make([batch, maxSeqLen, s.kHeads, s.kDim]), v: make([batch, maxSeqLen, s.vHeads, s.vDim]) }));
  }

  /**
   * Sequences start .. start + n - 1 as a cache of batch n over the same memory (no copy):
   * a forward through it reads and writes these rows of this cache, lens included.
   * On the device only start 0 is possible (see the file's top).
   */
  rows(start: number, n: number): KVCache {
    if (!(Number.isInteger(start) && Number.isInteger(n) && start >= 0 && n >= 1 && start + n <= this.batch)) {
      throw new R1tsError(`KV cache: rows [${start}, ${start + n}) are outside the cache's ${this.batch} sequences`);
    }
    if (this.device && start !== 0) {
      throw new R1tsError(`KV cache: rows [${start}, ${start + n}) of a webgpu cache: a device cache gives views from row 0 only (fill another cache and copyRowFrom it)`);
    }
    const sub = (t: Tensor): Tensor => {
      const per = t.size / this.batch;
      if (t.gpu) return devicePrefixView(t, [n, ...t.shape.slice(1)]);
      return new Tensor(t.data.subarray(start * per, (start + n) * per), [n, ...t.shape.slice(1)]);
    };
    return new KVCache(n, this.maxSeqLen, [], { lens: this.lens.subarray(start, start + n), layers: this.layers.map((l) => ({ k: sub(l.k), v: sub(l.v) })) });
  }

  /** Copies sequence `from` (its cached tokens and length) into slot `to`. */
  copyRow(from: number, to: number): void {
    for (const b of [from, to]) if (!(Number.isInteger(b) && b >= 0 && b < this.batch)) throw new R1tsError(`KV cache: sequence ${b} is outside [0, ${this.batch})`);
    if (from === to) return;
    const len = this.lens[from];
    for (const l of this.layers) {
      for (const t of [l.k, l.v]) {
        const per = t.size / this.batch, pos = per / this.maxSeqLen;
        if (t.gpu) deviceCopyWithin(t, from * per, to * per, len * pos);
        else t.data.copyWithin(to * per, from * per, from * per + len * pos);
      }
    }
    this.lens[to] = len;
  }

  /** Copies sequence `from` of another cache of the same layout (tokens and length) into slot `to` of this one. */
  copyRowFrom(other: KVCache, from: number, to: number): void {
    if (other.maxSeqLen !== this.maxSeqLen || other.layers.length !== this.layers.length || other.device !== this.device
      || other.layers.some((l, i) => l.k.size / other.batch !== this.layers[i].k.size / this.batch || l.v.size / other.batch !== this.layers[i].v.size / this.batch)) {
      throw new R1tsError('KV cache: copyRowFrom needs a cache of the same layers, row size, context and device');
    }
    if (!(Number.isInteger(from) && from >= 0 && from < other.batch)) throw new R1tsError(`KV cache: sequence ${from} is outside the source's [0, ${other.batch})`);
    if (!(Number.isInteger(to) && to >= 0 && to < this.batch)) throw new R1tsError(`KV cache: sequence ${to} is outside [0, ${this.batch})`);
    const len = other.lens[from];
    this.layers.forEach((l, i) => {
      const o = other.layers[i];
      for (const [src, dst] of [[o.k, l.k], [o.v, l.v]] as const) {
        const per = dst.size / this.batch, pos = per / this.maxSeqLen;
        if (dst.gpu) deviceCopySpan(src, from * per, dst, to * per, len * pos);
        else (dst.data as Float32Array).set((src.data as Float32Array).subarray(from * per, from * per + len * pos), to * per);
      }
    });
    this.lens[to] = len;
  }

  /** Bytes held by the buffers. */
  bytes(): number {
    return this.layers.reduce((s, l) => s + 4 * (l.k.size + l.v.size), 0);
  }

  /** Forgets sequence b (its slot can take a new sequence). */
  reset(b?: number): void {
    if (b === undefined) this.lens.fill(0);
    else this.lens[b] = 0;
  }

  /** Frees the device buffers of a webgpu cache (not of a rows() view); the cache must not be used again. */
  free(): void {
    if (this.device && !this.view) releaseDevice(this.layers.flatMap((l) => [l.k, l.v]));
  }
}

/**
 * Everything a layer needs to know about the positions of one forward pass:
 * the rows' absolute positions, and with a cache, where they go and what they see.
 */
export interface StepContext {
  B: number;
  T: number;
  /** Absolute position of every row, i32 [B·T]. */
  pos: Tensor;
  /** Present when decoding/prefilling with a cache. */
  cache: { starts: number[]; qOffsets: Tensor; kvLens: Tensor } | null;
  /** Present for a shared-prefix packed row (prefix-pack.ts); never together with a cache. */
  pack: PrefixPack | null;
}

/** The context of a forward pass over a packed row [1, pack.tokens]. */
export function packStepContext(pack: PrefixPack): StepContext {
  return { B: 1, T: pack.tokens, pos: ids(packPositions(pack)), cache: null, pack };
}

/**
 * The context of a forward pass over ids [B, T]. With a cache, sequence b's rows go to
 * positions lens[b] .. lens[b] + lengths[b] - 1 (lengths: valid tokens per row, default T;
 * rows past a sequence's length are padding whose outputs are meaningless).
 */
export function stepContext(B: number, T: number, cache: KVCache | null, lengths?: readonly number[]): StepContext {
  const pos = new Int32Array(B * T);
  if (!cache) {
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
    return { B, T, pos: ids(pos), cache: null, pack: null };
  }
  if (cache.batch !== B) throw new R1tsError(`KV cache: the cache holds ${cache.batch} sequences, the batch has ${B}`);
  const starts: number[] = [];
  const kvLens = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const start = cache.lens[b];
    const len = lengths ? lengths[b] : T;
    if (!(Number.isInteger(len) && len >= 0 && len <= T)) throw new R1tsError(`KV cache: length ${len} of sequence ${b} is outside [0, ${T}]`);
    if (start + T > cache.maxSeqLen) throw new R1tsError(`KV cache: sequence ${b} would grow to ${start + T} tokens, past the cache's ${cache.maxSeqLen}`);
    starts.push(start);
    kvLens[b] = start + len;
    for (let t = 0; t < T; t++) pos[b * T + t] = start + t;
  }
  return { B, T, pos: ids(pos), cache: { starts, qOffsets: ids(Int32Array.from(starts)), kvLens: ids(kvLens) }, pack: null };
}

/** After a forward pass: the cache now holds lengths[b] more tokens of sequence b. */
export function advanceCache(cache: KVCache, T: number, lengths?: readonly number[]): void {
  for (let b = 0; b < cache.batch; b++) cache.lens[b] += lengths ? lengths[b] : T;
}
