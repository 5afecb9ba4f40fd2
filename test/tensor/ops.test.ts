// Op frontends on every backend: values against hand-computed results, shape
// and dtype errors that name the op and the shapes, and the NaN check mode.
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.ts';
import { NonFiniteError, ShapeError } from '../../src/core/errors.ts';
import { assertClose, onEveryBackend } from '../helpers.ts';
import { Rng } from '../../src/core/rng.ts';


const flat = (t: T.Tensor) => Array.from(t.data);

onEveryBackend('elementwise ops broadcast like NumPy', () => {
  const a = T.tensor([[1, 2, 3], [4, 5, 6]]);
  const b = T.tensor([10, 20, 30]);
  assert.deepEqual(flat(T.add(a, b)), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(T.add(a, T.tensor([[1], [2]])).shape, [2, 3]);
  assert.deepEqual(flat(T.add(a, T.tensor([[1], [2]]))), [2, 3, 4, 6, 7, 8]);
  assert.deepEqual(flat(T.sub(1, a)), [0, -1, -2, -3, -4, -5]);
  assert.deepEqual(flat(T.mul(a, 2)), [2, 4, 6, 8, 10, 12]);
  assertClose(flat(T.div(a, b)), [0.1, 0.1, 0.1, 0.4, 0.25, 0.2]);
  assert.deepEqual(flat(T.maximum(a, 3.5)), [3.5, 3.5, 3.5, 4, 5, 6]);
  assert.deepEqual(flat(T.gt(a, 3)), [0, 0, 0, 1, 1, 1]);
  assertClose(flat(T.exp(T.tensor([0, 1]))), [1, Math.E]);
  assertClose(flat(T.silu(T.tensor([1]))), [1 / (1 + Math.exp(-1))]);
});

onEveryBackend('reductions, layout and matmul compute the right values', () => {
  const a = T.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(flat(T.sum(a, 0)), [5, 7, 9]);
  assert.deepEqual(flat(T.sum(a, 1, true)), [6, 15]);
  assert.deepEqual(T.sum(a, 1, true).shape, [2, 1]);
  assert.equal(T.sum(a).item(), 21);
  assert.equal(T.mean(a).item(), 3.5);
  assert.deepEqual(flat(T.max(a, -1)), [3, 6]);
  assert.deepEqual(flat(T.transpose(a)), [1, 4, 2, 5, 3, 6]);
  assert.deepEqual(flat(T.narrow(a, 1, 1, 2)), [2, 3, 5, 6]);
  assert.deepEqual(flat(T.cat([a, T.tensor([[7, 8, 9]])], 0)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(T.reshape(a, [3, -1]).shape, [3, 2]);
  const b = T.tensor([[1, 0], [0, 1], [1, 1]]);
  assert.deepEqual(flat(T.matmul(a, b)), [4, 5, 10, 11]);
  assert.deepEqual(flat(T.matmul(a, a, { transB: true })), [14, 32, 32, 77]);
  assert.deepEqual(flat(T.linear(a, T.tensor([[1, 1, 1]]), T.tensor([100]))), [106, 115]);
  const { values, indices } = T.topk(T.tensor([[3, 1, 4, 1, 5]]), 3);
  assert.deepEqual(flat(values), [5, 4, 3]);
  assert.deepEqual(flat(indices), [4, 2, 0]);
  assert.deepEqual(flat(T.argmax(T.tensor([[1, 9, 9], [7, 2, 3]]))), [1, 0]);
});

onEveryBackend('fused layers agree with their compositions', () => {
  const r = new Rng(3);
  const x = T.randn([4, 8], r);
  assertClose(flat(T.softmax(x)), flat(T.div(T.exp(x), T.sum(T.exp(x), -1, true))), { rtol: 1e-5 });
  assertClose(flat(T.logSoftmax(x)), flat(T.log(T.softmax(x))), { rtol: 1e-4, atol: 1e-5 });
  const w = T.randn([8], r);
  const rms = T.mul(T.mul(x, T.rsqrt(T.add(T.mean(T.square(x), -1, true), 1e-6))), w);
  assertClose(flat(T.rmsnorm(x, w, 1e-6)), flat(rms), { rtol: 1e-4, atol: 1e-6 });
  const g = T.randn([4, 8], r), u = T.randn([4, 8], r);
  assertClose(flat(T.swiglu(g, u)), flat(T.mul(T.silu(g), u)), { rtol: 1e-5 });
  const targets = T.ids([1, 7, -100, 0]);
  const ce = T.crossEntropy(x, targets);
  const lp = T.logSoftmax(x);
  const want = -(lp.data[1] + lp.data[15] + lp.data[24]) / 3;
  assertClose([ce.item()], [want], { rtol: 1e-5 });
  // attention against a materialized softmax(q·kᵀ·scale + causal mask)·v, one head
  const q = T.randn([1, 3, 1, 4], r), k = T.randn([1, 3, 1, 4], r), v = T.randn([1, 3, 1, 2], r);
  const s = T.mul(T.matmul(T.reshape(q, [3, 4]), T.reshape(k, [3, 4]), { transB: true }), 0.5);
  const mask = T.tensor([[0, -1e30, -1e30], [0, 0, -1e30], [0, 0, 0]]);
  const o = T.matmul(T.softmax(T.add(s, mask)), T.reshape(v, [3, 2]));
  assertClose(flat(T.attention(q, k, v, { causal: true })), flat(o), { rtol: 1e-5, atol: 1e-6 });
});

onEveryBackend('bad shapes and dtypes throw errors naming the op and the shapes', () => {
  const a = T.zeros([2, 3]), b = T.zeros([4, 5]);
  assert.throws(() => T.add(a, b), (e: Error) => e instanceof ShapeError && /add/.test(e.message) && /\[2, 3\]/.test(e.message) && /\[4, 5\]/.test(e.message));
  assert.throws(() => T.matmul(a, b), (e: Error) => e instanceof ShapeError && /matmul/.test(e.message) && /\[2, 3\]/.test(e.message) && /\[4, 5\]/.test(e.message));
  assert.throws(() => T.reshape(a, [4, 2]), /reshape: cannot reshape \[2, 3\]/);
  assert.throws(() => T.add(T.ids([1, 2]), T.zeros([2])), /add: expected f32 tensors, got an i32 tensor of shape \[2\]/);
  assert.throws(() => T.embedding(T.zeros([4, 2]), T.zeros([3])), /embedding: expected an i32 tensor/);
  assert.throws(() => T.embedding(T.zeros([4, 2]), T.ids([0, 4])), RangeError);
  assert.throws(() => T.crossEntropy(T.zeros([2, 3]), T.ids([0, 3])), RangeError);
  assert.throws(() => T.softmax(a, 0), /softmax: only the last axis/);
  assert.throws(() => T.attention(T.zeros([1, 2, 3, 4]), T.zeros([1, 2, 2, 4]), T.zeros([1, 2, 2, 4]), { causal: true }), /attention: expected q \[B,Tq,Hq,D\]/);
});

onEveryBackend('the NaN check mode names the first op that produced a NaN', () => {
  T.setCheckNan(true);
  try {
    const x = T.tensor([1, -1]);
    assert.throws(() => T.log(x), (e: Error) => e instanceof NonFiniteError && /^log produced NaN at flat index 1/.test(e.message));
    assert.doesNotThrow(() => T.exp(x));
  } finally {
    T.setCheckNan(false);
  }
  assert.ok(Number.isNaN(T.log(T.tensor([-1])).item()), 'without the check mode NaN propagates (not swallowed)');
});

onEveryBackend('ops that skip zeroing recycled outputs overwrite every element (stale NaN buffers in the pool)', () => {
  const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
  const x = T.tensor(r(64 * 96, 1), [64, 96]), y = T.tensor(r(64 * 96, 2), [64, 96]);
  const w = T.tensor(r(96 * 80, 3), [80, 96]), nw = T.tensor(r(96, 4), [96]);
  const cases: [string, () => T.Tensor][] = [
    ['unary', () => T.tanh(x)], ['binary', () => T.mul(x, y)], ['broadcast binary', () => T.add(x, nw)],
    ['matmul', () => T.matmul(x, w, { transB: true })], ['linear', () => T.linear(x, w)],
    ['rmsnorm', () => T.rmsnorm(x, nw)], ['swiglu', () => T.swiglu(x, y)],
  ];
  for (const [name, f] of cases) {
    const want = Array.from(f().data);
    // Poison the pool with NaN buffers of this output's length, then run the op on one of them.
    for (let i = 0; i < 4; i++) T.releaseF32(new Float32Array(want.length).fill(NaN));
    const got = f();
    assert.deepEqual(Array.from(got.data), want, name);
  }
});

onEveryBackend('linearCrossEntropy equals crossEntropy(linear(x, w)) in value and gradients, over several row chunks', () => {
  const r = new Rng(11);
  const N = 600, C = 24, V = 50; // 3 chunks of up to 256 rows
  const x = T.parameter(T.randn([3, N / 3, C], r)); // [3, 200, C]
  const w = T.parameter(T.randn([V, C], r, 0.5)); // [V, C]
  const targets = T.ids(Int32Array.from({ length: N }, (_, i) => (i % 9 === 4 ? -100 : r.int(V))), [3, N / 3]); // [3, 200]
  for (const reduction of ['mean', 'sum'] as const) {
    x.grad = w.grad = null;
    const ref = T.crossEntropy(T.linear(x, w), targets, { reduction });
    T.mul(ref, 0.7).backward();
    const [gx, gw] = [Array.from(x.grad!.data), Array.from(w.grad!.data)];
    x.grad = w.grad = null;
    const fused = T.linearCrossEntropy(x, w, targets, { reduction });
    T.mul(fused, 0.7).backward();
    // Chunked dW accumulation sums in another order: agreement to float32 rounding of ~600-term sums.
    const tol = { rtol: 1e-4, atol: 1e-5 };
    assertClose([fused.item()], [ref.item()], { ...tol, label: `${reduction} loss` });
    assertClose(Array.from(x.grad!.data), gx, { ...tol, label: `${reduction} dx` });
    assertClose(Array.from(w.grad!.data), gw, { ...tol, label: `${reduction} dw` });
    assertClose([T.noGrad(() => T.linearCrossEntropy(x, w, targets, { reduction })).item()], [ref.item()], { ...tol, label: `${reduction} loss without grad` });
  }
  assert.throws(() => T.linearCrossEntropy(x, T.randn([V, C + 1], r), targets), /linearCrossEntropy: x \[3, 200, 24\] must be targets \[3, 200\] plus the weight's in-features 25/);
});
