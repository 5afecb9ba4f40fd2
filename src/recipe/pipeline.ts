// The R1 recipe as one run: a typed list of stages — cold-start SFT, reasoning
// RL, rejection sampling, SFT on the sampled traces, final RL, in any order or
// subset — applied to one model, each stage writing under OUT/NN-name/ its
// model (model/, a Hugging Face directory with the tokenizer), its metrics
// (metrics.jsonl) and, when it finishes, done.json (written atomically: the
// stage's config and results). A rerun skips every stage whose done.json holds
// the same config, so the run resumes at stage granularity; a stage cut short
// runs again from its start (a sampling stage continues its own file).
// Every stage that changes the model reports its held-out accuracy under one
// protocol (the R1-Zero prompt, evalItems held-out items, evalTemperature),
// beside the starting model's.
// The whole run speaks the R1-Zero template (the prompt opens <think>), the
// format the shipped base and `r1ts zero` use; SFT here trains on
// prompt → completion pairs in that template (conversations from `sample`
// become "R1-Zero prompt of the question" → "reasoning </think> answer"+EOS).
// Departures from R1: no language-consistency reward (the tasks are in one
// language and format); cold-start data is the base's own shortest verified
// traces rather than curated long CoT; sizes are a laptop's.
// Not here: the GRPO loop (train/grpo.ts, train/zero.ts), sampling (sample.ts), flags (cli/pipeline.ts).

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic.ts';
import { R1tsError } from '../core/errors.ts';
import { appendJsonl } from '../core/jsonl.ts';
import { Rng } from '../core/rng.ts';
import { readConversations, SftBatcher, type SftTokens } from '../data/sft.ts';
import { Engine } from '../engine/generate.ts';
import { engineSource } from '../eval/engine-source.ts';
import { evaluate } from '../eval/harness.ts';
import { saveHfModel } from '../io/hf.ts';
import { loadModel } from '../io/load.ts';
import type { CausalLM } from '../models/model.ts';
import { taskByName } from '../tasks/registry.ts';
import type { Task, TaskItem } from '../tasks/task.ts';
import { placeOnDevice } from '../tensor/index.ts';
import { findTokenizerJson, loadBpeTokenizer, saveTokenizerFiles, tokenizerConfigBeside, type BpeTokenizer } from '../tokenizer/index.ts';
import { GRPO_DEFAULTS } from '../train/grpo.ts';
import { parseConfig } from '../train/pretrain.ts';
import { trainLM } from '../train/trainer.ts';
import { runZero, zeroPromptIds } from '../train/zero.ts';
import { distinctTrainItems, sample } from './sample.ts';
import { localTeacher, openaiTeacher } from './teacher.ts';

const posInt = z.number().int().positive();
const name = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a kebab-case name');

const SftStage = z.object({
  kind: z.literal('sft'),
  name,
  /** Conversations JSONL; default: the traces of the latest sample stage. */
  data: z.string().optional(),
  steps: posInt.default(30),
  batch: posInt.default(8),
  lr: z.number().positive().default(3e-4),
  warmup: z.number().int().nonnegative().default(3),
}).strict();

const RlStage = z.object({
  kind: z.literal('rl'),
  name,
  /** GRPO runs until `minutes` of RL or `steps` steps (0: no step limit), whichever comes first. */
  minutes: z.number().positive().default(1),
  steps: z.number().int().nonnegative().default(4),
  prompts: posInt.default(GRPO_DEFAULTS.promptsPerStep),
  group: z.number().int().min(2).default(GRPO_DEFAULTS.groupSize),
  lr: z.number().positive().default(GRPO_DEFAULTS.lr),
  temperature: z.number().positive().default(GRPO_DEFAULTS.temperature),
  beta: z.number().nonnegative().default(GRPO_DEFAULTS.beta),
}).strict();

