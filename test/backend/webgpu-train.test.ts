// Training the real models through the tensor engine on the webgpu device: a tiny Qwen2
// (2 layers, d 32, GQA, q/k/v biases, tied head: the embedding gets gradients from two uses)
// and a tiny Llama trained by trainLM with device 'webgpu', each against the same run on the
// CPU backend. Tolerance: each op differs from the CPU by f32 summation order (~1e-6
// relative); through 3-4 AdamW steps at lr 1e-2 (whose m/√v can turn a tiny gradient
// difference on a near-zero gradient into a parameter move of up to lr) losses are held to
// 1e-4 relative and parameters to 5e-4 absolute (measured here: both agree within 2e-5);
// the gradient norm (f32 on the device, double on the host) to 1e-3 relative.
// One submit per step: the step records everything and reads the losses and norm once. The
// optimizer's first step packs the parameters (their moments and gradients alike).
// A tiny DeepSeek-V3 MoE trained by trainLM on the device (the router-bias update there): losses
// within 1e-4 relative of the CPU's and the same expert loads (the same routing) every step.
// Skips without an adapter (fails under CI=true).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { PackedBatcher } from '../../src/data/pack.ts';
import { buildModel } from '../../src/io/hf.ts';
import { llamaConfigSchema, moePreset } from '../../src/models/config.ts';
import type { CausalLM } from '../../src/models/model.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { clipGradNorm, clipGradNormTensor } from '../../src/optim/clip.ts';
import { devicePackOf, endDeviceStep, ids, moveToDevice, moveToHost, readValues, useDeviceContext, type Tensor } from '../../src/tensor/index.ts';
import { trainLM } from '../../src/train/trainer.ts';
import { randI32, rng } from '../helpers.ts';
import { gpuOrSkip } from './webgpu-setup.ts';

after(() => useDeviceContext(null));

const V = 53, B = 2, T = 12;

function tiny(modelType: 'llama' | 'qwen2', tied: boolean): CausalLM {
  const cfg = llamaConfigSchema.parse({
    model_type: modelType, vocab_size: V, hidden_size: 32, intermediate_size: 72, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, rms_norm_eps: 1e-5, tie_word_embeddings: tied,
  });
  return buildModel(cfg, new Rng(3));
}

test('webgpu: a tiny Qwen2 trained 4 steps (AdamW, global-norm clipping) on the device matches the CPU backend; one submit per step', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  useDeviceContext(k.ctx);
  const r = rng(11);
  const one = { x: randI32(r, B * T, V), y: randI32(r, B * T, V) };
  one.y[5] = -100; // an ignored target
  const batches = [one, one, one, one]; // the same batch: the loss must fall

  const run = async (dev: boolean) => {
    const model = tiny('qwen2', true);
    const params = model.parameters();
    if (dev) moveToDevice(model.namedTensors().map(([, t]) => t));
    const opt = new AdamW(params, { lr: 1e-2, beta1: 0.9, beta2: 0.95, weightDecay: 0.1 });
    const losses: number[] = [], norms: number[] = [], created: number[] = [];
    for (const b of batches) {
      const submits: number = k.ctx.stats.submits, reuses: number = k.ctx.stats.batchReuses;
      opt.zeroGrad();
      const { loss } = model.loss(ids(b.x, [B, T]), ids(b.y, [B, T])); // ids, targets: [B, T]
      loss.backward();
      if (dev) {
        const norm: Tensor = clipGradNormTensor(params, 0.5);
        opt.step();
        const [l, n] = await readValues([loss, norm]);
        endDeviceStep();
        losses.push(l[0]);
        norms.push(n[0]);
        assert.equal(k.ctx.stats.submits, submits + 1, 'one submit per training step');
        assert.ok(devicePackOf(params), 'the optimizer packed the parameters (their AdamW, norm and rescale: one dispatch each)');
        created.push(k.ctx.stats.buffersCreated);
        // Backward retires activations and gradients the tape proves dead; later outputs of the same step reuse them.
        assert.ok(k.ctx.stats.batchReuses > reuses, 'buffers retired by backward are reused within the step');
      } else {
        losses.push(loss.item());
        norms.push(clipGradNorm(params, 0.5));
        opt.step();
      }
    }
    // The step's buffers go back to the pool: after the first steps no new device buffers are made.
    if (dev) assert.equal(created[3], created[1], `device buffers created after steps 1-4: ${created.join(', ')}`);
    if (dev) await moveToHost([...model.namedTensors().map(([, t]) => t), ...opt.stateTensors()]);
    return { losses, norms, embed: Float32Array.from(params[0].data) };
  };
  const cpu = await run(false);
  const gpu = await run(true);
  gpu.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]) <= 1e-4 * Math.abs(cpu.losses[i]), `step ${i + 1}: loss ${l} on webgpu vs ${cpu.losses[i]} on the CPU`));
  gpu.norms.forEach((n, i) => assert.ok(Math.abs(n - cpu.norms[i]) <= 1e-3 * cpu.norms[i], `step ${i + 1}: grad norm ${n} vs ${cpu.norms[i]}`));
  assert.ok(cpu.norms.some((n) => n > 0.5), 'clipping was active on some step (the test covers the rescale)');
  assert.ok(cpu.losses[3] < cpu.losses[0], 'the loss goes down');
  let maxDiff = 0;
  gpu.embed.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - cpu.embed[i]))));
  assert.ok(maxDiff < 5e-4, `tied embedding after 4 steps differs by ${maxDiff}`);
});

