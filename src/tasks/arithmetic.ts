// Multi-digit addition, the default task of `r1ts zero`: "What is 357+486?"; and
// multiplication by one digit ("What is 347*6?"), the task beyond the addition corpus.
// Items are pairs of operands with exactly `digits` digits; a fixed 5% of all
// unordered pairs is held out (chosen by a hash of the pair, so the split does
// not depend on any seed) and never appears in training items or in the base
// corpus (arithmetic-corpus.ts). The worked solution is the column procedure
// (ones first, carries written out), the reasoning RL should learn to select.
// The grader: the answer is the integer inside <answer>…</answer>, or else the
// last integer of the completion; the reward is the shared rule of grade.ts
// (1 right in the R1 form, 0.5 right otherwise, 0 wrong).
// Products: a has exactly `digits` digits, d is 2 … 9, and 10% of the pairs (another hash) are
// held out; the worked solution is the row procedure (productRow), ones first, each step a
// times-table fact and the carry added to it.
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

/** One step of the row procedure of a × d: the operand's digit x, x·d, the carry in, their total, written digit, carry out. */
export interface ProductStep {
  x: number;
  product: number;
  carryIn: number;
  total: number;
  digit: number;
  carryOut: number;
}

/** The steps of a × d (d one digit) from the ones upwards; a final carry is the caller's to write. */
export function productRow(a: number, d: number): ProductStep[] {
  if (!Number.isSafeInteger(a) || a < 0 || !Number.isInteger(d) || d < 0 || d > 9) throw new R1tsError(`productRow(${a}, ${d}): expected a non-negative integer and a digit`);
  const out: ProductStep[] = [];
  let carry = 0;
  for (let x = a; x > 0 || out.length === 0; x = Math.floor(x / 10)) {
    const dx = x % 10;
    const total = dx * d + carry;
    out.push({ x: dx, product: dx * d, carryIn: carry, total, digit: total % 10, carryOut: Math.floor(total / 10) });
    carry = Math.floor(total / 10);
  }
  return out;
}

/**
 * True for the products a × d reserved for evaluation: 10% of pairs with a ≥ 10 (a hash unrelated
 * to the sums'), so that the 7,200 products of the 'mul' task hold ~720 out, room for the final
 * evaluation's 500.
 */
export function isHeldOutProduct(a: number, d: number): boolean {
  if (a < 10) return false;
  return pairHash(a, 0x40000000 + d) % 1000 < 100;
}

export function multiplicationItem(a: number, d: number): TaskItem {
  return { id: `${a}*${d}`, question: `What is ${a}*${d}?`, gold: String(a * d) };
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
  return pairTask({
    name: digits === 3 ? 'add' : `add${digits}`,
    description: `addition of two ${digits}-digit numbers ("What is a+b?"); 5% of pairs held out`,
    draw: (int) => [lo + int(span), lo + int(span)],
    heldOut: isHeldOutPair,
    item: additionItem,
  });
}

/** Multiplication of a number with exactly `digits` digits by one digit, 2 … 9 (default 3 digits: task 'mul'). */
export function multiplicationTask(opts: AdditionTaskOptions = {}): Task {
  const digits = opts.digits ?? 3;
  if (!Number.isInteger(digits) || digits < 2 || digits > 9) throw new R1tsError(`multiplication task: digits=${digits}: expected an integer in [2, 9]`);
  const lo = 10 ** (digits - 1);
  const span = 9 * lo;
  return pairTask({
    name: digits === 3 ? 'mul' : `mul${digits}`,
    description: `multiplication of a ${digits}-digit number by one digit 2-9 ("What is a*d?"); 10% of pairs held out`,
    draw: (int) => [lo + int(span), 2 + int(8)],
    heldOut: isHeldOutProduct,
    item: multiplicationItem,
    // the fixed generator's high bits: its low three have period 8, so `% 8` would cycle
    fixedInt: (next, n) => Math.floor((next() / 2 ** 32) * n),
  });
}

/** A task of operand pairs (`int(n)` draws from [0, n)): training items from the caller's generator, held-out ones from a fixed one. */
function pairTask(t: {
  name: string;
  description: string;
  draw: (int: (n: number) => number) => [number, number];
  heldOut: (a: number, b: number) => boolean;
  item: (a: number, b: number) => TaskItem;
  /** [0, n) from the fixed generator (default: its value mod n, which made the addition tasks' held-out sets). */
  fixedInt?: (next: () => number, n: number) => number;
}): Task {
  const fixedInt = t.fixedInt ?? ((next, n) => next() % n);
  const heldOutCache: TaskItem[] = [];
  // a fixed generator (not the caller's seed): the held-out set is the same for every run
  let heldOutState = 0x51ed270b;
  const nextFixed = () => {
    heldOutState = (Math.imul(heldOutState, 1664525) + 1013904223) >>> 0;
    return heldOutState;
  };
  return {
    name: t.name,
    description: t.description,
    trainItem(rng: Rng): TaskItem {
      for (;;) {
        const [a, b] = t.draw((n) => rng.int(n));
        if (!t.heldOut(a, b)) return t.item(a, b);
      }
    },
    heldOut(n: number): TaskItem[] {
      const seen = new Set(heldOutCache.map((i) => i.id));
      // a finite set: after a million draws without a new item, say so instead of looping forever
      for (let idle = 0; heldOutCache.length < n; ) {
        const [a, b] = t.draw((n) => fixedInt(nextFixed, n));
        const item = t.heldOut(a, b) ? t.item(a, b) : null;
        if (item === null || seen.has(item.id)) {
          if (++idle > 1_000_000) throw new R1tsError(`task ${t.name}: ${n} held-out items asked for, and only ${heldOutCache.length} exist`);
          continue;
        }
        idle = 0;
        seen.add(item.id);
        heldOutCache.push(item);
      }
      return heldOutCache.slice(0, n);
    },
    grade: (item, completion) => gradeInteger(item.gold, completion),
  };
}
