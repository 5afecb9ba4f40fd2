// Value tests of DAPO's soft overlong punishment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlongPenalty } from '../../src/rewards/length.ts';

test('length: DAPO soft overlong punishment', () => {
  const cfg = { maxLength: 100, cacheLength: 20 };
  assert.equal(overlongPenalty(0, cfg), 0);
  assert.equal(overlongPenalty(80, cfg), 0);
  assert.equal(overlongPenalty(90, cfg), -0.5);
  assert.equal(overlongPenalty(85, cfg), -0.25);
  assert.equal(overlongPenalty(100, cfg), -1);
  assert.equal(overlongPenalty(101, cfg), -1);
  assert.equal(overlongPenalty(5000, cfg), -1);
  assert.equal(overlongPenalty(100, { maxLength: 100, cacheLength: 100 }), -1);
  assert.equal(overlongPenalty(50, { maxLength: 100, cacheLength: 100 }), -0.5);
  assert.throws(() => overlongPenalty(1, { maxLength: 100, cacheLength: 0 }), /cacheLength/);
  assert.throws(() => overlongPenalty(1, { maxLength: 10, cacheLength: 20 }), /cacheLength/);
  assert.throws(() => overlongPenalty(1, { maxLength: -1, cacheLength: 1 }), /maxLength/);
  assert.throws(() => overlongPenalty(-1, cfg), /length/);
});
