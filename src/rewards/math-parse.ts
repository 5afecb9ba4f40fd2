// A small LaTeX / plain-math parser for the math verifier: turns a normalized
// answer string ("\frac{1}{2}", "x \in [-2,7]", "(1,2),(3,4)", "3 \pm 2\sqrt2",
// "\begin{pmatrix}1&0\\0&1\end{pmatrix}") into a MathValue. Grammar and
// interpretation follow Math-Verify's LaTeX grammar (latex2sympy2_extended):
// top-level commas make finite sets, (a,b) with a<b is an open interval, "x="
// before a list is an assignment, "\approx" keeps the exact side, a/b of two
// integers is a rational, "2\frac12" is a mixed number. Own code, no dependency.
// Also parses the plain expressions ("(1/2)*(4/3)", "2^10") that the expr
// extractor finds. Not here: normalization (math-normalize.ts), comparison.

import {
  add, div, exprValue, isSetLike, mul, neg, num, numFromString, sym,
  type Expr, type MathValue, type Rel, type RelOp,
} from './math-ast.ts';

type Tok = { t: 'num' | 'cmd' | 'ch' | 'eof'; v: string };

const MAX_INPUT = 4000;
const MAX_DEPTH = 120;

const UNICODE_CMDS: Record<string, string> = {
  '×': 'times', '÷': 'div', '·': 'cdot', '≤': 'le', '≦': 'le', '⩽': 'le', '≥': 'ge', '≧': 'ge', '⩾': 'ge',
  '≠': 'ne', '±': 'pm', '∓': 'mp', '√': 'sqrt', 'π': 'pi', '∞': 'infty', '∈': 'in', '∉': 'notin', '∪': 'cup',
  '∩': 'cap', '≈': 'approx', '°': 'circ', '∖': 'setminus', '⋅': 'cdot', '∅': 'emptyset',
};

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '~' || c === '\v') {
      i++;
      continue;
    }
    if ((c >= '0' && c <= '9') || (c === '.' && i + 1 < n && s[i + 1]! >= '0' && s[i + 1]! <= '9')) {
      const m = /^(?:\d+(?:\.\d+)?|\.\d+)(?:E[+-]?\d+)?/.exec(s.slice(i, i + 400))!;
      let v = m[0];
      // a trailing "." after digits ("5.") is not part of the number
      out.push({ t: 'num', v });
      i += v.length;
      continue;
    }
    if (c === '\\') {
      const m = /^\\([a-zA-Z]+)/.exec(s.slice(i, i + 40));
      if (m) {
        let name = m[1]!;
        // "\quadx" is "\quad x"
        const sp = /^(qquad|quad)(.+)$/.exec(name);
        if (sp) {
          out.push({ t: 'cmd', v: sp[1]! });
          i += 1 + sp[1]!.length;
          continue;
        }
        out.push({ t: 'cmd', v: name });
        i += 1 + name.length;
        continue;
      }
      const d = s[i + 1];
      if (d === undefined) {
        i++;
        continue;
      }
      // \( \) \[ \] are visual brackets
      if (d === '(' || d === ')' || d === '[' || d === ']') out.push({ t: 'ch', v: d });
      else out.push({ t: 'cmd', v: d });
      i += 2;
      continue;
    }
    if (c === '<' && s[i + 1] === '=') {
      out.push({ t: 'cmd', v: 'le' });
      i += 2;
      continue;
    }
    if (c === '>' && s[i + 1] === '=') {
      out.push({ t: 'cmd', v: 'ge' });
      i += 2;
      continue;
    }
    if (c === '!' && s[i + 1] === '=') {
      out.push({ t: 'cmd', v: 'ne' });
      i += s[i + 2] === '=' ? 3 : 2;
      continue;
    }
    if (c === '=' && s[i + 1] === '=') {
      out.push({ t: 'ch', v: '=' });
      i += 2;
      continue;
    }
    if (c === '*' && s[i + 1] === '*') {
      out.push({ t: 'ch', v: '^' });
      i += 2;
      continue;
    }
    const u = UNICODE_CMDS[c];
    if (u) {
      out.push({ t: 'cmd', v: u });
      i++;
      continue;
    }
    if (c === '−' || c === '–') {
      out.push({ t: 'ch', v: '-' });
      i++;
      continue;
    }
    out.push({ t: 'ch', v: c });
    i++;
  }
  out.push({ t: 'eof', v: '' });
  return out;
}

