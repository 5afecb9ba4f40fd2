import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { checkCountdownExpression, extractCountdownAnswer } from '../../src/rewards/countdown.ts';
import { isHeldOutPair } from '../../src/tasks/arithmetic.ts';
import { columnWork, countdownCorpusDocuments, guessText, numbersKey, searchText, searchTrials } from '../../src/tasks/countdown-corpus.ts';
import { reflectionCount } from '../../src/train/grpo.ts';
import { COUNTDOWN_AHA_BASE_OPTIONS, COUNTDOWN_BASE_OPTIONS, COUNTDOWN_COLUMNS_BASE_OPTIONS } from '../../src/train/zero-base.ts';
import { countdownParts, countdownTask } from '../../src/tasks/countdown.ts';
import { sharedDataDir, skipWithoutData } from '../data.ts';

const skip = skipWithoutData();

/** Every positive value of ±a ±b ±c (an independent reference for what + and − can reach). */
function reachable(ns: readonly number[]): Set<number> {
  const out = new Set<number>();
  for (const s of [[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) {
    const v = s[0] * ns[0] + s[1] * ns[1] + s[2] * ns[2];
    if (v > 0) out.add(v);
  }
  return out;
}

/** Every "x + y = z" / "x - y = z" written as its own step (not the tail of a longer expression). */
function arithmeticSteps(text: string): RegExpMatchArray[] {
  return [...text.matchAll(/(?<![\d)] [+-] )(?<![\d(])(\d+) ([+-]) (\d+) = (\d+)/g)];
}

const noHeld = { heldOut: [] };

/**
 * What a column-written step says, read independently of the corpus's code: every column's one-digit
 * equation must be true ("7+9=16", "6+4+1=11", "13-9-1=3": ten borrowed, one borrow paid), its
 * digits must be the operands' digits in order, units first, with the carry or borrow of the column
 * before, and the result must be the columns' last digits read backwards (and a final carry).
 * Returns the step as plain "a op b = v", or throws naming what is wrong.
 */
function readColumnStep(a: number, op: string, b: number, cols: string, v: number): string {
  const da = [...String(a)].reverse().map(Number);
  const db = [...String(b)].reverse().map(Number);
  const parts = cols.split(', ');
  assert.equal(parts.length, Math.max(da.length, db.length), `${a} ${op} ${b}: ${cols}: one column per digit`);
  let carry = 0;
  const digits: number[] = [];
  parts.forEach((c, i) => {
    const m = op === '+' ? /^(\d)\+(\d)(\+1)?=(\d+)$/.exec(c) : /^(1?\d)-(\d)(-1)?=(\d)$/.exec(c);
    assert.ok(m, `${a} ${op} ${b}: column '${c}' is not a one-digit ${op} fact`);
    const [x, y, extra, r] = [Number(m[1]), Number(m[2]), m[3] !== undefined ? 1 : 0, Number(m[4])];
    assert.equal(extra, carry, `${a} ${op} ${b}: column ${i} ('${c}') takes the previous column's ${op === '+' ? 'carry' : 'borrow'}`);
    if (op === '+') {
      assert.deepEqual([x, y], [da[i] ?? 0, db[i] ?? 0], `${a} + ${b}: column ${i} ('${c}') digits`);
      assert.equal(x + y + extra, r, `'${c}' is false`);
      carry = r >= 10 ? 1 : 0;
    } else {
      const borrowed = x >= 10;
      assert.deepEqual([x - (borrowed ? 10 : 0), y], [da[i] ?? 0, db[i] ?? 0], `${a} - ${b}: column ${i} ('${c}') digits`);
      assert.equal(x - y - extra, r, `'${c}' is false`);
      assert.ok(borrowed === ((da[i] ?? 0) - y - extra < 0), `${a} - ${b}: column ${i} ('${c}') borrows exactly when it must`);
      carry = borrowed ? 1 : 0;
    }
    digits.push(r % 10);
  });
  if (op === '+' && carry) digits.push(1);
  assert.equal(carry && op === '-' ? -1 : Number(digits.reverse().join('')), v, `${a} ${op} ${b}: ${cols}, so ${v}: the columns give another result`);
  assert.equal(op === '+' ? a + b : a - b, v, `${a} ${op} ${b} is not ${v}`);
  return `${a} ${op} ${b} = ${v}`;
}

/** Every column-written step "a op b: <columns>, so v", checked by readColumnStep, as plain steps. */
function columnSteps(text: string): string[] {
  return [...text.matchAll(/(\d+) ([+-]) (\d+): ((?:[\d+=-]+, )*[\d+=-]+), so (\d+)/g)].map((m) => readColumnStep(Number(m[1]), m[2], Number(m[3]), m[4], Number(m[5])));
}

test('the search: a hand-made example, every wording', () => {
  const r = searchTrials([30, 100, 93], 23);
  assert.deepEqual(r.pairs.map((p) => [p.left, p.op, p.right, p.value]), [[30, '+', 100, 130], [100, '-', 30, 70]]);
  assert.deepEqual(r.found, { left: 93, op: '-', right: 70, value: 23, expression: '93 - (100 - 30)' });
  assert.equal(
    searchText([30, 100, 93], 23, 0),
    'Try 30 + 100 = 130. 130 + 93 = 223, not 23. 130 - 93 = 37, not 23. Try 100 - 30 = 70. 70 + 93 = 163, not 23. 93 - 70 = 23. Found it.',
  );
  assert.equal(searchText([12, 5, 3], 14, 1), '12 + 5 = 17: 17 + 3 = 20 (no), 17 - 3 = 14 (yes).');
  assert.equal(searchText([12, 5, 3], 20, 2), 'First 12 + 5 = 17, and 17 + 3 = 20 is the target.');
  // no answer with + and −: every trial is written and the search says so
  assert.equal(searchTrials([2, 3, 7], 42).found, null);
  assert.match(searchText([2, 3, 7], 42, 0), /None gives 42\.$/);
});

test('the search finds exactly what + and − can reach, and its answer passes the countdown verifier', () => {
  for (let a = 1; a <= 40; a += 3) for (let b = 1; b <= 40; b += 4) for (let c = 1; c <= 40; c += 5) {
    const reach = reachable([a, b, c]);
    // all four trials (no target stops the search): right arithmetic, never negative, and each
    // trial's equation on the three numbers has the trial's value by the real verifier
    const all = searchTrials([a, b, c], -1);
    assert.equal(all.found, null);
    for (const p of all.pairs) assert.equal(p.value, p.op === '+' ? p.left + p.right : p.left - p.right);
    for (const x of all.pairs.flatMap((p) => p.trials)) {
      assert.equal(x.value, x.op === '+' ? x.left + x.right : x.left - x.right);
      assert.ok(x.value >= 0, 'no negative intermediate');
      const check = checkCountdownExpression([a, b, c], x.value, x.expression);
      if (!check.ok) assert.fail(`${x.expression} = ${x.value}: ${check.detail}`);
    }
    for (let t = 1; t <= 90; t++) {
      const { pairs, found } = searchTrials([a, b, c], t);
      const trials = pairs.flatMap((p) => p.trials);
      assert.equal(found !== null, reach.has(t), `[${a}, ${b}, ${c}] → ${t}`);
      // the search stops at its first hit; every earlier trial missed
      if (found) assert.equal(trials[trials.length - 1], found);
      for (const x of trials.slice(0, found ? -1 : undefined)) assert.notEqual(x.value, t);
    }
  }
});

test('every document: right arithmetic, a right final equation (real verifier), no template, no <think>', () => {
  const kinds = new Map<string, number>();
  let n = 0;
  for (const d of countdownCorpusDocuments(4, noHeld)) {
    if (++n > 3000) break;
    kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
    assert.ok(!d.text.includes('<think>') && !d.text.includes('</think>') && !d.text.includes('A conversation between'), d.text);
    assert.ok(!/think/i.test(d.text), d.text);
    for (const m of arithmeticSteps(d.text)) {
      assert.equal(m[2] === '+' ? Number(m[1]) + Number(m[3]) : Number(m[1]) - Number(m[3]), Number(m[4]), `${m[0]} in: ${d.text}`);
      if (m[2] === '+') assert.ok(!isHeldOutPair(Number(m[1]), Number(m[3])), `arithmetic held-out pair in: ${d.text}`);
    }
    for (const m of d.text.matchAll(/(\d+) plus (\d+) is (\d+)/g)) assert.equal(Number(m[1]) + Number(m[2]), Number(m[3]), d.text);
    for (const m of d.text.matchAll(/(\d+) minus (\d+) is (\d+)/g)) assert.equal(Number(m[1]) - Number(m[2]), Number(m[3]), d.text);
    if (d.kind === 'facts') continue;
    assert.ok(d.item, d.text);
    const { numbers, target } = d.item;
    assert.ok(numbers.every((x) => x >= 1 && x <= 100) && target >= 1 && target <= 100, d.text);
    // the equation the document answers with: inside <answer>, another tag, or after its last words
    const body = d.text.replace('Return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.', '');
    const answer =
      extractCountdownAnswer(body) ??
      (d.kind === 'tagged' ? /<(\w+)>([^<]*)<\/\1>\s*$/.exec(body)?.[2] : undefined) ??
      /(?:[Tt]he answer is |Answer: |It is |Assistant: |A: |So |\n|\? |\. )([\d ()+-]+(?: = \d+)?)\.?$/.exec(body)?.[1];
    assert.ok(answer !== undefined, `no answer found in: ${d.text}`);
    const check = checkCountdownExpression(numbers, target, answer.trim());
    if (!check.ok) assert.fail(`${answer}: ${check.detail} in: ${d.text}`);
    if (d.kind === 'search') {
      // the search in the text is the search of the item, ending on the target
      const steps = arithmeticSteps(d.text.slice(0, d.text.lastIndexOf(answer)));
      const { pairs, found } = searchTrials(numbers, target);
      const want = pairs.flatMap((p) => [p, ...p.trials]).map((x) => `${x.left} ${x.op} ${x.right} = ${x.value}`);
      assert.deepEqual(steps.map((m) => m[0]), want, d.text);
      assert.ok(found && Number(steps[steps.length - 1][4]) === target);
    }
  }
  for (const k of ['search', 'direct', 'tagged', 'facts', 'prose']) assert.ok((kinds.get(k) ?? 0) > 100, `kind ${k}: ${kinds.get(k)}`);
});

test('column work: hand-made examples, and every a ± b up to 300 read back by an independent reader', () => {
  assert.equal(columnWork(167, '+', 49), '7+9=16, 6+4+1=11, 1+0+1=2');
  assert.equal(columnWork(130, '-', 93), '10-3=7, 13-9-1=3, 1-0-1=0');
  assert.equal(columnWork(93, '-', 70), '3-0=3, 9-7=2');
  assert.equal(columnWork(4, '+', 88), '4+8=12, 0+8+1=9');
  assert.equal(columnWork(100, '-', 1), '10-1=9, 10-0-1=9, 1-0-1=0');
  for (let a = 0; a <= 300; a++) {
    for (let b = 0; b <= 300; b += 7) {
      readColumnStep(a, '+', b, columnWork(a, '+', b), a + b);
      if (a >= b) readColumnStep(a, '-', b, columnWork(a, '-', b), a - b);
    }
  }
  // the reader can fail: a wrong column, a missing carry, a wrong result
  assert.throws(() => readColumnStep(167, '+', 49, '7+9=16, 6+4=10, 1+0+1=2', 216), /carry/);
  assert.throws(() => readColumnStep(167, '+', 49, '7+9=15, 6+4+1=11, 1+0+1=2', 216), /false/);
  assert.throws(() => readColumnStep(167, '+', 49, '7+9=16, 6+4+1=11, 1+0+1=2', 226), /another result/);
  assert.throws(() => readColumnStep(93, '-', 70, '13-0=13, 9-7=2', 23), /not a one-digit/);
  assert.throws(() => columnWork(3, '-', 5), /expected non-negative integers \(and a >= b for -\)/);
});

test('the search written in columns: a hand-made example, every wording', () => {
  assert.equal(
    searchText([30, 100, 93], 23, 0, 'columns'),
    'Try 30 + 100: 0+0=0, 3+0=3, 0+1=1, so 130. 130 + 93: 0+3=3, 3+9=12, 1+0+1=2, so 223 vs 23: no. ' +
      '130 - 93: 10-3=7, 13-9-1=3, 1-0-1=0, so 37 vs 23: no. Try 100 - 30: 0-0=0, 10-3=7, 1-0-1=0, so 70. ' +
      '70 + 93: 0+3=3, 7+9=16, so 163 vs 23: no. 93 - 70: 3-0=3, 9-7=2, so 23 vs 23: yes. Found it.',
  );
  assert.equal(searchText([12, 5, 3], 14, 1, 'columns'), '12 + 5: 2+5=7, 1+0=1, so 17; 17 + 3: 7+3=10, 1+0+1=2, so 20 vs 14: no; 17 - 3: 7-3=4, 1-0=1, so 14 vs 14: yes.');
  assert.equal(searchText([12, 5, 3], 20, 2, 'columns'), 'First 12 + 5: 2+5=7, 1+0=1, so 17, and 17 + 3: 7+3=10, 1+0+1=2, so 20 vs 20: yes.');
});

test('the corpus in columns: every step read back right, each search the item\'s, each answer right (real verifier)', () => {
  const kinds = new Map<string, number>();
  let n = 0;
  let steps = 0;
  let restated = 0;
  for (const d of countdownCorpusDocuments(5, { heldOut: [], steps: 'columns', restate: 0.5, mix: { restate: 0.1 } })) {
    if (++n > 2000) break;
    kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
    assert.ok(!/think/i.test(d.text), d.text);
    const written = columnSteps(d.text);
    steps += written.length;
    if (d.kind === 'facts') {
      assert.ok(written.length >= 2, d.text);
      // nothing else written as a plain step
      assert.deepEqual(arithmeticSteps(d.text), [], d.text);
      for (const w of written) if (w.includes('+')) assert.ok(!isHeldOutPair(...(w.split(/ [+=] /).map(Number) as [number, number])), `held-out pair in: ${d.text}`);
      continue;
    }
    const { numbers, target } = d.item!;
    // a restatement copies the question's numbers in order, and its target
    const [a, b, c] = numbers;
    const restatement = new RegExp(
      `(?:The numbers are ${a}, ${b} and ${c}; the target is ${target}\\.|Numbers: ${a}, ${b}, ${c}\\. Target: ${target}\\.|We have ${a}, ${b}, ${c} and want ${target}\\.|\\[${a}, ${b}, ${c}\\], target ${target}\\.)`,
    );
    if (d.kind === 'restate') assert.match(d.text, new RegExp(`${restatement.source}$`), d.text);
    if (d.kind !== 'search') continue;
    // half the searches restate the numbers first
    const tail = d.text.slice(d.text.search(/\n|\? |\. /));
    if (restatement.test(tail)) restated++;
    const { pairs } = searchTrials(numbers, target);
    // every verdict is the comparison it writes: yes exactly when the value is the target
    const verdicts = [...d.text.matchAll(/so (\d+) vs (\d+): (yes|no)/g)];
    assert.equal(verdicts.length, written.length - pairs.length, d.text);
    for (const v of verdicts) assert.equal(v[3] === 'yes', v[1] === v[2], `${v[0]} in: ${d.text}`);
    assert.ok(verdicts.every((v) => Number(v[2]) === target), d.text);
    assert.deepEqual(written, pairs.flatMap((p) => [p, ...p.trials]).map((x) => `${x.left} ${x.op} ${x.right} = ${x.value}`), d.text);
    const body = d.text.replace('Return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.', '');
    const answer = extractCountdownAnswer(body) ?? /(?:So the answer is |Answer: )([\d ()+-]+?)(?: = \d+)?\.?$/.exec(body)?.[1];
    assert.ok(answer !== undefined, d.text);
    const check = checkCountdownExpression(numbers, target, answer.replace(/ = \d+\s*$/, '').trim());
    if (!check.ok) assert.fail(`${answer}: ${check.detail} in: ${d.text}`);
  }
  assert.ok((kinds.get('search') ?? 0) > 300 && (kinds.get('facts') ?? 0) > 300 && (kinds.get('restate') ?? 0) > 100, JSON.stringify([...kinds]));
  const searches = kinds.get('search')!;
  assert.ok(restated > 0.4 * searches && restated < 0.6 * searches, `${restated} of ${searches} searches restate their numbers`);
  assert.ok(steps > 5000, `${steps} column steps read`);
  // the plain corpus writes no column step
  let plain = 0;
  for (const d of countdownCorpusDocuments(5, noHeld)) {
    if (++plain > 300) break;
    assert.deepEqual(columnSteps(d.text), [], d.text);
  }
});

test('a guess: hand-made examples, unchecked, checked and right, checked and wrong (then the other trials)', () => {
  assert.equal(guessText([30, 100, 93], 23, '93 - (100 - 30)', false, 'Maybe', 0, 'columns'), 'Maybe 93 - (100 - 30).');
  assert.equal(
    guessText([30, 100, 93], 23, '93 - (100 - 30)', true, 'Maybe', 0, 'columns'),
    'Maybe 93 - (100 - 30). Wait, let me check: 100 - 30: 0-0=0, 10-3=7, 1-0-1=0, so 70. 93 - 70: 3-0=3, 9-7=2, so 23 vs 23: yes.',
  );
  assert.equal(
    guessText([30, 100, 93], 23, '30 + 100 - 93', true, 'Say', 1, 'plain'),
    'Say 30 + 100 - 93. Wait, let me check: 30 + 100 = 130. 130 - 93 = 37 vs 23: no. Try again. 30 + 100 = 130: 130 + 93 = 223 (no). 100 - 30 = 70: 70 + 93 = 163 (no), 93 - 70 = 23 (yes).',
  );
  assert.throws(() => guessText([30, 100, 93], 23, '30 * 100 - 93', true, 'Say', 1), /30 \* 100 - 93 is not a trial of the search over \[30, 100, 93\]/);
});

test('the guess corpus: unchecked guesses are the answer and never reflect; checks are honest, in columns, and a "no" searches the other trials', () => {
  const opts = COUNTDOWN_AHA_BASE_OPTIONS.countdown!.corpus!;
  let n = 0;
  const count = { guess: 0, checked: 0, checkedRight: 0, reflective: 0 };
  for (const d of countdownCorpusDocuments(6, { ...opts, heldOut: [] })) {
    if (++n > 3000) break;
    const reflective = reflectionCount(d.text) > 0;
    if (d.kind !== 'guess') {
      // no other kind of the aha corpus holds a reflection word: checking is the guesses' alone
      assert.ok(!reflective, d.text);
      continue;
    }
    count.guess++;
    const { numbers, target } = d.item!;
    const guessed = /(?:Maybe|I guess|Perhaps|Say) ([\d ()+-]+)\./.exec(d.text)?.[1];
    assert.ok(guessed !== undefined, d.text);
    // the guess is one of the four trials' equations on the item's numbers (real verifier)
    const allPairs = searchTrials(numbers, -1).pairs;
    const trials = allPairs.flatMap((p) => p.trials);
    const trial = trials.find((t) => t.expression === guessed);
    assert.ok(trial, `${guessed} is not a trial of [${numbers}] in: ${d.text}`);
    assert.ok(checkCountdownExpression(numbers, trial.value, guessed).ok, d.text);
    const body = d.text.replace('Return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.', '');
    const answer = extractCountdownAnswer(body) ?? /(?:So the answer is |Answer: )([\d ()+-]+?)(?: = \d+)?\.?$/.exec(body)?.[1];
    assert.ok(answer !== undefined, d.text);
    const right = checkCountdownExpression(numbers, target, answer.replace(/ = \d+\s*$/, '').trim());
    if (!right.ok) assert.fail(`${answer}: ${right.detail} in: ${d.text}`);
    const checked = d.text.includes('Wait, let me check: ');
    assert.equal(reflective, checked, d.text);
    if (!checked) {
      // an unchecked guess is the answer itself, with no work written
      assert.equal(answer.replace(/ = \d+\s*$/, '').trim(), guessed, d.text);
      assert.deepEqual(columnSteps(d.text), [], d.text);
      continue;
    }
    count.checked++;
    // the check computes the guess (read back column by column), and its verdict is the comparison it writes
    const check = d.text.slice(d.text.indexOf('Wait, let me check: '));
    const written = columnSteps(check);
    const pair = allPairs.find((p) => p.trials.includes(trial))!;
    assert.deepEqual(written.slice(0, 2), [pair, trial].map((x) => `${x.left} ${x.op} ${x.right} = ${x.value}`), d.text);
    const verdict = /so (\d+) vs (\d+): (yes|no)\./.exec(check)!;
    assert.equal(Number(verdict[1]), trial.value, d.text);
    assert.equal(Number(verdict[2]), target, d.text);
    assert.equal(verdict[3] === 'yes', trial.value === target, d.text);
    if (trial.value === target) {
      count.checkedRight++;
      assert.equal(written.length, 2, d.text);
      assert.ok(!d.text.includes('Try again.'), d.text);
    } else {
      // "Try again." and the search without the rejected trial, ending on the target
      assert.ok(check.includes(' Try again. '), d.text);
      const { pairs } = searchTrials(numbers, target);
      const want = pairs.flatMap((p) => [p, ...p.trials.filter((t) => t.expression !== guessed)]).map((x) => `${x.left} ${x.op} ${x.right} = ${x.value}`);
      assert.deepEqual(written.slice(2), want, d.text);
      assert.equal(written[written.length - 1].endsWith(` = ${target}`), true, d.text);
    }
  }
  assert.ok(count.guess > 1200, JSON.stringify(count));
  // checks are occasional (30% of guesses), and a checked guess is right 30% of the time
  assert.ok(Math.abs(count.checked / count.guess - 0.3) < 0.04, JSON.stringify(count));
  assert.ok(Math.abs(count.checkedRight / count.checked - 0.3) < 0.07, JSON.stringify(count));
});

test('the shipped countdown bases\' corpus streams are unchanged by the guess kind (pinned hashes)', () => {
  // pinned from the code that built assets/countdown-base (C3) and base K, before the guess kind existed
  const hash = (o: object | undefined) => {
    const h = createHash('sha256');
    let n = 0;
    for (const d of countdownCorpusDocuments(2, { ...o, heldOut: [] })) {
      h.update(`${d.kind}${d.text}\n`);
      if (++n >= 3000) break;
    }
    return h.digest('hex');
  };
  assert.equal(hash(COUNTDOWN_COLUMNS_BASE_OPTIONS.countdown!.corpus), '0142e3d7ae156be4591c239b5fe5d27b30411e32e643321971ab1cf2f8ffff35');
  assert.equal(hash(COUNTDOWN_BASE_OPTIONS.countdown!.corpus), '087f684cc89d20fe93afbf022dd7c7177883294fc24444ba61d8cdc3bfbf86bf');
});

test('held-out items are never drawn, in any order, whatever the target', () => {
  // a tiny range, so that without the exclusion the held-out multisets would come up often
  const heldOut = [{ numbers: [1, 2, 3], target: 6 }, { numbers: [4, 4, 2], target: 99 }];
  const held = new Set(heldOut.map((h) => numbersKey(h.numbers)));
  let n = 0;
  let withItem = 0;
  for (const d of countdownCorpusDocuments(7, { maxNumber: 4, heldOut })) {
    if (++n > 3000) break;
    if (!d.item) continue;
    withItem++;
    assert.ok(!held.has(numbersKey(d.item.numbers)), d.text);
  }
  assert.ok(withItem > 1000);
  // and without the exclusion they do come up (the check above can fail)
  let seen = 0;
  n = 0;
  for (const d of countdownCorpusDocuments(7, { maxNumber: 4, heldOut: [] })) {
    if (++n > 3000) break;
    if (d.item && held.has(numbersKey(d.item.numbers))) seen++;
  }
  assert.ok(seen > 10, `held-out multisets drawn ${seen} times without the exclusion`);
});

test('no cd3_test item in the corpus (the default held-out set)', { skip }, () => {
  const dataDir = sharedDataDir()!;
  const items = countdownTask({ dataDir }).heldOut(1000).map((it) => countdownParts(it));
  assert.equal(items.length, 256);
  const held = new Set(items.map((x) => numbersKey(x.numbers)));
  // every order of every held-out triple, as the question wordings write numbers
  const perms = (ns: number[]) => [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]].map((p) => p.map((i) => ns[i]));
  const written = items.flatMap((x) => perms(x.numbers)).flatMap((p) => [`[${p.join(', ')}]`, `${p[0]}, ${p[1]} and ${p[2]} `, `with ${p.join(', ')}.`, `Numbers: ${p.join(', ')}.`]);
  let n = 0;
  for (const d of countdownCorpusDocuments(11, { dataDir })) {
    if (++n > 800) break;
    if (d.item) assert.ok(!held.has(numbersKey(d.item.numbers)), d.text);
    for (const w of written) assert.ok(!d.text.includes(w), `held-out numbers ${w} in: ${d.text}`);
  }
});

test('seeded: the same seed gives the same documents, another seed others', () => {
  const take = (seed: number) => {
    const out: string[] = [];
    for (const d of countdownCorpusDocuments(seed, noHeld)) {
      out.push(d.text);
      if (out.length === 50) break;
    }
    return out;
  };
  assert.deepEqual(take(3), take(3));
  assert.notDeepEqual(take(3), take(4));
});

test('bad options are named', () => {
  assert.throws(() => countdownCorpusDocuments(1, { maxNumber: 2, heldOut: [] }).next(), /maxNumber=2: expected an integer in \[4, 999\]/);
  assert.throws(() => countdownCorpusDocuments(1, { mix: { search: -1 }, heldOut: [] }).next(), /mix shares must be non-negative/);
  assert.throws(() => searchTrials([1, 2], 3), /expected 3 numbers/);
  assert.throws(() => countdownCorpusDocuments(1, { steps: 'rows' as 'plain', heldOut: [] }).next(), /steps=rows: expected plain or columns/);
  assert.throws(() => countdownCorpusDocuments(1, { restate: 2, heldOut: [] }).next(), /restate=2: expected a share in \[0, 1\]/);
  assert.throws(() => countdownCorpusDocuments(1, { guessCheck: -0.1, heldOut: [] }).next(), /guessCheck=-0.1: expected a share in \[0, 1\]/);
  assert.throws(() => countdownCorpusDocuments(1, { guessRight: NaN, heldOut: [] }).next(), /guessRight=NaN: expected a share in \[0, 1\]/);
});
