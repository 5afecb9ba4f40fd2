// Native-only fused entry points (src/backend/native/fused.ts): rmsnormBackwardAdd equals the
// native rmsnormBackward followed by the native add bit for bit (the residual is added after the
// norm's own term), at every CPU dispatch level, and names short buffers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmsnormBackwardAddNative } from '../../../src/backend/native/fused.ts';
import { assertClose, nativeLevels, randF32, refKernels, rng } from '../../helpers.ts';

test('rmsnormBackwardAdd = rmsnormBackward + add, bit for bit, at every level', (t) => {
  if (!rmsnormBackwardAddNative) return t.skip('the addon has no rmsnormBackwardAdd');
  const r = rng(21);
  for (const lvl of nativeLevels()) {
    lvl.enter();
    try {
      for (const [rows, cols] of [[1, 1], [3, 7], [37, 33], [200, 256]]) {
        const n = rows * cols;
        const x = randF32(r, n), w = randF32(r, cols), dy = randF32(r, n), res = randF32(r, n);
        const rstd = Float32Array.from({ length: rows }, () => 0.5 + r.uniform());
        const dx = new Float32Array(n), dw = new Float32Array(cols), ex = new Float32Array(n), ew = new Float32Array(cols);
        rmsnormBackwardAddNative(x, w, rstd, dy, res, dx, dw, rows, cols);
        lvl.kernels.rmsnormBackward(x, w, rstd, dy, ex, ew, rows, cols);
        lvl.kernels.binary('add', ex, [1], res, [1], ex, [n]);
        assert.deepEqual(dx, ex, `${lvl.name} ${rows}×${cols}: dx`);
        assert.deepEqual(dw, ew, `${lvl.name} ${rows}×${cols}: dw`);
        const rx = new Float32Array(n), rw = new Float32Array(cols);
        refKernels.rmsnormBackward(x, w, rstd, dy, rx, rw, rows, cols);
        for (let i = 0; i < n; i++) rx[i] += res[i];
        assertClose(dx, rx, { rtol: 1e-5, atol: 1e-5, label: `${lvl.name} vs ref dx` });
        assertClose(dw, rw, { rtol: 1e-5, atol: 1e-5, label: `${lvl.name} vs ref dw` });
      }
    } finally {
      lvl.exit();
    }
  }
  const a = new Float32Array(6);
  assert.throws(() => rmsnormBackwardAddNative!(a, new Float32Array(3), new Float32Array(2), a, new Float32Array(5), a, new Float32Array(3), 2, 3), /rmsnormBackwardAdd: x, res and dx must hold rows·cols = 6 floats/);
});
