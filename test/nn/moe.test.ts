// topIndices (the router's top-k, src/nn/moe.ts): its scan fast path picks exactly what the
// reference sort picks (descending, ties to the lower index) on rows with ties and −∞ (masked
// groups), and rows with NaN keep the sort's order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { topIndices } from '../../src/nn/moe.ts';

const bySort = (v: number[], k: number) => {
  const idx = v.map((_, i) => i);
  idx.sort((a, b) => (v[b] > v[a] ? 1 : v[b] < v[a] ? -1 : a - b));
  return idx.slice(0, k);
};

test('topIndices equals the sort on rows with ties, −∞ and NaN', () => {
  const r = new Rng(3);
  for (let t = 0; t < 5000; t++) {
    const n = 1 + r.int(12), k = 1 + r.int(n);
    const v = Array.from({ length: n }, () => {
      const u = r.uniform();
      return u < 0.2 ? -Infinity : u < 0.25 && t % 7 === 0 ? NaN : Math.round(r.normal() * 3) / 2;
    });
    assert.deepEqual(topIndices(v, k), bySort(v, k), `row ${JSON.stringify(v)}, k ${k}`);
  }
});
