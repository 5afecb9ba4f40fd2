// Native optimizer kernels against the reference, at every CPU dispatch level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, awkwardSizes, nativeLevels, randF32, refKernels, rng } from '../helpers.ts';

for (const lvl of nativeLevels()) {
  test(`${lvl.name}: adamw, sumSquares, scale match the reference`, () => {
    lvl.enter();
    try {
      const r = rng(7);
      for (const n of [...awkwardSizes, 100_003]) {
        const p0 = randF32(r, n), g = randF32(r, n), m0 = randF32(r, n, 0.1), v0 = randF32(r, n, 0.1).map(Math.abs);
        const pa = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
        const [p1, m1, v1] = [p0.slice(), m0.slice(), v0.slice()];
        const [p2, m2, v2] = [p0.slice(), m0.slice(), v0.slice()];
        refKernels.adamw(p1, g, m1, v1, n, pa);
        lvl.kernels.adamw(p2, g, m2, v2, n, pa);
        assertClose(p2, p1, { rtol: 1e-5, atol: 1e-6, label: `adamw param n=${n}` });
        assertClose(m2, m1, { label: `adamw m n=${n}` });
        assertClose(v2, v1, { label: `adamw v n=${n}` });
        const ss = lvl.kernels.sumSquares(g, n), ssRef = refKernels.sumSquares(g, n);
        assert.ok(Math.abs(ss - ssRef) <= 1e-9 * ssRef, `sumSquares n=${n}: ${ss} vs ${ssRef}`);
        const s1 = g.slice(), s2 = g.slice();
        refKernels.scale(s1, n, 0.37);
        lvl.kernels.scale(s2, n, 0.37);
        assertClose(s2, s1, { label: `scale n=${n}` });
      }
    } finally {
      lvl.exit();
    }
  });
}
