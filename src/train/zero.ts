// `r1ts zero`: DeepSeek-R1-Zero's experiment, small enough for a laptop CPU.
// A base model that has only seen "pretraining text" (arithmetic-corpus.ts) is
// asked questions under the R1-Zero template, with the assistant's turn opened
// by "<think>"; GRPO with the task's rule-based reward (right answer; full
// credit only in the R1 form) trains it; held-out accuracy, response length and
// the reasoning itself are measured before, during and after.
// The template is the paper's (tokenizer/chat-template.ts R1_ZERO_SYSTEM) and a
// prompt starts where a document of the corpus starts: after the EOS token.
// device 'webgpu': the policy (and the reference) move to the WebGPU device for the whole run —
// rollouts, evaluations and training run there (grpo.ts) — and back to the host at the end;
// no adapter: a message on stderr and the run continues on the CPU.
// Not here: the GRPO step (grpo.ts), building the base (zero-base.ts), flags (cli/zero.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../engine/generate.ts';
import { engineSource } from '../eval/engine-source.ts';
import { evaluate, type EvalReport } from '../eval/harness.ts';
import type { CausalLM } from '../models/model.ts';
import type { Grade, Task, TaskItem } from '../tasks/task.ts';
import { placeOnDevice, releaseDevice } from '../tensor/index.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import { zeroPromptIds } from './zero-prompt.ts';
import { GrpoTrainer, reflectionCount, type GrpoOptions } from './grpo.ts';
import { Progress } from './progress.ts';
import { RunLog } from './run-log.ts';

export interface ZeroOptions {
  grpo: GrpoOptions;
  /** Stop after this many minutes of RL (evaluation time not counted) ... */
  minutes: number;
  /** ... or this many steps, whichever comes first (0 = no step limit). */
  steps: number;
  /** Held-out evaluation every this many steps (0 = only before and after). */
  evalEvery: number;
  /** Held-out items for the periodic evaluations and for before/after. */
  evalItems: number;
  finalEvalItems: number;
  /** Sampling temperature of the evaluations (the targets are stated at T = 1). */
  evalTemperature: number;
  outDir: string;
  progress: boolean;
  /** Print lines (the CLI passes console.log; tests pass nothing). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** The scalar RL reward of a grade (default: the task's own; see grpo.ts rewardFromSpec). */
  reward?: (g: Grade) => number;
  /** Where the run happens (default cpu); webgpu falls back to the CPU with a message when there is no adapter. */
  device?: 'cpu' | 'webgpu';
  /** The label of the fallback message (default 'zero'). */
  label?: string;
}

export interface ZeroSummary {
  task: string;
  steps: number;
  rl_minutes: number;
  acc_before: number;
  acc_after: number;
  len_before: number;
  len_after: number;
  format_before: number;
  format_after: number;
  /** Share of the right held-out answers whose reasoning checks itself ("wait", "check", …): the aha signal. */
  reflective_correct_before: number;
  reflective_correct_after: number;
  /** RL minutes until a periodic evaluation first reached 95% (null: never). */
  minutes_to_95: number | null;
  /** Lowest periodic accuracy after the first ≥ 95% (null: never reached). */
  min_acc_after_95: number | null;
  examples_before: Array<{ question: string; completion: string; correct: boolean }>;
  examples_after: Array<{ question: string; completion: string; correct: boolean }>;
}

/**
 * Of an evaluation's right answers, the share whose reasoning checks itself (a reflection word:
 * "wait", "check", …) — the aha signal, measured on held-out problems rather than on rollouts.
 */
export function reflectiveCorrect(r: EvalReport): number {
  let right = 0;
  let reflective = 0;
  for (const x of r.results) {
    x.completions.forEach((c, i) => {
      if (!x.correct[i]) return;
      right++;
      if (reflectionCount(c) > 0) reflective++;
    });
  }
  return right ? reflective / right : 0;
}

