// `r1ts pretrain` and `r1ts sft` through the real entry point on tiny data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { syntheticCorpus } from '../../src/data/text-dataset.ts';
import { loadModel } from '../../src/io/load.ts';
import { readJsonl } from '../../src/core/jsonl.ts';

const root = resolve(import.meta.dirname, '../..');
const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...args], { cwd: root, encoding: 'utf8' });

test('r1ts pretrain --steps 3 writes 3 metrics lines and a loadable model; sft fine-tunes it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-train-'));
  try {
    const data = join(dir, 'tiny.txt');
    writeFileSync(data, syntheticCorpus(10_000, 3).join('\n\n') + '\n');
    const out = join(dir, 'run');
    const r = run('pretrain', '--data', data, '--vocab', '300', '--depth', '1', '--seq', '64', '--batch', '2', '--steps', '3', '--out', out, '--no-progress');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /3 steps, loss/);
    assert.equal(readJsonl(join(out, 'metrics.jsonl')).length, 3);
    assert.equal(loadModel(join(out, 'model')).kind, 'huggingface');
    const s = run('sft', '--model', join(out, 'model'), '--seq', '48', '--batch', '2', '--steps', '2', '--out', join(dir, 'sft'), '--no-progress');
    assert.equal(s.status, 0, s.stderr);
    assert.equal(readJsonl(join(dir, 'sft', 'metrics.jsonl')).length, 2);
    // a fresh run over existing checkpoints is refused (exit 1), bad flags exit 2
    const again = run('pretrain', '--data', data, '--vocab', '300', '--depth', '1', '--seq', '16', '--batch', '2', '--steps', '3', '--out', out, '--no-progress');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already holds checkpoints/);
    const bad = run('pretrain', '--steps', 'many');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--steps many: expected a number/);
    assert.equal(run('sft').status, 2);
    assert.match(run('help').stdout, /pretrain.*\n.*sft/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
