// R1-Zero in a browser tab: the shipped base (assets/zero-base) built from its files' contents
// (fetched by the page, read from disk by the tests), the addition task, the R1-Zero prompt and
// the stop rules of `r1ts zero`, and a GrpoTrainer over them — on the webgpu device (the
// policy's tensors moved there: loss/backward/clipping/AdamW on the device, GrpoTrainer's device
// path) or on the CPU. Rollouts on the device go through the device engine; rollouts 'host'
// sample from a host copy of the policy refreshed before each step (one readback of the
// weights): on a software adapter (SwiftShader, llvmpipe) each decode pass's dispatches cost
// far more than the host's reference kernels, so a page on one samples on its CPU. evaluate() is
// `r1ts zero`'s held-out evaluation (the harness over the rollout engine). One function, so the
// dashboard's "train in this tab" mode and the tests that compare it with the CPU build the
// same thing. Browser-safe: no node:* imports (the format modules of io/ and tokenizer/, not
// their file readers).
// Not here: the GRPO step (grpo.ts), the page (web/src/tab.tsx), fetching the files, opening
// the device (the caller: openDevice({ gpu: navigator.gpu }) in a page).

import { R1tsError } from '../core/errors.ts';
import { Engine } from '../engine/generate.ts';
import { engineSource } from '../eval/engine-source.ts';
import { evaluate, type EvalReport } from '../eval/harness.ts';
import { modelFromHfTensors } from '../io/hf-names.ts';
import { readSafetensorsBytes } from '../io/safetensors-format.ts';
import { parseModelConfig } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { additionTask } from '../tasks/arithmetic.ts';
import { moveToDevice, moveToHost, readValues, releaseDevice } from '../tensor/index.ts';
import type { BpeTokenizer } from '../tokenizer/bpe-tokenizer.ts';
import { bpeFromTokenizerJson } from '../tokenizer/tokenizer-json-format.ts';
import { GRPO_DEFAULTS, GrpoTrainer, type GrpoOptions, type GrpoStepMetrics, type Rollout } from './grpo.ts';
import { zeroPromptIds } from './zero-prompt.ts';

/** The files of a model directory, as fetched (names as in assets/zero-base). */
export interface ZeroBaseFiles {
  'config.json': string;
  'model.safetensors': Uint8Array;
  'tokenizer.json': string;
  'tokenizer_config.json'?: string;
}

/** The file names the page fetches. */
export const ZERO_BASE_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'] as const;

/**
 * Small defaults so a step is seconds on a laptop GPU: 2 prompts × 4 completions of at most 64
 * tokens (the R1-Zero prompt takes 183 of the base's 256 positions), one rollout round (no
 * dynamic-sampling refills, so every step costs the same), no KL; the rest is GRPO_DEFAULTS
 * (lr 1e-4, token aggregation, ε 0.2, clip 1, shared-prefix packing).
 */
export const ZERO_TAB_DEFAULTS: GrpoOptions = {
  ...GRPO_DEFAULTS,
  promptsPerStep: 2,
  groupSize: 4,
  maxTokens: 64,
  dynamicSampling: false,
  beta: 0,
};

export interface ZeroTab {
  trainer: GrpoTrainer;
  /** One GRPO step (the host copy, if any, refreshed from the policy first). */
  step(): Promise<{ metrics: GrpoStepMetrics; rollouts: Rollout[] }>;
  model: CausalLM;
  tokenizer: BpeTokenizer;
  /** Tokens of the R1-Zero prompt of a question (for the page's note on positions). */
  promptTokens: number;
  /**
   * The held-out evaluation of `r1ts zero` on the first n of the task's held-out problems: one
   * sample each at T = 1 with the step's budget and stop rules, through the rollout engine (the
   * host copy refreshed first), seeded by `seed`; graded by the task.
   */
  evaluate(n: number, seed: number): Promise<EvalReport>;
  /** Frees the engine and brings the policy back to the host (device buffers released). */
  finish(): Promise<void>;
}

function modelOf(files: ZeroBaseFiles, source: string): CausalLM {
  let raw: unknown;
  try {
    raw = JSON.parse(files['config.json']);
  } catch (e) {
    throw new R1tsError(`${source}/config.json: not valid JSON (${(e as Error).message})`);
  }
  return modelFromHfTensors(parseModelConfig(raw), readSafetensorsBytes(files['model.safetensors'], `${source}/model.safetensors`).tensors, source);
}

/**
 * The base from its files, and a GrpoTrainer on the addition task under the R1-Zero template.
 * device 'webgpu' needs an open device (openDevice); the policy (and, with beta > 0, a reference
 * copy) move there until finish(). rollouts: where the engine samples, with device 'webgpu'.
 */
export function openZeroTab(files: ZeroBaseFiles, o: GrpoOptions, device: 'cpu' | 'webgpu', source = 'assets/zero-base', rollouts: 'device' | 'host' = 'device'): ZeroTab {
  const model = modelOf(files, source);
  const reference = o.beta > 0 ? modelOf(files, source) : null;
  const tokenizer = bpeFromTokenizerJson(files['tokenizer.json'], files['tokenizer_config.json'], `${source}/tokenizer.json`);
  const eos = tokenizer.eosToken !== undefined ? tokenizer.specialId(tokenizer.eosToken) : undefined;
  const task = additionTask();
  const encodePrompt = (item: { question: string }) => zeroPromptIds(tokenizer, item.question);
  const tensors = [model, ...(reference ? [reference] : [])].flatMap((m) => m.namedTensors().map(([, t]) => t));
  if (device === 'webgpu') moveToDevice(tensors);
  const hostCopy = device === 'webgpu' && rollouts === 'host' ? modelOf(files, source) : null;
  const engine = new Engine(hostCopy ?? model, { maxBatch: o.promptsPerStep * o.groupSize, decode: (ids) => tokenizer.decode(ids) });
  const trainer = new GrpoTrainer({ model, reference, engine, tokenizer, task, encodePrompt, stopTokens: eos === undefined ? [] : [eos], stopStrings: ['</answer>'] }, o);
  const finish = async (): Promise<void> => {
    engine.dispose();
    if (device === 'webgpu') {
      await moveToHost(tensors);
      releaseDevice(trainer.opt.stateTensors());
    }
  };
  const refresh = async () => {
    if (!hostCopy) return;
    const vals = await readValues(model.parameters());
    hostCopy.parameters().forEach((p, i) => (p.data as Float32Array).set(vals[i]));
  };
  const step = async () => {
    await refresh();
    return trainer.step();
  };
  const stops = { stopTokens: eos === undefined ? [] : [eos], stopStrings: ['</answer>'] };
  const evaluateHeldOut = async (n: number, seed: number): Promise<EvalReport> => {
    await refresh();
    return evaluate(task, task.heldOut(n), engineSource(engine, tokenizer, { encodePrompt, sampling: { temperature: 1 }, maxTokens: o.maxTokens, seed, ...stops }));
  };
  return { trainer, step, evaluate: evaluateHeldOut, model, tokenizer, promptTokens: encodePrompt(task.heldOut(1)[0]).length, finish };
}
