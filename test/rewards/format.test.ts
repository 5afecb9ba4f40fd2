// Value tests of the format, tag-count, language-consistency, length rewards and the
// composer, on hand-made strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractThink, lenientFormatReward, strictFormatReward, tagCountReward } from '../../src/rewards/format.ts';
import { countWordsByScript, languageConsistency, languageConsistencyReward } from '../../src/rewards/language.ts';
import { overlongPenalty } from '../../src/rewards/length.ts';
import { composeRewards } from '../../src/rewards/compose.ts';

test('format: strict', () => {
  assert.equal(strictFormatReward('<think>a</think><answer>b</answer>'), 1);
  assert.equal(strictFormatReward('  <think>\nreason\n</think>\n\n<answer>\n42\n</answer>\n'), 1);
  assert.equal(strictFormatReward('<think></think><answer></answer>'), 1);
  assert.equal(strictFormatReward('x<think>a</think><answer>b</answer>'), 0); // text before
  assert.equal(strictFormatReward('<think>a</think><answer>b</answer>x'), 0); // text after
  assert.equal(strictFormatReward('<think>a</think>x<answer>b</answer>'), 0); // text between
  assert.equal(strictFormatReward('<answer>b</answer><think>a</think>'), 0); // order
  assert.equal(strictFormatReward('<think>a<think></think><answer>b</answer>'), 0); // tag twice
  assert.equal(strictFormatReward('<think>a</think><answer>b</answer><answer>c</answer>'), 0);
  assert.equal(strictFormatReward('<think>a</think>'), 0);
  assert.equal(strictFormatReward(''), 0);
  assert.equal(strictFormatReward(undefined as unknown as string), 0);
});

test('format: lenient', () => {
  assert.equal(lenientFormatReward('<think>a</think><answer>b</answer>'), 1);
  assert.equal(lenientFormatReward('Sure! <think>a</think> so <answer>b</answer> done'), 1);
  assert.equal(lenientFormatReward('<think>a</think><think>x</think><answer>b</answer>'), 1);
  assert.equal(lenientFormatReward('<answer>b</answer><think>a</think>'), 0);
  assert.equal(lenientFormatReward('<think>a<answer>b</answer></think>'), 0);
  assert.equal(lenientFormatReward('<think>a</think>'), 0);
  assert.equal(lenientFormatReward(''), 0);
});

test('format: tag count and think extraction', () => {
  assert.equal(tagCountReward('<think>a</think><answer>b</answer>'), 1);
  assert.equal(tagCountReward('<think>a</think>'), 0.5);
  assert.equal(tagCountReward('<think>a</think></think><answer>b'), 0.5);
  assert.equal(tagCountReward('a</think><answer>b</answer>'), 0.75);
  assert.equal(tagCountReward('plain'), 0);
  assert.equal(tagCountReward('<think><think></think></think><answer><answer></answer></answer>'), 0);
  assert.equal(extractThink('<think> x </think><answer>y</answer>'), ' x ');
  assert.equal(extractThink('x </think> y'), 'x ');
  assert.equal(extractThink('no tags'), undefined);
});

test('language: counts and consistency', () => {
  const c = countWordsByScript('Hello world, 你好 42 + x² = y');
  assert.equal(c.get('latin'), 4); // Hello world x y
  assert.equal(c.get('han'), 2);
  assert.equal(languageConsistency('The answer is 42 because 6 * 7 = 42.', 'en'), 1);
  assert.equal(languageConsistency('你好世界', 'zh'), 1);
  assert.equal(languageConsistency('你好世界', 'en'), 0);
  assert.equal(languageConsistency('so 我们 get', 'en'), 2 / 4);
  assert.equal(languageConsistency('so 我们 get', 'zh'), 2 / 4);
  assert.equal(languageConsistency('3 + 4 = 7', 'en'), 1); // no words: nothing mixed
  assert.equal(languageConsistency('café naïve', 'fr'), 1);
  assert.equal(languageConsistency('Привет mir', 'ru'), 0.5);
  assert.equal(languageConsistency('ひらがなとカタカナと漢字', 'ja'), 1);
  assert.throws(() => languageConsistency('x', 'xx'), /language 'xx'/);
  assert.equal(languageConsistencyReward('<think>think in English 然后</think><answer>中文</answer>', 'en'), 3 / 5);
  assert.equal(languageConsistencyReward('no tags at all', 'en'), 1);
  assert.equal(languageConsistencyReward(null as unknown as string, 'en'), 0);
});

test('length: DAPO soft overlong punishment', () => {
  const cfg = { maxLength: 100, cacheLength: 20 };
  assert.equal(overlongPenalty(0, cfg), 0);
  assert.equal(overlongPenalty(80, cfg), 0);
  assert.equal(overlongPenalty(90, cfg), -0.5);
  assert.equal(overlongPenalty(85, cfg), -0.25);
  assert.equal(overlongPenalty(100, cfg), -1);
  assert.equal(overlongPenalty(101, cfg), -1);
  assert.equal(overlongPenalty(5000, cfg), -1);
  assert.equal(overlongPenalty(100, { maxLength: 100, cacheLength: 100 }), -1);
  assert.equal(overlongPenalty(50, { maxLength: 100, cacheLength: 100 }), -0.5);
  assert.throws(() => overlongPenalty(1, { maxLength: 100, cacheLength: 0 }), /cacheLength/);
  assert.throws(() => overlongPenalty(1, { maxLength: 10, cacheLength: 20 }), /cacheLength/);
  assert.throws(() => overlongPenalty(1, { maxLength: -1, cacheLength: 1 }), /maxLength/);
  assert.throws(() => overlongPenalty(-1, cfg), /length/);
});

test('compose: weighted sum with parts, errors contained', async () => {
  type S = { text: string; len: number };
  const r = composeRewards<S>([
    { name: 'format', weight: 0.5, fn: (s) => strictFormatReward(s.text) },
    { name: 'tags', weight: 1, fn: (s) => tagCountReward(s.text) },
    { name: 'length', weight: 1, fn: async (s) => overlongPenalty(s.len, { maxLength: 100, cacheLength: 20 }) },
  ]);
  const out = await r({ text: '<think>a</think><answer>b</answer>', len: 90 });
  assert.deepEqual(out.parts, { format: 1, tags: 1, length: -0.5 });
  assert.deepEqual(out.weighted, { format: 0.5, tags: 1, length: -0.5 });
  assert.equal(out.total, 1);
  assert.deepEqual(out.errors, {});
  const bad = composeRewards<number>([
    { name: 'ok', weight: 2, fn: (x) => x },
    { name: 'throws', weight: 1, fn: () => { throw new Error('boom'); } },
    { name: 'nan', weight: 1, fn: () => NaN },
  ]);
  const o2 = await bad(3);
  assert.equal(o2.total, 6);
  assert.deepEqual(o2.parts, { ok: 3, throws: 0, nan: 0 });
  assert.equal(o2.errors.throws, 'boom');
  assert.match(o2.errors.nan, /NaN/);
  assert.throws(() => composeRewards([]), /at least one/);
  assert.throws(() => composeRewards([{ name: 'a', weight: 1, fn: () => 0 }, { name: 'a', weight: 1, fn: () => 0 }]), /twice/);
  assert.throws(() => composeRewards([{ name: 'a', weight: Infinity, fn: () => 0 }]), /weight/);
});
