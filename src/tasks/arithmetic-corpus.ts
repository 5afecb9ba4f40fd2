// The synthetic "pretraining text" of the R1-Zero demo's base model: what a web
// crawl might hold about adding numbers, written by code, with no human-written
// reasoning. It mixes
//   worked   questions followed by the column procedure, in two wordings, introduced by
//            "Let's work it out:", "Solution:", nothing, or (60%) a tag closed by the same tag:
//            a common name (<work>, <steps>, …) or (80%) a made-up word, so an unseen tag such
//            as the template's <think> is neither a stranger nor a cue, and closing a tag is
//            copying its name, not recalling a favourite one; ending "So the answer is
//            S.", "Answer: S" or "<answer>S</answer>"; a few re-check their columns ("Wait, …"),
//            in one of three styles (checkStyle): 'confirm' restates the columns ("Yes."),
//            'redo' recomputes them from the first pass's own digits, and 'reread' re-reads the
//            operands from the question ("Check: the question is 357+486. 7+6=13, …") and
//            compares ("Yes, 843." / "Wait, that is not 833. It is 843."); with 'redo' and
//            'reread' a share of first passes slipped (checkSlipShare) — for 'reread' mostly
//            by miscopying an operand digit (checkMiscopyShare), the error the aha base makes
//            (docs/zero.md), which only a check that re-reads the question can catch
//   direct   the same kinds of questions with a bare answer ("S", "The answer is S.")
//   tagged   direct answers inside tags ("<answer>S</answer>" 25%, else a common or made-up
//            name: short-range practice in copying a tag's name, which closing <think> needs)
//   prose    the procedure explained in sentences on an example
//   facts    one-digit addition facts and plain filler sentences
// so that reasoning is reachable from a question, but is not what usually follows one.
// With mulShare > 0, that share of the worked, direct and tagged documents ask for a product
// a*d (d one digit) instead, worked by the row procedure ("7*6=42, write 2 carry 4. 4*6=24,
// 24+4=28, write 8 carry 2. …"), and as many fact documents list times-table facts: the
// corpus of the multiplication task (arithmetic.ts 'mul'), beyond the addition one.
// It never contains the RL template (no "<think>", no R1-Zero system text) nor
// any held-out pair or product (arithmetic.ts isHeldOutPair, isHeldOutProduct), and it never puts filler
// inside a reasoning tag (that teaches skipping the work).
// The mixture is the knob that sets how often the base model reasons under the
// R1-Zero prompt; the GRPO issue records what an experiment found. Defaults here
// were chosen by measuring the base (see docs/zero.md).
// Not here: tokenization or packing (src/data), the task and grader (arithmetic.ts).

import { Rng } from '../core/rng.ts';
import { R1tsError } from '../core/errors.ts';
import { columns, isHeldOutPair, isHeldOutProduct, productRow, type Column } from './arithmetic.ts';

export type CorpusKind = 'worked' | 'direct' | 'tagged' | 'prose' | 'facts';

