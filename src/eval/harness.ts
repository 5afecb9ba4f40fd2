// The evaluation harness: k completions per item from any completion source
// (an r1ts model through the engine, or an OpenAI-compatible endpoint), graded
// by the task's own grader, summarised as the R1 paper does: pass@1 as the mean
// over the k samples (with k = 1 at temperature 0 it is greedy accuracy),
// unbiased pass@k, cons@k (majority vote over extracted answers grouped by the
// task's answer equivalence), format rate, mean length of right and wrong
// answers, each rate with its 95% CI over items. Items go to the source in
// batches; each finished item is reported (onItemDone: the CLI's progress bar)
// and, with a results store (results-file.ts), appended to a JSONL file so that a restarted run skips
// the items already done. The GRPO loop's periodic held-out evaluation calls
// this same function (never a copy).
// Not here: templates and tokenization (the source owns them), sampling,
// rendering (report.ts).

import { R1tsError } from '../core/errors.ts';
import { answersEquivalent, type Task, type TaskItem } from '../tasks/task.ts';
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
  rewards: number[];
  /** The majority answer (null: no sample gave one) and whether it is right. */
  consAnswer: string | null;
  consCorrect: boolean;
}

export interface EvalReport {
  task: string;
  items: number;
  /** Samples per item. */
  k: number;
  /** pass@1: mean correctness over all samples, with its 95% CI over items. */
  accuracy: number;
  accuracyCI95: number;
  /** Unbiased pass@k over the k samples, with its 95% CI over items. */
  passAtK: number;
  passAtKCI95: number;
  /** cons@k: the majority-vote answer is right, with its 95% CI over items. */
  consAtK: number;
  consAtKCI95: number;
  /** Share of samples in the R1 form. */
  formatRate: number;
  /** Mean completion length in characters: all, right ones, wrong ones (NaN when none). */
  meanLength: number;
  meanLengthCorrect: number;
  meanLengthWrong: number;
  /** Items taken from an earlier run's results file rather than generated now. */
  resumed: number;
  results: EvalItemResult[];
}

/**
 * Where a resumable evaluation keeps its finished items: those stored by earlier runs, and an
 * append per item as it finishes. Injected, so the harness itself touches no file system (the
 * browser tab evaluates with it too).
 */
export interface ResultsStore {
  /** Names the store in errors (the file's path). */
  readonly name: string;
  /** The results stored so far (any k; the harness checks them). */
  load(): EvalItemResult[];
  append(r: EvalItemResult): void;
}

export interface EvalOptions {
  /** Items per call of the source (default: all at once). */
  batchSize?: number;
  /** Batches in flight at once (default 1; an endpoint source gains from more). */
  parallel?: number;
  /** Per-item results kept across runs (results-file.ts: a JSONL file): appended as items finish; items already there are skipped (resume). */
  results?: ResultsStore;
  /** Called as each item finishes (done counts resumed items too). */
  onItemDone?: (result: EvalItemResult, done: number, total: number) => void;
}

/** The majority answer of a list under an equivalence (ties: the answer seen first); -1 when none. */
export function majorityIndex(answers: readonly (string | null)[], equivalent: (a: string, b: string) => boolean): number {
  const groups: { rep: number; count: number }[] = [];
  answers.forEach((a, j) => {
    if (a === null) return;
    const g = groups.find((x) => equivalent(answers[x.rep]!, a));
    if (g) g.count++;
    else groups.push({ rep: j, count: 1 });
  });
  let best = -1, bestCount = 0;
  for (const g of groups) if (g.count > bestCount) (best = g.rep), (bestCount = g.count);
  return best;
}

/** Grades the completions of one item into its result. */
export function gradeItem(task: Task, item: TaskItem, completions: readonly string[]): EvalItemResult {
  const grades = completions.map((c) => task.grade(item, c));
  const answers = grades.map((g) => g.answer);
  const m = majorityIndex(answers, (a, b) => answersEquivalent(task, item, a, b));
  return {
    id: item.id, question: item.question, gold: item.gold, completions: [...completions], answers,
    correct: grades.map((g) => g.correct), format: grades.map((g) => g.format), rewards: grades.map((g) => g.reward),
    consAnswer: m < 0 ? null : answers[m], consCorrect: m >= 0 && grades[m].correct,
  };
}