const GREEK = new Set([
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'vartheta', 'iota', 'kappa',
  'lambda', 'mu', 'nu', 'xi', 'omicron', 'rho', 'varrho', 'sigma', 'varsigma', 'tau', 'upsilon', 'phi', 'varphi',
  'chi', 'psi', 'omega', 'Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Upsilon', 'Phi', 'Psi', 'Omega',
  'ell', 'aleph', 'nabla', 'partial',
]);
const FUNCS = new Set([
  'sin', 'cos', 'tan', 'sec', 'csc', 'cot', 'arcsin', 'arccos', 'arctan', 'arcsec', 'arccsc', 'arccot', 'sinh',
  'cosh', 'tanh', 'arsinh', 'arcosh', 'artanh', 'arcsinh', 'arccosh', 'arctanh', 'log', 'ln', 'lg', 'exp', 'det',
]);
const MULTI_FUNCS = new Set(['gcd', 'lcm', 'max', 'min']);
const IGNORED_CMDS = new Set([
  'left', 'right', 'big', 'Big', 'bigg', 'Bigg', 'bigl', 'bigr', 'Bigl', 'Bigr', 'biggl', 'biggr', 'Biggl', 'Biggr',
  'displaystyle', 'textstyle', 'quad', 'qquad', ',', ';', ':', '!', ' ', 'limits', 'nolimits', 'middle', 'mathstrut',
  'strut', 'hfill', 'hspace', 'small', 'large', 'Large', 'normalsize', 'tiny', 'enspace', 'thinspace', 'medspace',
  'negthinspace', 'nobreak',
]);
const REL_CMDS: Record<string, RelOp | 'in' | 'approx' | 'notin'> = {
  le: '<=', leq: '<=', leqslant: '<=', ge: '>=', geq: '>=', geqslant: '>=', ne: '!=', neq: '!=', lt: '<', gt: '>',
  in: 'in', approx: 'approx', equiv: '=', notin: 'notin', simeq: 'approx', cong: 'approx',
};
const MATRIX_ENVS = new Set(['matrix', 'pmatrix', 'bmatrix', 'Bmatrix', 'vmatrix', 'Vmatrix', 'smallmatrix', 'array']);
const LITERAL_SETS: Record<string, string> = { R: 'R', N: 'N', Z: 'Z', Q: 'Q', C: 'C', P: 'P' };

function isIntLit(e: Expr): e is Expr & { k: 'num' } {
  return e.k === 'num' && e.q === 1n && !e.float;
}

/** True when an expression is a symbol, or built only from symbols (a*b, f(x), A/B): the left side of an assignment. */
export function isOnlySymbols(e: Expr): boolean {
  switch (e.k) {
    case 'sym':
      return true;
    case 'pow':
      return isOnlySymbols(e.base) && e.exp.k === 'num' && e.exp.p === -1n && e.exp.q === 1n;
    case 'mul':
    case 'add':
      return e.args.every(isOnlySymbols);
    case 'fn':
      return e.args.length > 0 && e.args.every(isOnlySymbols);
    default:
      return false;
  }
}

/** Thrown on input the grammar does not accept. Not an Error subclass: parse failures are frequent and expected, and a stack trace per failure would dominate the cost. */
export class ParseError {
  constructor(readonly message: string) {}
}

class Parser {
  private pos = 0;
  private depth = 0;
  private absDepth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(o = 0): Tok {
    return this.toks[Math.min(this.pos + o, this.toks.length - 1)]!;
  }
  private next(): Tok {
    return this.toks[Math.min(this.pos++, this.toks.length - 1)]!;
  }
  private isCh(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'ch' && t.v === v;
  }
  private isCmd(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'cmd' && t.v === v;
  }
  private expectCh(v: string): void {
    const t = this.next();
    if (t.t !== 'ch' || t.v !== v) throw new ParseError(`expected ${v}`);
  }
  private skipIgnored(): void {
    for (;;) {
      const t = this.peek();
      if (t.t === 'cmd' && IGNORED_CMDS.has(t.v)) {
        this.pos++;
        if ((t.v === 'hspace') && this.isCh('{')) this.rawGroup();
        continue;
      }
      break;
    }
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new ParseError('too deeply nested');
  }
  private leave(): void {
    this.depth--;
  }

  parseTop(): MathValue {
    this.skipIgnored();
    const groups = this.parseElements();
    this.skipIgnored();
    if (this.peek().t !== 'eof') throw new ParseError(`unexpected ${this.peek().v}`);
    const flat = groups.flat();
    if (flat.length === 0) throw new ParseError('empty');
    // "n = 1, 2, 3" (an assignment before a list): the list is the right side
    const first = groups[0]![0]!;
    if (flat.length > 1 && first.t === 'rel' && first.rels.length === 1 && first.rels[0]!.op === '=' &&
      first.rels[0]!.lhs.t === 'expr' && isOnlySymbols(first.rels[0]!.lhs.e) && flat.slice(1).every((v) => v.t !== 'rel')) {
      const g2 = groups.map((g) => g.slice());
      g2[0]![0] = first.rels[0]!.rhs;
      return { t: 'rel', rels: [{ op: '=', lhs: first.rels[0]!.lhs, rhs: elementsToValue(g2) }] };
    }
    return elementsToValue(groups);
  }

  /** element (',' element)* (';' ...)*, stopping before a closer. */
  private parseElements(): MathValue[][] {
    const groups: MathValue[][] = [[]];
    for (;;) {
      this.skipIgnored();
      const t = this.peek();
      if (t.t === 'eof' || (t.t === 'ch' && (t.v === ')' || t.v === ']' || t.v === '}')) || (t.t === 'cmd' && (t.v === '}' || t.v === 'rangle'))) {
        if (groups[groups.length - 1]!.length === 0 && groups.length === 1) return [];
        throw new ParseError('empty element');
      }
      groups[groups.length - 1]!.push(...this.parseElement());
      this.skipIgnored();
      if (this.isCh(',')) {
        this.pos++;
        continue;
      }
      if (this.isCh(';')) {
        this.pos++;
        groups.push([]);
        continue;
      }
      return groups;
    }
  }

