// openZeroTab (the dashboard's in-tab set-up: the base from its files' contents, the addition
// task under the R1-Zero prompt, a GrpoTrainer) against the CLI's path, and its host-rollout
// mode on the webgpu device.
// 1. device 'cpu': two steps equal GrpoTrainer.step() on loadHfModel + loadBpeTokenizer (files
//    read from disk) with the same options: the same rollouts and, same kernels and order, the
//    same loss, gradient norm and parameters (1e-6); then its held-out evaluation gives the
//    completions of the harness run as `r1ts zero` runs it on the model read from disk.
// 2. device 'webgpu', rollouts 'host' (Dawn; skips without an adapter, fails under CI=true):
//    step 1 equals the CPU's (same rollouts; loss 1e-4 and gradient norm 1e-3 relative, f32
//    summation order on the device); before step 2 the host copy the engine samples from holds
//    exactly the policy's weights after step 1 (one readback), the held-out evaluation then gives
//    the CPU tab's completions, and finish() brings the policy home.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Engine } from '../../src/engine/generate.ts';
import { engineSource } from '../../src/eval/engine-source.ts';
import { evaluate } from '../../src/eval/harness.ts';
import { loadHfModel } from '../../src/io/hf.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';
import { readValues, useDeviceContext, type Tensor } from '../../src/tensor/index.ts';
import { loadBpeTokenizer } from '../../src/tokenizer/tokenizer-json.ts';
import { GrpoTrainer, type GrpoOptions } from '../../src/train/grpo.ts';
import { zeroPromptIds } from '../../src/train/zero-prompt.ts';
import { openZeroTab, ZERO_TAB_DEFAULTS, type ZeroBaseFiles } from '../../src/train/zero-tab.ts';
import { TAB_FORM_DEFAULTS } from '../../web/src/tab-protocol.ts';
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

async function maxDiff(a: Tensor[], b: Tensor[]): Promise<number> {
  const [va, vb] = [await readValues(a), await readValues(b)];
  let m = 0;
  va.forEach((x, i) => x.forEach((v, k) => (m = Math.max(m, Math.abs(v - vb[i][k])))));
  return m;
}

test('openZeroTab on the CPU equals GrpoTrainer on the files read from disk', async () => {
  const tab = openZeroTab(files, opts, 'cpu');
  const model = loadHfModel(base);
  const tokenizer = loadBpeTokenizer(join(base, 'tokenizer.json'), join(base, 'tokenizer_config.json'));
  const engine = new Engine(model, { maxBatch: 4, decode: (ids) => tokenizer.decode(ids) });
  const ref = new GrpoTrainer({ model, reference: null, engine, tokenizer, task: additionTask(), encodePrompt: (it) => zeroPromptIds(tokenizer, it.question), stopTokens: [tokenizer.specialId(tokenizer.eosToken!)], stopStrings: ['</answer>'] }, opts);
  for (let s = 1; s <= 2; s++) {
    const a = await tab.step();
    const b = await ref.step();
    assert.deepEqual(a.rollouts.map((r) => r.text), b.rollouts.map((r) => r.text), `step ${s}: rollouts`);
    assert.equal(a.metrics.reward, b.metrics.reward);
    close(a.metrics.loss ?? 0, b.metrics.loss ?? 0, 1e-6, `step ${s} loss`);
    close(a.metrics.grad_norm ?? 0, b.metrics.grad_norm ?? 0, 1e-6, `step ${s} grad norm`);
    if (s === 1) assert.ok(a.metrics.grad_norm > 0 && a.metrics.zero_variance_groups === 0, 'step 1 has signal');
    assert.ok(await maxDiff(tab.model.parameters(), model.parameters()) < 1e-6, `step ${s}: parameters`);
  }
  // the held-out evaluation: r1ts zero's (the first n held-out problems, T = 1, the step's budget and stop rules)
  const ev = await tab.evaluate(6, 3);
  const task = additionTask();
  const want = await evaluate(task, task.heldOut(6), engineSource(engine, tokenizer, {
    encodePrompt: (it) => zeroPromptIds(tokenizer, it.question), sampling: { temperature: 1 }, maxTokens: opts.maxTokens, seed: 3,
    stopTokens: [tokenizer.specialId(tokenizer.eosToken!)], stopStrings: ['</answer>'],
  }));
  assert.deepEqual(ev.results.map((r) => r.completions), want.results.map((r) => r.completions));
  assert.equal(ev.accuracy, want.accuracy);
  assert.equal(ev.items, 6);
  await tab.finish();
  engine.dispose();
});

test('the page\'s form defaults are openZeroTab\'s', () => {
  assert.deepEqual(
    { prompts: TAB_FORM_DEFAULTS.prompts, group: TAB_FORM_DEFAULTS.group, maxTokens: TAB_FORM_DEFAULTS.maxTokens, lr: TAB_FORM_DEFAULTS.lr },
    { prompts: ZERO_TAB_DEFAULTS.promptsPerStep, group: ZERO_TAB_DEFAULTS.groupSize, maxTokens: ZERO_TAB_DEFAULTS.maxTokens, lr: ZERO_TAB_DEFAULTS.lr },
  );
});

test('openZeroTab on webgpu with host rollouts: the CPU step, and the host copy follows the policy', async (t) => {
  const k = await gpuOrSkip(t);
  if (!k) return;
  useDeviceContext(k.ctx);
  const dev = openZeroTab(files, opts, 'webgpu', 'base', 'host');
  const cpu = openZeroTab(files, opts, 'cpu');
  const a = await dev.step();
  const b = await cpu.step();
  assert.deepEqual(a.rollouts.map((r) => r.text), b.rollouts.map((r) => r.text), 'rollouts (host, same weights)');
  close(a.metrics.loss, b.metrics.loss, 1e-4, 'loss');
  close(a.metrics.grad_norm, b.metrics.grad_norm, 1e-3, 'grad norm');
  assert.ok(dev.model.parameters().every((p) => p.gpu), 'the policy lives on the device');
  const hostCopy = dev.trainer.ctx.engine.model;
  assert.notEqual(hostCopy, dev.model);
  assert.ok(hostCopy.parameters().every((p) => !p.gpu), 'the rollouts sample from a host model');
  const after1 = (await readValues(dev.model.parameters())).map((v) => Float32Array.from(v as Float32Array));
  // the held-out evaluation samples from the host copy, refreshed to the trained policy: the CPU tab's completions
  const [evDev, evCpu] = [await dev.evaluate(4, 5), await cpu.evaluate(4, 5)];
  assert.deepEqual(evDev.results.map((r) => r.completions), evCpu.results.map((r) => r.completions));
  await dev.step();
  hostCopy.parameters().forEach((p, i) => assert.deepEqual(p.data, after1[i], `host copy of parameter ${i} before step 2`));
  await dev.finish();
  await cpu.finish();
  assert.ok(dev.model.parameters().every((p) => !p.gpu), 'finish() brings the policy back to the host');
});