export interface CorpusOptions {
  /** Share of each kind (normalised). */
  mix?: Partial<Record<CorpusKind, number>>;
  /** Largest operand digit count in the corpus (default 3). */
  maxDigits?: number;
  /**
   * Largest operand digit count of the worked solutions (default maxDigits). Below maxDigits,
   * longer sums appear only as bare answers and prose: a task with longer operands then asks
   * for more columns than any worked example shows (the GRPO issue's "beyond selection").
   */
  workedMaxDigits?: number;
  /** Share of worked solutions exempt from workedMaxDigits (operands up to maxDigits; default 0). */
  workedLongShare?: number;
  /** Share of worked solutions that re-check their columns (default 0.1). */
  selfCheck?: number;
  /**
   * How a re-check reads (default 'confirm'). 'confirm': the columns' sums are restated and
   * found right ("Wait, let me check: …. Yes."). 'redo': the work first states the sum it
   * got ("That gives S."), the check recomputes every column from the operands and states the
   * result again ("Yes, it is S." or "No, it is S."), and the answer follows the check; a share
   * of those solutions (checkSlipShare) made a slip in one column, which the check corrects —
   * a self-check that pays off, the ingredient of the GRPO issue's "aha" experiment. Its check
   * recomputes from the first pass's digits, so it cannot see a miscopied operand. 'reread': as
   * 'redo', but the check restates the question's operands ("Check: the question is a+b.") and
   * recomputes the columns from them, then compares ("Yes, S." or "Wait, that is not G. It is
   * S."); the slipped first passes mostly miscopied an operand digit (checkMiscopyShare).
   */
  checkStyle?: 'confirm' | 'redo' | 'reread';
  /** With checkStyle 'redo' or 'reread': share of re-checked solutions whose first pass had a slip (default 0.3). */
  checkSlipShare?: number;
  /**
   * With checkStyle 'reread': share of slips that miscopy one operand digit (the first pass then
   * works a different sum, consistently); the rest are column slips as in 'redo' (default 0.75).
   */
  checkMiscopyShare?: number;
  /**
   * With checkStyle 'reread': the solutions without a check slip too, at the same rate
   * (checkSlipShare, the same kinds of slip) and keep the sum they got as their answer — so a
   * first pass is as reliable with or without a check, and the check is what makes the answer
   * right (default false: only checked first passes slip, and every answer is right).
   */
  uncheckedSlips?: boolean;
  /**
   * Share of the worked, direct and tagged documents that ask for a product a*d (a with up to
   * maxDigits digits, d in 2 … 9, held-out products excluded) instead of a sum, and of the fact
   * documents that list times-table facts (default 0: the addition corpus, unchanged). Their
   * worked solutions never re-check.
   */
  mulShare?: number;
}

/**
 * The first pass of a 'reread' solution: the operands as it read them (a miscopy changes one
 * digit) and an optional column slip on top.
 */
export interface FirstPass {
  a: number;
  b: number;
  slip: Slip | null;
}

/** A slip for the 'redo' self-check: column `col`'s sum stated off by `delta` (±1, its carry kept). */
export interface Slip {
  col: number;
  delta: 1 | -1;
}

export const DEFAULT_MIX: Record<CorpusKind, number> = { worked: 0.26, direct: 0.14, tagged: 0.5, prose: 0.06, facts: 0.04 };

/** Share of worked solutions wrapped in a tag (the rest: "Let's work it out:", "Solution:", nothing). */
export const WORKED_TAG_SHARE = 0.6;
/** Share of tagged direct answers whose tag is <answer> (the rest: a common or made-up name). */
export const TAGGED_ANSWER_SHARE = 0.25;
/** Share of tag names that are made-up words (the rest: common names such as <work>). */
export const MADE_UP_TAG_SHARE = 0.8;

const TAGS = ['work', 'steps', 'calc', 'scratch', 'working', 'notes', 'solution', 'sum', 'reasoning', 'math', 'thoughts', 'draft', 'method', 'column', 'addition', 'process'];
const QUESTIONS: Array<(a: number, b: number) => string> = [
  (a, b) => `What is ${a}+${b}?`,
  (a, b) => `What is ${a} + ${b}?`,
  (a, b) => `Compute ${a}+${b}.`,
  (a, b) => `Find the sum of ${a} and ${b}.`,
  (a, b) => `${a}+${b}=?`,
  (a, b) => `Add ${a} and ${b}.`,
  (a, b) => `How much is ${a} plus ${b}?`,
  (a, b) => `Calculate ${a} + ${b}.`,
];
const FRAMES: Array<(q: string, r: string) => string> = [
  (q, r) => `Q: ${q}\nA: ${r}`,
  (q, r) => `Question: ${q}\n${r}`,
  (q, r) => `User: ${q}\nAssistant: ${r}`,
  (q, r) => `${q} ${r}`,
  (q, r) => `Problem: ${q}\n${r}`,
];
const FILLER = [
  'I guess numbers are fun to learn.', 'Practice makes adding easy.', 'We add numbers every day.', 'The shop was closed on Sunday.',
  'A good habit is to check your work.', 'It may rain today.', 'The answer to a question is not always simple.',
  'Reading a little every day helps.', 'Some people work slowly and carefully.', 'Write neatly so you can read it later.',
];
// Plain sentences built from everyday words (so that ordinary English, prompts included,
// tokenizes into trained pieces); none of them is an instruction or a template. No word of
// the corpus contains "think": a word like " thinks" would make the BPE learn the merge
// "th"+"ink" as a step towards it, and then "<think>" would be spelled with the token "ink",
// which the corpus never shows alone (an untrained embedding the model cannot copy; measured:
// such a base closed made-up tags by copying 43% of the time and <think> never).
const WHO = ['The user', 'A student', 'The assistant', 'My friend', 'The teacher', 'A person', 'The Assistant', 'The User', 'Everyone'];
const DOES = ['asks a question', 'solves the problem', 'ponders it', 'provides the answer', 'writes the reasoning down', 'explains the process',
  'keeps a note in the mind', 'reads the tags', 'enjoys a conversation', 'first reads the question', 'then gives an answer'];
