// The corpus's 'reread' self-check (src/tasks/arithmetic-corpus.ts): the check restates the
// question's operands and recomputes the columns from them, so it corrects a first pass that
// miscopied an operand or slipped in a column, and its verdict compares the two sums.
// The other styles and the default stream's pinned hash are tested in arithmetic.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columns } from '../../src/tasks/arithmetic.ts';
import { corpusDocuments, workedStepsReread } from '../../src/tasks/arithmetic-corpus.ts';

test("'reread': the check's digits come from the question, and it corrects a miscopied first pass", () => {
  assert.equal(
    workedStepsReread(357, 486, 0, { a: 357, b: 486, slip: null }),
    '7+6=13, write 3 carry 1. 5+8+1=14, write 4 carry 1. 3+4+1=8, write 8. That gives 843. ' +
      'Check: the question is 357+486. 7+6=13, 5+8+1=14, 3+4+1=8, so 357+486=843. Yes, 843.',
  );
  // the first pass read 386 as 376: its columns work 357+376 consistently; the check does not
  assert.equal(
    workedStepsReread(357, 486, 1, { a: 357, b: 476, slip: null }),
    'ones: 7+6=13, digit 3, carry 1. tens: 5+7+1=13, digit 3, carry 1. hundreds: 3+4+1=8, digit 8. That gives 833. ' +
      'Check: the question is 357+486. 7+6=13, 5+8+1=14, 3+4+1=8, so 357+486=843. Wait, that is not 833. It is 843.',
  );
  // a column slip (the tens stated as 13) is corrected the same way
  assert.match(workedStepsReread(357, 486, 0, { a: 357, b: 486, slip: { col: 1, delta: -1 } }), /5\+8\+1=13, write 3 carry 1\. .*That gives 833\. .* Wait, that is not 833\. It is 843\.$/);
  assert.throws(() => workedStepsReread(357, -1, 0, { a: 357, b: 486, slip: null }), /workedStepsReread: b=-1: expected a non-negative integer/);
});

test("'reread' in the stream: checks re-read the question, end at the true sum, and mostly catch miscopies", () => {
  let checked = 0, slips = 0, miscopies = 0;
  const g = corpusDocuments(5, { selfCheck: 0.5, checkStyle: 'reread', checkSlipShare: 0.5, checkMiscopyShare: 0.75 });
  for (let i = 0; i < 3000; i++) {
    const { kind, text } = g.next().value!;
    if (kind !== 'worked' || !text.includes('Check:')) continue;
    checked++;
    const [qa, qb] = /(\d+) ?(?:\+|and|plus) ?(\d+)/.exec(text)!.slice(1).map(Number); // the question's operands
    const m = /^([^]*?) That gives (\d+)\. Check: the question is (\d+)\+(\d+)\. (.*), so (\d+)\+(\d+)=(\d+)\. (Yes, (\d+)\.|Wait, that is not (\d+)\. It is (\d+)\.)/.exec(text);
    assert.ok(m, text);
    const [, first, got, ca, cb, checkCols, sa, sb, sum, , yes, notGot, fixed] = m;
    // the check's operands and every column come from the question, not from the first pass
    assert.deepEqual([Number(ca), Number(cb), Number(sa), Number(sb)], [qa, qb, qa, qb], text);
    assert.equal(checkCols, columns(qa, qb).map((c) => `${c.x}+${c.y}${c.carryIn ? '+1' : ''}=${c.sum}`).join(', '), text);
    assert.equal(Number(sum), qa + qb, text);
    // the verdict compares the first pass's sum with the check's, and the answer follows the check
    if (Number(got) === qa + qb) assert.equal(Number(yes), qa + qb, text);
    else {
      slips++;
      assert.equal(yes, undefined, text);
      assert.deepEqual([Number(notGot), Number(fixed)], [Number(got), qa + qb], text);
      // a miscopy: the first pass's columns (the question's "a+b=?" has no "d+d=" to match) are a consistent sum of operands one digit away from the question's
      const xs = [...first.matchAll(/(\d)\+(\d)(\+1)?=(\d+)/g)].map((c) => [Number(c[1]), Number(c[2]), Number(c[4]), c[3] ? 1 : 0]);
      const fa = Number(xs.map((c) => c[0]).reverse().join('')), fb = Number(xs.map((c) => c[1]).reverse().join(''));
      const consistent = xs.every(([x, y, s, cin]) => s === x + y + cin);
      if (consistent && (fa !== qa || fb !== qb)) {
        miscopies++;
        const diff = (u: number, v: number) => [...String(u).padStart(6, '0')].filter((d, i) => d !== String(v).padStart(6, '0')[i]).length;
        assert.equal(diff(fa, qa) + diff(fb, qb), 1, text);
        assert.equal(Number(got), fa + fb, text);
      }
    }
    const answer = /(?:answer is |Answer: |<answer>|=)(\d+)(?:\.|<\/answer>)?$/.exec(text);
    assert.equal(Number(answer?.[1]), qa + qb, text);
  }
  assert.ok(checked > 150 && slips > checked * 0.35 && slips < checked * 0.65, `${checked} checked, ${slips} slips`);
  assert.ok(miscopies > slips * 0.6 && miscopies < slips * 0.9, `${miscopies} miscopies of ${slips} slips`);
  assert.throws(() => corpusDocuments(1, { checkStyle: 'reread', checkMiscopyShare: 1.5 }).next(), /checkMiscopyShare=1\.5: expected a share in \[0, 1\]/);
  assert.throws(() => corpusDocuments(1, { checkStyle: 'again' as 'reread' }).next(), /checkStyle=again: expected 'confirm', 'redo' or 'reread'/);
});

