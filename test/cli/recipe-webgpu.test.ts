// The recipe commands with --device webgpu through the real entry point, on the shipped zero
// base: `r1ts sample --teacher DIR --device webgpu` keeps exactly the conversations the CPU
// command keeps (seeded sampling from the same logits, continuous batching of 12 sequences);
// `r1ts pipeline --device webgpu` runs SFT (on those conversations) → RL with every stage and
// every evaluation on the device (no CPU fallback); `r1ts distill --device webgpu` fine-tunes
// and evaluates a preset student there. Skips without an adapter (fails under CI=true). And
// without an adapter the pipeline says so once (it holds one device for all its stages) and runs
// on the CPU.
// Sized for llvmpipe, where each decode step costs about as much at 1 sequence as at 24: the
// pipeline's 32-token budget keeps its six decoding phases short (a sample stage there would
// need the 64 tokens the base takes to answer; the standalone sample covers that path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gpu, gpuOrSkip } from '../backend/webgpu-setup.ts';

const root = resolve(import.meta.dirname, '../..');
const base = join(root, 'assets/zero-base');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-recipe-webgpu-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
/** A JSONL file's lines, sorted (concurrent prompts finish in any order). */
const lines = (p: string) => readFileSync(p, 'utf8').split('\n').filter(Boolean).sort();

test('r1ts sample, pipeline and distill --device webgpu: the same traces as the CPU, every stage on the device', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const sampleArgs = (out: string) => ['sample', '--task', 'add', '--teacher', base, '--prompts', '3', '--k', '4', '--temperature', '1', '--top-p', '1',
    '--max-tokens', '64', '--concurrency', '3', '--seed', '3', '--out', out, '--no-progress'];
  const cpu = run(sampleArgs(join(dir, 'cpu.jsonl')));
  assert.equal(cpu.status, 0, cpu.stderr);
  const dev = run([...sampleArgs(join(dir, 'dev.jsonl')), '--device', 'webgpu']);
  assert.equal(dev.status, 0, dev.stderr);
  assert.doesNotMatch(dev.stderr, /continuing on the CPU/);
  assert.ok(lines(join(dir, 'cpu.jsonl')).length > 0, 'the base gets some of 12 samples right');
  assert.deepEqual(lines(join(dir, 'dev.jsonl')), lines(join(dir, 'cpu.jsonl')));

  // the pipeline on the device: SFT on the sampled conversations, then RL, each evaluated there
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify({ out: join(dir, 'pipeline'), base, task: 'add', evalItems: 2, maxTokens: 32, seed: 0, stages: [
    { kind: 'sft', name: 'sft', data: join(dir, 'cpu.jsonl'), steps: 1, batch: 2 },
    { kind: 'rl', name: 'rl', steps: 1, minutes: 1, prompts: 2, group: 2 },
  ] }));
  const p = run(['pipeline', cfg, '--no-progress', '--device', 'webgpu']);
  assert.equal(p.status, 0, p.stderr);
  assert.doesNotMatch(p.stderr, /continuing on the CPU/);
  for (const s of ['01-sft', '02-rl']) assert.ok(existsSync(join(dir, 'pipeline', s, 'model', 'model.safetensors')), `${s}/model`);
  const summary = JSON.parse(readFileSync(join(dir, 'pipeline', 'summary.json'), 'utf8')) as { stages: { kind: string }[] };
  assert.deepEqual(summary.stages.map((st) => st.kind), ['sft', 'rl']);

  const d = run(['distill', '--data', join(dir, 'cpu.jsonl'), '--student', '1', '--task', 'add', '--steps', '2', '--batch', '4', '--eval-items', '2',
    '--max-tokens', '8', '--seq', '128', '--out', join(dir, 'distill'), '--no-progress', '--device', 'webgpu']);
  assert.equal(d.status, 0, d.stderr);
  assert.doesNotMatch(d.stderr, /continuing on the CPU/);
  const s = JSON.parse(d.stdout.trim().split('\n').at(-1)!) as { steps: number; eval_items: number };
  assert.equal(s.steps, 2);
  assert.equal(s.eval_items, 2);
});

test('r1ts pipeline --device webgpu without an adapter says why once and runs every stage on the CPU', async (t) => {
  // No adapter is simulated as in pretrain-webgpu.test.ts (a bogus EGL platform removes the GL ES path).
  const k = await gpu();
  if (typeof k !== 'string' && k.ctx.adapter.backend !== 'opengles') return t.skip('a core WebGPU adapter exists here; no-adapter fallback not simulable');
  const cfg = join(dir, 'fallback.json');
  const data = join(dir, 'fallback.jsonl');
  writeFileSync(data, JSON.stringify({ messages: [{ role: 'user', content: 'What is 2 + 3?' }, { role: 'assistant', content: '<think>2 + 3 = 5</think> <answer>5</answer>' }] }) + '\n');
  writeFileSync(cfg, JSON.stringify({ out: join(dir, 'fallback'), base, task: 'add', evalItems: 1, maxTokens: 8, seed: 0, stages: [{ kind: 'sft', name: 'sft', data, steps: 1, batch: 1 }] }));
  const p = run(['pipeline', cfg, '--no-progress', '--device', 'webgpu'], { EGL_PLATFORM: 'bogus' });
  assert.equal(p.status, 0, p.stderr);
  // One device for the whole pipeline: the fallback is said once, not by each stage and evaluation.
  assert.equal(p.stderr.match(/continuing on the CPU backend/g)?.length, 1, p.stderr);
  assert.ok(existsSync(join(dir, 'fallback', '01-sft', 'model', 'model.safetensors')));
});