const HOW = ['', ' slowly', ' between lessons', ' within a minute', ' in a conversation', ' at home', ' respectively', ' every morning', ' here', ' in the mind'];
function filler(rng: Rng): string {
  if (rng.uniform() < 0.3) return pick(rng, FILLER);
  const n = 1 + rng.int(3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${pick(rng, WHO)} ${pick(rng, DOES)}${pick(rng, HOW)}.`);
  if (rng.uniform() < 0.2) out.push('The notes are enclosed in brackets, i.e., kept apart.');
  return out.join(' ');
}

/** A kind drawn with probability mix[k] / total (the corpora's document mixtures); the last kind absorbs rounding. */
export function drawKind<K extends string>(rng: Rng, kinds: readonly K[], mix: Readonly<Record<K, number>>, total: number): K {
  let u = rng.uniform() * total;
  for (const k of kinds) {
    if (u < mix[k]) return k;
    u -= mix[k];
  }
  return kinds[kinds.length - 1];
}

/** A uniformly drawn element of xs (also the countdown corpus's). */
export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/**
 * A tag name: 30% of the time a common one, else a made-up word, so that what
 * follows an opening tag does not depend on knowing the tag, and closing a tag means
 * copying its name (never "think": the corpus does not contain the RL template's tags).
 */
function tagName(rng: Rng): string {
  return tagNameFrom(rng, TAGS, MADE_UP_TAG_SHARE);
}

/** A tag name: one of `common`, or with probability `madeUpShare` a made-up word of 3–8 letters never containing "think" (also the countdown corpus's). */
export function tagNameFrom(rng: Rng, common: readonly string[], madeUpShare: number): string {
  if (rng.uniform() >= madeUpShare) return pick(rng, common);
  for (;;) {
    const n = 3 + rng.int(6);
    let w = '';
    for (let i = 0; i < n; i++) w += String.fromCharCode(97 + rng.int(26));
    if (!w.includes('think')) return w;
  }
}

const PLACES = ['ones', 'tens', 'hundreds', 'thousands', 'ten-thousands', 'hundred-thousands'];
const lhs = (c: Column) => (c.carryIn ? `${c.x}+${c.y}+1` : `${c.x}+${c.y}`);

/**
 * The column procedure's sentences for a + b in one of two wordings, and the sum they state;
 * a slip changes one column's stated sum and digit, never its carry (so the rest stays consistent).
 */
function columnWork(cols: readonly Column[], wording: 0 | 1, slip: Slip | null): { text: string; got: number } {
  let got = 0;
  let place = 1;
  const parts = cols.map((c, i) => {
    const sum = slip && slip.col === i ? c.sum + slip.delta : c.sum;
    const digit = sum % 10;
    got += digit * place;
    place *= 10;
    if (wording === 0) return `${lhs(c)}=${sum}, write ${digit}${c.carryOut ? ' carry 1' : ''}.`;
    return `${PLACES[i] ?? `column ${i + 1}`}: ${lhs(c)}=${sum}, digit ${digit}${c.carryOut ? ', carry 1' : ''}.`;
  });
  if (cols[cols.length - 1].carryOut) {
    parts.push(wording === 0 ? 'write 1.' : `${PLACES[cols.length] ?? 'next'}: 1.`);
    got += place;
  }
  return { text: parts.join(' '), got };
}

/** "Wait, let me check: 7+6=13, 5+8+1=14, 3+4+1=8." — every column recomputed from the operands. */
const recheck = (cols: readonly Column[]) => `Wait, let me check: ${cols.map((c) => `${lhs(c)}=${c.sum}`).join(', ')}.`;

/** The column procedure for a + b in one of two wordings (no answer sentence). */
export function workedSteps(a: number, b: number, wording: 0 | 1, selfCheck: boolean): string {
  const cols = columns(a, b);
  const { text } = columnWork(cols, wording, null);
  return selfCheck ? `${text} ${recheck(cols)} Yes.` : text;
}

/**
 * The column procedure followed by a re-check that recomputes it ('redo' style): the first
 * pass (with `slip`, one column's sum off by one) states the sum it got, the check restates
 * every column computed afresh from the operands and gives the true sum, confirming or
 * correcting the first.
 */
export function workedStepsRedo(a: number, b: number, wording: 0 | 1, slip: Slip | null): string {
  const cols = columns(a, b);
  const { text, got } = columnWork(cols, wording, slip);
  const s = a + b;
  return `${text} That gives ${got}. ${recheck(cols)} ${got === s ? 'Yes' : 'No'}, it is ${s}.`;
}

/**
 * The column procedure followed by a check that re-reads the operands from the question
 * ('reread' style): the first pass works `first.a + first.b` (a miscopy of a + b, or a + b
 * itself) with `first.slip`, and states the sum it got; the check restates the question's
 * operands ("Check: the question is a+b."), recomputes every column from them, and compares:
 * "Yes, S." when the first pass got S, else "Wait, that is not G. It is S.".
 */
export function workedStepsReread(a: number, b: number, wording: 0 | 1, first: FirstPass): string {
  for (const [name, v] of [['a', a], ['b', b], ['first.a', first.a], ['first.b', first.b]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new R1tsError(`workedStepsReread: ${name}=${v}: expected a non-negative integer`);
  }
  const { text, got } = columnWork(columns(first.a, first.b), wording, first.slip);
  const cols = columns(a, b);
  const s = a + b;
  const check = `Check: the question is ${a}+${b}. ${cols.map((c) => `${lhs(c)}=${c.sum}`).join(', ')}, so ${a}+${b}=${s}.`;
  return `${text} That gives ${got}. ${check} ${got === s ? `Yes, ${s}.` : `Wait, that is not ${got}. It is ${s}.`}`;
}

/**
 * An operand with one digit miscopied: a random position gets a different digit (never a
 * leading zero in a number of two or more digits).
 */
function miscopy(rng: Rng, x: number): number {
  const digits = String(x).split('').map(Number);
  const pos = rng.int(digits.length);
  const lo = pos === 0 && digits.length > 1 ? 1 : 0;
  let d = lo + rng.int(9 - lo); // one of the 9 - lo digits in [lo, 9] other than digits[pos]
  if (d >= digits[pos]) d++;
  digits[pos] = d;
  return Number(digits.join(''));
}

/** A 'reread' first pass: a miscopied operand (miscopyShare of the time), else a column slip. */
function rereadSlip(rng: Rng, a: number, b: number, miscopyShare: number): FirstPass {
  if (rng.uniform() < miscopyShare) return rng.uniform() < 0.5 ? { a: miscopy(rng, a), b, slip: null } : { a, b: miscopy(rng, b), slip: null };
  return { a, b, slip: randomSlip(rng, a, b) };
}

/**
 * A slip in a random column that keeps the column's carry (a sum ending in 9 slips down, in 0
 * up) and never makes a leading zero (a leading 1 slips up).
 */
function randomSlip(rng: Rng, a: number, b: number): Slip {
  const cols = columns(a, b);
  const col = rng.int(cols.length);
  const c = cols[col];
  const d = c.sum % 10;
  const leading = col === cols.length - 1 && !c.carryOut && cols.length > 1;
  const delta: 1 | -1 = d === 9 ? -1 : d === 0 || (leading && d === 1) ? 1 : rng.uniform() < 0.5 ? 1 : -1;
  return { col, delta };
}

function operand(rng: Rng, maxDigits: number): number {
  const d = 1 + rng.int(maxDigits);
  // favour the longest operands: they are what the task asks
  const digits = rng.uniform() < 0.6 ? maxDigits : d;
  const lo = digits === 1 ? 0 : 10 ** (digits - 1);
  return lo + rng.int(10 ** digits - lo);
}

function pair(rng: Rng, maxDigits: number): [number, number] {
  for (;;) {
    const a = operand(rng, maxDigits);
    const b = operand(rng, maxDigits);
    if (!isHeldOutPair(a, b)) return [a, b];
  }
}

function answerSentence(rng: Rng, a: number, b: number, s: number): string {
  const forms = [`So the answer is ${s}.`, `Answer: ${s}`, `<answer>${s}</answer>`, `So ${a}+${b}=${s}.`];
  return pick(rng, forms);
}

interface CheckOptions {
  share: number;
  style: 'confirm' | 'redo' | 'reread';
  slipShare: number;
  miscopyShare: number;
  uncheckedSlips: boolean;
}

/** Worked steps in a tag closed by the same tag, or introduced by "Let's work it out:", "Solution:" or nothing. */
function workedBody(rng: Rng, steps: string): string {
  if (rng.uniform() < WORKED_TAG_SHARE) {
    const tag = tagName(rng);
    return `<${tag}> ${steps} </${tag}>`;
  }
  const intro = rng.int(3);
  return intro === 0 ? `Let's work it out: ${steps}` : intro === 1 ? `Solution: ${steps}` : steps;
}

function worked(rng: Rng, maxDigits: number, check: CheckOptions): string {
  const [a, b] = pair(rng, maxDigits);
  const wording = rng.int(2) as 0 | 1;
  const checked = rng.uniform() < check.share;
  // (the 'confirm' path draws exactly what it always drew: the default stream is pinned by a test)
  let answer = a + b;
  let steps: string;
  if (checked && check.style === 'redo') steps = workedStepsRedo(a, b, wording, rng.uniform() < check.slipShare ? randomSlip(rng, a, b) : null);
  else if (checked && check.style === 'reread') steps = workedStepsReread(a, b, wording, rng.uniform() < check.slipShare ? rereadSlip(rng, a, b, check.miscopyShare) : { a, b, slip: null });
  else if (check.style === 'reread' && check.uncheckedSlips && rng.uniform() < check.slipShare) {
    // an unchecked first pass that slipped: its sum stands as the answer
    const first = rereadSlip(rng, a, b, check.miscopyShare);
    const work = columnWork(columns(first.a, first.b), wording, first.slip);
    steps = work.text;
    answer = work.got;
  } else steps = workedSteps(a, b, wording, checked);
  const body = workedBody(rng, steps);
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(a, b), `${body} ${answerSentence(rng, a, b, answer)}`);
}

