// WebGPU GEMM (src/backend/webgpu/gemm.ts) against the reference GEMM on the available adapter:
// sizes that are not multiples of the 64×64 tile or the 16-deep K panel (1, 7, 17, 33, 65, 130),
// all four transpose combinations, batches with stride-0 broadcasting of A or B, alpha != 1,
// beta = 0 over NaN-filled C, beta = 1 and 0.5, the bias, and k = 0.
// Tolerance: the float32 worst-case summation bound 4·2^-24·(k+3) relative to
// Σ|alpha·a·b| + |beta·c| + |bias| per element (the GPU sums k products in f32 in its own
// order; the reference in double), the same bound the native GEMM is held to.
// f16 B (weights in binary16, `bHalf`): packF16 rounds like a host round-to-nearest-even on
// normal-range values (checked); the f16 GEMM equals the reference GEMM over the decoded B within
// the same f32 bound (B's rounding is the only other error), and the f32 GEMM over the original B
// within that bound plus 2^-11·Σ|alpha·a·b| (each B value moves by at most half an f16 ulp,
// 2^-11 relative). On a device with shader-f16 the same cases run through its array<f16>
// variant; without it that test is skipped saying so (the packed path runs on every adapter).
// Expert ranges (the sparse MoE dispatch): a row range writes only its rows of C (others keep
// their values), a k range sums only its rows; ends past the matrix are clamped; an empty range
// writes nothing (rows) or zeros (k). Grouped ranges (every expert in one dispatch, B stacked
// for rows, C stacked for k) equal the reference (f32 and f16 B) and, bit for bit, the one-expert
// GEMMs; the grouped row GEMM keeps the 64 tile; the gaps between stacked Cs stay untouched.
// Every GEMM case runs with both tiles (64×64 blocks of C per workgroup, and 128×128: setGemmTile),
// and with the skinny kernel on (the default: products of m ≤ 8 rows with B transposed take it,
// which the pipelines used show) and off (setGemv(false): those take the tile too; that pass
// also runs the tile with one panel buffer, setGemmBuffers(1), what a device with 16 KB of
// workgroup memory gets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GemmParams } from '../../src/backend/kernels.ts';
import { randF32, refKernels, rng } from '../helpers.ts';
import { deviceHasF16, GEMV_MAX_ROWS, setGemmBuffers, setGemmTile, setGemv, type GemmTile } from '../../src/backend/webgpu/gemm.ts';
import { gpuOrSkip, readF32 } from './webgpu-setup.ts';

interface Case { p: GemmParams; a: Float32Array; b: Float32Array; c0: Float32Array; label: string }

function makeCase(r: ReturnType<typeof rng>, m: number, k: number, n: number, v: number, batch = 1, broadcast: 'none' | 'a' | 'b' = 'none'): Case {
  const transA = (v & 1) !== 0, transB = (v & 2) !== 0;
  const alpha = [1, 0.7, -1.5][v % 3], beta = [0, 1, 0.5][Math.floor(v / 3) % 3];
  const withBias = ((v >> 2) & 1) === 0;
  const strideA = broadcast === 'a' ? 0 : m * k, strideB = broadcast === 'b' ? 0 : k * n, strideC = m * n;
  const a = randF32(r, Math.max(1, strideA * (batch - 1) + m * k)); // [batch?, m, k] or [k, m]
  const b = randF32(r, Math.max(1, strideB * (batch - 1) + k * n)); // [batch?, k, n] or [n, k]
  const c0 = beta === 0 ? new Float32Array(batch * m * n).fill(NaN) : randF32(r, batch * m * n); // [batch, m, n]
  const bias = withBias ? randF32(r, n) : null; // [n]
  const p: GemmParams = { batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, bias };
  return { p, a, b, c0, label: `m=${m} k=${k} n=${n} batch=${batch} ${broadcast} tA=${transA} tB=${transB} alpha=${alpha} beta=${beta} bias=${withBias}` };
}

function cases(): Case[] {
  const r = rng(7);
  const out: Case[] = [];
  let v = 0;
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 17, 33], [33, 7, 1], [65, 33, 17], [1, 130, 65], [130, 65, 7], [64, 16, 64], [17, 1, 130], [3, 130, 65], [8, 200, 9], [2, 1, 5], [9, 70, 6]];
  for (const [m, k, n] of shapes) for (let t = 0; t < 4; t++) out.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36));
  for (const [m, k, n] of [[33, 17, 7], [65, 20, 70], [4, 40, 70]] as const) {
    for (let t = 0; t < 4; t++) {
      out.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36, 3, 'a'));
      out.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36, 2, 'b'));
      out.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36, 3, 'none'));
    }
  }
  out.push(makeCase(r, 5, 0, 9, 4), makeCase(r, 20, 0, 3, 2));
  return out;
}

