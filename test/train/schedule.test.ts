// Learning-rate schedule: warmup ramp, cosine endpoints and midpoint, constant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrAt } from '../../src/train/schedule.ts';

const base = { lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 } as const;

test('linear warmup reaches the peak at the last warmup step', () => {
  assert.equal(lrAt(0, { ...base, schedule: 'cosine' }), 1e-4);
  assert.ok(Math.abs(lrAt(4, { ...base, schedule: 'cosine' }) - 5e-4) < 1e-12);
  assert.equal(lrAt(9, { ...base, schedule: 'cosine' }), 1e-3);
});

test('cosine decays from lr to lr·minLrRatio, half way at the midpoint', () => {
  const o = { ...base, schedule: 'cosine' } as const;
  assert.equal(lrAt(10, o), 1e-3);
  assert.ok(Math.abs(lrAt(60, o) - 5.5e-4) < 1e-12);
  assert.ok(Math.abs(lrAt(110, o) - 1e-4) < 1e-15);
  assert.ok(Math.abs(lrAt(500, o) - 1e-4) < 1e-15);
  for (let s = 10; s < 110; s++) assert.ok(lrAt(s + 1, o) <= lrAt(s, o));
});

test('constant holds the peak after warmup; no warmup starts at the peak', () => {
  assert.equal(lrAt(50, { ...base, schedule: 'constant' }), 1e-3);
  assert.equal(lrAt(0, { ...base, warmupSteps: 0, schedule: 'constant' }), 1e-3);
  assert.equal(lrAt(0, { ...base, warmupSteps: 0, schedule: 'cosine' }), 1e-3);
});