const MUL_QUESTIONS: Array<(a: number, d: number) => string> = [
  (a, d) => `What is ${a}*${d}?`,
  (a, d) => `What is ${a} * ${d}?`,
  (a, d) => `Compute ${a}*${d}.`,
  (a, d) => `Find the product of ${a} and ${d}.`,
  (a, d) => `${a}*${d}=?`,
  (a, d) => `Multiply ${a} by ${d}.`,
  (a, d) => `How much is ${a} times ${d}?`,
  (a, d) => `Calculate ${a} * ${d}.`,
];

function mulPair(rng: Rng, maxDigits: number): [number, number] {
  for (;;) {
    const a = operand(rng, maxDigits);
    const d = 2 + rng.int(8);
    if (!isHeldOutProduct(a, d)) return [a, d];
  }
}

/**
 * The row procedure for a × d in one of two wordings (no answer sentence): from the ones up, the
 * times-table fact, then the carry added to it, the digit written and the carry kept; a final
 * carry is written in front. "7*6=42, write 2 carry 4. 4*6=24, 24+4=28, write 8 carry 2. 3*6=18,
 * 18+2=20, write 0 carry 2. write 2."
 */
export function workedProductSteps(a: number, d: number, wording: 0 | 1): string {
  const row = productRow(a, d);
  const parts = row.map((st, i) => {
    const fact = `${st.x}*${d}=${st.product}`;
    const add = st.carryIn ? `, ${st.product}+${st.carryIn}=${st.total}` : '';
    if (wording === 0) return `${fact}${add}, write ${st.digit}${st.carryOut ? ` carry ${st.carryOut}` : ''}.`;
    return `${PLACES[i] ?? `column ${i + 1}`}: ${fact}${add}, digit ${st.digit}${st.carryOut ? `, carry ${st.carryOut}` : ''}.`;
  });
  const last = row[row.length - 1].carryOut;
  if (last) parts.push(wording === 0 ? `write ${last}.` : `${PLACES[row.length] ?? 'next'}: ${last}.`);
  return parts.join(' ');
}

