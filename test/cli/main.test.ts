// The r1ts command through its real entry point (bin/r1ts.mjs): help, unknown
// commands, and the verify dispatcher end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...args], { cwd: root, encoding: 'utf8' });

test('help lists the commands; an unknown command exits 2 naming it', () => {
  const h = run('help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /verify/);
  const u = run('frobnicate');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
});

test('r1ts verify math and countdown grade JSONL files line by line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-'));
  try {
    const m = join(dir, 'm.jsonl');
    writeFileSync(m, ['{"gold":"\\\\frac{1}{2}","pred":"0.5"}', '{"gold":"3","pred":"4"}', 'not json'].join('\n') + '\n');
    const rm = run('verify', 'math', '--jsonl', m);
    assert.equal(rm.status, 0, rm.stderr);
    const lines = rm.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.verdict), [true, false, false]);
    assert.ok(lines[2].error);
    const c = join(dir, 'c.jsonl');
    writeFileSync(c, '{"numbers":[1,2,3],"target":7,"completion":"<answer>1+2*3</answer>"}\n');
    const rc = run('verify', 'countdown', '--jsonl', c);
    assert.equal(rc.status, 0, rc.stderr);
    assert.deepEqual(JSON.parse(rc.stdout.trim()), { reward: 1 });
    const bad = run('verify', 'chess');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown verifier 'chess'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
