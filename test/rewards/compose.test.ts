// Tests of the reward composer: weighted sum, parts by name, contained failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeRewards } from '../../src/rewards/compose.ts';
import { strictFormatReward, tagCountReward } from '../../src/rewards/format.ts';
import { overlongPenalty } from '../../src/rewards/length.ts';

test('compose: weighted sum with parts, errors contained', async () => {
  type S = { text: string; len: number };
  const r = composeRewards<S>([
    { name: 'format', weight: 0.5, fn: (s) => strictFormatReward(s.text) },
    { name: 'tags', weight: 1, fn: (s) => tagCountReward(s.text) },
    { name: 'length', weight: 1, fn: async (s) => overlongPenalty(s.len, { maxLength: 100, cacheLength: 20 }) },
  ]);
  const out = await r({ text: '<think>a</think><answer>b</answer>', len: 90 });
  assert.deepEqual(out.parts, { format: 1, tags: 1, length: -0.5 });
  assert.deepEqual(out.weighted, { format: 0.5, tags: 1, length: -0.5 });
  assert.equal(out.total, 1);
  assert.deepEqual(out.errors, {});
  const bad = composeRewards<number>([
    { name: 'ok', weight: 2, fn: (x) => x },
    { name: 'throws', weight: 1, fn: () => { throw new Error('boom'); } },
    { name: 'nan', weight: 1, fn: () => NaN },
  ]);
  const o2 = await bad(3);
  assert.equal(o2.total, 6);
  assert.deepEqual(o2.parts, { ok: 3, throws: 0, nan: 0 });
  assert.equal(o2.errors.throws, 'boom');
  assert.match(o2.errors.nan, /NaN/);
  assert.throws(() => composeRewards([]), /at least one/);
  assert.throws(() => composeRewards([{ name: 'a', weight: 1, fn: () => 0 }, { name: 'a', weight: 1, fn: () => 0 }]), /twice/);
  assert.throws(() => composeRewards([{ name: 'a', weight: Infinity, fn: () => 0 }]), /weight/);
});
