// A completion source (harness.ts) backed by an r1ts model through the
// generation engine: renders each item's prompt with the caller's function,
// samples n completions per item with seeds derived from (seed, item index,
// sample index), and decodes them without the stop token.
// Not here: grading or metrics (harness.ts), the engine itself.

import type { Engine, GenerateRequest } from '../engine/generate.ts';
import type { SamplingOptions } from '../engine/sampling.ts';
import type { TaskItem } from '../tasks/task.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import type { CompletionSource } from './harness.ts';

export interface EngineSourceOptions {
  /** Token ids of an item's prompt (template applied). */
  encodePrompt: (item: TaskItem) => number[];
  sampling: SamplingOptions;
  maxTokens: number;
  seed: number;
  stopTokens?: number[];
  stopStrings?: string[];
}

/** Seed of sample j of item i: distinct streams, reproducible whatever the batch. */
export function sampleSeed(seed: number, i: number, j: number): number {
  let h = Math.imul(seed ^ 0x7f4a7c15, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b) ^ Math.imul(j + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Text of generated tokens without the stop token (specials skipped). */
export function completionText(tokenizer: TextTokenizer, tokens: readonly number[], stopTokens: readonly number[] = []): string {
  const body = tokens.length && stopTokens.includes(tokens[tokens.length - 1]) ? tokens.slice(0, -1) : tokens;
  return tokenizer.decode(body, { skipSpecialTokens: true });
}

export function engineSource(engine: Engine, tokenizer: TextTokenizer, o: EngineSourceOptions): CompletionSource {
  return async (items, n) => {
    const reqs: GenerateRequest[] = [];
    items.forEach((item, i) => {
      const prompt = o.encodePrompt(item);
      for (let j = 0; j < n; j++) reqs.push({ prompt, maxTokens: o.maxTokens, sampling: o.sampling, seed: sampleSeed(o.seed, i, j), stopTokens: o.stopTokens, stopStrings: o.stopStrings });
    });
    const res = await engine.generate(reqs);
    return items.map((_, i) => res.slice(i * n, (i + 1) * n).map((r) => completionText(tokenizer, r.tokens, o.stopTokens)));
  };
}