export { zeroPromptIds } from './zero-prompt.ts';

/**
 * The whole experiment on any causal LM and task: evaluate, GRPO within the budget with periodic
 * evaluations, evaluate again, write the run files. `reference` is required when grpo.beta > 0
 * (a second instance of the same architecture; its weights are overwritten with the policy's).
 */
export async function runZero(model: CausalLM, tokenizer: TextTokenizer, task: Task, o: ZeroOptions, reference: CausalLM | null = null): Promise<ZeroSummary> {
  if (o.device !== 'webgpu') return runZeroHere(model, tokenizer, task, o, reference);
  const tensors = [...new Set([model, ...(reference ? [reference] : [])].flatMap((m) => m.namedTensors().map(([, t]) => t)))];
  const placement = await placeOnDevice(o.label ?? 'zero', tensors);
  try {
    return await runZeroHere(model, tokenizer, task, o, reference);
  } finally {
    await placement.release({ toHost: true });
  }
}

async function runZeroHere(model: CausalLM, tokenizer: TextTokenizer, task: Task, o: ZeroOptions, reference: CausalLM | null): Promise<ZeroSummary> {
  const engine = new Engine(model, { maxBatch: Math.max(o.grpo.promptsPerStep * o.grpo.groupSize, 64), decode: (ids) => tokenizer.decode(ids) });
  try {
    return await runWith(engine, model, tokenizer, task, o, reference);
  } finally {
    engine.dispose();
  }
}