/** The figures of graded results. */
export function summarize(taskName: string, k: number, results: readonly EvalItemResult[], resumed = 0): EvalReport {
  const avg = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  const acc = meanCI95(results.map((r) => r.correct.filter(Boolean).length / k));
  const pk = meanCI95(results.map((r) => passAtK(k, r.correct.filter(Boolean).length, k)));
  const cons = meanCI95(results.map((r) => (r.consCorrect ? 1 : 0)));
  const lens = { all: [] as number[], right: [] as number[], wrong: [] as number[] };
  let fmt = 0;
  for (const r of results) {
    r.completions.forEach((c, j) => {
      lens.all.push(c.length);
      (r.correct[j] ? lens.right : lens.wrong).push(c.length);
      if (r.format[j]) fmt++;
    });
  }
  return {
    task: taskName, items: results.length, k,
    accuracy: acc.mean, accuracyCI95: acc.ci95, passAtK: pk.mean, passAtKCI95: pk.ci95, consAtK: cons.mean, consAtKCI95: cons.ci95,
    formatRate: fmt / (results.length * k), meanLength: avg(lens.all), meanLengthCorrect: avg(lens.right), meanLengthWrong: avg(lens.wrong),
    resumed, results: [...results],
  };
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new R1tsError(`evaluate: ${name}=${v}: expected a positive integer`);
  return v;
}

export async function evaluate(task: Task, items: readonly TaskItem[], source: CompletionSource, k = 1, options: EvalOptions = {}): Promise<EvalReport> {
  positiveInt('k', k);
  if (items.length === 0) throw new R1tsError('evaluate: no items to evaluate');
  const batchSize = positiveInt('batchSize', options.batchSize ?? items.length);
  const parallel = positiveInt('parallel', options.parallel ?? 1);
  const ids = new Set<string>();
  for (const it of items) {
    if (ids.has(it.id)) throw new R1tsError(`evaluate: item id '${it.id}' appears twice (ids must be unique)`);
    ids.add(it.id);
  }
  const itemById = new Map(items.map((it) => [it.id, it]));
  const byId = new Map<string, EvalItemResult>();
  const store = options.results;
  if (store) {
    const path = store.name;
    for (const r of store.load()) {
      if (!ids.has(r.id)) continue;
      if (!Array.isArray(r.completions) || r.completions.length !== k) {
        throw new R1tsError(`${path}: item '${r.id}' has ${Array.isArray(r.completions) ? r.completions.length : 'no'} completions but this run asks k=${k}; resume with the same k or write to another file`);
      }
      byId.set(r.id, gradeItem(task, itemById.get(r.id)!, r.completions)); // re-graded: the grader of this run decides
    }
  }
  const resumed = byId.size;
  let done = 0;
  for (const item of items) if (byId.has(item.id)) options.onItemDone?.(byId.get(item.id)!, ++done, items.length);
  const todo = items.filter((it) => !byId.has(it.id));
  const batches: TaskItem[][] = [];
  for (let i = 0; i < todo.length; i += batchSize) batches.push(todo.slice(i, i + batchSize));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++];
      const completions = await source(batch, k);
      if (completions.length !== batch.length || completions.some((c) => c.length !== k)) {
        throw new R1tsError(`evaluate: the completion source returned ${completions.length} lists for ${batch.length} items (expected ${k} completions each)`);
      }
      batch.forEach((item, i) => {
        const r = gradeItem(task, item, completions[i]);
        byId.set(item.id, r);
        store?.append(r);
        options.onItemDone?.(r, ++done, items.length);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, batches.length) }, worker));
  return summarize(task.name, k, items.map((it) => byId.get(it.id)!), resumed);
}
