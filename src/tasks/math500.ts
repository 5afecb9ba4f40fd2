// MATH-500 (competition math, the 500-problem split of PRM800K): items from the
// shared data's math500/test.jsonl in file order, id = the dataset's unique_id.
// The question is `problem`; the gold answer is `answer` (the last \boxed{} of
// the solution). The grader is the math verifier with its own extraction
// (graders.ts) and the shared reward rule (grade.ts). There is no training split.
// Not here: prompt templates ("put your final answer within \boxed{}" is the
// caller's choice), downloads.

import { dataFile, noTrainSplit, readJsonlObjects, stringField } from './data-files.ts';
import { graders } from './graders.ts';
import type { DatasetTaskOptions } from './gsm8k.ts';
import type { Task, TaskItem } from './task.ts';

export function math500Task(opts: DatasetTaskOptions = {}): Task {
  let test: TaskItem[] | undefined;
  const load = (): TaskItem[] => {
    const path = dataFile('math500/test.jsonl', opts.dataDir);
    return readJsonlObjects(path).map((row, i) => {
      const where = `${path}:${i + 1}`;
      const id = typeof row.unique_id === 'string' ? row.unique_id : `math500-${i}`;
      return { id, question: stringField(row, ['problem'], where), gold: stringField(row, ['answer'], where) };
    });
  };
  return {
    name: 'math500',
    description: 'MATH-500 competition math (500 problems); graded by the math verifier',
    trainItem: () => noTrainSplit('math500'),
    heldOut(n: number): TaskItem[] {
      test ??= load();
      return test.slice(0, n);
    },
    grade: (item, completion) => graders.math.grade(item.gold, completion),
    equivalent: (a, b) => graders.math.equivalent(a, b),
  };
}
