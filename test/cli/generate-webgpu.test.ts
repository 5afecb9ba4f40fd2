// The model-running commands with --device webgpu through the real entry point: `r1ts generate`
// on a tiny random model (fixture tokenizer) prints the CPU command's greedy output (selected by
// R1TS_DEVICE) and `r1ts logits` its logits within 1e-4 — with --dtype f16, the logits of the CPU
// model whose Linear weights were rounded to f16, within 1e-5; `r1ts chat -p` likewise; `r1ts eval` of the shipped zero base on the device gives
// the CPU's completions, and so does `r1ts serve --device webgpu` graded over HTTP by `r1ts eval
// --base-url` against the CPU in-process grading; a one-step GRPO run on the device (--device)
// writes its metrics and a loadable model; a bad --device value is named; with no adapter
// (simulated by a bogus EGL platform, possible only where the adapter is the GL ES software one)
// generate says why and continues on the CPU. Skips without an adapter (fails under CI=true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { buildModel, loadHfModel, saveHfModel } from '../../src/io/hf.ts';
import { linearWeights } from '../../src/nn/layers.ts';
import { loadModel } from '../../src/io/load.ts';
import { densePreset } from '../../src/models/config.ts';
import { gpu, gpuOrSkip } from '../backend/webgpu-setup.ts';
import { roundToF16 } from '../helpers.ts';

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

  // r1ts logits: the full logits on the device, within f32 rounding of the CPU's
  const idsPath = join(dir, 'ids.json');
  writeFileSync(idsPath, JSON.stringify([[1, 5, 9, 200, 3, 77], [4, 4, 300, 12, 0, 8]]));
  const npy = (p: string): Float32Array => {
    const b = readFileSync(p);
    const start = 10 + b.readUInt16LE(8);
    return new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  };
  const lc = run(['logits', hf, '--ids', idsPath, '--out', join(dir, 'cpu.npy')]);
  assert.equal(lc.status, 0, lc.stderr);
  const ld = run(['logits', hf, '--ids', idsPath, '--out', join(dir, 'dev.npy'), '--device', 'webgpu']);
  assert.equal(ld.status, 0, ld.stderr);
  assert.match(ld.stderr, /\(on webgpu\)/);
  const [a, b] = [npy(join(dir, 'cpu.npy')), npy(join(dir, 'dev.npy'))];
  assert.equal(b.length, a.length);
  assert.equal(a.length, 2 * 6 * 330);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst < 1e-4, `logits differ by ${worst}`);

  // --dtype f16: the logits of the CPU model whose Linear weights were rounded to f16 (roundToF16)
  const rounded = join(dir, 'hf-rounded');
  const m = loadHfModel(hf);
  for (const w of linearWeights(m)) (w.data as Float32Array).forEach((x, i, d) => (d[i] = roundToF16(x)));
  saveHfModel(m, rounded);
  copyFileSync(join(hf, 'tokenizer.json'), join(rounded, 'tokenizer.json'));
  const lr = run(['logits', rounded, '--ids', idsPath, '--out', join(dir, 'rounded.npy')]);
  assert.equal(lr.status, 0, lr.stderr);
  const lh = run(['logits', hf, '--ids', idsPath, '--out', join(dir, 'half.npy'), '--device', 'webgpu', '--dtype', 'f16']);
  assert.equal(lh.status, 0, lh.stderr);
  assert.match(lh.stderr, /\(on webgpu, f16 weights\)/);
  const [r, h] = [npy(join(dir, 'rounded.npy')), npy(join(dir, 'half.npy'))];
  let halfWorst = 0, rounding = 0;
  for (let i = 0; i < a.length; i++) {
    halfWorst = Math.max(halfWorst, Math.abs(h[i] - r[i]));
    rounding = Math.max(rounding, Math.abs(a[i] - r[i]));
  }
  assert.ok(halfWorst < 1e-5, `f16 logits differ from the rounded-weight CPU logits by ${halfWorst}`);
  assert.ok(rounding > 10 * halfWorst, `the rounding (${rounding}) must show above the summation error (${halfWorst})`);
  const noDevice = run(['logits', hf, '--ids', idsPath, '--out', join(dir, 'x.npy'), '--dtype', 'f16']);
  assert.equal(noDevice.status, 2);
  assert.match(noDevice.stderr, /--dtype f16 runs on the webgpu device only .*add --device webgpu/);
  assert.match(run([...args, '--device', 'webgpu', '--dtype', 'bf16']).stderr, /r1ts generate: --dtype bf16: expected f32 or f16/);
});

