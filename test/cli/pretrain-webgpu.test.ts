// `r1ts pretrain --device webgpu` and `r1ts sft --device webgpu` through the real entry point on tiny data (and R1TS_DEVICE),
// the value checks of every command that takes --device, and the refusal by those that run no model. The runs skip without an adapter
// (fails under CI=true), like the other webgpu tests; the refusals need no adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { syntheticCorpus } from '../../src/data/text-dataset.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { loadModel } from '../../src/io/load.ts';
import { gpu, gpuOrSkip } from '../backend/webgpu-setup.ts';

const root = resolve(import.meta.dirname, '../..');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });

test('r1ts pretrain --device webgpu trains a tiny dense model on the device and writes a loadable model', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-webgpu-'));
  try {
    const data = join(dir, 'tiny.txt');
    writeFileSync(data, syntheticCorpus(6_000, 3).join('\n\n') + '\n');
    const out = join(dir, 'run');
    const r = run(['pretrain', '--data', data, '--vocab', '280', '--depth', '1', '--seq', '32', '--batch', '2', '--steps', '2', '--eval-batches', '1', '--out', out, '--no-progress', '--device', 'webgpu']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /2 steps, loss/);
    assert.doesNotMatch(r.stderr, /continuing on the CPU/);
    const m = readJsonl(join(out, 'metrics.jsonl')) as Record<string, number>[];
    assert.equal(m.length, 2);
    assert.ok(Number.isFinite(m[1].loss) && m[1].mfu === undefined, 'device metrics: a loss, no MFU');
    assert.equal(loadModel(join(out, 'model')).kind, 'huggingface');
    // sft of that model on the device (the built-in synthetic conversations)
    const sftOut = join(dir, 'sft');
    const s = run(['sft', '--model', join(out, 'model'), '--seq', '32', '--batch', '2', '--steps', '2', '--eval-batches', '1', '--out', sftOut, '--no-progress', '--device', 'webgpu']);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stderr, /r1ts sft: 2 steps, loss/);
    assert.doesNotMatch(s.stderr, /continuing on the CPU/);
    assert.ok((readJsonl(join(sftOut, 'metrics.jsonl')) as Record<string, number>[]).every((x) => Number.isFinite(x.loss)));
    // R1TS_DEVICE selects it too; a bad value is named.
    const bad = run(['pretrain', '--steps', '1', '--out', join(dir, 'x')], { R1TS_DEVICE: 'tpu' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--device tpu \(or R1TS_DEVICE\): expected cpu or webgpu/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--device on every command that runs a model; the others refuse it; bad values are named', () => {
  const s = run(['inspect', 'x', '--device=webgpu']);
  assert.equal(s.status, 2);
  assert.match(s.stderr, /r1ts inspect: --device webgpu: this command runs no model/);
  const bad = run(['sft', '--model', 'x', '--device', 'tpu']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /r1ts sft: --device tpu \(or R1TS_DEVICE\): expected cpu or webgpu/);
  const takers = ['chat x', 'serve x', 'eval --task add --model x', 'logits x --ids i --out o', 'sample --task add --out o --teacher x', 'distill', 'pipeline'];
  for (const args of takers.map((a) => a.split(' '))) {
    const cmd = args[0];
    const b = run([...args, '--device', 'tpu']);
    assert.equal(b.status, 2, cmd);
    assert.match(b.stderr, new RegExp(`r1ts ${cmd}: --device tpu \\(or R1TS_DEVICE\\): expected cpu or webgpu`));
  }
});

test('r1ts pretrain --device webgpu without an adapter says why and continues on the CPU', async (t) => {
  // No adapter is simulated by a bogus EGL platform, which removes the GL ES (software) path;
  // where a core adapter (a real GPU) exists this cannot take it away, so the test skips there.
  const k = await gpu();
  if (typeof k !== 'string' && k.ctx.adapter.backend !== 'opengles') return t.skip('a core WebGPU adapter exists here; no-adapter fallback not simulable');
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-cli-webgpu-fallback-'));
  try {
    const data = join(dir, 'tiny.txt');
    writeFileSync(data, syntheticCorpus(4_000, 5).join('\n\n') + '\n');
    const r = run(['pretrain', '--data', data, '--vocab', '270', '--depth', '1', '--seq', '16', '--batch', '2', '--steps', '1', '--out', join(dir, 'run'), '--no-progress', '--device', 'webgpu'], { EGL_PLATFORM: 'bogus' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /--device webgpu: .*(no WebGPU adapter|WebGPU is unavailable).*continuing on the CPU backend/);
    assert.match(r.stderr, /1 steps, loss/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
