// Native GEMM against the reference (src/backend/ref/gemm.ts) at every CPU dispatch level:
// awkward sizes (1, 3, 7, 16, 33, 257 and mixtures, block edges), the few-row path (m = 1..8),
// all four transpose combinations, batches with stride-0 broadcasting, alpha != 1, beta = 0
// over NaN-filled C, beta = 1 and 0.5, and the fused bias; plus an odd thread count.
// Tolerance: the float32 worst-case summation bound relative to Σ|alpha·a·b| + |beta·c| + |bias|,
// since the native kernel accumulates in a different order than the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GemmParams } from '../../src/backend/kernels.ts';
import { availableBackends } from '../../src/tensor/backends.ts';
import { nativeLevels, randF32, refKernels, rng } from '../helpers.ts';

interface Case {
  p: GemmParams;
  a: Float32Array;
  b: Float32Array;
  c0: Float32Array;
  expected: Float32Array;
  tol: Float32Array;
  label: string;
}

const awk = [1, 3, 7, 16, 33] as const;

// [m, k, n] shapes: every mixture of the small awkward sizes, mixtures with 257 (crosses the
// 256-deep K panels and the row blocks), a column count past one 4096-wide B panel, and few rows.
function shapes(): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (const m of awk) for (const k of awk) for (const n of awk) out.push([m, k, n]);
  out.push([257, 257, 257], [257, 7, 33], [33, 257, 7], [7, 33, 257], [1, 257, 257], [257, 1, 3], [16, 257, 33], [200, 70, 65], [9, 5, 4100]);
  for (let m = 1; m <= 8; m++) out.push([m, 37, 100], [m, 300, 70]);
  out.push([8, 257, 300], [2, 16, 1000], [5, 1000, 16]);
  // Big enough to be split over threads (>= 2^22 multiply-adds, or 2^21 with few rows): a team over
  // rows is 257³ above; columns split for few row tiles; few rows split over columns.
  out.push([40, 128, 900], [8, 257, 1100]);
  return out;
}

// Σ|alpha·op(A)·op(B)| + |beta·C| + |bias| per element, the scale the rounding error is relative to.
function magnitudes(a: Float32Array, b: Float32Array, c0: Float32Array, p: GemmParams): Float32Array {
  const abs = (x: Float32Array) => x.map(Math.abs);
  const out = new Float32Array(c0.length);
  const c = new Float32Array(c0.length);
  refKernels.gemm(abs(a), abs(b), c, { ...p, alpha: Math.abs(p.alpha), beta: 0, bias: null });
  for (let bi = 0; bi < p.batch; bi++) {
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        const o = bi * p.strideC + i * p.n + j;
        out[o] = c[o] + (p.beta !== 0 ? Math.abs(p.beta * c0[o]) : 0) + (p.bias ? Math.abs(p.bias[j]) : 0);
      }
    }
  }
  return out;
}

function makeCase(r: ReturnType<typeof rng>, m: number, k: number, n: number, variant: number, batch = 1, broadcast: 'none' | 'a' | 'b' = 'none'): Case {
  const transA = (variant & 1) !== 0, transB = (variant & 2) !== 0;
  const alphas = [1, 0.7, -1.5], betas = [0, 1, 0.5];
  const alpha = alphas[variant % 3], beta = betas[Math.floor(variant / 3) % 3];
  const withBias = ((variant >> 2) & 1) === 0;
  const strideA = broadcast === 'a' ? 0 : m * k, strideB = broadcast === 'b' ? 0 : k * n, strideC = m * n;
  const a = randF32(r, Math.max(1, strideA * (batch - 1) + m * k));
  const b = randF32(r, Math.max(1, strideB * (batch - 1) + k * n));
  // beta = 0 must ignore C entirely, NaN included.
  const c0 = beta === 0 ? new Float32Array(batch * m * n).fill(NaN) : randF32(r, batch * m * n);
  const bias = withBias ? randF32(r, n) : null;
  const p: GemmParams = { batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, bias };
  const expected = c0.slice();
  refKernels.gemm(a, b, expected, p);
  const mag = magnitudes(a, b, c0, p);
  const gamma = 4 * 2 ** -24 * (k + 3);
  const tol = mag.map((x) => gamma * x + 1e-30);
  const label = `m=${m} k=${k} n=${n} batch=${batch}${broadcast !== 'none' ? ` (${broadcast} broadcast)` : ''} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta} bias=${withBias}`;
  return { p, a, b, c0, expected, tol, label };
}

