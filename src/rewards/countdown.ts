// Countdown verifier: the rule-based reward of TinyZero / R1-Zero's countdown task.
// Given numbers (e.g. 30, 100, 93) and a target (23), the completion must give an
// arithmetic equation inside <answer>…</answer> that uses every number exactly once
// and evaluates exactly to the target.
//
// Rules, decided here and tested in test/rewards/countdown.test.ts:
// - Extraction: the LAST <answer>…</answer> block of the completion (TinyZero takes the
//   last match too). Nothing else counts: no \boxed{}, no bare trailing line, since the
//   prompt asks for the tags and the format credit rewards exactly that.
// - Grammar (own recursive-descent parser, no eval): non-negative integer literals,
//   binary + - * /, parentheses, whitespace. The Unicode signs × ÷ − are read as * / -.
//   No unary minus/plus, no decimals, no exponent, no implicit multiplication.
// - A trailing "= N" is allowed (models often write "(100 - 93) + 30 = 37"); N must be an
//   integer literal equal to the target and is not counted as a use of a number. Any
//   other right-hand side makes the answer wrong (but still well-formed).
// - Arithmetic is exact rational (bigint numerator/denominator). Division by zero makes
//   the expression invalid. Non-integer intermediates are allowed as exact rationals
//   (6 / 4 * 2 = 3 is accepted); set allowFractions: false for the strict game rule that
//   every intermediate result must be an integer.
// - The literals must equal the given numbers as a multiset: each used exactly once, none
//   missing, no other literals.
// - Reward: weights.correct (1.0) when correct; weights.format (0.1) when the answer block
//   exists and parses as an expression of the grammar but is wrong; 0 otherwise.
// - Never throws: size and nesting are capped, every failure is a reason code.
// Not here: the countdown task's prompt and dataset (src/tasks), generation.

/** Exact rational n/d with d > 0 and gcd(|n|, d) = 1. */
export interface Rational {
  readonly n: bigint;
  readonly d: bigint;
}

export type CountdownFailure =
  | 'no-answer' // no <answer>…</answer> block
  | 'parse' // the block is not an expression of the grammar (or too long / too deep)
  | 'numbers' // literals differ from the given numbers as a multiset
  | 'div-zero' // division by zero somewhere
  | 'fraction' // a non-integer intermediate while allowFractions is false
  | 'wrong-rhs' // a trailing "= N" with N different from the target
  | 'wrong-value'; // evaluates to something other than the target

export type CountdownCheck =
  | { readonly ok: true; readonly value: Rational; readonly expression: string }
  | { readonly ok: false; readonly reason: CountdownFailure; readonly detail: string; readonly wellFormed: boolean };

export interface CountdownOptions {
  /** Allow non-integer exact intermediates (default true). */
  readonly allowFractions?: boolean;
}

export interface CountdownWeights {
  /** Reward for a correct equation (default 1). */
  readonly correct: number;
  /** Reward for a well-formed but wrong answer (default 0.1). */
  readonly format: number;
}

export const defaultCountdownWeights: CountdownWeights = { correct: 1, format: 0.1 };

/** Longest answer text we parse; longer is 'parse' (a defence, not a rule of the game). */
export const maxExpressionChars = 1000;
/** Deepest parenthesis / operator nesting we follow. */
const maxDepth = 64;

/**
 * The content of the last <answer>…</answer> block (the last closing tag and the nearest
 * opening tag before it), or undefined. Linear time whatever the input.
 */
export function extractCountdownAnswer(completion: string): string | undefined {
  if (typeof completion !== 'string') return undefined;
  const close = completion.lastIndexOf('</answer>');
  if (close < 0) return undefined;
  const open = completion.lastIndexOf('<answer>', close - '<answer>'.length);
  if (open < 0) return undefined;
  return completion.slice(open + '<answer>'.length, close);
}

