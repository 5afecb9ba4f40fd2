// The answer graders tasks share, by name: `math` (the math verifier of
// rewards/math.ts on the answer it extracts: \boxed{}, <answer>…</answer>,
// "the answer is", or the last number), `integer` (the integer inside
// <answer>…</answer> or the last one, arithmetic.ts) and `exact` (the text
// inside <answer>…</answer>, else the last non-empty line, equal after trimming
// and collapsing whitespace). Each returns the shared Grade of grade.ts and has
// the answer equivalence cons@k groups votes with.
// Not here: datasets (the task files), the reward rule itself (grade.ts).

import { R1tsError } from '../core/errors.ts';
import { DEFAULT_EXTRACT_OPTIONS, extractAnswer } from '../rewards/extract.ts';
import { verify } from '../rewards/math.ts';
import { extractInteger, gradeInteger } from './arithmetic.ts';
import { r1Grade } from './grade.ts';
import type { Grade } from './task.ts';

export const GRADER_NAMES = ['math', 'integer', 'exact'] as const;
export type GraderName = (typeof GRADER_NAMES)[number];

export interface Grader {
  grade(gold: string, completion: string): Grade;
  equivalent(a: string, b: string): boolean;
}

/** The math answer a completion gives (the verifier's extraction), or null. */
export function extractMathAnswer(completion: string): string | null {
  try {
    const e = extractAnswer(completion, DEFAULT_EXTRACT_OPTIONS);
    return e.fallback?.trim() || null;
  } catch {
    return null;
  }
}

/** Grades with the math verifier: right when the completion's answer is equivalent to gold. */
export function gradeMath(gold: string, completion: string): Grade {
  const answer = extractMathAnswer(completion);
  return r1Grade(answer !== null && verify(gold, completion), answer, completion);
}

/** The text answer of a completion for exact matching: inside <answer>…</answer>, else its last non-empty line. */
export function extractExact(completion: string): string | null {
  const close = completion.lastIndexOf('</answer>');
  const open = close >= 0 ? completion.lastIndexOf('<answer>', close) : -1;
  const region = open >= 0 ? completion.slice(open + '<answer>'.length, close) : completion.split('\n').filter((l) => l.trim() !== '').pop() ?? '';
  const s = region.trim().replace(/\s+/g, ' ');
  return s === '' ? null : s;
}

const norm = (s: string) => s.trim().replace(/\s+/g, ' ');

export const graders: { readonly [K in GraderName]: Grader } = {
  math: { grade: gradeMath, equivalent: (a, b) => verify(a, b) },
  integer: { grade: gradeInteger, equivalent: (a, b) => extractInteger(a) === extractInteger(b) },
  exact: {
    grade: (gold, completion) => {
      const answer = extractExact(completion);
      return r1Grade(answer !== null && answer === norm(gold), answer, completion);
    },
    equivalent: (a, b) => norm(a) === norm(b),
  },
};

/** The grader of a name; throws listing the known ones. */
export function graderByName(name: string): Grader {
  if (!(GRADER_NAMES as readonly string[]).includes(name)) throw new R1tsError(`unknown grader '${name}' (expected one of ${GRADER_NAMES.join(', ')})`);
  return graders[name as GraderName];
}
