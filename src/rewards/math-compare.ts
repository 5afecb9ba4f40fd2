// Equivalence of two parsed answers (MathValue) for the math verifier: exact
// rational arithmetic where possible, otherwise complex floating evaluation at
// several pseudo-random points (an identity that holds at random points holds,
// up to a negligible chance, everywhere: 2\sqrt2 = \sqrt8, (x+1)^2 = x^2+2x+1),
// numbers rounded to `precision` places when a float is involved, relations
// (same or flipped sense, proportional sides), sets / tuples / intervals /
// unions, matrices, and the symbol special cases. The decision order follows
// Math-Verify's grader (sympy_expr_eq) so verdicts agree with it.
// Not here: extraction (extract.ts), parsing (math-parse.ts), options (math.ts).

import {
  add, freeSymbols, isSetLike, neg, printExpr, printValue, renameValue, valueSymbols,
  type Expr, type MathValue, type Rel, type RelOp,
} from './math-ast.ts';
import { isOnlySymbols } from './math-parse.ts';

export interface CompareOptions {
  precision: number;
  strict: boolean;
  allowSetRelationComp: boolean;
}

// ---------------------------------------------------------------- exact rationals

type Rat = [bigint, bigint];
const MAX_BITS = 20_000n;

function bitLen(x: bigint): bigint {
  if (x < 0n) x = -x;
  return BigInt(x.toString(16).length * 4);
}

function ratNorm(p: bigint, q: bigint): Rat {
  if (q < 0n) {
    p = -p;
    q = -q;
  }
  let a = p < 0n ? -p : p;
  let b = q;
  while (b !== 0n) [a, b] = [b, a % b];
  if (a > 1n) {
    p /= a;
    q /= a;
  }
  return [p, q];
}

