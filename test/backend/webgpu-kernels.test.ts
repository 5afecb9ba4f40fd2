// The WebGPU elementwise, row and layer kernels (src/backend/webgpu/{elementwise,rows,nn}.ts)
// against the reference kernels on random inputs of awkward sizes (not multiples of the 64-lane
// row workgroup or the 256-thread 1-D workgroup), with broadcasting, both RoPE layouts, duplicate
// embedding ids, ignored targets, and out-of-range ids reported as RangeError at the next read.
// Tolerances: exact IEEE ops (+ - * / max, copies, gathers) are held to 2 ulp-ish (rtol 3e-7);
// kernels using exp/log/tanh/sqrt/pow get rtol 2e-5, atol 2e-6, since WGSL only bounds those
// builtins to a few ulp over a range (e.g. exp: 3 + 2|x| ulp) and GL drivers use their own code;
// row reductions sum in f32 (reference: double), so they get atol ~ cols·2^-24·Σ|terms|.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryOps, unaryOps, type BinaryOp, type UnaryOp } from '../../src/backend/kernels.ts';
import { assertClose, randF32, randI32, refKernels, rng } from '../helpers.ts';
import { SAMPLE_CAP, SAMPLE_PARAMS, SAMPLE_SORTED, sampleRows } from '../../src/backend/webgpu/rows.ts';
import { sampleToken } from '../../src/engine/sampling.ts';
import { gpuOrSkip, readF32 } from './webgpu-setup.ts';

const r = rng(11);

function inputFor(op: UnaryOp, n: number): Float32Array {
  const x = randF32(r, n, 2); // [n]
  if (op === 'log' || op === 'sqrt' || op === 'rsqrt') for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]) + 0.05;
  if (op === 'recip') for (let i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] + 0.1 : x[i] - 0.1;
  return x;
}

const exactUnary = new Set<UnaryOp>(['neg', 'abs', 'square', 'relu']);

test('webgpu unary: every op, in and out of place, n = 1 and 257, and n past 65535 workgroups (2-D grid)', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  for (const n of [1, 257]) {
    for (const op of unaryOps) {
      const x = inputFor(op, n);
      const expected = new Float32Array(n);
      refKernels.unary(op, x, expected, n);
      const gx = k.ctx.upload(x), out = k.ctx.alloc([n]);
      k.unary(op, gx, out, n);
      k.unary(op, gx, gx, n); // in place
      const [a, b] = (await k.ctx.readMany([out, gx])) as Float32Array[];
      const tol = exactUnary.has(op) ? { rtol: 3e-7, atol: 0 } : { rtol: 2e-5, atol: 2e-6 };
      assertClose(a, expected, { ...tol, label: `${op} n=${n}` });
      assertClose(b, expected, { ...tol, label: `${op} in place n=${n}` });
    }
  }
  const n = 256 * 65535 + 7; // past one dimension of workgroups
  const x = randF32(r, n); // [n]
  const gx = k.ctx.upload(x), out = k.ctx.alloc([n]);
  k.unary('neg', gx, out, n);
  const got = await readF32(k, out);
  assert.equal(got[n - 1], -x[n - 1]);
  assert.equal(got[12345], -x[12345]);
  k.ctx.release(gx); k.ctx.release(out);
});