function workedProduct(rng: Rng, maxDigits: number): string {
  const [a, d] = mulPair(rng, maxDigits);
  const steps = workedProductSteps(a, d, rng.int(2) as 0 | 1);
  const p = a * d;
  const body = workedBody(rng, steps);
  const answer = pick(rng, [`So the answer is ${p}.`, `Answer: ${p}`, `<answer>${p}</answer>`, `So ${a}*${d}=${p}.`]);
  return pick(rng, FRAMES)(pick(rng, MUL_QUESTIONS)(a, d), `${body} ${answer}`);
}

/** A direct or tagged answer to a product question. */
function answeredProduct(rng: Rng, maxDigits: number, kind: 'direct' | 'tagged'): string {
  const [a, d] = mulPair(rng, maxDigits);
  const p = a * d;
  let r: string;
  if (kind === 'direct') r = pick(rng, [`${p}`, `The answer is ${p}.`, `Answer: ${p}`, `${p}.`, `It is ${p}.`, `I guess it is ${p}.`]);
  else {
    const tag = rng.uniform() < TAGGED_ANSWER_SHARE ? 'answer' : tagName(rng);
    r = `<${tag}>${p}</${tag}>`;
  }
  return pick(rng, FRAMES)(pick(rng, MUL_QUESTIONS)(a, d), r);
}

