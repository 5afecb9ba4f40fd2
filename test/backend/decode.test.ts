// Decode kernels (src/backend/decode.ts): the reference against independent oracles (the
// general attention kernel with one query row; RoPE + cache writes + that attention for
// decodeGqa; naive MLA written out with the same reference kernels for decodeMla), then the
// native kernels against the reference at every CPU dispatch level: MHA, GQA, MQA, awkward
// head dims, both RoPE pair layouts, sequences that see no key, caches written only at their
// own rows, and the RangeErrors for bad lens / starts / positions / token rows / short arrays;
// moeExperts against the experts written out with the reference gemm/swiglu kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecodeGqaParams, DecodeKernels, DecodeMlaParams } from '../../src/backend/decode.ts';
import { nativeDecodeKernels } from '../../src/backend/native/decode.ts';
import { refDecodeKernels } from '../../src/backend/ref/decode.ts';
import { assertClose, nativeLevels, randF32, rangeErrorOf, refKernels, rng } from '../helpers.ts';

const ref = refDecodeKernels;

function ropeTables(maxPos: number, half: number): { cos: Float32Array; sin: Float32Array } {
  const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
  for (let t = 0; t < maxPos; t++) for (let i = 0; i < half; i++) {
    const a = t * Math.pow(10000, -i / half);
    cos[t * half + i] = Math.cos(a);
    sin[t * half + i] = Math.sin(a);
  }
  return { cos, sin };
}

test('reference decodeAttention equals the general attention kernel with one query row per sequence', () => {
  const r = rng(1);
  for (const [Hq, Hkv, D, Dv] of [[4, 4, 8, 8], [6, 2, 5, 7], [4, 1, 12, 9]]) {
    const B = 3, Tmax = 9, lens = Int32Array.from([4, 0, 9]);
    const q = randF32(r, B * Hq * D), k = randF32(r, B * Tmax * Hkv * D), v = randF32(r, B * Tmax * Hkv * Dv);
    const out = new Float32Array(B * Hq * Dv);
    ref.decodeAttention(q, k, v, out, lens, { B, Tmax, Hq, Hkv, D, Dv, scale: 0.3 });
    const want = new Float32Array(B * Hq * Dv);
    refKernels.attention(q, k, v, want, new Float32Array(B * Hq), {
      B, Tq: 1, Tk: Tmax, Hq, Hkv, D, Dv, scale: 0.3, causal: false, qOffset: 0, qOffsets: null, kvLens: lens,
    });
    assertClose(out, want, { rtol: 1e-5, atol: 1e-6, label: `Hq=${Hq} Hkv=${Hkv} D=${D} Dv=${Dv}` });
  }
});

function gqaCase(seed: number, c: { B: number; Tmax: number; Hq: number; Hkv: number; D: number; Dv: number; rotaryDim: number; interleaved: boolean }) {
  const r = rng(seed);
  const { B, Tmax, Hq, Hkv, D, Dv, rotaryDim } = c;
  const { cos, sin } = ropeTables(Tmax + 3, rotaryDim / 2);
  const starts = Int32Array.from({ length: B }, (_, b) => (b * 5 + 2) % Tmax);
  const lens = Int32Array.from(starts, (s, b) => (b === 1 ? s : s + 1)); // sequence 1 is a padding row (sees only its past)
  const p: DecodeGqaParams = { ...c, scale: 1 / Math.sqrt(D) };
  return {
    p, cos, sin, starts, lens, pos: starts.slice(),
    q: randF32(r, B * Hq * D), k: randF32(r, B * Hkv * D), v: randF32(r, B * Hkv * Dv),
    cacheK: randF32(r, B * Tmax * Hkv * D), cacheV: randF32(r, B * Tmax * Hkv * Dv),
  };
}

function runGqa(kern: DecodeKernels, x: ReturnType<typeof gqaCase>) {
  const cacheK = x.cacheK.slice(), cacheV = x.cacheV.slice(), out = new Float32Array(x.p.B * x.p.Hq * x.p.Dv);
  const q = x.q.slice(), k = x.k.slice(), v = x.v.slice();
  kern.decodeGqa(q, k, v, x.cos, x.sin, x.pos, cacheK, cacheV, x.starts, x.lens, out, x.p);
  assert.deepEqual([q, k, v], [x.q, x.k, x.v], 'decodeGqa must not modify q, k, v');
  return { cacheK, cacheV, out };
}

