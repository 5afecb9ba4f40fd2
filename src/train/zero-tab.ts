// R1-Zero in a browser tab: the shipped base (assets/zero-base) built from its files' contents
// (fetched by the page, read from disk by the tests), the addition task, the R1-Zero prompt and
// the stop rules of `r1ts zero`, and a DeviceGrpo over them. One function, so the dashboard's
// "train in this tab" mode and the tests that compare it with the CPU build the same thing.
// Browser-safe: no node:* imports (the format modules of io/ and tokenizer/, not their file
// readers).
// Not here: the step (grpo-device.ts), the page (web/src/tab.tsx), fetching the files.

import { R1tsError } from '../core/errors.ts';
import { Engine } from '../engine/generate.ts';
import { modelFromHfTensors } from '../io/hf-names.ts';
import { readSafetensorsBytes } from '../io/safetensors-format.ts';
import { parseModelConfig } from '../models/config.ts';
import type { CausalLM } from '../models/model.ts';
import { additionTask } from '../tasks/arithmetic.ts';
import type { BpeTokenizer } from '../tokenizer/bpe-tokenizer.ts';
import { bpeFromTokenizerJson } from '../tokenizer/tokenizer-json-format.ts';
import { DeviceGrpo } from './grpo-device.ts';
import { GRPO_DEFAULTS, type GrpoOptions } from './grpo.ts';
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
 * tokens (the R1-Zero prompt takes 184 of the base's 256 positions), one rollout round, no KL;
 * the rest is GRPO_DEFAULTS (lr 1e-4, token aggregation, ε 0.2, clip 1).
 */
export const ZERO_TAB_DEFAULTS: GrpoOptions = {
  ...GRPO_DEFAULTS,
  promptsPerStep: 2,
  groupSize: 4,
  maxTokens: 64,
  dynamicSampling: false,
  beta: 0,
  sharePrefix: false,
};

export interface ZeroTab {
  grpo: DeviceGrpo;
  model: CausalLM;
  tokenizer: BpeTokenizer;
  /** Tokens of the R1-Zero prompt of a training question (for the page's note on positions). */
  promptTokens: number;
}

/** The base from its files, and a DeviceGrpo on the addition task under the R1-Zero template. */
export function openZeroTab(files: ZeroBaseFiles, o: GrpoOptions, device: 'cpu' | 'webgpu', source = 'assets/zero-base'): ZeroTab {
  let raw: unknown;
  try {
    raw = JSON.parse(files['config.json']);
  } catch (e) {
    throw new R1tsError(`${source}/config.json: not valid JSON (${(e as Error).message})`);
  }
  const config = parseModelConfig(raw);
  const model = modelFromHfTensors(config, readSafetensorsBytes(files['model.safetensors'], `${source}/model.safetensors`).tensors, source);
  const tokenizer = bpeFromTokenizerJson(files['tokenizer.json'], files['tokenizer_config.json'], `${source}/tokenizer.json`);
  const eos = tokenizer.eosToken !== undefined ? tokenizer.specialId(tokenizer.eosToken) : undefined;
  const task = additionTask();
  const encodePrompt = (item: { question: string }) => zeroPromptIds(tokenizer, item.question);
  const engine = new Engine(model, { maxBatch: o.promptsPerStep * o.groupSize, decode: (ids) => tokenizer.decode(ids) });
  const grpo = new DeviceGrpo({ model, engine, tokenizer, task, encodePrompt, stopTokens: eos === undefined ? [] : [eos], stopStrings: ['</answer>'] }, o, device);
  return { grpo, model, tokenizer, promptTokens: encodePrompt(task.heldOut(1)[0]).length };
}