// ---------------------------------------------------------------- rationals

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function rat(n: bigint, d: bigint): Rational {
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

/** Formats a rational as "7" or "-3/4". */
export function formatRational(r: Rational): string {
  return r.d === 1n ? `${r.n}` : `${r.n}/${r.d}`;
}

// ---------------------------------------------------------------- parser

type Token = { kind: 'num'; text: string } | { kind: 'op'; op: '+' | '-' | '*' | '/' } | { kind: '(' } | { kind: ')' } | { kind: '=' };

class CheckError extends Error {
  constructor(
    readonly reason: CountdownFailure,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < src.length && src[j] >= '0' && src[j] <= '9') j++;
      if (src[j] === '.' || src[j] === ',') throw new CheckError('parse', `only integer literals are allowed (at '${src.slice(i, j + 2)}')`);
      out.push({ kind: 'num', text: src.slice(i, j) });
      i = j;
      continue;
    }
    if (c === '+' || c === '-' || c === '*' || c === '/') out.push({ kind: 'op', op: c });
    else if (c === '×' || c === '·') out.push({ kind: 'op', op: '*' });
    else if (c === '÷') out.push({ kind: 'op', op: '/' });
    else if (c === '−') out.push({ kind: 'op', op: '-' });
    else if (c === '(' || c === ')' || c === '=') out.push({ kind: c });
    else throw new CheckError('parse', `unexpected character '${c}' at ${i}`);
    i++;
  }
  return out;
}

type Node = { kind: 'num'; value: bigint } | { kind: 'bin'; op: '+' | '-' | '*' | '/'; left: Node; right: Node };

/** Recursive descent: expr := term (('+'|'-') term)*; term := atom (('*'|'/') atom)*; atom := num | '(' expr ')'. */
class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  peek(): Token | undefined {
    return this.toks[this.pos];
  }

  atEnd(): boolean {
    return this.pos >= this.toks.length;
  }

  next(): Token | undefined {
    return this.toks[this.pos++];
  }

  expr(depth: number): Node {
    if (depth > maxDepth) throw new CheckError('parse', `nesting deeper than ${maxDepth}`);
    let left = this.term(depth + 1);
    for (;;) {
      const t = this.peek();
      if (t?.kind !== 'op' || (t.op !== '+' && t.op !== '-')) return left;
      this.pos++;
      left = { kind: 'bin', op: t.op, left, right: this.term(depth + 1) };
    }
  }

  term(depth: number): Node {
    let left = this.atom(depth + 1);
    for (;;) {
      const t = this.peek();
      if (t?.kind !== 'op' || (t.op !== '*' && t.op !== '/')) return left;
      this.pos++;
      left = { kind: 'bin', op: t.op, left, right: this.atom(depth + 1) };
    }
  }

  atom(depth: number): Node {
    if (depth > maxDepth) throw new CheckError('parse', `nesting deeper than ${maxDepth}`);
    const t = this.next();
    if (t === undefined) throw new CheckError('parse', 'expression ends too early');
    if (t.kind === 'num') return { kind: 'num', value: BigInt(t.text) };
    if (t.kind === '(') {
      const e = this.expr(depth + 1);
      if (this.next()?.kind !== ')') throw new CheckError('parse', "missing ')'");
      return e;
    }
    if (t.kind === 'op') throw new CheckError('parse', `unexpected '${t.op}' (no unary operators)`);
    throw new CheckError('parse', `unexpected '${t.kind}'`);
  }
}

function evaluate(node: Node, allowFractions: boolean, literals: bigint[]): Rational {
  if (node.kind === 'num') {
    literals.push(node.value);
    return { n: node.value, d: 1n };
  }
  const a = evaluate(node.left, allowFractions, literals);
  const b = evaluate(node.right, allowFractions, literals);
  let r: Rational;
  switch (node.op) {
    case '+':
      r = rat(a.n * b.d + b.n * a.d, a.d * b.d);
      break;
    case '-':
      r = rat(a.n * b.d - b.n * a.d, a.d * b.d);
      break;
    case '*':
      r = rat(a.n * b.n, a.d * b.d);
      break;
    case '/':
      if (b.n === 0n) throw new CheckError('div-zero', 'division by zero');
      r = rat(a.n * b.d, a.d * b.n);
      break;
    default:
      node.op satisfies never;
      throw new CheckError('parse', 'unknown operator');
  }
  if (!allowFractions && r.d !== 1n) throw new CheckError('fraction', `non-integer intermediate ${formatRational(r)}`);
  return r;
}

function sameMultiset(a: readonly bigint[], b: readonly bigint[]): boolean {
  if (a.length !== b.length) return false;
  const cmp = (x: bigint, y: bigint): number => (x < y ? -1 : x > y ? 1 : 0);
  const sa = [...a].sort(cmp);
  const sb = [...b].sort(cmp);
  return sa.every((v, i) => v === sb[i]);
}