function buildCases(): Case[] {
  const r = rng(42);
  const cases: Case[] = [];
  let v = 0;
  for (const [m, k, n] of shapes()) {
    // Every transpose combination for every shape; alpha, beta and bias rotate with the counter.
    for (let t = 0; t < 4; t++) cases.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36));
  }
  // Batches, stride-0 broadcasting, few rows; the last two shapes are big enough for threads:
  // 3 or 5 items on 2 threads split each item (a team sharing the B panels), 4 items split the batch.
  for (const [m, k, n] of [[64, 64, 64], [100, 40, 50], [8, 33, 100], [33, 16, 7], [1, 257, 257], [160, 100, 90], [1, 257, 3000]] as const) {
    for (let t = 0; t < 4; t++) {
      cases.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36, 3, 'a'));
      cases.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36, 4, 'b'));
      cases.push(makeCase(r, m, k, n, (v++ * 4 + t) % 36, 5, 'none'));
    }
  }
  // k = 0: C = beta·C + bias.
  cases.push(makeCase(r, 5, 0, 9, 4), makeCase(r, 20, 0, 3, 2));
  return cases;
}

function check(gemm: (a: Float32Array, b: Float32Array, c: Float32Array, p: GemmParams) => void, cs: Case, where: string): void {
  const c = cs.c0.slice();
  gemm(cs.a, cs.b, c, cs.p);
  for (let i = 0; i < c.length; i++) {
    const err = Math.abs(c[i] - cs.expected[i]);
    if (!(err <= cs.tol[i])) assert.fail(`${where} ${cs.label}: C[${i}] = ${c[i]}, expected ${cs.expected[i]} (tolerance ${cs.tol[i]})`);
  }
}

const cases = buildCases();

for (const lvl of nativeLevels()) {
  test(`${lvl.name}: gemm matches the reference (${cases.length} cases)`, () => {
    lvl.enter();
    try {
      for (const cs of cases) check(lvl.kernels.gemm, cs, lvl.name);
    } finally {
      lvl.exit();
    }
  });
}

test('native gemm on 3 threads (odd splits) matches the reference', async (t) => {
  const native = availableBackends().find((b) => b.name === 'native');
  if (!native) return t.skip('native addon not built');
  const before = native.threads();
  native.setThreads(3);
  // Let the new pool workers start before the first job: common/threadpool.cc reads the job
  // generation when a worker starts running, so a job posted before that is never seen (a hang).
  await new Promise((r) => setTimeout(r, 200));
  try {
    for (const cs of cases) check(native.kernels.gemm, cs, 'native/3 threads');
  } finally {
    native.setThreads(before);
  }
});

test('native gemm rejects arrays too short for the sizes', (t) => {
  const native = availableBackends().find((b) => b.name === 'native');
  if (!native) return t.skip('native addon not built');
  const p: GemmParams = { batch: 2, m: 4, n: 4, k: 4, transA: false, transB: false, alpha: 1, beta: 0, strideA: 16, strideB: 16, strideC: 16, bias: null };
  assert.throws(() => native.kernels.gemm(new Float32Array(16), new Float32Array(32), new Float32Array(32), p), RangeError);
  assert.throws(() => native.kernels.gemm(new Float32Array(32), new Float32Array(32), new Float32Array(31), p), RangeError);
});
