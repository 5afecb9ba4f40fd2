// Native reduce (sum, max over first/middle/last axes), the softmax family and
// top-k against the reference, at every CPU dispatch level, on awkward sizes and
// special rows (NaN, all -Infinity, +Infinity, huge logits).
// Tolerances: sum rtol 1e-6 (the native sum is near double precision, like the
// reference); max exact; softmax/logSoftmax and backward rtol 1e-5, atol 1e-7/1e-6
// (exp a few ulp, float accumulation of the row's output pass); top-k exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, awkwardSizes, nativeLevels, randF32, refKernels, rng } from '../helpers.ts';

function specialRows(x: Float32Array, rows: number, cols: number): void {
  if (rows < 4) return;
  x[0 * cols + (cols >> 1)] = NaN;
  for (let j = 0; j < cols; j++) x[1 * cols + j] = -Infinity;
  x[2 * cols] = Infinity;
  for (let j = 0; j < cols; j++) x[3 * cols + j] *= 1000;
}

for (const lvl of nativeLevels()) {
  test(`${lvl.name}: reduce sum/max over first, middle and last axes`, () => {
    lvl.enter();
    try {
      const r = rng(21);
      const dims = [[1, 257, 1], [7, 33, 1], [1, 33, 7], [3, 17, 300], [5, 1, 16], [16, 3, 1], [2, 0, 3], [4, 0, 1], [1, 1000, 1], [1, 100, 1000], [300, 257, 1], [33, 7, 3]];
      for (const s of awkwardSizes) dims.push([s, s, 1], [1, s, s], [s, 3, s]);
      for (const [outer, rr, inner] of dims) {
        const x = randF32(r, outer * rr * inner, 10);
        if (x.length > 5) x[5] = NaN;
        for (const op of ['sum', 'max'] as const) {
          const e = new Float32Array(outer * inner), a = new Float32Array(outer * inner).fill(42);
          refKernels.reduce(op, x, e, outer, rr, inner);
          lvl.kernels.reduce(op, x, a, outer, rr, inner);
          assertClose(a, e, { rtol: op === 'sum' ? 1e-6 : 0, atol: op === 'sum' ? 1e-6 : 0, label: `${op} [${outer},${rr},${inner}]` });
        }
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: softmax, logSoftmax and their backward passes`, () => {
    lvl.enter();
    try {
      const r = rng(22);
      const shapes: [number, number][] = awkwardSizes.map((c) => [5, c] as [number, number]);
      shapes.push([1, 1], [7, 3], [33, 257], [3, 5003], [64, 1000]);
      for (const [rows, cols] of shapes) {
        const n = rows * cols;
        const x = randF32(r, n, 4);
        specialRows(x, rows, cols);
        const dy = randF32(r, n);
        const e = new Float32Array(n), a = new Float32Array(n);
        refKernels.softmax(x, e, rows, cols);
        lvl.kernels.softmax(x, a, rows, cols);
        assertClose(a, e, { rtol: 1e-5, atol: 1e-7, label: `softmax [${rows},${cols}]` });
        const y = e.slice();
        refKernels.softmaxBackward(y, dy, e, rows, cols);
        lvl.kernels.softmaxBackward(y, dy, a, rows, cols);
        assertClose(a, e, { rtol: 1e-5, atol: 1e-6, label: `softmaxBackward [${rows},${cols}]` });
        refKernels.logSoftmax(x, e, rows, cols);
        lvl.kernels.logSoftmax(x, a, rows, cols);
        assertClose(a, e, { rtol: 1e-5, atol: 1e-6, label: `logSoftmax [${rows},${cols}]` });
        const ly = e.slice();
        refKernels.logSoftmaxBackward(ly, dy, e, rows, cols);
        lvl.kernels.logSoftmaxBackward(ly, dy, a, rows, cols);
        assertClose(a, e, { rtol: 1e-5, atol: 1e-5, label: `logSoftmaxBackward [${rows},${cols}]` });
        // in place (out = x)
        const xi = x.slice();
        lvl.kernels.softmax(xi, xi, rows, cols);
        refKernels.softmax(x, e, rows, cols);
        assertClose(xi, e, { rtol: 1e-5, atol: 1e-7, label: `softmax in place [${rows},${cols}]` });
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: topk with ties, small and large k`, () => {
    lvl.enter();
    try {
      const r = rng(23);
      for (const cols of [...awkwardSizes, 100, 1000]) {
        for (const k of [1, 2, 3, 7, 16, 64, 65, 100, cols]) {
          if (k > cols) continue;
          const rows = 9;
          const x = new Float32Array(rows * cols);
          for (let i = 0; i < x.length; i++) x[i] = r.int(i % 2 ? 5 : 1000) - (i % 3 ? 2 : 500); // many ties
          for (let j = 0; j < cols; j++) x[cols + j] = 1; // one row all tied
          const ev = new Float32Array(rows * k), ei = new Int32Array(rows * k);
          const av = new Float32Array(rows * k), ai = new Int32Array(rows * k);
          refKernels.topk(x, ev, ei, rows, cols, k);
          lvl.kernels.topk(x, av, ai, rows, cols, k);
          assert.deepEqual(Array.from(ai), Array.from(ei), `topk indices cols=${cols} k=${k}`);
          assert.deepEqual(Array.from(av), Array.from(ev), `topk values cols=${cols} k=${k}`);
        }
      }
      // big rows go through the pool and the vector skip path
      const rows = 64, cols = 5000, k = 8;
      const x = randF32(r, rows * cols);
      const ev = new Float32Array(rows * k), ei = new Int32Array(rows * k), av = new Float32Array(rows * k), ai = new Int32Array(rows * k);
      refKernels.topk(x, ev, ei, rows, cols, k);
      lvl.kernels.topk(x, av, ai, rows, cols, k);
      assert.deepEqual(Array.from(ai), Array.from(ei), 'topk big');
      // NaN: no crash, indices in range and values read from them; numbers rank above NaN
      for (const kk of [3, 70]) {
        const xn = randF32(r, 2 * 100);
        for (let i = 0; i < xn.length; i += 7) xn[i] = NaN;
        const v = new Float32Array(2 * kk), ix = new Int32Array(2 * kk);
        lvl.kernels.topk(xn, v, ix, 2, 100, kk);
        for (let i = 0; i < v.length; i++) {
          assert.ok(ix[i] >= 0 && ix[i] < 100, `topk NaN index ${ix[i]}`);
          const src = xn[Math.floor(i / kk) * 100 + ix[i]];
          assert.ok(Object.is(src, v[i]) || (Number.isNaN(src) && Number.isNaN(v[i])));
        }
        assert.ok(!Number.isNaN(v[0]) && v[0] >= v[1]);
      }
    } finally {
      lvl.exit();
    }
  });
}