function toBigints(xs: readonly (number | bigint | string)[]): bigint[] | undefined {
  const out: bigint[] = [];
  for (const x of xs) {
    if (typeof x === 'bigint') out.push(x);
    else if (typeof x === 'number' && Number.isSafeInteger(x)) out.push(BigInt(x));
    else if (typeof x === 'string' && /^\s*-?\d+\s*$/.test(x)) out.push(BigInt(x.trim()));
    else return undefined;
  }
  return out;
}

/**
 * Checks one equation (the text inside <answer>, without the tags) against the numbers
 * and target. Never throws.
 */
export function checkCountdownExpression(
  numbers: readonly (number | bigint | string)[],
  target: number | bigint | string,
  expression: string,
  options: CountdownOptions = {},
): CountdownCheck {
  const allowFractions = options.allowFractions ?? true;
  const fail = (reason: CountdownFailure, detail: string, wellFormed: boolean): CountdownCheck => ({ ok: false, reason, detail, wellFormed });
  try {
    const nums = Array.isArray(numbers) ? toBigints(numbers) : undefined;
    const tgt = toBigints([target])?.[0];
    if (nums === undefined || tgt === undefined) return fail('parse', 'numbers and target must be integers', false);
    if (typeof expression !== 'string') return fail('parse', 'expression is not a string', false);
    if (expression.length > maxExpressionChars) return fail('parse', `expression longer than ${maxExpressionChars} characters`, false);
    const toks = tokenize(expression);
    // Split off an optional trailing "= N".
    let rhs: bigint | undefined;
    const eq = toks.findIndex((t) => t.kind === '=');
    let lhsToks = toks;
    if (eq >= 0) {
      const tail = toks.slice(eq + 1);
      if (tail.length !== 1 || tail[0].kind !== 'num') throw new CheckError('parse', "'=' must be followed by a single integer");
      rhs = BigInt(tail[0].text);
      lhsToks = toks.slice(0, eq);
    }
    if (lhsToks.length === 0) throw new CheckError('parse', 'empty expression');
    const p = new Parser(lhsToks);
    const tree = p.expr(0);
    if (!p.atEnd()) throw new CheckError('parse', `unexpected token after the expression`);
    // From here on the expression is well-formed.
    const literals: bigint[] = [];
    let value: Rational;
    try {
      value = evaluate(tree, allowFractions, literals);
    } catch (e) {
      if (e instanceof CheckError) return fail(e.reason, e.detail, true);
      throw e;
    }
    if (!sameMultiset(literals, nums)) return fail('numbers', `uses [${literals.join(', ')}], expected each of [${nums.join(', ')}] exactly once`, true);
    if (rhs !== undefined && rhs !== tgt) return fail('wrong-rhs', `right-hand side ${rhs} is not the target ${tgt}`, true);
    if (value.d !== 1n || value.n !== tgt) return fail('wrong-value', `evaluates to ${formatRational(value)}, target ${tgt}`, true);
    return { ok: true, value, expression };
  } catch (e) {
    if (e instanceof CheckError) return fail(e.reason, e.detail, false);
    // RangeError from a pathological input (e.g. a gigantic literal): treat as garbage.
    return fail('parse', e instanceof Error ? e.message : String(e), false);
  }
}

/** Checks a whole completion: extracts the last <answer> block, then checks it. Never throws. */
export function checkCountdownCompletion(
  numbers: readonly (number | bigint | string)[],
  target: number | bigint | string,
  completion: string,
  options: CountdownOptions = {},
): CountdownCheck {
  const ans = extractCountdownAnswer(completion);
  if (ans === undefined) return { ok: false, reason: 'no-answer', detail: 'no <answer>…</answer> block', wellFormed: false };
  return checkCountdownExpression(numbers, target, ans.trim(), options);
}

/**
 * The countdown reward: weights.correct for a correct equation, weights.format for a
 * well-formed but wrong one, 0 without a (parsable) answer. Never throws.
 */
export function countdownReward(
  numbers: readonly (number | bigint | string)[],
  target: number | bigint | string,
  completion: string,
  weights: Partial<CountdownWeights> = {},
  options: CountdownOptions = {},
): number {
  const w = { ...defaultCountdownWeights, ...weights };
  const r = checkCountdownCompletion(numbers, target, completion, options);
  if (r.ok) return w.correct;
  return r.wellFormed ? w.format : 0;
}
