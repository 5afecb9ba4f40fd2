// SFT loss masks: 1 exactly on the assistant's tokens including its EOS, 0 on
// prompts, role markers and history; multi-turn with a prefix-stable template
// trains every turn; with the R1 chat template only the last turn is trained
// (history is shown without reasoning) and sftExamplesPerTurn covers the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenizerError } from '../../src/tokenizer/errors.ts';
import { ChatTemplate, R1_CHAT_TEMPLATE, R1_ZERO_TEMPLATE } from '../../src/tokenizer/chat-template.ts';
import { buildSftExample, sftExamplesPerTurn } from '../../src/tokenizer/loss-mask.ts';
import type { TextTokenizer } from '../../src/tokenizer/types.ts';
import { smallTokenizer } from './shared.ts';

function trained(tok: TextTokenizer, ids: number[], mask: number[]): string[] {
  const out: string[] = [];
  let cur: number[] = [];
  ids.forEach((id, i) => {
    if (mask[i]) cur.push(id);
    else if (cur.length) { out.push(tok.decode(cur)); cur = []; }
  });
  if (cur.length) out.push(tok.decode(cur));
  return out;
}

const bound = (tok: TextTokenizer, src: string) => new ChatTemplate(src, { bosToken: tok.bosToken, eosToken: tok.eosToken });

test('R1-Zero: mask covers the reply and EOS, nothing of the prompt', () => {
  const tok = smallTokenizer();
  const t = bound(tok, R1_ZERO_TEMPLATE);
  const reply = '<think> 3 times 4 is 12 </think> <answer> 12 </answer>';
  const ex = buildSftExample(t, tok, [{ role: 'user', content: 'What is 3*4?' }, { role: 'assistant', content: reply }]);
  assert.equal(ex.ids.length, ex.mask.length);
  assert.deepEqual(trained(tok, ex.ids, ex.mask), [' ' + reply + '<|end_of_text|>']);
  assert.equal(ex.ids.at(-1), tok.specialId('<|end_of_text|>'));
  assert.equal(ex.mask.at(-1), 1);
  assert.equal(tok.decode(ex.ids), ex.text);
  assert.ok(ex.text.startsWith('<|begin_of_text|>A conversation'));
});

test('a prefix-stable multi-turn template trains every assistant turn', () => {
  const tok = smallTokenizer();
  const src = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}<|User|>{{ m['content'] }}{% else %}<|Assistant|>{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|Assistant|>{% endif %}";
  const ex = buildSftExample(bound(tok, src), tok, [
    { role: 'user', content: 'a?' },
    { role: 'assistant', content: 'A.' },
    { role: 'user', content: 'b?' },
    { role: 'assistant', content: '<think>x</think>B.' },
  ]);
  assert.deepEqual(ex.trainedTurns, [1, 3]);
  assert.deepEqual(trained(tok, ex.ids, ex.mask), ['A.<|end_of_text|>', '<think>x</think>B.<|end_of_text|>']);
  assert.ok(!trained(tok, ex.ids, ex.mask).join('').includes('<|Assistant|>'));
});

test('R1 chat: history without reasoning is context; per-turn examples train each turn with its reasoning', () => {
  const tok = smallTokenizer();
  const t = bound(tok, R1_CHAT_TEMPLATE);
  const msgs = [
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: '<think>greet</think>Hello!' },
    { role: 'user', content: '2+2?' },
    { role: 'assistant', content: '<think>2+2=4</think>4' },
  ];
  const ex = buildSftExample(t, tok, msgs);
  assert.deepEqual(ex.trainedTurns, [3]);
  assert.deepEqual(trained(tok, ex.ids, ex.mask), ['<think>2+2=4</think>4<|end_of_text|>']);
  assert.ok(ex.text.includes('<|Assistant|>Hello!<|end_of_text|>'));
  const per = sftExamplesPerTurn(t, tok, msgs);
  assert.equal(per.length, 2);
  assert.deepEqual(trained(tok, per[0].ids, per[0].mask), ['<think>greet</think>Hello!<|end_of_text|>']);
  assert.deepEqual(trained(tok, per[1].ids, per[1].mask), ['<think>2+2=4</think>4<|end_of_text|>']);
});

test('masks are robust to replies that look like template text', () => {
  const tok = smallTokenizer();
  const t = bound(tok, R1_CHAT_TEMPLATE);
  const reply = 'Assistant: <|User|> is a marker; so is <|Assistant|>.';
  const ex = buildSftExample(t, tok, [{ role: 'user', content: '<|Assistant|>' }, { role: 'assistant', content: reply }]);
  assert.deepEqual(trained(tok, ex.ids, ex.mask), [reply + '<|end_of_text|>']);
});

test('no assistant turn, or a template that is not prefix-stable, is an error', () => {
  const tok = smallTokenizer();
  assert.throws(() => buildSftExample(bound(tok, R1_CHAT_TEMPLATE), tok, [{ role: 'user', content: 'x' }]), (e: unknown) => e instanceof TokenizerError && /no assistant turn/.test(e.message));
  const unstable = "{% for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<gen>{% endif %}";
  assert.throws(() => buildSftExample(bound(tok, unstable), tok, [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }]), /not prefix-stable at message 1/);
});

test('the chat template shipped in tokenizer_config.json gives the same example with HfTokenizer and ours', async () => {
  const { resolve } = await import('node:path');
  const { loadHfTokenizer } = await import('../../src/tokenizer/hf-tokenizer.ts');
  const { loadBpeTokenizer } = await import('../../src/tokenizer/tokenizer-json.ts');
  const dir = resolve(import.meta.dirname, '../fixtures/tokenizer');
  const hf = loadHfTokenizer(resolve(dir, 'tiny-bpe.json'), resolve(dir, 'tiny-bpe.config.json'));
  const ours = loadBpeTokenizer(resolve(dir, 'tiny-bpe.json'), resolve(dir, 'tiny-bpe.config.json'));
  assert.ok(hf.chatTemplate);
  const msgs = [{ role: 'user', content: 'What is 3 + 4?' }, { role: 'assistant', content: '<think>3 + 4 = 7</think> <answer>7</answer>' }];
  const a = buildSftExample(bound(hf, hf.chatTemplate!), hf, msgs);
  const b = buildSftExample(bound(ours, hf.chatTemplate!), ours, msgs);
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual(a.mask, b.mask);
  assert.deepEqual(a.ids, ours.encode(a.text)); // span boundaries sit on special tokens: same as whole-text encoding
});
