// Backend.fmaPeak (native/kernels/peak.cc): the measured FMA peak reports the
// dispatch level and vector width in force at every CPU level this machine has,
// runs on the backend's threads, and the reference backend declines to measure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addonError, cpuLevels, makeNativeBackend, setCpuLevel } from '../../src/backend/native/index.ts';
import { refBackend, refKernels } from '../../src/backend/ref/index.ts';

test('the reference backend has no vector peak to measure', () => {
  assert.equal(refBackend.fmaPeak(0.01), null);
});

test('the native FMA peak follows the CPU level and the thread count', { skip: addonError ?? false }, () => {
  const be = makeNativeBackend(refKernels)!;
  const { current, max } = cpuLevels();
  const threads = be.threads();
  const expected = [{ level: 'portable', lanes: 4 }, { level: 'avx2', lanes: 8 }, { level: 'avx512', lanes: 16 }];
  try {
    for (let l = 0; l <= max; l++) {
      setCpuLevel(l);
      for (const n of [1, threads]) {
        be.setThreads(n);
        const r = be.fmaPeak(0.02)!;
        assert.ok(r, `level ${l}: no peak`);
        assert.equal(r.level, expected[l].level);
        assert.equal(r.lanes, expected[l].lanes);
        assert.equal(r.threads, n);
        assert.ok(Number.isFinite(r.flops) && r.flops > 1e6, `level ${l}, ${n} threads: ${r.flops} FLOP/s`);
      }
    }
  } finally {
    setCpuLevel(current);
    be.setThreads(threads);
  }
});
