// Pretraining glue: documents (a .txt/.jsonl file, or the built-in synthetic
// corpus) → a tokenizer (given, or byte-level BPE trained on the data and saved
// in the run directory) → packed batches with a held-out split → a preset model
// sized by depth (dense Llama-style or DeepSeek-V3 MoE) → trainLM.
// BPE training reads at most `bpeChars` characters of the data (the trainer
// takes its corpus in memory); tokenization and batching see all of it.
// The defaults (dense depth 6 = d 256, 4.8M parameters, batch 32 × 128, 300 steps over
// 3M characters of the synthetic corpus, about 3 minutes on 2 cores) are the Training
// issue's reference shape: there the GEMMs fill two cores (MFU, docs/benchmarks.md); a
// depth-2 model's d-64 GEMMs cannot.
// Not here: the loop itself (trainer.ts), flags (src/cli/pretrain.ts).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { PackedBatcher, tokenizeDocuments } from '../data/pack.ts';
import { readDocuments, syntheticCorpus } from '../data/text-dataset.ts';
import { buildModel } from '../io/hf.ts';
import { densePreset, moePreset } from '../models/config.ts';
import { loadBpeTokenizer, saveTokenizerFiles, tokenizerConfigBeside, trainBpe, type BpeTokenizer } from '../tokenizer/index.ts';
import { trainLM, type TrainOptions, type TrainResult } from './trainer.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();

export const PretrainConfigSchema = z.object({
  /** .txt (blank-line separated documents) or .jsonl ({"text"} per line); default: the built-in synthetic corpus. */
  data: z.string().optional(),
  /** Size of the built-in corpus in characters. */
  syntheticChars: posInt.default(3_000_000),
  /** tokenizer.json to use; default: train byte-level BPE of `vocab` tokens on the data. */
  tokenizer: z.string().optional(),
  vocab: posInt.default(1024),
  /** Characters of the data the BPE trainer reads. */
  bpeChars: posInt.default(20_000_000),
  /** The preset knob: layers (width grows with it, see src/models/config.ts). */
  depth: posInt.default(6),
  arch: z.enum(['dense', 'moe']).default('dense'),
  /** Positions per training row (T); also the model's max_position_embeddings. */
  seq: posInt.default(128),
  /** Rows per micro-batch (B). */
  batch: posInt.default(32),
  steps: posInt.default(300),
  lr: z.number().positive().default(3e-3),
  minLrRatio: z.number().min(0).max(1).default(0.1),
  warmup: nonNegInt.default(20),
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  weightDecay: z.number().nonnegative().default(0.1),
  gradClip: z.number().nonnegative().default(1),
  gradAccum: posInt.default(1),
  /** Fraction of documents held out for eval_loss. */
  heldOut: z.number().min(0).lt(1).default(0.05),
  evalEvery: nonNegInt.default(50),
  evalBatches: posInt.default(4),
  checkpointEvery: nonNegInt.default(100),
  /** Run directory. */
  out: z.string().min(1).default('runs/pretrain'),
  resume: z.boolean().default(false),
  seed: z.number().int().default(0),
  progress: z.boolean().default(true),
  peakFlops: z.number().positive().optional(),
  /** Where training runs: 'cpu', or 'webgpu' (dense preset only; falls back to the CPU with a message when no adapter exists). */
  device: z.enum(['cpu', 'webgpu']).default('cpu'),
}).strict();

export type PretrainConfig = z.input<typeof PretrainConfigSchema>;
export type PretrainHooks = Pick<TrainOptions, 'onStep' | 'signal' | 'progressStream'> & { log?: (line: string) => void };

export interface PretrainResult extends TrainResult {
  tokenizer: BpeTokenizer;
  params: number;
  trainTokens: number;
  evalTokens: number;
}

