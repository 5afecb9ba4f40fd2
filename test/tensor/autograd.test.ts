// The autograd tape: accumulation, aliasing, noGrad, and the errors that
// explain misuse (non-scalar backward, freed graphs, shape mismatches).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.ts';
import { AutogradError } from '../../src/core/errors.ts';

test('gradients accumulate over uses and over backward calls', () => {
  const x = T.parameter(T.tensor([1, 2, 3]));
  const y = T.sum(T.add(T.mul(x, x), x)); // Σ x² + x → 2x + 1
  y.backward();
  assert.deepEqual(Array.from(x.grad!.data), [3, 5, 7]);
  T.sum(T.mul(x, 2)).backward();
  assert.deepEqual(Array.from(x.grad!.data), [5, 7, 9]);
});

test('a gradient shared by two inputs is not corrupted by later accumulation', () => {
  const a = T.parameter(T.tensor([1, 1]));
  const b = T.parameter(T.tensor([1, 1]));
  const s = T.add(a, b); // add passes the same gradient object to a and b
  const y = T.sum(T.add(s, T.mul(a, 3)));
  y.backward();
  assert.deepEqual(Array.from(a.grad!.data), [4, 4]);
  assert.deepEqual(Array.from(b.grad!.data), [1, 1]);
  T.sum(a).backward();
  assert.deepEqual(Array.from(b.grad!.data), [1, 1], 'b.grad must not change when a.grad accumulates');
});

test('reshape views share data but their gradients flow back', () => {
  const x = T.parameter(T.tensor([[1, 2], [3, 4]]));
  const y = T.reshape(x, [4]);
  assert.equal(y.data, x.data);
  T.sum(T.mul(y, T.tensor([1, 2, 3, 4]))).backward();
  assert.deepEqual(Array.from(x.grad!.data), [1, 2, 3, 4]);
});

test('noGrad records nothing', () => {
  const x = T.parameter(T.tensor([1, 2]));
  const y = T.noGrad(() => T.mul(x, 2));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
  assert.throws(() => T.sum(y).backward(), (e: Error) => e instanceof AutogradError && /does not require grad/.test(e.message));
});

test('backward on a non-scalar without a gradient explains what to do', () => {
  const x = T.parameter(T.tensor([1, 2]));
  const y = T.mul(x, 2);
  assert.throws(() => y.backward(), (e: Error) => e instanceof AutogradError && /shape \[2\]/.test(e.message) && /t\.sum\(\)/.test(e.message));
  y.backward(T.tensor([1, 10]));
  assert.deepEqual(Array.from(x.grad!.data), [2, 20]);
  assert.throws(() => T.mul(x, 2).backward(T.tensor([1, 2, 3])), /gradient shape \[3\] does not match/);
});

test('backward twice through a freed graph explains retainGraph', () => {
  const x = T.parameter(T.tensor([1, 2]));
  const y = T.sum(T.exp(x));
  y.backward();
  assert.throws(() => y.backward(), (e: Error) => e instanceof AutogradError && /freed/.test(e.message) && /retainGraph/.test(e.message));
  const z = T.sum(T.exp(x));
  z.backward(undefined, { retainGraph: true });
  z.backward();
  assert.ok(x.grad);
});

test('an owned gradient handed to two inputs is copied before either accumulates into it', () => {
  // c·((a + b) + a) with a = p·1, b = q·1: mul's rule makes an owned gradient G for
  // (a + b) + a, add hands G to both (a + b) and a, then (a + b) hands it to a and b.
  // Accumulating into G in place would double b's gradient.
  const p = T.parameter(T.tensor([1, 2, 3]));
  const q = T.parameter(T.tensor([4, 5, 6]));
  const c = T.tensor([1, 10, 100]);
  const a = T.mul(p, 1), b = T.mul(q, 1);
  T.sum(T.mul(T.add(T.add(a, b), a), c)).backward();
  assert.deepEqual(Array.from(p.grad!.data), [2, 20, 200]);
  assert.deepEqual(Array.from(q.grad!.data), [1, 10, 100]);
});

test('backward recycles the dead gradients of large intermediates, and the results do not change', () => {
  // Big enough (≥ 4096 elements) for the op-output pool; two passes, the second on recycled buffers.
  const n = 128 * 96;
  const rng = new (class { s = 1; next() { this.s = (this.s * 16807) % 2147483647; return this.s / 2147483647 - 0.5; } })();
  const w = T.parameter(T.tensor(Float32Array.from({ length: n }, () => rng.next()), [128, 96]));
  const x = T.tensor(Float32Array.from({ length: 64 * 128 }, () => rng.next()), [64, 128]);
  const loss = () => T.sum(T.square(T.silu(T.matmul(T.tanh(T.matmul(x, w)), w, { transB: true })))); // [64, 96] then [64, 128]
  const before = T.pooledF32().bytes;
  loss().backward();
  const g1 = Float32Array.from(w.grad!.data as Float32Array);
  assert.ok(T.pooledF32().bytes > before, 'no gradient buffer was recycled');
  w.grad = null;
  for (let i = 0; i < 3; i++) {
    // Recycled buffers come back zeroed and unshared: the same gradient bit for bit.
    w.grad = null;
    loss().backward();
    assert.deepEqual(Array.from(w.grad!.data), Array.from(g1));
  }
});

test('ephemeralScope: backward recycles the activations, gradients stay bit-exact, returned and detached tensors survive', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5);
  const w1 = T.parameter(T.tensor(Float32Array.from({ length: 128 * 96 }, rnd), [96, 128]));
  const w2 = T.parameter(T.tensor(Float32Array.from({ length: 128 * 96 }, rnd), [128, 96]));
  const x = T.tensor(Float32Array.from({ length: 64 * 128 }, rnd), [64, 128]);
  const forward = () => {
    const h = T.silu(T.linear(x, w1)); // [64, 96]
    const y = T.linear(T.reshape(h, [64, 96]), w2); // [64, 128]
    return { loss: T.mean(T.square(y)), y };
  };
  const run = (scoped: boolean) => {
    w1.grad = w2.grad = null;
    const r = scoped ? T.ephemeralScope(forward) : forward();
    r.loss.backward();
    return { loss: r.loss.item(), y: Array.from(r.y.data), g1: Array.from(w1.grad!.data), g2: Array.from(w2.grad!.data) };
  };
  const want = run(false);
  for (let i = 0; i < 3; i++) assert.deepEqual(run(true), want, `pass ${i}: the returned loss/y or a gradient changed`);

  // The activations come back: after a scoped pass the pool holds at least h's [64, 96] buffer.
  const before = T.pooledF32().bytes;
  w1.grad = w2.grad = null;
  let kept: T.Tensor | null = null;
  const r = T.ephemeralScope(() => {
    const h = T.silu(T.linear(x, w1)); // [64, 96]
    kept = h.detach();
    return { loss: T.mean(T.square(T.linear(h, w2))) };
  });
  const keptCopy = Array.from(kept!.data);
  r.loss.backward();
  assert.ok(T.pooledF32().bytes > before, 'no activation buffer was recycled');
  // Allocations that reuse the pool must not touch the detached view's buffer.
  for (let i = 0; i < 4; i++) T.mul(T.tensor(Float32Array.from({ length: 64 * 96 }, () => 9), [64, 96]), 2);
  assert.deepEqual(Array.from(kept!.data), keptCopy, 'a detached view was recycled');
});
