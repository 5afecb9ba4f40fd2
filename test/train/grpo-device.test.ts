// DeviceGrpo (the in-tab GRPO step) against GrpoTrainer, the real trainer, and the device
// against the CPU, on the shipped base and the R1-Zero prompt (openZeroTab, as the page).
// 1. device 'cpu' vs GrpoTrainer.step() with the same options (one rollout round, no KL,
//    padded rows): the same rollouts (texts) and, two steps running, the same loss, gradient
//    norm and parameters within f32 rounding (1e-5 relative; same backend, same order).
// 2. device 'webgpu' vs device 'cpu' (Dawn; skips without an adapter, fails under CI=true) on a
//    tiny random Llama with a task rewarding the completion's length (so every group has signal,
//    and llvmpipe's step stays short), two steps: the same rollouts, the loss within
//    1e-4 relative and the gradient norm within 1e-3 relative (f32 summation order on the
//    device, as test/backend/webgpu-train.test.ts), and the parameters after the AdamW step
//    within 2.5·lr absolute (AdamW's first step moves a parameter by up to lr whatever its
//    gradient's size, so a sign flip of a near-zero gradient may move it by 2·lr).
// Also: the options DeviceGrpo refuses.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Engine } from '../../src/engine/generate.ts';
import { loadHfModel } from '../../src/io/hf.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';
import { Rng } from '../../src/core/rng.ts';
import { buildModel } from '../../src/io/hf.ts';
import { llamaConfigSchema } from '../../src/models/config.ts';
import type { CausalLM } from '../../src/models/model.ts';
import type { Task } from '../../src/tasks/task.ts';
import { readValues, useDeviceContext } from '../../src/tensor/index.ts';
import { bpeFromTokenizerJson } from '../../src/tokenizer/tokenizer-json-format.ts';
import { loadBpeTokenizer } from '../../src/tokenizer/tokenizer-json.ts';
import { GrpoTrainer, type GrpoOptions } from '../../src/train/grpo.ts';
import { DeviceGrpo } from '../../src/train/grpo-device.ts';
import { openZeroTab, ZERO_TAB_DEFAULTS, type ZeroBaseFiles } from '../../src/train/zero-tab.ts';
import { zeroPromptIds } from '../../src/train/zero-prompt.ts';
import { gpuOrSkip } from '../backend/webgpu-setup.ts';

after(() => useDeviceContext(null));

const base = resolve(import.meta.dirname, '../../assets/zero-base');
const files: ZeroBaseFiles = {
  'config.json': readFileSync(join(base, 'config.json'), 'utf8'),
  'model.safetensors': new Uint8Array(readFileSync(join(base, 'model.safetensors'))),
  'tokenizer.json': readFileSync(join(base, 'tokenizer.json'), 'utf8'),
  'tokenizer_config.json': readFileSync(join(base, 'tokenizer_config.json'), 'utf8'),
};
// seed 10: 303+554, one of the four completions right at 54 tokens (rewards 1, 0, 0, 0): a step with signal
const opts: GrpoOptions = { ...ZERO_TAB_DEFAULTS, promptsPerStep: 1, groupSize: 4, maxTokens: 56, seed: 10 };

function close(a: number, b: number, rel: number, what: string): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-6), `${what}: ${a} vs ${b} (relative tolerance ${rel})`);
}

async function maxParamDiff(a: { parameters(): import('../../src/tensor/index.ts').Tensor[] }, b: typeof a): Promise<number> {
  const va = await readValues(a.parameters());
  const vb = await readValues(b.parameters());
  let m = 0;
  va.forEach((x, i) => x.forEach((v, k) => (m = Math.max(m, Math.abs(v - vb[i][k])))));
  return m;
}