test('webgpu binary: every op with broadcasting along leading, middle and trailing dims', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const shape = [3, 5, 7];
  const layouts: [number[], number[], number][] = [
    [[35, 7, 1], [35, 7, 1], 105], // same shape
    [[35, 7, 1], [0, 0, 1], 7], // b is [7] broadcast
    [[0, 7, 1], [5, 1, 0], 35], // a is [5,7] over dim 0; b is [3,5,1]
    [[1, 3, 15], [0, 1, 0], 105], // a transposed view, b is [5]
  ];
  for (const op of binaryOps) {
    for (const [sa, sb, nb] of layouts) {
      const na = sa.reduce((acc, s, d) => acc + s * (shape[d] - 1), 0) + 1;
      const a = randF32(r, na), b = randF32(r, nb); // flat storages of the strided views
      if (op === 'pow') for (let i = 0; i < na; i++) a[i] = Math.abs(a[i]) + 0.1;
      if (op === 'div') for (let i = 0; i < nb; i++) b[i] = b[i] >= 0 ? b[i] + 0.1 : b[i] - 0.1;
      if (op === 'eq') for (let i = 0; i < Math.min(na, nb); i += 2) a[i] = b[i];
      const expected = new Float32Array(105); // [3, 5, 7]
      refKernels.binary(op, a, sa, b, sb, expected, shape);
      const out = k.ctx.alloc(shape);
      k.binary(op, k.ctx.upload(a), sa, k.ctx.upload(b), sb, out, shape);
      const tol = op === 'pow' ? { rtol: 2e-5, atol: 2e-6 } : { rtol: 3e-7, atol: 0 };
      assertClose(await readF32(k, out), expected, { ...tol, label: `${op} strides ${sa} / ${sb}` });
    }
  }
  // pow's edge cases follow Math.pow: x^0 = 1, negative bases with integer exponents.
  const pa = new Float32Array([-2, -2, 0, 3, -1.5]), pb = new Float32Array([3, 2, 0, 0, 4]);
  const pout = k.ctx.alloc([5]);
  k.binary('pow' as BinaryOp, k.ctx.upload(pa), [1], k.ctx.upload(pb), [1], pout, [5]);
  assertClose(await readF32(k, pout), [-8, 4, 1, 1, 5.0625], { rtol: 2e-6, label: 'pow edges' });
});

test('webgpu swiglu, swiglu/silu backward, scale and adamw', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const n = 1031;
  const g = randF32(r, n, 3), u = randF32(r, n), d = randF32(r, n); // [n] each
  const [e1, e2, e3, e4] = [0, 1, 2, 3].map(() => new Float32Array(n));
  refKernels.swiglu(g, u, e1, n);
  refKernels.swigluBackward(g, u, d, e2, e3, n);
  refKernels.siluBackward(g, d, e4, n);
  const [gg, gu, gd] = [g, u, d].map((x) => k.ctx.upload(x));
  const [o1, o2, o3, o4] = [0, 1, 2, 3].map(() => k.ctx.alloc([n]));
  k.swiglu(gg, gu, o1, n);
  k.swigluBackward(gg, gu, gd, o2, o3, n);
  k.siluBackward(gg, gd, o4, n);
  const got = (await k.ctx.readMany([o1, o2, o3, o4])) as Float32Array[];
  const tol = { rtol: 2e-5, atol: 2e-6 };
  assertClose(got[0], e1, { ...tol, label: 'swiglu' });
  assertClose(got[1], e2, { ...tol, label: 'swiglu dgate' });
  assertClose(got[2], e3, { ...tol, label: 'swiglu dup' });
  assertClose(got[3], e4, { ...tol, label: 'silu backward' });

  const x = randF32(r, n), gs = k.ctx.upload(x);
  k.scale(gs, n, -0.37);
  const xs = x.slice(); refKernels.scale(xs, n, -0.37);
  assertClose(await readF32(k, gs), xs, { rtol: 3e-7, atol: 0, label: 'scale' });

  // Three AdamW steps on the same buffers (m, v carried on the device).
  const w = randF32(r, n), m0 = new Float32Array(n), v0 = new Float32Array(n);
  const [gw, gm, gv] = [w, m0, v0].map((x) => k.ctx.upload(x));
  for (let step = 1; step <= 3; step++) {
    const grad = randF32(r, n); // [n]
    const p = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
    refKernels.adamw(w, grad, m0, v0, n, p);
    k.adamw(gw, k.ctx.upload(grad), gm, gv, n, p);
  }
  const [aw, am, av] = (await k.ctx.readMany([gw, gm, gv])) as Float32Array[];
  assertClose(aw, w, { rtol: 1e-5, atol: 1e-6, label: 'adamw param' });
  assertClose(am, m0, { rtol: 1e-5, atol: 1e-7, label: 'adamw m' });
  assertClose(av, v0, { rtol: 1e-5, atol: 1e-8, label: 'adamw v' });
});

