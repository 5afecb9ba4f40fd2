// The reasoning splitter on crafted text: tags split across chunks at every
// position give the same split as the whole text; R1-style prompts (reasoning
// already open) and model-emitted <think>; text without tags is all content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promptOpensThink, ReasoningSplitter, splitReasoning } from '../../src/server/reasoning.ts';

function streamed(chunks: string[], startInReasoning = false) {
  const s = new ReasoningSplitter({ startInReasoning });
  let reasoning = '', content = '';
  for (const c of [...chunks.map((c) => s.push(c)), s.flush()]) (reasoning += c.reasoning), (content += c.content);
  return { reasoning, content };
}

test('model-emitted <think>: reasoning and content, whitespace after tags dropped', () => {
  assert.deepEqual(splitReasoning('<think>\nlet me see: 2+2=4\n</think>\n\nThe answer is 4.'), { reasoning: 'let me see: 2+2=4\n', content: 'The answer is 4.', sawReasoning: true });
  assert.deepEqual(splitReasoning('  <think>a</think>b'), { reasoning: 'a', content: 'b', sawReasoning: true });
});

test('prompt already opened <think>: everything before </think> is reasoning', () => {
  assert.deepEqual(splitReasoning('\nhmm</think>yes', { startInReasoning: true }), { reasoning: 'hmm', content: 'yes', sawReasoning: true });
  // cut by max_tokens inside the reasoning: it stays reasoning
  assert.deepEqual(splitReasoning('still thinking </th', { startInReasoning: true }), { reasoning: 'still thinking </th', content: '', sawReasoning: true });
  assert.equal(promptOpensThink('<|Assistant|><think>\n'), true);
  assert.equal(promptOpensThink('<|Assistant|>'), false);
});

test('no tags, or a <think> that does not come first: all content', () => {
  assert.deepEqual(splitReasoning('hello <think>x</think>'), { reasoning: '', content: 'hello <think>x</think>', sawReasoning: false });
  assert.deepEqual(splitReasoning('<thin'), { reasoning: '', content: '<thin', sawReasoning: false });
  assert.deepEqual(splitReasoning('<b>bold</b>'), { reasoning: '', content: '<b>bold</b>', sawReasoning: false });
});

test('tags split across chunks at every position match the whole-text split', () => {
  const texts: [string, boolean][] = [['<think>\nA < B and </ C\n</think>\n\nfinal <think> text', false], ['reason </thi nk> </think>  ans', true], ['plain <', false]];
  for (const [text, open] of texts) {
    const whole = splitReasoning(text, { startInReasoning: open });
    for (let i = 0; i <= text.length; i++)
      for (let j = i; j <= text.length; j += 3) {
        const got = streamed([text.slice(0, i), text.slice(i, j), text.slice(j)], open);
        assert.deepEqual(got, { reasoning: whole.reasoning, content: whole.content }, `${JSON.stringify(text)} cut at ${i},${j}`);
      }
    // one character at a time
    assert.deepEqual(streamed([...text], open), { reasoning: whole.reasoning, content: whole.content });
  }
  assert.deepEqual(splitReasoning('<think>\nA < B and </ C\n</think>\n\nfinal <think> text'), { reasoning: 'A < B and </ C\n', content: 'final <think> text', sawReasoning: true });
});

test('streaming never sends a partial tag', () => {
  const s = new ReasoningSplitter();
  assert.deepEqual(s.push('<th'), { reasoning: '', content: '' });
  assert.deepEqual(s.push('ink>abc</'), { reasoning: 'abc', content: '' });
  assert.deepEqual(s.push('think'), { reasoning: '', content: '' });
  assert.deepEqual(s.push('>ok'), { reasoning: '', content: 'ok' });
});
