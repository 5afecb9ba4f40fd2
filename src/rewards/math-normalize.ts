// LaTeX answer normalization for the math verifier: the text-level clean-up that
// runs on an extracted LaTeX span before it is parsed (boxed-content extraction,
// \left/\right, \dfrac -> \frac, units and \text{...} suffixes, "percent" words,
// malformed \frac12 / \sqrt3, a/b -> \frac{a}{b}). Its rules follow the
// semantics of Math-Verify's normalization (latex2sympy2_extended) so that
// verdicts agree with it; the code is our own.
// Not here: parsing (math-parse.ts), comparison (math-compare.ts), locating the
// answer in a long completion (extract.ts).

export type BoxedMode = 'all' | 'last' | 'none';

const BOXED_SEPARATOR = /\b(and|or)\b|,|;/;

/**
 * Content of the \boxed{...} / \fbox{...} groups of `text`, searched from the
 * right. mode 'all' joins every boxed group with ","; mode 'last' keeps going
 * left only while neighbouring boxes are close or separated by and/or/","/";".
 * Text without a box is returned unchanged.
 */
export function extractBoxedContent(text: string, mode: 'all' | 'last'): string {
  const results: string[] = [];
  let currentPos = text.length;
  let lastBoxedStart: number | null = null;
  let maxPos = text.length;
  // last occurrences before currentPos; searched again only when consumed (keeps this linear)
  let boxedIdx = text.length;
  let fboxIdx = text.length;
  for (let guard = 0; guard < 100_000; guard++) {
    if (boxedIdx >= currentPos) boxedIdx = currentPos > 0 ? text.lastIndexOf('\\boxed', currentPos - 1) : -1;
    if (fboxIdx >= currentPos) fboxIdx = currentPos > 0 ? text.lastIndexOf('\\fbox', currentPos - 1) : -1;
    if (boxedIdx < 0 && fboxIdx < 0) break;
    const startIdx = Math.max(boxedIdx, fboxIdx);
    const commandEnd = startIdx + (boxedIdx > fboxIdx ? 6 : 5);
    let next = commandEnd;
    while (next < maxPos && /\s/.test(text[next]!)) next++;
    if (next >= maxPos) break;
    if (text[next] === '{') {
      let depth = 1;
      let end = -1;
      for (let i = next + 1; i < maxPos; i++) {
        const c = text[i];
        if (c === '{') depth++;
        else if (c === '}') {
          depth--;
          if (depth === 0) {
            end = i;
            break;
          }
        }
      }
      if (end < 0) {
        if (results.length === 0) results.push(text.slice(next));
        break;
      }
      const content = text.slice(next + 1, end).trim();
      if (mode === 'last' && lastBoxedStart !== null) {
        const between = text.slice(end + 1, lastBoxedStart);
        const prev = results.length > 0 ? results[results.length - 1]! : '';
        const ok = between.length < 10 || (prev !== content && between.length < 70 && BOXED_SEPARATOR.test(between));
        if (!ok) break;
      }
      if (results.length === 0 || results[results.length - 1] !== content) results.push(content);
      lastBoxedStart = startIdx;
      maxPos = startIdx;
    } else {
      if (results.length === 0) results.push(text.slice(next));
      break;
    }
    currentPos = startIdx;
  }
  if (results.length === 0) return text;
  return results.reverse().join(',');
}

