// GRPO on the webgpu device against the same run on the CPU: a tiny Llama policy and its
// reference (β > 0, so the reference's log-probs are computed on the device too), μ = 2,
// temperature 0.7, two micro-batches per step, three steps. The rollouts must be the same
// tokens (the device engine samples on the host from logits that agree to ~1e-5, and these
// seeds are far from any sampling boundary); for those same rollouts the step's loss, KL,
// clip fraction, ratio and entropy are held to 1e-4 relative (+1e-6 absolute) and the gradient
// norm to 1e-3 relative (f32 summation order through a forward, a backward and the device's
// f32 norm vs the host's double), and the final parameters to 5e-4 absolute (AdamW at lr 1e-2
// can turn a tiny gradient difference into a move of up to lr). Measured here (llvmpipe): the
// figures differ by at most 1e-6 absolute, the parameters by 1.2e-5.
// A tiny DeepSeek-V3 MoE policy the same way (β = 0): the router-bias update runs on the device and
// the step's expert loads (read back with the losses) equal the CPU's.
// Skips without an adapter (fails under CI=true).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { densePreset, moePreset } from '../../src/models/config.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import { Llama } from '../../src/models/llama.ts';
import * as T from '../../src/tensor/index.ts';
import { GRPO_DEFAULTS, GrpoTrainer } from '../../src/train/grpo.ts';
import { gpuOrSkip } from '../backend/webgpu-setup.ts';
import { sayATask, sayATokenizer } from './fixtures/say-a.ts';

after(() => T.useDeviceContext(null));

const close = (a: number, b: number, rtol: number, atol = 1e-6) => Math.abs(a - b) <= atol + rtol * Math.abs(b);
/** The largest elementwise difference between two lists of parameter arrays. */
const maxDiff = (a: Float32Array[], b: Float32Array[]) => a.reduce((m, p, i) => p.reduce((mm, x, j) => Math.max(mm, Math.abs(x - b[i][j])), m), 0);

test('webgpu: GRPO steps (β > 0, μ = 2, T = 0.7, micro-batches) on the device match the CPU: rollouts, loss, KL, grad norm, parameters', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const tokenizer = sayATokenizer();
  const run = async (dev: boolean) => {
    const model = new Llama(densePreset(1, tokenizer.vocabSize, 64), new Rng(3));
    const reference = new Llama(densePreset(1, tokenizer.vocabSize, 64), new Rng(4));
    if (dev) T.moveToDevice([model, reference].flatMap((m) => m.namedTensors().map(([, t]) => t)));
    const engine = new Engine(model, { maxBatch: 16, decode: (ids) => tokenizer.decode(ids) });
    assert.equal(engine.onDevice, dev);
    const trainer = new GrpoTrainer({ model, reference, engine, tokenizer, task: sayATask, encodePrompt: () => tokenizer.encode('the cat '), stopTokens: [], stopStrings: [] }, {
      ...GRPO_DEFAULTS, promptsPerStep: 2, groupSize: 6, maxTokens: 6, lr: 1e-2, beta: 0.1, mu: 2, temperature: 0.7, microBatchPositions: 40, dynamicSampling: false, seed: 7,
    });
    assert.equal(trainer.onDevice, dev);
    const steps = [];
    for (let s = 0; s < 3; s++) {
      const { metrics, rollouts } = await trainer.step();
      steps.push({ metrics, tokens: rollouts.map((r) => r.result.tokens) });
    }
    engine.dispose();
    if (dev) await T.moveToHost([model, reference].flatMap((m) => m.namedTensors().map(([, t]) => t)));
    return { steps, params: model.parameters().map((p) => Float32Array.from(p.data as Float32Array)) };
  };
  const h = await run(false);
  const d = await run(true);
  h.steps.forEach((hs, s) => {
    const ds = d.steps[s];
    assert.deepEqual(ds.tokens, hs.tokens, `step ${s}: the same rollouts`);
    assert.ok(hs.metrics.micro_batches >= 2, `step ${s}: ${hs.metrics.micro_batches} micro-batches (the test wants several)`);
    for (const key of ['loss', 'kl', 'clip_fraction', 'ratio', 'entropy']) {
      assert.ok(close(ds.metrics[key], hs.metrics[key], 1e-4), `step ${s} ${key}: webgpu ${ds.metrics[key]} vs cpu ${hs.metrics[key]}`);
    }
    assert.ok(close(ds.metrics.grad_norm, hs.metrics.grad_norm, 1e-3), `step ${s} grad_norm: webgpu ${ds.metrics.grad_norm} vs cpu ${hs.metrics.grad_norm}`);
    assert.equal(ds.metrics.micro_batches, hs.metrics.micro_batches);
  });
  assert.ok(h.steps[2].metrics.kl > 0, 'the KL term is live by the last step');
  const worst = maxDiff(h.params, d.params);
  assert.ok(worst < 5e-4, `parameters after 3 steps differ by up to ${worst}`);
});

test('webgpu: GRPO steps of a tiny DeepSeek-V3 MoE policy on the device match the CPU: rollouts, loss, expert loads, parameters', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const tokenizer = sayATokenizer();
  const run = async (dev: boolean) => {
    const model = new DeepseekV3({ ...moePreset(2, tokenizer.vocabSize, 48), bias_update_speed: 0.01 }, new Rng(3));
    if (dev) T.moveToDevice(model.namedTensors().map(([, t]) => t));
    const engine = new Engine(model, { maxBatch: 16, decode: (ids) => tokenizer.decode(ids) });
    const trainer = new GrpoTrainer({ model, reference: null, engine, tokenizer, task: sayATask, encodePrompt: () => tokenizer.encode('the '), stopTokens: [], stopStrings: [] }, {
      ...GRPO_DEFAULTS, promptsPerStep: 2, groupSize: 6, maxTokens: 5, lr: 1e-2, dynamicSampling: false, seed: 3,
    });
    const steps = [];
    for (let s = 0; s < 2; s++) {
      const { metrics, rollouts, expertLoad } = await trainer.step();
      steps.push({ metrics, expertLoad, tokens: rollouts.map((r) => r.result.tokens) });
    }
    engine.dispose();
    if (dev) await T.moveToHost(model.namedTensors().map(([, t]) => t));
    return { steps, params: model.parameters().map((p) => Float32Array.from(p.data as Float32Array)) };
  };
  const h = await run(false);
  const d = await run(true);
  h.steps.forEach((hs, s) => {
    const ds = d.steps[s];
    assert.deepEqual(ds.tokens, hs.tokens, `step ${s}: the same rollouts`);
    assert.ok(close(ds.metrics.loss, hs.metrics.loss, 1e-4), `step ${s} loss: webgpu ${ds.metrics.loss} vs cpu ${hs.metrics.loss}`);
    assert.ok(close(ds.metrics.grad_norm, hs.metrics.grad_norm, 1e-3), `step ${s} grad_norm: webgpu ${ds.metrics.grad_norm} vs cpu ${hs.metrics.grad_norm}`);
    assert.ok(hs.expertLoad, `step ${s}: expert load reported`);
    assert.deepEqual(ds.expertLoad, hs.expertLoad, `step ${s}: expert loads`);
  });
  assert.ok(h.steps.some((s) => s.metrics.grad_norm > 0), 'some step had a gradient');
  const worst = maxDiff(h.params, d.params);
  assert.ok(worst < 5e-4, `parameters after 2 steps differ by up to ${worst}`);
});
