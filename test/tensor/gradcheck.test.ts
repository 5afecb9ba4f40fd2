// Finite-difference gradient checks for every differentiable op of the autograd
// table (the mapped type below makes a missing op a compile error), on every
// backend. Loss = Σ op(inputs) ⊙ R with a fixed random R, central differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiffOp } from '../../src/tensor/grad-rules.ts';
import * as T from '../../src/tensor/index.ts';
import { Rng } from '../../src/core/rng.ts';

type Case = { inputs: () => T.Tensor[]; f: (xs: T.Tensor[]) => T.Tensor; h?: number; tol?: number };

function rnd(r: Rng, shape: number[], scale = 1, offset = 0): T.Tensor {
  return T.add(T.randn(shape, r, scale), offset);
}

function positive(r: Rng, shape: number[]): T.Tensor {
  return T.add(T.abs(T.randn(shape, r)), 0.5);
}

/** Values with |x| >= 0.3, so kinks at 0 (abs, relu) stay out of the finite-difference step. */
function awayFromZero(r: Rng, shape: number[]): T.Tensor {
  const t = T.randn(shape, r);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.sign(d[i] || 1) * (0.3 + Math.abs(d[i]));
  return t;
}

/** a and b with |a - b| >= 0.3 everywhere (b broadcast), so max/min kinks stay out of the step. */
function apart(r: Rng, sa: number[], sb: number[]): T.Tensor[] {
  const b = T.randn(sb, r);
  const a = T.add(T.broadcastTo(b, sa), awayFromZero(r, sa));
  return [a, b];
}

/** Distinct values at least 0.3 apart in a random order (no near-ties for max). */
function spaced(r: Rng, shape: number[]): T.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => i * 0.4 + r.uniform() * 0.1);
  for (let i = n - 1; i > 0; i--) { const j = r.int(i + 1); [v[i], v[j]] = [v[j], v[i]]; }
  return T.tensor(Float32Array.from(v), shape);
}

function ropeTables(maxPos: number, half: number): [T.Tensor, T.Tensor] {
  const c = new Float32Array(maxPos * half), s = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) for (let i = 0; i < half; i++) {
    const th = p * Math.pow(10000, -i / half);
    c[p * half + i] = Math.cos(th);
    s[p * half + i] = Math.sin(th);
  }
  return [T.tensor(c, [maxPos, half]), T.tensor(s, [maxPos, half])];
}

let r = new Rng(42);
const [cosT, sinT] = ropeTables(16, 3);
const [cos4, sin4] = ropeTables(8, 2);
const [cos2, sin2] = ropeTables(8, 1);

