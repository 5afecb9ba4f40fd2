// Answer extraction for the math verifier: finds the final answer in a raw
// dataset answer or model completion and parses it. Candidates come from
// prioritized patterns, as in Math-Verify's parser: "final answer is ... I hope"
// (0), \boxed{} / \fbox{} (latex_boxed_match_priority, default 50, 0 puts boxes
// first), "final answer ... is" (50), "answer: ..." (100), "answer ..." (200),
// then any LaTeX environment ($...$, $$...$$, \(...\), \[...\], \frac{a}{b}) or
// any plain number / arithmetic expression (300). Within one priority the match
// that ends last wins; the first candidate that parses is the answer. An
// <answer>...</answer> block, when present, is searched instead of the whole text.
// The first candidate's text is kept as a string fallback (two equal fallback
// strings verify even when neither parses).
// Not here: text normalization (math-normalize.ts), the parser (math-parse.ts),
// equivalence (math-compare.ts).

import { exprValue, numFromString, neg, type MathValue } from './math-ast.ts';
import { normalizeLatex } from './math-normalize.ts';
import { parseLatex, parsePlainExpr } from './math-parse.ts';

export type MatchType = 'latex' | 'expr';

export interface ExtractOptions {
  /** Which notations may be extracted. Default both. */
  matchTypes: readonly MatchType[];
  /** Priority of \boxed{} matches: 0 = before everything, 50 = with "final answer ... is", -1 = off. */
  boxedPriority: number;
}

export const DEFAULT_EXTRACT_OPTIONS: ExtractOptions = { matchTypes: ['latex', 'expr'], boxedPriority: 50 };

/** What was found: parsed values (at most one) and the first candidate's text. */
export interface Extraction {
  values: MathValue[];
  fallback: string | null;
}

const MAX_TEXT = 200_000;

/** Case-insensitive literal as a character-class pattern (Node 20 has no inline (?i:)). */
function ci(s: string): string {
  return s.replace(/[a-zA-Z]/g, (ch) => `[${ch.toLowerCase()}${ch.toUpperCase()}]`);
}

function latexEnvPattern(prefix: string, context: 'boxed' | 'plain'): string {
  const percent = `(?<${prefix}percent>(?:\\\\?%|[Pp]ercent|[Pp]ercentage|[Pp]ct))`;
  let dd = '(?:[^$]|\\$(?!\\$))';
  let db = '(?:[^\\\\]|\\\\(?!\\]))';
  let id = '(?:\\\\[$]|[^\\n$])';
  let ip = '(?:[^\\\\\\n]|\\\\(?!\\)))';
  let ib = '[^\\n\\]\\[]';
  if (context === 'boxed') {
    // Same language as Math-Verify's `C*? \\boxed{ C+? } C*?` (C cannot cross the closing
    // delimiter), written so that it cannot backtrack super-linearly: an atomic
    // lookahead checks that the first \\boxed{ in the span has a } after it.
    const box = (x: string): string => `(?=(?:(?!\\\\boxed\\{)${x})*\\\\boxed\\{${x}+?\\})${x}*`;
    dd = box(dd);
    db = box(db);
    id = box(id);
    ip = box(ip);
    ib = box(ib);
  } else {
    dd += '+?';
    db += '+?';
    id += '+?';
    ip += '+?';
    ib += '+?';
  }
  const pats = [
    `(?<!\\\\)\\$\\$(?<${prefix}latexDisplayDollar>${dd})(?<!\\\\)\\$\\$`,
    `(?<!\\\\)\\\\\\[(?<${prefix}latexDisplayBracket>${db})(?<!\\\\)\\\\\\]`,
    `(?<!\\\\|\\d)\\$(?<${prefix}latexInlineDollar>${id})(?<!\\\\)\\$`,
    `(?<!\\\\)\\\\\\((?<${prefix}latexInlineParenthesis>${ip})(?<!\\\\)\\\\\\)`,
    `\\s\\[(?<${prefix}latexInlineBracket>${ib})\\]\\s`,
  ];
  if (context === 'plain') {
    const simple = '-?\\d+(?:[.,]\\d+)?';
    pats.push(`(?<${prefix}latexFraction>-?\\\\frac\\{${simple}\\}\\{${simple}\\})`);
  }
  return `(?:(?:${pats.join('|')})\\s*${percent}?)`;
}

