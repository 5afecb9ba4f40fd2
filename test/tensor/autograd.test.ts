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
