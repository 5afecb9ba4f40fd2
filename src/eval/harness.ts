// The evaluation harness: k completions per item from any completion source
// (an r1ts model through the engine, or later an OpenAI-compatible endpoint),
// graded by the task's own grader, summarised as the R1 paper does: pass@1 as
// the mean over the k samples, unbiased pass@k, format rate, mean length of
// right and wrong answers. The GRPO loop's periodic held-out evaluation calls
// this same function (never a copy).
// Not here: templates and tokenization (the source owns them), sampling.

import { R1tsError } from '../core/errors.ts';
import type { Task, TaskItem } from '../tasks/task.ts';
import { meanCI95, passAtK } from './metrics.ts';

/** Generates `n` completions for each item (the source applies its template and sampling). */
export type CompletionSource = (items: readonly TaskItem[], n: number) => Promise<string[][]>;

export interface EvalItemResult {
  id: string;
  question: string;
  gold: string;
  completions: string[];
  answers: (string | null)[];
  correct: boolean[];
  format: boolean[];
}

export interface EvalReport {
  task: string;
  items: number;
  /** Samples per item. */
  k: number;
  /** pass@1: mean correctness over all samples, with its 95% CI over items. */
  accuracy: number;
  accuracyCI95: number;
  /** Unbiased pass@k over the k samples. */
  passAtK: number;
  /** Share of samples in the R1 form. */
  formatRate: number;
  /** Mean completion length in characters: all, right ones, wrong ones (NaN when none). */
  meanLength: number;
  meanLengthCorrect: number;
  meanLengthWrong: number;
  results: EvalItemResult[];
}

export async function evaluate(task: Task, items: readonly TaskItem[], source: CompletionSource, k = 1): Promise<EvalReport> {
  if (!Number.isInteger(k) || k < 1) throw new R1tsError(`evaluate: k=${k}: expected a positive integer`);
  if (items.length === 0) throw new R1tsError('evaluate: no items to evaluate');
  const completions = await source(items, k);
  if (completions.length !== items.length || completions.some((c) => c.length !== k)) {
    throw new R1tsError(`evaluate: the completion source returned ${completions.length} lists for ${items.length} items (expected ${k} completions each)`);
  }
  const results: EvalItemResult[] = items.map((item, i) => {
    const grades = completions[i].map((c) => task.grade(item, c));
    return { id: item.id, question: item.question, gold: item.gold, completions: completions[i], answers: grades.map((g) => g.answer), correct: grades.map((g) => g.correct), format: grades.map((g) => g.format) };
  });
  const perItem = results.map((r) => r.correct.filter(Boolean).length / k);
  const { mean, ci95 } = meanCI95(perItem);
  const lens = { all: [] as number[], right: [] as number[], wrong: [] as number[] };
  let fmt = 0;
  for (const r of results) {
    r.completions.forEach((c, j) => {
      lens.all.push(c.length);
      (r.correct[j] ? lens.right : lens.wrong).push(c.length);
      if (r.format[j]) fmt++;
    });
  }
  const avg = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  return {
    task: task.name,
    items: items.length,
    k,
    accuracy: mean,
    accuracyCI95: ci95,
    passAtK: avg(results.map((r) => passAtK(k, r.correct.filter(Boolean).length, k))),
    formatRate: fmt / (items.length * k),
    meanLength: avg(lens.all),
    meanLengthCorrect: avg(lens.right),
    meanLengthWrong: avg(lens.wrong),
    results,
  };
}