test('reference decodeGqa equals RoPE (the rope kernel) + cache writes + decodeAttention', () => {
  for (const interleaved of [false, true]) {
    const x = gqaCase(2, { B: 3, Tmax: 8, Hq: 4, Hkv: 2, D: 6, Dv: 5, rotaryDim: 4, interleaved });
    const { B, Tmax, Hq, Hkv, D, Dv, rotaryDim } = x.p;
    const got = runGqa(ref, x);
    const qr = new Float32Array(x.q.length), kr = new Float32Array(x.k.length);
    refKernels.rope(x.q, qr, x.cos, x.sin, x.pos, { N: B, H: Hq, D, rotaryDim, interleaved, inverse: false });
    refKernels.rope(x.k, kr, x.cos, x.sin, x.pos, { N: B, H: Hkv, D, rotaryDim, interleaved, inverse: false });
    const cacheK = x.cacheK.slice(), cacheV = x.cacheV.slice();
    for (let b = 0; b < B; b++) {
      cacheK.set(kr.subarray(b * Hkv * D, (b + 1) * Hkv * D), (b * Tmax + x.starts[b]) * Hkv * D);
      cacheV.set(x.v.subarray(b * Hkv * Dv, (b + 1) * Hkv * Dv), (b * Tmax + x.starts[b]) * Hkv * Dv);
    }
    const out = new Float32Array(B * Hq * Dv);
    ref.decodeAttention(qr, cacheK, cacheV, out, x.lens, x.p);
    assertClose(got.cacheK, cacheK, { label: `cacheK interleaved=${interleaved}` });
    assert.deepEqual(got.cacheV, cacheV);
    assertClose(got.out, out, { label: `out interleaved=${interleaved}` });
  }
});

function mlaCase(seed: number, c: { B: number; Tmax: number; H: number; Dn: number; Dr: number; Dv: number; R: number; interleaved: boolean }) {
  const r = rng(seed);
  const { B, Tmax, H, Dn, Dr, Dv, R } = c;
  const { cos, sin } = ropeTables(Tmax + 2, Dr / 2);
  const starts = Int32Array.from({ length: B }, (_, b) => (b * 3 + 1) % Tmax);
  const lens = Int32Array.from(starts, (s, b) => (b === 0 ? s : s + 1)); // sequence 0: a padding row
  const p: DecodeMlaParams = { ...c, eps: 1e-6, scale: 0.37 };
  // The cached values are the latent part of the cached keys, as the absorbed cache holds them.
  const cacheK = randF32(r, B * Tmax * (R + Dr)), cacheV = new Float32Array(B * Tmax * R);
  for (let j = 0; j < B * Tmax; j++) cacheV.set(cacheK.subarray(j * (R + Dr), j * (R + Dr) + R), j * R);
  return {
    p, cos, sin, starts, lens, pos: starts.slice(),
    q: randF32(r, B * H * (Dn + Dr)), kv: randF32(r, B * (R + Dr)), normW: randF32(r, R, 0.5).map((w) => 1 + w),
    wkvB: randF32(r, H * (Dn + Dv) * R, 0.3), cacheK, cacheV,
  };
}

function runMla(kern: DecodeKernels, x: ReturnType<typeof mlaCase>) {
  const cacheK = x.cacheK.slice(), cacheV = x.cacheV.slice(), out = new Float32Array(x.p.B * x.p.H * x.p.Dv);
  kern.decodeMla(x.q, x.kv, x.normW, x.cos, x.sin, x.pos, x.wkvB, cacheK, cacheV, x.starts, x.lens, out, x.p);
  return { cacheK, cacheV, out };
}

