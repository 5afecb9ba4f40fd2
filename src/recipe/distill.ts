// Distillation (R1 §2.4): supervised fine-tuning of a small student on a
// teacher's verified traces (the SFT JSONL `r1ts sample` writes), with the
// student's held-out accuracy on the task measured before and after, both
// under the R1 chat template the SFT trains with (greedy by default).
// The student is a model directory with a tokenizer that has the R1 chat
// markers, or a preset ("dense-2", "moe-2", or just "2": the depth knob of
// models/config.ts), built here with a byte-level BPE trained on the data's
// own text and written to OUT/student-init.
// Not here: the SFT loop (train/sft.ts), the sampling of the traces (sample.ts).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { readConversations } from '../data/sft.ts';
import { Engine } from '../engine/generate.ts';
import { engineSource } from '../eval/engine-source.ts';
import { evaluate, type EvalReport } from '../eval/harness.ts';
import { buildModel, saveHfModel } from '../io/hf.ts';
import { loadModelDir } from '../io/model-dir.ts';
import { densePreset, moePreset } from '../models/config.ts';
import { taskByName } from '../tasks/registry.ts';
import { placeOnDevice } from '../tensor/index.ts';
import type { Task, TaskItem } from '../tasks/task.ts';
import { R1_CHAT_TEMPLATE, r1ChatTemplate, saveTokenizerFiles, trainBpe } from '../tokenizer/index.ts';
import { parseConfig } from '../train/pretrain.ts';
import { sft } from '../train/sft.ts';

const posInt = z.number().int().positive();

export const DistillConfigSchema = z.object({
  /** SFT conversations ({"messages": [...]} per line), e.g. from `r1ts sample`. */
  data: z.string().min(1),
  /** A model directory, or a preset: dense-N | moe-N | N (depth N, dense). */
  student: z.string().min(1),
  /** The task whose held-out items measure the student (its grader decides). */
  task: z.string().min(1),
  grader: z.string().optional(),
  dataDir: z.string().optional(),
  /** Run directory: student-init/ (a preset's), sft/ (metrics, checkpoints, model/), summary.json. */
  out: z.string().min(1).default('runs/distill'),
  /** Held-out items evaluated before and after, k samples each at evalTemperature (0: greedy, k = 1). */
  evalItems: posInt.default(100),
  evalK: posInt.default(1),
  evalTemperature: z.number().min(0).max(2).default(0),
  maxTokens: posInt.default(256),
  /** A preset student: its BPE vocabulary and context. */
  vocab: posInt.default(512),
  seq: posInt.default(256),
  /** SFT. */
  steps: posInt.default(300),
  batch: posInt.default(16),
  lr: z.number().positive().default(3e-3),
  warmup: z.number().int().nonnegative().default(20),
  heldOut: z.number().min(0).lt(1).default(0.05),
  seed: z.number().int().default(0),
  progress: z.boolean().default(true),
  /** Where the evaluations and the SFT run: the CPU, or the WebGPU device (falls back to the CPU with a message when there is no adapter). */
  device: z.enum(['cpu', 'webgpu']).default('cpu'),
}).strict();
export type DistillConfig = z.input<typeof DistillConfigSchema>;

export interface DistillSummary {
  task: string;
  student: string;
  params: number;
  conversations: number;
  steps: number;
  final_loss: number | null;
  acc_before: number;
  acc_after: number;
  format_before: number;
  format_after: number;
  eval_items: number;
  model: string;
}

/** Parses a preset name; null when `s` is not one. */
export function parsePreset(s: string): { arch: 'dense' | 'moe'; depth: number } | null {
  const m = /^(?:(dense|moe)-)?(\d+)$/.exec(s);
  return m ? { arch: (m[1] ?? 'dense') as 'dense' | 'moe', depth: Number(m[2]) } : null;
}

/** Builds a preset student in `dir`: BPE on the conversations' text, random init (seeded). */
export async function buildPresetStudent(dataPath: string, preset: { arch: 'dense' | 'moe'; depth: number }, dir: string, o: { vocab: number; seq: number; seed: number }): Promise<number> {
  const texts: string[] = [];
  for await (const m of readConversations(dataPath)) for (const x of m) texts.push(x.content);
  if (texts.length === 0) throw new R1tsError(`${dataPath}: no conversations`);
  const tok = trainBpe(texts, { vocabSize: o.vocab });
  saveTokenizerFiles(dir, tok, R1_CHAT_TEMPLATE);
  const cfg = (preset.arch === 'moe' ? moePreset : densePreset)(preset.depth, tok.vocabSize, o.seq);
  const model = buildModel(cfg, new Rng(o.seed));
  saveHfModel(model, dir);
  return model.numParameters();
}

