// Tests of answer extraction (src/rewards/extract.ts), LaTeX normalization
// (math-normalize.ts) and the parser's interpretation of answer shapes
// (math-parse.ts): which candidate wins, what it parses to.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { extractAnswer, type ExtractOptions } from '../../src/rewards/extract.ts';
import { printValue } from '../../src/rewards/math-ast.ts';
import { extractBoxedContent, normalizeLatex } from '../../src/rewards/math-normalize.ts';
import { parseLatex, parsePlainExpr } from '../../src/rewards/math-parse.ts';

function got(text: string, o: Partial<ExtractOptions> = {}): string[] {
  return extractAnswer(text, o).values.map(printValue);
}

test('boxed answers: last box, brace matching, \\fbox, nested braces', () => {
  assert.deepEqual(got('\\boxed{\\frac{1}{2}} was my first guess but it is wrong. Recomputing everything carefully gives \\boxed{\\frac{3}{4}}'), ['3/4']);
  // close boxes joined by a separator are read together, as in Math-Verify
  assert.deepEqual(got('so \\boxed{\\frac{1}{2}} and then \\boxed{\\frac{3}{4}}'), ['{1/2, 3/4}']);
  assert.deepEqual(got('The result is \\fbox{7}.'), ['7']);
  assert.deepEqual(got('$\\boxed{\\{1, 2\\}}$'), ['{1, 2}']);
  assert.deepEqual(got('\\boxed{1} and \\boxed{2} and \\boxed{3}'), ['{1, 2, 3}']);
  // far-apart boxes without a separator: only the last one counts
  assert.deepEqual(got('\\boxed{1} no no no no no \\boxed{2}'), ['2']);
});

test('latex_boxed_match_priority decides between a box and "final answer is"', () => {
  const text = 'We get \\boxed{5}. So the final answer is $6$.';
  assert.deepEqual(got(text, { boxedPriority: 0 }), ['5']);
  assert.deepEqual(got(text, { boxedPriority: 50 }), ['6']);
  assert.deepEqual(got(text, { boxedPriority: -1 }), ['6']);
  // the verifier's option names work too
  assert.deepEqual(extractAnswer(text, { latex_boxed_match_priority: 0 }).values.map(printValue), ['5']);
  assert.deepEqual(extractAnswer('x is 3 or \\(4\\)', { match_types: ['expr'] }).values.map(printValue), ['3']);
  assert.deepEqual(extractAnswer('x is 3 or \\(4\\)', { match_types: ['latex'] }).values.map(printValue), ['4']);
});

test('anchored answers win over plain numbers', () => {
  assert.deepEqual(got('Answer: 12. Later I computed 13 things.'), ['12']);
  assert.deepEqual(got('The final answer is 42', { matchTypes: ['expr'] }), ['42']);
  assert.deepEqual(got('there were 3 cats and 4 dogs'), ['4']);
});

test('LaTeX environments: $...$, $$...$$, \\(...\\), \\[...\\], and and/or lists', () => {
  assert.deepEqual(got('Answer \\[ 9 \\]', { matchTypes: ['latex'] }), ['9']);
  assert.deepEqual(got('Answer $$ 9 $$', { matchTypes: ['latex'] }), ['9']);
  assert.deepEqual(got('Answer \\( (9+1) \\)', { matchTypes: ['latex'] }), ['(9 + 1)']);
  assert.deepEqual(got('$1$ and $2$ and $3$'), ['{1, 2, 3}']);
  assert.deepEqual(got('$28$ percent'), ['(28)%']);
});

test('plain numbers: thousands separators, decimal commas, currency, units, percent', () => {
  assert.deepEqual(got('1 000', { matchTypes: ['expr'] }), ['1000']);
  assert.deepEqual(got('1,000.99$', { matchTypes: ['expr'] }), ['100099/100']);
  assert.deepEqual(got('1,22', { matchTypes: ['expr'] }), ['61/50']);
  assert.deepEqual(got('it costs $1,234 in total', { matchTypes: ['expr'] }), ['1234']);
  assert.deepEqual(got('about 1,000.99m²', { matchTypes: ['expr'] }), ['100099/100']);
  assert.deepEqual(got('28 %', { matchTypes: ['expr'] }), ['(28)%']);
  assert.deepEqual(got('AZYUK2A', { matchTypes: ['expr'] }), []);
  assert.deepEqual(got('P(A) = (1/2) * (4/3)', { matchTypes: ['expr'] }), ['(1/2 * 4/3)']);
});

