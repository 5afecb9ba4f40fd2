// Native layer kernels against the reference at every CPU dispatch level:
// RMSNorm forward/backward (dw overwritten, rows split over threads), RoPE in
// both pair layouts with partial rotary dim, inverse and in place, SwiGLU and
// SiLU backward, embedding forward/backward with repeated ids; out-of-range
// positions/ids throw the reference's RangeError before writing anything.
// Tolerances: rmsnorm rtol 1e-5/atol 1e-6 (dx and dw: atol 1e-5, dx cancels for tiny cols, dw sums rows);
// rope rtol 1e-5/atol 1e-6; swiglu family rtol 1e-5/atol 1e-6 (exp-based);
// embedding exact (same additions in the same order as the reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RopeParams } from '../../src/backend/kernels.ts';
import { assertClose, awkwardSizes, nativeLevels, randF32, randI32, rangeErrorOf, refKernels, rng } from '../helpers.ts';


for (const lvl of nativeLevels()) {
  test(`${lvl.name}: rmsnorm forward and backward`, () => {
    lvl.enter();
    try {
      const r = rng(31);
      const shapes: [number, number][] = awkwardSizes.map((c) => [3, c] as [number, number]);
      shapes.push([1, 1], [257, 7], [300, 257], [2, 4099]);
      for (const [rows, cols] of shapes) {
        const n = rows * cols;
        const x = randF32(r, n, 2), w = randF32(r, cols), dy = randF32(r, n);
        const eo = new Float32Array(n), ao = new Float32Array(n), er = new Float32Array(rows), ar = new Float32Array(rows);
        refKernels.rmsnorm(x, w, eo, er, rows, cols, 1e-6);
        lvl.kernels.rmsnorm(x, w, ao, ar, rows, cols, 1e-6);
        assertClose(ao, eo, { rtol: 1e-5, atol: 1e-6, label: `rmsnorm out [${rows},${cols}]` });
        assertClose(ar, er, { rtol: 1e-6, atol: 0, label: `rmsnorm rstd [${rows},${cols}]` });
        const edx = new Float32Array(n), adx = new Float32Array(n), edw = new Float32Array(cols), adw = new Float32Array(cols).fill(123);
        refKernels.rmsnormBackward(x, w, er, dy, edx, edw, rows, cols);
        lvl.kernels.rmsnormBackward(x, w, er, dy, adx, adw, rows, cols);
        // dx = rs·w·dy − x·c cancels almost exactly when cols is tiny (x·rs ≈ ±1): atol relative to the terms
        assertClose(adx, edx, { rtol: 1e-5, atol: 1e-5, label: `rmsnorm dx [${rows},${cols}]` });
        assertClose(adw, edw, { rtol: 1e-5, atol: 1e-5, label: `rmsnorm dw [${rows},${cols}]` });
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: rope, both layouts, partial rotary, inverse, in place`, () => {
    lvl.enter();
    try {
      const r = rng(32);
      const maxPos = 50;
      for (const [N, H, D, rotaryDim] of [[1, 1, 2, 2], [3, 2, 16, 16], [7, 3, 64, 32], [5, 2, 34, 18], [33, 4, 40, 6], [200, 4, 64, 64]]) {
        const half = rotaryDim / 2;
        const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
        for (let p = 0; p < maxPos; p++) {
          for (let i = 0; i < half; i++) {
            const th = p / Math.pow(10000, (2 * i) / rotaryDim);
            cos[p * half + i] = Math.cos(th);
            sin[p * half + i] = Math.sin(th);
          }
        }
        const x = randF32(r, N * H * D), pos = randI32(r, N, maxPos);
        for (const interleaved of [true, false]) {
          for (const inverse of [false, true]) {
            const p: RopeParams = { N, H, D, rotaryDim, interleaved, inverse };
            const e = new Float32Array(x.length), a = new Float32Array(x.length);
            refKernels.rope(x, e, cos, sin, pos, p);
            lvl.kernels.rope(x, a, cos, sin, pos, p);
            const label = `rope N=${N} H=${H} D=${D} rot=${rotaryDim} interleaved=${interleaved} inverse=${inverse}`;
            assertClose(a, e, { rtol: 1e-5, atol: 1e-6, label });
            const xi = x.slice();
            lvl.kernels.rope(xi, xi, cos, sin, pos, p);
            assertClose(xi, e, { rtol: 1e-5, atol: 1e-6, label: `${label} in place` });
            // the inverse undoes the rotation
            const back = new Float32Array(x.length);
            lvl.kernels.rope(a, back, cos, sin, pos, { ...p, inverse: !inverse });
            assertClose(back, x, { rtol: 1e-4, atol: 1e-5, label: `${label} round trip` });
          }
        }
        // out-of-range positions: the reference's message, nothing written
        for (const bad of [-1, maxPos, 1 << 30]) {
          const pb = pos.slice();
          pb[N - 1] = bad;
          const p: RopeParams = { N, H, D, rotaryDim, interleaved: false, inverse: false };
          const want = rangeErrorOf(() => refKernels.rope(x, new Float32Array(x.length), cos, sin, pb, p), 'ref rope');
          const out = new Float32Array(x.length).fill(7);
          const got = rangeErrorOf(() => lvl.kernels.rope(x, out, cos, sin, pb, p), 'native rope');
          assert.equal(got, want);
          assert.ok(out.every((v) => v === 7), 'rope wrote before validating');
        }
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: swiglu, swigluBackward, siluBackward`, () => {
    lvl.enter();
    try {
      const r = rng(33);
      for (const n of [...awkwardSizes, 1000, 50_001]) {
        const g = randF32(r, n, 4), u = randF32(r, n), d = randF32(r, n);
        if (n > 10) {
          g[0] = 100;
          g[1] = -100;
          g[2] = 0;
          g[3] = NaN;
          g[4] = -20;
        }
        const e = new Float32Array(n), a = new Float32Array(n);
        refKernels.swiglu(g, u, e, n);
        lvl.kernels.swiglu(g, u, a, n);
        assertClose(a, e, { rtol: 1e-5, atol: 1e-6, label: `swiglu n=${n}` });
        const eg = new Float32Array(n), eu = new Float32Array(n), ag = new Float32Array(n), au = new Float32Array(n);
        refKernels.swigluBackward(g, u, d, eg, eu, n);
        lvl.kernels.swigluBackward(g, u, d, ag, au, n);
        assertClose(ag, eg, { rtol: 1e-5, atol: 1e-6, label: `swigluBackward dgate n=${n}` });
        assertClose(au, eu, { rtol: 1e-5, atol: 1e-6, label: `swigluBackward dup n=${n}` });
        refKernels.siluBackward(g, d, e, n);
        lvl.kernels.siluBackward(g, d, a, n);
        assertClose(a, e, { rtol: 1e-5, atol: 1e-6, label: `siluBackward n=${n}` });
      }
    } finally {
      lvl.exit();
    }
  });

  test(`${lvl.name}: embedding forward/backward, repeated and out-of-range ids`, () => {
    lvl.enter();
    try {
      const r = rng(34);
      for (const [rows, dim, n] of [[1, 1, 1], [5, 3, 7], [17, 33, 100], [50, 257, 64], [10, 64, 3000], [100, 8, 5000]]) {
        const table = randF32(r, rows * dim), ids = randI32(r, n, rows);
        const e = new Float32Array(n * dim), a = new Float32Array(n * dim);
        refKernels.embedding(table, ids, e, n, dim);
        lvl.kernels.embedding(table, ids, a, n, dim);
        assert.deepEqual(a, e, `embedding [${rows},${dim}] n=${n}`);
        const dout = randF32(r, n * dim);
        const ed = randF32(r, rows * dim), ad = ed.slice();
        refKernels.embeddingBackward(ids, dout, ed, n, dim);
        lvl.kernels.embeddingBackward(ids, dout, ad, n, dim);
        assert.deepEqual(ad, ed, `embeddingBackward [${rows},${dim}] n=${n}`);
        for (const bad of [-1, rows, 2147483647]) {
          const ib = ids.slice();
          ib[n - 1] = bad;
          const out = new Float32Array(n * dim).fill(5);
          let want = rangeErrorOf(() => refKernels.embedding(table, ib, new Float32Array(n * dim), n, dim), 'ref embedding');
          assert.equal(rangeErrorOf(() => lvl.kernels.embedding(table, ib, out, n, dim), 'native embedding'), want);
          assert.ok(out.every((v) => v === 5), 'embedding wrote before validating');
          const dt = new Float32Array(rows * dim).fill(5);
          want = rangeErrorOf(() => refKernels.embeddingBackward(ib, dout, new Float32Array(rows * dim), n, dim), 'ref embeddingBackward');
          assert.equal(rangeErrorOf(() => lvl.kernels.embeddingBackward(ib, dout, dt, n, dim), 'native embeddingBackward'), want);
          assert.ok(dt.every((v) => v === 5), 'embeddingBackward wrote before validating');
        }
      }
    } finally {
      lvl.exit();
    }
  });
}