export function parseConfig<S extends z.ZodTypeAny>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ConfigError(`invalid ${what} options:\n${r.error.issues.map((i: z.core.$ZodIssue) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  return r.data;
}

/** The run's documents: the --data file, or the built-in synthetic corpus. */
function corpusDocuments(c: z.output<typeof PretrainConfigSchema>): AsyncIterable<string> | Iterable<string> {
  return c.data ? readDocuments(c.data) : syntheticCorpus(c.syntheticChars, c.seed);
}

/**
 * The byte-level BPE a run without --tokenizer trains: `vocab` tokens (fewer when the text has
 * no more pairs to merge) on the first `bpeChars` characters of its documents. bench:train uses
 * it to give the default run's model its real vocabulary.
 */
export async function trainCorpusTokenizer(config: PretrainConfig): Promise<{ tokenizer: BpeTokenizer; chars: number }> {
  const c = parseConfig(PretrainConfigSchema, config, 'pretrain');
  const sample: string[] = [];
  let chars = 0;
  for await (const d of corpusDocuments(c)) {
    sample.push(d);
    chars += d.length;
    if (chars >= c.bpeChars) break;
  }
  if (chars === 0) throw new R1tsError(`${c.data ?? 'built-in corpus'}: no text to train on`);
  return { tokenizer: trainBpe(sample, { vocabSize: c.vocab }), chars };
}

export async function pretrain(config: PretrainConfig, hooks: PretrainHooks = {}): Promise<PretrainResult> {
  const c = parseConfig(PretrainConfigSchema, config, 'pretrain');
  const { log: logHook, ...trainHooks } = hooks;
  const log = logHook ?? ((l: string) => void process.stderr.write(l + '\n'));
  const docs = () => corpusDocuments(c);
  const runTok = join(c.out, 'tokenizer.json');
  let tokenizer: BpeTokenizer;
  if (c.tokenizer) tokenizer = loadBpeTokenizer(c.tokenizer, tokenizerConfigBeside(c.tokenizer));
  else if (c.resume && existsSync(runTok)) tokenizer = loadBpeTokenizer(runTok, tokenizerConfigBeside(runTok));
  else {
    const t0 = performance.now();
    const { tokenizer: trained, chars } = await trainCorpusTokenizer(c);
    tokenizer = trained;
    saveTokenizerFiles(c.out, tokenizer);
    log(`pretrain: trained a ${tokenizer.vocabSize}-token BPE on ${chars} characters in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${runTok}`);
  }
  if (!tokenizer.eosToken) throw new R1tsError('pretrain: the tokenizer has no EOS token (eos_token) to end documents with');
  const eosId = tokenizer.specialId(tokenizer.eosToken);
  const splits = await tokenizeDocuments(docs(), tokenizer, { eosId, heldOutFraction: c.heldOut, seed: c.seed });
  const train = new PackedBatcher(splits.train, { batch: c.batch, seqLen: c.seq, seed: c.seed });
  const evalB = splits.eval.length > c.seq ? new PackedBatcher(splits.eval, { batch: c.batch, seqLen: c.seq, shuffle: false }) : undefined;
  if (c.heldOut > 0 && !evalB) log(`pretrain: the held-out split has ${splits.eval.length} tokens, too few for one window of ${c.seq + 1}; no eval_loss`);
  const preset = c.arch === 'moe' ? moePreset : densePreset;
  const model = buildModel(preset(c.depth, tokenizer.vocabSize, c.seq), new Rng(c.seed));
  const params = model.numParameters();
  log(`pretrain: ${c.arch} depth ${c.depth}, ${(params / 1e6).toFixed(2)}M parameters; ${splits.trainDocs} documents / ${splits.train.length} tokens train, ${splits.evalDocs} / ${splits.eval.length} held out; B ${c.batch} × T ${c.seq} × accum ${c.gradAccum}`);
  const r = await trainLM({
    model, train, eval: evalB, tokenizer, steps: c.steps, lr: c.lr, minLrRatio: c.minLrRatio, warmupSteps: c.warmup, schedule: c.schedule,
    weightDecay: c.weightDecay, gradClip: c.gradClip, gradAccum: c.gradAccum, evalEvery: c.evalEvery, evalBatches: c.evalBatches,
    checkpointEvery: c.checkpointEvery, outDir: c.out, resume: c.resume, seed: c.seed, progress: c.progress, peakFlops: c.peakFlops, device: c.device, label: 'pretrain', ...trainHooks,
  });
  return { ...r, tokenizer, params, trainTokens: splits.train.length, evalTokens: splits.eval.length };
}
