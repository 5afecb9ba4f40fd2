// Real text from ../shared/data (GSM8K, MATH-500): a tokenizer trained on GSM8K
// questions and answers agrees token-for-token with @huggingface/tokenizers on
// MATH-500 problems and solutions (LaTeX, unicode, numbers) and round-trips
// them; the R1-Zero SFT example of a GSM8K item masks exactly the reply.
// Skipped when the shared data folder is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { requireSharedData, sharedDataDir, skipWithoutData } from '../data.ts';
import { trainBpe } from '../../src/tokenizer/bpe-trainer.ts';
import { HfTokenizer } from '../../src/tokenizer/hf-tokenizer.ts';
import { stringifyTokenizerJson } from '../../src/tokenizer/tokenizer-json.ts';
import { r1ZeroTemplate } from '../../src/tokenizer/chat-template.ts';
import { buildSftExample } from '../../src/tokenizer/loss-mask.ts';

const dataDir = sharedDataDir() ?? (process.env.CI === 'true' ? requireSharedData() : null);

function jsonl(path: string, n: number): Record<string, string>[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).slice(0, n).map((l) => JSON.parse(l));
}

test('GSM8K-trained tokenizer agrees with @huggingface/tokenizers on MATH-500', { skip: skipWithoutData() }, () => {
  const gsm = jsonl(resolve(dataDir!, 'gsm8k/train.jsonl'), 3000);
  const tok = trainBpe(gsm.map((r) => `${r.question}\n${r.answer}\n`), { vocabSize: 2048 });
  assert.equal(tok.vocabSize, 2048);
  const hf = new HfTokenizer(stringifyTokenizerJson(tok));
  const math = jsonl(resolve(dataDir!, 'math500/test.jsonl'), 500);
  let tokens = 0;
  for (const r of math) {
    for (const t of [r.problem, r.solution]) {
      const ids = tok.encode(t);
      tokens += ids.length;
      assert.deepEqual(hf.encode(t), ids, t.slice(0, 80));
      assert.equal(tok.decode(ids), t);
    }
  }
  assert.ok(tokens > 50_000);
  const item = gsm[0];
  const reply = `<think> ${item.answer.split('####')[0].trim()} </think> <answer> ${item.answer.split('####')[1].trim()} </answer>`;
  const ex = buildSftExample(r1ZeroTemplate(tok), tok, [{ role: 'user', content: item.question }, { role: 'assistant', content: reply }]);
  const first = ex.mask.indexOf(1);
  assert.equal(tok.decode(ex.ids.slice(first)), ` ${reply}<|end_of_text|>`);
  assert.ok(ex.mask.slice(first).every((m) => m === 1));
  assert.ok(tok.decode(ex.ids.slice(0, first)).endsWith(`User: ${item.question}. Assistant:`));
});