function mulFacts(rng: Rng): string {
  const n = 3 + rng.int(6);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = rng.int(10);
    const y = 2 + rng.int(8);
    out.push(`${x}*${y}=${x * y}.`);
  }
  return out.join(' ');
}

function direct(rng: Rng, maxDigits: number): string {
  const [a, b] = pair(rng, maxDigits);
  const s = a + b;
  const r = pick(rng, [`${s}`, `The answer is ${s}.`, `Answer: ${s}`, `${s}.`, `It is ${s}.`, `I guess it is ${s}.`]);
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(a, b), r);
}

function tagged(rng: Rng, maxDigits: number): string {
  const [a, b] = pair(rng, maxDigits);
  const s = a + b;
  const tag = rng.uniform() < TAGGED_ANSWER_SHARE ? 'answer' : tagName(rng);
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(a, b), `<${tag}>${s}</${tag}>`);
}

function prose(rng: Rng, maxDigits: number): string {
  const [a, b] = pair(rng, maxDigits);
  const cols = columns(a, b);
  const out = [`To add ${a} and ${b}, write them in columns and start with the ones.`];
  cols.forEach((c, i) => {
    const carry = c.carryIn ? ` plus the carried 1` : '';
    out.push(`In the ${PLACES[i] ?? 'next'} column, ${c.x} plus ${c.y}${carry} makes ${c.sum}, so we write ${c.digit}${c.carryOut ? ' and carry 1' : ''}.`);
  });
  if (cols[cols.length - 1].carryOut) out.push('The last carry 1 is written in front.');
  out.push(`Reading the digits gives ${a + b}.`);
  return out.join(' ');
}