type Kind = 'latex' | 'expr';
/** Capture index of every named group in a regex source (reading m[i] is much cheaper than building m.groups for ~200 groups). */
function groupIndices(source: string): Map<string, number> {
  const out = new Map<string, number>();
  let idx = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      continue;
    }
    if (ch !== '(') continue;
    if (source[i + 1] !== '?') {
      idx++;
      continue;
    }
    if (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
      idx++;
      const end = source.indexOf('>', i + 3);
      out.set(source.slice(i + 3, end), idx);
    }
  }
  return out;
}

interface Pattern {
  /** name -> capture index */
  groups: Map<string, number>;
  re: RegExp;
  priority: number;
  kind: Kind;
  /** A cheap test that must pass for the pattern to match at all (null: none). */
  needs: RegExp | null;
  /** A direct (non-regex) search used instead of `re` when set. */
  find: ((s: string) => Found[]) | null;
}

/** One candidate: its span and its named groups. */
interface Found {
  start: number;
  end: number;
  get: Groups;
}

/** Literal anchors a pattern cannot match without: checked before running the big regex. */
function needsFor(source: string): RegExp | null {
  if (source.startsWith(ci('final answer'))) return /final answer/i;
  if (source.startsWith(ci('answer'))) return /answer/i;
  if (source.includes('fbox')) return /\\fbox/;
  if (source.includes('boxed')) return /\\boxed/;
  return null;
}

function latexPatterns(boxedPriority: number): Pattern[] {
  let envs = latexEnvPattern('first_', 'plain');
  for (let i = 1; i <= 5; i++) envs += `(?:\\s*(?:,?and|,?or|,)\\s*${latexEnvPattern(`next${i}_`, 'plain')})?`;
  const latexRe = `(?:${envs})`;
  const answer = ci('answer');
  const out: Array<[string, number]> = [
    [`${ci('final answer is')}:?\\s*${latexRe}\\.?\\s?I hope`, 0],
    [`${ci('final answer')}.{0,100}?\\s+is:?\\s*${latexRe}`, 50],
    [`${answer}:.{0,50}?${latexRe}`, 100],
    [`${answer}.{0,50}?${latexRe}`, 200],
    [latexRe, 300],
  ];
  if (boxedPriority >= 0) {
    let boxed = latexEnvPattern('first_', 'boxed');
    for (let i = 1; i <= 5; i++) boxed += `\\s*(?:\\s*(?:,?and|,?or|,)\\s*${latexEnvPattern(`next${i}_`, 'boxed')})?`;
    out.push([boxed, boxedPriority]);
  }
  const pats: Pattern[] = out.map(([p, priority]) => ({ re: new RegExp(p, 'gs'), priority, kind: 'latex', needs: needsFor(p), groups: groupIndices(p), find: null }));
  if (boxedPriority >= 0) {
    // Math-Verify's `\\boxed{.+}` (DOTALL, greedy): one match at most, from the first
    // \\boxed{ to the last }. Found directly: the regex is quadratic on unclosed boxes.
    for (const [cmd, group] of [['\\boxed{', 'first_latexBoxed'], ['\\fbox{', 'first_latexFbox']] as const) {
      pats.push({
        re: /$^/g, priority: boxedPriority, kind: 'latex', needs: null, groups: new Map(),
        find: (s: string) => {
          const i = s.indexOf(cmd);
          const j = s.lastIndexOf('}');
          if (i < 0 || j < i + cmd.length + 1) return [];
          const text = s.slice(i, j + 1);
          return [{ start: i, end: j + 1, get: (name: string) => (name === group ? text : undefined) }];
        },
      });
    }
  }
  return pats;
}