  private parseElement(): MathValue[] {
    const v = this.parseRelation();
    const pmSplit = (x: MathValue): MathValue[] | null => {
      if (x.t === 'expr' && x.e.k === 'fn' && x.e.name === '±') {
        const args = x.e.args;
        if (args.length === 1) return [exprValue(neg(args[0]!)), exprValue(args[0]!)];
        return [exprValue(add(args[0]!, args[1]!)), exprValue(add(args[0]!, neg(args[1]!)))];
      }
      return null;
    };
    const s = pmSplit(v);
    if (s) return s;
    if (v.t === 'rel') {
      const last = v.rels[v.rels.length - 1]!;
      const r = pmSplit(last.rhs);
      if (r) return r;
    }
    return [v];
  }

  private relOp(): RelOp | 'in' | 'approx' | 'notin' | null {
    this.skipIgnored();
    const t = this.peek();
    if (t.t === 'ch') {
      if (t.v === '=') return '=';
      if (t.v === '<') return '<';
      if (t.v === '>') return '>';
      return null;
    }
    if (t.t === 'cmd') {
      if (t.v === 'not' && this.peek(1).t === 'cmd' && this.peek(1).v === 'equiv') {
        this.pos++;
        return '!=';
      }
      return REL_CMDS[t.v] ?? null;
    }
    return null;
  }

  private parseRelation(): MathValue {
    this.enter();
    let lhs = this.parseSetExpr();
    const rels: Rel[] = [];
    let result: MathValue = lhs;
    for (;;) {
      const op = this.relOp();
      if (op === null) break;
      this.pos++;
      const rhs = this.parseSetExpr();
      if (op === 'notin') throw new ParseError('notin unsupported');
      if (op === 'approx') {
        // keep the exact side: "x \approx 1.3" assigns, "1/3 \approx 0.33" keeps 1/3
        if (rels.length === 0 && result.t === 'expr' && isOnlySymbols(result.e)) {
          result = rhs;
          lhs = rhs;
        }
        continue;
      }
      const rop: RelOp = op === 'in' ? '=' : op;
      // "(p, q) = (3, 2)": a parenthesized list of symbols before = is a tuple, not an interval
      if (rels.length === 0 && rop === '=' && lhs.t === 'interval' && lhs.lo.k === 'sym' && lhs.hi.k === 'sym') {
        lhs = { t: 'tuple', items: [exprValue(lhs.lo), exprValue(lhs.hi)] };
      }
      rels.push({ op: rop, lhs, rhs });
      lhs = rhs;
      result = { t: 'rel', rels: rels.slice() };
    }
    this.leave();
    return result;
  }

  private parseSetExpr(): MathValue {
    let left = this.parseAdditive();
    for (;;) {
      this.skipIgnored();
      const t = this.peek();
      if (t.t === 'cmd' && (t.v === 'cup' || t.v === 'cap' || t.v === 'setminus' || t.v === 'backslash')) {
        this.pos++;
        const right = this.parseAdditive();
        const asSet = (v: MathValue): MathValue => (v.t === 'tuple' ? { t: 'set', items: v.items } : v);
        const l = asSet(left);
        const r = asSet(right);
        if (!(isSetLike(l) && isSetLike(r))) throw new ParseError('set operation on non-sets');
        if (t.v === 'cup') {
          const parts = [...(l.t === 'union' ? l.parts : [l]), ...(r.t === 'union' ? r.parts : [r])];
          left = { t: 'union', parts };
        } else left = { t: 'setop', op: t.v === 'cap' ? 'cap' : 'minus', a: l, b: r };
        continue;
      }
      return left;
    }
  }

  private asExpr(v: MathValue): Expr {
    if (v.t !== 'expr') throw new ParseError('expected an expression');
    return v.e;
  }

  private parseAdditive(): MathValue {
    this.enter();
    this.skipIgnored();
    let first: MathValue;
    if (this.isCmd('pm') || this.isCmd('mp')) {
      this.pos++;
      const b = this.asExpr(this.parseAdditive());
      this.leave();
      return exprValue({ k: 'fn', name: '±', args: [b], undef: false });
    }
    first = this.parseTerm();
    let acc: Expr | null = null;
    for (;;) {
      this.skipIgnored();
      const t = this.peek();
      if (t.t === 'ch' && (t.v === '+' || t.v === '-')) {
        if (acc === null) acc = this.asExpr(first);
        this.pos++;
        const r = this.asExpr(this.parseTerm());
        acc = t.v === '+' ? add(acc, r) : add(acc, neg(r));
        continue;
      }
      if (t.t === 'cmd' && (t.v === 'pm' || t.v === 'mp')) {
        if (acc === null) acc = this.asExpr(first);
        this.pos++;
        const r = this.asExpr(this.parseAdditive());
        this.leave();
        return exprValue({ k: 'fn', name: '±', args: [acc, r], undef: false });
      }
      break;
    }
    this.leave();
    return acc === null ? first : exprValue(acc);
  }