test('webgpu reduce (sum, max) over outer/middle/inner axes', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  for (const [outer, rr, inner] of [[1, 1, 1], [3, 70, 1], [1, 33, 17], [5, 7, 3]]) {
    const x = randF32(r, outer * rr * inner); // [outer, r, inner]
    for (const op of ['sum', 'max'] as const) {
      const e = new Float32Array(outer * inner); // [outer, inner]
      refKernels.reduce(op, x, e, outer, rr, inner);
      const out = k.ctx.alloc([outer, inner]);
      k.reduce(op, k.ctx.upload(x), out, outer, rr, inner);
      assertClose(await readF32(k, out), e, { rtol: 1e-6, atol: rr * 2 ** -24 * 4 * 4, label: `${op} [${outer},${rr},${inner}]` });
    }
  }
});

test('webgpu softmax, log-softmax and their backwards; rmsnorm and its backward', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  for (const [rows, cols] of [[1, 1], [3, 63], [5, 65], [2, 300]]) {
    const n = rows * cols;
    const x = randF32(r, n, 3), dy = randF32(r, n); // [rows, cols]
    const [sm, lsm, dsm, dlsm] = [0, 1, 2, 3].map(() => new Float32Array(n));
    refKernels.softmax(x, sm, rows, cols);
    refKernels.logSoftmax(x, lsm, rows, cols);
    refKernels.softmaxBackward(sm, dy, dsm, rows, cols);
    refKernels.logSoftmaxBackward(lsm, dy, dlsm, rows, cols);
    const [gx, gdy, gsm, glsm] = [x, dy, sm, lsm].map((a) => k.ctx.upload(a));
    const outs = [0, 1, 2, 3].map(() => k.ctx.alloc([rows, cols]));
    k.softmax(gx, outs[0], rows, cols);
    k.logSoftmax(gx, outs[1], rows, cols);
    k.softmaxBackward(gsm, gdy, outs[2], rows, cols);
    k.logSoftmaxBackward(glsm, gdy, outs[3], rows, cols);
    const got = (await k.ctx.readMany(outs)) as Float32Array[];
    const tol = { rtol: 2e-5, atol: 2e-6 * Math.max(1, cols / 16) };
    assertClose(got[0], sm, { ...tol, label: `softmax ${rows}x${cols}` });
    assertClose(got[1], lsm, { ...tol, label: `logSoftmax ${rows}x${cols}` });
    assertClose(got[2], dsm, { ...tol, label: `softmaxBackward ${rows}x${cols}` });
    assertClose(got[3], dlsm, { ...tol, label: `logSoftmaxBackward ${rows}x${cols}` });

    const w = randF32(r, cols); // [cols]
    const [y, rs, dx, dw] = [new Float32Array(n), new Float32Array(rows), new Float32Array(n), new Float32Array(cols)];
    refKernels.rmsnorm(x, w, y, rs, rows, cols, 1e-5);
    refKernels.rmsnormBackward(x, w, rs, dy, dx, dw, rows, cols);
    const gw = k.ctx.upload(w);
    const [gy, grs, gdx, gdw] = [k.ctx.alloc([rows, cols]), k.ctx.alloc([rows]), k.ctx.alloc([rows, cols]), k.ctx.alloc([cols])];
    k.rmsnorm(gx, gw, gy, grs, rows, cols, 1e-5);
    k.rmsnormBackward(gx, gw, grs, gdy, gdx, gdw, rows, cols);
    const [ay, ars, adx, adw] = (await k.ctx.readMany([gy, grs, gdx, gdw])) as Float32Array[];
    assertClose(ay, y, { ...tol, label: `rmsnorm ${rows}x${cols}` });
    assertClose(ars, rs, { ...tol, label: `rmsnorm rstd ${rows}x${cols}` });
    assertClose(adx, dx, { ...tol, label: `rmsnorm dx ${rows}x${cols}` });
    assertClose(adw, dw, { ...tol, label: `rmsnorm dw ${rows}x${cols}` });
  }
});

