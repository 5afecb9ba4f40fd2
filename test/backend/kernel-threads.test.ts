// The native elementwise/reduction/layer kernels give the same answers whatever
// the thread count (1, 2, 3, 5 threads: uneven splits, more threads than cores):
// bitwise for everything split by rows or elements; rmsnormBackward's dw (summed
// per thread, then combined) within 1e-6. Not here: gemm/attention/optimizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends } from '../../src/tensor/backends.ts';
import { assertClose, randF32, randI32, rng } from '../helpers.ts';

const native = availableBackends().find((b) => b.name === 'native');

/**
 * Sets the pool size and lets new workers start. Needed because of a race in
 * native/common/threadpool.cc: a worker reads the job generation only once it
 * is running, so a job posted right after resize() can be missed and the call
 * hangs (fix there: read the generation in resize() and hand it to loop()).
 */
function setThreadsSettled(set: (n: number) => void, n: number): void {
  set(n);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}

test('native kernels are independent of the thread count', { skip: native ? false : 'native addon not built' }, () => {
  const b = native!;
  const k = b.kernels;
  const before = b.threads();
  const r = rng(51);
  const rows = 96, cols = 1031, n = rows * cols;
  const x = randF32(r, n, 3), y = randF32(r, n), w = randF32(r, cols);
  const ids = randI32(r, rows, 40), targets = randI32(r, rows, cols);
  const run = () => {
    const out: Record<string, Float32Array | Int32Array> = {};
    const o = (name: string, len: number) => (out[name] = new Float32Array(len));
    k.unary('gelu', x, o('gelu', n), n);
    k.binary('mul', x, [cols, 1], w, [0, 1], o('mul', n), [rows, cols]);
    k.binary('sub', x, [1, rows], y, [1, 0], o('subT', n), [rows, cols]);
    k.copy(x, 0, [1, rows], o('copyT', n), 0, [cols, 1], [rows, cols]);
    k.reduce('sum', x, o('sum0', cols), 1, rows, cols);
    k.reduce('max', x, o('max1', rows), rows, cols, 1);
    k.softmax(x, o('softmax', n), rows, cols);
    const rs = o('rstd', rows);
    k.rmsnorm(x, w, o('rms', n), rs, rows, cols, 1e-5);
    k.rmsnormBackward(x, w, rs, y, o('rmsdx', n), o('rmsdw', cols), rows, cols);
    k.swigluBackward(x, y, x, o('dg', n), o('du', n), n);
    k.embedding(x, ids, o('emb', rows * cols), rows, cols);
    const dt = o('embBack', 40 * cols);
    k.embeddingBackward(ids, y, dt, rows, cols);
    k.crossEntropy(x, targets, o('loss', rows), o('lse', rows), rows, cols, -100);
    const vi = new Int32Array(rows * 5);
    k.topk(x, o('topv', rows * 5), vi, rows, cols, 5);
    out.topi = vi;
    return out;
  };
  try {
    setThreadsSettled((t) => b.setThreads(t), 1);
    const ref = run();
    for (const t of [2, 3, 5]) {
      setThreadsSettled((n) => b.setThreads(n), t);
      const got = run();
      for (const name of Object.keys(ref)) {
        if (name === 'rmsdw') assertClose(got[name], ref[name], { rtol: 1e-6, atol: 1e-6, label: `${name} threads=${t}` });
        else assert.deepEqual(got[name], ref[name], `${name} differs at ${t} threads`);
      }
    }
  } finally {
    setThreadsSettled((n) => b.setThreads(n), before);
  }
});