  private startsFactor(): boolean {
    const t = this.peek();
    if (t.t === 'num') return true;
    if (t.t === 'ch') {
      if (/^[a-zA-Z]$/.test(t.v)) return true;
      if (t.v === '(' || t.v === '{') return true;
      if (t.v === '|') return this.absDepth === 0;
      return false;
    }
    if (t.t === 'cmd') {
      if (t.v === '{') return false;
      if (REL_CMDS[t.v] || t.v === 'cdot' || t.v === 'times' || t.v === 'div' || t.v === 'pm' || t.v === 'mp') return false;
      if (['choose', 'cup', 'cap', 'setminus', 'rfloor', 'rceil', 'rangle', 'end', '\\', '}', 'mod', 'bmod', 'pmod', 'ast', 'circ', 'to', 'rightarrow', 'Rightarrow', 'implies', 'iff', 'dots', 'ldots', 'cdots', 'backslash', 'colon', 'mid', 'vert', 'rvert', 'lvert', '&', '%', 'wedge', 'vee', 'land', 'lor'].includes(t.v)) return false;
      return true;
    }
    return false;
  }

  private parseTerm(): MathValue {
    this.enter();
    const firstV = this.parseUnary();
    let acc: Expr | null = null;
    const cur = (): Expr => (acc === null ? this.asExpr(firstV) : acc);
    for (;;) {
      this.skipIgnored();
      const t = this.peek();
      if ((t.t === 'ch' && t.v === '*') || (t.t === 'cmd' && (t.v === 'cdot' || t.v === 'times' || t.v === 'ast'))) {
        const l = cur();
        this.pos++;
        acc = mul(l, this.asExpr(this.parseUnary()));
        continue;
      }
      if ((t.t === 'ch' && (t.v === '/' || t.v === ':')) || (t.t === 'cmd' && t.v === 'div')) {
        const l = cur();
        this.pos++;
        const r = this.asExpr(this.parseUnary());
        acc = isIntLit(l) && isIntLit(r) && r.p !== 0n ? num(l.p, r.p) : div(l, r);
        continue;
      }
      if (t.t === 'cmd' && (t.v === 'bmod' || t.v === 'mod')) {
        const l = cur();
        this.pos++;
        acc = { k: 'fn', name: 'mod', args: [l, this.asExpr(this.parseUnary())], undef: false };
        continue;
      }
      if (this.startsFactor()) {
        if (acc === null && firstV.t !== 'expr') break;
        const l = cur();
        const rv = this.parsePostfix();
        const r = this.asExpr(rv);
        // mixed number 2\frac{1}{2}
        if (isIntLit(l) && r.k === 'num' && !r.float && r.q > 1n && r.p > 0n && this.lastWasFrac) {
          acc = l.p < 0n ? num(l.p * r.q - r.p, r.q) : num(l.p * r.q + r.p, r.q);
        } else acc = mul(l, r);
        continue;
      }
      break;
    }
    this.leave();
    return acc === null ? firstV : exprValue(acc);
  }

  private lastWasFrac = false;

  private parseUnary(): MathValue {
    this.enter();
    this.skipIgnored();
    let r: MathValue;
    if (this.isCh('-')) {
      this.pos++;
      const v = this.parseUnary();
      // -2\frac12 is -(2 1/2): the sign covers the juxtaposed factors
      let e = this.asExpr(v);
      while (this.startsFactor()) {
        const rv = this.asExpr(this.parsePostfix());
        if (isIntLit(e) && rv.k === 'num' && !rv.float && rv.q > 1n && rv.p > 0n && this.lastWasFrac) e = num(e.p * rv.q + rv.p, rv.q);
        else e = mul(e, rv);
      }
      r = exprValue(neg(e));
    } else if (this.isCh('+')) {
      this.pos++;
      r = this.parseUnary();
    } else r = this.parsePostfix();
    this.leave();
    return r;
  }

  private parsePostfix(): MathValue {
    let v = this.parsePower();
    for (;;) {
      if (this.isCh('!')) {
        this.pos++;
        v = exprValue({ k: 'fn', name: 'factorial', args: [this.asExpr(v)], undef: false });
        continue;
      }
      if (this.isCh("'")) {
        this.pos++;
        continue;
      }
      return v;
    }
  }

  private parsePower(): MathValue {
    let v = this.parsePrimary();
    for (;;) {
      if (this.isCh('^')) {
        this.pos++;
        const exp = this.parseScript();
        if (exp === null) continue; // ^\circ, ^\prime: ignored
        v = exprValue({ k: 'pow', base: this.asExpr(v), exp });
        this.lastWasFrac = false;
        continue;
      }
      if (this.isCh('_') && v.t === 'expr' && v.e.k === 'num') {
        // 1112_3: subscript on a number is ignored
        this.pos++;
        if (this.isCh('{')) this.rawGroup();
        else this.pos++;
        continue;
      }
      return v;
    }
  }

  /** Argument of ^: {expr} or one token. Returns null for a degree sign. */
  private parseScript(): Expr | null {
    this.skipIgnored();
    const t = this.peek();
    if (t.t === 'ch' && t.v === '{') {
      if (this.isCmd('circ', 1) && this.isCh('}', 2)) {
        this.pos += 3;
        return null;
      }
      this.pos++;
      if (this.isCh('}')) throw new ParseError('empty exponent');
      const e = this.asExpr(this.parseRelationAsExpr());
      this.expectCh('}');
      return e;
    }
    if (t.t === 'cmd' && (t.v === 'circ' || t.v === 'prime' || t.v === 'degree')) {
      this.pos++;
      return null;
    }
    if (t.t === 'num') {
      this.pos++;
      return numFromString(t.v);
    }
    if (t.t === 'ch' && /^[a-zA-Z]$/.test(t.v)) {
      this.pos++;
      return t.v === 'e' ? { k: 'const', name: 'e' } : sym(t.v);
    }
    if (t.t === 'ch' && t.v === '-') {
      this.pos++;
      const e = this.parseScript();
      if (e === null) throw new ParseError('bad exponent');
      return neg(e);
    }
    return this.asExpr(this.parsePrimary());
  }

