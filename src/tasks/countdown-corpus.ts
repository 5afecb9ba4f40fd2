// The countdown section of the synthetic "pretraining text" for the R1-Zero demo's base
// model (the countdown counterpart of arithmetic-corpus.ts): what a web crawl might hold
// about the numbers game, written by code, with no human-written reasoning. It mixes
//   search   questions (varied wordings, TinyZero's among them) followed by a worked search
//            over + and − in one fixed order (searchTrials), in three wordings, introduced by
//            "Let's search:", "Let me try.", nothing, or (60%) a tag closed by the same tag (a
//            common name or, 80%, a made-up word: closing a tag is copying its name), ending
//            mostly "<answer>expr</answer>"
//   direct   the same kinds of questions with a bare answer ("expr", "expr = t", …)
//   tagged   direct answers inside tags (<answer> 40%, else a common or made-up name)
//   facts    the arithmetic the search needs: sums and differences of numbers up to 100 and
//            of a sum or difference with a third number, alone or chained
//   prose    the search explained in sentences on an example
//   restate  the same kinds of questions followed by their numbers and target restated ("The
//            numbers are 30, 100 and 93; the target is 23."): copying numbers out of the
//            question, which the search needs first, is the skill a model this size learns last
//   guess    (default share 0) a worked answer that names one of the four search trials' equations
//            ("Maybe 93 - (100 - 30).") and answers with it; a share of them (`guessCheck`) first
//            checks the guess — "Wait, let me check:" and the guess computed step by step, its value
//            beside the target, "yes" or "no" — and after a "no" says "Try again." and searches the
//            other trials. An unchecked guess is always the item's answer (the corpus does not lie);
//            a checked one is right with probability `guessRight`. Only checked guesses hold a
//            reflection word ("wait", "check", "again"): the aha experiment (bench/aha.ts --task
//            countdown) asks whether GRPO, which rewards only the answer, makes checking the rule.
//            Which trial reaches the target is what the model cannot see without computing it, so
//            unlike the addition runs' first-pass slips (docs/zero.md) RL should not be able to
//            make the unchecked guess reliable and remove the reason to check (measured on base A
//            in docs/zero.md: guesses rose from 8% to 15–30% right, the checks went hollow).
// The search: with numbers a, b, c (in the question's order) and target t, take the pair
// (a, b): its sum s = a + b, then s + c and |s − c|; its difference d = |a − b|, then d + c
// and |d − c|; stop at the first that equals t. Every target ±a ±b ±c > 0 is one of those
// four, so the search always ends on an answer for items solvable with + and − (229 of the
// 256 cd3_test items); the corpus only draws such items.
// It never contains the RL template (no "<think>", no R1-Zero system text), and never a
// held-out item: a draw whose numbers, in any order, are those of a cd3_test item is dropped
// (whatever its target); no "a+b" addition in it is an arithmetic held-out pair either.
// Steps are written plain ("130 + 93 = 223") or, with `steps: 'columns'`, with their column work
// first ("130 + 93: 0+3=3, 3+9=12, 1+0+1=2, so 223"): at this model size a two- or three-digit
// sum written in one shot is a look-up it does not learn, column by column it is (measured in
// bench/arith-format.ts: 2.0% vs 92.0% of held-out facts; docs/zero.md); there each trial's
// verdict also writes the target beside the value first ("so 37 vs 23: no"), because a base
// whose verdict came before the target ("so 37, not 23") said "Found it" at random.
// Not here: tokenization or packing (src/data), the task and grader (countdown.ts), the
// arithmetic corpus it is mixed with (train/zero-base.ts).

