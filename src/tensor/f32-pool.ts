// The engine's one pool of recycled f32 buffers, keyed by length. Two clients: op outputs
// (ops.ts allocF32/releaseF32: V8 counts typed-array memory as external and runs a full GC
// whenever some tens of MB of fresh arrays have been allocated, one mark-compact per training
// step on a small model) and the fused training ops' saved activations and backward
// temporaries (fused.ts: a model's activations, ~60 MB per layer at d 256, batch 32 × 128,
// are the same sizes every step). One pool, so a buffer freed by one is reused by the other.
// Only whole-buffer arrays are kept (never views). Capped at R1TS_POOL_MB (default 1024);
// when a buffer would go over the cap, the buffers of other lengths are dropped, the length
// first pooled first (a run whose shapes changed stops holding the old ones), and if it still
// does not fit it is left to the garbage collector.
// What it is not: an allocator of device memory (src/backend/webgpu keeps its own buffer
// pool), or a place that zeroes anything: a taken buffer holds stale values.

import { env } from '../core/env.ts';

const CAP_BYTES = env.poolMb() * (1 << 20);
const free = new Map<number, Float32Array[]>();
let heldBytes = 0;

/** A recycled array of exactly n elements (stale contents), or undefined when none is held. */
export function takeF32(n: number): Float32Array | undefined {
  const a = free.get(n)?.pop();
  if (a) heldBytes -= a.byteLength;
  return a;
}

/** Gives `a` back for reuse; the caller guarantees nothing reads or writes it again. */
export function giveF32(a: Float32Array): void {
  if (a.byteOffset !== 0 || a.buffer.byteLength !== a.byteLength || a.byteLength > CAP_BYTES) return;
  if (heldBytes + a.byteLength > CAP_BYTES) {
    for (const [n, list] of free) {
      if (n === a.length) continue;
      heldBytes -= list.length * n * 4;
      free.delete(n);
      if (heldBytes + a.byteLength <= CAP_BYTES) break;
    }
    if (heldBytes + a.byteLength > CAP_BYTES) return;
  }
  const list = free.get(a.length);
  if (list) list.push(a);
  else free.set(a.length, [a]);
  heldBytes += a.byteLength;
}

/** Fills every pooled buffer with v (tests: stale contents must never show through). */
export function fillPooledF32(v: number): void {
  for (const l of free.values()) for (const a of l) a.fill(v);
}

/** Buffers and bytes now held for reuse (tests, benchmarks). */
export function pooledF32(): { buffers: number; bytes: number } {
  let buffers = 0;
  for (const l of free.values()) buffers += l.length;
  return { buffers, bytes: heldBytes };
}
