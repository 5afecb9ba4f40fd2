// Rejection sampling (R1's stage 3, and the data of distillation): for each
// prompt of a task, k completions from a teacher (teacher.ts), each verified by
// the task's own grader; the correct ones (optionally deduplicated, optionally
// only the shortest few) become SFT conversations
//   {"id", "sample", "task", "messages": [{"role": "user", ...}, {"role": "assistant", "content": "<think> … </think> answer"}], ...}
// appended to OUT, one JSON line each. Resumable and exactly-once per prompt:
// after a prompt's kept lines are appended, one line {"id", "k", "correct",
// "kept", "tokens"} goes to OUT.done.jsonl; a restart first cuts torn tails
// off both files (core/jsonl.ts), drops from OUT any line whose prompt has no
// done line (it died between the two appends) by an atomic rewrite, then skips
// every prompt that is done. So a kill -9 at any instant loses at most the
// prompts in flight, which are sampled again, never duplicated.
// Prompts run `concurrency` at a time; the first teacher error (after the
// teacher's own retries) stops new prompts, lets those in flight finish, and
// is reported (rerun to continue). A token budget stops new prompts once the
// tokens spent (this run and those recorded in OUT.done.jsonl) reach it.
// Not here: HTTP, retries and backoff (eval/openai-source.ts), flags (cli/sample.ts).

import { appendFileSync, existsSync } from 'node:fs';
import { writeFileAtomic } from '../core/atomic.ts';
import { R1tsError } from '../core/errors.ts';
import { readJsonl } from '../core/jsonl.ts';
import type { Rng } from '../core/rng.ts';
import type { Task, TaskItem } from '../tasks/task.ts';
import type { Teacher } from './teacher.ts';

export interface SampleOptions {
  task: Task;
  items: readonly TaskItem[];
  teacher: Teacher;
  /** Completions asked per prompt. */
  k: number;
  /** The SFT JSONL written (appended); OUT.done.jsonl records finished prompts. */
  out: string;
  /** Drop a correct completion whose text (whitespace collapsed) an earlier kept one of the prompt has. */
  dedup?: boolean;
  /** Keep at most this many correct completions per prompt, the shortest first (default: all). */
  maxPerPrompt?: number;
  /** Prompts in flight at once (default 8). */
  concurrency?: number;
  /** Stop starting prompts once this many tokens are spent (all runs of OUT together). */
  tokenBudget?: number;
  /** Aborting stops starting prompts; those in flight finish and are written. */
  signal?: AbortSignal;
  /** Called after every finished prompt (and once at the start, for resumed ones). */
  onProgress?: (s: SampleStats) => void;
}

export interface SampleStats {
  /** Prompts of this job (done ones included). */
  prompts: number;
  /** Prompts finished, resumed ones included. */
  done: number;
  /** Prompts found done at the start. */
  resumed: number;
  /** Completions graded, correct ones, conversations written (all runs). */
  samples: number;
  correct: number;
  kept: number;
  /** Tokens spent (all runs). */
  tokens: number;
  /** The token budget stopped the job early. */
  budgetReached: boolean;
  /** The first teacher error, which stopped the job early (null: none). */
  error: string | null;
}

/** One line of OUT.done.jsonl. */
export interface DoneRecord {
  id: string;
  k: number;
  correct: number;
  kept: number;
  tokens: number;
}

/** One line of OUT (an SFT conversation with where it came from). */
export interface SampleRecord {
  id: string;
  sample: number;
  task: string;
  messages: { role: 'user' | 'assistant'; content: string }[];
  gold: string;
  answer: string | null;
}

export const doneFileOf = (out: string): string => `${out}.done.jsonl`;

/**
 * The assistant message of a completion in the R1 form "<think> reasoning </think> answer".
 * `opensThink`: the prompt ended with <think>, so the completion starts in the reasoning.
 * An <answer> left open at the end (an endpoint cut its stop string "</answer>") is closed.
 * A completion with no </think> cannot be split into reasoning and answer: it is kept as it
 * came (after the prompt's <think> when the prompt opened one), never given an invented empty block.
 */
export function assistantContent(completion: string, opensThink: boolean): string {
  const text = opensThink ? `<think>${completion}` : completion;
  const close = text.lastIndexOf('</think>');
  const closeAnswer = (a: string) => {
    const open = a.lastIndexOf('<answer>');
    return open >= 0 && !a.includes('</answer>', open) ? `${a}</answer>` : a;
  };
  if (close < 0) return closeAnswer(text.trim());
  const reasoning = text.slice(0, close).replace(/^\s*<think>/, '').trim();
  return `<think> ${reasoning} </think> ${closeAnswer(text.slice(close + '</think>'.length).trim())}`;
}

/** Reads OUT and OUT.done.jsonl for a resume: torn tails cut, lines of unfinished prompts dropped (atomic rewrite). */
export function openSampleFiles(out: string, k: number): { done: Map<string, DoneRecord>; records: SampleRecord[] } {
  const donePath = doneFileOf(out);
  const done = new Map<string, DoneRecord>();
  for (const r of readJsonl<DoneRecord>(donePath, { repair: true })) {
    if (typeof r.id !== 'string' || typeof r.k !== 'number') throw new R1tsError(`${donePath}: a line without id and k: ${JSON.stringify(r).slice(0, 120)}`);
    if (r.k !== k) throw new R1tsError(`${donePath}: prompt '${r.id}' was sampled with k=${r.k} but this run asks k=${k}; resume with the same k or write to another file`);
    done.set(r.id, r);
  }
  const all = readJsonl<SampleRecord>(out, { repair: true });
  const records = all.filter((r) => done.has(r.id));
  if (records.length !== all.length) writeFileAtomic(out, records.map((r) => JSON.stringify(r) + '\n').join(''));
  return { done, records };
}

