// `r1ts reward-server` as a process: it prints its URL, grades a batch, and
// stops cleanly on SIGTERM; bad flags are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin/r1ts.mjs');

test('r1ts reward-server: serves, then exits 0 on SIGTERM', async () => {
  const p = spawn(process.execPath, [bin, 'reward-server', '--port', '0'], { cwd: root });
  const exited = new Promise<number | null>((ok) => p.on('exit', (code) => ok(code)));
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    p.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) ok(m[1]);
    });
    p.on('exit', (code) => fail(new Error(`exited with ${code}`)));
  });
  const r = await fetch(`${url}/v1/rewards`, { method: 'POST', body: JSON.stringify({ items: [{ task: 'integer', completion: ' x </think> <answer>12</answer>', gold: '12' }] }) });
  assert.deepEqual(((await r.json()) as { rewards: { reward: number }[] }).rewards.map((x) => x.reward), [1]);
  p.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('r1ts reward-server / distill / pipeline: bad flags and configs are named', () => {
  const run = (...a: string[]) => spawnSync(process.execPath, [bin, ...a], { cwd: root, encoding: 'utf8' });
  const rs = run('reward-server', '--port', 'x');
  assert.equal(rs.status, 2);
  assert.match(rs.stderr, /--port x: expected an integer/);
  const d = run('distill', '--data', 'x.jsonl', '--task', 'add');
  assert.equal(d.status, 2);
  assert.match(d.stderr, /--student is required/);
  const pd = run('pipeline', '--print-default');
  assert.equal(pd.status, 0);
  assert.equal(JSON.parse(pd.stdout).stages.length, 6);
  const bad = run('pipeline', join(root, 'package.json'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /invalid pipeline options:[\s\S]*stages/);
});
