// The value types of the math verifier: scalar expression trees (Expr) and the
// answer shapes around them (MathValue: relations, finite sets, tuples,
// intervals, unions, literal sets), plus constructors and a canonical printer
// used for structural equality.
// Not here: parsing (math-parse.ts), evaluation and comparison (math-compare.ts).

/** A scalar (or matrix) expression. Numbers are exact rationals p/q; `float` marks a number written with a decimal point or exponent. */
export type Expr =
  | { k: 'num'; p: bigint; q: bigint; float: boolean }
  | { k: 'sym'; name: string }
  | { k: 'const'; name: 'pi' | 'e' | 'inf' }
  | { k: 'add'; args: Expr[] }
  | { k: 'mul'; args: Expr[] }
  | { k: 'pow'; base: Expr; exp: Expr }
  | { k: 'neg'; arg: Expr }
  | { k: 'pct'; arg: Expr }
  | { k: 'fn'; name: string; args: Expr[]; undef: boolean }
  | { k: 'mat'; rows: Expr[][] };

export type RelOp = '=' | '<' | '<=' | '>' | '>=' | '!=';

export interface Rel {
  op: RelOp;
  lhs: MathValue;
  rhs: MathValue;
}

/** A parsed answer. */
export type MathValue =
  | { t: 'expr'; e: Expr }
  | { t: 'rel'; rels: Rel[] } // a chain a < b < c is two relations joined by "and"
  | { t: 'set'; items: MathValue[] }
  | { t: 'tuple'; items: MathValue[] }
  | { t: 'interval'; lo: Expr; hi: Expr; lopen: boolean; ropen: boolean }
  | { t: 'union'; parts: MathValue[] }
  | { t: 'setop'; op: 'cap' | 'minus'; a: MathValue; b: MathValue }
  | { t: 'lit'; name: string };

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function num(p: bigint, q = 1n, float = false): Expr {
  if (q < 0n) {
    p = -p;
    q = -q;
  }
  const g = gcd(p, q);
  if (g > 1n) {
    p /= g;
    q /= g;
  }
  return { k: 'num', p, q, float };
}

/** Parses a decimal literal like "12", "1.25", ".5", "1.5E-3" into an exact number. */
export function numFromString(s: string): Expr {
  const m = /^(\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) throw new Error(`bad number ${s}`);
  const int = m[1] || '0';
  const frac = m[2] ?? '';
  const exp = m[3] !== undefined ? Number(m[3]) : 0;
  if (Math.abs(exp) > 400) throw new Error('exponent too large');
  let p = BigInt(int + frac);
  let q = 10n ** BigInt(frac.length);
  if (exp > 0) p *= 10n ** BigInt(exp);
  else if (exp < 0) q *= 10n ** BigInt(-exp);
  return num(p, q, m[2] !== undefined || m[3] !== undefined);
}

export const ONE = num(1n);
export const sym = (name: string): Expr => ({ k: 'sym', name });
export const exprValue = (e: Expr): MathValue => ({ t: 'expr', e });

export function add(a: Expr, b: Expr): Expr {
  const args: Expr[] = [];
  for (const x of [a, b]) if (x.k === 'add') args.push(...x.args);
    else args.push(x);
  return { k: 'add', args };
}

export function mul(a: Expr, b: Expr): Expr {
  const args: Expr[] = [];
  for (const x of [a, b]) if (x.k === 'mul') args.push(...x.args);
    else args.push(x);
  return { k: 'mul', args };
}

export function neg(a: Expr): Expr {
  if (a.k === 'num') return num(-a.p, a.q, a.float);
  return { k: 'neg', arg: a };
}

export function div(a: Expr, b: Expr): Expr {
  return mul(a, { k: 'pow', base: b, exp: num(-1n) });
}

/** Canonical text of an expression: equal text means structurally equal. */
export function printExpr(e: Expr): string {
  switch (e.k) {
    case 'num':
      return e.q === 1n ? `${e.p}` : `${e.p}/${e.q}`;
    case 'sym':
      return e.name;
    case 'const':
      return `#${e.name}`;
    case 'add':
      return `(${e.args.map(printExpr).join(' + ')})`;
    case 'mul':
      return `(${e.args.map(printExpr).join(' * ')})`;
    case 'pow':
      return `(${printExpr(e.base)})^(${printExpr(e.exp)})`;
    case 'neg':
      return `-(${printExpr(e.arg)})`;
    case 'pct':
      return `(${printExpr(e.arg)})%`;
    case 'fn':
      return `${e.name}(${e.args.map(printExpr).join(', ')})`;
    case 'mat':
      return `[${e.rows.map((r) => r.map(printExpr).join(', ')).join('; ')}]`;
  }
}

