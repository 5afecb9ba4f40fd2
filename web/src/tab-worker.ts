// The "train in this tab" loop, in a dedicated worker so the page stays responsive: the real r1ts
// engine bundled here (src/tensor with its webgpu backend, src/models, the generation engine, the
// tokenizer, GrpoTrainer and the GRPO loss, the addition task's grader, the evaluation harness).
// On 'start' it opens WebGPU on the worker's navigator.gpu, fetches the shipped base from the
// dashboard (/api/zero-base/*), builds openZeroTab and runs GRPO steps, with held-out evaluations
// before the first step, every few steps and after the last, posting each step's metrics and
// completions and each evaluation to the page (tab-protocol.ts); 'stop' ends the run after the
// step under way (and its evaluation, if one is due). Rollouts run on WebGPU (prefill and decode
// through the device KV cache, each token sampled from the logits rows read back) or on this
// worker's CPU from a host copy refreshed each step — the default on a software adapter
// (SwiftShader, llvmpipe), where each decode pass's dispatches cost more than the reference kernels.
// Design: with tab.tsx (types only), the one place web/ imports src/ (test/boundaries.test.ts).
// Not here: the step itself (GrpoTrainer, src/train/grpo.ts, set up by src/train/zero-tab.ts), the view (tab.tsx).

import { closeDevice, openDevice } from '../../src/tensor/index.ts';
import { openZeroTab, ZERO_BASE_FILES, ZERO_TAB_DEFAULTS, type ZeroBaseFiles } from '../../src/train/zero-tab.ts';
import type { FromWorker, RolloutsOn, Settings, ToWorker } from './tab-protocol.ts';

const post = (m: FromWorker) => (globalThis as unknown as { postMessage(m: FromWorker): void }).postMessage(m);

// The generation engine (src/engine/generate.ts) yields between decode steps with Node's global
// setImmediate, which workers lack; their equivalent is a macrotask, here a MessageChannel
// message (no 4 ms clamp, unlike nested setTimeout). The yield also lets a 'stop' message in.
if (typeof globalThis.setImmediate !== 'function') {
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  (globalThis as { setImmediate?: unknown }).setImmediate = (cb: (...args: unknown[]) => void, ...args: unknown[]) => {
    queue.push(() => cb(...args));
    channel.port2.postMessage(0);
  };
}

let stopping = false;

async function fetchBase(apiBase: string): Promise<ZeroBaseFiles> {
  const get = async (name: string): Promise<Response> => {
    const r = await fetch(new URL(name, apiBase));
    if (!r.ok) {
      let msg = `${r.status} ${r.statusText}`;
      try {
        msg = ((await r.json()) as { error?: string }).error ?? msg;
      } catch { /* not JSON */ }
      throw new Error(`fetching the base's ${name}: ${msg}`);
    }
    return r;
  };
  const [config, weights, tok, tokCfg] = await Promise.all(ZERO_BASE_FILES.map((n) => get(n)));
  return {
    'config.json': await config.text(),
    'model.safetensors': new Uint8Array(await weights.arrayBuffer()),
    'tokenizer.json': await tok.text(),
    'tokenizer_config.json': await tokCfg.text(),
  };
}

/** The held-out evaluations' sampling seed (the same problems and seeds every time, so the points compare). */
const evalSeed = (s: Settings) => s.seed + 1;

async function run(s: Settings, rolloutsOn: RolloutsOn, apiBase: string): Promise<void> {
  let opened = false;
  try {
    if (!('gpu' in navigator) || !navigator.gpu) throw new Error('this browser exposes no WebGPU to workers (navigator.gpu is undefined in the worker)');
    post({ type: 'note', text: 'opening WebGPU on navigator.gpu …' });
    const ctx = await openDevice({ gpu: navigator.gpu });
    opened = true;
    post({ type: 'adapter', adapter: ctx.adapter, text: ctx.describe() });
    post({ type: 'note', text: 'fetching the shipped base (assets/zero-base) …' });
    const files = await fetchBase(apiBase);
    const o = { ...ZERO_TAB_DEFAULTS, promptsPerStep: s.prompts, groupSize: s.group, maxTokens: s.maxTokens, lr: s.lr, seed: s.seed };
    const where = rolloutsOn === 'auto' ? (ctx.adapter.software ? 'host' : 'device') : rolloutsOn;
    const tab = openZeroTab(files, o, 'webgpu', 'api/zero-base', where);
    post({ type: 'note', text: `base: ${(tab.model.numParameters() / 1e6).toFixed(2)}M parameters; prompt ${tab.promptTokens} tokens; rollouts on ${where === 'host' ? 'this page\'s CPU (a host copy, in a worker)' : 'WebGPU'}` });
    post({ type: 'running', rollouts: where });
    const evaluate = async () => {
      const step = tab.trainer.stepCount;
      post({ type: 'note', text: `evaluating on ${s.evalItems} held-out problems after step ${step} …` });
      const r = await tab.evaluate(s.evalItems, evalSeed(s));
      post({ type: 'eval', eval: { step, accuracy: r.accuracy, format: r.formatRate, length: r.meanLength, texts: r.results.map((x) => x.completions[0]) } });
      post({ type: 'note', text: `held-out accuracy after step ${step}: ${(100 * r.accuracy).toFixed(1)}% (R1 form ${(100 * r.formatRate).toFixed(1)}%, ${r.meanLength.toFixed(0)} characters)` });
    };
    let lastEval = -1;
    if (s.evalItems > 0) await evaluate(), (lastEval = 0);
    while (!stopping && (s.steps === 0 || tab.trainer.stepCount < s.steps)) {
      const { metrics, rollouts } = await tab.step();
      post({ type: 'step', metrics, completions: rollouts.map((r) => ({ question: r.item.question, text: r.text, reward: r.reward, correct: r.grade.correct })) });
      if (s.evalItems > 0 && s.evalEvery > 0 && metrics.step % s.evalEvery === 0) await evaluate(), (lastEval = metrics.step);
    }
    if (s.evalItems > 0 && lastEval !== tab.trainer.stepCount) await evaluate();
    await tab.finish();
    post({ type: 'done' });
  } catch (e) {
    post({ type: 'error', message: (e as Error).message ?? String(e) });
  } finally {
    if (opened) closeDevice();
  }
}

globalThis.addEventListener('message', (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'stop') stopping = true;
  else if (m.type === 'start') {
    stopping = false;
    void run(m.settings, m.rolloutsOn, m.apiBase);
  }
});
