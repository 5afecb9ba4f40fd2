// Without the native addon r1ts still works on the reference kernels and says
// so once, clearly; R1TS_BACKEND and R1TS_THREADS are validated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const script = `
import * as T from './src/tensor/index.ts';
const a = T.tensor([1, 2, 3]);
console.log(T.currentBackend().name, T.sum(T.mul(a, a)).item(), T.sum(a).item());
`;

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
}

test('a missing addon falls back to the reference kernels with one warning', () => {
  const r = run({ R1TS_ADDON: '/nonexistent/r1ts.node' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ref 14 6');
  const warnings = r.stderr.split('\n').filter((l) => l.includes('reference kernels'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /native addon was not built/);
});

test('R1TS_BACKEND=ref selects the reference kernels silently; bad values are rejected', () => {
  const r = run({ R1TS_BACKEND: 'ref' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ref 14 6');
  assert.doesNotMatch(r.stderr, /reference kernels/);
  const bad = run({ R1TS_BACKEND: 'gpu' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /R1TS_BACKEND=gpu: expected one of native, ref/);
  const badThreads = run({ R1TS_THREADS: 'zero' });
  assert.notEqual(badThreads.status, 0);
  assert.match(badThreads.stderr, /R1TS_THREADS=zero: expected an integer >= 1/);
});