test('<answer> block is searched instead of the whole completion', () => {
  assert.deepEqual(got('<think>it is 4, or maybe 5</think> <answer>7</answer>'), ['7']);
  assert.deepEqual(got('<answer></answer> but 3'), ['3']);
});

test('fallback text is the first candidate, even when nothing parses', () => {
  const e = extractAnswer('$\\int_0^1 x dx$');
  assert.equal(e.fallback, '\\int_0^1 x dx');
  assert.deepEqual(extractAnswer('no numbers here').values, []);
  assert.equal(extractAnswer('no numbers here').fallback, null);
});

test('extractBoxedContent modes', () => {
  assert.equal(extractBoxedContent('a \\boxed{1} b \\boxed{2}', 'all'), '1,2');
  assert.equal(extractBoxedContent('\\boxed{1} then many words here \\boxed{2}', 'last'), '2');
  assert.equal(extractBoxedContent('\\boxed{1}, \\boxed{2}', 'last'), '1,2');
  assert.equal(extractBoxedContent('no box', 'all'), 'no box');
  assert.equal(extractBoxedContent('\\boxed{unclosed', 'all'), '{unclosed');
});

test('normalizeLatex: units, text, fractions, percent words', () => {
  assert.equal(normalizeLatex('15\\mbox{ cm}^2'), '15');
  assert.equal(normalizeLatex('\\dfrac{1}{3} \\textbf{meters}'), '\\frac{1}{3}');
  assert.equal(normalizeLatex('\\frac13'), '\\frac{1}{3}');
  assert.equal(normalizeLatex('\\sqrt3'), '\\sqrt{3}');
  assert.equal(normalizeLatex('28 pct'), '28\\%');
  assert.equal(normalizeLatex('12\\text{ and }13'), '12,13');
  assert.equal(normalizeLatex('\\left( 1, 2 \\right)'), '( 1, 2 )');
  assert.equal(normalizeLatex('2/3'), '\\frac{2}{3}');
  assert.equal(normalizeLatex('35 cm'), '35');
});

test('parser: intervals, tuples, sets, assignments, relations, matrices, plus-minus', () => {
  const p = (s: string): string => {
    const v = parseLatex(s);
    return v === null ? 'null' : printValue(v);
  };
  assert.equal(p('(1,2)'), '(1, 2)');
  assert.equal(p('(2,1)'), 'T(2, 1)');
  assert.equal(p('[0,1)'), '[0, 1)');
  assert.equal(p('(1,2,3)'), 'T(1, 2, 3)');
  assert.equal(p('1,2,3'), '{1, 2, 3}');
  assert.equal(p('\\{3\\}'), '{3}');
  assert.equal(p('1,000'), '1000');
  assert.equal(p('n=1,2,3'), 'n = {1, 2, 3}');
  assert.equal(p('(p,q)=(3,2)'), 'T(p, q) = T(3, 2)');
  assert.equal(p('x \\in [-2,7]'), 'x = [-2, 7]');
  assert.equal(p('-2 \\le x \\le 7'), '-2 <= x & x <= 7');
  assert.equal(p('x=1/3\\approx1.3'), 'x = 1/3');
  assert.equal(p('3\\pm2'), '{(3 + 2), (3 + -2)}');
  assert.equal(p('2\\frac{1}{2}'), '5/2');
  assert.equal(p('\\begin{pmatrix}1 & 0\\\\ 0 & 1\\end{pmatrix}'), '[1, 0; 0, 1]');
  assert.equal(p('f(x)'), 'f(x)');
  assert.equal(p('x(x+1)'), '(x * (x + 1))');
  assert.equal(p('1112112_3'), '1112112');
  assert.equal(p('a = b = c'), 'a = b & b = c');
  assert.equal(p('\\frac{1}{'), 'null');
  assert.equal(parsePlainExpr('1 2'), null);
});