test('webgpu: trainLM with device webgpu (2 micro-batches per step) writes the same losses as on the CPU, checkpoints, resumes, and leaves the model on the host', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  useDeviceContext(k.ctx);
  const tokens = randI32(rng(21), 600, V);
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-webgpu-train-'));
  try {
    const runOn = async (device: 'cpu' | 'webgpu', steps = 3, resume = false) => {
      const model = tiny('llama', false);
      const r = await trainLM({
        model, train: new PackedBatcher(tokens, { batch: B, seqLen: T, seed: 1 }), eval: new PackedBatcher(tokens.subarray(0, 100), { batch: B, seqLen: T, shuffle: false }),
        steps, lr: 1e-2, warmupSteps: 0, gradAccum: 2, evalBatches: 2, checkpointEvery: 2, outDir: join(dir, device), progress: false, handleSignals: false, peakFlops: 1e12, device, resume,
      });
      return { r, model, metrics: readJsonl(join(dir, device, 'metrics.jsonl')) as Record<string, number>[] };
    };
    const cpu = await runOn('cpu');
    const gpu = await runOn('webgpu');
    assert.equal(gpu.r.losses.length, 3);
    gpu.r.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.r.losses[i]) <= 1e-4 * cpu.r.losses[i], `step ${i + 1}: ${l} vs ${cpu.r.losses[i]}`));
    assert.ok(Math.abs(gpu.r.evalLoss! - cpu.r.evalLoss!) <= 1e-4 * cpu.r.evalLoss!, `eval loss ${gpu.r.evalLoss} vs ${cpu.r.evalLoss}`);
    gpu.metrics.forEach((m, i) => assert.ok(Math.abs(m.grad_norm - cpu.metrics[i].grad_norm) <= 1e-3 * cpu.metrics[i].grad_norm, `grad_norm at step ${i + 1}`));
    assert.equal(gpu.metrics[0].mfu, undefined, 'no MFU on the device');
    assert.ok(gpu.r.checkpoint && gpu.r.modelDir);
    // The model is back on the host after the run, equal to the CPU run's within tolerance.
    const a = gpu.model.parameters(), b = cpu.model.parameters();
    a.forEach((p, i) => {
      assert.equal(p.device, 'cpu');
      let d = 0;
      const x = p.data, y = b[i].data;
      for (let j = 0; j < x.length; j++) d = Math.max(d, Math.abs(x[j] - y[j]));
      assert.ok(d < 5e-4, `parameter ${i} differs by ${d}`);
    });
    // Resuming on the device continues from the checkpoint (model and AdamW moments loaded on the host, then moved).
    const cpu2 = await runOn('cpu', 4, true), gpu2 = await runOn('webgpu', 4, true);
    assert.equal(gpu2.r.startStep, 3);
    assert.ok(Math.abs(gpu2.r.losses[0] - cpu2.r.losses[0]) <= 1e-4 * cpu2.r.losses[0], `resumed step 4: ${gpu2.r.losses[0]} vs ${cpu2.r.losses[0]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('webgpu: trainLM on a tiny DeepSeek-V3 MoE with device webgpu (router-bias update on the device) writes the CPU run\'s losses and expert loads', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  useDeviceContext(k.ctx);
  const tokens = randI32(rng(23), 600, V);
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-webgpu-train-moe-'));
  try {
    const runOn = async (device: 'cpu' | 'webgpu') => {
      const model = buildModel({ ...moePreset(2, V, 32), hidden_size: 64, bias_update_speed: 0.01 }, new Rng(6));
      const r = await trainLM({
        model, train: new PackedBatcher(tokens, { batch: B, seqLen: T, seed: 1 }), steps: 3, lr: 5e-3, warmupSteps: 0, gradAccum: 1,
        outDir: join(dir, device), progress: false, handleSignals: false, peakFlops: 1e12, device,
      });
      return { r, metrics: readJsonl(join(dir, device, 'metrics.jsonl')) as Record<string, unknown>[] };
    };
    const cpu = await runOn('cpu');
    const gpu = await runOn('webgpu');
    gpu.r.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.r.losses[i]) <= 1e-4 * cpu.r.losses[i], `step ${i + 1}: ${l} vs ${cpu.r.losses[i]}`));
    gpu.metrics.forEach((m, i) => {
      assert.ok(Array.isArray(m.expert_load), `step ${i + 1}: expert_load logged`);
      assert.deepEqual(m.expert_load, cpu.metrics[i].expert_load, `step ${i + 1}: the same routing, the same expert loads`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