  private parseRelationAsExpr(): MathValue {
    return this.parseAdditive();
  }

  /** Raw text of a {...} group (brace-balanced), consuming it. */
  private rawGroup(): string {
    this.expectCh('{');
    let depth = 1;
    let text = '';
    for (;;) {
      const t = this.next();
      if (t.t === 'eof') throw new ParseError('unbalanced {');
      if (t.t === 'ch' && t.v === '{') depth++;
      if (t.t === 'ch' && t.v === '}') {
        depth--;
        if (depth === 0) return text;
      }
      text += t.t === 'cmd' ? `\\${t.v}` : t.v;
    }
  }

  private parseBraceExpr(): Expr {
    this.skipIgnored();
    if (!this.isCh('{')) {
      // \frac12 style single-token argument
      const t = this.next();
      if (t.t === 'num') return numFromString(t.v.length > 1 && !t.v.includes('.') ? t.v[0]! : t.v);
      if (t.t === 'ch' && /^[a-zA-Z]$/.test(t.v)) return sym(t.v);
      if (t.t === 'cmd') {
        this.pos--;
        return this.asExpr(this.parsePrimary());
      }
      throw new ParseError('expected {');
    }
    this.pos++;
    const v = this.parseAdditive();
    this.skipIgnored();
    this.expectCh('}');
    return this.asExpr(v);
  }

  private subscriptText(): string {
    if (!this.isCh('_')) return '';
    this.pos++;
    if (this.isCh('{')) {
      const raw = this.rawGroup().replace(/\s+/g, '');
      return raw.length > 1 ? `_{${raw}}` : `_${raw}`;
    }
    const t = this.next();
    if (t.t === 'eof') throw new ParseError('bad subscript');
    const raw = t.t === 'cmd' ? t.v : t.v;
    return raw.length > 1 ? `_{${raw}}` : `_${raw}`;
  }

  /** ( or [ opened: group, interval, or tuple. */
  private parseBracketed(open: '(' | '['): MathValue {
    this.pos++;
    const groups = this.parseElements();
    this.skipIgnored();
    const close = this.next();
    if (close.t !== 'ch' || (close.v !== ')' && close.v !== ']')) throw new ParseError('unclosed bracket');
    const flat = groups.flat();
    if (flat.length === 0) throw new ParseError('empty brackets');
    if (groups.length === 1 && flat.length === 1) {
      if ((open === '(' && close.v === ')') || (open === '[' && close.v === ']')) return flat[0]!;
      throw new ParseError('mismatched brackets');
    }
    if (groups.length === 1 && flat.length === 2 && flat[0]!.t === 'expr' && flat[1]!.t === 'expr') {
      const lo = flat[0]!.e;
      const hi = flat[1]!.e;
      const lopen = open === '(';
      const ropen = close.v === ')';
      const c = compareConst(lo, hi);
      if (c !== null && ((lopen && ropen && c >= 0) || (!lopen && !ropen && c > 0))) return { t: 'tuple', items: flat };
      return { t: 'interval', lo, hi, lopen, ropen };
    }
    return { t: 'tuple', items: flat };
  }

  private parsePrimary(): MathValue {
    this.enter();
    try {
      return this.parsePrimaryInner();
    } finally {
      this.leave();
    }
  }

  private parsePrimaryInner(): MathValue {
    this.skipIgnored();
    this.lastWasFrac = false;
    const t = this.peek();
    if (t.t === 'num') {
      this.pos++;
      let e = numFromString(t.v);
      this.skipIgnored();
      if (this.isCh('%') || this.isCmd('%')) {
        this.pos++;
        e = { k: 'pct', arg: e };
      }
      return exprValue(e);
    }
    if (t.t === 'ch') {
      if (/^[a-zA-Z]$/.test(t.v)) {
        this.pos++;
        const sub = this.subscriptText();
        if (t.v === 'e' && sub === '') return exprValue({ k: 'const', name: 'e' });
        const name = t.v + sub;
        const call = this.tryCall(name);
        if (call) return call;
        return exprValue(sym(name));
      }
      if (t.v === '(' || t.v === '[') return this.parseBracketed(t.v);
      if (t.v === '{') {
        this.pos++;
        const choose = this.tryChoose();
        if (choose) return choose;
        const groups = this.parseElements();
        this.skipIgnored();
        this.expectCh('}');
        const flat = groups.flat();
        if (flat.length === 0) return { t: 'lit', name: 'empty' };
        if (groups.length === 1 && flat.length === 1) {
          // {x} groups an expression, but braces around an interval or tuple make a set of it
          const only = flat[0]!;
          return only.t === 'expr' || only.t === 'rel' ? only : { t: 'set', items: [only] };
        }
        return { t: 'set', items: flat };
      }
      if (t.v === '|') {
        this.pos++;
        this.absDepth++;
        const e = this.asExpr(this.parseAdditive());
        this.absDepth--;
        this.skipIgnored();
        this.expectCh('|');
        return exprValue({ k: 'fn', name: 'abs', args: [e], undef: false });
      }
      throw new ParseError(`unexpected ${t.v}`);
    }
    if (t.t === 'cmd') return this.parseCommand(t.v);
    throw new ParseError('unexpected end');
  }