/**
 * Runs body with each GEMM tile (with the skinny kernel on) and, with gemvOff, the 64 tile without
 * it and with one panel buffer (the defaults, 64, on and 2, restored after). The expert-range GEMMs
 * never take the skinny kernel.
 */
async function eachTile(body: (tile: GemmTile, gemv: boolean) => Promise<void>, gemvOff = false): Promise<void> {
  const settings: [GemmTile, boolean][] = [[64, true], [128, true], ...(gemvOff ? [[64, false] as [GemmTile, boolean]] : [])];
  for (const [tile, gemv] of settings) {
    setGemmTile(tile);
    setGemv(gemv);
    setGemmBuffers(gemv ? 2 : 1);
    try {
      await body(tile, gemv);
    } finally {
      setGemmTile(64);
      setGemv(true);
      setGemmBuffers(2);
    }
  }
}

test('webgpu gemm matches the reference on awkward sizes, transposes, batches and broadcasts (both tiles, the skinny kernel on and off)', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  await eachTile(async (tile, gemv) => {
  const all = cases();
  const keys: string[] = [];
  const dispatch = k.ctx.dispatch;
  k.ctx.dispatch = (d) => { keys.push(d.key); dispatch.call(k.ctx, d); };
  // Record every case into one batch, then read all results at once (one submit, one readback).
  const dev = all.map((cs) => {
    const c = k.ctx.upload(cs.c0);
    k.gemm(k.ctx.upload(cs.a), k.ctx.upload(cs.b), c, { ...cs.p, bias: cs.p.bias ? k.ctx.upload(cs.p.bias) : null });
    return c;
  });
  k.ctx.dispatch = dispatch;
  assert.equal(keys.length, all.length, 'one dispatch per case');
  all.forEach((cs, i) => {
    const skinny = gemv && !cs.p.transA && cs.p.transB && cs.p.m <= GEMV_MAX_ROWS;
    const ok = skinny ? keys[i] === `gemv:${cs.p.m}${+(cs.p.beta !== 0)}${+(cs.p.bias !== null)}` : keys[i].startsWith('gemm:') && keys[i].includes(':t128') === (tile === 128) && keys[i].endsWith(':s1') === !gemv;
    assert.ok(ok, `tile ${tile}, skinny kernel ${gemv ? 'on' : 'off'}, ${cs.label}: pipeline ${keys[i]}`);
  });
  const skinnyRuns = keys.filter((key) => key.startsWith('gemv:')).length;
  assert.ok(!gemv || skinnyRuns >= 8, `the skinny kernel ran on ${skinnyRuns} cases`);
  const got = await k.ctx.readMany(dev);
  all.forEach((cs, ci) => {
    const expected = cs.c0.slice();
    refKernels.gemm(cs.a, cs.b, expected, cs.p);
    const abs = (x: Float32Array) => x.map(Math.abs);
    const mag = new Float32Array(expected.length);
    refKernels.gemm(abs(cs.a), abs(cs.b), mag, { ...cs.p, alpha: Math.abs(cs.p.alpha), beta: 0, bias: null });
    const g = 4 * 2 ** -24 * (cs.p.k + 3);
    const c = got[ci];
    for (let i = 0; i < c.length; i++) {
      const j = i % cs.p.n;
      const tol = g * (mag[i] + (cs.p.beta !== 0 ? Math.abs(cs.p.beta * cs.c0[i]) : 0) + (cs.p.bias ? Math.abs(cs.p.bias[j]) : 0)) + 1e-30;
      if (!(Math.abs(c[i] - expected[i]) <= tol)) assert.fail(`tile ${tile}, ${cs.label}: C[${i}] = ${c[i]}, expected ${expected[i]} (tolerance ${tol})`);
    }
  });
  }, true);
});

test('webgpu gemm rejects buffers too small for the sizes and C aliasing an input', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const p = { batch: 2, m: 4, n: 4, k: 4, transA: false, transB: false, alpha: 1, beta: 0, strideA: 16, strideB: 16, strideC: 16, bias: null };
  const a = k.ctx.alloc([16]), b = k.ctx.alloc([32]), c = k.ctx.alloc([32]); // A holds one item, not two
  assert.throws(() => k.gemm(a, b, c, p), /A has 16 elements .* needs 32/);
  assert.throws(() => k.gemm(c, b, c, { ...p, strideA: 16 }), /may not alias/);
  for (const x of [a, b, c]) k.ctx.release(x);
});

