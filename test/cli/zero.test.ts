// `r1ts zero` and `r1ts rl` through the real entry point: the shipped base
// loads, a one-step run writes its files and a JSON summary, bad flags are
// refused with the flag's name. (The learning itself is measured by bench/zero.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel } from '../../src/io/load.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { skipWithoutData } from '../data.ts';

const root = resolve(import.meta.dirname, '../..');
const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...args], { cwd: root, encoding: 'utf8' });

test('r1ts zero on the shipped base: one GRPO step, the run files and a JSON summary', () => {
  assert.ok(existsSync(join(root, 'assets/zero-base/model.safetensors')), 'the shipped base model is part of the repository');
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-zero-'));
  try {
    const r = run('zero', '--steps', '1', '--prompts', '2', '--group', '4', '--eval-items', '4', '--final-eval-items', '4', '--out', dir, '--no-progress', '--json');
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(summary.steps, 1);
    assert.equal(summary.task, 'add');
    assert.match(r.stdout, /held-out accuracy/);
    assert.equal(readJsonl(join(dir, 'metrics.jsonl')).length, 3);
    assert.equal(loadModel(join(dir, 'model')).kind, 'huggingface');
    assert.ok(existsSync(join(dir, 'model', 'tokenizer.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('r1ts rl: a short seeded run raises the mean reward (the shipped multiplication base on mul)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-rl-'));
  try {
    const r = run('rl', '--model', join(root, 'assets/mul-base'), '--task', 'mul', '--steps', '10', '--seed', '1',
      '--eval-every', '100', '--eval-items', '8', '--final-eval-items', '8', '--out', dir, '--no-progress');
    assert.equal(r.status, 0, r.stderr);
    const rewards = readJsonl<{ step?: number; reward?: number }>(join(dir, 'metrics.jsonl')).filter((m) => typeof m.reward === 'number').map((m) => m.reward!);
    assert.equal(rewards.length, 10);
    const first = (rewards[0] + rewards[1] + rewards[2]) / 3;
    const last = (rewards[7] + rewards[8] + rewards[9]) / 3;
    assert.ok(last > first + 0.2, `mean reward ${first.toFixed(3)} → ${last.toFixed(3)}: ${rewards.map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('r1ts zero / rl refuse bad flags and missing models with the reason', () => {
  const bad = run('zero', '--group', '1');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--group: expected an integer ≥ 2/);
  const agg = run('zero', '--aggregation', 'mean');
  assert.equal(agg.status, 2);
  assert.match(agg.stderr, /--aggregation: expected sequence, token or constant/);
  const task = run('zero', '--task', 'poetry');
  assert.equal(task.status, 2);
  assert.match(task.stderr, /unknown task 'poetry'/);
  const model = run('rl', '--model', join(tmpdir(), 'no-such-model'));
  assert.equal(model.status, 2);
  assert.match(model.stderr, /no model with a tokenizer.json here/);
  const spec = run('rl', '--model', join(root, 'assets/zero-base'), '--reward', 'correct:x');
  assert.equal(spec.status, 2);
  assert.match(spec.stderr, /reward spec/);
  assert.match(run('zero', '--help').stdout, /--from-scratch/);
  const steps = run('zero', '--base-steps', '750');
  assert.equal(steps.status, 2);
  assert.match(steps.stderr, /--base-steps: only with --from-scratch/);
  const stepsBad = run('zero', '--from-scratch', '--base-only', '--base-steps', '0', '--out', join(tmpdir(), 'r1ts-zero-never-built'));
  assert.equal(stepsBad.status, 2);
  assert.match(stepsBad.stderr, /--base-steps 0: expected an integer ≥ 1/);
  const corpus = run('zero', '--base-corpus', 'countdown');
  assert.equal(corpus.status, 2);
  assert.match(corpus.stderr, /--base-corpus: only with --from-scratch/);
  const corpusBad = run('zero', '--from-scratch', '--base-only', '--base-corpus', 'poetry', '--out', join(tmpdir(), 'r1ts-zero-never-built'));
  assert.equal(corpusBad.status, 2);
  assert.match(corpusBad.stderr, /--base-corpus poetry: expected add, mul, countdown, countdown-columns, countdown-aha/);
});

test('r1ts zero --task countdown on a base whose context cannot hold the prompts: refused before any work, naming a base that can', { skip: skipWithoutData() }, () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'r1ts-cli-zero-cd-')), 'run');
  try {
    const r = run('zero', '--task', 'countdown', '--base', join(root, 'assets/zero-base'), '--out', dir, '--no-progress');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /the longest 'countdown' prompt under the R1-Zero template is 33\d tokens and this model's context is 256; the shipped assets\/countdown-base \(512 positions\) is --task countdown's default, or build one: r1ts zero --from-scratch --base-corpus countdown-columns/);
    assert.ok(!existsSync(join(dir, 'metrics.jsonl')), 'no run was started');
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('r1ts zero --task mul: the shipped multiplication base and its 128-token budget, one GRPO step; the shipped addition base gets what its context leaves', () => {
  assert.ok(existsSync(join(root, 'assets/mul-base/model.safetensors')), 'the shipped multiplication base is part of the repository');
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-zero-mul-'));
  try {
    const r = run('zero', '--task', 'mul', '--steps', '1', '--prompts', '2', '--group', '4', '--eval-items', '4', '--final-eval-items', '4', '--out', dir, '--no-progress', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /model: .*assets[/\\]mul-base \(0\.89M parameters\)/);
    assert.match(r.stdout, /budget: 128 new tokens \(the 'mul' task's budget; --max-tokens to change\)/);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(summary.task, 'mul');
    assert.equal(summary.steps, 1);
    // on the shipped addition base (256 positions, a 181-token prompt) the budget is what is left
    const e = run('zero', '--task', 'mul', '--base', join(root, 'assets/zero-base'), '--steps', '1', '--prompts', '2', '--group', '4', '--eval-items', '2', '--final-eval-items', '2', '--out', join(dir, 'e'), '--no-progress');
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /budget: 75 new tokens/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('r1ts zero --task countdown: the shipped countdown base and the budget its context leaves, one GRPO step', { skip: skipWithoutData() }, () => {
  assert.ok(existsSync(join(root, 'assets/countdown-base/model.safetensors')), 'the shipped countdown base is part of the repository');
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-zero-cd-'));
  try {
    const r = run('zero', '--task', 'countdown', '--steps', '1', '--prompts', '2', '--group', '4', '--eval-items', '4', '--final-eval-items', '4', '--out', dir, '--no-progress', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /model: .*assets[/\\]countdown-base \(1\.89M parameters\)/);
    assert.match(r.stdout, /budget: 26\d new tokens \(what 512 positions leave after the longest prompt, 2[45]\d; --max-tokens to change\)/);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(summary.task, 'countdown');
    assert.equal(summary.steps, 1);
    // --max-tokens still decides when given
    const given = run('zero', '--task', 'countdown', '--steps', '1', '--prompts', '2', '--group', '4', '--eval-items', '2', '--final-eval-items', '2', '--max-tokens', '40', '--out', join(dir, 'b'), '--no-progress');
    assert.equal(given.status, 0, given.stderr);
    assert.doesNotMatch(given.stdout, /budget:/);
    assert.ok(readJsonl<{ completion_tokens_max?: number }>(join(dir, 'b', 'metrics.jsonl')).every((m) => (m.completion_tokens_max ?? 0) <= 40));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