export function printValue(v: MathValue): string {
  switch (v.t) {
    case 'expr':
      return printExpr(v.e);
    case 'rel':
      return v.rels.map((r) => `${printValue(r.lhs)} ${r.op} ${printValue(r.rhs)}`).join(' & ');
    case 'set':
      return `{${v.items.map(printValue).join(', ')}}`;
    case 'tuple':
      return `T(${v.items.map(printValue).join(', ')})`;
    case 'interval':
      return `${v.lopen ? '(' : '['}${printExpr(v.lo)}, ${printExpr(v.hi)}${v.ropen ? ')' : ']'}`;
    case 'union':
      return v.parts.map(printValue).join(' U ');
    case 'setop':
      return `(${printValue(v.a)} ${v.op} ${printValue(v.b)})`;
    case 'lit':
      return `#${v.name}`;
  }
}

/** True when a value is a set in the mathematical sense (finite set, interval, union, literal set). */
export function isSetLike(v: MathValue): boolean {
  return v.t === 'set' || v.t === 'interval' || v.t === 'union' || v.t === 'setop' || v.t === 'lit';
}

/** Free symbol names of an expression (undefined function names excluded). */
export function freeSymbols(e: Expr, out: Set<string> = new Set()): Set<string> {
  switch (e.k) {
    case 'sym':
      out.add(e.name);
      break;
    case 'add':
    case 'mul':
      for (const a of e.args) freeSymbols(a, out);
      break;
    case 'pow':
      freeSymbols(e.base, out);
      freeSymbols(e.exp, out);
      break;
    case 'neg':
    case 'pct':
      freeSymbols(e.arg, out);
      break;
    case 'fn':
      for (const a of e.args) freeSymbols(a, out);
      break;
    case 'mat':
      for (const r of e.rows) for (const c of r) freeSymbols(c, out);
      break;
    default:
      break;
  }
  return out;
}

export function valueSymbols(v: MathValue, out: Set<string> = new Set()): Set<string> {
  switch (v.t) {
    case 'expr':
      freeSymbols(v.e, out);
      break;
    case 'rel':
      for (const r of v.rels) {
        valueSymbols(r.lhs, out);
        valueSymbols(r.rhs, out);
      }
      break;
    case 'set':
    case 'tuple':
      for (const i of v.items) valueSymbols(i, out);
      break;
    case 'interval':
      freeSymbols(v.lo, out);
      freeSymbols(v.hi, out);
      break;
    case 'union':
      for (const p of v.parts) valueSymbols(p, out);
      break;
    case 'setop':
      valueSymbols(v.a, out);
      valueSymbols(v.b, out);
      break;
    default:
      break;
  }
  return out;
}

function renameExpr(e: Expr, map: Map<string, string>): Expr {
  switch (e.k) {
    case 'sym':
      return map.has(e.name) ? { k: 'sym', name: map.get(e.name)! } : e;
    case 'add':
    case 'mul':
      return { k: e.k, args: e.args.map((a) => renameExpr(a, map)) };
    case 'pow':
      return { k: 'pow', base: renameExpr(e.base, map), exp: renameExpr(e.exp, map) };
    case 'neg':
    case 'pct':
      return { k: e.k, arg: renameExpr(e.arg, map) };
    case 'fn':
      return { ...e, args: e.args.map((a) => renameExpr(a, map)) };
    case 'mat':
      return { k: 'mat', rows: e.rows.map((r) => r.map((c) => renameExpr(c, map))) };
    default:
      return e;
  }
}

/** Renames free symbols (used by non-strict comparison). */
export function renameValue(v: MathValue, map: Map<string, string>): MathValue {
  switch (v.t) {
    case 'expr':
      return { t: 'expr', e: renameExpr(v.e, map) };
    case 'rel':
      return { t: 'rel', rels: v.rels.map((r) => ({ op: r.op, lhs: renameValue(r.lhs, map), rhs: renameValue(r.rhs, map) })) };
    case 'set':
    case 'tuple':
      return { t: v.t, items: v.items.map((i) => renameValue(i, map)) };
    case 'interval':
      return { ...v, lo: renameExpr(v.lo, map), hi: renameExpr(v.hi, map) };
    case 'union':
      return { t: 'union', parts: v.parts.map((p) => renameValue(p, map)) };
    case 'setop':
      return { ...v, a: renameValue(v.a, map), b: renameValue(v.b, map) };
    default:
      return v;
  }
}