test('webgpu gemm: grouped expert ranges (every expert in one dispatch, B or C stacked) equal the reference and the one-expert GEMMs (both tile settings, f16 B)', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  await eachTile(async (tile) => {
    const r = rng(13);
    const M = 200, K = 24, N = 40, E = 4;
    // As above: one tile, an empty range, one tile, a gap [128, 192) and a range past the end (clamped to 200).
    const ranges = Int32Array.from([0, 64, 64, 64, 64, 128, 192, 260]);
    const rg = k.ctx.upload(ranges);
    const a = randF32(r, M * K); // [M, K]
    const base = { batch: 1, m: M, n: N, k: K, transA: false, alpha: 1, beta: 0, strideA: 0, strideC: 0, bias: null } as const;
    const keys: string[] = [];
    const dispatch = k.ctx.dispatch;
    k.ctx.dispatch = (d) => { keys.push(d.key); dispatch.call(k.ctx, d); };
    try {
      for (const transB of [false, true]) {
        for (const half of [false, true]) {
          const stride = K * N + 6; // the experts' B sit apart, as a slab's views do
          const bAll = randF32(r, E * stride);
          let bDev = k.ctx.upload(bAll);
          let bRef = bAll;
          if (half) {
            const words = k.ctx.alloc([(E * stride) / 2], 'u32');
            k.packF16(bDev, words, E * stride);
            bDev = words;
            bRef = unpackHalves((await k.ctx.read(words)) as Uint32Array, E * stride);
          }
          const grouped = k.ctx.upload(new Float32Array(M * N).fill(7)); // rows of no range keep their 7s
          const n0 = keys.length;
          k.gemm(k.ctx.upload(a), bDev, grouped, { ...base, transB, strideB: stride, bHalf: half, range: { ranges: rg, on: 'rows', experts: E, maxRows: M } });
          assert.equal(keys.length - n0, 1, 'one dispatch for all experts');
          assert.ok(!keys[n0].includes(':t128'), `the grouped row GEMM keeps the 64 tile (tile setting ${tile})`);
          // The same products one expert at a time (f32: each expert's B in a buffer of its own).
          const single = k.ctx.upload(new Float32Array(M * N).fill(7));
          if (!half) {
            for (let e = 0; e < E; e++) {
              const be = k.ctx.upload(bAll.subarray(e * stride, e * stride + K * N));
              k.gemm(k.ctx.upload(a), be, single, { ...base, transB, strideB: 0, range: { ranges: rg, on: 'rows', expert: e, maxRows: 128 } });
            }
          }
          const [got, one] = (await k.ctx.readMany([grouped, single])) as Float32Array[];
          const want = new Float32Array(M * N).fill(7);
          for (let e = 0; e < E; e++) {
            const lo = ranges[2 * e], hi = Math.min(ranges[2 * e + 1], M);
            if (hi <= lo) continue;
            const part = new Float32Array((hi - lo) * N);
            refKernels.gemm(a.subarray(lo * K, hi * K), bRef.subarray(e * stride, e * stride + K * N), part, { ...base, m: hi - lo, transB, strideB: 0 });
            want.set(part, lo * N);
          }
          for (let i = 0; i < M * N; i++) {
            if (!(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])))) assert.fail(`grouped rows tB=${transB} f16=${half}: C[${Math.floor(i / N)}, ${i % N}] = ${got[i]}, expected ${want[i]}`);
          }
          if (!half) assert.deepEqual(got, one, `grouped rows tB=${transB}: bit for bit the one-expert GEMMs`);
        }
      }
      // Grouped k: C_e [K, N] = A[range_e]ᵀ · B[range_e] for every e at once, stacked strideC apart; the gaps between stay untouched.
      const bb = randF32(r, M * N);
      const strideC = K * N + 10;
      const c = k.ctx.upload(new Float32Array(E * strideC).fill(NaN));
      const n0 = keys.length;
      k.gemm(k.ctx.upload(a), k.ctx.upload(bb), c, { batch: E, m: K, n: N, k: M, transA: true, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC, bias: null, range: { ranges: rg, on: 'k', experts: E } });
      assert.equal(keys.length - n0, 1, 'one dispatch for all experts\' sums');
      const got = (await k.ctx.read(c)) as Float32Array;
      for (let e = 0; e < E; e++) {
        const lo = ranges[2 * e], hi = Math.min(ranges[2 * e + 1], M);
        const want = new Float32Array(K * N);
        if (hi > lo) refKernels.gemm(a.subarray(lo * K, hi * K), bb.subarray(lo * N, hi * N), want, { batch: 1, m: K, n: N, k: hi - lo, transA: true, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null });
        for (let i = 0; i < K * N; i++) assert.ok(Math.abs(got[e * strideC + i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `grouped k, expert ${e}: C[${i}] = ${got[e * strideC + i]}, expected ${want[i]}`);
        if (e < E - 1) for (let i = K * N; i < strideC; i++) assert.ok(Number.isNaN(got[e * strideC + i]), `grouped k: the gap after expert ${e} is untouched`);
      }
      // Misuse is refused with what was expected.
      assert.throws(() => k.gemm(k.ctx.upload(a), k.ctx.upload(bb), c, { batch: 2, m: K, n: N, k: M, transA: true, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC, bias: null, range: { ranges: rg, on: 'k', experts: E } }), /batch = 4 experts/);
      assert.throws(() => k.gemm(k.ctx.upload(a), k.ctx.upload(bb), c, { ...base, transB: false, strideB: 0, range: { ranges: rg, on: 'rows', experts: 5 } }), /ranges has 8 elements/);
    } finally {
      k.ctx.dispatch = dispatch;
    }
  });
});

