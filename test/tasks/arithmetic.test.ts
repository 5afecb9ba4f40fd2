import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Rng } from '../../src/core/rng.ts';
import { additionTask, columns, extractInteger, isHeldOutPair } from '../../src/tasks/arithmetic.ts';
import { editDistance, hasR1Form } from '../../src/tasks/grade.ts';
import { corpusDocuments, workedSteps, workedStepsRedo } from '../../src/tasks/arithmetic-corpus.ts';

test('columns of the addition procedure, carries included', () => {
  assert.deepEqual(columns(357, 486).map((c) => [c.sum, c.digit, c.carryOut]), [[13, 3, 1], [14, 4, 1], [8, 8, 0]]);
  assert.deepEqual(columns(999, 1).map((c) => c.digit), [0, 0, 0]);
  assert.equal(workedSteps(357, 486, 0, false), '7+6=13, write 3 carry 1. 5+8+1=14, write 4 carry 1. 3+4+1=8, write 8.');
  assert.equal(workedSteps(950, 50, 1, false), 'ones: 0+0=0, digit 0. tens: 5+5=10, digit 0, carry 1. hundreds: 9+0+1=10, digit 0, carry 1. thousands: 1.');
  for (let a = 0; a < 1200; a += 37) for (let b = 0; b < 1200; b += 53) {
    const cols = columns(a, b);
    const digits = cols.map((c) => c.digit).reverse().join('');
    assert.equal(Number((cols[cols.length - 1].carryOut ? '1' : '') + digits), a + b);
  }
});

test('held-out pairs: about 5%, symmetric, never drawn for training', () => {
  let held = 0;
  for (let a = 100; a < 1000; a += 7) for (let b = 100; b < 1000; b += 3) {
    if (isHeldOutPair(a, b)) held++;
    assert.equal(isHeldOutPair(a, b), isHeldOutPair(b, a));
  }
  const total = Math.ceil(900 / 7) * 300;
  assert.ok(held / total > 0.04 && held / total < 0.06, `held-out share ${held / total}`);
  const task = additionTask();
  const rng = new Rng(1);
  for (let i = 0; i < 2000; i++) {
    const it = task.trainItem(rng);
    const [a, b] = it.id.split('+').map(Number);
    assert.ok(!isHeldOutPair(a, b) && a >= 100 && a <= 999 && b >= 100 && b <= 999);
  }
  const h = task.heldOut(50);
  assert.equal(new Set(h.map((x) => x.id)).size, 50);
  assert.deepEqual(additionTask().heldOut(10), h.slice(0, 10), 'the held-out set does not depend on anything');
  for (const x of h) assert.ok(isHeldOutPair(...(x.id.split('+').map(Number) as [number, number])));
});

test('the corpus never contains a held-out pair, the RL template or <think>', () => {
  const held = new Set(additionTask().heldOut(300).map((x) => x.id));
  let n = 0;
  const kinds = new Map<string, number>();
  for (const d of corpusDocuments(3)) {
    if (++n > 5000) break;
    kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
    assert.ok(!d.text.includes('<think>') && !d.text.includes('</think>') && !d.text.includes('A conversation between'), d.text);
    for (const m of d.text.matchAll(/(\d+) ?\+ ?(\d+)/g)) {
      assert.ok(!isHeldOutPair(Number(m[1]), Number(m[2])), `held-out pair in: ${d.text}`);
      assert.ok(!held.has(`${m[1]}+${m[2]}`));
    }
    for (const m of d.text.matchAll(/(?:add|sum of) (\d+) and (\d+)/gi)) assert.ok(!isHeldOutPair(Number(m[1]), Number(m[2])), d.text);
  }
  for (const k of ['worked', 'direct', 'tagged', 'prose', 'facts']) assert.ok((kinds.get(k) ?? 0) > 100, `kind ${k}: ${kinds.get(k)}`);
  // seeded: the same seed gives the same text
  const a = corpusDocuments(9).next().value!.text;
  assert.equal(corpusDocuments(9).next().value!.text, a);
});

