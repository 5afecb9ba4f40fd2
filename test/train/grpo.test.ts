// The GRPO loop end to end on a tiny random model: a trivially learnable reward
// (say the letter 'a') must rise within a few seeded steps; dynamic sampling
// and the bookkeeping of a step are checked on the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { densePreset } from '../../src/models/config.ts';
import { Llama } from '../../src/models/llama.ts';
import type { Task } from '../../src/tasks/task.ts';
import { GRPO_DEFAULTS, GrpoTrainer, reflectionCount } from '../../src/train/grpo.ts';
import { sayATask, sayATokenizer } from './fixtures/say-a.ts';

function tinySetup(seed: number, prompt = 'the ') {
  const tokenizer = sayATokenizer();
  const model = new Llama(densePreset(1, tokenizer.vocabSize, 64), new Rng(seed));
  const task: Task = sayATask;
  const engine = new Engine(model, { maxBatch: 64, decode: (ids) => tokenizer.decode(ids) });
  const encodePrompt = () => tokenizer.encode(prompt);
  return { tokenizer, model, task, engine, encodePrompt };
}

test('GRPO raises a trivially learnable reward (seeded)', async () => {
  const { tokenizer, model, task, engine, encodePrompt } = tinySetup(3);
  const trainer = new GrpoTrainer({ model, reference: null, engine, tokenizer, task, encodePrompt, stopTokens: [], stopStrings: [] }, {
    ...GRPO_DEFAULTS, promptsPerStep: 4, groupSize: 8, maxTokens: 6, lr: 1e-2, seed: 1,
  });
  const rewards: number[] = [];
  for (let s = 0; s < 25; s++) {
    const { metrics } = await trainer.step();
    rewards.push(metrics.reward);
    // μ = 1: π_old is the rollout's own log-prob, so the training forward must reproduce it
    if (metrics.ratio !== undefined) assert.ok(Math.abs(metrics.ratio - 1) < 1e-4, `step ${s}: mean ratio ${metrics.ratio} (engine vs training forward disagree)`);
    assert.ok(Number.isFinite(metrics.loss ?? 0) && metrics.completion_tokens > 0);
  }
  const first = (rewards[0] + rewards[1] + rewards[2]) / 3;
  const last = (rewards[22] + rewards[23] + rewards[24]) / 3;
  assert.ok(last > first + 0.3 && last > 0.6, `mean reward ${first.toFixed(3)} → ${last.toFixed(3)}: ${rewards.map((r) => r.toFixed(2)).join(' ')}`);
});

test('GRPO with a KL term against a frozen reference, μ = 2 and sequence aggregation runs and reports KL', async () => {
  const { tokenizer, model, task, engine, encodePrompt } = tinySetup(3);
  const reference = new Llama(model.config as never, new Rng(99));
  const trainer = new GrpoTrainer({ model, reference, engine, tokenizer, task, encodePrompt, stopTokens: [], stopStrings: [] }, {
    ...GRPO_DEFAULTS, promptsPerStep: 2, groupSize: 8, maxTokens: 6, lr: 1e-2, beta: 0.1, mu: 2, aggregation: 'sequence', dynamicSampling: false,
  });
  const m1 = (await trainer.step()).metrics;
  assert.equal(m1.kl, 0, 'the reference starts as a copy of the policy, so the first KL is 0');
  const later = [];
  for (let s = 0; s < 4; s++) later.push((await trainer.step()).metrics);
  assert.ok(later.some((m) => m.kl > 0), `KL after updates: ${later.map((m) => m.kl).join(' ')}; rewards ${later.map((m) => m.reward).join(' ')}`);
  assert.ok(later.every((m) => m.groups_trained === 2), 'without dynamic sampling every group is trained on');
});

test('reflection words are counted as whole words', () => {
  assert.equal(reflectionCount('Wait, let me check: 3+4=7. Yes. Checked again.'), 3);
  assert.equal(reflectionCount('awaiting checkers'), 0);
});

test('rollouts at temperature ≠ 1: the training forward scales logits the same way (ratio 1 on-policy)', async () => {
  const { tokenizer, model, task, engine, encodePrompt } = tinySetup(3);
  const trainer = new GrpoTrainer({ model, reference: null, engine, tokenizer, task, encodePrompt, stopTokens: [], stopStrings: [] }, {
    ...GRPO_DEFAULTS, promptsPerStep: 2, groupSize: 8, maxTokens: 6, temperature: 0.7, dynamicSampling: false,
  });
  const { metrics } = await trainer.step();
  assert.ok(Math.abs(metrics.ratio - 1) < 1e-4, `mean ratio ${metrics.ratio}`);
});

test('micro-batching, padded or prefix-packed: the same gradient as one batch (weights are global)', async () => {
  for (const [aggregation, beta] of [['sequence', 0], ['token', 0.04], ['constant', 0]] as const) {
    const grads: Float32Array[][] = [];
    const positions: number[] = [];
    const layouts = [[false, 1 << 20], [false, 8], [true, 1 << 20], [true, 8]] as const;
    for (const [sharePrefix, microBatchPositions] of layouts) {
      const { tokenizer, model, task, engine, encodePrompt } = tinySetup(3, 'the cat sat on a mat and ');
      const reference = beta > 0 ? tinySetup(3).model : null;
      const trainer = new GrpoTrainer({ model, reference, engine, tokenizer, task, encodePrompt, stopTokens: [], stopStrings: [] }, {
        ...GRPO_DEFAULTS, promptsPerStep: 4, groupSize: 8, maxTokens: 6, seed: 5, microBatchPositions, sharePrefix, aggregation, beta, gradClip: 1e9,
      });
      // the trainer starts the reference as a copy of the policy: move it away so the KL term acts
      for (const p of reference?.parameters() ?? []) (p.data as Float32Array).forEach((x, k, a) => (a[k] = x * 1.05));
      const { metrics } = await trainer.step();
      assert.ok(microBatchPositions === 8 ? metrics.micro_batches > 1 : metrics.micro_batches === 1, `micro-batches: ${metrics.micro_batches}`);
      if (beta > 0) assert.ok(metrics.kl > 0, 'the reference differs from the policy');
      grads.push(model.parameters().map((p) => Float32Array.from(p.grad!.data as Float32Array)));
      positions.push(metrics.train_positions);
    }
    assert.ok(positions[2] < 0.6 * positions[0], `the prompt is trained once per group: ${positions[2]} packed vs ${positions[0]} padded positions`);
    const scale = Math.max(...grads[0].map((g) => g.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
    assert.ok(scale > 0);
    for (let l = 1; l < layouts.length; l++) {
      grads[0].forEach((a, i) => a.forEach((x, k) => assert.ok(Math.abs(x - grads[l][i][k]) < 1e-5 * scale, `${aggregation}, layout ${layouts[l]}: gradient ${i}[${k}]: ${x} vs ${grads[l][i][k]}`)));
    }
  }
});