test('reference decodeMla equals naive MLA (per-head keys and values up-projected from the cached latent)', () => {
  for (const interleaved of [true, false]) {
    const x = mlaCase(3, { B: 3, Tmax: 7, H: 3, Dn: 5, Dr: 4, Dv: 6, R: 8, interleaved });
    const { B, Tmax, H, Dn, Dr, Dv, R } = x.p;
    const got = runMla(ref, x);
    // The latent row the step appends: rmsnorm (the reference kernel) and rope of k_pe (the reference kernel).
    const cacheK = x.cacheK.slice(), cacheV = x.cacheV.slice();
    for (let b = 0; b < B; b++) {
      const c = new Float32Array(R);
      refKernels.rmsnorm(x.kv.subarray(b * (R + Dr), b * (R + Dr) + R), x.normW, c, new Float32Array(1), 1, R, x.p.eps);
      const kpe = new Float32Array(Dr);
      refKernels.rope(x.kv.subarray(b * (R + Dr) + R, (b + 1) * (R + Dr)), kpe, x.cos, x.sin, x.pos.subarray(b, b + 1), { N: 1, H: 1, D: Dr, rotaryDim: Dr, interleaved, inverse: false });
      cacheK.set(c, (b * Tmax + x.starts[b]) * (R + Dr));
      cacheK.set(kpe, (b * Tmax + x.starts[b]) * (R + Dr) + R);
      cacheV.set(c, (b * Tmax + x.starts[b]) * R);
    }
    assertClose(got.cacheK, cacheK, { label: 'latent cache' });
    assertClose(got.cacheV, cacheV, { label: 'latent cache (values)' });
    // Naive attention: k_h = [W_UK[h]·c_j ‖ kpe_j], v_h = W_UV[h]·c_j over the cached rows.
    const want = new Float32Array(B * H * Dv);
    for (let b = 0; b < B; b++) {
      const n = x.lens[b];
      const qPe = new Float32Array(H * Dr);
      refKernels.rope(x.q.subarray(b * H * (Dn + Dr), (b + 1) * H * (Dn + Dr)).filter((_, i) => i % (Dn + Dr) >= Dn), qPe, x.cos, x.sin, Int32Array.from({ length: H }, () => x.pos[b]), { N: H, H: 1, D: Dr, rotaryDim: Dr, interleaved, inverse: false });
      for (let h = 0; h < H; h++) {
        const s: number[] = [];
        const vs: number[][] = [];
        for (let j = 0; j < n; j++) {
          const row = (b * Tmax + j) * (R + Dr);
          let dot = 0;
          const vrow: number[] = [];
          for (let d = 0; d < Dn + Dv; d++) {
            let up = 0;
            for (let rr = 0; rr < R; rr++) up += x.wkvB[(h * (Dn + Dv) + d) * R + rr] * cacheK[row + rr];
            if (d < Dn) dot += x.q[(b * H + h) * (Dn + Dr) + d] * up;
            else vrow.push(up);
          }
          for (let i = 0; i < Dr; i++) dot += qPe[h * Dr + i] * cacheK[row + R + i];
          s.push(dot * x.p.scale);
          vs.push(vrow);
        }
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const sum = e.reduce((a, z) => a + z, 0);
        for (let d = 0; d < Dv; d++) want[(b * H + h) * Dv + d] = n ? e.reduce((a, z, j) => a + z * vs[j][d], 0) / sum : 0;
      }
    }
    assertClose(got.out, want, { rtol: 1e-4, atol: 1e-5, label: `out interleaved=${interleaved}` });
  }
});

function moeCase(seed: number, N: number, C: number, F: number, E: number, K: number) {
  const r = rng(seed);
  const tokenOf: number[] = [], counts = new Int32Array(E);
  // Pairs grouped by expert; expert 1 gets none; token 0 appears under several experts.
  for (let e = 0; e < E; e++) for (let n = 0; n < N; n++) if (e !== 1 && (n * 7 + e * 3) % E < K) { tokenOf.push(n); counts[e]++; }
  const P = tokenOf.length;
  return {
    p: { N, C, F, E }, counts, tokenOf: Int32Array.from(tokenOf), w: randF32(r, P, 0.5), x: randF32(r, N * C), out0: randF32(r, N * C),
    // Weights at the 1/√fan-in scale of trained models keep the outputs O(1).
    w1s: Array.from({ length: E }, () => randF32(r, F * C, 1 / Math.sqrt(C))), w3s: Array.from({ length: E }, () => randF32(r, F * C, 1 / Math.sqrt(C))),
    w2s: Array.from({ length: E }, () => randF32(r, C * F, 1 / Math.sqrt(F))),
  };
}

function runMoe(kern: DecodeKernels, m: ReturnType<typeof moeCase>): Float32Array {
  const out = m.out0.slice();
  kern.moeExperts(m.x, m.tokenOf, m.w, m.counts, m.w1s, m.w3s, m.w2s, new Float32Array(m.tokenOf.length * m.p.C).fill(NaN), out, m.p);
  return out;
}

test('reference moeExperts equals the experts written with the reference gemm, swiglu and scatter kernels', () => {
  const m = moeCase(9, 7, 10, 6, 4, 2);
  const { C, F, E } = m.p;
  const want = m.out0.slice();
  for (let e = 0, i = 0; e < E; e++) {
    for (let r = 0; r < m.counts[e]; r++, i++) {
      const row = m.x.subarray(m.tokenOf[i] * C, (m.tokenOf[i] + 1) * C);
      const g = new Float32Array(F), u = new Float32Array(F), a = new Float32Array(F), y = new Float32Array(C);
      const nt = (b: Float32Array, out: Float32Array, n: number, k: number, x: Float32Array) =>
        refKernels.gemm(x, b, out, { batch: 1, m: 1, n, k, transA: false, transB: true, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null });
      nt(m.w1s[e], g, F, C, row);
      nt(m.w3s[e], u, F, C, row);
      refKernels.swiglu(g, u, a, F);
      nt(m.w2s[e], y, C, F, a);
      for (let c = 0; c < C; c++) want[m.tokenOf[i] * C + c] += m.w[i] * y[c];
    }
  }
  assertClose(runMoe(ref, m), want, { rtol: 1e-5, atol: 1e-5 });
});