test('workedMaxDigits: worked solutions stay short while other kinds reach maxDigits', () => {
  const longest = new Map<string, number>(); // kind -> longest operand seen
  let n = 0;
  for (const d of corpusDocuments(4, { maxDigits: 4, workedMaxDigits: 3 })) {
    if (++n > 4000) break;
    const operands = [...d.text.matchAll(/(\d+) ?\+ ?(\d+)|(?:add|sum of) (\d+) and (\d+)/gi)].flatMap((m) => m.slice(1).filter((x) => x !== undefined));
    longest.set(d.kind, Math.max(longest.get(d.kind) ?? 0, ...operands.map((x) => x.length)));
  }
  assert.equal(longest.get('worked'), 3);
  for (const k of ['direct', 'tagged', 'prose']) assert.equal(longest.get(k), 4, `${k} reaches 4-digit operands`);
  assert.throws(() => corpusDocuments(1, { maxDigits: 3, workedMaxDigits: 4 }).next(), /workedMaxDigits=4: expected an integer in \[1, maxDigits=3\]/);
  // workedLongShare lets that share of worked solutions reach maxDigits; 0 leaves the default stream as it was
  let long = 0, worked = 0;
  n = 0;
  for (const d of corpusDocuments(4, { maxDigits: 4, workedMaxDigits: 3, workedLongShare: 0.5 })) {
    if (++n > 4000) break;
    if (d.kind !== 'worked') continue;
    worked++;
    if ([...d.text.matchAll(/(\d+) ?\+ ?(\d+)/g)].some((m) => m[1].length === 4 || m[2].length === 4)) long++;
  }
  assert.ok(long / worked > 0.2 && long / worked < 0.5, `4-digit worked share ${long / worked}`);
  // the default stream (seed 1, the one zero-base.ts draws) is still the one that built assets/zero-base
  const h = createHash('sha256'), g = corpusDocuments(1);
  for (let i = 0; i < 2000; i++) h.update(g.next().value!.text + '\n');
  assert.equal(h.digest('hex').slice(0, 16), 'a023fda6135aa0f0');
  assert.throws(() => corpusDocuments(1, { workedLongShare: 2 }).next(), /workedLongShare=2: expected a share in \[0, 1\]/);
});

test("'redo' self-checks: the check recomputes every column and corrects a slip", () => {
  assert.equal(
    workedStepsRedo(357, 486, 0, null),
    '7+6=13, write 3 carry 1. 5+8+1=14, write 4 carry 1. 3+4+1=8, write 8. That gives 843. Wait, let me check: 7+6=13, 5+8+1=14, 3+4+1=8. Yes, it is 843.',
  );
  // the tens column slips to 13: its digit is 3, its carry still 1
  assert.equal(
    workedStepsRedo(357, 486, 1, { col: 1, delta: -1 }),
    'ones: 7+6=13, digit 3, carry 1. tens: 5+8+1=13, digit 3, carry 1. hundreds: 3+4+1=8, digit 8. That gives 833. Wait, let me check: 7+6=13, 5+8+1=14, 3+4+1=8. No, it is 843.',
  );
  assert.match(workedStepsRedo(950, 50, 0, { col: 2, delta: 1 }), /write 1 carry 1\. write 1\. That gives 1100\. .* No, it is 1000\.$/);
  // in the stream: re-checked solutions end with the true sum; slips keep each column's carry
  let checked = 0, slips = 0;
  const g = corpusDocuments(3, { selfCheck: 0.5, checkStyle: 'redo', checkSlipShare: 0.5 });
  for (let i = 0; i < 3000; i++) {
    const { kind, text } = g.next().value!;
    if (kind !== 'worked' || !text.includes('Wait, let me check')) continue;
    checked++;
    const m = /That gives (\d+)\. Wait, let me check: .*\. (Yes|No), it is (\d+)\./.exec(text);
    assert.ok(m, text);
    const [a, b] = /(\d+) ?(?:\+|and|plus) ?(\d+)/.exec(text)!.slice(1).map(Number);
    assert.equal(Number(m[3]), a + b, text);
    assert.equal(m[2] === 'Yes', Number(m[1]) === a + b, text);
    if (m[2] === 'No') {
      slips++;
      assert.equal(String(Number(m[1])).length, String(a + b).length, text);
    }
  }
  assert.ok(checked > 150 && slips > checked * 0.35 && slips < checked * 0.65, `${checked} checked, ${slips} slips`);
  assert.throws(() => corpusDocuments(1, { checkSlipShare: -1 }).next(), /checkSlipShare=-1: expected a share in \[0, 1\]/);
});