function exprPatterns(): Pattern[] {
  const numberRe =
    '(?<!\\d)(?:' +
    '(?<integer1>-?[1-9]\\d{0,2}(?:[ ,]\\d{3})+)(?<decimal1>\\.\\d+)?|' +
    '(?<integer2>-?\\d+)(?<decimal2>[.,]\\d+)|' +
    '(?<decimal3>\\.\\d+)|' +
    '(?<integer3>-?\\d+)' +
    ')(?<percent>\\s*(?:%|[Pp]ercent|\\s*[Pp]ercentage|\\s*[Pp]ct))?';
  const ops = '\\+\\-\\*\\×\\/\\^\\(\\)\\÷';
  const allExprChars = `[\\d\\.\\s${ops}]`;
  const exprRe = `(?<expr>-?\\(?-?\\d${allExprChars}*[${ops}]${allExprChars}+\\)?)`;
  const currency = '[$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿]';
  const prefix = '(?:^|\\s|=)(?:\\*\\*)?';
  const suffix = '(?:\\*\\*)?(?:\\.|,|:|\\s|\\)|\\$|$)';
  const exprWith = `(?:${prefix}${exprRe}${suffix})`;
  const numberWith = `(?:${prefix}${currency}?${numberRe})`;
  const either = `(?:${exprWith}|${numberWith})`;
  const answer = ci('answer');
  const out: Array<[string, number]> = [
    [`${ci('final answer is')}:?\\s*${either}\\.?\\s?I hope`, 0],
    [`${ci('final answer')}.{0,100}?\\s+is:?${either}`, 50],
    [`${answer}:(?:.{0,100}=\\s*|.{0,50}?)${either}(?!\\s*=)`, 100],
    [`${answer}(?:.{0,100}=\\s*|.{0,50}?)${either}(?!\\s*=)`, 200],
    [exprWith, 300],
    [numberWith, 300],
  ];
  return out.map(([p, priority]) => ({ re: new RegExp(p, 'g'), priority, kind: 'expr', needs: needsFor(p), groups: groupIndices(p), find: null }));
}

const patternCache = new Map<string, Pattern[][]>();

/** Patterns grouped by priority, lowest first. */
function patternGroups(o: ExtractOptions): Pattern[][] {
  const key = `${[...o.matchTypes].sort().join(',')}|${o.boxedPriority}`;
  let groups = patternCache.get(key);
  if (!groups) {
    const all: Pattern[] = [];
    // latex first, as listed; a stable sort keeps that order within a priority
    for (const t of ['latex', 'expr'] as const) {
      if (!o.matchTypes.includes(t)) continue;
      all.push(...(t === 'latex' ? latexPatterns(o.boxedPriority) : exprPatterns()));
    }
    all.sort((a, b) => a.priority - b.priority);
    groups = [];
    for (const p of all) {
      const last = groups[groups.length - 1];
      if (last && last[0]!.priority === p.priority) last.push(p);
      else groups.push([p]);
    }
    patternCache.set(key, groups);
  }
  return groups;
}

function pct(v: MathValue): MathValue {
  return v.t === 'expr' ? exprValue({ k: 'pct', arg: v.e }) : v; // percent of a set or relation: kept as is
}

const LATEX_GROUPS = ['latexDisplayDollar', 'latexDisplayBracket', 'latexInlineDollar', 'latexInlineParenthesis', 'latexInlineBracket', 'latexFraction', 'latexBoxed', 'latexFbox'];

type Groups = (name: string) => string | undefined;

function groupReader(m: RegExpExecArray, idx: Map<string, number>): Groups {
  return (name) => {
    const i = idx.get(name);
    return i === undefined ? undefined : m[i];
  };
}

function extractLatexMatch(g: Groups): { value: MathValue | null; text: string } {
  const found: Array<{ latex: string; prefix: string; name: string }> = [];
  for (const prefix of ['first', 'next1', 'next2', 'next3', 'next4', 'next5']) {
    for (const name of LATEX_GROUPS) {
      const v = g(`${prefix}_${name}`);
      if (v) {
        found.push({ latex: v, prefix, name });
        break;
      }
    }
  }
  if (found.length === 0) return { value: null, text: '' };
  const values: Array<MathValue | null> = [];
  const texts: string[] = [];
  for (const f of found) {
    const normalized = normalizeLatex(f.latex, f.name === 'latexBoxed' || f.name === 'latexFbox' ? 'last' : 'all');
    texts.push(normalized);
    let v = parseLatex(normalized);
    if (v && g(`${f.prefix}_percent`)) v = pct(v);
    values.push(v);
  }
  if (values.length > 1 && values.every((v) => v !== null)) {
    const items: MathValue[] = [];
    for (const v of values as MathValue[]) {
      if (v.t === 'set') items.push(...v.items);
      else items.push(v);
    }
    return { value: { t: 'set', items }, text: texts.join(' and ') };
  }
  return { value: values[0] ?? null, text: texts[0]! };
}