test('in-tab GRPO on the CPU equals GrpoTrainer.step (same rollouts, loss, grad norm, parameters)', async () => {
  const tab = openZeroTab(files, opts, 'cpu');
  const model = loadHfModel(base);
  const tokenizer = loadBpeTokenizer(join(base, 'tokenizer.json'), join(base, 'tokenizer_config.json'));
  const eos = tokenizer.specialId(tokenizer.eosToken!);
  const engine = new Engine(model, { maxBatch: 4, decode: (ids) => tokenizer.decode(ids) });
  const ref = new GrpoTrainer({ model, reference: null, engine, tokenizer, task: additionTask(), encodePrompt: (it) => zeroPromptIds(tokenizer, it.question), stopTokens: [eos], stopStrings: ['</answer>'] }, opts);
  for (let s = 1; s <= 2; s++) {
    const a = await tab.grpo.step();
    const b = await ref.step();
    assert.deepEqual(a.rollouts.map((r) => r.text), b.rollouts.map((r) => r.text), `step ${s}: rollouts`);
    assert.equal(a.metrics.step, s);
    assert.equal(a.metrics.reward, b.metrics.reward);
    assert.equal(a.metrics.accuracy, b.metrics.accuracy);
    close(a.metrics.loss, b.metrics.loss, 1e-5, `step ${s} loss`);
    close(a.metrics.grad_norm, b.metrics.grad_norm, 1e-5, `step ${s} grad norm`);
    if (s === 1) assert.ok(a.metrics.grad_norm > 0 && a.metrics.zero_variance_groups === 0, 'step 1 has signal (else the loss is 0 on both)');
    assert.ok(await maxParamDiff(tab.model, model) < 1e-6, `step ${s}: parameters`);
  }
});

/** A tiny random Llama over the base's tokenizer, and a DeviceGrpo whose task rewards the completion's length (signal without a trained model). */
function tinyTab(device: 'cpu' | 'webgpu'): { grpo: DeviceGrpo; model: CausalLM } {
  const tokenizer = bpeFromTokenizerJson(files['tokenizer.json'], files['tokenizer_config.json']);
  const cfg = llamaConfigSchema.parse({
    model_type: 'llama', vocab_size: 640, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, rms_norm_eps: 1e-6, tie_word_embeddings: true,
  });
  const model = buildModel(cfg, new Rng(5));
  const add = additionTask();
  const task: Task = { ...add, grade: (_item, text) => ({ reward: (text.length % 5) / 4, rewards: { length: (text.length % 5) / 4 }, correct: false, format: false, answer: null }) };
  const engine = new Engine(model, { maxBatch: 4, decode: (ids) => tokenizer.decode(ids) });
  const o: GrpoOptions = { ...opts, maxTokens: 12, lr: 1e-3, seed: 3 };
  const grpo = new DeviceGrpo({ model, engine, tokenizer, task, encodePrompt: (it) => zeroPromptIds(tokenizer, it.question), stopTokens: [], stopStrings: [' '] }, o, device); // lengths vary: a non-zero loss at ρ = 1
  return { grpo, model };
}

test('in-tab GRPO on webgpu equals the CPU step (loss, grad norm, parameters; a tiny model)', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  useDeviceContext(k.ctx);
  const dev = tinyTab('webgpu');
  const cpu = tinyTab('cpu');
  const lr = dev.grpo.o.lr;
  for (let s = 1; s <= 2; s++) {
    const a = await dev.grpo.step();
    const b = await cpu.grpo.step();
    // step 2 samples from the device-trained weights (read back): equal texts mean they match the CPU's closely
    assert.deepEqual(a.rollouts.map((r) => r.text), b.rollouts.map((r) => r.text), `step ${s}: rollouts`);
    assert.equal(b.metrics.zero_variance_groups, 0, `step ${s}: the length reward gives the group signal`);
    assert.ok(Math.abs(b.metrics.loss) > 1e-3, `step ${s}: a loss away from 0 (${b.metrics.loss})`);
    close(a.metrics.loss, b.metrics.loss, 1e-4, `step ${s} loss`);
    close(a.metrics.grad_norm, b.metrics.grad_norm, 1e-3, `step ${s} grad norm`);
    assert.ok(dev.model.parameters().every((p) => p.gpu), 'the policy lives on the device between steps');
    const d = await maxParamDiff(dev.model, cpu.model);
    assert.ok(d <= 2.5 * lr, `step ${s}: parameters differ by ${d} (> 2.5·lr)`);
  }
  await dev.grpo.finish();
  assert.ok(dev.model.parameters().every((p) => !p.gpu), 'finish() brings the policy back to the host');
});

test('DeviceGrpo refuses what it does not implement, naming the option', () => {
  const tab = openZeroTab(files, opts, 'cpu');
  const ctx = tab.grpo.ctx;
  assert.throws(() => new DeviceGrpo(ctx, { ...opts, dynamicSampling: true }, 'cpu'), /dynamicSampling is not supported/);
  assert.throws(() => new DeviceGrpo(ctx, { ...opts, beta: 0.01 }, 'cpu'), /beta=0.01: the KL term is not supported/);
  assert.throws(() => new DeviceGrpo(ctx, { ...opts, groupSize: 8 }, 'cpu'), /exceed the engine's maxBatch 4/);
});
