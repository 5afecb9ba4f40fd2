// Native cross-entropy forward/backward against the reference at every CPU
// dispatch level: awkward vocab sizes, ignoreIndex rows, NaN and huge logits,
// and out-of-range targets (the reference's RangeError, thrown before any output
// is written). Tolerances: loss and lse rtol 1e-5/atol 1e-5 (an exp sum over V);
// dlogits rtol 1e-5/atol 1e-7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, awkwardSizes, nativeLevels, randF32, randI32, rangeErrorOf, refKernels, rng } from '../helpers.ts';


for (const lvl of nativeLevels()) {
  test(`${lvl.name}: crossEntropy and crossEntropyBackward with ignored rows`, () => {
    lvl.enter();
    try {
      const r = rng(41);
      const ignore = -100;
      for (const V of [...awkwardSizes, 1000, 5003]) {
        for (const rows of [1, 7, 33]) {
          const logits = randF32(r, rows * V, 3), targets = randI32(r, rows, V);
          if (rows > 2) {
            targets[1] = ignore;
            for (let j = 0; j < V; j++) logits[2 * V + j] *= 100; // huge logits
          }
          if (rows > 5) logits[5 * V] = NaN;
          const el = new Float32Array(rows), es = new Float32Array(rows), al = new Float32Array(rows), as = new Float32Array(rows);
          refKernels.crossEntropy(logits, targets, el, es, rows, V, ignore);
          lvl.kernels.crossEntropy(logits, targets, al, as, rows, V, ignore);
          assertClose(al, el, { rtol: 1e-5, atol: 1e-5, label: `crossEntropy loss V=${V} rows=${rows}` });
          assertClose(as, es, { rtol: 1e-5, atol: 1e-5, label: `crossEntropy lse V=${V} rows=${rows}` });
          const dloss = randF32(r, rows);
          const ed = new Float32Array(rows * V), ad = new Float32Array(rows * V).fill(9);
          refKernels.crossEntropyBackward(logits, targets, es, dloss, ed, rows, V, ignore);
          lvl.kernels.crossEntropyBackward(logits, targets, es, dloss, ad, rows, V, ignore);
          assertClose(ad, ed, { rtol: 1e-5, atol: 1e-7, label: `crossEntropyBackward V=${V} rows=${rows}` });
        }
      }
      // a big batch through the pool
      const rows = 64, V = 3001;
      const logits = randF32(r, rows * V), targets = randI32(r, rows, V);
      const el = new Float32Array(rows), es = new Float32Array(rows), al = new Float32Array(rows), as = new Float32Array(rows);
      refKernels.crossEntropy(logits, targets, el, es, rows, V, 0);
      lvl.kernels.crossEntropy(logits, targets, al, as, rows, V, 0);
      assertClose(al, el, { rtol: 1e-5, atol: 1e-5, label: 'crossEntropy big (ignoreIndex 0)' });
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: crossEntropy rejects out-of-range targets before writing`, () => {
    lvl.enter();
    try {
      const r = rng(42);
      const rows = 5, V = 17;
      const logits = randF32(r, rows * V), lse = new Float32Array(rows), dloss = randF32(r, rows);
      for (const bad of [-1, V, -101, 2147483647]) {
        const t = randI32(r, rows, V);
        t[3] = bad;
        const want = rangeErrorOf(() => refKernels.crossEntropy(logits, t, new Float32Array(rows), new Float32Array(rows), rows, V, -100), 'ref');
        const loss = new Float32Array(rows).fill(3), ls = new Float32Array(rows).fill(3);
        assert.equal(rangeErrorOf(() => lvl.kernels.crossEntropy(logits, t, loss, ls, rows, V, -100), 'native'), want);
        assert.ok(loss.every((v) => v === 3) && ls.every((v) => v === 3), 'crossEntropy wrote before validating');
        const wantB = rangeErrorOf(() => refKernels.crossEntropyBackward(logits, t, lse, dloss, new Float32Array(rows * V), rows, V, -100), 'ref');
        const dl = new Float32Array(rows * V).fill(3);
        assert.equal(rangeErrorOf(() => lvl.kernels.crossEntropyBackward(logits, t, lse, dloss, dl, rows, V, -100), 'native'), wantB);
        assert.ok(dl.every((v) => v === 3), 'crossEntropyBackward wrote before validating');
      }
    } finally {
      lvl.exit();
    }
  });
}