function extractExprMatch(g: Groups): { value: MathValue | null; text: string } {
  const integer = g('integer1') || g('integer2') || g('integer3') || '';
  const decimal = g('decimal1') || g('decimal2') || g('decimal3') || '';
  if (integer || decimal) {
    let int = integer.replace(/[, ]/g, '');
    const negative = int.startsWith('-');
    if (negative) int = int.slice(1);
    int = int.replace(/^0+/, '');
    const dec = decimal.replace(',', '.');
    const numberStr = `${negative ? '-' : ''}${int || (dec ? '' : '0')}${dec}`;
    let e = numFromString((int || '0') + dec);
    if (negative) e = neg(e);
    let v: MathValue = exprValue(e);
    if (g('percent')) v = pct(v);
    return { value: v, text: numberStr.startsWith('.') ? `0${numberStr}` : numberStr };
  }
  const expr = g('expr') ?? '';
  if (expr) return { value: parsePlainExpr(expr), text: expr };
  return { value: null, text: expr };
}

/** The text to search: the inside of the last <answer>...</answer> block when there is one. */
function answerRegion(text: string): string {
  const i = text.lastIndexOf('<answer>');
  if (i < 0) return text;
  const j = text.indexOf('</answer>', i + 8);
  const inner = text.slice(i + 8, j < 0 ? undefined : j);
  return inner.trim().length > 0 ? inner : text;
}

/**
 * Finds and parses the answer in `text`. Returns the first candidate (in
 * priority order) that parses, plus the first candidate's text as fallback.
 */
export function extractAnswer(
  text: string,
  options: Partial<ExtractOptions> & { match_types?: readonly MatchType[]; latex_boxed_match_priority?: number } = {},
): Extraction {
  // accepts the verifier's option names (match_types, latex_boxed_match_priority) too
  const o: ExtractOptions = {
    matchTypes: options.matchTypes ?? options.match_types ?? DEFAULT_EXTRACT_OPTIONS.matchTypes,
    boxedPriority: options.boxedPriority ?? options.latex_boxed_match_priority ?? DEFAULT_EXTRACT_OPTIONS.boxedPriority,
  };
  let s = answerRegion(typeof text === 'string' ? text : '');
  if (s.length > MAX_TEXT) s = s.slice(s.length - MAX_TEXT);
  const values: MathValue[] = [];
  let fallback: string | null = null;
  for (const group of patternGroups(o)) {
    const matches: Array<Found & { kind: Kind }> = [];
    for (const p of group) {
      if (p.needs !== null && !p.needs.test(s)) continue;
      if (p.find !== null) {
        for (const f of p.find(s)) matches.push({ ...f, kind: p.kind });
        continue;
      }
      p.re.lastIndex = 0;
      for (let m = p.re.exec(s); m !== null; m = p.re.exec(s)) {
        matches.push({ start: m.index, end: m.index + m[0].length, get: groupReader(m, p.groups), kind: p.kind });
        if (m[0].length === 0) p.re.lastIndex++;
      }
    }
    if (matches.length === 0) continue;
    // rightmost end first, then leftmost start
    matches.sort((a, b) => (b.end !== a.end ? b.end - a.end : a.start - b.start));
    for (const { get: g, kind } of matches) {
      const r = kind === 'latex' ? extractLatexMatch(g) : extractExprMatch(g);
      if (r.text && fallback === null) fallback = r.text;
      if (r.value !== null) {
        values.push(r.value);
        break;
      }
    }
    if (values.length > 0) break;
  }
  return { values, fallback };
}