const UNITS = [
  'integerpoint', 'feet', 'sue', 'digit', 'pound', 'meal', 'edge', 'student', 'children ticket', 'multiple',
  'east', 'degree', 'mph', 'kmph', 'ft', 'm square', ' m east', 'sq m', 'deg', 'mile', 'q .', 'monkey', 'prime',
  'ratio', 'profit of rs', 'rd', 'o', 'gm', 'p . m', 'lb', 'tile', 'per', 'dm', 'lt', 'gain', 'ab', 'way', 'west',
  'a .', 'b .', 'c .', 'd .', 'e .', 'f .', 'g .', 'h .', 't', 'h', 'no change', 'men', 'soldier', 'pie', 'bc',
  'excess', 'st', 'inches', 'noon', 'cent', 'by', 'gal', 'kmh', 'c', 'acre', 'rise', 'a . m', 'th', 'π r 2', 'sq',
  'mark', 'l', 'toy', 'coin', 'sq . m', 'gallon', '° f', 'profit', 'minw', 'yr', 'women', 'am', 'pm', 'hr',
  'cu cm', 'square', 'v â € ™', 'are', 'rupee', 'rounds', 'cubic', 'cc', 'mtr', 's', 'ohm', 'number', 'kmph', 'day',
  'hour', 'minute', 'min', 'second', 'man', 'woman', 'sec', 'cube', 'mt', 'sq inch', 'mp', '∏ cm ³', 'hectare',
  'more', 'sec', 'unit', 'cu . m', 'cm 2', 'rs .', 'rs', 'kg', 'g', 'month', 'km', 'm', 'cm', 'mm', 'apple',
  'liter', 'loss', 'yard', 'pure', 'year', 'increase', 'decrease', 'd', 'less', 'Surface', 'litre', 'pi sq m',
  's .', 'metre', 'meter', 'inch',
];
const UNITS_RE = new RegExp(`(\\d|\\}|\\s)\\s*(?:(?:${UNITS.join('|')})(?:s|es)?)\\s*$`);
const UNIT_SUPERSCRIPT_RE = /(\\(?:text|mbox)\{.*?\})(\^\d|\{\^\d\})?$/;

