// A task from any JSONL file: one object a line with the question in `question`
// or `prompt`, the reference answer in `answer` or `gold` (a string or a
// number), and an optional `id` (default: the line number). The grader is named:
// math (the verifier), integer or exact (graders.ts). Every line is held out;
// there is no training split.
// Not here: the graders (graders.ts), templates.

import { basename } from 'node:path';
import { R1tsError } from '../core/errors.ts';
import { noTrainSplit, readJsonlObjects, stringField } from './data-files.ts';
import { graderByName } from './graders.ts';
import type { Task, TaskItem } from './task.ts';

export interface JsonlTaskOptions {
  /** math | integer | exact (default math). */
  grader?: string;
}

export function jsonlTask(path: string, opts: JsonlTaskOptions = {}): Task {
  const graderName = opts.grader ?? 'math';
  const grader = graderByName(graderName);
  const items: TaskItem[] = readJsonlObjects(path).map((row, i) => {
    const where = `${path}:${i + 1}`;
    const id = row.id === undefined ? `line-${i + 1}` : String(row.id);
    return { id, question: stringField(row, ['question', 'prompt'], where), gold: stringField(row, ['answer', 'gold'], where) };
  });
  if (items.length === 0) throw new R1tsError(`${path}: no items (expected one JSON object a line with question|prompt and answer|gold)`);
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.id)) throw new R1tsError(`${path}: id '${it.id}' appears twice (ids must be unique to join and resume results)`);
    seen.add(it.id);
  }
  return {
    name: basename(path).replace(/\.jsonl$/, ''),
    description: `${items.length} items from ${path}; graded by the ${graderName} grader`,
    trainItem: () => noTrainSplit(path),
    heldOut: (n) => items.slice(0, n),
    grade: (item, completion) => grader.grade(item.gold, completion),
    equivalent: (a, b) => grader.equivalent(a, b),
  };
}
