// Tasks by name, for the command line: add (3-digit addition), add2 … add9
// (additionTask digits), mul (3-digit × one digit), mul2 … mul9 (multiplicationTask digits), gsm8k, math500, countdown, and any path ending in
// .jsonl (jsonl-task.ts with the named grader).
// Not here: the tasks themselves.

import { R1tsError } from '../core/errors.ts';
import { additionTask, multiplicationTask } from './arithmetic.ts';
import { countdownTask } from './countdown.ts';
import { gsm8kTask } from './gsm8k.ts';
import { jsonlTask } from './jsonl-task.ts';
import { math500Task } from './math500.ts';
import type { Task } from './task.ts';

export interface TaskByNameOptions {
  /** Grader of a .jsonl task: math | integer | exact (default math). */
  grader?: string;
  /** The shared/data folder of the dataset tasks. */
  dataDir?: string;
}

export const TASK_NAMES = ['add', 'add2', 'add3', 'add4', 'add5', 'add6', 'add7', 'add8', 'add9', 'mul', 'mul2', 'mul3', 'mul4', 'mul5', 'mul6', 'mul7', 'mul8', 'mul9', 'gsm8k', 'math500', 'countdown'] as const;

export function taskByName(name: string, opts: TaskByNameOptions = {}): Task {
  if (name.endsWith('.jsonl')) return jsonlTask(name, { grader: opts.grader });
  if (opts.grader !== undefined) throw new R1tsError(`--grader ${opts.grader}: only a .jsonl task takes a grader ('${name}' has its own)`);
  if (name === 'add') return additionTask();
  const m = /^add([2-9])$/.exec(name);
  if (m) return additionTask({ digits: Number(m[1]) });
  if (name === 'mul') return multiplicationTask();
  const mm = /^mul([2-9])$/.exec(name);
  if (mm) return multiplicationTask({ digits: Number(mm[1]) });
  if (name === 'gsm8k') return gsm8kTask({ dataDir: opts.dataDir });
  if (name === 'math500') return math500Task({ dataDir: opts.dataDir });
  if (name === 'countdown') return countdownTask({ dataDir: opts.dataDir });
  throw new R1tsError(`unknown task '${name}' (expected ${TASK_NAMES.join(', ')}, or a path to a .jsonl file)`);
}