const LEFT_RE = /\\m?left(\\\{|\{|\\\||\||\[|\(|\\rbracl|\\lgroup|\\lbrace|\\lbrack|\\vert|\\lvert|\\lceil|\\lfloor|\\vert|\\lvert|\\langle|\\llcorner|\\ulcorner)/g;
const RIGHT_RE = /\\m?right(\\\}|\}|\\\||\||\]|\)|\\rbrack|\\rgroup|\\rbrace|\\rbrack|\\vert|\\rvert|\\rceil|\\rfloor|\\vert|\\rvert|\\rangle|\\lrcorner|\\urcorner)/g;
const PERMUTATION_RE = /\(([a-zA-Z0-9+\-*/\\ ]+?)\)_\{([a-zA-Z0-9+\-*/\\ ]+?)\}/g;
const TO_REMOVE_RE = /\\mathrm\{th\}|\\!\s*|\\text\s*\{\s*\}|\\\$|\$|(?<!\\)["']|\\displaystyle/g;

// One alternation, tried left to right at each position, like a single regex
// with named groups: the first alternative that matches wins.
const REPLACEMENTS: Array<[string, string]> = [
  ['\\\\math(?:rm|it|bf)', '\\text'],
  ['\\\\text(?:normal|bf|it|rm)', '\\text'],
  ['\\\\(?:d|t|c)frac', '\\frac'],
  ['\\s\\.', ' 0.'],
  ['\\{\\.', '{0.'],
  ['~=', '\\approx'],
  ['\\s*\\{\\s*,\\s*\\}', ','],
  ['(?<![a-zA-Z])(?:,?\\s*(?:and|or))(?![a-zA-Z])', ','],
  ['(?:,?\\s*\\\\text\\{\\s*(?:and|or)\\s*\\})', ','],
  ['(?<!\\\\)\\\\\\s', ' '],
  ['infinity', '\\infty'],
  [',?(?:\\\\ldots)', ' '],
  ['\\s*\\bpercentage\\b', '\\%'],
  ['\\\\text\\{percentage\\}', '%'],
  ['\\s*\\bpercent\\b', '\\%'],
  ['\\\\text\\{percent\\}', '%'],
  ['\\s*\\bpct\\b', '\\%'],
  ['\\\\text\\{pct\\}', '%'],
  ['(?:(?<!\\\\)inf(?!inity))', '\\infty'],
  [' sqrt', '\\sqrt'],
];
const REPLACE_RE = new RegExp(REPLACEMENTS.map(([p], i) => `(?<r${i}>${p})`).join('|'), 'g');

function replaceInLatex(text: string): string {
  return text.replace(REPLACE_RE, (...args: unknown[]) => {
    const groups = args[args.length - 1] as Record<string, string | undefined>;
    for (let i = 0; i < REPLACEMENTS.length; i++) if (groups[`r${i}`] !== undefined) return REPLACEMENTS[i]![1];
    return String(args[0]);
  });
}

const MALFORMED: Array<[RegExp, string]> = [
  [/\^\s?\((.*?)\)/g, '^{$1}'],
  [/sqrt\s?\((.*?)\)/g, '\\sqrt{$1}'],
  [/\\frac\s?(\d)\s?(\d+)/g, '\\frac{$1}{$2}'],
  [/\\log_\s?(\d)\s?(\d+)/g, '\\log_{$1}{$2}'],
  [/\\frac\s?\{(.*?)\}\s?(\d)/g, '\\frac{$1}{$2}'],
  [/\\frac\s?(\d)\s?\{(.*?)\}/g, '\\frac{$1}{$2}'],
  [/\\sqrt\s?(\d)/g, '\\sqrt{$1}'],
];

function fixSqrt(text: string): string {
  if (!text.includes('\\sqrt')) return text;
  const parts = text.split('\\sqrt');
  let out = parts[0]!;
  for (const raw of parts.slice(1)) {
    const s = raw.trimStart();
    if (s.length > 0 && s[0] !== '{' && s[0] !== '[') out += '\\sqrt{' + s[0] + '}' + s.slice(1);
    else out += '\\sqrt' + s;
  }
  return out;
}

function fixFracs(text: string): string {
  const parts = text.split('\\frac');
  let out = parts[0]!;
  for (const raw of parts.slice(1)) {
    const s = raw.trimStart();
    out += '\\frac';
    if (s.length > 0 && s[0] === '{') out += s;
    else if (s.length < 2) return text;
    else {
      const a = s[0]!;
      const b = s[1]!;
      if (b !== '{') out += '{' + a + '}{' + b + '}' + s.slice(2);
      else out += '{' + a + '}' + b + s.slice(2);
    }
  }
  return out;
}

function fixASlashB(text: string): string {
  const parts = text.split('/');
  if (parts.length !== 2) return text;
  if (/^-?\d+$/.test(parts[0]!) && /^-?\d+$/.test(parts[1]!)) {
    const a = BigInt(parts[0]!);
    const b = BigInt(parts[1]!);
    if (text === `${a}/${b}`) return `\\frac{${a}}{${b}}`;
  }
  return text;
}

/**
 * Normalizes one extracted LaTeX span the way the verifier's parser expects it.
 * `boxed` chooses which \boxed{} contents are kept ('all' joins them, 'last'
 * keeps the final run, 'none' leaves boxes in place).
 */
export function normalizeLatex(input: string, boxed: BoxedMode = 'all'): string {
  let text = input;
  if (boxed !== 'none') text = extractBoxedContent(text, boxed);
  // basic latex
  text = text.split('\\mathrm{T}').join('T');
  text = text.split('\\mathrm{d}').join('d').split('{\\rm d}').join('d');
  text = text.split('\\left[\\begin{matrix}').join('\\begin{bmatrix}').split('\\end{matrix}\\right]').join('\\end{bmatrix}');
  text = text.replace(LEFT_RE, '$1').replace(RIGHT_RE, '$1');
  text = text.replace(PERMUTATION_RE, '\\frac{($1)!}{(($1)-($2))!}');
  text = text.replace(TO_REMOVE_RE, '');
  text = replaceInLatex(text);
  text = text.replace(/\n/g, ' ').replace(/\t/g, ' ');
  if (!text.includes('matrix')) text = text.replace(/\\\\(?=[a-zA-Z])/g, '\\');
  // units
  {
    const t = text.replace(UNIT_SUPERSCRIPT_RE, '').trim();
    if (t !== '' && t !== text) text = t;
    for (let i = 0; i < 2; i++) {
      const u = text.replace(UNITS_RE, '$1');
      if (u !== '' && u !== text) text = u;
    }
  }
  // nits
  if (text.length > 0 && text[0] === '.') text = '0' + text;
  if (text === '0.5') text = '\\frac{1}{2}';
  // malformed operators
  for (const [re, rep] of MALFORMED) text = text.replace(re, rep);
  text = text.split(' sqrt').join('\\sqrt');
  text = fixSqrt(text);
  text = fixFracs(text);
  text = fixASlashB(text);
  return text.trim();
}