/** The correct completions to keep, in kept order (indices into `completions`). */
export function chooseKept(contents: readonly string[], correct: readonly boolean[], o: { dedup?: boolean; maxPerPrompt?: number }): number[] {
  let idx = contents.map((_, j) => j).filter((j) => correct[j]);
  if (o.dedup) {
    const seen = new Set<string>();
    idx = idx.filter((j) => {
      const key = contents[j].replace(/\s+/g, ' ').trim();
      return seen.has(key) ? false : (seen.add(key), true);
    });
  }
  if (o.maxPerPrompt !== undefined) idx = [...idx].sort((a, b) => contents[a].length - contents[b].length || a - b).slice(0, o.maxPerPrompt);
  return idx;
}

export async function sample(o: SampleOptions): Promise<SampleStats> {
  if (!Number.isInteger(o.k) || o.k < 1) throw new R1tsError(`sample: k=${o.k}: expected a positive integer`);
  const concurrency = o.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new R1tsError(`sample: concurrency=${concurrency}: expected a positive integer`);
  if (o.maxPerPrompt !== undefined && (!Number.isInteger(o.maxPerPrompt) || o.maxPerPrompt < 1)) throw new R1tsError(`sample: maxPerPrompt=${o.maxPerPrompt}: expected a positive integer`);
  const ids = new Set<string>();
  for (const it of o.items) {
    if (ids.has(it.id)) throw new R1tsError(`sample: prompt id '${it.id}' appears twice (ids must be unique)`);
    ids.add(it.id);
  }
  const { done, records } = openSampleFiles(o.out, o.k);
  const stats: SampleStats = { prompts: o.items.length, done: 0, resumed: 0, samples: 0, correct: 0, kept: 0, tokens: 0, budgetReached: false, error: null };
  for (const r of done.values()) {
    stats.tokens += r.tokens;
    if (!ids.has(r.id)) continue;
    stats.done++;
    stats.samples += r.k;
    stats.correct += r.correct;
  }
  stats.kept = records.filter((r) => ids.has(r.id)).length;
  stats.resumed = stats.done;
  o.onProgress?.({ ...stats });
  const todo = o.items.filter((it) => !done.has(it.id));
  let next = 0;
  const stop = () => o.signal?.aborted || stats.error !== null || (o.tokenBudget !== undefined && (stats.budgetReached ||= stats.tokens >= o.tokenBudget));
  const worker = async () => {
    while (next < todo.length && !stop()) {
      const item = todo[next++];
      let reply;
      try {
        reply = await o.teacher.complete(item, o.k);
      } catch (e) {
        stats.error ??= `prompt '${item.id}': ${(e as Error).message}`;
        return;
      }
      if (reply.completions.length !== o.k) {
        stats.error ??= `prompt '${item.id}': the teacher returned ${reply.completions.length} completions, expected ${o.k}`;
        return;
      }
      const grades = reply.completions.map((c) => o.task.grade(item, c));
      const contents = reply.completions.map((c) => assistantContent(c, o.teacher.opensThink));
      const kept = chooseKept(contents, grades.map((g) => g.correct), o);
      const lines = kept.map((j) => JSON.stringify({
        id: item.id, sample: j, task: o.task.name,
        messages: [{ role: 'user', content: item.question }, { role: 'assistant', content: contents[j] }],
        gold: item.gold, answer: grades[j].answer,
      } satisfies SampleRecord) + '\n');
      const correct = grades.filter((g) => g.correct).length;
      // kept lines first, then the done line: a crash between them leaves lines a restart drops
      if (lines.length) appendFileSync(o.out, lines.join(''));
      appendFileSync(doneFileOf(o.out), JSON.stringify({ id: item.id, k: o.k, correct, kept: lines.length, tokens: reply.tokens } satisfies DoneRecord) + '\n');
      stats.done++;
      stats.samples += o.k;
      stats.correct += correct;
      stats.kept += lines.length;
      stats.tokens += reply.tokens;
      o.onProgress?.({ ...stats });
    }
  };
  if (!existsSync(o.out)) appendFileSync(o.out, ''); // the file exists even when nothing is kept
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  if (o.tokenBudget !== undefined && stats.tokens >= o.tokenBudget && stats.done < stats.prompts) stats.budgetReached = true;
  return stats;
}

/** `n` distinct training items of a task (drawn by `trainItem` from a seeded Rng); throws when the task cannot give that many. */
export function distinctTrainItems(task: Task, n: number, rng: Rng): TaskItem[] {
  const out: TaskItem[] = [];
  const seen = new Set<string>();
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 50 * n + 1000) throw new R1tsError(`task ${task.name}: found only ${out.length} distinct training items of ${n} asked`);
    const it = task.trainItem(rng);
    if (!seen.has(it.id)) seen.add(it.id), out.push(it);
  }
  return out;
}
