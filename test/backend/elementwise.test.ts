// Native unary, broadcasting binary and strided copy against the reference, at
// every CPU dispatch level: every op, special values (±0, ±Inf, NaN), awkward
// sizes, and every broadcast/stride pattern the kernel has a fast path for plus
// general ones (middle axis, both sides, rank 1..4, transposed views).
// Tolerances: exact for + - × ÷ max min and comparisons (float ops round like the
// reference's double results); 1e-6 relative for sqrt/rsqrt/recip/pow and the
// exp/log/tanh family (a few ulp), with atol 1e-7 (gelu: 1e-6, where 1 + tanh cancels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryOps, unaryOps } from '../../src/backend/kernels.ts';
import type { BinaryOp, UnaryOp } from '../../src/backend/kernels.ts';
import { assertClose, awkwardSizes, nativeLevels, randF32, randI32, refKernels, rng } from '../helpers.ts';
import type { Rng } from '../../src/core/rng.ts';

const specials = [0, -0, Infinity, -Infinity, NaN, 1, -1, 100, -100, 1e-3, -1e-3, 88.8, -88, 1e-40, 3.5, -0.5];

function inputs(r: Rng, n: number, scale = 3): Float32Array {
  const x = randF32(r, n, scale);
  for (let i = 0; i < Math.min(n, specials.length); i++) x[(i * 7) % n] = specials[i];
  return x;
}

function unaryTol(op: UnaryOp): { rtol: number; atol: number } {
  if (op === 'neg' || op === 'abs' || op === 'square' || op === 'relu' || op === 'sqrt' || op === 'recip') return { rtol: 0, atol: 0 };
  if (op === 'gelu') return { rtol: 1e-6, atol: 1e-6 };
  return { rtol: 1e-6, atol: 1e-7 };
}

const exactBinary = new Set<BinaryOp>(['add', 'sub', 'mul', 'div', 'max', 'min', 'eq', 'gt', 'ge']);

function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Strides of a contiguous tensor of shape `src` broadcast to `out` (numpy rules, left-padded). */
function broadcastStrides(src: readonly number[], out: readonly number[]): number[] {
  const pad = out.length - src.length;
  const cs = contiguous(src);
  return out.map((n, d) => (d < pad || src[d - pad] === 1 ? 0 : cs[d - pad]));
}

const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);

/** [label, out shape, a shape, b shape] */
const patterns: [string, number[], number[], number[]][] = [
  ['same rank1', [257], [257], [257]],
  ['same rank2', [7, 33], [7, 33], [7, 33]],
  ['same rank3', [3, 7, 17], [3, 7, 17], [3, 7, 17]],
  ['same rank4', [2, 3, 5, 7], [2, 3, 5, 7], [2, 3, 5, 7]],
  ['b scalar', [7, 33], [7, 33], []],
  ['a scalar', [257], [], [257]],
  ['both scalar', [3, 5], [1], [1]],
  ['row (bias [C] on [N,C])', [33, 17], [33, 17], [17]],
  ['column ([N,1] on [N,C])', [33, 17], [33, 17], [33, 1]],
  ['column on a', [7, 257], [7, 1], [7, 257]],
  ['middle axis', [3, 7, 19], [3, 7, 19], [3, 1, 19]],
  ['both sides', [33, 17], [33, 1], [1, 17]],
  ['rank4 mixed', [2, 3, 4, 5], [2, 3, 1, 5], [1, 3, 4, 1]],
  ['rank4 inner 1', [3, 1, 5, 1], [3, 1, 5, 1], [1, 1, 5, 1]],
  ['rank6 scattered broadcast', [2, 3, 2, 4, 3, 5], [2, 1, 2, 4, 1, 5], [3, 1, 4, 3, 1]],
  ['rank8', [2, 1, 3, 2, 1, 2, 3, 2], [2, 1, 3, 1, 1, 2, 3, 2], [1, 3, 2, 1, 2, 1, 1]],
  ['empty', [3, 0, 5], [3, 0, 5], [5]],
  ['rank0', [], [], []],
];