  /** {n \choose k} (just after the opening brace): a binomial coefficient, or null. */
  private tryChoose(): MathValue | null {
    let depth = 0;
    let found = false;
    for (let i = this.pos; i < this.toks.length; i++) {
      const t = this.toks[i]!;
      if (t.t === 'eof') break;
      if (t.t === 'ch' && t.v === '{') depth++;
      else if (t.t === 'ch' && t.v === '}') {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && t.t === 'cmd' && t.v === 'choose') {
        found = true;
        break;
      }
    }
    if (!found) return null;
    const n = this.asExpr(this.parseAdditive());
    this.skipIgnored();
    if (!this.isCmd('choose')) throw new ParseError('expected \\choose');
    this.pos++;
    const k = this.asExpr(this.parseAdditive());
    this.skipIgnored();
    this.expectCh('}');
    return exprValue({ k: 'fn', name: 'binom', args: [n, k], undef: false });
  }

  /** f(x), g(1, 2): an undefined function applied to an atom or to several arguments. */
  private tryCall(name: string): MathValue | null {
    if (!this.isCh('(')) return null;
    const save = this.pos;
    try {
      this.pos++;
      const groups = this.parseElements();
      this.expectCh(')');
      const flat = groups.flat();
      const atom = (v: MathValue): boolean => v.t === 'expr' && (v.e.k === 'sym' || v.e.k === 'num' || v.e.k === 'const');
      if (groups.length === 1 && (flat.length > 1 || (flat.length === 1 && atom(flat[0]!))) && flat.every((v) => v.t === 'expr')) {
        return exprValue({ k: 'fn', name, args: flat.map((v) => (v as { e: Expr }).e), undef: true });
      }
    } catch {
      // not a call
    }
    this.pos = save;
    return null;
  }

  private funcArg(): Expr {
    this.skipIgnored();
    if (this.isCh('(')) {
      this.pos++;
      const v = this.parseAdditive();
      this.skipIgnored();
      this.expectCh(')');
      return this.asExpr(v);
    }
    if (this.isCh('{')) return this.parseBraceExpr();
    // \sin 2x: a product of non-function factors
    let e = this.asExpr(this.parsePower());
    for (;;) {
      const t = this.peek();
      if (t.t === 'num' || (t.t === 'ch' && /^[a-zA-Z]$/.test(t.v)) || (t.t === 'cmd' && (GREEK.has(t.v) || t.v === 'pi'))) {
        e = mul(e, this.asExpr(this.parsePower()));
        continue;
      }
      return e;
    }
  }