async function runWith(engine: Engine, model: CausalLM, tokenizer: TextTokenizer, task: Task, o: ZeroOptions, reference: CausalLM | null): Promise<ZeroSummary> {
  const log = o.log ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const eos = tokenizer.eosToken !== undefined ? tokenizer.specialId(tokenizer.eosToken) : undefined;
  const stopTokens = eos === undefined ? [] : [eos];
  const stopStrings = ['</answer>'];
  const encodePrompt = (item: TaskItem) => zeroPromptIds(tokenizer, item.question);
  const trainer = new GrpoTrainer({ model, reference, engine, tokenizer, task, encodePrompt, stopTokens, stopStrings, reward: o.reward }, o.grpo);
  try {
    const runLog = new RunLog(o.outDir, { resumeStep: 0 });
    const heldOut = task.heldOut(Math.max(o.evalItems, o.finalEvalItems));
    const evalOn = (n: number, seed: number): Promise<EvalReport> =>
      evaluate(task, heldOut.slice(0, n), engineSource(engine, tokenizer, { encodePrompt, sampling: { temperature: o.evalTemperature }, maxTokens: o.grpo.maxTokens, seed, stopTokens, stopStrings }));
    const evalRow = (r: EvalReport): Record<string, number> => ({
      'eval/accuracy': r.accuracy, 'eval/format': r.formatRate, 'eval/length': r.meanLength, 'eval/reflective_correct': reflectiveCorrect(r),
    });
    const examples = (r: EvalReport) => r.results.slice(0, 3).map((x) => ({ question: x.question, completion: x.completions[0], correct: x.correct[0] }));

    log(`task: ${task.name} (${task.description})`);
    // the context caps completions silently in the engine; say so once, with the figures
    const promptLen = heldOut.length ? encodePrompt(heldOut[0]).length : 0;
    if (heldOut.length && promptLen + o.grpo.maxTokens > model.maxSeqLen) {
      log(`note: the prompt takes ${promptLen} of the model's ${model.maxSeqLen} positions, so completions stop at ${Math.max(0, model.maxSeqLen - promptLen)} tokens, not --max-tokens ${o.grpo.maxTokens}`);
    }
    log(`evaluating the base on ${o.finalEvalItems} held-out problems (T=${o.evalTemperature}) ...`);
    const before = await evalOn(o.finalEvalItems, 1);
    log(`base: accuracy ${pct(before.accuracy)}, R1 form ${pct(before.formatRate)}, mean length ${before.meanLength.toFixed(0)} chars`);
    const beforeRow = evalRow(before);
    runLog.metrics(0, { ...beforeRow, rl_minutes: 0 });

    const limitMs = o.minutes * 60_000;
    let rlMs = 0;
    let minutesTo95: number | null = null;
    let minAfter95: number | null = null;
    // the bar counts steps when a step limit is set, else seconds of the RL time budget
    const bySteps = o.steps > 0;
    const progress = o.progress ? new Progress({ total: bySteps ? o.steps : Math.round(o.minutes * 60), label: 'GRPO', unit: bySteps ? 'steps' : 's' }) : null;
    let lastEval = before;
    while (!o.signal?.aborted && rlMs < limitMs && (o.steps === 0 || trainer.stepCount < o.steps)) {
      const t0 = performance.now();
      const { metrics, rollouts, expertLoad } = await trainer.step();
      rlMs += performance.now() - t0;
      const { step: _step, ...figures } = metrics;
      const row: Record<string, number> = { ...figures, rl_minutes: rlMs / 60_000 };
      if (o.evalEvery > 0 && trainer.stepCount % o.evalEvery === 0) {
        lastEval = await evalOn(o.evalItems, 1000 + trainer.stepCount);
        Object.assign(row, evalRow(lastEval));
        if (minutesTo95 === null && lastEval.accuracy >= 0.95) minutesTo95 = rlMs / 60_000;
        else if (minutesTo95 !== null) minAfter95 = Math.min(minAfter95 ?? 1, lastEval.accuracy);
      }
      runLog.metrics(metrics.step, expertLoad ? { ...row, expert_load: expertLoad } : row);
      for (const r of rollouts.filter((_, i) => i % o.grpo.groupSize === 0).slice(0, 4)) {
        runLog.sample({ step: metrics.step, id: r.item.id, prompt: r.item.question, completion: r.text, rewards: { total: r.reward, ...r.grade.rewards }, correct: r.grade.correct });
      }
      progress?.update(bySteps ? trainer.stepCount : Math.min(Math.round(o.minutes * 60), Math.round(rlMs / 1000)), { step: trainer.stepCount, reward: metrics.reward.toFixed(2), acc: pct(metrics.accuracy), len: metrics.completion_chars.toFixed(0), 'eval': pct(lastEval.accuracy), min: (rlMs / 60_000).toFixed(1) });
    }
    progress?.done();
    log(`evaluating after ${trainer.stepCount} steps (${(rlMs / 60_000).toFixed(1)} RL minutes) on ${o.finalEvalItems} held-out problems ...`);
    const after = await evalOn(o.finalEvalItems, 1);
    const afterRow = evalRow(after);
    runLog.metrics(trainer.stepCount, { ...afterRow, rl_minutes: rlMs / 60_000, final: 1 });
    const summary: ZeroSummary = {
      task: task.name, steps: trainer.stepCount, rl_minutes: rlMs / 60_000,
      acc_before: before.accuracy, acc_after: after.accuracy, len_before: before.meanLength, len_after: after.meanLength,
      format_before: before.formatRate, format_after: after.formatRate,
      reflective_correct_before: beforeRow['eval/reflective_correct'], reflective_correct_after: afterRow['eval/reflective_correct'],
      minutes_to_95: minutesTo95, min_acc_after_95: minAfter95,
      examples_before: examples(before), examples_after: examples(after),
    };
    writeFileSync(join(o.outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(join(o.outDir, 'eval-before.json'), JSON.stringify(before, null, 1) + '\n');
    writeFileSync(join(o.outDir, 'eval-after.json'), JSON.stringify(after, null, 1) + '\n');
    return summary;
  } finally {
    // the optimizer's moments on the device (the caller's placement moves only the models back)
    releaseDevice(trainer.opt.stateTensors());
  }
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