test('webgpu cross-entropy and its backward, with ignored rows; a bad target is a RangeError at read', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const rows = 9, V = 131;
  const logits = randF32(r, rows * V, 4); // [rows, V]
  const targets = randI32(r, rows, V); // [rows]
  targets[2] = -100; targets[7] = -100;
  const dloss = randF32(r, rows); // [rows]
  const [loss, lse, dl] = [new Float32Array(rows), new Float32Array(rows), new Float32Array(rows * V)];
  refKernels.crossEntropy(logits, targets, loss, lse, rows, V, -100);
  refKernels.crossEntropyBackward(logits, targets, lse, dloss, dl, rows, V, -100);
  const [gl, gt, gd] = [k.ctx.upload(logits), k.ctx.upload(targets), k.ctx.upload(dloss)];
  const [gloss, glse, gdl] = [k.ctx.alloc([rows]), k.ctx.alloc([rows]), k.ctx.alloc([rows, V])];
  k.crossEntropy(gl, gt, gloss, glse, rows, V, -100);
  k.crossEntropyBackward(gl, gt, glse, gd, gdl, rows, V, -100);
  const [aloss, alse, adl] = (await k.ctx.readMany([gloss, glse, gdl])) as Float32Array[];
  assertClose(aloss, loss, { rtol: 2e-5, atol: 2e-5, label: 'loss' });
  assertClose(alse, lse, { rtol: 2e-5, atol: 2e-5, label: 'lse' });
  assertClose(adl, dl, { rtol: 2e-5, atol: 2e-6, label: 'dlogits' });

  const bad = targets.slice(); bad[4] = V;
  k.crossEntropy(gl, k.ctx.upload(bad), gloss, glse, rows, V, -100);
  await assert.rejects(k.ctx.read(gloss), (e: Error) => e instanceof RangeError && /cross-entropy target 131 at position 4/.test(e.message));
  // The status word is cleared by the read that reported it.
  k.crossEntropy(gl, gt, gloss, glse, rows, V, -100);
  assertClose(await readF32(k, gloss), loss, { rtol: 2e-5, atol: 2e-5, label: 'loss after the error' });
});

test('webgpu rope: both pair layouts, partial rotary dims, inverse, in place; bad position is a RangeError', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const N = 5, H = 3, D = 10, maxPos = 13;
  for (const rotaryDim of [10, 6]) {
    const half = rotaryDim / 2;
    const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half); // [maxPos, half]
    for (let p = 0; p < maxPos; p++) for (let i = 0; i < half; i++) { const th = p * 10000 ** (-i / half); cos[p * half + i] = Math.cos(th); sin[p * half + i] = Math.sin(th); }
    const pos = Int32Array.from([0, 12, 3, 3, 7]); // [N]
    const [gc, gs, gp] = [k.ctx.upload(cos), k.ctx.upload(sin), k.ctx.upload(pos)];
    for (const interleaved of [false, true]) {
      for (const inverse of [false, true]) {
        const p = { N, H, D, rotaryDim, interleaved, inverse };
        const x = randF32(r, N * H * D); // [N, H, D]
        const e = new Float32Array(N * H * D);
        refKernels.rope(x, e, cos, sin, pos, p);
        const gx = k.ctx.upload(x), out = k.ctx.alloc([N, H, D]);
        k.rope(gx, out, gc, gs, gp, p);
        k.rope(gx, gx, gc, gs, gp, p);
        const [a, b] = (await k.ctx.readMany([out, gx])) as Float32Array[];
        const label = `rope rd=${rotaryDim} interleaved=${interleaved} inverse=${inverse}`;
        assertClose(a, e, { rtol: 1e-6, atol: 1e-6, label });
        assertClose(b, e, { rtol: 1e-6, atol: 1e-6, label: `${label} in place` });
      }
    }
    const badPos = k.ctx.upload(Int32Array.from([0, 1, maxPos, 2, 3]));
    const out = k.ctx.alloc([N, H, D]);
    k.rope(k.ctx.upload(randF32(r, N * H * D)), out, gc, gs, badPos, { N, H, D, rotaryDim, interleaved: false, inverse: false });
    await assert.rejects(k.ctx.read(out), (e: Error) => e instanceof RangeError && /rope position 13 at position 2/.test(e.message));
  }
});