import { R1tsError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { isHeldOutPair } from './arithmetic.ts';
import { drawKind, pick, tagNameFrom } from './arithmetic-corpus.ts';
import { countdownParts, countdownQuestion, countdownTask } from './countdown.ts';

export type CountdownCorpusKind = 'search' | 'guess' | 'direct' | 'tagged' | 'facts' | 'restate' | 'prose';

export interface CountdownCorpusOptions {
  /** Share of each kind (normalised). */
  mix?: Partial<Record<CountdownCorpusKind, number>>;
  /** Largest number of the game and of its targets (default 100, as in cd3_test). */
  maxNumber?: number;
  /** The held-out items to keep out (default: every cd3_test item from the shared data). */
  heldOut?: ReadonlyArray<{ numbers: readonly number[]; target: number }>;
  /** The shared data folder (default: R1TS_DATA or ../shared/data), for the default heldOut. */
  dataDir?: string;
  /** How each ± step is written: plain "a + b = c" (default) or with its column work first. */
  steps?: StepFormat;
  /** Share of worked searches (and guesses) that first restate the numbers and target (default 0). */
  restate?: number;
  /** Share of guesses that check themselves before answering (default 0.3). */
  guessCheck?: number;
  /** Share of checked guesses whose guess is right (default 0.3); an unchecked guess always is. */
  guessRight?: number;
}

export type StepFormat = 'plain' | 'columns';

export const COUNTDOWN_DEFAULT_MIX: Record<CountdownCorpusKind, number> = { search: 0.4, guess: 0, direct: 0.1, tagged: 0.12, facts: 0.32, restate: 0, prose: 0.06 };

/** Share of worked searches wrapped in a tag (the rest: an intro sentence or nothing). */
export const SEARCH_TAG_SHARE = 0.6;
/** Share of tag names that are made-up words (the rest: common names such as <work>). */
export const CD_MADE_UP_TAG_SHARE = 0.8;

/** One trial of the search: `left op right = value`, and the equation it would answer with. */
export interface Trial {
  left: number;
  op: '+' | '-';
  right: number;
  value: number;
  /** The equation on the three numbers whose value this trial computes (e.g. "93 - (100 - 30)"). */
  expression: string;
}

/** The pair step of the search: `a op b = value` (a sum, or the larger minus the smaller). */
export interface PairStep {
  left: number;
  op: '+' | '-';
  right: number;
  value: number;
  /** The trials made with this pair's value and the third number, in order. */
  trials: Trial[];
}

/**
 * The search over + and − for numbers [a, b, c] and a target, in its fixed order, up to and
 * including the first trial that equals the target (all of them when none does):
 * (a + b) + c, |(a + b) − c|, |a − b| + c, ||a − b| − c|.
 */
export function searchTrials(numbers: readonly number[], target: number): { pairs: PairStep[]; found: Trial | null } {
  if (numbers.length !== 3) throw new R1tsError(`countdown corpus: expected 3 numbers, got [${numbers.join(', ')}]`);
  const [a, b, c] = numbers;
  const pairs: PairStep[] = [];
  const sum: PairStep = { left: a, op: '+', right: b, value: a + b, trials: [] };
  const big = a >= b ? a : b;
  const small = a >= b ? b : a;
  const diff: PairStep = { left: big, op: '-', right: small, value: big - small, trials: [] };
  for (const p of [sum, diff]) {
    pairs.push(p);
    const inner = `${p.left} ${p.op} ${p.right}`;
    const withC: Trial = { left: p.value, op: '+', right: c, value: p.value + c, expression: `${inner} + ${c}` };
    const minusC: Trial =
      p.value >= c
        ? { left: p.value, op: '-', right: c, value: p.value - c, expression: `${inner} - ${c}` }
        : { left: c, op: '-', right: p.value, value: c - p.value, expression: `${c} - (${inner})` };
    for (const t of [withC, minusC]) {
      p.trials.push(t);
      if (t.value === target) return { pairs, found: t };
    }
  }
  return { pairs, found: null };
}

const TAGS = ['work', 'steps', 'search', 'scratch', 'working', 'notes', 'tries', 'calc', 'reasoning', 'math', 'draft', 'method', 'solution', 'game', 'attempts', 'process'];

/** A tag name: a common one, or (CD_MADE_UP_TAG_SHARE) a made-up word that never contains "think". */
function tagName(rng: Rng): string {
  return tagNameFrom(rng, TAGS, CD_MADE_UP_TAG_SHARE);
}

const list = (ns: readonly number[]) => ns.join(', ');
const and = (ns: readonly number[]) => `${ns.slice(0, -1).join(', ')} and ${ns[ns.length - 1]}`;
const QUESTIONS: Array<(ns: readonly number[], t: number) => string> = [
  (ns, t) => countdownQuestion(ns, t),
  (ns, t) => countdownQuestion(ns, t),
  (ns, t) => countdownQuestion(ns, t),
  (ns, t) => `Using the numbers [${list(ns)}], create an equation that equals ${t}.`,
  (ns, t) => `Use ${and(ns)} once each with + and - to make ${t}.`,
  (ns, t) => `Numbers: ${list(ns)}. Target: ${t}.`,
  (ns, t) => `Countdown: reach ${t} with ${list(ns)}.`,
  (ns, t) => `How can ${and(ns)} make ${t}?`,
  (ns, t) => `Make ${t} from [${list(ns)}], each number used once.`,
];
const FRAMES: Array<(q: string, r: string) => string> = [
  (q, r) => `Q: ${q}\nA: ${r}`,
  (q, r) => `Question: ${q}\n${r}`,
  (q, r) => `User: ${q}\nAssistant: ${r}`,
  (q, r) => `${q} ${r}`,
  (q, r) => `Problem: ${q}\n${r}`,
];

/**
 * The column work of a ± b (a >= b for −), units first: "7+9=16, 6+4+1=11, 1+0+1=2" for
 * 167 + 49; a column that borrows is written from ten more ("13-9-1=3", the "-1" a borrow taken,
 * the "+1" a carry). Each column's digits are its own one-digit fact, so the model needs no
 * look-up of two-digit sums; the result's digits are the columns' last digits (and a final carry).
 */
export function columnWork(a: number, op: '+' | '-', b: number): string {
  if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0) || (op === '-' && a < b)) {
    throw new R1tsError(`column work of ${a} ${op} ${b}: expected non-negative integers (and a >= b for -)`);
  }
  const da = [...String(a)].reverse().map(Number);
  const db = [...String(b)].reverse().map(Number);
  const cols: string[] = [];
  let carry = 0;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const x = da[i] ?? 0;
    const y = db[i] ?? 0;
    if (op === '+') {
      const s = x + y + carry;
      cols.push(`${x}+${y}${carry ? '+1' : ''}=${s}`);
      carry = s >= 10 ? 1 : 0;
    } else {
      const s = x - y - carry;
      cols.push(s < 0 ? `1${x}-${y}${carry ? '-1' : ''}=${s + 10}` : `${x}-${y}${carry ? '-1' : ''}=${s}`);
      carry = s < 0 ? 1 : 0;
    }
  }
  return cols.join(', ');
}

