// Training checkpoints: resuming continues with bit-identical losses, and a
// process killed with SIGKILL while checkpointing never leaves a half-written
// checkpoint behind `latest`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { Llama } from '../../src/models/llama.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { tinyLlama } from '../models/helpers.ts';
import { llamaConfigSchema } from '../../src/models/config.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-ckpt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function setup(seed: number) {
  const model = new Llama(tinyLlama({ hidden_size: 16, intermediate_size: 24, vocab_size: 13 }), new Rng(seed));
  return { model, opt: new AdamW(model.parameters(), { lr: 3e-3 }), rng: new Rng(seed + 100) };
}

/** One step on a batch drawn from the run's RNG (so resuming must restore it too). */
function step(s: ReturnType<typeof setup>): number {
  const ids = T.ids(Int32Array.from({ length: 2 * 6 }, () => s.rng.int(13)), [2, 6]);
  const tg = T.ids(Int32Array.from({ length: 2 * 6 }, () => s.rng.int(13)), [2, 6]);
  const { loss } = s.model.loss(ids, tg);
  s.opt.zeroGrad();
  loss.backward();
  s.opt.step();
  return loss.item();
}

test('resuming from a checkpoint gives the same losses bit for bit', () => {
  const a = setup(1);
  const straight = Array.from({ length: 10 }, () => step(a));

  const b = setup(1);
  const first = Array.from({ length: 4 }, () => step(b));
  const ckRoot = join(dir, 'run');
  saveCheckpoint(ckRoot, { model: b.model, optimizer: b.opt, rng: b.rng, step: 4, dataPosition: { batch: 4 } });
  const c = setup(99); // different weights, optimizer and RNG: everything must come from the checkpoint
  const st = loadCheckpoint(latestCheckpoint(ckRoot)!, { model: c.model, optimizer: c.opt, rng: c.rng });
  assert.equal(st.step, 4);
  assert.deepEqual(st.dataPosition, { batch: 4 });
  const rest = Array.from({ length: 6 }, () => step(c));
  assert.deepEqual([...first, ...rest], straight);
});

test('old checkpoints are pruned; latest names the newest complete one', () => {
  const s = setup(2);
  const ckRoot = join(dir, 'prune');
  for (let i = 1; i <= 4; i++) saveCheckpoint(ckRoot, { model: s.model, optimizer: s.opt, rng: s.rng, step: i * 10, keep: 2 });
  assert.deepEqual(readdirSync(ckRoot).filter((d) => d.startsWith('step-')).sort(), ['step-00000030', 'step-00000040']);
  assert.match(latestCheckpoint(ckRoot)!, /step-00000040$/);
  assert.equal(latestCheckpoint(join(dir, 'none')), null);
});

function killedModel(): Llama {
  return new Llama(llamaConfigSchema.parse({ model_type: 'llama', vocab_size: 512, hidden_size: 128, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 2 }), new Rng(0));
}

const killer = `
import { saveCheckpoint } from './src/io/checkpoint.ts';
import { Llama } from './src/models/llama.ts';
import { llamaConfigSchema } from './src/models/config.ts';
import { AdamW } from './src/optim/adamw.ts';
import { Rng } from './src/core/rng.ts';
const cfg = llamaConfigSchema.parse({ model_type: 'llama', vocab_size: 512, hidden_size: 128, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 2 });
const model = new Llama(cfg, new Rng(0));
const opt = new AdamW(model.parameters());
for (let step = 1; ; step++) {
  model.parameters()[0].data.fill(step);  // each checkpoint's content names its step
  saveCheckpoint(process.argv[1], { model, optimizer: opt, rng: new Rng(step), step, keep: 3 });
  if (step === 1) console.log('saving');
}
`;

test('SIGKILL while checkpointing never leaves latest pointing at a partial checkpoint', async () => {
  for (const delay of [700, 1100, 1500]) { // the save loop is killed at different points of a write
    const ckRoot = join(dir, `kill-${delay}`);
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', killer, ckRoot], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((done) => p.stdout!.once('data', () => done()));
    await new Promise((r) => setTimeout(r, delay));
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    const latest = latestCheckpoint(ckRoot);
    assert.ok(latest, 'a checkpoint exists');
    const st = loadCheckpoint(latest, { model: killedModel(), optimizer: null, rng: null });
    assert.ok(st.step >= 1);
    for (const d of readdirSync(ckRoot).filter((x) => x.startsWith('step-'))) {
      const full = join(ckRoot, d);
      for (const f of ['model.safetensors', 'optimizer.safetensors', 'state.json']) assert.ok(existsSync(join(full, f)), `${d}/${f} is present`);
      const step = Number(d.slice(5));
      const first = readSafetensors(join(full, 'model.safetensors')).tensors.get('embed.weight')!.data;
      assert.ok(first.every((v) => v === step), `${d} holds the data of step ${step}`);
    }
  }
});