  private parseCommand(name: string): MathValue {
    this.pos++;
    if (name === 'frac' || name === 'cfrac' || name === 'dfrac' || name === 'tfrac') {
      const a = this.parseBraceExpr();
      const b = this.parseBraceExpr();
      if (isIntLit(a) && isIntLit(b) && b.p !== 0n) {
        const r = exprValue(num(a.p, b.p));
        this.lastWasFrac = true;
        return r;
      }
      return exprValue(div(a, b));
    }
    if (name === 'sqrt') {
      let index: Expr | null = null;
      this.skipIgnored();
      if (this.isCh('[')) {
        this.pos++;
        index = this.asExpr(this.parseAdditive());
        this.expectCh(']');
      }
      const base = this.parseBraceExpr();
      const exp = index === null ? num(1n, 2n) : div(num(1n), index);
      return exprValue({ k: 'pow', base, exp });
    }
    if (name === 'binom' || name === 'dbinom' || name === 'tbinom') {
      const a = this.parseBraceExpr();
      const b = this.parseBraceExpr();
      return exprValue({ k: 'fn', name: 'binom', args: [a, b], undef: false });
    }
    if (name === 'text' || name === 'mbox' || name === 'textrm' || name === 'textup' || name === 'mathrm' || name === 'textsf') {
      const raw = this.rawGroup().replace(/\s+/g, '').replace(/[()]/g, '');
      if (raw === '') throw new ParseError('empty text');
      return exprValue(sym(raw + this.subscriptText()));
    }
    if (name === 'operatorname') {
      const fname = this.rawGroup().trim();
      return this.applyFunc(fname);
    }
    if (name === 'mathbb' || name === 'mathbf' && this.isCh('{')) {
      const raw = this.rawGroup().trim();
      if (name === 'mathbb' && LITERAL_SETS[raw]) return { t: 'lit', name: LITERAL_SETS[raw]! };
      return exprValue(sym(raw));
    }
    if (['overline', 'bar', 'vec', 'overrightarrow', 'hat', 'widehat', 'tilde', 'widetilde', 'dot', 'mathit', 'mathsf', 'mathcal', 'mathfrak', 'boldsymbol', 'bm', 'mathbf', 'underline', 'overarc', 'arc', 'angle'].includes(name)) {
      const prefix = name === 'overline' ? 'bar' : name === 'overrightarrow' ? 'vec' : name === 'widetilde' ? 'tilde' : name;
      if (name === 'angle' && !this.isCh('{')) {
        const v = this.parsePower();
        return exprValue(sym(`angle{${printAtom(v)}}`));
      }
      const raw = this.rawGroup().replace(/\s+/g, '');
      const pure = ['mathit', 'mathsf', 'mathcal', 'mathfrak', 'boldsymbol', 'bm', 'mathbf', 'underline'].includes(name);
      return exprValue(sym((pure ? raw : `${prefix}{${raw}}`) + this.subscriptText()));
    }
    if (name === 'boxed' || name === 'fbox') {
      this.expectCh('{');
      const groups = this.parseElements();
      this.expectCh('}');
      if (groups.flat().length === 0) throw new ParseError('empty box');
      return elementsToValue(groups);
    }
    if (name === 'sum' || name === 'prod') {
      let v: string | null = null;
      let lo: Expr | null = null;
      let hi: Expr | null = null;
      for (let t = 0; t < 2; t++) {
        if (this.isCh('_')) {
          this.pos++;
          this.expectCh('{');
          const vt = this.next();
          if (!(vt.t === 'ch' && /^[a-zA-Z]$/.test(vt.v)) && !(vt.t === 'cmd' && GREEK.has(vt.v))) throw new ParseError('sum variable');
          v = vt.v + this.subscriptText();
          this.expectCh('=');
          lo = this.asExpr(this.parseAdditive());
          this.expectCh('}');
        } else if (this.isCh('^')) {
          this.pos++;
          hi = this.parseScript();
        }
      }
      if (v === null || lo === null || hi === null) throw new ParseError('sum without bounds');
      const body = this.asExpr(this.parseTerm());
      return exprValue({ k: 'fn', name, args: [body, sym(v), lo, hi], undef: false });
    }
    if (name === 'pi') return exprValue({ k: 'const', name: 'pi' });
    if (name === 'infty' || name === 'infin') return exprValue({ k: 'const', name: 'inf' });
    if (name === 'emptyset' || name === 'varnothing') return { t: 'lit', name: 'empty' };
    if (GREEK.has(name)) return exprValue(sym(name + this.subscriptText()));
    if (name === '{') {
      const groups = this.parseElements();
      this.skipIgnored();
      const close = this.next();
      if (!(close.t === 'cmd' && close.v === '}')) throw new ParseError('unclosed \\{');
      const flat = groups.flat();
      if (flat.length === 0) return { t: 'lit', name: 'empty' };
      return { t: 'set', items: flat };
    }
    if (name === 'langle') {
      const groups = this.parseElements();
      this.skipIgnored();
      const close = this.next();
      if (!(close.t === 'cmd' && close.v === 'rangle')) throw new ParseError('unclosed \\langle');
      return { t: 'tuple', items: groups.flat() };
    }
    if (name === 'lfloor' || name === 'lceil') {
      const e = this.asExpr(this.parseAdditive());
      this.skipIgnored();
      const close = this.next();
      if (!(close.t === 'cmd' && (close.v === 'rfloor' || close.v === 'rceil'))) throw new ParseError('unclosed floor');
      return exprValue({ k: 'fn', name: name === 'lfloor' ? 'floor' : 'ceil', args: [e], undef: false });
    }
    if (name === '|' || name === 'Vert' || name === 'lVert') {
      const e = this.asExpr(this.parseAdditive());
      this.skipIgnored();
      const close = this.next();
      if (!(close.t === 'cmd' && (close.v === '|' || close.v === 'Vert' || close.v === 'rVert'))) throw new ParseError('unclosed norm');
      return exprValue({ k: 'fn', name: 'abs', args: [e], undef: false });
    }
    if (name === 'vert' || name === 'lvert' || name === 'mid') {
      this.absDepth++;
      const e = this.asExpr(this.parseAdditive());
      this.absDepth--;
      this.skipIgnored();
      const close = this.next();
      if (!((close.t === 'cmd' && (close.v === 'vert' || close.v === 'rvert' || close.v === 'mid')) || (close.t === 'ch' && close.v === '|'))) throw new ParseError('unclosed abs');
      return exprValue({ k: 'fn', name: 'abs', args: [e], undef: false });
    }
    if (name === 'begin') {
      const env = this.rawGroup().replace('*', '');
      if (!MATRIX_ENVS.has(env)) throw new ParseError(`environment ${env} unsupported`);
      if (env === 'array' && this.isCh('{')) this.rawGroup();
      const rows: Expr[][] = [[]];
      for (;;) {
        this.skipIgnored();
        if (this.isCmd('end')) {
          this.pos++;
          this.rawGroup();
          break;
        }
        if (this.isCmd('\\')) {
          this.pos++;
          rows.push([]);
          continue;
        }
        if (this.isCh('&')) {
          this.pos++;
          continue;
        }
        if (this.peek().t === 'eof') throw new ParseError('unclosed matrix');
        rows[rows.length - 1]!.push(this.asExpr(this.parseAdditive()));
      }
      while (rows.length > 0 && rows[rows.length - 1]!.length === 0) rows.pop();
      if (rows.length === 0 || rows.some((r) => r.length !== rows[0]!.length)) throw new ParseError('ragged matrix');
      return exprValue({ k: 'mat', rows });
    }
    if (FUNCS.has(name) || MULTI_FUNCS.has(name)) return this.applyFunc(name);
    if (name === '%') throw new ParseError('stray percent');
    if (name === 'circ' || name === 'prime') return exprValue(num(1n)); // stray degree sign after a number: "90 \circ" rarely
    throw new ParseError(`unknown command \\${name}`);
  }

