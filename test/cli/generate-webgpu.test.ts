// `r1ts generate --device webgpu` and `r1ts rl --device webgpu` through the real entry point
// on a tiny random model saved as a Hugging Face directory with the fixture tokenizer: greedy
// output on the device (selected by R1TS_DEVICE) equals the CPU command's; a one-step GRPO run
// on the device (--device) writes its metrics and a loadable model; a bad --device value is named; with no adapter (simulated by a
// bogus EGL platform, possible only where the adapter is the GL ES software one) generate says
// why and continues on the CPU. Skips without an adapter (fails under CI=true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { buildModel, saveHfModel } from '../../src/io/hf.ts';
import { loadModel } from '../../src/io/load.ts';
import { densePreset } from '../../src/models/config.ts';
import { gpu, gpuOrSkip } from '../backend/webgpu-setup.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-gen-webgpu-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(root, 'bin/r1ts.mjs'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });

/** A tiny dense model directory; ctx 400 holds the R1-Zero prompt (~360 tokens of this tokenizer) and a short completion. */
function modelDir(ctx = 64): string {
  const hf = join(dir, `hf-${ctx}`);
  saveHfModel(buildModel(densePreset(1, 330, ctx), new Rng(5)), hf);
  copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.json'), join(hf, 'tokenizer.json'));
  return hf;
}

test('r1ts generate --device webgpu: the CPU command\'s greedy output; a bad device is named', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const hf = modelDir();
  const args = ['generate', hf, '--prompt', 'hello world', '--max-tokens', '8', '--temperature', '0'];
  const cpu = run([...args, '--device', 'cpu']);
  assert.equal(cpu.status, 0, cpu.stderr);
  const dev = run(args, { R1TS_DEVICE: 'webgpu' }); // the environment selects it like the flag (rl below uses --device)
  assert.equal(dev.status, 0, dev.stderr);
  assert.doesNotMatch(dev.stderr, /continuing on the CPU/);
  assert.equal(dev.stdout, cpu.stdout);
  const bad = run([...args, '--device', 'tpu']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /r1ts generate: --device tpu \(or R1TS_DEVICE\): expected cpu or webgpu/);
});

test('r1ts rl --device webgpu: one GRPO step on the device, metrics and a loadable model', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  const hf = modelDir(400);
  const out = join(dir, 'rl');
  const r = run(['rl', '--model', hf, '--steps', '1', '--prompts', '2', '--group', '2', '--max-tokens', '4', '--no-dynamic-sampling', '--beta', '0.05',
    '--eval-every', '0', '--final-eval-items', '2', '--eval-items', '2', '--out', out, '--no-progress', '--device', 'webgpu']);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /continuing on the CPU/);
  const m = readJsonl(join(out, 'metrics.jsonl')) as Record<string, number>[];
  const step = m.find((x) => x.groups_trained !== undefined);
  assert.ok(step && Number.isFinite(step.loss) && Number.isFinite(step.grad_norm) && step.groups_trained === 2, JSON.stringify(m));
  assert.equal(loadModel(join(out, 'model')).kind, 'huggingface');
});

test('r1ts generate --device webgpu without an adapter says why and continues on the CPU', async (t) => {
  const k = await gpu();
  if (typeof k !== 'string' && k.ctx.adapter.backend !== 'opengles') return t.skip('a core WebGPU adapter exists here; no-adapter fallback not simulable');
  const hf = modelDir();
  const r = run(['generate', hf, '--prompt', 'hi', '--max-tokens', '3', '--temperature', '0', '--device', 'webgpu'], { EGL_PLATFORM: 'bogus' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /r1ts generate: --device webgpu: .*(no WebGPU adapter|WebGPU is unavailable).*continuing on the CPU backend/);
});