for (const lvl of nativeLevels()) {
  test(`${lvl.name}: unary ops match the reference`, () => {
    lvl.enter();
    try {
      const r = rng(11);
      for (const op of unaryOps) {
        for (const n of [...awkwardSizes, 1000, 70_001]) {
          const x = inputs(r, n);
          const e = new Float32Array(n), a = new Float32Array(n);
          refKernels.unary(op, x, e, n);
          lvl.kernels.unary(op, x, a, n);
          assertClose(a, e, { ...unaryTol(op), label: `${op} n=${n}` });
          // in place (out = x)
          const y = x.slice();
          lvl.kernels.unary(op, y, y, n);
          assertClose(y, e, { ...unaryTol(op), label: `${op} in place n=${n}` });
        }
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: exp/log/tanh over their whole range`, () => {
    lvl.enter();
    try {
      const n = 20_000;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = -110 + (200 * i) / n;
      for (const op of ['exp', 'tanh', 'sigmoid', 'silu'] as const) {
        const e = new Float32Array(n), a = new Float32Array(n);
        refKernels.unary(op, x, e, n);
        lvl.kernels.unary(op, x, a, n);
        assertClose(a, e, { rtol: 1e-6, atol: 1e-38, label: `${op} sweep` });
      }
      for (let i = 0; i < n; i++) x[i] = Math.pow(2, -140 + (270 * i) / n);
      const e = new Float32Array(n), a = new Float32Array(n);
      refKernels.unary('log', x, e, n);
      lvl.kernels.unary('log', x, a, n);
      assertClose(a, e, { rtol: 1e-6, atol: 0, label: 'log sweep' });
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: binary ops over every broadcast pattern`, () => {
    lvl.enter();
    try {
      const r = rng(12);
      for (const op of binaryOps) {
        for (const [label, shape, as, bs] of patterns) {
          const a = inputs(r, Math.max(1, size(as)), 2), b = inputs(r, Math.max(1, size(bs)), 2);
          if (op === 'eq') for (let i = 0; i < Math.min(a.length, b.length); i += 3) a[i] = b[i];
          const sa = broadcastStrides(as, shape), sb = broadcastStrides(bs, shape);
          const n = size(shape);
          const e = new Float32Array(n), got = new Float32Array(n);
          refKernels.binary(op, a, sa, b, sb, e, shape);
          lvl.kernels.binary(op, a, sa, b, sb, got, shape);
          assertClose(got, e, { ...(exactBinary.has(op) ? { rtol: 0, atol: 0 } : { rtol: 1e-6, atol: 0 }), label: `${op} ${label}` });
        }
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: binary on transposed and long broadcast views`, () => {
    lvl.enter();
    try {
      const r = rng(13);
      for (const op of ['add', 'mul', 'max', 'pow', 'ge'] as BinaryOp[]) {
        // a is a [C, N] buffer read as [N, C] (strides [1, N]); b strided or transposed too
        const N = 37, C = 19;
        const a = inputs(r, N * C), shape = [N, C];
        for (const [sa, sb] of [[[1, N], [0, 2]], [[1, N], [C, 1]], [[C, 1], [0, 2]], [[1, N], [1, N]], [[2 * C, 1], [1, 0]]] as number[][][]) {
          const bsrc = inputs(r, 2 * N * C), asrc = sa[0] === 2 * C ? inputs(r, 2 * N * C) : a;
          const e = new Float32Array(N * C), got = new Float32Array(N * C);
          refKernels.binary(op, asrc, sa, bsrc, sb, e, shape);
          lvl.kernels.binary(op, asrc, sa, bsrc, sb, got, shape);
          assertClose(got, e, { rtol: op === 'pow' ? 1e-6 : 0, atol: 0, label: `${op} strided ${sa}/${sb}` });
        }
        // big shapes go through the thread pool: same answers
        const big = [64, 3, 1001];
        const A = inputs(r, size(big)), B = inputs(r, 3 * 1001);
        const sA = contiguous(big), sB = [0, 1001, 1];
        const e = new Float32Array(size(big)), got = new Float32Array(size(big));
        refKernels.binary(op, A, sA, B, sB, e, big);
        lvl.kernels.binary(op, A, sA, B, sB, got, big);
        assertClose(got, e, { rtol: op === 'pow' ? 1e-6 : 0, atol: 0, label: `${op} big middle broadcast` });
        const sT = [1, 64, 192];
        refKernels.binary(op, A, sT, B, sB, e, big);
        lvl.kernels.binary(op, A, sT, B, sB, got, big);
        assertClose(got, e, { rtol: op === 'pow' ? 1e-6 : 0, atol: 0, label: `${op} big transposed` });
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: strided copy (f32, i32, mixed, transposes, offsets)`, () => {
    lvl.enter();
    try {
      const r = rng(14);
      type Case = [string, number[], number[], number, number[], number];
      const cases: Case[] = [];
      for (const n of awkwardSizes) cases.push([`contiguous ${n}`, [n], [1], 0, [1], 0]);
      cases.push(['transpose 2d', [33, 17], [1, 33], 0, [17, 1], 0]);
      cases.push(['transpose into', [17, 33], [33, 1], 0, [1, 17], 0]);
      cases.push(['permute 3d', [3, 7, 5], [5, 1, 7 * 5], 0, [35, 5, 1], 0]);
      cases.push(['rank4 permute', [2, 3, 4, 5], [60, 5, 15, 1], 0, [60, 20, 5, 1], 0]);
      cases.push(['offsets + sub-block', [5, 6], [10, 1], 13, [6, 1], 3]);
      cases.push(['broadcast source', [4, 257], [0, 1], 0, [257, 1], 0]);
      cases.push(['scatter into strided', [7, 9], [9, 1], 0, [20, 2], 1]);
      cases.push(['negative stride', [16], [-1], 15, [1], 0]);
      cases.push(['big transpose (tiled, pool)', [300, 257], [1, 300], 0, [257, 1], 0]);
      cases.push(['batched transpose (tiled)', [2, 70, 65], [70 * 65, 1, 70], 3, [70 * 65, 65, 1], 0]);
      cases.push(['transpose into strided dst (tiled)', [65, 64], [1, 65], 0, [130, 1], 0]);
      cases.push(['empty', [0, 5], [5, 1], 0, [5, 1], 0]);
      cases.push(['rank0', [], [], 5, [], 2]);
      const extent = (shape: number[], strides: number[], off: number) => {
        let hi = off, lo = off;
        shape.forEach((n, d) => {
          if (n > 0) {
            if (strides[d] > 0) hi += (n - 1) * strides[d];
            else lo += (n - 1) * strides[d];
          }
        });
        assert.ok(lo >= 0);
        return hi + 1;
      };
      for (const [label, shape, ss, so, ds, dof] of cases) {
        const ns = extent(shape, ss, so), nd = extent(shape, ds, dof);
        const sf = inputs(r, ns), si = randI32(r, ns, 1000);
        for (const [src, mk] of [
          [sf, () => new Float32Array(nd).fill(-7)],
          [si, () => new Int32Array(nd).fill(-7)],
          [si, () => new Float32Array(nd).fill(-7)],
          [sf, () => new Int32Array(nd).fill(-7)],
        ] as [Float32Array | Int32Array, () => Float32Array | Int32Array][]) {
          const e = mk(), got = mk();
          refKernels.copy(src, so, ss, e, dof, ds, shape);
          lvl.kernels.copy(src, so, ss, got, dof, ds, shape);
          assert.deepEqual(Array.from(got), Array.from(e), `copy ${label} (${src.constructor.name} → ${e.constructor.name})`);
        }
      }
      // f32 bits survive a same-type copy exactly (NaN payloads, -0)
      const x = new Float32Array([NaN, -0, Infinity, 1e-45]);
      const y = new Float32Array(4);
      lvl.kernels.copy(x, 0, [1], y, 0, [1], [4]);
      assert.ok(Object.is(y[1], -0) && Number.isNaN(y[0]) && y[2] === Infinity && y[3] === x[3]);
    } finally {
      lvl.exit();
    }
  });
}
