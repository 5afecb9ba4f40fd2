// The one reward rule every task's grader shares: 1 for a right answer in the
// R1 form (`… </think> <answer>…</answer>`, the prompt having opened <think>);
// a right answer in another form earns 0.5, plus up to 0.2 for each half of the
// form: the reasoning closed by `</think>` (0.2 exactly; a closing tag with
// another name earns part of it by how near the name is to "think"), and the
// answer inside `<answer>…</answer>` at the end (0.2); a wrong answer earns 0.
// Format earns credit only together with correctness (a flat format bonus is
// hacked within a minute, see the GRPO issue's notes). Why graded: the shipped
// zero base closes the template's <think> by copying the name, and copies it
// badly ("</thhhb>", "</tthuk>"; exact in under 1% of samples), so an all-or-
// nothing form bonus left GRPO almost no group in which the form varied and
// the closing name drifted further away; a nearer name now earns a little
// more, which gives each piece of the name a gradient (docs/zero.md).
// What is measured (`format`, the R1 form rate of evaluations) stays exact.
// Tasks decide `correct` and `answer`; this file turns them into the Grade
// shape, so the rule lives in one place.
// Not here: answer extraction or equivalence (each task, rewards/).

import type { Grade } from './task.ts';

/** The R1 form after a prompt that opened <think>: reasoning, </think>, <answer>…</answer>, nothing else. */
export function hasR1Form(completion: string): boolean {
  if (completion.includes('<think>')) return false;
  const once = (t: string) => completion.split(t).length === 2;
  if (!once('</think>') || !once('<answer>') || !once('</answer>')) return false;
  return /^[\s\S]*?<\/think>\s*<answer>[^<]*<\/answer>\s*$/.test(completion);
}

/**
 * How nearly the reasoning is closed by `</think>`: 1 for exactly one `</think>` (and no
 * new `<think>`); otherwise, for the first closing tag `</x>` other than `</answer>`,
 * 0.5·(1 − editDistance(x, "think")/5), at least 0; 0 without a closing tag.
 */
export function thinkCloseScore(completion: string): number {
  if (completion.includes('<think>')) return 0;
  const closes = completion.split('</think>').length - 1;
  if (closes === 1) return 1;
  if (closes > 1) return 0;
  for (const m of completion.matchAll(/<\/([^<>\s]{1,32})>/g)) {
    if (m[1] === 'answer') continue;
    return 0.5 * Math.max(0, 1 - editDistance(m[1]!, 'think') / 5);
  }
  return 0;
}

/** Levenshtein distance (insertions, deletions, substitutions of UTF-16 units). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The completion ends with its one answer inside `<answer>…</answer>`. */
export function hasAnswerTags(completion: string): boolean {
  return completion.split('<answer>').length === 2 && completion.split('</answer>').length === 2 && /<answer>[^<]*<\/answer>\s*$/.test(completion);
}

/** The Grade of a completion whose answer (null: none found) was judged `correct`. */
export function r1Grade(correct: boolean, answer: string | null, completion: string): Grade {
  const format = hasR1Form(completion);
  const close = thinkCloseScore(completion);
  const tags = hasAnswerTags(completion) ? 1 : 0;
  const reward = !correct ? 0 : format ? 1 : Math.round(50 + 20 * close + 20 * tags) / 100;
  const rewards = { correct: correct ? 1 : 0, format: format ? 1 : 0, think_close: close, answer_tags: tags };
  return { correct, answer, format, reward, rewards };
}
