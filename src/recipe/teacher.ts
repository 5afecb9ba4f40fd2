// Teachers for rejection sampling: k completions of one task item, and the
// tokens they cost. Two kinds: any OpenAI-compatible endpoint (openai-source.ts
// does the HTTP, limits, retries and backoff; here its reported usage is
// attributed to the prompt whose request it was, through AsyncLocalStorage,
// since many prompts share one limiter), and a local r1ts model directory run
// by the generation engine. A teacher says whether its prompt opened <think>
// (the R1-Zero template does), so that its completions start inside the
// reasoning.
// Not here: grading, keeping and writing (sample.ts).

import { AsyncLocalStorage } from 'node:async_hooks';
import { R1tsError } from '../core/errors.ts';
import { Engine } from '../engine/generate.ts';
import { engineSource } from '../eval/engine-source.ts';
import { hash32, openaiSource, type OpenAISourceOptions } from '../eval/openai-source.ts';
import { loadModelDir, modelChatTemplate } from '../io/model-dir.ts';
import type { TaskItem } from '../tasks/task.ts';
import { placeOnDevice, type DevicePlacement } from '../tensor/index.ts';
import { r1ZeroPrompt } from '../tokenizer/index.ts';

export interface TeacherReply {
  /** k completions: the text after the prompt (reasoning as <think>…</think>, or after an opened <think>). */
  completions: string[];
  /** Tokens the request(s) cost: prompt + completion as the endpoint reports them, else an estimate. */
  tokens: number;
}

export interface Teacher {
  /** The prompt ends inside <think> (R1-Zero template): completions begin with the reasoning. */
  opensThink: boolean;
  complete(item: TaskItem, k: number): Promise<TeacherReply>;
  close?(): Promise<void>;
}

/** How a teacher sees a question: 'chat' (its chat template / chat endpoint) or 'r1-zero' (the R1-Zero prompt, opened with <think>). */
export type TeacherTemplate = 'chat' | 'r1-zero';

/** Rough tokens of a text when nobody counted them (4 characters a token). */
export const estimateTokens = (s: string): number => Math.ceil(s.length / 4);

/** The R1-Zero prompt text a /completions endpoint is sent: EOS (document boundary, when known), template, " <think>". */
export function r1ZeroPromptText(question: string, eosToken?: string): string {
  return `${eosToken ?? ''}${r1ZeroPrompt(question)} <think>`;
}

export interface OpenAITeacherOptions extends Omit<OpenAISourceOptions, 'endpoint' | 'prompt' | 'onUsage'> {
  template: TeacherTemplate;
  /** For 'r1-zero': the text put before the prompt (the model's EOS token, as in training). */
  promptPrefix?: string;
}

/**
 * A teacher behind an OpenAI-compatible API: 'chat' posts the question to /chat/completions
 * (reasoning_content rebuilt as <think>…</think>); 'r1-zero' posts the R1-Zero prompt to /completions.
 */
export function openaiTeacher(o: OpenAITeacherOptions): Teacher {
  const usage = new AsyncLocalStorage<{ tokens: number }>();
  const { template, promptPrefix, ...rest } = o;
  const source = openaiSource({
    ...rest,
    endpoint: template === 'chat' ? 'chat' : 'completions',
    prompt: (item) => r1ZeroPromptText(item.question, promptPrefix),
    onUsage: (u) => {
      const acc = usage.getStore();
      if (acc) acc.tokens += u.promptTokens + u.completionTokens;
    },
  });
  return {
    opensThink: template === 'r1-zero',
    complete: async (item, k) => {
      const acc = { tokens: 0 };
      const [completions] = await usage.run(acc, () => source([item], k));
      // an endpoint that reports no usage: estimate from the texts
      const tokens = acc.tokens > 0 ? acc.tokens : k * estimateTokens(item.question) + completions.reduce((s, c) => s + estimateTokens(c), 0);
      return { completions, tokens };
    },
  };
}

export interface LocalTeacherOptions {
  modelDir: string;
  template: TeacherTemplate;
  temperature: number;
  topP: number;
  maxTokens: number;
  seed: number;
  /** Sequences decoded at once. */
  maxBatch: number;
  /** 'webgpu': the model and its KV cache on the GPU, placed at the first request (falls back to the CPU with a message when there is no adapter); close() frees them. */
  device?: 'cpu' | 'webgpu';
}

/** A teacher that is an r1ts model directory, run in this process by the engine (continuous batching across prompts). */
export function localTeacher(o: LocalTeacherOptions): Teacher {
  const { model, tokenizer, stopTokens } = loadModelDir(o.modelDir);
  const chat = o.template === 'chat' ? modelChatTemplate(tokenizer) : null;
  const encodePrompt = (item: TaskItem): number[] =>
    // the HF tokenizer matches added tokens in text, so the EOS prefix becomes its id (as zeroPromptIds builds it)
    tokenizer.encode(chat ? chat.render([{ role: 'user', content: item.question }], { addGenerationPrompt: true }) : r1ZeroPromptText(item.question, tokenizer.eosToken));
  if (!(o.maxBatch >= 1)) throw new R1tsError(`local teacher: maxBatch ${o.maxBatch}: expected a positive integer`);
  let placed: Promise<DevicePlacement | null> | null = null;
  let engine: Engine | null = null;
  return {
    opensThink: o.template === 'r1-zero',
    close: async () => {
      engine?.dispose();
      await (await placed)?.release();
    },
    complete: async (item, k) => {
      // the engine sizes its cache where the model lives, so both come after the placement
      await (placed ??= o.device === 'webgpu' ? placeOnDevice('local teacher', model.namedTensors().map(([, t]) => t)) : Promise.resolve(null));
      engine ??= new Engine(model, { maxBatch: o.maxBatch, decode: (ids) => tokenizer.decode(ids) });
      const source = engineSource(engine, tokenizer, {
        encodePrompt, sampling: { temperature: o.temperature, topP: o.topP }, maxTokens: o.maxTokens,
        seed: (o.seed ^ hash32(item.id)) >>> 0, stopTokens, stopStrings: o.template === 'r1-zero' ? ['</answer>'] : [],
      });
      const [completions] = await source([item], k);
      const promptTokens = encodePrompt(item).length;
      return { completions, tokens: k * promptTokens + completions.reduce((s, c) => s + tokenizer.encode(c).length, 0) };
    },
  };
}