/** One step, "l op r = v" or, in columns, "l op r: <column work>, so v". */
function step(format: StepFormat, l: number, op: '+' | '-', r: number, v: number): string {
  return format === 'columns' ? `${l} ${op} ${r}: ${columnWork(l, op, r)}, so ${v}` : `${l} ${op} ${r} = ${v}`;
}

/**
 * The worked search in one of three wordings (no answer sentence), its steps plain or in columns;
 * `skip` leaves out the trial with that equation (one a checked guess already rejected).
 */
export function searchText(numbers: readonly number[], target: number, wording: 0 | 1 | 2, format: StepFormat = 'plain', skip?: string): string {
  const { pairs, found } = searchTrials(numbers, target);
  const out: string[] = [];
  pairs.forEach((p, i) => {
    const pair = step(format, p.left, p.op, p.right, p.value);
    const trials = p.trials.filter((t) => t.expression !== skip).map((t) => {
      const e = step(format, t.left, t.op, t.right, t.value);
      const hit = t === found;
      if (format === 'columns') {
        // the target written beside the value before the verdict, so the verdict is a comparison
        // of two numbers side by side, not a recall of the question's target
        const verdict = `${e} vs ${target}: ${hit ? 'yes' : 'no'}`;
        return wording === 1 ? verdict : hit && wording === 0 ? `${verdict}. Found it.` : `${verdict}.`;
      }
      if (wording === 0) return hit ? `${e}. Found it.` : `${e}, not ${target}.`;
      if (wording === 1) return hit ? `${e} (yes)` : `${e} (no)`;
      return hit ? `${e} is the target.` : `${e} is not ${target}.`;
    });
    if (wording === 0) out.push(`Try ${pair}. ${trials.join(' ')}`);
    else if (wording === 1) out.push(`${pair}${format === 'columns' ? ';' : ':'} ${trials.join(format === 'columns' ? '; ' : ', ')}.`);
    else out.push(`${i === 0 ? 'First' : 'Next'} ${pair}, and ${trials.join(' ')}`);
  });
  if (!found) out.push(wording === 1 ? 'none (no)' : `None gives ${target}.`);
  return out.join(' ');
}

