// Native attention (forward and backward) against the reference, at every CPU dispatch level:
// causal and not, GQA (Hq = Hkv, 2·Hkv, Hkv = 1), D != Dv (MLA), awkward lengths around the
// block sizes, decode (Tq < Tk with qOffset), per-batch qOffsets and kvLens including rows that
// see no key (out 0, lse -Infinity, zero gradients), and the addon's argument checks.
// With few (batch, kv head) pairs the backward shares key blocks out over threads, each with its
// own dQ partial (Hkv = 1 cases); with many, one pair per task (the B = 2, Hkv = 4 case).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionParams, Kernels } from '../../src/backend/kernels.ts';
import { availableBackends } from '../../src/tensor/backends.ts';
import { assertClose, nativeLevels, randF32, refKernels, rng } from '../helpers.ts';

interface Case {
  B?: number;
  Tq: number;
  Tk?: number;
  Hq: number;
  Hkv: number;
  D: number;
  Dv?: number;
  causal?: boolean;
  qOffset?: number;
  qOffsets?: number[];
  kvLens?: number[];
}

function params(c: Case): AttentionParams {
  const D = c.D, Dv = c.Dv ?? c.D, Tk = c.Tk ?? c.Tq;
  return {
    B: c.B ?? 1, Tq: c.Tq, Tk, Hq: c.Hq, Hkv: c.Hkv, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal ?? true,
    qOffset: c.qOffset ?? Tk - c.Tq,
    qOffsets: c.qOffsets ? Int32Array.from(c.qOffsets) : null,
    kvLens: c.kvLens ? Int32Array.from(c.kvLens) : null,
  };
}

function label(p: AttentionParams): string {
  const extra = [p.qOffsets && `qOffsets=${[...p.qOffsets]}`, p.kvLens && `kvLens=${[...p.kvLens]}`].filter(Boolean).join(' ');
  return `B=${p.B} Tq=${p.Tq} Tk=${p.Tk} Hq=${p.Hq} Hkv=${p.Hkv} D=${p.D} Dv=${p.Dv} ${p.causal ? `causal qOffset=${p.qOffset}` : 'full'} ${extra}`.trim();
}

const cases: Case[] = [
  // causal self-attention at awkward lengths (block sizes are 64 keys × 16..64 rows), D != Dv
  ...[1, 3, 7, 33, 64, 65, 257].map((T) => ({ Tq: T, Hq: 2, Hkv: 2, D: 24, Dv: 16 })),
  // not causal
  { Tq: 33, Hq: 2, Hkv: 2, D: 16, causal: false },
  { Tq: 100, Tk: 70, Hq: 4, Hkv: 2, D: 24, Dv: 16, causal: false },
  // GQA: Hq = 2·Hkv, Hkv = 1 (query heads of a group share row blocks), D = Dv = 64
  { Tq: 129, Hq: 4, Hkv: 2, D: 64 },
  { Tq: 70, Hq: 3, Hkv: 1, D: 64 },
  { B: 2, Tq: 40, Hq: 8, Hkv: 1, D: 16, Dv: 24 },
  // enough (batch, kv head) pairs that the backward gives each pair to one thread (no shared dQ)
  { B: 2, Tq: 50, Hq: 8, Hkv: 4, D: 16 },
  // MLA head dims, small T
  { Tq: 20, Hq: 2, Hkv: 1, D: 192, Dv: 128 },
  // a suffix of new rows against a KV cache, and decode (Tq = 1)
  { Tq: 5, Tk: 40, Hq: 2, Hkv: 2, D: 32 },
  { Tq: 1, Tk: 77, Hq: 8, Hkv: 2, D: 64 },
  { B: 2, Tq: 1, Tk: 130, Hq: 2, Hkv: 2, D: 16, qOffsets: [129, 60], kvLens: [130, 61] },
  // per-batch offsets and right padding, B = 2 with different settings; rows that see no key
  { B: 2, Tq: 6, Tk: 50, Hq: 2, Hkv: 1, D: 16, qOffsets: [-2, 30], kvLens: [40, 33] },
  { B: 2, Tq: 9, Tk: 17, Hq: 2, Hkv: 2, D: 8, Dv: 12, causal: false, kvLens: [0, 17] },
  { B: 2, Tq: 70, Tk: 90, Hq: 4, Hkv: 2, D: 24, Dv: 16, qOffsets: [20, -5], kvLens: [75, 90] },
];

