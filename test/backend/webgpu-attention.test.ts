// WebGPU attention forward and backward (src/backend/webgpu/attention.ts) against the reference:
// causal at lengths around the 64-row block (7, 65, 70), not causal with Tk != Tq, grouped-query heads,
// MLA head dims (D 192, Dv 128), a KV-cache suffix and decode with per-batch qOffsets and kvLens,
// and rows that see no key (out 0, lse -Infinity, zero gradients). Outputs start NaN-filled so
// every element must be written. Tolerances are the native kernel's (test/backend/attention.test.ts):
// f32 sums in another order than the reference's double, over up to Tk·D products, and exp/log
// within a few ulp; gradients go through one more such sum, hence 10× looser.
import { test } from 'node:test';
import type { AttentionParams } from '../../src/backend/kernels.ts';
import { assertClose, randF32, refKernels, rng } from '../helpers.ts';
import { gpuOrSkip } from './webgpu-setup.ts';

interface Case { B?: number; Tq: number; Tk?: number; Hq: number; Hkv: number; D: number; Dv?: number; causal?: boolean; qOffset?: number; qOffsets?: number[]; kvLens?: number[] }

const cases: Case[] = [
  { Tq: 7, Hq: 2, Hkv: 2, D: 24, Dv: 16 },
  { Tq: 65, Hq: 2, Hkv: 1, D: 16, Dv: 24 },
  { Tq: 33, Tk: 70, Hq: 4, Hkv: 2, D: 24, Dv: 16, causal: false },
  { Tq: 5, Hq: 3, Hkv: 1, D: 192, Dv: 128 },
  { Tq: 5, Tk: 40, Hq: 2, Hkv: 2, D: 32 },
  { B: 2, Tq: 1, Tk: 70, Hq: 2, Hkv: 2, D: 16, qOffsets: [69, 30], kvLens: [70, 31] },
  { B: 2, Tq: 6, Tk: 50, Hq: 2, Hkv: 1, D: 16, qOffsets: [-2, 30], kvLens: [40, 33] },
  { B: 2, Tq: 9, Tk: 17, Hq: 2, Hkv: 2, D: 8, Dv: 12, causal: false, kvLens: [0, 17] },
  // From 16 query rows the forward takes the tiled kernel (the backward always does): two row
  // blocks and two key blocks with a group of 4 query heads and head dims that are not multiples
  // of 4; MLA's dims (12-key tiles); a prefill after a cache with rows that see no key; not causal
  // with an empty item.
  { Tq: 70, Hq: 4, Hkv: 1, D: 6, Dv: 10 },
  { Tq: 20, Hq: 2, Hkv: 1, D: 192, Dv: 128 },
  { B: 2, Tq: 24, Tk: 90, Hq: 2, Hkv: 2, D: 16, qOffsets: [-10, 40], kvLens: [90, 50] },
  { B: 2, Tq: 40, Tk: 70, Hq: 2, Hkv: 1, D: 12, Dv: 8, causal: false, kvLens: [0, 70] },
];

function params(c: Case): AttentionParams {
  const Tk = c.Tk ?? c.Tq, D = c.D, Dv = c.Dv ?? c.D;
  return {
    B: c.B ?? 1, Tq: c.Tq, Tk, Hq: c.Hq, Hkv: c.Hkv, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal ?? true,
    qOffset: c.qOffset ?? Tk - c.Tq,
    qOffsets: c.qOffsets ? Int32Array.from(c.qOffsets) : null,
    kvLens: c.kvLens ? Int32Array.from(c.kvLens) : null,
  };
}

test('webgpu attention and attentionBackward match the reference', async (t) => {
  const kk = await gpuOrSkip(t);
  if (!kk) return;
  const ctx = kk.ctx;
  for (const [ci, c] of cases.entries()) {
    const p = params(c);
    const r = rng(300 + ci);
    const q = randF32(r, p.B * p.Tq * p.Hq * p.D); // [B, Tq, Hq, D]
    const k = randF32(r, p.B * p.Tk * p.Hkv * p.D); // [B, Tk, Hkv, D]
    const v = randF32(r, p.B * p.Tk * p.Hkv * p.Dv); // [B, Tk, Hkv, Dv]
    const dout = randF32(r, p.B * p.Tq * p.Hq * p.Dv); // [B, Tq, Hq, Dv]
    const nOut = p.B * p.Tq * p.Hq * p.Dv, nLse = p.B * p.Hq * p.Tq;
    const want = { out: new Float32Array(nOut), lse: new Float32Array(nLse), dq: new Float32Array(q.length), dk: new Float32Array(k.length), dv: new Float32Array(v.length) };
    refKernels.attention(q, k, v, want.out, want.lse, p);
    refKernels.attentionBackward(q, k, v, want.out, want.lse, dout, want.dq, want.dk, want.dv, p);
    const nan = (n: number) => ctx.upload(new Float32Array(n).fill(NaN));
    const gp = { ...p, qOffsets: p.qOffsets ? ctx.upload(p.qOffsets) : null, kvLens: p.kvLens ? ctx.upload(p.kvLens) : null };
    const [gq, gk, gv, gdo] = [q, k, v, dout].map((x) => ctx.upload(x));
    const [out, lse, dq, dk, dv] = [nOut, nLse, q.length, k.length, v.length].map(nan);
    kk.attention(gq, gk, gv, out, lse, gp);
    // The backward gets the reference's out and lse so the two are compared on equal inputs.
    kk.attentionBackward(gq, gk, gv, ctx.upload(want.out), ctx.upload(want.lse), gdo, dq, dk, dv, gp);
    const got = (await ctx.readMany([out, lse, dq, dk, dv])) as Float32Array[];
    const l = `case ${ci} ${JSON.stringify(c)}`;
    assertClose(got[0], want.out, { rtol: 1e-4, atol: 2e-5, label: `${l}: out` });
    assertClose(got[1], want.lse, { rtol: 1e-5, atol: 2e-5, label: `${l}: lse` });
    assertClose(got[2], want.dq, { rtol: 1e-3, atol: 1e-4, label: `${l}: dq` });
    assertClose(got[3], want.dk, { rtol: 1e-3, atol: 1e-4, label: `${l}: dk` });
    assertClose(got[4], want.dv, { rtol: 1e-3, atol: 1e-4, label: `${l}: dv` });
  }
});