test('webgpu embedding gather and scatter-add backward with duplicate ids; a bad id is a RangeError', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const rows = 11, dim = 37, n = 23;
  const table = randF32(r, rows * dim); // [rows, dim]
  const ids = randI32(r, n, rows); // [n]
  ids[5] = ids[6] = ids[7] = 4; // duplicates accumulate
  const dout = randF32(r, n * dim); // [n, dim]
  const e = new Float32Array(n * dim); // [n, dim]
  refKernels.embedding(table, ids, e, n, dim);
  const dt = randF32(r, rows * dim); // [rows, dim], accumulated into
  const gdt = k.ctx.upload(dt, [rows, dim]);
  refKernels.embeddingBackward(ids, dout, dt, n, dim);
  const gt = k.ctx.upload(table, [rows, dim]), gi = k.ctx.upload(ids), out = k.ctx.alloc([n, dim]);
  k.embedding(gt, gi, out, n, dim);
  k.embeddingBackward(gi, k.ctx.upload(dout), gdt, n, dim);
  const [a, b] = (await k.ctx.readMany([out, gdt])) as Float32Array[];
  assertClose(a, e, { rtol: 0, atol: 0, label: 'embedding' });
  assertClose(b, dt, { rtol: 3e-7, atol: 1e-7, label: 'embedding backward' });

  const bad = ids.slice(); bad[9] = -3;
  k.embedding(gt, k.ctx.upload(bad), out, n, dim);
  await assert.rejects(k.ctx.read(out), (err: Error) => err instanceof RangeError && /embedding id -3 at position 9/.test(err.message));
});

test('webgpu strided copy (f32 and i32, offsets, a transpose) and sumSquares', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const shape = [3, 4, 5];
  for (const [so, ss, dof, ds] of [[0, [20, 5, 1], 0, [20, 5, 1]], [7, [1, 3, 12], 2, [20, 5, 1]], [1, [0, 5, 1], 0, [1, 15, 3]]] as [number, number[], number, number[]][]) {
    const srcLen = so + ss.reduce((a, s, d) => a + s * (shape[d] - 1), 0) + 1;
    const dstLen = dof + ds.reduce((a, s, d) => a + s * (shape[d] - 1), 0) + 1;
    const src = randF32(r, srcLen); // flat storage of the source view
    const dst0 = randF32(r, dstLen); // untouched elements must stay
    const e = dst0.slice();
    refKernels.copy(src, so, ss, e, dof, ds, shape);
    const gd = k.ctx.upload(dst0);
    k.copy(k.ctx.upload(src), so, ss, gd, dof, ds, shape);
    assertClose(await readF32(k, gd), e, { rtol: 0, atol: 0, label: `copy ${ss} → ${ds}` });
    const isrc = randI32(r, srcLen, 1000), idst = new Int32Array(dstLen), ie = idst.slice();
    refKernels.copy(isrc, so, ss, ie, dof, ds, shape);
    const gi = k.ctx.upload(idst);
    k.copy(k.ctx.upload(isrc), so, ss, gi, dof, ds, shape);
    assert.deepEqual([...(await k.ctx.read(gi))], [...ie], `i32 copy ${ss} → ${ds}`);
  }
  for (const n of [1, 255, 70001]) {
    const x = randF32(r, n); // [n]
    const out = k.ctx.alloc([1]);
    k.sumSquares(k.ctx.upload(x), n, out);
    const want = refKernels.sumSquares(x, n);
    const got = (await readF32(k, out))[0];
    // f32 partial sums of n positive terms: relative error <= about (log2 n + n/65536 + 2)·2^-24, well inside 1e-5.
    assert.ok(Math.abs(got - want) <= 1e-5 * want, `sumSquares n=${n}: ${got} vs ${want}`);
  }
});