function answerSentence(rng: Rng, expression: string, target: number): string {
  const u = rng.uniform();
  if (u < 0.65) return `<answer>${expression}</answer>`;
  if (u < 0.75) return `<answer>${expression} = ${target}</answer>`;
  if (u < 0.85) return `<answer> ${expression} </answer>`;
  if (u < 0.93) return `So the answer is ${expression}.`;
  return `Answer: ${expression} = ${target}`;
}

/** A training item solvable with + and −: three numbers in 1..max and the value of one search trial. */
interface Draw {
  numbers: number[];
  target: number;
  expression: string;
}

function additionsClean(numbers: readonly number[], target: number): boolean {
  const { pairs } = searchTrials(numbers, target);
  for (const p of pairs) {
    if (p.op === '+' && isHeldOutPair(p.left, p.right)) return false;
    for (const t of p.trials) if (t.op === '+' && isHeldOutPair(t.left, t.right)) return false;
  }
  return true;
}

/** Canonical key of a number multiset ("30,93,100"). */
export function numbersKey(numbers: readonly number[]): string {
  return [...numbers].sort((x, y) => x - y).join(',');
}

function draw(rng: Rng, max: number, held: ReadonlySet<string>): Draw {
  for (;;) {
    const numbers = [1 + rng.int(max), 1 + rng.int(max), 1 + rng.int(max)];
    if (held.has(numbersKey(numbers))) continue;
    // one of the four sign patterns, its value the target (a target in 1..max)
    const k = rng.int(4);
    const all = searchTrials(numbers, -1).pairs.flatMap((p) => p.trials);
    const target = all[k].value;
    if (target < 1 || target > max) continue;
    const { found } = searchTrials(numbers, target);
    if (!found || !additionsClean(numbers, target)) continue;
    return { numbers, target, expression: found.expression };
  }
}

const RESTATEMENTS: Array<(ns: readonly number[], t: number) => string> = [
  (ns, t) => `The numbers are ${and(ns)}; the target is ${t}.`,
  (ns, t) => `Numbers: ${list(ns)}. Target: ${t}.`,
  (ns, t) => `We have ${list(ns)} and want ${t}.`,
  (ns, t) => `[${list(ns)}], target ${t}.`,
];

function search(rng: Rng, d: Draw, format: StepFormat, restateShare: number): string {
  return worked(rng, d, restateShare, searchText(d.numbers, d.target, rng.int(3) as 0 | 1 | 2, format));
}