test('r1ts chat, eval and serve --device webgpu: the CPU commands\' greedy results', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  // chat -p: the tiny model with the fixture's chat template
  const hf = modelDir(256);
  copyFileSync(join(root, 'test/fixtures/tokenizer/tiny-bpe.config.json'), join(hf, 'tokenizer_config.json'));
  const chat = ['chat', hf, '-p', 'hello', '--max-tokens', '10', '--temperature', '0'];
  const chatCpu = run(chat);
  assert.equal(chatCpu.status, 0, chatCpu.stderr);
  const chatDev = run([...chat, '--device', 'webgpu']);
  assert.equal(chatDev.status, 0, chatDev.stderr);
  assert.doesNotMatch(chatDev.stderr, /continuing on the CPU/);
  assert.equal(chatDev.stdout, chatCpu.stdout);

  // eval and serve: the shipped zero base (it writes digits), with a plain chat template of its own for serve
  const base = join(dir, 'zero-base');
  mkdirSync(base);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) copyFileSync(join(root, 'assets/zero-base', f), join(base, f));
  const cfg = JSON.parse(readFileSync(join(root, 'assets/zero-base/tokenizer_config.json'), 'utf8'));
  writeFileSync(join(base, 'tokenizer_config.json'), JSON.stringify({ ...cfg, chat_template: "{{ eos_token }}User: {{ messages[-1]['content'] }}\nAssistant:" }));
  type Row = { id: string; completions: string[]; answers: (string | null)[] };
  const evalRows = (args: string[], out: string, env: Record<string, string> = {}): Row[] => {
    const r = run(['eval', '--task', 'add', '--limit', '4', '--temperature', '0', '--max-tokens', '40', ...args, '--out', out], env);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /continuing on the CPU/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { config: { device?: string; dtype?: string }; results: Row[] };
    if (args.includes('--model')) {
      assert.equal(report.config.device, args.includes('--device') ? 'webgpu' : 'cpu', 'the report names where the model ran');
      assert.equal(report.config.dtype, args.includes('f16') ? 'f16' : 'f32', 'and its weights\' precision');
    }
    return report.results;
  };
  const cpu = evalRows(['--model', base], join(dir, 'eval-cpu.json'));
  const dev = evalRows(['--model', base, '--device', 'webgpu'], join(dir, 'eval-dev.json'));
  assert.deepEqual(dev.map((r) => r.completions), cpu.map((r) => r.completions));
  assert.ok(cpu.some((r) => r.answers[0] !== null), 'the base should answer with numbers');
  // f16 weights: the same runs on half-precision weights (the logits test above checks their values)
  const half = evalRows(['--model', base, '--device', 'webgpu', '--dtype', 'f16'], join(dir, 'eval-f16.json'));
  assert.ok(half.some((r) => r.answers[0] !== null), 'the base on f16 weights should answer with numbers');

  const chatCpuRows = evalRows(['--model', base, '--template', 'chat'], join(dir, 'eval-chat.json'));
  const server = spawn(process.execPath, [join(root, 'bin/r1ts.mjs'), 'serve', base, '--port', '0', '--model-name', 'base', '--device', 'webgpu'], { cwd: root });
  try {
    let err = '';
    const url = await new Promise<string>((ok, fail) => {
      server.stderr.on('data', (d) => {
        err += d;
        const m = /on (http:\/\/\S+)\/v1 \(max batch \d+, on webgpu\)/.exec(err);
        if (m) ok(m[1]);
      });
      server.on('exit', (code) => fail(new Error(`r1ts serve exited ${code}: ${err}`)));
    });
    const served = await new Promise<{ status: number | null; stderr: string }>((ok) => {
      const p = spawn(process.execPath, [join(root, 'bin/r1ts.mjs'), 'eval', '--task', 'add', '--limit', '4', '--temperature', '0', '--max-tokens', '40',
        '--base-url', `${url}/v1`, '--api-model', 'base', '--api-key', 'none', '--out', join(dir, 'eval-served.json')], { cwd: root });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => ok({ status, stderr }));
    });
    assert.equal(served.status, 0, served.stderr);
    const rows = (JSON.parse(readFileSync(join(dir, 'eval-served.json'), 'utf8')) as { results: Row[] }).results;
    assert.ok(rows.some((r) => r.answers[0] !== null), 'the served base should answer with numbers');
    assert.deepEqual(rows.map((r) => r.answers), chatCpuRows.map((r) => r.answers), 'the device server\'s answers differ from the CPU\'s in-process ones');
  } finally {
    const exited = new Promise((ok) => server.on('exit', ok));
    server.kill('SIGTERM');
    await exited;
  }
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
