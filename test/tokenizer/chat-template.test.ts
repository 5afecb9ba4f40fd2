// Chat templates: the R1-Zero prompt is rendered word for word, the R1 chat
// template drops <think> from earlier assistant turns only, generation
// prompts, a Hugging Face-style template from a tokenizer_config.json, and
// clear errors for bad templates and messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenizerError } from '../../src/tokenizer/errors.ts';
import { ChatTemplate, R1_CHAT_TEMPLATE, R1_ZERO_TEMPLATE, r1ZeroPrompt } from '../../src/tokenizer/chat-template.ts';

const tokens = { bosToken: '<|begin_of_text|>', eosToken: '<|end_of_text|>' };
const ZERO =
  'A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: What is 2+3?. Assistant:';

test('R1-Zero prompt, word for word', () => {
  assert.equal(r1ZeroPrompt('What is 2+3?'), ZERO);
  const t = new ChatTemplate(R1_ZERO_TEMPLATE, tokens);
  assert.equal(t.render([{ role: 'user', content: 'What is 2+3?' }], { addGenerationPrompt: true }), '<|begin_of_text|>' + ZERO);
  assert.equal(
    t.render([{ role: 'user', content: 'What is 2+3?' }, { role: 'assistant', content: '<think> 2+3=5 </think> <answer> 5 </answer>' }]),
    '<|begin_of_text|>' + ZERO + ' <think> 2+3=5 </think> <answer> 5 </answer><|end_of_text|>',
  );
  assert.throws(() => t.render([{ role: 'system', content: 'x' }]), (e: unknown) => e instanceof TokenizerError && /one user message/.test(e.message));
});

test('R1 chat: <think> is stripped from assistant turns followed by a user turn, kept on the last', () => {
  const t = new ChatTemplate(R1_CHAT_TEMPLATE, tokens);
  const msgs = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: '<think>greet back</think>\n\nHello!' },
    { role: 'user', content: '2+2?' },
    { role: 'assistant', content: '<think>2+2=4</think>\n\n4' },
  ];
  assert.equal(
    t.render(msgs),
    '<|begin_of_text|>Be brief.<|User|>Hi<|Assistant|>Hello!<|end_of_text|><|User|>2+2?<|Assistant|><think>2+2=4</think>\n\n4<|end_of_text|>',
  );
  assert.equal(t.render(msgs.slice(0, 4), { addGenerationPrompt: true }), '<|begin_of_text|>Be brief.<|User|>Hi<|Assistant|>Hello!<|end_of_text|><|User|>2+2?<|Assistant|>');
  assert.throws(() => t.render([{ role: 'tool', content: 'x' }]), /unknown role tool/);
  assert.throws(() => t.render([{ role: 'user', content: 'x' }, { role: 'system', content: 'y' }]), /system message may only come first/);
});

test('a Hugging Face-style template renders messages, bos/eos and the generation prompt', () => {
  const src =
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const t = new ChatTemplate(src, { bosToken: '<s>' });
  assert.equal(t.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }), '<s><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
});

test('bad templates and messages give TokenizerError', () => {
  assert.throws(() => new ChatTemplate('{% for x in %}'), (e: unknown) => e instanceof TokenizerError && /does not parse/.test(e.message));
  assert.throws(() => new ChatTemplate(''), TokenizerError);
  const t = new ChatTemplate(R1_CHAT_TEMPLATE, tokens);
  assert.throws(() => t.render([{ role: 'user' } as never]), (e: unknown) => e instanceof TokenizerError && /\[0\]\[content\]/.test(e.message));
  assert.throws(() => new ChatTemplate('{{ raise_exception("nope") }}').render([]), /nope/);
});

test('binding a template to a tokenizer checks its markers exist', async () => {
  const { smallTokenizer } = await import('./shared.ts');
  const { trainBpe } = await import('../../src/tokenizer/bpe-trainer.ts');
  const { r1ChatTemplate, r1ZeroTemplate } = await import('../../src/tokenizer/chat-template.ts');
  const tok = smallTokenizer();
  assert.equal(r1ChatTemplate(tok).render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }), '<|begin_of_text|><|User|>hi<|Assistant|>');
  assert.ok(r1ZeroTemplate(tok).render([{ role: 'user', content: 'q' }]).endsWith('User: q. Assistant:'));
  const plain = trainBpe('some text here '.repeat(20), { vocabSize: 300, specialTokens: [{ content: '<s>', special: true }], eos: '<s>' });
  assert.throws(() => r1ChatTemplate(plain), (e: unknown) => e instanceof TokenizerError && /BOS token.*"<\|User\|>"/.test(e.message));
});

test('extra template variables reach the template', () => {
  const t = new ChatTemplate("{% if tools %}[{{ tools|length }} tools]{% endif %}{{ date_string }}|{{ messages|length }}");
  assert.equal(t.render([{ role: 'user', content: 'x' }], { extra: { tools: [1, 2], date_string: '30 Nov 2026', messages: [] } }), '[2 tools]30 Nov 2026|1');
});
