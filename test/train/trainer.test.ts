// trainLM: a tiny model overfits a tiny corpus; a run stopped (abort, SIGINT,
// or kill -9 of a child process) and resumed yields bit-identical losses to an
// uninterrupted one; metrics, checkpoints and the final model directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PackedBatcher } from '../../src/data/pack.ts';
import { latestCheckpoint, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { buildModel } from '../../src/io/hf.ts';
import { loadModel } from '../../src/io/load.ts';
import { densePreset } from '../../src/models/config.ts';
import { Rng } from '../../src/core/rng.ts';
import { currentBackend, ids, noGrad } from '../../src/tensor/index.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { measureGemmFlops, measurePeakFlops, trainLM, type TrainOptions } from '../../src/train/trainer.ts';
import { tinySetup, V } from './fixtures/tiny-setup.ts';

const root = resolve(import.meta.dirname, '../..');
const tmp = () => mkdtempSync(join(tmpdir(), 'r1ts-train-'));

function opts(outDir: string, arch: 'dense' | 'moe' = 'dense', extra: Partial<TrainOptions> = {}): TrainOptions {
  const { model, train, eval: evalB } = tinySetup(arch);
  return {
    model, train, eval: evalB, outDir, steps: 30, lr: 3e-3, warmupSteps: 3, checkpointEvery: 10, evalEvery: 10, evalBatches: 2,
    progress: false, peakFlops: 1e9, seed: 5, ...extra,
  };
}

test('a tiny model memorizes a tiny corpus; metrics, checkpoints and a loadable model dir', async () => {
  const dir = tmp();
  try {
    const tokens = Int32Array.from({ length: 65 }, (_, i) => (i * 5 + (i >> 3)) % V); // 4 windows of 16
    const model = buildModel(densePreset(1, V, 32), new Rng(0));
    const train = new PackedBatcher(tokens, { batch: 4, seqLen: 16, seed: 0 });
    const r = await trainLM({ model, train, outDir: dir, steps: 80, lr: 1e-2, warmupSteps: 5, schedule: 'constant', weightDecay: 0, progress: false, peakFlops: 1e9 });
    assert.equal(r.stopped, false);
    assert.ok(r.losses[0] > 2.5, `first loss ${r.losses[0]}`);
    assert.ok(r.losses.at(-1)! < 0.05, `last loss ${r.losses.at(-1)}`);
    const m = readJsonl(join(dir, 'metrics.jsonl'));
    assert.deepEqual(m.map((x) => x.step), Array.from({ length: 80 }, (_, i) => i + 1));
    for (const k of ['time', 'loss', 'lr', 'grad_norm', 'tokens_per_s', 'mfu']) assert.equal(typeof m[0][k], 'number', k);
    assert.equal(m[0].lr, 1e-2 / 5);
    assert.equal(latestCheckpoint(join(dir, 'checkpoints')), join(dir, 'checkpoints', 'step-00000080'));
    const { model: loaded, kind } = loadModel(r.modelDir!);
    assert.equal(kind, 'huggingface');
    const x = ids(train.tokens.subarray(0, 16), [1, 16]);
    const a = noGrad(() => model.forward(x).logits.data), b = noGrad(() => loaded.forward(x).logits.data);
    assert.deepEqual(b, a);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const arch of ['dense', 'moe'] as const) {
  test(`${arch}: stopped at step 10 (abort) and resumed, steps 11..30 are bit-identical`, async () => {
    const a = tmp(), b = tmp();
    try {
      const full = await trainLM(opts(a, arch));
      const ac = new AbortController();
      const first = await trainLM(opts(b, arch, { onStep: (m) => m.step === 10 && ac.abort(), signal: ac.signal }));
      assert.equal(first.stopped, true);
      assert.equal(first.step, 10);
      assert.equal(first.modelDir, null);
      const second = await trainLM(opts(b, arch, { resume: true }));
      assert.equal(second.startStep, 10);
      assert.deepEqual(second.losses, full.losses.slice(10));
      const ma = readJsonl(join(a, 'metrics.jsonl')), mb = readJsonl(join(b, 'metrics.jsonl'));
      assert.deepEqual(mb.map((m) => m.step), ma.map((m) => m.step));
      assert.deepEqual(mb.map((m) => m.eval_loss), ma.map((m) => m.eval_loss));
      if (arch === 'moe') {
        assert.ok((ma[0].expert_load_max as number) >= 1);
        // per layer, every expert's load over the mean (the dashboard's heatmap): averages 1, max is expert_load_max
        const load = ma[0].expert_load as number[][];
        assert.ok(Array.isArray(load) && load.length > 0 && load.every((l) => l.length === load[0].length && l.length > 1));
        for (const l of load) assert.ok(Math.abs(l.reduce((x, v) => x + v, 0) / l.length - 1) < 0.01, `mean ${l}`);
        assert.ok(Math.abs(Math.max(...load.flat()) - (ma[0].expert_load_max as number)) < 1e-3);
      }
      // a fresh run refuses to write over a run's checkpoints
      await assert.rejects(trainLM(opts(b, arch)), /already holds checkpoints/);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
}

function runChild(outDir: string, mode: string, onLine: (line: string, kill: (sig: NodeJS.Signals) => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/train/fixtures/train-child.ts'), outDir, mode], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', buf = '', err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onLine(line, (sig) => p.kill(sig));
      }
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', rej);
    p.on('close', (code, signal) => (code !== 0 && signal === null ? rej(new Error(`child exited ${code}: ${err}`)) : res({ code, signal, out })));
  });
}

test('a child killed with SIGKILL after checkpoint 10 resumes bit-exactly; SIGINT stops cleanly', async () => {
  const a = tmp(), b = tmp(), c = tmp();
  try {
    const killed = runChild(b, 'hang', (line, kill) => line === 'step 10' && kill('SIGKILL'));
    const full = await trainLM(opts(a));
    const k = await killed;
    assert.equal(k.signal, 'SIGKILL');
    const latest = latestCheckpoint(join(b, 'checkpoints'))!;
    assert.match(latest, /step-00000010$/);
    const { model } = tinySetup();
    assert.equal(loadCheckpoint(latest, { model, optimizer: null, rng: null }).step, 10);
    const resumed = await trainLM(opts(b, 'dense', { resume: true }));
    assert.deepEqual(resumed.losses, full.losses.slice(10));
    assert.deepEqual(readJsonl(join(b, 'metrics.jsonl')).map((m) => m.loss), readJsonl(join(a, 'metrics.jsonl')).map((m) => m.loss));
    // SIGINT: the step finishes, a checkpoint is saved, the process exits 0 with stopped: true
    let sent = false;
    const s = await runChild(c, 'sigint', (line, kill) => {
      if (line === 'step 5' && !sent) (sent = true), kill('SIGINT');
    });
    assert.equal(s.code, 0);
    const res = JSON.parse(/result (.*)/.exec(s.out)![1]);
    assert.equal(res.stopped, true);
    assert.ok(res.step >= 5 && res.step < 30);
    assert.match(latestCheckpoint(join(c, 'checkpoints'))!, new RegExp(`step-${String(res.step).padStart(8, '0')}$`));
  } finally {
    for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
  }
});

test('the peak probes measure positive rates once per process; MFU uses the FMA peak where the backend has one', () => {
  const g = measureGemmFlops(0.05);
  assert.ok(g > 1e8, `${g}`);
  assert.equal(measureGemmFlops(), g);
  const p = measurePeakFlops(0.05);
  assert.equal(measurePeakFlops(), p);
  assert.ok(p > 1e8, `${p}`);
  if (currentBackend().fmaPeak(0.01) === null) assert.equal(p, g);
  else assert.notEqual(p, g);
});
