// GSM8K (grade-school math word problems): items from the shared data's
// gsm8k/test.jsonl (held out; in file order) and gsm8k/train.jsonl (training
// items, drawn by seed). The question is the dataset's `question`; the gold
// answer is the number after `####` in its `answer` (thousands commas removed).
// The grader is the math verifier on the completion's extracted answer
// (graders.ts), with the shared reward rule (grade.ts); a completion in GSM8K's
// own form ("… #### N", no <answer> block) is graded on N.
// Not here: prompt templates (the caller wraps `question`), downloads.

import type { Rng } from '../core/rng.ts';
import { R1tsError } from '../core/errors.ts';
import { dataFile, readJsonlObjects, stringField } from './data-files.ts';
import { graders } from './graders.ts';
import type { Task, TaskItem } from './task.ts';

export interface DatasetTaskOptions {
  /** The shared/data folder (default: R1TS_DATA or ../shared/data). */
  dataDir?: string;
}

/** The number after the last `####` of a GSM8K answer, without thousands commas. */
export function gsm8kGold(answer: string, where = 'gsm8k answer'): string {
  const i = answer.lastIndexOf('####');
  const n = i >= 0 ? answer.slice(i + 4).trim().replace(/,/g, '') : '';
  if (!/^-?\d+(\.\d+)?$/.test(n)) throw new R1tsError(`${where}: expected the answer to end in '#### N' with N a number, got ${JSON.stringify(answer.slice(-40))}`);
  return n;
}

function load(split: 'train' | 'test', dataDir?: string): TaskItem[] {
  const path = dataFile(`gsm8k/${split}.jsonl`, dataDir);
  return readJsonlObjects(path).map((row, i) => {
    const where = `${path}:${i + 1}`;
    return { id: `gsm8k-${split}-${i}`, question: stringField(row, ['question'], where), gold: gsm8kGold(stringField(row, ['answer'], where), where) };
  });
}

export function gsm8kTask(opts: DatasetTaskOptions = {}): Task {
  let test: TaskItem[] | undefined;
  let train: TaskItem[] | undefined;
  return {
    name: 'gsm8k',
    description: 'GSM8K grade-school math (1,319 test problems); graded by the math verifier',
    trainItem(rng: Rng): TaskItem {
      train ??= load('train', opts.dataDir);
      return train[rng.int(train.length)];
    },
    heldOut(n: number): TaskItem[] {
      test ??= load('test', opts.dataDir);
      return test.slice(0, n);
    },
    grade(item, completion) {
      // GSM8K's own convention: a solution ends in "#### N" (outside an <answer> block)
      const h = completion.includes('<answer>') ? -1 : completion.lastIndexOf('####');
      return graders.math.grade(item.gold, h < 0 ? completion : completion.slice(h + 4)); // no <answer>: not the R1 form either way
    },
    equivalent: (a, b) => graders.math.equivalent(a, b),
  };
}