/** IEEE binary16 bits → number. */
function halfToFloat(h: number): number {
  const sgn = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return sgn * f * 2 ** -24;
  if (e === 31) return f ? NaN : sgn * Infinity;
  return sgn * (1 + f / 1024) * 2 ** (e - 15);
}

/** A normal-range number rounded to the nearest binary16 value (ties to even), as a number. */
function roundToHalf(x: number): number {
  if (x === 0) return x;
  const e = Math.floor(Math.log2(Math.abs(x)));
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = x / ulp, r = Math.round(q);
  const even = Math.abs(q - Math.trunc(q)) === 0.5 ? 2 * Math.round(q / 2) : r;
  return even * ulp;
}

function unpackHalves(words: Uint32Array, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => halfToFloat((words[i >> 1] >>> (16 * (i & 1))) & 0xffff));
}

test('webgpu packF16 rounds f32 to binary16 to nearest even (normal range), two per word, low half first', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const r = rng(5);
  const x = Float32Array.from([...randF32(r, 300), 0, -0, 1, -2.5, 65504, 6.103515625e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1234.567, -0.1, 0.75]); // 311 values, an odd count: a zero high half at the end
  const xs = k.ctx.upload(x), out = k.ctx.alloc([Math.ceil(x.length / 2)], 'u32');
  k.packF16(xs, out, x.length);
  const words = (await k.ctx.read(out)) as Uint32Array;
  const got = unpackHalves(words, x.length);
  x.forEach((v, i) => assert.equal(got[i], roundToHalf(v), `x[${i}] = ${v}: f16 ${got[i]}, expected ${roundToHalf(v)}`));
  assert.equal(words[words.length - 1] >>> 16, 0, 'the odd tail\'s high half is 0');
  k.ctx.release(xs); k.ctx.release(out);
});

async function f16Cases(k: NonNullable<Awaited<ReturnType<typeof gpuOrSkip>>>): Promise<void> {
  const all = cases().filter((_, i) => i % 2 === 0); // every transpose/batch/broadcast kind, half the shapes
  const dev = all.map((cs) => {
    const c = k.ctx.upload(cs.c0), bf = k.ctx.upload(cs.b), bh = k.ctx.alloc([Math.ceil(cs.b.length / 2)], 'u32');
    k.packF16(bf, bh, cs.b.length);
    k.gemm(k.ctx.upload(cs.a), bh, c, { ...cs.p, bias: cs.p.bias ? k.ctx.upload(cs.p.bias) : null, bHalf: true });
    return [c, bh];
  });
  const got = await k.ctx.readMany(dev.flat());
  all.forEach((cs, ci) => {
    const c = got[2 * ci] as Float32Array, bHalf = unpackHalves(got[2 * ci + 1] as Uint32Array, cs.b.length);
    const exact = cs.c0.slice(), orig = cs.c0.slice();
    refKernels.gemm(cs.a, bHalf, exact, cs.p); // over the rounded B
    refKernels.gemm(cs.a, cs.b, orig, cs.p); // the f32 GEMM over the original B
    const abs = (x: Float32Array) => x.map(Math.abs);
    const mag = new Float32Array(exact.length);
    refKernels.gemm(abs(cs.a), abs(cs.b), mag, { ...cs.p, alpha: Math.abs(cs.p.alpha), beta: 0, bias: null });
    const g = 4 * 2 ** -24 * (cs.p.k + 3);
    for (let i = 0; i < c.length; i++) {
      const j = i % cs.p.n;
      const f32Tol = 1.01 * g * (mag[i] + (cs.p.beta !== 0 ? Math.abs(cs.p.beta * cs.c0[i]) : 0) + (cs.p.bias ? Math.abs(cs.p.bias[j]) : 0)) + 1e-30;
      if (!(Math.abs(c[i] - exact[i]) <= f32Tol)) assert.fail(`${cs.label} (f16 B): C[${i}] = ${c[i]}, expected ${exact[i]} over the rounded B (tolerance ${f32Tol})`);
      const halfTol = f32Tol + 2 ** -11 * mag[i];
      if (!(Math.abs(c[i] - orig[i]) <= halfTol)) assert.fail(`${cs.label} (f16 B): C[${i}] = ${c[i]}, the f32 GEMM gives ${orig[i]} (f16 tolerance ${halfTol})`);
    }
  });
}