const SampleStage = z.object({
  kind: z.literal('sample'),
  name,
  prompts: posInt.default(64),
  k: posInt.default(4),
  temperature: z.number().min(0).default(1),
  dedup: z.boolean().default(true),
  maxPerPrompt: posInt.optional(),
  /** Teacher: the pipeline's current model (default), or an OpenAI-compatible endpoint. */
  baseURL: z.string().optional(),
  model: z.string().optional(),
  /** Name of an environment variable holding the endpoint's key (keys never go in the config). */
  apiKeyEnv: z.string().optional(),
  template: z.enum(['chat', 'r1-zero']).default('r1-zero'),
  concurrency: posInt.default(16),
}).strict();

export const StageSchema = z.discriminatedUnion('kind', [SftStage, RlStage, SampleStage]);
export type Stage = z.output<typeof StageSchema>;

export const PipelineConfigSchema = z.object({
  /** Run directory. */
  out: z.string().min(1).default('runs/pipeline'),
  /** The starting model (a directory with tokenizer.json; the R1-Zero template). */
  base: z.string().min(1).default('assets/zero-base'),
  task: z.string().min(1).default('add'),
  grader: z.string().optional(),
  dataDir: z.string().optional(),
  /** Held-out items of every stage's evaluation, their sampling temperature and budget. */
  evalItems: posInt.default(100),
  evalTemperature: z.number().min(0).default(1),
  maxTokens: posInt.default(GRPO_DEFAULTS.maxTokens),
  seed: z.number().int().default(0),
  progress: z.boolean().default(true),
  /** Where every stage's model runs (evaluations, local sampling, SFT, GRPO): webgpu falls back to the CPU with a message when there is no adapter. Not part of a stage's identity (the results agree within f32 rounding). */
  device: z.enum(['cpu', 'webgpu']).default('cpu'),
  stages: z.array(StageSchema).min(1),
}).strict().superRefine((c, ctx) => {
  const seen = new Set<string>();
  c.stages.forEach((s, i) => {
    if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: `stage name '${s.name}' appears twice` });
    seen.add(s.name);
    if (s.kind === 'sample' && s.baseURL && !s.model) ctx.addIssue({ code: 'custom', path: ['stages', i, 'model'], message: 'a sample stage with baseURL needs model' });
  });
});
export type PipelineConfig = z.input<typeof PipelineConfigSchema>;

/** The built-in run: cold start → reasoning RL → rejection sampling → SFT → final RL, a few minutes on 2 cores. */
export const DEFAULT_PIPELINE: PipelineConfig = {
  out: 'runs/pipeline',
  base: 'assets/zero-base',
  task: 'add',
  evalItems: 100,
  stages: [
    { kind: 'sample', name: 'cold-start-data', prompts: 48, k: 4, maxPerPrompt: 1 },
    { kind: 'sft', name: 'cold-start', steps: 30 },
    { kind: 'rl', name: 'reasoning-rl', minutes: 1.5, steps: 4 },
    { kind: 'sample', name: 'rejection-sampling', prompts: 64, k: 4 },
    { kind: 'sft', name: 'sft', steps: 30 },
    { kind: 'rl', name: 'final-rl', minutes: 1, steps: 3 },
  ],
};

export interface StageResult {
  name: string;
  kind: Stage['kind'];
  /** Held-out accuracy after the stage (the model's, unchanged by a sample stage). */
  accuracy: number;
  format: number;
  /** The model after the stage. */
  model: string;
  /** A sample stage's traces, accept rate and kept count. */
  data?: string;
  acceptRate?: number;
  kept?: number;
  seconds: number;
  /** Taken from an earlier run's done.json. */
  resumed: boolean;
}

export interface PipelineResult {
  task: string;
  base: { model: string; accuracy: number; format: number };
  stages: StageResult[];
}

interface Loaded {
  model: CausalLM;
  tokenizer: BpeTokenizer;
  eos: number;
}