/** A worked answer's frame: the question, the work (restated first or not, in a tag or after an intro), the answer. */
function worked(rng: Rng, d: Draw, restateShare: number, work: string): string {
  const steps = restateShare > 0 && rng.uniform() < restateShare ? `${pick(rng, RESTATEMENTS)(d.numbers, d.target)} ${work}` : work;
  let body: string;
  if (rng.uniform() < SEARCH_TAG_SHARE) {
    const tag = tagName(rng);
    body = `<${tag}> ${steps} </${tag}>`;
  } else {
    const intro = rng.int(4);
    body = intro === 0 ? `Let's search: ${steps}` : intro === 1 ? `Let me try. ${steps}` : intro === 2 ? `Search: ${steps}` : steps;
  }
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(d.numbers, d.target), `${body} ${answerSentence(rng, d.expression, d.target)}`);
}

const GUESSES = ['Maybe', 'I guess', 'Perhaps', 'Say'];

/** The guess's work: "Maybe E." and, when checked, the check of E and (after a "no") the search for the rest. */
export function guessText(numbers: readonly number[], target: number, guess: string, checked: boolean, intro: string, wording: 0 | 1 | 2, format: StepFormat = 'plain'): string {
  const p = searchTrials(numbers, -1).pairs.find((q) => q.trials.some((t) => t.expression === guess));
  const t = p?.trials.find((x) => x.expression === guess);
  if (!p || !t) throw new R1tsError(`countdown corpus: ${guess} is not a trial of the search over [${numbers.join(', ')}]`);
  const said = `${intro} ${guess}.`;
  if (!checked) return said;
  const hit = t.value === target;
  const check = `${said} Wait, let me check: ${step(format, p.left, p.op, p.right, p.value)}. ${step(format, t.left, t.op, t.right, t.value)} vs ${target}: ${hit ? 'yes' : 'no'}.`;
  return hit ? check : `${check} Try again. ${searchText(numbers, target, wording, format, guess)}`;
}

function guess(rng: Rng, d: Draw, format: StepFormat, restateShare: number, checkShare: number, rightShare: number): string {
  const checked = rng.uniform() < checkShare;
  const wrong = searchTrials(d.numbers, -1).pairs.flatMap((p) => p.trials).filter((t) => t.value !== d.target);
  const g = checked && wrong.length > 0 && rng.uniform() >= rightShare ? pick(rng, wrong).expression : d.expression;
  return worked(rng, d, restateShare, guessText(d.numbers, d.target, g, checked, pick(rng, GUESSES), rng.int(3) as 0 | 1 | 2, format));
}

function direct(rng: Rng, d: Draw): string {
  const r = pick(rng, [d.expression, `${d.expression} = ${d.target}`, `The answer is ${d.expression}.`, `Answer: ${d.expression}`, `It is ${d.expression} = ${d.target}.`]);
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(d.numbers, d.target), r);
}

function tagged(rng: Rng, d: Draw): string {
  const tag = rng.uniform() < 0.4 ? 'answer' : tagName(rng);
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(d.numbers, d.target), `<${tag}>${d.expression}</${tag}>`);
}

function fact(rng: Rng, max: number, format: StepFormat): string {
  for (;;) {
    // a pair's sum or difference, or a value up to 2·max with a third number
    const x = rng.uniform() < 0.5 ? 1 + rng.int(max) : 1 + rng.int(2 * max);
    const y = 1 + rng.int(max);
    if (rng.uniform() < 0.5) {
      if (!isHeldOutPair(x, y)) return step(format, x, '+', y, x + y);
    } else return x >= y ? step(format, x, '-', y, x - y) : step(format, y, '-', x, y - x);
  }
}