const natives = nativeDecodeKernels ? nativeLevels() : [];

for (const lv of natives) {
  const nat = nativeDecodeKernels!;
  test(`native decodeAttention equals the reference (${lv.name})`, () => {
    lv.enter();
    try {
      const r = rng(4);
      for (const [B, Hq, Hkv, D, Dv, Tmax] of [[3, 4, 4, 64, 64, 40], [5, 6, 2, 17, 33, 9], [2, 16, 1, 96, 64, 70], [64, 4, 4, 64, 64, 48], [1, 1, 1, 1, 1, 1]]) {
        const lens = Int32Array.from({ length: B }, (_, b) => (b === 1 ? 0 : (b * 7 + 3) % (Tmax + 1)));
        const q = randF32(r, B * Hq * D), k = randF32(r, B * Tmax * Hkv * D), v = randF32(r, B * Tmax * Hkv * Dv);
        const p = { B, Tmax, Hq, Hkv, D, Dv, scale: 1 / Math.sqrt(D) };
        const a = new Float32Array(B * Hq * Dv).fill(NaN), e = new Float32Array(B * Hq * Dv);
        nat.decodeAttention(q, k, v, a, lens, p);
        ref.decodeAttention(q, k, v, e, lens, p);
        assertClose(a, e, { rtol: 1e-4, atol: 1e-5, label: `B=${B} Hq=${Hq} Hkv=${Hkv} D=${D} Dv=${Dv}` });
      }
    } finally {
      lv.exit();
    }
  });

  test(`native decodeGqa equals the reference (${lv.name})`, () => {
    lv.enter();
    try {
      for (const c of [
        { B: 4, Tmax: 12, Hq: 4, Hkv: 4, D: 64, Dv: 64, rotaryDim: 64, interleaved: false },
        { B: 3, Tmax: 7, Hq: 6, Hkv: 2, D: 18, Dv: 11, rotaryDim: 10, interleaved: true },
        { B: 33, Tmax: 20, Hq: 8, Hkv: 1, D: 32, Dv: 32, rotaryDim: 32, interleaved: false },
      ]) {
        const x = gqaCase(5, c);
        const a = runGqa(nat, x), e = runGqa(ref, x);
        assertClose(a.cacheK, e.cacheK, { label: `cacheK ${JSON.stringify(c)}` });
        assert.deepEqual(a.cacheV, e.cacheV);
        assertClose(a.out, e.out, { rtol: 1e-4, atol: 1e-5, label: `out ${JSON.stringify(c)}` });
      }
    } finally {
      lv.exit();
    }
  });

  test(`native moeExperts equals the reference (${lv.name})`, () => {
    lv.enter();
    try {
      for (const [N, C, F, E, K] of [[64, 256, 128, 8, 2], [9, 13, 7, 5, 3], [1, 4, 4, 3, 1]]) {
        const m = moeCase(10, N, C, F, E, K);
        assertClose(runMoe(nat, m), runMoe(ref, m), { rtol: 1e-4, atol: 1e-5, label: `N=${N} C=${C} F=${F} E=${E}` });
      }
    } finally {
      lv.exit();
    }
  });

  test(`native decodeMlaNaive equals the reference (${lv.name})`, () => {
    lv.enter();
    try {
      for (const c of [
        { B: 4, Tmax: 10, H: 4, Dn: 32, Dr: 32, Dv: 32, R: 64, interleaved: true },
        { B: 17, Tmax: 6, H: 3, Dn: 5, Dr: 6, Dv: 7, R: 19, interleaved: false },
      ]) {
        const x = mlaCase(12, c);
        const { B, Tmax, H, Dn, Dr, Dv } = c;
        const r = rng(13);
        const ck = randF32(r, B * Tmax * H * (Dn + Dr)), cv = randF32(r, B * Tmax * H * Dv);
        const run = (kern: DecodeKernels) => {
          const k = ck.slice(), v = cv.slice(), out = new Float32Array(B * H * Dv).fill(NaN);
          kern.decodeMlaNaive(x.q, x.kv, x.normW, x.cos, x.sin, x.pos, x.wkvB, k, v, x.starts, x.lens, out, x.p);
          return { k, v, out };
        };
        const a = run(nat), e = run(ref);
        assertClose(a.k, e.k, { rtol: 1e-4, atol: 1e-5, label: `cacheK ${JSON.stringify(c)}` });
        assertClose(a.v, e.v, { rtol: 1e-4, atol: 1e-5, label: `cacheV ${JSON.stringify(c)}` });
        assertClose(a.out, e.out, { rtol: 1e-4, atol: 1e-5, label: `out ${JSON.stringify(c)}` });
      }
    } finally {
      lv.exit();
    }
  });

  test(`native decodeMla equals the reference (${lv.name})`, () => {
    lv.enter();
    try {
      for (const c of [
        { B: 4, Tmax: 10, H: 4, Dn: 32, Dr: 32, Dv: 32, R: 64, interleaved: true },
        { B: 3, Tmax: 6, H: 3, Dn: 5, Dr: 6, Dv: 7, R: 19, interleaved: false },
        { B: 40, Tmax: 9, H: 2, Dn: 0, Dr: 2, Dv: 3, R: 4, interleaved: true },
      ]) {
        const x = mlaCase(6, c);
        const a = runMla(nat, x), e = runMla(ref, x);
        assertClose(a.cacheK, e.cacheK, { label: `cacheK ${JSON.stringify(c)}` });
        assertClose(a.cacheV, e.cacheV, { label: `cacheV ${JSON.stringify(c)}` });
        assertClose(a.out, e.out, { rtol: 1e-4, atol: 1e-5, label: `out ${JSON.stringify(c)}` });
      }
    } finally {
      lv.exit();
    }
  });
}

