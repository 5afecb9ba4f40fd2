// The contract between datasets and training loops: a Batcher hands out
// batches of token ids and next-token targets (ignore index -100) and can
// report and restore its position (plain JSON, stored in checkpoints) so a
// resumed run sees exactly the batches the uninterrupted run would have.
// Also the seeded per-epoch shuffle that the batchers share.
// Not here: tokenization and packing (pack.ts), SFT rendering (sft.ts).

import { Rng } from '../core/rng.ts';

export const IGNORE_INDEX = -100;

export interface Batch {
  /** [B, T] row-major */
  ids: Int32Array;
  /** [B, T] row-major; IGNORE_INDEX where no loss is taken */
  targets: Int32Array;
  B: number;
  T: number;
  /** Token positions fed to the model (B·T). */
  tokens: number;
}

/** Where a batcher stands: JSON-serializable. */
export type BatcherPosition = { epoch: number; index: number };

export interface Batcher {
  next(): Batch;
  position(): BatcherPosition;
  seek(position: BatcherPosition): void;
}

/** The order of n items in an epoch: a Fisher-Yates shuffle seeded by (seed, epoch), or identity. */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (!shuffle) return order;
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * Walks items epoch by epoch in a seeded order, remembering (epoch, index) as its position.
 * The order of an epoch is recomputed from the seed on seek, never stored.
 */
export class EpochCursor {
  private epoch = 0;
  private index = 0;
  private order: Uint32Array;

  constructor(readonly n: number, readonly seed: number, readonly shuffle: boolean) {
    if (!(n > 0)) throw new RangeError('EpochCursor: no items');
    this.order = epochOrder(n, seed, 0, shuffle);
  }

  /** The next item index. */
  take(): number {
    if (this.index >= this.n) {
      this.epoch++;
      this.index = 0;
      this.order = epochOrder(this.n, this.seed, this.epoch, this.shuffle);
    }
    return this.order[this.index++];
  }

  position(): BatcherPosition {
    return { epoch: this.epoch, index: this.index };
  }

  seek(p: BatcherPosition): void {
    if (!p || !Number.isInteger(p.epoch) || !Number.isInteger(p.index) || p.epoch < 0 || p.index < 0 || p.index > this.n) {
      throw new RangeError(`batcher position ${JSON.stringify(p)}: expected {epoch, index} with 0 ≤ index ≤ ${this.n}`);
    }
    if (p.epoch !== this.epoch) this.order = epochOrder(this.n, this.seed, p.epoch, this.shuffle);
    this.epoch = p.epoch;
    this.index = p.index;
  }
}
