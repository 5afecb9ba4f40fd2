// Shape helpers: broadcasting rules and their errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { broadcastShapes, broadcastStrides, normAxis, stridesOf } from '../../src/core/shape.ts';

test('broadcasting follows NumPy and names both shapes when it fails', () => {
  assert.deepEqual(broadcastShapes('add', [2, 1, 4], [3, 1]), [2, 3, 4]);
  assert.deepEqual(broadcastShapes('add', [], [3]), [3]);
  assert.throws(() => broadcastShapes('mul', [2, 3], [4, 3]), /mul: shapes \[2, 3\] and \[4, 3\] cannot be broadcast/);
  assert.deepEqual(stridesOf([2, 3, 4]), [12, 4, 1]);
  assert.deepEqual(broadcastStrides([3, 1], [2, 3, 4]), [0, 1, 0]);
  assert.equal(normAxis('sum', -1, 3), 2);
  assert.throws(() => normAxis('sum', 3, 3), /sum: axis 3 is out of range/);
});