function run(kernels: Kernels, c: Case, seed: number) {
  const p = params(c);
  const r = rng(seed);
  const q = randF32(r, p.B * p.Tq * p.Hq * p.D); // [B, Tq, Hq, D]
  const k = randF32(r, p.B * p.Tk * p.Hkv * p.D); // [B, Tk, Hkv, D]
  const v = randF32(r, p.B * p.Tk * p.Hkv * p.Dv); // [B, Tk, Hkv, Dv]
  const dout = randF32(r, p.B * p.Tq * p.Hq * p.Dv); // [B, Tq, Hq, Dv]
  const nOut = p.B * p.Tq * p.Hq * p.Dv, nLse = p.B * p.Hq * p.Tq; // out [B, Tq, Hq, Dv], lse [B, Hq, Tq]
  const want = { out: new Float32Array(nOut), lse: new Float32Array(nLse), dq: new Float32Array(q.length), dk: new Float32Array(k.length), dv: new Float32Array(v.length) };
  refKernels.attention(q, k, v, want.out, want.lse, p);
  refKernels.attentionBackward(q, k, v, want.out, want.lse, dout, want.dq, want.dk, want.dv, p);
  // NaN-filled outputs: the kernel must write every element.
  const got = { out: new Float32Array(nOut).fill(NaN), lse: new Float32Array(nLse).fill(NaN), dq: new Float32Array(q.length).fill(NaN), dk: new Float32Array(k.length).fill(NaN), dv: new Float32Array(v.length).fill(NaN) };
  kernels.attention(q, k, v, got.out, got.lse, p);
  // The backward gets the reference's out and lse so the two are compared on equal inputs.
  kernels.attentionBackward(q, k, v, want.out, want.lse, dout, got.dq, got.dk, got.dv, p);
  return { p, want, got };
}

function check(kernels: Kernels, c: Case, seed: number, tag: string) {
  const { p, want, got } = run(kernels, c, seed);
  const l = `${tag} ${label(p)}`;
  assertClose(got.out, want.out, { rtol: 1e-4, atol: 2e-5, label: `${l}: out` });
  assertClose(got.lse, want.lse, { rtol: 1e-5, atol: 2e-5, label: `${l}: lse` });
  assertClose(got.dq, want.dq, { rtol: 1e-3, atol: 1e-4, label: `${l}: dq` });
  assertClose(got.dk, want.dk, { rtol: 1e-3, atol: 1e-4, label: `${l}: dk` });
  assertClose(got.dv, want.dv, { rtol: 1e-3, atol: 1e-4, label: `${l}: dv` });
  return { p, got };
}

for (const lvl of nativeLevels()) {
  test(`${lvl.name}: attention and attentionBackward match the reference`, () => {
    lvl.enter();
    try {
      cases.forEach((c, i) => check(lvl.kernels, c, 100 + i, lvl.name));
    } finally {
      lvl.exit();
    }
  });
}

test('native attention: rows that see no key give out 0, lse -Infinity and zero gradients', (t) => {
  const lvl = nativeLevels().at(-1);
  if (!lvl) return t.skip('native addon not built');
  const c: Case = { B: 2, Tq: 6, Tk: 50, Hq: 2, Hkv: 1, D: 16, qOffsets: [-2, 30], kvLens: [40, 0] };
  const { p, got } = check(lvl.kernels, c, 7, lvl.name);
  for (let b = 0; b < p.B; b++)
    for (let h = 0; h < p.Hq; h++)
      for (let i = 0; i < p.Tq; i++) {
        const empty = b === 1 || i < 2;
        const lse = got.lse[(b * p.Hq + h) * p.Tq + i];
        const row = (b * p.Tq + i) * p.Hq + h;
        if (empty) {
          assert.equal(lse, -Infinity, `lse b=${b} h=${h} i=${i}`);
          assert.ok(got.out.subarray(row * p.Dv, (row + 1) * p.Dv).every((x) => x === 0), `out b=${b} h=${h} i=${i}`);
          assert.ok(got.dq.subarray(row * p.D, (row + 1) * p.D).every((x) => x === 0), `dq b=${b} h=${h} i=${i}`);
        } else assert.ok(Number.isFinite(lse));
      }
  // batch 1 sees no key at all: its dk and dv are zero
  const half = p.Tk * p.Hkv;
  assert.ok(got.dk.subarray(half * p.D).every((x) => x === 0), 'dk of the empty batch');
  assert.ok(got.dv.subarray(half * p.Dv).every((x) => x === 0), 'dv of the empty batch');
});

test('native attention: bad sizes throw RangeError instead of reading out of bounds', (t) => {
  const native = availableBackends().find((b) => b.name === 'native');
  if (!native) return t.skip('native addon not built');
  const p = params({ Tq: 4, Hq: 3, Hkv: 2, D: 8 });
  const a = new Float32Array(4 * 3 * 8), lse = new Float32Array(12);
  assert.throws(() => native.kernels.attention(a, a, a, a, lse, p), RangeError);
  const p2 = params({ Tq: 4, Hq: 2, Hkv: 2, D: 8 });
  assert.throws(() => native.kernels.attention(a.subarray(0, 4 * 2 * 8 - 1), a, a, a, lse, p2), RangeError);
  assert.throws(() => native.kernels.attention(a, a, a, a, lse, { ...p2, kvLens: new Int32Array(0), B: 1 }), RangeError);
});