function loadRun(dir: string): Loaded {
  const tokPath = findTokenizerJson(dir);
  if (!tokPath) throw new R1tsError(`${dir}: no tokenizer.json in the model directory`);
  const tokenizer = loadBpeTokenizer(tokPath, tokenizerConfigBeside(tokPath));
  if (!tokenizer.eosToken) throw new R1tsError(`${tokPath}: no EOS token (needed to end completions)`);
  return { model: loadModel(dir).model, tokenizer, eos: tokenizer.specialId(tokenizer.eosToken) };
}

/** Held-out accuracy of a model directory under the R1-Zero prompt. */
async function heldOutAccuracy(dir: string, task: Task, items: readonly TaskItem[], c: { evalTemperature: number; maxTokens: number; device: 'cpu' | 'webgpu' }): Promise<{ accuracy: number; format: number }> {
  const { model, tokenizer, eos } = loadRun(dir);
  const placement = c.device === 'webgpu' ? await placeOnDevice('pipeline', model.namedTensors().map(([, t]) => t)) : null;
  const engine = new Engine(model, { maxBatch: 64, decode: (ids) => tokenizer.decode(ids) });
  const source = engineSource(engine, tokenizer, { encodePrompt: (it) => zeroPromptIds(tokenizer, it.question), sampling: { temperature: c.evalTemperature }, maxTokens: c.maxTokens, seed: 1, stopTokens: [eos], stopStrings: ['</answer>'] });
  try {
    const r = await evaluate(task, items, source, 1, { batchSize: 64 });
    return { accuracy: r.accuracy, format: r.formatRate };
  } finally {
    engine.dispose();
    await placement?.release();
  }
}

/** SFT examples in the R1-Zero template: the prompt (no loss) then "reasoning </think> answer" + EOS (loss). */
export async function zeroSftExamples(path: string, tokenizer: BpeTokenizer, eos: number): Promise<SftTokens[]> {
  const out: SftTokens[] = [];
  for await (const m of readConversations(path)) {
    const user = m.find((x) => x.role === 'user'), assistant = m.find((x) => x.role === 'assistant');
    if (!user || !assistant) throw new R1tsError(`${path}: a conversation without a user and an assistant message`);
    const prompt = zeroPromptIds(tokenizer, user.content);
    const completion = [...tokenizer.encode(assistant.content.replace(/^\s*<think>/, ''), { parseSpecial: false }), eos];
    out.push({ ids: [...prompt, ...completion], mask: [...prompt.map(() => 0), ...completion.map(() => 1)] });
  }
  if (out.length === 0) throw new R1tsError(`${path}: no conversations to train on`);
  return out;
}

export async function runPipeline(config: PipelineConfig, log: (line: string) => void = (l) => void process.stderr.write(l + '\n')): Promise<PipelineResult> {
  const c = parseConfig(PipelineConfigSchema, config, 'pipeline');
  // One device for the whole run: each stage and evaluation places its model on it and hands it
  // back, and all of them share its compiled pipelines and buffer pool (a device per placement
  // would compile every kernel again, five times for sft → rl). Without an adapter it says so once.
  const held = c.device === 'webgpu' ? await placeOnDevice('pipeline', []) : null;
  try {
    return await runStages(held?.onDevice === false ? { ...c, device: 'cpu' } : c, log);
  } finally {
    await held?.release();
  }
}

