import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanCI95, passAtK } from '../../src/eval/metrics.ts';

/** The closed form 1 − C(n−c, k)/C(n, k) with exact binomials. */
function closedForm(n: number, c: number, k: number): number {
  const C = (a: number, b: number): number => {
    if (b < 0 || b > a) return 0;
    let r = 1;
    for (let i = 1; i <= b; i++) r = (r * (a - b + i)) / i;
    return r;
  };
  return 1 - C(n - c, k) / C(n, k);
}

test('pass@k equals the closed form on hand-computed cases', () => {
  assert.equal(passAtK(1, 1, 1), 1);
  assert.equal(passAtK(1, 0, 1), 0);
  assert.ok(Math.abs(passAtK(4, 1, 1) - 0.25) < 1e-12); // pass@1 = c/n
  assert.ok(Math.abs(passAtK(4, 1, 2) - 0.5) < 1e-12); // 1 − C(3,2)/C(4,2) = 1 − 3/6
  assert.ok(Math.abs(passAtK(5, 2, 3) - 0.9) < 1e-12); // 1 − C(3,3)/C(5,3) = 1 − 1/10
  assert.equal(passAtK(8, 6, 3), 1); // fewer than k wrong samples: some draw of k always has a right one
  for (const [n, c, k] of [[64, 7, 8], [16, 3, 4], [10, 0, 5], [20, 19, 1]]) assert.ok(Math.abs(passAtK(n, c, k) - closedForm(n, c, k)) < 1e-12, `${n} ${c} ${k}`);
  assert.throws(() => passAtK(4, 5, 1), /0 ≤ c ≤ n/);
  assert.throws(() => passAtK(4, 1, 5), /1 ≤ k ≤ n/);
});

test('mean with a 95% confidence half-width', () => {
  const { mean, ci95 } = meanCI95([0, 1, 0, 1]);
  assert.equal(mean, 0.5);
  assert.ok(Math.abs(ci95 - 1.96 * Math.sqrt(1 / 3 / 4)) < 1e-12);
  assert.equal(meanCI95([3]).ci95, 0);
});

test('pass@k equals the closed form on every (n, c, k) with n ≤ 12; pass@1 is c/n; pass@k grows with k', () => {
  for (let n = 1; n <= 12; n++) {
    for (let c = 0; c <= n; c++) {
      assert.ok(Math.abs(passAtK(n, c, 1) - c / n) < 1e-12);
      for (let k = 1; k <= n; k++) {
        assert.ok(Math.abs(passAtK(n, c, k) - closedForm(n, c, k)) < 1e-12, `${n} ${c} ${k}`);
        if (k > 1) assert.ok(passAtK(n, c, k) >= passAtK(n, c, k - 1) - 1e-15);
      }
    }
  }
});