test('webgpu topk: descending values, lower index first on ties, k = 1..cols', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  for (const [rows, cols, kk] of [[1, 1, 1], [3, 70, 5], [2, 9, 9], [4, 130, 1]]) {
    const x = randF32(r, rows * cols); // [rows, cols]
    for (let i = 0; i < x.length; i += 3) x[i] = Math.round(x[i]); // ties
    const ev = new Float32Array(rows * kk), ei = new Int32Array(rows * kk); // [rows, k]
    refKernels.topk(x, ev, ei, rows, cols, kk);
    const gv = k.ctx.alloc([rows, kk]), gi = k.ctx.alloc([rows, kk], 'i32');
    k.topk(k.ctx.upload(x), gv, gi, rows, cols, kk);
    const [av, ai] = await k.ctx.readMany([gv, gi]);
    assert.deepEqual([...av], [...ev], `topk values ${rows}x${cols} k=${kk}`);
    assert.deepEqual([...ai], [...ei], `topk indices ${rows}x${cols} k=${kk}`);
  }
});

/**
 * Whether a draw from row x (host order: q = exp((x − max)/T) in double, sorted by q descending,
 * id ascending) sits within rounding of one of its decisions: a top-k boundary between nearly equal
 * q, the top-p target or u·(kept mass) within `tol` of a cumulative mass, a q within 1e-6 of min-p's
 * floor. Only there may the device (f32) and the host (double) pick different tokens.
 */
function nearRounding(x: Float32Array, o: { T: number; topK: number; topP: number; minP: number; u: number }, tol: number): boolean {
  let M = -Infinity;
  for (const v of x) M = Math.max(M, v);
  const q = Array.from(x, (v) => Math.exp((v - M) / o.T));
  const order = q.map((_, i) => i).sort((a, b) => q[b] - q[a] || a - b);
  const S = q.reduce((a, b) => a + b, 0);
  const near = (a: number, b: number) => Math.abs(a - b) <= tol * S;
  let keep = o.topK > 0 && o.topK < x.length ? o.topK : x.length;
  if (keep < x.length && q[order[keep - 1]] - q[order[keep]] <= 1e-6 * q[order[keep - 1]] && q[order[keep - 1]] !== q[order[keep]]) return true;
  if (o.topP < 1) {
    const total = keep < x.length ? order.slice(0, keep).reduce((a, j) => a + q[j], 0) : S;
    let c = 0, j = 0;
    while (j < keep) {
      if (near(c, o.topP * total)) return true;
      c += q[order[j++]];
      if (c >= o.topP * total) break;
    }
    if (near(c, o.topP * total)) return true;
    keep = j;
  }
  if (o.minP > 0) {
    let j = 1;
    while (j < keep && q[order[j]] >= o.minP) j++;
    if (order.slice(0, keep).some((i) => Math.abs(q[i] - o.minP) <= 1e-6)) return true;
    keep = j;
  }
  const kept = order.slice(0, keep).reduce((a, j) => a + q[j], 0);
  let c = 0;
  for (let j = 0; j < keep; j++) {
    if (near(c, o.u * kept)) return true;
    c += q[order[j]];
  }
  return near(c, o.u * kept);
}