const cases: { [K in DiffOp]: Case[] } = {
  neg: [{ inputs: () => [rnd(r, [3, 4])], f: ([x]) => T.neg(x) }],
  exp: [{ inputs: () => [rnd(r, [3, 4], 0.5)], f: ([x]) => T.exp(x) }],
  log: [{ inputs: () => [positive(r, [3, 4])], f: ([x]) => T.log(x) }],
  sqrt: [{ inputs: () => [positive(r, [3, 4])], f: ([x]) => T.sqrt(x) }],
  rsqrt: [{ inputs: () => [positive(r, [3, 4])], f: ([x]) => T.rsqrt(x) }],
  abs: [{ inputs: () => [awayFromZero(r, [3, 4])], f: ([x]) => T.abs(x) }],
  square: [{ inputs: () => [rnd(r, [3, 4])], f: ([x]) => T.square(x) }],
  recip: [{ inputs: () => [positive(r, [3, 4])], f: ([x]) => T.recip(x) }],
  tanh: [{ inputs: () => [rnd(r, [3, 4])], f: ([x]) => T.tanh(x) }],
  sigmoid: [{ inputs: () => [rnd(r, [3, 4])], f: ([x]) => T.sigmoid(x) }],
  silu: [{ inputs: () => [rnd(r, [3, 4])], f: ([x]) => T.silu(x) }],
  relu: [{ inputs: () => [awayFromZero(r, [3, 4])], f: ([x]) => T.relu(x) }],
  gelu: [{ inputs: () => [rnd(r, [3, 4])], f: ([x]) => T.gelu(x) }],
  add: [
    { inputs: () => [rnd(r, [2, 3, 4]), rnd(r, [3, 1])], f: ([a, b]) => T.add(a, b) },
    { inputs: () => [rnd(r, [4]), rnd(r, [2, 1, 4])], f: ([a, b]) => T.add(a, b) },
  ],
  sub: [{ inputs: () => [rnd(r, [2, 3]), rnd(r, [1, 3])], f: ([a, b]) => T.sub(a, b) }],
  mul: [{ inputs: () => [rnd(r, [2, 3, 4]), rnd(r, [2, 1, 4])], f: ([a, b]) => T.mul(a, b) }],
  div: [{ inputs: () => [rnd(r, [2, 3]), positive(r, [3])], f: ([a, b]) => T.div(a, b) }],
  max: [{ inputs: () => apart(r, [3, 4], [3, 4]), f: ([a, b]) => T.maximum(a, b) }],
  min: [{ inputs: () => apart(r, [3, 4], [4]), f: ([a, b]) => T.minimum(a, b) }],
  pow: [{ inputs: () => [positive(r, [3, 4]), rnd(r, [3, 4], 0.5)], f: ([a, b]) => T.pow(a, b) }],
  sum: [
    { inputs: () => [rnd(r, [2, 3, 4])], f: ([x]) => T.sum(x, [0, 2]) },
    { inputs: () => [rnd(r, [2, 3, 4])], f: ([x]) => T.sum(x, 1, true) },
  ],
  amax: [{ inputs: () => [spaced(r, [3, 5])], f: ([x]) => T.max(x, -1) }],
  reshape: [{ inputs: () => [rnd(r, [2, 6])], f: ([x]) => T.mul(T.reshape(x, [3, 4]), T.tensor(Float32Array.from({ length: 12 }, (_, i) => i), [3, 4])) }],
  permute: [{ inputs: () => [rnd(r, [2, 3, 4])], f: ([x]) => T.permute(x, [2, 0, 1]) }],
  narrow: [{ inputs: () => [rnd(r, [3, 5])], f: ([x]) => T.narrow(x, 1, 1, 3) }],
  cat: [{ inputs: () => [rnd(r, [2, 3]), rnd(r, [2, 2])], f: ([a, b]) => T.cat([a, b], 1) }],
  broadcastTo: [{ inputs: () => [rnd(r, [3, 1])], f: ([x]) => T.broadcastTo(x, [2, 3, 4]) }],
  matmul: [
    { inputs: () => [rnd(r, [3, 4]), rnd(r, [4, 5])], f: ([a, b]) => T.matmul(a, b) },
    { inputs: () => [rnd(r, [2, 3, 4]), rnd(r, [5, 4])], f: ([a, b]) => T.matmul(a, b, { transB: true }) },
    { inputs: () => [rnd(r, [2, 4, 3]), rnd(r, [2, 4, 5])], f: ([a, b]) => T.matmul(a, b, { transA: true }) },
    { inputs: () => [rnd(r, [4, 3]), rnd(r, [2, 5, 4])], f: ([a, b]) => T.matmul(a, b, { transA: true, transB: true }) },
  ],
  linear: [
    { inputs: () => [rnd(r, [2, 3, 4]), rnd(r, [5, 4]), rnd(r, [5])], f: ([x, w, b]) => T.linear(x, w, b) },
    { inputs: () => [rnd(r, [4]), rnd(r, [5, 4])], f: ([x, w]) => T.linear(x, w) },
  ],
  softmax: [{ inputs: () => [rnd(r, [3, 5])], f: ([x]) => T.softmax(x) }],
  logSoftmax: [{ inputs: () => [rnd(r, [3, 5])], f: ([x]) => T.logSoftmax(x) }],
  rmsnorm: [{ inputs: () => [rnd(r, [3, 6]), rnd(r, [6], 0.5, 1)], f: ([x, w]) => T.rmsnorm(x, w, 1e-5) }],
  rope: [
    { inputs: () => [rnd(r, [2, 3, 2, 8])], f: ([x]) => T.rope(x, cosT, sinT, T.ids([0, 1, 2, 5, 6, 7]), { rotaryDim: 6, interleaved: true }) },
    { inputs: () => [rnd(r, [3, 2, 6])], f: ([x]) => T.rope(x, cosT, sinT, T.ids([3, 9, 15]), { interleaved: false }) },
  ],
  swiglu: [{ inputs: () => [rnd(r, [3, 4]), rnd(r, [3, 4])], f: ([g, u]) => T.swiglu(g, u) }],
  embedding: [{ inputs: () => [rnd(r, [5, 3])], f: ([t]) => T.embedding(t, T.ids([1, 4, 1, 0], [2, 2])) }],
  scatterRows: [{ inputs: () => [rnd(r, [5, 3])], f: ([x]) => T.scatterRows(x, T.ids([2, 0, 2, 3, 2]), 4) }],
  attention: [
    { inputs: () => [rnd(r, [2, 5, 4, 6]), rnd(r, [2, 5, 2, 6]), rnd(r, [2, 5, 2, 3])], f: ([q, k, v]) => T.attention(q, k, v, { causal: true }) },
    { inputs: () => [rnd(r, [1, 2, 2, 4]), rnd(r, [1, 5, 1, 4]), rnd(r, [1, 5, 1, 4])], f: ([q, k, v]) => T.attention(q, k, v, { causal: true, scale: 0.7 }) },
    { inputs: () => [rnd(r, [2, 3, 2, 4]), rnd(r, [2, 4, 2, 4]), rnd(r, [2, 4, 2, 4])], f: ([q, k, v]) => T.attention(q, k, v, { causal: false, kvLens: T.ids([4, 2]) }) },
  ],
  crossEntropy: [{ inputs: () => [rnd(r, [2, 3, 7])], f: ([x]) => T.crossEntropyRows(x, T.ids([1, 6, -100, 0, 3, 3], [2, 3])) }],
  linearCrossEntropy: [
    { inputs: () => [rnd(r, [2, 3, 5]), rnd(r, [7, 5])], f: ([x, w]) => T.linearCrossEntropy(x, w, T.ids([1, 6, -100, 0, 3, 3], [2, 3])) },
    { inputs: () => [rnd(r, [4, 5]), rnd(r, [7, 5])], f: ([x, w]) => T.linearCrossEntropy(x, w, T.ids([2, -100, 5, 6], [4]), { reduction: 'sum' }) },
  ],
  // fused.ts: a dense pre-norm block (C 8, 2 query heads sharing 1 kv head of dim 4, MLP 6), B 2 × T 3.
  fused: [{
    inputs: () => [rnd(r, [2, 3]), rnd(r, [2, 3])],
    f: ([a, b]) => T.mul(T.residualAdd(a, b), a),
  }, {
    // mlaAttention: C 5, H 2, kv rank 4, nope 2, rope 2, v 3; B 1 × T 3.
    inputs: () => [rnd(r, [1, 3, 5]), rnd(r, [8, 5], 0.7), rnd(r, [6, 5], 0.7), rnd(r, [4], 0.3, 1), rnd(r, [10, 4], 0.7), rnd(r, [5, 6], 0.7)],
    f: ([x, wq, wkvA, kvNorm, wkvB, wo]) => T.mlaAttention(x, { wq, wkvA, kvNorm, wkvB, wo },
      { B: 1, T: 3, H: 2, R: 4, Dn: 2, Dr: 2, Dv: 3, eps: 1e-6, scale: 0.6, cos: cos2, sin: sin2, pos: T.ids([0, 1, 2]), interleaved: true }),
  }, {
    inputs: () => [rnd(r, [2, 3, 4]), rnd(r, [5, 4], 0.7), rnd(r, [4, 5], 0.7), rnd(r, [5, 4], 0.7)],
    f: ([x, w1, w2, w3]) => T.swigluMlp(x, { w1, w2, w3 }),
  }, {
    // moeExperts: 3 tokens, 4 pairs over experts 0 and 2 (C 4, I 3), routing weights differentiable.
    inputs: () => [rnd(r, [3, 4]), rnd(r, [4, 1]), ...[0, 1].flatMap(() => [rnd(r, [3, 4], 0.7), rnd(r, [4, 3], 0.7), rnd(r, [3, 4], 0.7)])],
    f: ([x, w, a1, a2, a3, b1, b2, b3]) => T.moeExperts(x, w, Int32Array.from([0, 2, 1, 0]), Int32Array.from([2, 2]), [{ w1: a1, w2: a2, w3: a3 }, { w1: b1, w2: b2, w3: b3 }]),
  }, {
    inputs: () => [rnd(r, [2, 3, 8]), rnd(r, [8], 0.3, 1), rnd(r, [8, 8], 0.5), rnd(r, [4, 8], 0.5), rnd(r, [4, 8], 0.5), rnd(r, [8, 8], 0.5),
      rnd(r, [8], 0.3, 1), rnd(r, [6, 8], 0.5), rnd(r, [8, 6], 0.5), rnd(r, [6, 8], 0.5)],
    f: ([x, attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3]) => T.denseBlock(x, { attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3 },
      { H: 2, Hkv: 1, D: 4, eps: 1e-6, cos: cos4, sin: sin4, pos: T.ids([0, 1, 2, 0, 1, 2]), rotaryDim: 4, interleaved: false }),
  }],
};

