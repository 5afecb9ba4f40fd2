// Tests of the countdown verifier: every item of the shared cd3_test set is solvable
// (a brute-force solver finds an equation) and the verifier accepts that equation and
// rejects perturbations of it; plus the rule cases (reuse, missing, extra literals,
// division by zero, rationals, '= target', garbage) and the reward levels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { requireSharedData, skipWithoutData } from '../data.ts';
import { checkCountdownCompletion, checkCountdownExpression, countdownReward, extractCountdownAnswer } from '../../src/rewards/countdown.ts';

// DESIGN.md: real data lives in ../shared/data beside the repository (a worktree sits one level deeper).

function loadItems(): { numbers: number[]; target: number }[] {
  const path = resolve(requireSharedData(), 'countdown/cd3_test.jsonl');
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const o = JSON.parse(l) as { input: string; output: string };
      return { numbers: o.input.split(',').map(Number), target: Number(o.output) };
    });
}

/** Brute force over all binary trees of the numbers with + - * / (exact, via fractions as [n, d]). */
function solve(numbers: number[], target: number): string | undefined {
  type Item = { n: number; d: number; s: string };
  const search = (items: Item[]): string | undefined => {
    if (items.length === 1) return items[0].d !== 0 && items[0].n === target * items[0].d ? items[0].s : undefined;
    for (let i = 0; i < items.length; i++) {
      for (let j = 0; j < items.length; j++) {
        if (i === j) continue;
        const a = items[i];
        const b = items[j];
        const rest = items.filter((_, k) => k !== i && k !== j);
        const cands: Item[] = [
          { n: a.n * b.d + b.n * a.d, d: a.d * b.d, s: `(${a.s} + ${b.s})` },
          { n: a.n * b.d - b.n * a.d, d: a.d * b.d, s: `(${a.s} - ${b.s})` },
          { n: a.n * b.n, d: a.d * b.d, s: `(${a.s} * ${b.s})` },
        ];
        if (b.n !== 0) cands.push({ n: a.n * b.d, d: a.d * b.n, s: `(${a.s} / ${b.s})` });
        for (const c of cands) {
          const r = search([...rest, c]);
          if (r !== undefined) return r;
        }
      }
    }
    return undefined;
  };
  return search(numbers.map((n) => ({ n, d: 1, s: String(n) })));
}

test('countdown: every cd3_test item is solvable, accepted, and perturbations are rejected', { skip: skipWithoutData() }, () => {
  const items = loadItems();
  assert.equal(items.length, 256);
  for (const { numbers, target } of items) {
    const eq = solve(numbers, target);
    assert.ok(eq !== undefined, `no solution found for ${numbers} -> ${target}`);
    const completion = `<think>searching</think>\n<answer>${eq}</answer>`;
    assert.equal(countdownReward(numbers, target, completion), 1, `${eq} for ${numbers} -> ${target}`);
    assert.equal(checkCountdownExpression(numbers, target, `${eq} = ${target}`).ok, true);
    // Wrong target: still well-formed, so format credit only.
    assert.equal(countdownReward(numbers, target + 1, completion), 0.1);
    // A perturbed literal: the multiset no longer matches.
    const perturbed = eq.replace(String(numbers[0]), String(numbers[0] + 1));
    const r = checkCountdownExpression(numbers, target, perturbed);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'numbers');
  }
});