test("'reread' with uncheckedSlips: first passes slip as often without a check, and then keep the wrong sum", () => {
  const opts = { selfCheck: 0.3, checkStyle: 'reread', checkSlipShare: 0.2, checkMiscopyShare: 1 } as const;
  const tally = (g: Generator<{ kind: string; text: string }>) => {
    const t = { checked: 0, checkedSlipped: 0, unchecked: 0, uncheckedWrong: 0 };
    for (let i = 0; i < 6000; i++) {
      const { kind, text } = g.next().value!;
      if (kind !== 'worked') continue;
      const [qa, qb] = /(\d+) ?(?:\+|and|plus) ?(\d+)/.exec(text)!.slice(1).map(Number);
      const answer = Number(/(?:answer is |Answer: |<answer>|=)(\d+)(?:\.|<\/answer>)?$/.exec(text)![1]);
      if (text.includes('Check:')) {
        t.checked++;
        t.checkedSlipped += /Wait, that is not/.test(text) ? 1 : 0;
        assert.equal(answer, qa + qb, text); // a check always ends at the true sum
        continue;
      }
      t.unchecked++;
      if (answer === qa + qb) continue;
      t.uncheckedWrong++;
      // the slip is a miscopied operand worked consistently: the answer is the sum of the operands the columns used
      const xs = [...text.matchAll(/(\d)\+(\d)(\+1)?=\d+, (?:write|digit)/g)].map((c) => [Number(c[1]), Number(c[2])]);
      const fa = Number(xs.map((c) => c[0]).reverse().join('')), fb = Number(xs.map((c) => c[1]).reverse().join(''));
      assert.equal(answer, fa + fb, text);
      assert.notDeepEqual([fa, fb], [qa, qb], text);
    }
    return t;
  };
  const t = tally(corpusDocuments(9, { ...opts, uncheckedSlips: true }));
  const rate = (a: number, n: number) => a / n;
  assert.ok(t.checked > 300 && t.unchecked > 900, JSON.stringify(t));
  // both slip at ~20%: the unchecked ones end wrong, the checked ones are corrected
  for (const r of [rate(t.checkedSlipped, t.checked), rate(t.uncheckedWrong, t.unchecked)]) assert.ok(r > 0.14 && r < 0.26, JSON.stringify(t));
  // without the option every unchecked answer is right (and the stream is the one R3's base saw)
  assert.equal(tally(corpusDocuments(9, opts)).uncheckedWrong, 0);
  assert.throws(() => corpusDocuments(1, { checkStyle: 'redo', uncheckedSlips: true }).next(), /uncheckedSlips needs checkStyle 'reread' \(got 'redo'\)/);
});