async function runStages(c: z.output<typeof PipelineConfigSchema>, log: (line: string) => void): Promise<PipelineResult> {
  const task = taskByName(c.task, { grader: c.grader, dataDir: c.dataDir });
  const items = task.heldOut(c.evalItems);
  mkdirSync(c.out, { recursive: true });
  writeFileAtomic(join(c.out, 'pipeline.json'), JSON.stringify(c, null, 2) + '\n');
  const baseDone = join(c.out, 'base.json');
  const baseKey = JSON.stringify({ base: c.base, task: c.task, evalItems: c.evalItems, evalTemperature: c.evalTemperature, maxTokens: c.maxTokens });
  let base: PipelineResult['base'];
  const prevBase = existsSync(baseDone) ? (JSON.parse(readFileSync(baseDone, 'utf8')) as { key: string; result: PipelineResult['base'] }) : null;
  if (prevBase?.key === baseKey) base = prevBase.result;
  else {
    log(`pipeline: evaluating the base ${c.base} on ${items.length} held-out ${task.name} items ...`);
    base = { model: c.base, ...(await heldOutAccuracy(c.base, task, items, c)) };
    writeFileAtomic(baseDone, JSON.stringify({ key: baseKey, result: base }) + '\n');
  }
  log(`pipeline: base: held-out accuracy ${pct(base.accuracy)}`);
  let modelDir = c.base, data: string | null = null, accuracy = base.accuracy, format = base.format;
  const results: StageResult[] = [];
  for (const [i, stage] of c.stages.entries()) {
    const dir = join(c.out, `${String(i + 1).padStart(2, '0')}-${stage.name}`);
    const donePath = join(dir, 'done.json');
    // a stage's identity: its own config and everything before it
    const key = JSON.stringify({ stage, from: modelDir, data, task: c.task, seed: c.seed, evalItems: c.evalItems, evalTemperature: c.evalTemperature, maxTokens: c.maxTokens });
    if (existsSync(donePath)) {
      const prev = JSON.parse(readFileSync(donePath, 'utf8')) as { key: string; result: StageResult };
      if (prev.key !== key) throw new R1tsError(`${donePath}: stage '${stage.name}' was done with another config or after other stages; use another --out or delete ${dir} (and the stages after it)`);
      const r = { ...prev.result, resumed: true };
      results.push(r);
      ({ model: modelDir, accuracy, format } = r);
      if (r.data) data = r.data;
      log(`pipeline: ${stage.name}: done earlier (held-out accuracy ${pct(r.accuracy)})`);
      continue;
    }
    const t0 = performance.now();
    log(`pipeline: stage ${i + 1}/${c.stages.length}: ${stage.name} (${stage.kind}) ...`);
    mkdirSync(dir, { recursive: true });
    let r: StageResult;
    if (stage.kind === 'sample') {
      const teacher = stage.baseURL
        ? openaiTeacher({ baseURL: stage.baseURL, model: stage.model!, apiKey: stage.apiKeyEnv ? process.env[stage.apiKeyEnv] : undefined, template: stage.template, temperature: stage.temperature, maxTokens: c.maxTokens, seed: c.seed, concurrency: stage.concurrency, stop: stage.template === 'r1-zero' ? ['</answer>'] : undefined })
        : localTeacher({ modelDir, template: 'r1-zero', temperature: stage.temperature, topP: 1, maxTokens: c.maxTokens, seed: c.seed + i, maxBatch: Math.max(1, stage.concurrency * stage.k), device: c.device });
      const out = join(dir, 'traces.jsonl');
      const s = await sample({ task, items: distinctTrainItems(task, stage.prompts, new Rng(c.seed + 1000 * (i + 1))), teacher, k: stage.k, out, dedup: stage.dedup, maxPerPrompt: stage.maxPerPrompt, concurrency: stage.concurrency })
        .finally(() => teacher.close?.());
      if (s.error) throw new R1tsError(`stage ${stage.name}: ${s.error} (rerun to continue)`);
      if (s.kept === 0) throw new R1tsError(`stage ${stage.name}: the teacher got none of ${s.samples} samples right; nothing to train on`);
      appendJsonl(join(dir, 'metrics.jsonl'), { step: 0, time: Date.now() / 1000, accept_rate: s.correct / s.samples, kept: s.kept, tokens: s.tokens });
      data = out;
      r = { name: stage.name, kind: stage.kind, accuracy, format, model: modelDir, data: out, acceptRate: s.correct / s.samples, kept: s.kept, seconds: 0, resumed: false };
      log(`pipeline: ${stage.name}: accept rate ${pct(s.correct / s.samples)}, ${s.kept} traces in ${out}`);
    } else if (stage.kind === 'sft') {
      const path = stage.data ?? data;
      if (!path) throw new R1tsError(`stage ${stage.name}: no data (give "data", or put a sample stage before it)`);
      const { model, tokenizer, eos } = loadRun(modelDir);
      const examples = await zeroSftExamples(path, tokenizer, eos);
      const padId = tokenizer.padToken ? tokenizer.specialId(tokenizer.padToken) : eos;
      const train = new SftBatcher(examples, { batch: stage.batch, maxLen: model.maxSeqLen, padId, seed: c.seed });
      rmSync(join(dir, 'checkpoints'), { recursive: true, force: true }); // a cut-short stage starts over
      const t = await trainLM({ model, train, tokenizer, steps: stage.steps, lr: stage.lr, warmupSteps: stage.warmup, weightDecay: 0, outDir: dir, progress: c.progress, label: stage.name, seed: c.seed, handleSignals: false, device: c.device });
      if (!t.modelDir) throw new R1tsError(`stage ${stage.name}: SFT stopped before it finished`);
      modelDir = t.modelDir;
      ({ accuracy, format } = await heldOutAccuracy(modelDir, task, items, c));
      r = { name: stage.name, kind: stage.kind, accuracy, format, model: modelDir, seconds: 0, resumed: false };
      log(`pipeline: ${stage.name}: ${t.step} SFT steps on ${train.examples.length} traces, loss ${t.losses.at(-1)?.toFixed(3)}; held-out accuracy ${pct(accuracy)}`);
    } else {
      const { model, tokenizer } = loadRun(modelDir);
      const grpo = { ...GRPO_DEFAULTS, promptsPerStep: stage.prompts, groupSize: stage.group, lr: stage.lr, temperature: stage.temperature, beta: stage.beta, maxTokens: c.maxTokens, seed: c.seed + i };
      const reference = stage.beta > 0 ? loadRun(modelDir).model : null;
      const z = await runZero(model, tokenizer, task, {
        grpo, minutes: stage.minutes, steps: stage.steps, evalEvery: 0, evalItems: c.evalItems, finalEvalItems: c.evalItems,
        evalTemperature: c.evalTemperature, outDir: dir, progress: c.progress, device: c.device,
      }, reference);
      modelDir = join(dir, 'model');
      saveHfModel(model, modelDir);
      saveTokenizerFiles(modelDir, tokenizer);
      // the same protocol as every other stage (runZero's own evaluation seeds differently)
      ({ accuracy, format } = await heldOutAccuracy(modelDir, task, items, c));
      r = { name: stage.name, kind: stage.kind, accuracy, format, model: modelDir, seconds: 0, resumed: false };
      log(`pipeline: ${stage.name}: ${z.steps} GRPO steps in ${z.rl_minutes.toFixed(1)} min; held-out accuracy ${pct(accuracy)}`);
    }
    r.seconds = (performance.now() - t0) / 1000;
    writeFileAtomic(donePath, JSON.stringify({ key, result: r }, null, 1) + '\n');
    results.push(r);
  }
  const result: PipelineResult = { task: task.name, base, stages: results };
  writeFileAtomic(join(c.out, 'summary.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

/** The per-stage table of a result (markdown). */
export function pipelineTable(r: PipelineResult): string {
  const rows = [`| stage | kind | held-out accuracy | R1 form | notes |`, `|---|---|---|---|---|`, `| base | - | ${pct(r.base.accuracy)} | ${pct(r.base.format)} | ${r.base.model} |`];
  for (const s of r.stages) {
    const notes = s.kind === 'sample' ? `accept ${pct(s.acceptRate ?? 0)}, ${s.kept} traces` : `${s.seconds.toFixed(0)} s`;
    rows.push(`| ${s.name} | ${s.kind} | ${pct(s.accuracy)} | ${pct(s.format)} | ${notes}${s.resumed ? ' (resumed)' : ''} |`);
  }
  return rows.join('\n');
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