test('webgpu gemm with f16 B (packed binary16 weights) matches the f32 GEMM within the f16 tolerance (both tiles, the skinny kernel on and off)', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  await eachTile(() => f16Cases(k), true);
});

test('webgpu gemm with f16 B through shader-f16 (array<f16>) where the device has it', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  if (!deviceHasF16(k.ctx)) {
    assert.ok(!k.ctx.adapter.shaderF16, 'the adapter has shader-f16 but GpuContext.open did not request it');
    return t.skip(`${k.ctx.describe()}: the adapter lacks shader-f16; only the packed-f16 path (unpack2x16float, previous test) ran`);
  }
  await f16Cases(k);
});

test('webgpu gemm: expert ranges limit the rows (row range) or the sum over k (k range), clamped to the matrix (both tiles)', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  await eachTile(async () => {
  const r = rng(11);
  const M = 200, K = 24, N = 40;
  // Expert ranges [start, end): one tile, an empty one, one tile, a gap, and one past the end (clamped to 200).
  const ranges = Int32Array.from([0, 64, 64, 64, 64, 128, 192, 260]);
  const rg = k.ctx.upload(ranges);
  const a = randF32(r, M * K); // [M, K]
  for (const transB of [false, true]) {
    const b = randF32(r, 4 * K * N); // 4 experts' B: [K, N] (or [N, K])
    const c = k.ctx.upload(new Float32Array(M * N).fill(7)); // rows of no range keep their 7s
    const bs = Array.from({ length: 4 }, (_, e) => k.ctx.upload(b.subarray(e * K * N, (e + 1) * K * N)));
    for (let e = 0; e < 4; e++) {
      k.gemm(k.ctx.upload(a), bs[e], c, { batch: 1, m: M, n: N, k: K, transA: false, transB, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null, range: { ranges: rg, expert: e, on: 'rows', maxRows: 128 } });
    }
    const got = await readF32(k, c);
    const want = new Float32Array(M * N).fill(7);
    for (let e = 0; e < 4; e++) {
      const lo = ranges[2 * e], hi = Math.min(ranges[2 * e + 1], M);
      if (hi <= lo) continue;
      const part = new Float32Array((hi - lo) * N);
      refKernels.gemm(a.subarray(lo * K, hi * K), b.subarray(e * K * N, (e + 1) * K * N), part, { batch: 1, m: hi - lo, n: N, k: K, transA: false, transB, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null });
      want.set(part, lo * N);
    }
    for (let i = 0; i < M * N; i++) {
      const expect = want[i];
      assert.ok(Math.abs(got[i] - expect) <= 1e-4 * (1 + Math.abs(expect)), `rows tB=${transB}: C[${Math.floor(i / N)}, ${i % N}] = ${got[i]}, expected ${expect}`);
    }
  }
  // k range: C_e [K, N] = A[range]ᵀ · B[range] (A [M, K] transposed, B [M, N]); the empty range gives zeros.
  const bb = randF32(r, M * N);
  for (let e = 0; e < 4; e++) {
    const c = k.ctx.upload(new Float32Array(K * N).fill(NaN));
    k.gemm(k.ctx.upload(a), k.ctx.upload(bb), c, { batch: 1, m: K, n: N, k: M, transA: true, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null, range: { ranges: rg, expert: e, on: 'k' } });
    const got = await readF32(k, c);
    const lo = ranges[2 * e], hi = Math.min(ranges[2 * e + 1], M);
    const want = new Float32Array(K * N);
    if (hi > lo) refKernels.gemm(a.subarray(lo * K, hi * K), bb.subarray(lo * N, hi * N), want, { batch: 1, m: K, n: N, k: hi - lo, transA: true, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, bias: null });
    for (let i = 0; i < K * N; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `k range, expert ${e}: C[${i}] = ${got[i]}, expected ${want[i]}`);
  }
  });
});