test('mulShare: products in the share asked for, worked by a row that reads back to a*d, never a held-out one', async () => {
  const { isHeldOutProduct } = await import('../../src/tasks/arithmetic.ts');
  const g = corpusDocuments(11, { mulShare: 0.5 });
  const QUESTION = /(\d+) ?\* ?(\d)\b|product of (\d+) and (\d)|Multiply (\d+) by (\d)|(\d+) times (\d)/;
  const counts = { products: 0, sums: 0, worked: 0, factLists: 0, mulFactLists: 0 };
  for (let i = 0; i < 4000; i++) {
    const { kind, text } = g.next().value!;
    if (kind === 'facts') {
      if (/\d\*\d/.test(text)) {
        counts.mulFactLists++;
        for (const [, x, y, p] of text.matchAll(/(\d)\*(\d)=(\d+)\./g)) assert.equal(Number(p), Number(x) * Number(y), text);
      } else if (/\d\+\d/.test(text)) counts.factLists++;
      continue;
    }
    if (kind === 'prose') continue;
    const q = QUESTION.exec(text);
    if (!q) {
      counts.sums++;
      continue;
    }
    counts.products++;
    const nums = q.slice(1).filter((x) => x !== undefined).map(Number);
    const [a, d] = nums;
    assert.ok(!isHeldOutProduct(a, d), `held-out product in the corpus: ${text}`);
    const answer = /(\d+)\.?(?:<\/answer>)?$|<(\w+)>(\d+)<\/\2>$/.exec(text.trim());
    assert.ok(answer, text);
    assert.equal(Number(answer[1] ?? answer[3]), a * d, text);
    if (kind !== 'worked') continue;
    counts.worked++;
    // an independent reading of the row: each fact is the times table, each carry added right,
    // and the written digits (with the final carry) are a*d
    const digits: number[] = [];
    let carry = 0;
    const ds = String(a).split('').reverse().map(Number);
    const steps = [...text.matchAll(/(\d)\*(\d)=(\d+)(?:, (\d+)\+(\d)=(\d+))?, (?:write|digit) (\d)/g)];
    assert.equal(steps.length, ds.length, text);
    steps.forEach((m, i) => {
      const [x, y, p, p2, c, t, w] = m.slice(1).map((v: string | undefined) => (v === undefined ? undefined : Number(v)));
      assert.equal(x, ds[i], text);
      assert.equal(y, d, text);
      assert.equal(p, x! * y!, text);
      const total = p! + carry;
      if (carry) assert.ok(p2 === p && c === carry && t === total, text);
      else assert.equal(p2, undefined, text);
      assert.equal(w, total % 10, text);
      digits.push(w!);
      carry = Math.floor(total / 10);
    });
    assert.equal(Number((carry ? String(carry) : '') + digits.reverse().join('')), a * d, text);
  }
  const share = counts.products / (counts.products + counts.sums);
  assert.ok(share > 0.45 && share < 0.55, `product share ${share}`);
  assert.ok(counts.worked > 300, `worked products ${counts.worked}`);
  assert.ok(counts.mulFactLists > 0 && counts.factLists > 0);
  assert.throws(() => corpusDocuments(1, { mulShare: 2 }).next(), /mulShare=2: expected a share in \[0, 1\]/);
});