  private applyFunc(nameIn: string): MathValue {
    const name = nameIn === 'lg' ? 'log10' : nameIn;
    let power: Expr | null = null;
    let base: Expr | null = null;
    for (let k = 0; k < 2; k++) {
      if (this.isCh('^')) {
        this.pos++;
        power = this.parseScript();
      } else if (this.isCh('_')) {
        this.pos++;
        base = this.isCh('{') ? this.parseBraceExpr() : this.parseScript();
      }
    }
    let args: Expr[];
    if (MULTI_FUNCS.has(name) || !FUNCS.has(name)) {
      this.skipIgnored();
      if (!this.isCh('(')) {
        if (FUNCS.has(name) || MULTI_FUNCS.has(name)) throw new ParseError('expected (');
        return exprValue(sym(name));
      }
      this.pos++;
      const groups = this.parseElements();
      this.expectCh(')');
      args = groups.flat().map((v) => this.asExpr(v));
    } else args = [this.funcArg()];
    let e: Expr;
    if (name === 'log' && base !== null) e = { k: 'fn', name: 'logb', args: [args[0]!, base], undef: false };
    else e = { k: 'fn', name, args, undef: !FUNCS.has(name) && !MULTI_FUNCS.has(name) };
    if (power !== null) {
      if (power.k === 'num' && power.p === -1n && power.q === 1n && name.length <= 4 && ['sin', 'cos', 'tan'].includes(name)) {
        e = { k: 'fn', name: `arc${name}`, args, undef: false };
      } else e = { k: 'pow', base: e, exp: power };
    }
    return exprValue(e);
  }
}

function printAtom(v: MathValue): string {
  return v.t === 'expr' && v.e.k === 'sym' ? v.e.name : 'x';
}

/** Compare two constant expressions when both are plain numbers (or infinities); null when unknown. */
function compareConst(a: Expr, b: Expr): number | null {
  const val = (e: Expr): number | null => {
    if (e.k === 'num') return Number(e.p) / Number(e.q);
    if (e.k === 'neg') {
      const x = val(e.arg);
      return x === null ? null : -x;
    }
    if (e.k === 'const' && e.name === 'inf') return Infinity;
    return null;
  };
  const x = val(a);
  const y = val(b);
  if (x === null || y === null) return null;
  return x === y ? 0 : x < y ? -1 : 1;
}

/** Groups of elements (split by ";", each split by ",") to one value: single element, finite set, or set of tuples. */
function elementsToValue(groups: MathValue[][]): MathValue {
  const gs = groups.filter((g) => g.length > 0);
  if (gs.length === 0) throw new ParseError('empty');
  if (gs.length === 1) {
    const g = gs[0]!;
    return g.length === 1 ? g[0]! : { t: 'set', items: g };
  }
  if (gs.every((g) => g.length === 1)) return { t: 'set', items: gs.map((g) => g[0]!) };
  return { t: 'set', items: gs.map((g) => ({ t: 'tuple', items: g }) as MathValue) };
}

const COMMA_NUMBER_RE = /^\s*-?\d{1,3}(,\d{3})+(\.\d+)?\s*$/;

/** Parses a normalized LaTeX answer. Throws ParseError when it cannot. */
export function parseLatexStrict(latex: string): MathValue {
  if (latex.length > MAX_INPUT) throw new ParseError('input too long');
  if (COMMA_NUMBER_RE.test(latex)) {
    const s = latex.trim().replace(/,/g, '');
    const neg0 = s.startsWith('-');
    const e = numFromString(neg0 ? s.slice(1) : s);
    return exprValue(neg0 ? neg(e) : e);
  }
  return new Parser(tokenize(latex)).parseTop();
}

const EQ_SPLIT_RE = /(?<!\\|<|!|>)=/;

/** Parses LaTeX; on failure retries with the last part of an equation chain "a = b = c". */
export function parseLatex(latex: string): MathValue | null {
  try {
    return parseLatexStrict(latex);
  } catch {
    if (!latex.includes(',') && !latex.includes(';')) {
      const parts = latex.split(EQ_SPLIT_RE);
      if (parts.length > 2) {
        try {
          return parseLatexStrict(parts[parts.length - 1]!);
        } catch {
          return null;
        }
      }
    }
    return null;
  }
}

/** Parses a plain arithmetic expression as found by the expression extractor ("(1/2)*(4/3)", "2^10", "-(3+4)"). */
export function parsePlainExpr(text: string): MathValue | null {
  if (text.length > MAX_INPUT) return null;
  const s = text.replace(/\n/g, ' ').replace(/[.\s]+$/, '');
  // Python-syntax expressions: no implicit multiplication of numbers ("1 2")
  if (/\d\s+[\d(]|\)\s*[\d(]/.test(s)) return null;
  try {
    const v = new Parser(tokenize(s)).parseTop();
    if (v.t !== 'expr') return null;
    return v;
  } catch {
    return null;
  }
}
