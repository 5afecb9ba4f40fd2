// Expert-load figures and the router-bias update, shared by the LM trainer and GRPO:
// the figures of hand-made loads; a GRPO step on a tiny MoE model (DeepSeek-V3 preset)
// reports expert_load (MoE layers × experts, each row averaging 1, its extremes equal
// to expert_load_max/min) and moves every gate bias by exactly ±γ toward balance after
// each of its μ optimizer steps, with the load counters restarted; runZero writes
// expert_load to metrics.jsonl. A dense model logs none of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../src/core/jsonl.ts';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { densePreset, moePreset } from '../../src/models/config.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import { Llama } from '../../src/models/llama.ts';
import type { CausalLM } from '../../src/models/model.ts';
import type { Task } from '../../src/tasks/task.ts';
import { expertLoadFigures, routerOf } from '../../src/train/expert-load.ts';
import { GRPO_DEFAULTS, GrpoTrainer, type GrpoOptions } from '../../src/train/grpo.ts';
import { runZero } from '../../src/train/zero.ts';
import { sayATask, sayATokenizer } from './fixtures/say-a.ts';

test('expertLoadFigures: load over the layer mean, extremes over layers, idle layers left out', () => {
  const f = expertLoadFigures([Float64Array.from([2, 6, 0, 4]), Float64Array.from([0, 0, 0, 0]), Float64Array.from([3, 3, 3, 3])]);
  assert.deepEqual(f.expert_load, [[0.667, 2, 0, 1.333], [0, 0, 0, 0], [1, 1, 1, 1]]);
  assert.equal(f.expert_load_max, 2);
  assert.equal(f.expert_load_min, 0);
  assert.deepEqual(expertLoadFigures([Float64Array.from([5, 5])]), { expert_load_max: 1, expert_load_min: 1, expert_load: [[1, 1]] });
  assert.deepEqual(expertLoadFigures([Float64Array.from([0, 0])]), { expert_load_max: 0, expert_load_min: 0, expert_load: [[0, 0]] });
});

function tiny(arch: 'moe' | 'dense', ctx = 64) {
  const tokenizer = sayATokenizer();
  const model: CausalLM = arch === 'moe' ? new DeepseekV3(moePreset(3, tokenizer.vocabSize, ctx), new Rng(5)) : new Llama(densePreset(1, tokenizer.vocabSize, ctx), new Rng(5));
  const task: Task = sayATask;
  return { tokenizer, model, task };
}

const grpo = (extra: Partial<GrpoOptions> = {}): GrpoOptions => ({ ...GRPO_DEFAULTS, promptsPerStep: 2, groupSize: 4, maxTokens: 6, lr: 1e-2, dynamicSampling: false, seed: 1, ...extra });

test('a GRPO step on a tiny MoE model reports expert load and balances the router after each optimizer step', async () => {
  const { tokenizer, model, task } = tiny('moe');
  const moe = model as DeepseekV3;
  const layers = moe.moeLayers();
  assert.equal(layers.length, 3, 'moePreset(3): the first layer dense, two MoE layers, and the MTP block\'s');
  const E = layers[0].experts.length, gamma = moe.config.bias_update_speed;
  const biases = () => layers.map((m) => Float32Array.from(m.gate.bias!.data as Float32Array));
  const engine = new Engine(model, { maxBatch: 16, decode: (ids) => tokenizer.decode(ids) });
  for (const mu of [1, 2]) {
    const trainer = new GrpoTrainer({ model, reference: null, engine, tokenizer, task, encodePrompt: () => tokenizer.encode('the '), stopTokens: [], stopStrings: [] }, grpo({ mu }));
    const before = biases();
    const { metrics, expertLoad } = await trainer.step();
    assert.ok(expertLoad, 'expert load reported');
    assert.equal(expertLoad.length, layers.length);
    expertLoad.forEach((row, l) => {
      assert.equal(row.length, E);
      assert.ok(row.every((v) => v >= 0), `${row}`);
      // each trunk row is load/mean, so it sums to E; the MTP block is not run by GRPO's forward: no load
      if (l < 2) assert.ok(Math.abs(row.reduce((a, v) => a + v, 0) - E) < E * 1e-3, `layer ${l}: ${row}`);
      else assert.deepEqual(row, new Array(E).fill(0), 'the MTP block saw no tokens');
    });
    // the extremes over the layers that saw tokens
    const trunk = expertLoad.slice(0, 2).flat();
    assert.ok(Math.abs(Math.max(...trunk) - metrics.expert_load_max) < 1e-3, `max ${metrics.expert_load_max} vs ${trunk}`);
    assert.ok(Math.abs(Math.min(...trunk) - metrics.expert_load_min) < 1e-3, `min ${metrics.expert_load_min} vs ${trunk}`);
    assert.ok(metrics.expert_load_max >= 1 && metrics.expert_load_min <= 1, `max ${metrics.expert_load_max}, min ${metrics.expert_load_min}`);
    // the counters were used and restarted by the bias update (rollouts, in eval mode, add nothing)
    for (const m of layers) assert.ok(m.load.every((v) => v === 0), `load counters restarted: ${m.load}`);
    const after = biases();
    layers.forEach((_, l) => {
      for (let e = 0; e < E; e++) {
        const moved = (after[l][e] - before[l][e]) / gamma;
        if (mu === 1) {
          // one update, from the logged load: +γ below the mean, −γ above it
          const want = l < 2 ? Math.sign(1 - expertLoad[l][e]) : 0; // the idle MTP layer: load = mean = 0
          assert.ok(Math.abs(moved - want) < 1e-3, `layer ${l} expert ${e}: bias moved ${moved}·γ, load ${expertLoad[l][e]}× the mean`);
        } else {
          // two updates (one per optimizer step): each ±γ or 0
          assert.ok([-2, -1, 0, 1, 2].some((k) => Math.abs(moved - k) < 1e-3), `layer ${l} expert ${e}: bias moved ${moved}·γ`);
        }
      }
      if (mu === 2 && l < 2) assert.ok(after[l].some((v, e) => Math.abs((v - before[l][e]) / gamma) > 1.5), `layer ${l}: two updates in a μ = 2 step`);
    });
  }
});

test('runZero writes expert_load to metrics.jsonl for an MoE policy, and nothing of it for a dense one', async () => {
  for (const arch of ['moe', 'dense'] as const) {
    const { tokenizer, model, task } = tiny(arch, 512); // the R1-Zero prompt is long
    const dir = mkdtempSync(join(tmpdir(), 'r1ts-expert-load-'));
    try {
      await runZero(model, tokenizer, task, { grpo: grpo(), minutes: 10, steps: 1, evalEvery: 0, evalItems: 1, finalEvalItems: 1, evalTemperature: 1, outDir: dir, progress: false });
      const step = readJsonl(join(dir, 'metrics.jsonl')).find((m) => m.step === 1 && 'reward' in m)!;
      if (arch === 'dense') {
        assert.equal(routerOf(model), null);
        assert.ok(!('expert_load' in step) && !('expert_load_max' in step), 'a dense model logs no expert load');
        continue;
      }
      const load = step.expert_load as number[][];
      assert.ok(Array.isArray(load) && load.length === 3 && load.every((r) => r.length === 8), `expert_load is MoE layers × experts: ${JSON.stringify(load)}`);
      for (const r of load.slice(0, 2)) assert.ok(Math.abs(r.reduce((a, v) => a + v, 0) - 8) < 8e-3, `${r}`);
      assert.equal(typeof step.expert_load_max, 'number');
      assert.equal(typeof step.expert_load_min, 'number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