/** Held-out accuracy of a chat model directory on a task: the R1 chat template, the model's EOS; device 'webgpu' runs the model there. */
export async function evaluateChatModel(dir: string, task: Task, items: readonly TaskItem[], o: { k: number; temperature: number; maxTokens: number; seed: number; device?: 'cpu' | 'webgpu' }): Promise<EvalReport> {
  const { model, tokenizer, stopTokens } = loadModelDir(dir);
  const placement = o.device === 'webgpu' ? await placeOnDevice('distill', model.namedTensors().map(([, t]) => t)) : null;
  const chat = r1ChatTemplate(tokenizer);
  const encodePrompt = (item: TaskItem) => tokenizer.encode(chat.render([{ role: 'user', content: item.question }], { addGenerationPrompt: true }));
  const engine = new Engine(model, { maxBatch: Math.min(64, items.length * o.k), decode: (ids) => tokenizer.decode(ids) });
  const maxTokens = Math.max(1, Math.min(o.maxTokens, model.maxSeqLen - Math.max(...items.map((it) => encodePrompt(it).length))));
  const source = engineSource(engine, tokenizer, { encodePrompt, sampling: { temperature: o.temperature }, maxTokens, seed: o.seed, stopTokens });
  try {
    return await evaluate(task, items, source, o.k, { batchSize: 64 });
  } finally {
    engine.dispose();
    await placement?.release();
  }
}

export async function distill(config: DistillConfig, log: (line: string) => void = (l) => void process.stderr.write(l + '\n')): Promise<DistillSummary> {
  const c = parseConfig(DistillConfigSchema, config, 'distill');
  if (!existsSync(c.data)) throw new R1tsError(`${c.data}: no such data file (expected SFT JSONL, e.g. from r1ts sample)`);
  const task = taskByName(c.task, { grader: c.grader, dataDir: c.dataDir });
  const items = task.heldOut(c.evalItems);
  if (items.length === 0) throw new R1tsError(`task ${task.name}: no held-out items`);
  mkdirSync(c.out, { recursive: true });
  let studentDir = c.student;
  const preset = existsSync(c.student) ? null : parsePreset(c.student);
  let params: number;
  if (preset) {
    studentDir = join(c.out, 'student-init');
    params = await buildPresetStudent(c.data, preset, studentDir, c);
    log(`distill: built a ${preset.arch}-${preset.depth} student (${(params / 1e6).toFixed(2)}M parameters, ${c.vocab}-token BPE on the data) in ${studentDir}`);
  } else if (!existsSync(c.student)) {
    throw new R1tsError(`--student ${c.student}: neither a model directory nor a preset (dense-N, moe-N or N)`);
  } else params = loadModelDir(studentDir).model.numParameters();
  let conversations = 0;
  for await (const _ of readConversations(c.data)) conversations++;
  const ev = { k: c.evalK, temperature: c.evalTemperature, maxTokens: c.maxTokens, seed: c.seed, device: c.device };
  log(`distill: evaluating the student on ${items.length} held-out ${task.name} items ...`);
  const before = await evaluateChatModel(studentDir, task, items, ev);
  log(`distill: before: accuracy ${pct(before.accuracy)}; SFT on ${conversations} conversations for ${c.steps} steps ...`);
  const r = await sft({
    model: studentDir, data: c.data, out: join(c.out, 'sft'), steps: c.steps, batch: c.batch, lr: c.lr, warmup: c.warmup, seq: c.seq,
    heldOut: c.heldOut, seed: c.seed, progress: c.progress, device: c.device, evalEvery: Math.max(1, Math.floor(c.steps / 4)), checkpointEvery: c.steps,
  }, { log });
  if (!r.modelDir) throw new R1tsError('distill: the SFT run stopped before it finished');
  const after = await evaluateChatModel(r.modelDir, task, items, ev);
  log(`distill: after: accuracy ${pct(after.accuracy)} (was ${pct(before.accuracy)})`);
  const summary: DistillSummary = {
    task: task.name, student: c.student, params, conversations, steps: r.step, final_loss: r.losses.at(-1) ?? null,
    acc_before: before.accuracy, acc_after: after.accuracy, format_before: before.formatRate, format_after: after.formatRate, eval_items: items.length, model: r.modelDir,
  };
  writeFileSync(join(c.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileSync(join(c.out, 'eval-after.json'), JSON.stringify(after.results.slice(0, 20), null, 1) + '\n');
  return summary;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
