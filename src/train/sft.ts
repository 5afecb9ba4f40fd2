// Supervised fine-tuning glue: a model directory (Hugging Face dir or r1ts
// checkpoint, with its tokenizer.json) + conversations ({"messages"} JSONL, or
// the built-in synthetic set) rendered with the R1 chat template → padded
// batches that train only on assistant tokens → trainLM. Conversations go to
// the held-out split by a hash of their JSON. The model directory written at
// the end carries the tokenizer and the chat template.
// Not here: the loop (trainer.ts), masks (src/tokenizer/loss-mask.ts), flags (src/cli/sft.ts).

import { z } from 'zod';
import { R1tsError } from '../core/errors.ts';
import { docHash01 } from '../data/pack.ts';
import { SftBatcher, readConversations, syntheticConversations, tokenizeConversations } from '../data/sft.ts';
import { loadModel } from '../io/load.ts';
import { R1_CHAT_TEMPLATE, findTokenizerJson, loadBpeTokenizer, r1ChatTemplate, tokenizerConfigBeside, type BpeTokenizer, type ChatMessage } from '../tokenizer/index.ts';
import { parseConfig, type PretrainHooks } from './pretrain.ts';
import { trainLM, type TrainResult } from './trainer.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

export const SftConfigSchema = z.object({
  /** Model to fine-tune: a Hugging Face directory or r1ts checkpoint/run directory. */
  model: z.string().min(1),
  /** {"messages": [...]} per line; default: the built-in synthetic conversations. */
  data: z.string().optional(),
  /** tokenizer.json; default: the model directory's. */
  tokenizer: z.string().optional(),
  /** Tokens kept per conversation (T ≤ seq - 1); capped by the model's positions. */
  seq: posInt.default(128),
  batch: posInt.default(8),
  steps: posInt.default(100),
  lr: z.number().positive().default(1e-3),
  minLrRatio: z.number().min(0).max(1).default(0.1),
  warmup: nonNegInt.default(10),
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  weightDecay: z.number().nonnegative().default(0),
  gradClip: z.number().nonnegative().default(1),
  gradAccum: posInt.default(1),
  heldOut: z.number().min(0).lt(1).default(0.1),
  evalEvery: nonNegInt.default(25),
  evalBatches: posInt.default(4),
  checkpointEvery: nonNegInt.default(50),
  out: z.string().min(1).default('runs/sft'),
  resume: z.boolean().default(false),
  seed: z.number().int().default(0),
  progress: z.boolean().default(true),
  peakFlops: z.number().positive().optional(),
  /** Where the step runs: the CPU backend, or the WebGPU device (trainer.ts; falls back to the CPU with a message when there is no adapter). */
  device: z.enum(['cpu', 'webgpu']).default('cpu'),
}).strict();

export type SftConfig = z.input<typeof SftConfigSchema>;

export interface SftResult extends TrainResult {
  tokenizer: BpeTokenizer;
  trainExamples: number;
  evalExamples: number;
}

/** The model's tokenizer.json: beside it, or in a checkpoint's run directory (two levels up). */
function findTokenizer(modelPath: string): string {
  const p = findTokenizerJson(modelPath, 2);
  if (!p) throw new R1tsError(`${modelPath}: no tokenizer.json beside the model; pass a tokenizer`);
  return p;
}

export async function sft(config: SftConfig, hooks: PretrainHooks = {}): Promise<SftResult> {
  const c = parseConfig(SftConfigSchema, config, 'sft');
  const { log: logHook, ...trainHooks } = hooks;
  const log = logHook ?? ((l: string) => void process.stderr.write(l + '\n'));
  const { model } = loadModel(c.model);
  const tokPath = c.tokenizer ?? findTokenizer(c.model);
  const tokenizer = loadBpeTokenizer(tokPath, tokenizerConfigBeside(tokPath));
  if (tokenizer.vocabSize > model.config.vocab_size) throw new R1tsError(`${tokPath}: ${tokenizer.vocabSize} tokens, more than the model's vocab_size ${model.config.vocab_size}`);
  const template = r1ChatTemplate(tokenizer);
  const convs: ChatMessage[][] = [];
  if (c.data) for await (const m of readConversations(c.data)) convs.push(m);
  else convs.push(...syntheticConversations(400, c.seed));
  const held = (m: ChatMessage[]) => c.heldOut > 0 && docHash01(JSON.stringify(m), c.seed) < c.heldOut;
  const trainConvs = convs.filter((m) => !held(m)), evalConvs = convs.filter(held);
  if (trainConvs.length === 0) throw new R1tsError(`${c.data ?? 'built-in conversations'}: no conversations left to train on`);
  const maxLen = Math.min(c.seq, model.maxSeqLen) + 1;
  if (c.seq > model.maxSeqLen) log(`sft: the model has ${model.maxSeqLen} positions; conversations are cut to ${maxLen} tokens`);
  const padToken = tokenizer.padToken ?? tokenizer.eosToken;
  if (!padToken) throw new R1tsError(`${tokPath}: no pad or EOS token to pad batches with`);
  const padId = tokenizer.specialId(padToken);
  const train = new SftBatcher(await tokenizeConversations(trainConvs, template, tokenizer), { batch: c.batch, maxLen, padId, seed: c.seed });
  const evalB = evalConvs.length ? new SftBatcher(await tokenizeConversations(evalConvs, template, tokenizer), { batch: c.batch, maxLen, padId, shuffle: false }) : undefined;
  log(`sft: ${(model.numParameters() / 1e6).toFixed(2)}M parameters; ${train.examples.length} conversations train${train.dropped ? ` (${train.dropped} dropped: no assistant token within ${maxLen} tokens)` : ''}, ${evalConvs.length} held out`);
  const r = await trainLM({
    model, train, eval: evalB, tokenizer, chatTemplate: R1_CHAT_TEMPLATE, steps: c.steps, lr: c.lr, minLrRatio: c.minLrRatio, warmupSteps: c.warmup,
    schedule: c.schedule, weightDecay: c.weightDecay, gradClip: c.gradClip, gradAccum: c.gradAccum, evalEvery: c.evalEvery, evalBatches: c.evalBatches,
    checkpointEvery: c.checkpointEvery, outDir: c.out, resume: c.resume, seed: c.seed, progress: c.progress, peakFlops: c.peakFlops, device: c.device, label: 'sft', ...trainHooks,
  });
  return { ...r, tokenizer, trainExamples: train.examples.length, evalExamples: evalConvs.length };
}
