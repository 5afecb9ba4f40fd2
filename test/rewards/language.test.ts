// Value tests of the language-consistency reward on hand-made strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWordsByScript, languageConsistency, languageConsistencyReward } from '../../src/rewards/language.ts';

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