test('webgpu sampleRows: top-k, top-p and min-p rows past the 1,024 candidates the device sorts pick the host sampler\'s tokens', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const V = 3000;
  const sr = rng(21);
  // Rows: near-flat (thousands of candidates), with exact ties (logits on a 1/8 grid), with a
  // tail that underflows to q = 0, and peaked (few candidates: the sorting path, for contrast).
  const rowsOf = (kind: string) => {
    const x = randF32(sr, V, kind === 'peaked' ? 4 : 0.5);
    if (kind === 'ties') for (let i = 0; i < V; i++) x[i] = Math.round(x[i] * 8) / 8;
    if (kind === 'underflow') for (let i = 0; i < V; i += 3) x[i] = -1e4;
    return x;
  };
  const settings = [
    { T: 1, topK: 0, topP: 0.95, minP: 0 }, { T: 0.7, topK: 0, topP: 0.9, minP: 0 }, { T: 1, topK: 2000, topP: 1, minP: 0 },
    { T: 1.3, topK: 1500, topP: 0.8, minP: 0 }, { T: 1, topK: 0, topP: 0.99, minP: 0.3 }, { T: 1, topK: 1200, topP: 1, minP: 0.05 },
    { T: 0.6, topK: 0, topP: 0.95, minP: 0 }, { T: 1, topK: 5, topP: 1, minP: 0 },
  ];
  const cases: { x: Float32Array; s: (typeof settings)[number]; u: number; kind: string }[] = [];
  for (const kind of ['flat', 'ties', 'underflow', 'peaked']) {
    for (const s of settings) for (const u of [0, 0.999999, sr.uniform(), sr.uniform()]) cases.push({ x: rowsOf(kind), s, u, kind });
  }
  const rows = cases.length;
  const logits = new Float32Array(rows * V), params = new Float32Array(rows * SAMPLE_PARAMS);
  cases.forEach((c, i) => {
    logits.set(c.x, i * V);
    params.set([SAMPLE_SORTED, c.s.T, c.s.topK, c.s.topP, c.s.minP, c.u], i * SAMPLE_PARAMS);
  });
  const out = k.ctx.alloc([rows, 2]);
  sampleRows(k.ctx, k.ctx.upload(logits), k.ctx.upload(params), out, rows, V);
  const got = await readF32(k, out);
  let compared = 0, large = 0;
  cases.forEach((c, i) => {
    const what = `${c.kind} ${JSON.stringify(c.s)} u=${c.u}`;
    const want = sampleToken(c.x, 0, V, { temperature: c.s.T, topK: c.s.topK, topP: c.s.topP, minP: c.s.minP }, { uniform: () => c.u });
    if (candidatesOver(c.x, c.s, SAMPLE_CAP)) large++;
    if (got[2 * i] !== want.token && nearRounding(c.x, { ...c.s, u: c.u }, 1e-5)) return;
    compared++;
    assert.equal(got[2 * i], want.token, `${what}: token`);
    assert.ok(Math.abs(got[2 * i + 1] - want.logprob) < 1e-4, `${what}: logprob ${got[2 * i + 1]} vs ${want.logprob}`);
  });
  assert.ok(compared >= rows - 4, `only ${compared} of ${rows} draws compared (the others fell within rounding)`);
  assert.ok(large >= rows / 2, `only ${large} of ${rows} rows go past the device sort`);
});

/** Whether the host's threshold search (sampling.ts) collects more than cap candidates for this row. */
function candidatesOver(x: Float32Array, s: { T: number; topK: number; topP: number }, cap: number): boolean {
  let M = -Infinity;
  for (const v of x) M = Math.max(M, v);
  const q = Array.from(x, (v) => Math.exp((v - M) / s.T));
  const S = q.reduce((a, b) => a + b, 0);
  const useK = s.topK > 0 && s.topK < x.length;
  for (let e = 1; ; e = Math.ceil(e * 1.5)) {
    const tau = e > 1100 ? 0 : 2 ** -e;
    const inSet = q.filter((v) => v >= tau);
    if (tau === 0 || (useK ? inSet.length >= s.topK : inSet.reduce((a, b) => a + b, 0) >= s.topP * S)) return inSet.length > cap;
  }
}