/** Exact value of a purely rational expression, or null. */
export function exactRat(e: Expr, depth = 0): Rat | null {
  if (depth > 200) return null;
  switch (e.k) {
    case 'num':
      return [e.p, e.q];
    case 'neg': {
      const a = exactRat(e.arg, depth + 1);
      return a && [-a[0], a[1]];
    }
    case 'pct': {
      const a = exactRat(e.arg, depth + 1);
      return a && ratNorm(a[0], a[1] * 100n);
    }
    case 'add': {
      let acc: Rat = [0n, 1n];
      for (const x of e.args) {
        const a = exactRat(x, depth + 1);
        if (!a) return null;
        acc = ratNorm(acc[0] * a[1] + a[0] * acc[1], acc[1] * a[1]);
        if (bitLen(acc[0]) + bitLen(acc[1]) > MAX_BITS) return null;
      }
      return acc;
    }
    case 'mul': {
      let acc: Rat = [1n, 1n];
      for (const x of e.args) {
        const a = exactRat(x, depth + 1);
        if (!a) return null;
        acc = ratNorm(acc[0] * a[0], acc[1] * a[1]);
        if (bitLen(acc[0]) + bitLen(acc[1]) > MAX_BITS) return null;
      }
      return acc;
    }
    case 'pow': {
      const b = exactRat(e.base, depth + 1);
      const x = exactRat(e.exp, depth + 1);
      if (!b || !x || x[1] !== 1n) return null;
      let n = x[0];
      if (n < 0n) {
        if (b[0] === 0n) return null;
        n = -n;
        b.reverse();
        if (b[1] < 0n) {
          b[0] = -b[0];
          b[1] = -b[1];
        }
      }
      if (n > 4096n) return null;
      if ((bitLen(b[0]) + bitLen(b[1])) * n > MAX_BITS) return null;
      return ratNorm(b[0] ** n, b[1] ** n);
    }
    case 'fn': {
      if (e.name === 'factorial' && e.args.length === 1) {
        const a = exactRat(e.args[0]!, depth + 1);
        if (!a || a[1] !== 1n || a[0] < 0n || a[0] > 500n) return null;
        let r = 1n;
        for (let i = 2n; i <= a[0]; i++) r *= i;
        return [r, 1n];
      }
      if (e.name === 'abs' && e.args.length === 1) {
        const a = exactRat(e.args[0]!, depth + 1);
        return a && [a[0] < 0n ? -a[0] : a[0], a[1]];
      }
      return null;
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------- complex evaluation

interface C {
  re: number;
  im: number;
}
type V = C | C[][];
const c = (re: number, im = 0): C => ({ re, im });
const NAN: C = { re: NaN, im: NaN };

function isMat(v: V): v is C[][] {
  return Array.isArray(v);
}
function cadd(a: C, b: C): C {
  return c(a.re + b.re, a.im + b.im);
}
/** Over- or underflow of finite non-zero inputs makes the value unknown (NaN), never a false 0 or infinity. */
function guard(r: C, a: C, b: C): C {
  const zr = r.re === 0 && r.im === 0;
  const fin = Number.isFinite(r.re) && Number.isFinite(r.im);
  if (fin && !zr) return r;
  const finIn = Number.isFinite(a.re) && Number.isFinite(a.im) && Number.isFinite(b.re) && Number.isFinite(b.im);
  if (!fin && finIn) return NAN;
  if (zr && (a.re !== 0 || a.im !== 0) && (b.re !== 0 || b.im !== 0) && finIn) return NAN;
  return r;
}
function cmul(a: C, b: C): C {
  if (a.im === 0 && b.im === 0) return guard(c(a.re * b.re), a, b);
  return guard(c(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re), a, b);
}
function cdiv(a: C, b: C): C {
  if (a.im === 0 && b.im === 0) return b.re === 0 ? NAN : guard(c(a.re / b.re), a, b);
  const d = b.re * b.re + b.im * b.im;
  if (d === 0) return NAN;
  return c((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
function cabs(a: C): number {
  return Math.hypot(a.re, a.im);
}
function cexp(a: C): C {
  const m = Math.exp(a.re);
  if ((m === 0 || !Number.isFinite(m)) && Number.isFinite(a.re)) return NAN;
  return a.im === 0 ? c(m) : c(m * Math.cos(a.im), m * Math.sin(a.im));
}
function clog(a: C): C {
  if (a.im === 0 && a.re > 0) return c(Math.log(a.re));
  return c(Math.log(cabs(a)), Math.atan2(a.im, a.re));
}
function cpow(a: C, b: C): C {
  if (b.im === 0 && Number.isInteger(b.re) && Math.abs(b.re) <= 64) {
    let n = Math.abs(b.re);
    let r = c(1);
    let base = a;
    while (n > 0) {
      if (n & 1) r = cmul(r, base);
      base = cmul(base, base);
      n >>= 1;
    }
    return b.re < 0 ? cdiv(c(1), r) : r;
  }
  if (a.re === 0 && a.im === 0) return b.re > 0 ? c(0) : NAN;
  if (a.im === 0 && b.im === 0 && a.re > 0) {
    const r = c(Math.pow(a.re, b.re));
    if (a.re === 1) return r;
    return r.re === 0 || !Number.isFinite(r.re) ? (Number.isFinite(b.re) ? NAN : r) : r;
  }
  const r = cexp(cmul(b, clog(a)));
  return (r.re === 0 && r.im === 0) || !Number.isFinite(r.re) || !Number.isFinite(r.im) ? NAN : r;
}
function csin(a: C): C {
  if (a.im === 0) return c(Math.sin(a.re));
  return c(Math.sin(a.re) * Math.cosh(a.im), Math.cos(a.re) * Math.sinh(a.im));
}
function ccos(a: C): C {
  if (a.im === 0) return c(Math.cos(a.re));
  return c(Math.cos(a.re) * Math.cosh(a.im), -Math.sin(a.re) * Math.sinh(a.im));
}
function real(f: (x: number) => number): (a: C) => C {
  return (a) => (a.im === 0 ? c(f(a.re)) : NAN);
}

const FN1: Record<string, (a: C) => C> = {
  sin: csin,
  cos: ccos,
  tan: (a) => cdiv(csin(a), ccos(a)),
  sec: (a) => cdiv(c(1), ccos(a)),
  csc: (a) => cdiv(c(1), csin(a)),
  cot: (a) => cdiv(ccos(a), csin(a)),
  arcsin: real(Math.asin),
  arccos: real(Math.acos),
  arctan: real(Math.atan),
  arccot: real((x) => Math.atan(1 / x)),
  arcsec: real((x) => Math.acos(1 / x)),
  arccsc: real((x) => Math.asin(1 / x)),
  sinh: real(Math.sinh),
  cosh: real(Math.cosh),
  tanh: real(Math.tanh),
  arsinh: real(Math.asinh),
  arcsinh: real(Math.asinh),
  arcosh: real(Math.acosh),
  arccosh: real(Math.acosh),
  artanh: real(Math.atanh),
  arctanh: real(Math.atanh),
  log: clog,
  ln: clog,
  log10: (a) => cdiv(clog(a), c(Math.LN10)),
  exp: cexp,
  abs: (a) => c(cabs(a)),
  floor: real(Math.floor),
  ceil: real(Math.ceil),
  factorial: real((x) => (Number.isInteger(x) && x >= 0 && x <= 170 ? gammaInt(x) : NaN)),
};

function gammaInt(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Deterministic pseudo-random value for a symbol at sample point k: in [0.3, 2.3) at even k, in (-2.3, -0.3] at odd k (so |x| is not x). */
function symbolValue(name: string, k: number): number {
  const h = mix(hashString(name) + k * 0x9e3779b9);
  const v = 0.3 + (h / 4294967296) * 2;
  return k % 2 === 0 ? v : -v;
}

/** A fixed pseudo-random function for undefined f(args): equal args give equal values. */
function undefFnValue(name: string, args: C[]): C {
  let key = name;
  for (const a of args) key += `|${a.re.toPrecision(9)},${a.im.toPrecision(9)}`;
  return c(0.5 + (mix(hashString(key)) / 4294967296) * 2);
}

/** Evaluation failure (cheap to throw: no stack trace). */
class EvalError {
  constructor(readonly message: string) {}
}

function evalV(e: Expr, k: number, depth = 0, env?: Map<string, C>): V {
  if (depth > 300) throw new EvalError('too deep');
  switch (e.k) {
    case 'num':
      return c(Number(e.p) / Number(e.q));
    case 'sym':
      return env?.get(e.name) ?? c(symbolValue(e.name, k));
    case 'const':
      return e.name === 'pi' ? c(Math.PI) : e.name === 'e' ? c(Math.E) : c(Infinity);
    case 'neg':
      return vScale(evalV(e.arg, k, depth + 1, env), c(-1));
    case 'pct':
      return vScale(evalV(e.arg, k, depth + 1, env), c(0.01));
    case 'add': {
      let acc: V = evalV(e.args[0]!, k, depth + 1, env);
      for (let i = 1; i < e.args.length; i++) acc = vAdd(acc, evalV(e.args[i]!, k, depth + 1, env));
      return acc;
    }
    case 'mul': {
      let acc: V = evalV(e.args[0]!, k, depth + 1, env);
      for (let i = 1; i < e.args.length; i++) acc = vMul(acc, evalV(e.args[i]!, k, depth + 1, env));
      return acc;
    }
    case 'pow': {
      const b = evalV(e.base, k, depth + 1, env);
      const x = evalV(e.exp, k, depth + 1, env);
      if (isMat(x)) throw new EvalError('matrix exponent');
      if (isMat(b)) {
        if (x.im !== 0 || !Number.isInteger(x.re) || x.re < 1 || x.re > 16) throw new EvalError('matrix power');
        let r: V = b;
        for (let i = 1; i < x.re; i++) r = vMul(r, b);
        return r;
      }
      return cpow(b, x);
    }
    case 'fn': {
      if (e.name === 'sum' || e.name === 'prod') return evalSumProd(e, k, depth, env);
      const args = e.args.map((a) => evalV(a, k, depth + 1, env));
      if (args.some(isMat)) {
        if (e.name === 'det' && args.length === 1) return det(args[0] as C[][]);
        throw new EvalError('matrix function');
      }
      const xs = args as C[];
      if (e.undef) return undefFnValue(e.name, xs);
      const f1 = FN1[e.name];
      if (f1 && xs.length === 1) return f1(xs[0]!);
      if (e.name === 'logb' && xs.length === 2) return cdiv(clog(xs[0]!), clog(xs[1]!));
      if (e.name === 'binom' && xs.length === 2) return binom(xs[0]!, xs[1]!);
      if (e.name === 'mod' && xs.length === 2) {
        if (xs[0]!.im !== 0 || xs[1]!.im !== 0 || xs[1]!.re === 0) return NAN;
        const a = xs[0]!.re;
        const b = xs[1]!.re;
        return c(a - b * Math.floor(a / b));
      }
      if ((e.name === 'max' || e.name === 'min') && xs.length > 0 && xs.every((a) => a.im === 0)) {
        return c(e.name === 'max' ? Math.max(...xs.map((a) => a.re)) : Math.min(...xs.map((a) => a.re)));
      }
      if ((e.name === 'gcd' || e.name === 'lcm') && xs.length > 0 && xs.every((a) => a.im === 0 && Number.isInteger(a.re))) {
        const g = (a: number, b: number): number => (b === 0 ? Math.abs(a) : g(b, a % b));
        let r = xs[0]!.re;
        for (const a of xs.slice(1)) r = e.name === 'gcd' ? g(r, a.re) : Math.abs(r * a.re) / g(r, a.re);
        return c(r);
      }
      throw new EvalError(`function ${e.name}`);
    }
    case 'mat':
      return e.rows.map((r) =>
        r.map((x) => {
          const v = evalV(x, k, depth + 1, env);
          if (isMat(v)) throw new EvalError('nested matrix');
          return v;
        }),
      );
  }
}

function evalSumProd(e: Expr & { k: 'fn' }, k: number, depth: number, env?: Map<string, C>): V {
  const [bodyE, varE, loE, hiE] = e.args as [Expr, Expr, Expr, Expr];
  const lo = evalV(loE, k, depth + 1, env);
  const hi = evalV(hiE, k, depth + 1, env);
  const name = varE.k === 'sym' ? varE.name : '?';
  if (!isMat(lo) && !isMat(hi) && lo.im === 0 && hi.im === 0 && Number.isInteger(lo.re) && Number.isInteger(hi.re) && hi.re - lo.re <= 2000) {
    let acc = c(e.name === 'sum' ? 0 : 1);
    for (let i = lo.re; i <= hi.re; i++) {
      const inner = new Map(env ?? []);
      inner.set(name, c(i));
      const v = evalV(bodyE, k, depth + 1, inner);
      if (isMat(v)) throw new EvalError('matrix sum');
      acc = e.name === 'sum' ? cadd(acc, v) : cmul(acc, v);
    }
    return acc;
  }
  // symbolic bounds: an opaque but deterministic value of (body, bounds)
  const inner = new Map(env ?? []);
  inner.set(name, c(symbolValue(`${name}#bound`, k)));
  const b = evalV(bodyE, k, depth + 1, inner);
  if (isMat(b) || isMat(lo) || isMat(hi)) throw new EvalError('matrix sum');
  return undefFnValue(e.name, [b, lo, hi]);
}

function binom(n: C, r: C): C {
  if (n.im !== 0 || r.im !== 0) return NAN;
  if (!Number.isInteger(r.re) || r.re < 0 || r.re > 1000) return NAN;
  let acc = 1;
  for (let i = 0; i < r.re; i++) acc = (acc * (n.re - i)) / (i + 1);
  return c(acc);
}

function det(m: C[][]): C {
  const n = m.length;
  if (n === 0 || m.some((r) => r.length !== n)) throw new EvalError('det of non-square');
  if (n === 1) return m[0]![0]!;
  let acc = c(0);
  for (let j = 0; j < n; j++) {
    const minor = m.slice(1).map((r) => r.filter((_, i) => i !== j));
    const term = cmul(m[0]![j]!, det(minor));
    acc = j % 2 === 0 ? cadd(acc, term) : cadd(acc, cmul(c(-1), term));
  }
  return acc;
}

function vScale(v: V, s: C): V {
  return isMat(v) ? v.map((r) => r.map((x) => cmul(x, s))) : cmul(v, s);
}
function vAdd(a: V, b: V): V {
  if (isMat(a) && isMat(b)) {
    if (a.length !== b.length || a[0]!.length !== b[0]!.length) throw new EvalError('shape');
    return a.map((r, i) => r.map((x, j) => cadd(x, b[i]![j]!)));
  }
  if (isMat(a) || isMat(b)) throw new EvalError('matrix plus scalar');
  return cadd(a, b);
}
function vMul(a: V, b: V): V {
  if (isMat(a) && isMat(b)) {
    const n = a.length;
    const m = a[0]!.length;
    if (b.length !== m) throw new EvalError('shape');
    const p = b[0]!.length;
    const out: C[][] = [];
    for (let i = 0; i < n; i++) {
      const row: C[] = [];
      for (let j = 0; j < p; j++) {
        let s = c(0);
        for (let t = 0; t < m; t++) s = cadd(s, cmul(a[i]![t]!, b[t]![j]!));
        row.push(s);
      }
      out.push(row);
    }
    return out;
  }
  if (isMat(a)) return vScale(a, b as C);
  if (isMat(b)) return vScale(b, a);
  return cmul(a, b);
}

const SAMPLE_POINTS = 4;

function evalSafe(e: Expr, k: number): V | null {
  try {
    return evalV(e, k, 0);
  } catch {
    return null;
  }
}

function close(a: C, b: C, tol = 1e-9): boolean | null {
  if (!Number.isFinite(a.re) || !Number.isFinite(a.im) || !Number.isFinite(b.re) || !Number.isFinite(b.im)) {
    if (Number.isNaN(a.re) || Number.isNaN(b.re) || Number.isNaN(a.im) || Number.isNaN(b.im)) return null;
    // infinities only come from an explicit \infty (overflow is NaN)
    return a.re === b.re && a.im === b.im;
  }
  const scale = Math.max(1, cabs(a), cabs(b));
  return cabs(cadd(a, cmul(b, c(-1)))) <= tol * scale;
}

function vClose(a: V, b: V): boolean | null {
  if (isMat(a) || isMat(b)) {
    if (!isMat(a) || !isMat(b) || a.length !== b.length || a[0]!.length !== b[0]!.length) return false;
    let any = true;
    for (let i = 0; i < a.length; i++)
      for (let j = 0; j < a[0]!.length; j++) {
        const r = close(a[i]![j]!, b[i]![j]!);
        if (r === false) return false;
        if (r === null) any = false;
      }
    return any ? true : null;
  }
  return close(a, b);
}

/** Signed summands of an expression (a - (b + c) -> +a, -b, -c). */
function summands(e: Expr, sign: number, out: Array<{ sign: number; e: Expr }>): void {
  if (e.k === 'add') for (const t of e.args) summands(t, sign, out);
  else if (e.k === 'neg') summands(e.arg, -sign, out);
  else out.push({ sign, e });
}

function hasMatrix(e: Expr): boolean {
  switch (e.k) {
    case 'mat':
      return true;
    case 'add':
    case 'mul':
      return e.args.some(hasMatrix);
    case 'pow':
      return hasMatrix(e.base) || hasMatrix(e.exp);
    case 'neg':
    case 'pct':
      return hasMatrix(e.arg);
    case 'fn':
      return e.args.some(hasMatrix);
    default:
      return false;
  }
}

/**
 * Is a - b zero? Identical summands cancel first (so X + 1 is never X, however
 * large X is); the rest is evaluated at the sample points and must vanish
 * relative to the size of its terms.
 */
function differenceVanishes(a: Expr, b: Expr, points: number): boolean {
  const terms: Array<{ sign: number; e: Expr }> = [];
  summands(a, 1, terms);
  summands(b, -1, terms);
  const byKey = new Map<string, { sign: number; e: Expr; n: number }>();
  for (const t of terms) {
    const key = printExpr(t.e);
    const cur = byKey.get(key);
    if (cur) cur.n += t.sign;
    else byKey.set(key, { sign: 1, e: t.e, n: t.sign });
  }
  const rest = [...byKey.values()].filter((t) => t.n !== 0);
  if (rest.length === 0) return true;
  let valid = 0;
  for (let k = 0; k < points; k++) {
    let sum = c(0);
    let scale = 0;
    let bad = false;
    for (const t of rest) {
      const v = evalSafe(t.e, k);
      if (v === null || isMat(v)) return false;
      if (!Number.isFinite(v.re) || !Number.isFinite(v.im)) {
        bad = true;
        break;
      }
      const w = cmul(v, c(t.n));
      sum = cadd(sum, w);
      scale = Math.max(scale, cabs(w));
    }
    if (bad) continue;
    if (cabs(sum) > 1e-9 * scale + 1e-12) return false;
    valid++;
  }
  return valid > 0;
}

/** Are two expressions equal as functions of their symbols? (randomized; exact when both are rational). */
export function exprIdentical(a: Expr, b: Expr): boolean {
  const ra = exactRat(a);
  const rb = exactRat(b);
  if (ra && rb) return ra[0] === rb[0] && ra[1] === rb[1];
  if (!hasMatrix(a) && !hasMatrix(b)) {
    const constant = freeSymbols(a).size === 0 && freeSymbols(b).size === 0;
    if (hasInf(a) || hasInf(b)) return infEqual(a, b);
    return differenceVanishes(a, b, constant ? 1 : SAMPLE_POINTS);
  }
  const constant = freeSymbols(a).size === 0 && freeSymbols(b).size === 0;
  const points = constant ? 1 : SAMPLE_POINTS;
  let valid = 0;
  for (let k = 0; k < points; k++) {
    const va = evalSafe(a, k);
    const vb = evalSafe(b, k);
    if (va === null || vb === null) return false;
    const r = vClose(va, vb);
    if (r === false) return false;
    if (r === true) valid++;
  }
  return valid > 0;
}

function hasInf(e: Expr): boolean {
  switch (e.k) {
    case 'const':
      return e.name === 'inf';
    case 'add':
    case 'mul':
    case 'fn':
      return e.args.some(hasInf);
    case 'pow':
      return hasInf(e.base) || hasInf(e.exp);
    case 'neg':
    case 'pct':
      return hasInf(e.arg);
    default:
      return false;
  }
}

/** Expressions with an explicit infinity: equal when both evaluate to the same infinity (or equal finite values). */
function infEqual(a: Expr, b: Expr): boolean {
  const va = evalSafe(a, 0);
  const vb = evalSafe(b, 0);
  if (va === null || vb === null || isMat(va) || isMat(vb)) return false;
  return close(va, vb) === true;
}

/** Constant real value of an expression, or null. */
export function constValue(e: Expr): number | null {
  if (freeSymbols(e).size > 0) return null;
  const r = exactRat(e);
  if (r) return Number(r[0]) / Number(r[1]);
  const v = evalSafe(e, 0);
  if (v === null || isMat(v)) return null;
  if (Math.abs(v.im) > 1e-12 * Math.max(1, Math.abs(v.re))) return null;
  return Number.isNaN(v.re) ? null : v.re;
}

// ---------------------------------------------------------------- numeric equality

function isAtomicNum(e: Expr): boolean {
  return e.k === 'num' || (e.k === 'neg' && e.arg.k === 'num') || (e.k === 'pct' && (e.arg.k === 'num'));
}
function isAtomicFloat(e: Expr): boolean {
  if (e.k === 'num') return e.float;
  if (e.k === 'neg' || e.k === 'pct') return e.arg.k === 'num' && e.arg.float;
  return false;
}

function roundEq(a: Expr, b: Expr, precision: number): boolean {
  if (freeSymbols(a).size > 0 || freeSymbols(b).size > 0) return false;
  // Math-Verify (SymPy) rounds both sides, but an exact integer never equals a
  // rounded float there: 7 = 7.0, yet 7 != 7.0000001 at any precision.
  const ra0 = isAtomicFloat(a) ? null : exactRat(a);
  const rb0 = isAtomicFloat(b) ? null : exactRat(b);
  if ((ra0 && ra0[1] === 1n) || (rb0 && rb0[1] === 1n)) {
    const x = exactRat(a);
    const y = exactRat(b);
    return x !== null && y !== null && x[0] === y[0] && x[1] === y[1];
  }
  const va = evalSafe(a, 0);
  const vb = evalSafe(b, 0);
  if (va === null || vb === null || isMat(va) || isMat(vb)) return false;
  const f = 10 ** precision;
  // round half to even, as SymPy's Number.round does
  const r = (x: number): number => {
    const y = x * f;
    const fl = Math.floor(y);
    return y - fl === 0.5 ? (fl % 2 === 0 ? fl : fl + 1) : Math.round(y);
  };
  if (!Number.isFinite(va.re) || !Number.isFinite(vb.re)) return false;
  if (Math.abs(va.im) > 1e-12 || Math.abs(vb.im) > 1e-12) return r(va.re) === r(vb.re) && r(va.im) === r(vb.im);
  const ra = r(va.re);
  const rb = r(vb.re);
  if (ra === rb) return true;
  // beyond double precision, fall back to a relative comparison
  return Math.abs(va.re) * f > 2 ** 52 && Math.abs(va.re - vb.re) <= 1e-12 * Math.abs(va.re);
}

function exprEqual(a: Expr, b: Expr, o: CompareOptions): boolean {
  if (a.k === 'mat' && b.k === 'mat') {
    if (a.rows.length === b.rows.length && a.rows[0]!.length === b.rows[0]!.length) {
      let all = true;
      for (let i = 0; i < a.rows.length && all; i++)
        for (let j = 0; j < a.rows[0]!.length && all; j++) all = exprEqual(a.rows[i]![j]!, b.rows[i]![j]!, o);
      if (all) return true;
    }
    return exprIdentical(a, b);
  }
  if (isAtomicNum(a) || isAtomicNum(b)) {
    if (isAtomicFloat(a) || isAtomicFloat(b)) {
      if (roundEq(a, b, o.precision)) return true;
    } else if (exprIdentical(a, b)) return true;
  } else if (exprIdentical(a, b)) return true;
  return exprIdentical(a, b);
}

// ---------------------------------------------------------------- relations

const INVERSE: Record<RelOp, RelOp> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=', '=': '=', '!=': '!=' };

function isEquation(v: MathValue): boolean {
  return v.t === 'rel' && v.rels.every((r) => r.op === '=');
}
function isAssignment(v: MathValue): boolean {
  if (!isEquation(v) || v.t !== 'rel') return false;
  const l = v.rels[0]!.lhs;
  if (l.t === 'tuple') return l.items.every((x) => x.t === 'expr' && isOnlySymbols(x.e));
  return l.t === 'expr' && isOnlySymbols(l.e);
}
function lastRhs(v: MathValue): MathValue {
  return v.t === 'rel' ? v.rels[v.rels.length - 1]!.rhs : v;
}

function relDiff(r: Rel): Expr | null {
  if (r.lhs.t !== 'expr' || r.rhs.t !== 'expr') return null;
  return add(r.lhs.e, neg(r.rhs.e));
}

/** Ratio c with a = c*b at every sample point (b not identically 0), or null. */
function proportional(a: Expr, b: Expr): number | null {
  let ratio: number | null = null;
  let sawNonZero = false;
  for (let k = 0; k < SAMPLE_POINTS; k++) {
    const va = evalSafe(a, k);
    const vb = evalSafe(b, k);
    if (va === null || vb === null || isMat(va) || isMat(vb)) return null;
    if (!Number.isFinite(va.re) || !Number.isFinite(vb.re) || Math.abs(va.im) > 1e-9 || Math.abs(vb.im) > 1e-9) return null;
    const scale = Math.max(1, Math.abs(va.re), Math.abs(vb.re));
    if (Math.abs(vb.re) <= 1e-12 * scale) {
      if (Math.abs(va.re) > 1e-9 * scale) return null;
      continue;
    }
    sawNonZero = true;
    const r = va.re / vb.re;
    if (ratio === null) ratio = r;
    else if (Math.abs(r - ratio) > 1e-9 * Math.max(1, Math.abs(ratio))) return null;
  }
  if (!sawNonZero || ratio === null || Math.abs(ratio) < 1e-12) return null;
  return ratio;
}

function compareSingleRel(g: Rel, p: Rel, o: CompareOptions): boolean {
  const dg = relDiff(g);
  const dp = relDiff(p);
  if (dg === null || dp === null) {
    // relations between non-expressions (n = {1,2,3}): compare side by side
    if (g.op === p.op && valuesEqual(g.lhs, p.lhs, o) && valuesEqual(g.rhs, p.rhs, o)) return true;
    if (INVERSE[g.op] === p.op && valuesEqual(g.lhs, p.rhs, o) && valuesEqual(g.rhs, p.lhs, o)) return true;
    return false;
  }
  if (g.op === p.op && exprEqual(dg, dp, o)) return true;
  if (INVERSE[g.op] === p.op && exprEqual(dg, neg(dp), o)) return true;
  // Equations in two or more variables are also equal after scaling (Math-Verify
  // solves both and compares the solution dicts). It does not scale equations in
  // one variable (2x = 14 vs x = 7), "!=", or inequalities (2x < 14 vs x < 7): neither do we.
  if (g.op !== '=' || p.op !== '=') return false;
  const vars = new Set([...freeSymbols(dg), ...freeSymbols(dp)]);
  if (vars.size < 2) return false;
  return proportional(dg, dp) !== null;
}

function compareRelational(g: MathValue & { t: 'rel' }, p: MathValue & { t: 'rel' }, o: CompareOptions): boolean {
  if (g.rels.length !== p.rels.length) return false;
  return g.rels.every((r, i) => compareSingleRel(r, p.rels[i]!, o));
}

type Iv = { lo: Expr; hi: Expr; lopen: boolean; ropen: boolean; loV: number; hiV: number };
const NEG_INF: Expr = neg({ k: 'const', name: 'inf' });
const POS_INF: Expr = { k: 'const', name: 'inf' };

/** A relation in one variable as a set: x > 2 -> (2, oo), -2 <= x <= 7 -> [-2, 7]. Null when it is not that simple. */
function relationAsSet(v: MathValue): MathValue | null {
  if (v.t !== 'rel') return null;
  let variable: string | null = null;
  let iv: Iv = { lo: NEG_INF, hi: POS_INF, lopen: true, ropen: true, loV: -Infinity, hiV: Infinity };
  let absVar = false;
  const varName = (x: MathValue): string | null => {
    if (x.t !== 'expr') return null;
    if (x.e.k === 'sym' || (x.e.k === 'fn' && x.e.undef)) return printExpr(x.e);
    if (x.e.k === 'fn' && x.e.name === 'abs' && x.e.args.length === 1 && x.e.args[0]!.k === 'sym') {
      absVar = true;
      return printExpr(x.e);
    }
    return null;
  };
  if (v.rels.length === 1 && v.rels[0]!.op === '!=') {
    const r = v.rels[0]!;
    const cexpr = varName(r.lhs) !== null ? r.rhs : varName(r.rhs) !== null ? r.lhs : null;
    if (!cexpr || cexpr.t !== 'expr' || constValue(cexpr.e) === null) return null;
    return { t: 'union', parts: [
      { t: 'interval', lo: NEG_INF, hi: cexpr.e, lopen: true, ropen: true },
      { t: 'interval', lo: cexpr.e, hi: POS_INF, lopen: true, ropen: true },
    ] };
  }
  for (const r of v.rels) {
    let op = r.op;
    let cside: MathValue;
    let name = varName(r.lhs);
    if (name !== null && (r.rhs.t !== 'expr' || freeSymbols(r.rhs.e).size === 0)) cside = r.rhs;
    else {
      name = varName(r.rhs);
      if (name === null) return null;
      cside = r.lhs;
      op = INVERSE[op];
    }
    if (variable !== null && variable !== name) return null;
    variable = name;
    if (op === '=') {
      if (v.rels.length !== 1) return null;
      if (isSetLike(cside)) return cside;
      return { t: 'set', items: [cside] };
    }
    if (cside.t !== 'expr' || op === '!=') return null;
    const val = constValue(cside.e);
    if (val === null) return null;
    if (op === '>' || op === '>=') {
      const open = op === '>';
      if (val > iv.loV || (val === iv.loV && open)) iv = { ...iv, lo: cside.e, loV: val, lopen: open };
    } else {
      const open = op === '<';
      if (val < iv.hiV || (val === iv.hiV && open)) iv = { ...iv, hi: cside.e, hiV: val, ropen: open };
    }
  }
  if (variable === null) return null;
  if (absVar) {
    // a <= |z| <= b  ->  [-b, -a] U [a, b]  (or (-b, b) when a <= 0)
    if (!Number.isFinite(iv.hiV)) return null;
    if (iv.loV < 0 || (iv.loV === 0 && !iv.lopen)) return { t: 'interval', lo: neg(iv.hi), hi: iv.hi, lopen: iv.ropen, ropen: iv.ropen };
    return { t: 'union', parts: [
      { t: 'interval', lo: neg(iv.hi), hi: neg(iv.lo), lopen: iv.ropen, ropen: iv.lopen },
      { t: 'interval', lo: iv.lo, hi: iv.hi, lopen: iv.lopen, ropen: iv.ropen },
    ] };
  }
  return { t: 'interval', lo: iv.lo, hi: iv.hi, lopen: iv.lopen, ropen: iv.ropen };
}

// ---------------------------------------------------------------- sets

function dedup(items: MathValue[]): MathValue[] {
  const seen = new Set<string>();
  const out: MathValue[] = [];
  for (const i of items) {
    const k = printValue(i);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(i);
    }
  }
  return out;
}

/** Is there a one-to-one pairing of equal elements? (backtracking for small sets, greedy above) */
function matchAll(gold: MathValue[], pred: MathValue[], o: CompareOptions): boolean {
  if (gold.length !== pred.length) return false;
  const n = gold.length;
  const eq: Array<Array<boolean | undefined>> = gold.map(() => new Array<boolean | undefined>(n));
  const test = (i: number, j: number): boolean => {
    let r = eq[i]![j];
    if (r === undefined) {
      r = valuesEqual(gold[i]!, pred[j]!, o);
      eq[i]![j] = r;
    }
    return r;
  };
  const used = new Array<boolean>(n).fill(false);
  let budget = 20_000;
  const go = (i: number): boolean => {
    if (i === n) return true;
    if (--budget < 0) return false;
    for (let j = 0; j < n; j++) {
      if (used[j] || !test(i, j)) continue;
      used[j] = true;
      if (go(i + 1)) return true;
      used[j] = false;
      if (n > 8) return false; // greedy for big sets
    }
    return false;
  };
  return go(0);
}

function deepCompareSetTuple(gold: MathValue, pred: MathValue, o: CompareOptions): boolean {
  const inner: CompareOptions = { ...o, allowSetRelationComp: false, strict: true };
  const gi = gold.t === 'set' ? dedup(gold.items) : gold.t === 'tuple' ? gold.items : [gold];
  const pi = pred.t === 'set' ? dedup(pred.items) : pred.t === 'tuple' ? pred.items : [pred];
  if (gi.length !== pi.length) return false;
  if (gold.t === 'tuple' && pred.t === 'tuple') return gi.every((g, i) => valuesEqual(g, pi[i]!, inner));
  if (gold.t === 'tuple' && pred.t === 'set') return gi.every((g, i) => valuesEqual(g, pred.items[i]!, inner));
  return matchAll(gi, pi, inner);
}

function compareIntervals(a: MathValue & { t: 'interval' }, b: MathValue & { t: 'interval' }, o: CompareOptions): boolean {
  return a.lopen === b.lopen && a.ropen === b.ropen && exprEqual(a.lo, b.lo, o) && exprEqual(a.hi, b.hi, o);
}

function compareSets(gold: MathValue, pred: MathValue, o: CompareOptions): boolean {
  const a: MathValue = isSetLike(gold) || gold.t === 'tuple' ? gold : { t: 'set', items: [gold] };
  const b: MathValue = isSetLike(pred) || pred.t === 'tuple' ? pred : { t: 'set', items: [pred] };
  if (a.t === 'interval' && b.t === 'interval') return compareIntervals(a, b, o);
  if (printValue(a) === printValue(b)) return true;
  // unions: the same pieces in any order
  if ((a.t === 'union' || b.t === 'union') && (a.t === 'union' || a.t === 'interval') && (b.t === 'union' || b.t === 'interval')) {
    const pa = a.t === 'union' ? a.parts : [a];
    const pb = b.t === 'union' ? b.parts : [b];
    if (pa.length === pb.length && matchAll(pa, pb, { ...o, allowSetRelationComp: false })) return true;
  }
  if ((a.t === 'set' || a.t === 'tuple') && (b.t === 'set' || b.t === 'tuple')) return deepCompareSetTuple(a, b, o);
  if (a.t === 'interval' && (b.t === 'set' || b.t === 'tuple') && a.lopen && a.ropen && dedupLen(b) === 2) {
    return deepCompareSetTuple({ t: 'tuple', items: [{ t: 'expr', e: a.lo }, { t: 'expr', e: a.hi }] }, b, o);
  }
  if (b.t === 'interval' && (a.t === 'set' || a.t === 'tuple') && b.lopen && b.ropen && dedupLen(a) === 2) {
    return deepCompareSetTuple(a, { t: 'tuple', items: [{ t: 'expr', e: b.lo }, { t: 'expr', e: b.hi }] }, o);
  }
  // the same set of reals written differently: [0,1] U [1,2] = [0,2], R \ {3} = (-oo,3) U (3,oo)
  if ((a.t === 'union' || a.t === 'setop' || b.t === 'union' || b.t === 'setop' || a.t === 'lit' || b.t === 'lit') && a.t !== 'tuple' && b.t !== 'tuple') {
    const ca = canonicalIntervals(a);
    const cb = canonicalIntervals(b);
    if (ca !== null && cb !== null) return sameIntervals(ca, cb);
  }
  return false;
}

type NumIv = { lo: number; hi: number; lopen: boolean; ropen: boolean };

/** A set of reals with constant bounds as sorted, merged intervals (points are [p, p]); null when not that simple. */
function canonicalIntervals(v: MathValue, depth = 0): NumIv[] | null {
  if (depth > 20) return null;
  let pieces: NumIv[] = [];
  const bound = (e: Expr): number | null => {
    if (e.k === 'const' && e.name === 'inf') return Infinity;
    if (e.k === 'neg' && e.arg.k === 'const' && e.arg.name === 'inf') return -Infinity;
    return constValue(e);
  };
  switch (v.t) {
    case 'interval': {
      const lo = bound(v.lo);
      const hi = bound(v.hi);
      if (lo === null || hi === null || lo > hi) return null;
      pieces = [{ lo, hi, lopen: v.lopen || lo === -Infinity, ropen: v.ropen || hi === Infinity }];
      break;
    }
    case 'set':
      for (const it of v.items) {
        if (it.t !== 'expr') return null;
        const x = constValue(it.e);
        if (x === null) return null;
        pieces.push({ lo: x, hi: x, lopen: false, ropen: false });
      }
      break;
    case 'lit':
      if (v.name === 'R') pieces = [{ lo: -Infinity, hi: Infinity, lopen: true, ropen: true }];
      else if (v.name === 'empty') pieces = [];
      else return null;
      break;
    case 'union':
      for (const p of v.parts) {
        const c = canonicalIntervals(p, depth + 1);
        if (c === null) return null;
        pieces.push(...c);
      }
      break;
    case 'setop': {
      if (v.op !== 'minus') return null;
      const a = canonicalIntervals(v.a, depth + 1);
      const b = canonicalIntervals(v.b, depth + 1);
      if (a === null || b === null || b.some((x) => x.lo !== x.hi)) return null;
      // remove points
      pieces = a;
      for (const { lo: p } of b) {
        const next: NumIv[] = [];
        for (const iv of pieces) {
          if (p < iv.lo || p > iv.hi || (p === iv.lo && iv.lopen) || (p === iv.hi && iv.ropen)) next.push(iv);
          else {
            if (p > iv.lo) next.push({ lo: iv.lo, hi: p, lopen: iv.lopen, ropen: true });
            if (p < iv.hi) next.push({ lo: p, hi: iv.hi, lopen: true, ropen: iv.ropen });
          }
        }
        pieces = next;
      }
      break;
    }
    default:
      return null;
  }
  pieces.sort((x, y) => x.lo - y.lo || (x.lopen ? 1 : 0) - (y.lopen ? 1 : 0));
  const out: NumIv[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && (p.lo < last.hi || (p.lo === last.hi && (!last.ropen || !p.lopen)))) {
      if (p.hi > last.hi || (p.hi === last.hi && !p.ropen)) {
        last.hi = p.hi;
        last.ropen = p.ropen;
      }
    } else out.push({ ...p });
  }
  return out;
}

function sameIntervals(a: NumIv[], b: NumIv[]): boolean {
  const eq = (x: number, y: number): boolean => x === y || Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  return a.length === b.length && a.every((x, i) => {
    const y = b[i]!;
    return eq(x.lo, y.lo) && eq(x.hi, y.hi) && x.lopen === y.lopen && x.ropen === y.ropen;
  });
}

function dedupLen(v: MathValue): number {
  return v.t === 'set' ? dedup(v.items).length : v.t === 'tuple' ? v.items.length : 1;
}

// ---------------------------------------------------------------- symbols

function symbolParts(e: Expr): string[] | null {
  if (e.k === 'sym') return [e.name];
  if (e.k === 'const' && e.name === 'e') return ['e'];
  if (e.k === 'mul') {
    const out: string[] = [];
    for (const a of e.args) {
      if (a.k === 'sym') out.push(a.name);
      else if (a.k === 'const' && a.name === 'e') out.push('e');
      else if (a.k === 'pow' && a.base.k === 'sym' && a.exp.k === 'num' && a.exp.q === 1n && a.exp.p > 1n && a.exp.p < 10n) {
        for (let i = 0n; i < a.exp.p; i++) out.push(a.base.name);
      } else return null;
    }
    return out;
  }
  return null;
}

function compareSymbols(gold: MathValue, pred: MathValue): boolean {
  if (gold.t !== 'expr' || pred.t !== 'expr') return false;
  const g = gold.e;
  const p = pred.e;
  const isE = (x: Expr): boolean => x.k === 'const' && x.name === 'e';
  if ((g.k === 'sym' && g.name.toLowerCase() === 'e' && isE(p)) || (p.k === 'sym' && p.name.toLowerCase() === 'e' && isE(g))) return true;
  if (g.k === 'sym' && p.k === 'mul') {
    const parts = symbolParts(p);
    return parts !== null && g.name.toLowerCase() === parts.join('').toLowerCase();
  }
  if (p.k === 'sym' && g.k === 'mul') {
    const parts = symbolParts(g);
    return parts !== null && p.name.toLowerCase() === parts.join('').toLowerCase();
  }
  if (g.k === 'sym' && p.k === 'sym') {
    const gn = g.name.length > 1 ? g.name.toLowerCase() : g.name;
    const pn = p.name.length > 1 ? p.name.toLowerCase() : p.name;
    return gn === pn;
  }
  return false;
}

// ---------------------------------------------------------------- top level

let callBudget = 0;

/**
 * Is `pred` the same answer as `gold`? Not symmetric (as in Math-Verify): an
 * assignment "x = 1" in gold may be matched by a bare "1", the gold format
 * decides how equations are unwrapped.
 */
export function valuesEqual(goldIn: MathValue, predIn: MathValue, o: CompareOptions): boolean {
  if (++callBudget > 50_000) return false;
  let gold = goldIn;
  let pred = predIn;
  if (!o.strict) {
    const gs = [...valueSymbols(gold)].sort();
    const ps = [...valueSymbols(pred)].sort();
    if (gs.length === ps.length && gs.length > 0) pred = renameValue(pred, new Map(ps.map((s, i) => [s, gs[i]!])));
  }
  const goldAssign = isAssignment(gold);
  const predAssign = isAssignment(pred);
  const goldEq = isEquation(gold);
  const predEq = isEquation(pred);
  const truncate = (v: MathValue): MathValue =>
    v.t === 'rel' && v.rels.length > 1 ? { t: 'rel', rels: [{ op: '=', lhs: v.rels[0]!.lhs, rhs: lastRhs(v) }] } : v;
  if (goldAssign) gold = truncate(gold);
  if (predAssign) pred = truncate(pred);
  if (predEq && !goldEq) pred = lastRhs(pred);
  else if (goldAssign && !predEq) gold = lastRhs(gold);

  if (gold.t === 'rel' && isSetLike(pred)) gold = relationAsSet(gold) ?? gold;
  if (o.allowSetRelationComp && pred.t === 'rel' && isSetLike(gold)) pred = relationAsSet(pred) ?? pred;

  if (printValue(gold) === printValue(pred)) return true;
  if (gold.t === 'rel' && pred.t === 'rel') return compareRelational(gold, pred, o);
  if (gold.t === 'rel' || pred.t === 'rel') return false;
  if (isSetLike(gold) || gold.t === 'tuple' || isSetLike(pred) || pred.t === 'tuple') return compareSets(gold, pred, o);
  if ((gold.t === 'expr' && gold.e.k === 'sym') || (pred.t === 'expr' && pred.e.k === 'sym')) return compareSymbols(gold, pred);
  if (gold.t === 'expr' && pred.t === 'expr') return exprEqual(gold.e, pred.e, o);
  return false;
}

/** Resets the per-verification work budget (called once per verify()). */
export function resetBudget(): void {
  callBudget = 0;
}