function facts(rng: Rng): string {
  if (rng.uniform() < 0.5) return filler(rng);
  const n = 3 + rng.int(6);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = rng.int(10);
    const y = rng.int(10);
    out.push(rng.uniform() < 0.5 ? `${x}+${y}=${x + y}.` : `${x}+${y}+1=${x + y + 1}.`);
  }
  return out.join(' ');
}

/** An endless, seeded stream of corpus documents with their kinds. */
export function* corpusDocuments(seed: number, opts: CorpusOptions = {}): Generator<{ kind: CorpusKind; text: string }> {
  const maxDigits = opts.maxDigits ?? 3;
  if (!Number.isInteger(maxDigits) || maxDigits < 1 || maxDigits > 6) throw new R1tsError(`corpus: maxDigits=${maxDigits}: expected an integer in [1, 6]`);
  const mix = { ...DEFAULT_MIX, ...opts.mix };
  const kinds = Object.keys(mix) as CorpusKind[];
  const total = kinds.reduce((s, k) => s + mix[k], 0);
  if (!(total > 0) || kinds.some((k) => !(mix[k] >= 0))) throw new R1tsError('corpus: mix shares must be non-negative with a positive sum');
  const workedMaxDigits = opts.workedMaxDigits ?? maxDigits;
  if (!Number.isInteger(workedMaxDigits) || workedMaxDigits < 1 || workedMaxDigits > maxDigits) {
    throw new R1tsError(`corpus: workedMaxDigits=${workedMaxDigits}: expected an integer in [1, maxDigits=${maxDigits}]`);
  }
  const workedLongShare = opts.workedLongShare ?? 0;
  if (!(workedLongShare >= 0 && workedLongShare <= 1)) throw new R1tsError(`corpus: workedLongShare=${workedLongShare}: expected a share in [0, 1]`);
  const check: CheckOptions = {
    share: opts.selfCheck ?? 0.1, style: opts.checkStyle ?? 'confirm', slipShare: opts.checkSlipShare ?? 0.3, miscopyShare: opts.checkMiscopyShare ?? 0.75,
    uncheckedSlips: opts.uncheckedSlips ?? false,
  };
  if (check.uncheckedSlips && check.style !== 'reread') throw new R1tsError(`corpus: uncheckedSlips needs checkStyle 'reread' (got '${check.style}')`);
  for (const [name, v] of [['selfCheck', check.share], ['checkSlipShare', check.slipShare], ['checkMiscopyShare', check.miscopyShare]] as const) {
    if (!(v >= 0 && v <= 1)) throw new R1tsError(`corpus: ${name}=${v}: expected a share in [0, 1]`);
  }
  if (check.style !== 'confirm' && check.style !== 'redo' && check.style !== 'reread') {
    throw new R1tsError(`corpus: checkStyle=${String(check.style)}: expected 'confirm', 'redo' or 'reread'`);
  }
  const mulShare = opts.mulShare ?? 0;
  if (!(mulShare >= 0 && mulShare <= 1)) throw new R1tsError(`corpus: mulShare=${mulShare}: expected a share in [0, 1]`);
  const rng = new Rng(seed);
  for (;;) {
    const kind = drawKind(rng, kinds, mix, total);
    // (no draw when mulShare is 0: the addition corpus's stream is pinned by a test)
    if (mulShare > 0 && kind !== 'prose' && rng.uniform() < mulShare) {
      const text = kind === 'worked' ? workedProduct(rng, maxDigits) : kind === 'facts' ? mulFacts(rng) : answeredProduct(rng, maxDigits, kind);
      yield { kind, text };
      continue;
    }
    const text =
      kind === 'worked' ? worked(rng, workedLongShare > 0 && rng.uniform() < workedLongShare ? maxDigits : workedMaxDigits, check) : kind === 'direct' ? direct(rng, maxDigits) : kind === 'tagged' ? tagged(rng, maxDigits) : kind === 'prose' ? prose(rng, maxDigits) : facts(rng);
    yield { kind, text };
  }
}
