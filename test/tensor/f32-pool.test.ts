// The shared f32 buffer pool: reuse by length, views refused, the cap evicting other lengths
// first-pooled first (in a child process, since the cap is read from R1TS_POOL_MB at load).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { giveF32, pooledF32, takeF32 } from '../../src/tensor/f32-pool.ts';

test('a given buffer comes back for its length only, and views are refused', () => {
  const a = new Float32Array(5000);
  const before = pooledF32();
  giveF32(a);
  assert.equal(pooledF32().bytes, before.bytes + a.byteLength);
  assert.equal(takeF32(4999), undefined);
  assert.equal(takeF32(5000), a);
  assert.equal(pooledF32().bytes, before.bytes);
  giveF32(new Float32Array(8000).subarray(0, 5000)); // a view: never pooled
  assert.equal(pooledF32().bytes, before.bytes);
});

test('over R1TS_POOL_MB the lengths pooled first are dropped, then a buffer that cannot fit is not kept', () => {
  const script = `
    import { giveF32, pooledF32, takeF32 } from './src/tensor/f32-pool.ts';
    const q = 60000; // 240 kB each: 4 fit the 1 MiB cap, 5 do not
    const a = new Float32Array(q), b = new Float32Array(q), c = new Float32Array(q + 1), d = new Float32Array(q + 2);
    giveF32(a); giveF32(b); giveF32(c); giveF32(d);
    const full = pooledF32();
    const e = new Float32Array(q + 3);
    giveF32(e); // over the cap: length q (a, b) goes first
    const afterE = pooledF32();
    const out = { full, afterE, a: takeF32(q) === undefined, c: takeF32(q + 1) === c, e: takeF32(q + 3) === e };
    giveF32(new Float32Array(300000)); // 1.2 MB > cap: never kept
    console.log(JSON.stringify({ ...out, big: pooledF32().bytes }));
  `;
  const raw = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, R1TS_POOL_MB: '1' }, encoding: 'utf8',
  });
  const r = JSON.parse(raw.trim().split('\n').at(-1)!);
  assert.deepEqual(r.full, { buffers: 4, bytes: (4 * 60000 + 3) * 4 });
  assert.deepEqual(r.afterE, { buffers: 3, bytes: (3 * 60000 + 6) * 4 });
  assert.equal(r.a, true, 'the first-pooled length was not evicted');
  assert.equal(r.c, true);
  assert.equal(r.e, true);
  assert.equal(r.big, 4 * 60002, 'a buffer larger than the cap was kept');
});
