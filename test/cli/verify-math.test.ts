// Tests of `r1ts verify math` (src/cli/verify-math.ts): one verdict line per
// input line in order, per-line errors, missing file, flags and help.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { verifyMathCommand } from '../../src/cli/verify-math.ts';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const code = await verifyMathCommand(args, { stdout: out.stream, stderr: err.stream });
  return { code, out: out.text(), err: err.text() };
}

test('writes one verdict per line, in order, with errors for unusable lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-verify-math-'));
  try {
    const file = join(dir, 'pairs.jsonl');
    const lines = [
      JSON.stringify({ gold: '$\\frac{1}{2}$', pred: 'The answer is \\boxed{0.5}' }),
      JSON.stringify({ gold: '10', pred: '1' }),
      '{not json',
      JSON.stringify({ gold: 1, pred: '1' }),
      JSON.stringify({ gold: '1', pred: '1', options: { precision: 'high' } }),
      '',
      JSON.stringify({ gold: '$x+1$', pred: '$y+1$', options: { strict: false } }),
      JSON.stringify([1, 2]),
    ];
    writeFileSync(file, lines.join('\n') + '\n');
    const r = await run(['--jsonl', file]);
    assert.equal(r.code, 0, r.err);
    const out = r.out.trim().split('\n').map((l) => JSON.parse(l) as { verdict: boolean; error?: string });
    assert.equal(out.length, lines.length);
    assert.deepEqual(out[0], { verdict: true });
    assert.deepEqual(out[1], { verdict: false });
    assert.equal(out[2]!.verdict, false);
    assert.match(out[2]!.error!, /not valid JSON/);
    assert.match(out[3]!.error!, /"gold" must be a string/);
    assert.match(out[4]!.error!, /options\.precision/);
    assert.match(out[5]!.error!, /empty line/);
    assert.deepEqual(out[6], { verdict: true });
    assert.match(out[7]!.error!, /JSON object/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streams a larger file and keeps order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-verify-math-'));
  try {
    const file = join(dir, 'many.jsonl');
    const n = 2000;
    const rows: string[] = [];
    for (let i = 0; i < n; i++) rows.push(JSON.stringify({ gold: String(i), pred: i % 3 === 0 ? `$${i}$` : String(i + 1) }));
    writeFileSync(file, rows.join('\n'));
    const r = await run(['--jsonl', file]);
    assert.equal(r.code, 0);
    const verdicts = r.out.trim().split('\n').map((l) => (JSON.parse(l) as { verdict: boolean }).verdict);
    assert.equal(verdicts.length, n);
    verdicts.forEach((v, i) => assert.equal(v, i % 3 === 0, `line ${i}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing or unreadable file: clear error, exit 1', async () => {
  const r = await run(['--jsonl', '/nonexistent/dir/pairs.jsonl']);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot read \/nonexistent\/dir\/pairs\.jsonl/);
  assert.equal(r.out, '');
  const d = await run(['--jsonl', tmpdir()]);
  assert.equal(d.code, 1);
});

test('flags: --help, missing --jsonl, unknown flag', async () => {
  const h = await run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /usage: r1ts verify math --jsonl FILE/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /missing --jsonl/);
  const bad = await run(['--frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown argument/);
  const noValue = await run(['--jsonl']);
  assert.equal(noValue.code, 2);
});
