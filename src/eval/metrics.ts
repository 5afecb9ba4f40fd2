// Evaluation statistics, as the R1 paper reports them:
//   passAtK      the unbiased pass@k estimator of Chen et al. 2021 (Codex):
//                1 − C(n−c, k)/C(n, k) for n samples of which c are correct
//   meanCI95     a mean with its 95% normal-approximation confidence half-width
// Not here: grading (each task's grader), generation (harness.ts).

import { R1tsError } from '../core/errors.ts';

/** Unbiased pass@k from n samples with c correct (computed as a stable product). */
export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k)) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new R1tsError(`passAtK: need integers 0 ≤ c ≤ n, 1 ≤ k ≤ n; got n=${n}, c=${c}, k=${k}`);
  }
  if (n - c < k) return 1;
  // C(n−c, k)/C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i)
  let p = 1;
  for (let i = n - c + 1; i <= n; i++) p *= 1 - k / i;
  return 1 - p;
}

/** Mean of xs and the half-width of its 95% confidence interval (1.96·s/√n; 0 for n < 2). */
export function meanCI95(xs: readonly number[]): { mean: number; ci95: number } {
  const n = xs.length;
  if (n === 0) return { mean: NaN, ci95: NaN };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, ci95: 0 };
  const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { mean, ci95: 1.96 * Math.sqrt(v / n) };
}