test('countdown: rule cases', () => {
  const n = [30, 100, 93];
  const reason = (expr: string, nums: (number | string)[] = n, target: number | string = 23): string => {
    const r = checkCountdownExpression(nums, target, expr);
    return r.ok ? 'ok' : r.reason;
  };
  assert.equal(reason('100 - 93 + 30'), 'wrong-value'); // 37
  assert.equal(reason('30 - (100 - 93)'), 'ok');
  assert.equal(reason('30-(100-93)'), 'ok');
  assert.equal(reason('30 − (100 − 93)'), 'ok'); // Unicode minus
  assert.equal(reason('30 - (100 - 93) = 23'), 'ok');
  assert.equal(reason('30 - (100 - 93) = 24'), 'wrong-rhs');
  assert.equal(reason('30 - (100 - 93) = 23 = 23'), 'parse');
  assert.equal(reason('23 = 30 - (100 - 93)'), 'parse');
  // reused number
  assert.equal(reason('30 - (100 - 93) + 30 - 30'), 'numbers');
  assert.equal(reason('30 - (93 - 93)', [30, 93, 93], 30), 'ok');
  assert.equal(reason('30 - (93 - 93)', [30, 100, 93], 30), 'numbers');
  // missing number
  assert.equal(reason('100 - 93'), 'numbers');
  // extra literal
  assert.equal(reason('30 - (100 - 93) * 1'), 'numbers');
  assert.equal(reason('30 - (100 - 93) + 0'), 'numbers');
  // division by zero, anywhere
  assert.equal(reason('30 / (100 - 100) * 0', [30, 100, 100, 0], 0), 'div-zero');
  assert.equal(reason('(30 - 30) / (4 - 4)', [30, 30, 4, 4], 0), 'div-zero');
  // exact rationals: 6/4*2 = 3 exactly; strict mode refuses the 3/2 intermediate
  assert.equal(reason('6 / 4 * 2', [6, 4, 2], 3), 'ok');
  assert.equal(reason('1 / 3 * 3', [1, 3, 3], 1), 'ok'); // floats would give 0.9999…
  assert.equal(checkCountdownExpression([6, 4, 2], 3, '6 / 4 * 2', { allowFractions: false }).ok, false);
  assert.equal(reason('7 / 2', [7, 2], 3), 'wrong-value'); // 7/2 is not 3
  // no unary minus, decimals, other symbols
  assert.equal(reason('-(100 - 93) + 30'), 'parse');
  assert.equal(reason('30.0 - (100 - 93)'), 'parse');
  assert.equal(reason('30 - (100 - 93'), 'parse');
  assert.equal(reason('30 - 100 - 93)'), 'parse');
  assert.equal(reason('30 ** 2'), 'parse');
  assert.equal(reason('30 (100 - 93)'), 'parse');
  assert.equal(reason('Math.abs(30)'), 'parse');
  assert.equal(reason(''), 'parse');
  assert.equal(reason('('.repeat(10000) + '1' + ')'.repeat(10000)), 'parse');
  assert.equal(reason('9'.repeat(900), ['9'.repeat(900)], '9'.repeat(900)), 'ok');
});

test('countdown: extraction and reward levels', () => {
  const n = [30, 100, 93];
  assert.equal(extractCountdownAnswer('x <answer>1</answer> y <answer>2</answer>'), '2');
  assert.equal(extractCountdownAnswer('<answer>1'), undefined);
  assert.equal(extractCountdownAnswer('</answer><answer>'), undefined);
  assert.equal(countdownReward(n, 23, '<answer>30 - (100 - 93)</answer>'), 1);
  assert.equal(countdownReward(n, 23, '<answer> 30 - (100 - 93)\n</answer>'), 1);
  // last block counts
  assert.equal(countdownReward(n, 23, '<answer>30 - (100 - 93)</answer> oops <answer>1+2</answer>'), 0.1);
  assert.equal(countdownReward(n, 23, '<answer>100 - 93 + 30</answer>'), 0.1);
  assert.equal(countdownReward(n, 23, '<answer>100 - 93 + 30</answer>', { format: 0.25 }), 0.25);
  assert.equal(countdownReward(n, 23, '<answer>30 - (100 - 93)</answer>', { correct: 2 }), 2);
  assert.equal(countdownReward(n, 23, '30 - (100 - 93)'), 0);
  assert.equal(countdownReward(n, 23, '<answer>I think it is 23</answer>'), 0);
  assert.equal(countdownReward(n, 23, ''), 0);
  // never throws on hostile input
  for (const bad of [undefined, null, 42, {}, [], 'x'.repeat(100000) + '<answer>'.repeat(10000)] as unknown[]) {
    assert.equal(countdownReward(n, 23, bad as string), 0);
  }
  assert.equal(countdownReward([1.5, 2] as number[], 3, '<answer>1+2</answer>'), 0);
  assert.equal(countdownReward(n, 'x' as unknown as number, '<answer>1+2</answer>'), 0);
  assert.equal(checkCountdownCompletion(n, 23, '<answer>30-(100-93)</answer>').ok, true);
});
