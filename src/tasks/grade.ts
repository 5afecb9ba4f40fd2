// The one reward rule every task's grader shares: 1 for a right answer in the
// R1 form (`… </think> <answer>…</answer>`, the prompt having opened <think>),
// 0.5 for a right answer in any other form, 0 for a wrong one. Format earns
// credit only together with correctness (a flat format bonus is hacked within a
// minute, see the GRPO issue's notes). Tasks decide `correct` and `answer`; this
// file turns them into the Grade shape, so the rule lives in one place.
// Not here: answer extraction or equivalence (each task, rewards/).

import type { Grade } from './task.ts';

/** The R1 form after a prompt that opened <think>: reasoning, </think>, <answer>…</answer>, nothing else. */
export function hasR1Form(completion: string): boolean {
  if (completion.includes('<think>')) return false;
  const once = (t: string) => completion.split(t).length === 2;
  if (!once('</think>') || !once('<answer>') || !once('</answer>')) return false;
  return /^[\s\S]*?<\/think>\s*<answer>[^<]*<\/answer>\s*$/.test(completion);
}

/** The Grade of a completion whose answer (null: none found) was judged `correct`. */
export function r1Grade(correct: boolean, answer: string | null, completion: string): Grade {
  const format = hasR1Form(completion);
  const reward = correct ? (format ? 1 : 0.5) : 0;
  return { correct, answer, format, reward, rewards: { correct: correct ? 1 : 0, format: format ? 1 : 0 } };
}
