import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCountdownExpression, extractCountdownAnswer } from '../../src/rewards/countdown.ts';
import { isHeldOutPair } from '../../src/tasks/arithmetic.ts';
import { countdownCorpusDocuments, numbersKey, searchText, searchTrials } from '../../src/tasks/countdown-corpus.ts';
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
});