function facts(rng: Rng, max: number, held: ReadonlySet<string>, format: StepFormat): string {
  const sep = format === 'columns' ? '; ' : ', ';
  if (rng.uniform() < 0.3) {
    // chains as the search writes them: a pair's value, then the third number
    const d = draw(rng, max, held);
    const { pairs } = searchTrials(d.numbers, d.target);
    return pairs.map((p) => [p, ...p.trials].map((t) => step(format, t.left, t.op, t.right, t.value)).join(sep) + '.').join(' ');
  }
  const n = format === 'columns' ? 2 + rng.int(4) : 4 + rng.int(6);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${fact(rng, max, format)}.`);
  return out.join(' ');
}

function restate(rng: Rng, d: Draw): string {
  return pick(rng, FRAMES)(pick(rng, QUESTIONS)(d.numbers, d.target), pick(rng, RESTATEMENTS)(d.numbers, d.target));
}

function prose(rng: Rng, d: Draw): string {
  const { pairs, found } = searchTrials(d.numbers, d.target);
  const word = (op: string) => (op === '+' ? 'plus' : 'minus');
  const out = [`To reach ${d.target} from ${and(d.numbers)} with + and -, take the first two numbers together, first their sum and then their difference, and each time try adding and subtracting the third number.`];
  for (const p of pairs) {
    out.push(`${p.left} ${word(p.op)} ${p.right} is ${p.value}.`);
    for (const t of p.trials) out.push(`${t.left} ${word(t.op)} ${t.right} is ${t.value}${t === found ? `, the target` : `, not ${d.target}`}.`);
  }
  out.push(`So ${d.expression} = ${d.target}.`);
  return out.join(' ');
}

/** The held-out items' number multisets (cd3_test unless given). */
function heldKeys(opts: CountdownCorpusOptions): Set<string> {
  const items = opts.heldOut ?? countdownTask({ dataDir: opts.dataDir }).heldOut(1_000_000).map((it) => countdownParts(it));
  return new Set(items.map((x) => numbersKey(x.numbers)));
}

/** An endless, seeded stream of countdown corpus documents with their kinds (and the item a document is about). */
export function* countdownCorpusDocuments(
  seed: number,
  opts: CountdownCorpusOptions = {},
): Generator<{ kind: CountdownCorpusKind; text: string; item?: { numbers: number[]; target: number } }> {
  const max = opts.maxNumber ?? 100;
  const format = opts.steps ?? 'plain';
  if (format !== 'plain' && format !== 'columns') throw new R1tsError(`countdown corpus: steps=${String(format)}: expected plain or columns`);
  const restateShare = opts.restate ?? 0;
  if (!(restateShare >= 0 && restateShare <= 1)) throw new R1tsError(`countdown corpus: restate=${restateShare}: expected a share in [0, 1]`);
  const checkShare = opts.guessCheck ?? 0.3;
  const rightShare = opts.guessRight ?? 0.3;
  for (const [name, v] of [['guessCheck', checkShare], ['guessRight', rightShare]] as const) {
    if (!(v >= 0 && v <= 1)) throw new R1tsError(`countdown corpus: ${name}=${v}: expected a share in [0, 1]`);
  }
  if (!Number.isInteger(max) || max < 4 || max > 999) throw new R1tsError(`countdown corpus: maxNumber=${max}: expected an integer in [4, 999]`);
  const mix = { ...COUNTDOWN_DEFAULT_MIX, ...opts.mix };
  const kinds = Object.keys(mix) as CountdownCorpusKind[];
  const total = kinds.reduce((s, k) => s + mix[k], 0);
  if (!(total > 0) || kinds.some((k) => !(mix[k] >= 0))) throw new R1tsError('countdown corpus: mix shares must be non-negative with a positive sum');
  const held = heldKeys(opts);
  const rng = new Rng(seed);
  for (;;) {
    const kind = drawKind(rng, kinds, mix, total);
    if (kind === 'facts') {
      yield { kind, text: facts(rng, max, held, format) };
      continue;
    }
    const d = draw(rng, max, held);
    const text =
      kind === 'search' ? search(rng, d, format, restateShare)
      : kind === 'guess' ? guess(rng, d, format, restateShare, checkShare, rightShare)
      : kind === 'direct' ? direct(rng, d) : kind === 'tagged' ? tagged(rng, d) : kind === 'restate' ? restate(rng, d) : prose(rng, d);
    yield { kind, text, item: { numbers: d.numbers, target: d.target } };
  }
}
