// Value tests of the strict / lenient format and tag-count rewards on hand-made strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractThink, lenientFormatReward, strictFormatReward, tagCountReward } from '../../src/rewards/format.ts';

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
