// Tests of `r1ts verify countdown`: runs the command in a child process (its output is
// stdout) on small files built here, checking one output line per input line, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function run(args: string[], stdin?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const script = `import { verifyCountdownCommand } from './src/cli/verify-countdown.ts';
process.exitCode = await verifyCountdownCommand(JSON.parse(process.argv[1]));`;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(args)], { cwd: root });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
    c.stdin.end(stdin ?? '');
  });
}

test('verify countdown: one reward line per input line, in order, bad lines marked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-vc-'));
  const file = join(dir, 'in.jsonl');
  const lines = [
    JSON.stringify({ numbers: [30, 100, 93], target: 23, completion: '<think>x</think><answer>30 - (100 - 93)</answer>' }),
    JSON.stringify({ numbers: [30, 100, 93], target: 23, completion: '<answer>100 - 93 + 30</answer>' }),
    JSON.stringify({ numbers: [30, 100, 93], target: 23, completion: 'no answer' }),
    '{not json',
    JSON.stringify({ numbers: 'x', target: 23, completion: '' }),
    '',
    JSON.stringify([1, 2]),
    JSON.stringify({ numbers: [6, 4, 2], target: 3, completion: '<answer>6/4*2</answer>' }),
  ];
  writeFileSync(file, lines.join('\n') + '\n');
  const [r, strict, piped] = await Promise.all([run(['--jsonl', file]), run(['--jsonl', file, '--no-fractions', '--format-reward', '0.2']), run(['--jsonl', '-'], lines[0] + '\n')]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { reward: number; error?: string });
  assert.equal(out.length, 7); // the blank line is skipped
  assert.deepEqual(out.map((o) => o.reward), [1, 0.1, 0, 0, 0, 0, 1]);
  assert.match(out[3].error ?? '', /not JSON/);
  assert.match(out[4].error ?? '', /numbers/);
  assert.match(out[5].error ?? '', /object/);
  assert.equal(out[0].error, undefined);

  assert.deepEqual(strict.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { reward: number }).reward), [1, 0.2, 0, 0, 0, 0, 0.2]);

  assert.equal(piped.stdout.trim(), '{"reward":1}');
});

test('verify countdown: missing file, bad flags, help', async () => {
  const [missing, noFlag, bogus, help] = await Promise.all([run(['--jsonl', '/nonexistent/x.jsonl']), run([]), run(['--jsonl', 'x', '--bogus']), run(['--help'])]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no such file/);
  assert.equal(missing.stdout, '');
  assert.equal(noFlag.status, 2);
  assert.match(noFlag.stderr, /missing --jsonl/);
  assert.equal(bogus.status, 2);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: r1ts verify countdown/);
});
