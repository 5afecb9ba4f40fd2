// `r1ts sample` as a process against the fault-injecting fake teacher
// (test/recipe/fault-server.ts): kill -9 midway and rerun the same command —
// the final file holds the same set of lines as an uninterrupted run, and
// every prompt is done exactly once. Also: flag errors name the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { faultServer } from '../recipe/fault-server.ts';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin/r1ts.mjs');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-sample-cli-'));

function start(args: string[]) {
  const p = spawn(process.execPath, [bin, 'sample', ...args], { cwd: root });
  let out = '', err = '';
  p.stdout.on('data', (c) => (out += c));
  p.stderr.on('data', (c) => (err += c));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((ok) => p.on('close', (code, signal) => ok({ code, signal, out, err })));
  return { p, done };
}

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);

test('r1ts sample: kill -9 midway and rerun = the uninterrupted set, each prompt once', async () => {
  const server = await faultServer({ retryAfter: '0', delayMs: 15, slowMs: 300 });
  try {
    const common = ['--task', 'add', '--prompts', '40', '--k', '2', '--base-url', server.url, '--model', 'm', '--concurrency', '3', '--backoff-ms', '2', '--retries', '30', '--timeout', '0.2', '--no-progress'];
    const whole = join(dir, 'whole.jsonl');
    const w = await start([...common, '--out', whole]).done;
    assert.equal(w.code, 0, w.err);
    assert.equal(JSON.parse(w.out.trim()).done, 40);

    const parts = join(dir, 'parts.jsonl');
    const first = start([...common, '--out', parts]);
    const doneFile = `${parts}.done.jsonl`;
    await new Promise<void>((ok, fail) => {
      const t = setInterval(() => {
        if (existsSync(doneFile) && lines(doneFile).length >= 10) {
          clearInterval(t);
          first.p.kill('SIGKILL');
          ok();
        }
      }, 5);
      first.done.then(() => (clearInterval(t), fail(new Error('finished before it could be killed'))));
    });
    const killed = await first.done;
    assert.equal(killed.signal, 'SIGKILL');
    const before = existsSync(doneFile) ? lines(doneFile).length : 0;
    assert.ok(before < 40, `killed midway (${before} done)`);
    const second = await start([...common, '--out', parts]).done;
    assert.equal(second.code, 0, second.err);
    const summary = JSON.parse(second.out.trim());
    assert.equal(summary.done, 40);
    assert.ok(summary.resumed >= 10);
    assert.deepEqual(lines(parts).sort(), lines(whole).sort());
    const ids = lines(doneFile).map((l) => JSON.parse(l).id as string);
    assert.equal(new Set(ids).size, 40);
    assert.equal(ids.length, 40);
  } finally {
    await server.close();
  }
});

test('r1ts sample: bad flags name what was wrong', async () => {
  const r = await start(['--task', 'add', '--out', join(dir, 'x.jsonl'), '--base-url', 'http://127.0.0.1:1/v1']).done;
  assert.equal(r.code, 2);
  assert.match(r.err, /--base-url needs --model/);
  const r2 = await start(['--task', 'add', '--out', join(dir, 'x.jsonl'), '--teacher', 'assets/zero-base', '--k', 'two']).done;
  assert.equal(r2.code, 1);
  assert.match(r2.err, /--k two: expected an integer/);
});