function lossOf(c: Case, xs: T.Tensor[], R: T.Tensor): number {
  return T.noGrad(() => T.sum(T.mul(c.f(xs), R)).item());
}

function check(op: string, c: Case, i: number): void {
  const xs = c.inputs().map((x) => T.parameter(x.clone()));
  const out = c.f(xs);
  const R = T.randn(out.shape as number[], r);
  T.sum(T.mul(out, R)).backward();
  const h = c.h ?? 1e-2, tol = c.tol ?? 2e-2;
  xs.forEach((x, xi) => {
    assert.ok(x.grad, `${op}[${i}]: input ${xi} got no gradient`);
    const d = x.data as Float32Array;
    for (let j = 0; j < d.length; j++) {
      const keep = d[j];
      d[j] = keep + h;
      const lp = lossOf(c, xs, R);
      d[j] = keep - h;
      const lm = lossOf(c, xs, R);
      d[j] = keep;
      const num = (lp - lm) / (2 * h);
      const ana = x.grad!.data[j];
      assert.ok(Math.abs(num - ana) <= tol * (1 + Math.abs(num)), `${op}[${i}] input ${xi} element ${j}: analytic ${ana}, numeric ${num}`);
    }
  });
}

for (const backend of T.availableBackends()) {
  test(`gradients match finite differences for every differentiable op (${backend.name})`, () => {
    T.useBackend(backend.name);
    r = new Rng(42);
    try {
      for (const [op, list] of Object.entries(cases)) list.forEach((c, i) => check(op, c, i));
    } finally {
      T.useBackend(T.availableBackends()[0].name);
    }
  });
}