test('the grader: answer tag first, else the last integer; format credit only with a right answer', () => {
  const task = additionTask();
  const item = { id: '357+486', question: 'What is 357+486?', gold: '843' };
  const r1 = ' 7+6=13, write 3 carry 1. 5+8+1=14, write 4 carry 1. 3+4+1=8, write 8. </think> <answer>843</answer>';
  assert.deepEqual(task.grade(item, r1), { correct: true, answer: '843', format: true, reward: 1, rewards: { correct: 1, format: 1, think_close: 1, answer_tags: 1 } });
  assert.equal(task.grade(item, ' 843 </think> <answer>844</answer>').reward, 0);
  assert.equal(task.grade(item, ' steps </work> So the answer is 843.').reward, 0.52, '</work>: edit distance 4 from think');
  assert.equal(task.grade(item, ' So the answer is 843.').reward, 0.5);
  // each half of the form earns 0.2, but only with a right answer
  assert.equal(task.grade(item, ' steps </think> So the answer is 843.').reward, 0.7);
  assert.equal(task.grade(item, ' steps </thnk> <answer>843</answer>').reward, 0.78, 'a near name: 0.2·0.5·(1 − 1/5)');
  assert.equal(task.grade(item, ' steps </qqqqqqq> <answer>843</answer>').reward, 0.7, 'a far name earns nothing');
  assert.equal(task.grade(item, ' steps <answer>843</answer>').reward, 0.7);
  assert.equal(editDistance('tthuk', 'think'), 3);
  assert.equal(editDistance('thnk', 'think'), 1);
  assert.equal(editDistance('', 'think'), 5);
  assert.equal(editDistance('think', 'think'), 0);
  assert.equal(task.grade(item, ' steps </think> So <answer>843</answer>').reward, 0.9, 'both halves, text between: not the form');
  assert.equal(task.grade(item, ' steps </think> So <answer>843</answer>').format, false);
  assert.equal(task.grade(item, ' steps </think> So the answer is 844.').reward, 0);
  assert.equal(task.grade(item, ' </think> x </think> <answer>843</answer>').rewards.think_close, 0, 'two closes');
  assert.equal(task.grade(item, ' <answer>843</answer> so').rewards.answer_tags, 0, 'not at the end');
  assert.equal(task.grade(item, ' </think> <answer>844</answer> 843').correct, false, 'the tagged answer wins');
  assert.equal(task.grade(item, ' <answer>843</answer>').format, false, 'no </think>');
  assert.equal(task.grade(item, ' x </think> <answer>843</answer> more').format, false, 'text after the answer');
  assert.equal(task.grade(item, ' x </think> <answer>843</answer></think>').format, false);
  assert.equal(task.grade(item, '').correct, false);
  assert.equal(extractInteger('so it is 1,843.'), '1843');
  assert.equal(extractInteger('<answer> 0843 </answer>'), '843');
  assert.equal(extractInteger('no digits'), null);
  assert.ok(hasR1Form('a</think>\n<answer>1</answer>\n'));
  assert.ok(!hasR1Form('<think>a</think><answer>1</answer>'), 'the prompt opened <think>; the completion must not again');
});

test('multiplication: the row procedure, its held-out products, the task', async () => {
  const { isHeldOutProduct, multiplicationTask, productRow } = await import('../../src/tasks/arithmetic.ts');
  const { workedProductSteps } = await import('../../src/tasks/arithmetic-corpus.ts');
  assert.deepEqual(productRow(347, 6).map((s) => [s.product, s.total, s.digit, s.carryOut]), [[42, 42, 2, 4], [24, 28, 8, 2], [18, 20, 0, 2]]);
  assert.equal(workedProductSteps(347, 6, 0), '7*6=42, write 2 carry 4. 4*6=24, 24+4=28, write 8 carry 2. 3*6=18, 18+2=20, write 0 carry 2. write 2.');
  assert.equal(workedProductSteps(120, 3, 1), 'ones: 0*3=0, digit 0. tens: 2*3=6, digit 6. hundreds: 1*3=3, digit 3.');
  for (let a = 0; a < 5000; a += 37) for (let d = 0; d < 10; d++) {
    const row = productRow(a, d);
    const last = row[row.length - 1].carryOut;
    assert.equal(Number((last ? String(last) : '') + row.map((s) => s.digit).reverse().join('')), a * d, `${a}*${d}`);
  }
  assert.throws(() => productRow(12, 10), /expected a non-negative integer and a digit/);
  let held = 0, total = 0;
  for (let a = 100; a < 1000; a++) for (let d = 2; d < 10; d++, total++) if (isHeldOutProduct(a, d)) held++;
  assert.ok(held / total > 0.09 && held / total < 0.11, `held-out share ${held / total}`);
  const task = multiplicationTask();
  assert.equal(task.name, 'mul');
  const rng = new Rng(2);
  for (let i = 0; i < 2000; i++) {
    const [a, d] = task.trainItem(rng).id.split('*').map(Number);
    assert.ok(!isHeldOutProduct(a, d) && a >= 100 && a <= 999 && d >= 2 && d <= 9, `${a}*${d}`);
  }
  const h = task.heldOut(500); // the final evaluation's count
  assert.equal(new Set(h.map((x) => x.id)).size, 500);
  assert.throws(() => multiplicationTask().heldOut(held + 1), new RegExp(`${held + 1} held-out items asked for, and only ${held} exist`));
  assert.deepEqual(multiplicationTask().heldOut(10), h.slice(0, 10));
  for (const x of h) {
    const [a, d] = x.id.split('*').map(Number);
    assert.ok(isHeldOutProduct(a, d) && x.gold === String(a * d) && x.question === `What is ${a}*${d}?`);
  }
  assert.equal(task.grade(h[0], `<think>…</think> <answer>${h[0].gold}</answer>`).correct, true);
  assert.equal(task.grade(h[0], `<answer>${Number(h[0].gold) + 1}</answer>`).correct, false);
});
