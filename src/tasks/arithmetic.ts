// Multi-digit addition, the default task of `r1ts zero`: "What is 357+486?".
// Items are pairs of operands with exactly `digits` digits; a fixed 5% of all
// unordered pairs is held out (chosen by a hash of the pair, so the split does
// not depend on any seed) and never appears in training items or in the base
// corpus (arithmetic-corpus.ts). The worked solution is the column procedure
// (ones first, carries written out), the reasoning RL should learn to select.
// The grader: the answer is the integer inside <answer>…</answer>, or else the
// last integer of the completion; the reward is the shared rule of grade.ts
// (1 right in the R1 form, 0.5 right otherwise, 0 wrong).
// Not here: the corpus text generator (arithmetic-corpus.ts), templates.

import type { Rng } from '../core/rng.ts';
import { R1tsError } from '../core/errors.ts';
import { r1Grade } from './grade.ts';
import type { Grade, Task, TaskItem } from './task.ts';


/** One column of the procedure: digits x, y, incoming carry, sum, written digit, outgoing carry. */
export interface Column {
  x: number;
  y: number;
  carryIn: number;
  sum: number;
  digit: number;
  carryOut: number;
}

/** The columns of a + b from the ones upwards (the shorter operand padded with zeros). */
export function columns(a: number, b: number): Column[] {
  const out: Column[] = [];
  let carry = 0;
  for (let x = a, y = b; x > 0 || y > 0 || out.length === 0; x = Math.floor(x / 10), y = Math.floor(y / 10)) {
    const dx = x % 10;
    const dy = y % 10;
    const sum = dx + dy + carry;
    out.push({ x: dx, y: dy, carryIn: carry, sum, digit: sum % 10, carryOut: sum >= 10 ? 1 : 0 });
    carry = sum >= 10 ? 1 : 0;
  }
  return out;
}

/** 32-bit mix of an unordered pair (the held-out split). */
function pairHash(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** True for the pairs reserved for evaluation (5% of unordered pairs of operands with ≥ 2 digits). */
export function isHeldOutPair(a: number, b: number): boolean {
  if (a < 10 || b < 10) return false; // one-digit facts are the corpus's table; never held out
  return pairHash(a, b) % 1000 < 50;
}

export function additionItem(a: number, b: number): TaskItem {
  return { id: `${a}+${b}`, question: `What is ${a}+${b}?`, gold: String(a + b) };
}

const ANSWER_RE = /<answer>([\s\S]*?)<\/answer>/;

/** The integer the completion answers with: inside <answer>…</answer> when present, else its last integer. */
export function extractInteger(completion: string): string | null {
  const tagged = ANSWER_RE.exec(completion);
  const region = tagged ? tagged[1] : completion;
  const nums = region.replace(/(\d),(?=\d{3}\b)/g, '$1').match(/-?\d+/g);
  if (!nums) return null;
  return nums[nums.length - 1].replace(/^(-?)0+(?=\d)/, '$1'); // "0843" is 843
}

/** Grades an integer-answer completion; shared by the arithmetic tasks. */
export function gradeInteger(gold: string, completion: string): Grade {
  const answer = extractInteger(completion);
  return r1Grade(answer !== null && answer === gold, answer, completion);
}

export interface AdditionTaskOptions {
  /** Digits of each operand (default 3: 100 … 999). */
  digits?: number;
}

/** Addition of two numbers with exactly `digits` digits. */
export function additionTask(opts: AdditionTaskOptions = {}): Task {
  const digits = opts.digits ?? 3;
  if (!Number.isInteger(digits) || digits < 2 || digits > 9) throw new R1tsError(`addition task: digits=${digits}: expected an integer in [2, 9]`);
  const lo = 10 ** (digits - 1);
  const span = 9 * lo;
  const heldOutCache: TaskItem[] = [];
  // a fixed generator (not the caller's seed): the held-out set is the same for every run
  let heldOutState = 0x51ed270b;
  const nextFixed = () => {
    heldOutState = (Math.imul(heldOutState, 1664525) + 1013904223) >>> 0;
    return heldOutState;
  };
  return {
    name: digits === 3 ? 'add' : `add${digits}`,
    description: `addition of two ${digits}-digit numbers ("What is a+b?"); 5% of pairs held out`,
    trainItem(rng: Rng): TaskItem {
      for (;;) {
        const a = lo + rng.int(span);
        const b = lo + rng.int(span);
        if (!isHeldOutPair(a, b)) return additionItem(a, b);
      }
    },
    heldOut(n: number): TaskItem[] {
      const seen = new Set(heldOutCache.map((i) => i.id));
      while (heldOutCache.length < n) {
        const a = lo + (nextFixed() % span);
        const b = lo + (nextFixed() % span);
        if (!isHeldOutPair(a, b)) continue;
        const item = additionItem(a, b);
        if (seen.has(item.id)) continue;
        seen.add(item.id);
        heldOutCache.push(item);
      }
      return heldOutCache.slice(0, n);
    },
    grade: (item, completion) => gradeInteger(item.gold, completion),
  };
}