for (const [name, kern] of [['ref', ref], ...(nativeDecodeKernels ? [['native', nativeDecodeKernels]] : [])] as [string, DecodeKernels][]) {
  test(`decode kernels reject bad lens, starts and positions with a RangeError (${name})`, () => {
    const x = gqaCase(7, { B: 2, Tmax: 5, Hq: 2, Hkv: 2, D: 4, Dv: 4, rotaryDim: 4, interleaved: false });
    const out = new Float32Array(2 * 2 * 4);
    const call = (over: Partial<{ lens: Int32Array; starts: Int32Array; pos: Int32Array }>) => () =>
      kern.decodeGqa(x.q, x.k, x.v, x.cos, x.sin, over.pos ?? x.pos, x.cacheK.slice(), x.cacheV.slice(), over.starts ?? x.starts, over.lens ?? x.lens, out, x.p);
    assert.match(rangeErrorOf(call({ lens: Int32Array.from([1, 6]) }), 'lens'), /lens\[1\] = 6 is outside \[0, 5\]/);
    assert.match(rangeErrorOf(call({ starts: Int32Array.from([5, 0]) }), 'starts'), /starts\[0\] = 5 is outside/);
    assert.match(rangeErrorOf(call({ pos: Int32Array.from([0, 99]) }), 'pos'), /position 99 at row 1 is outside the table/);
    assert.match(rangeErrorOf(() => kern.decodeAttention(x.q, x.cacheK, x.cacheV, out, Int32Array.from([-1, 0]), x.p), 'attn lens'), /lens\[0\] = -1/);
    const m = mlaCase(8, { B: 2, Tmax: 4, H: 2, Dn: 2, Dr: 2, Dv: 2, R: 4, interleaved: true });
    assert.match(rangeErrorOf(() => kern.decodeMla(m.q, m.kv, m.normW, m.cos, m.sin, m.pos, m.wkvB, m.cacheK, m.cacheV, m.starts, Int32Array.from([0, 5]), new Float32Array(8), m.p), 'mla lens'), /lens\[1\] = 5/);
    const mc = moeCase(11, 3, 4, 4, 3, 1);
    assert.match(rangeErrorOf(() => kern.moeExperts(mc.x, Int32Array.from(mc.tokenOf, (t, i) => (i === 0 ? 3 : t)), mc.w, mc.counts, mc.w1s, mc.w3s, mc.w2s, new Float32Array(64), mc.out0.slice(), mc.p), 'moe token'), /tokenOf\[0\] = 3 is outside \[0, 3\)/);
    if (name === 'native') {
      assert.match(rangeErrorOf(() => kern.decodeAttention(x.q, x.cacheK.subarray(1), x.cacheV, out, x.lens, x.p), 'short k'), /k has \d+ elements, needs/);
    }
  });
}
