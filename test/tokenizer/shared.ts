// Helpers for the tokenizer tests: a small deterministic training corpus, a
// cached small tokenizer trained on it, and the varied text set used by the
// agreement and round-trip tests. (Not a test file itself.)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { trainBpe } from '../../src/tokenizer/bpe-trainer.ts';
import type { BpeTokenizer } from '../../src/tokenizer/bpe-tokenizer.ts';

const root = resolve(import.meta.dirname, '../..');

/** DESIGN.md + some of our sources + unicode and numbers: ~100 kB of mixed text. */
export function smallCorpus(): string {
  const files = ['README.md', 'src/tokenizer/bpe-tokenizer.ts', 'src/tokenizer/bpe-trainer.ts', 'src/tokenizer/chat-template.ts'];
  let text = files.map((f) => readFileSync(resolve(root, f), 'utf8')).join('\n');
  text += '\nThe year 2024 had 365 days; 3.14159 × 2 = 6.28318. café naïve Привет мир 日本語のテキスト 🤗👍🏽 — “quotes” …\n'.repeat(20);
  text += "I'm sure you're right, they'll see what we'd do. DON'T SHOUT.\n".repeat(20);
  return text;
}

let cached: BpeTokenizer | undefined;
/** A 1000-token tokenizer trained on smallCorpus (trained once per process). */
export function smallTokenizer(): BpeTokenizer {
  cached ??= trainBpe(smallCorpus(), { vocabSize: 1000 });
  return cached;
}

/** Texts that stress pre-tokenization, merges, bytes and special tokens. */
export const VARIED_TEXTS: readonly string[] = [
  '',
  'Hello world',
  'The year 2024: $1,234.56! Call 555-0100 or 1e-9.',
  '12345678901234567890',
  '  multiple   spaces\n\n\ttabs\r\n  and\u3000ideographic\u00a0nbsp',
  "I'm you're THEY'LL we'd it's O'Neil 'quoted'",
  '🤗 emoji 👨‍👩‍👧 flags 🇫🇷 skin 👍🏽 café naïve',
  '日本語のテキスト 中文 한국어 Ελληνικά עברית العربية हिन्दी',
  'x\u0085y\uFEFFz\u2028w\u2029v\u200bu',
  '<think>step by step</think> <answer>42</answer><|end_of_text|>',
  '<|begin_of_text|><|User|>hi<|Assistant|><think>\nhmm\n</think>\n\nok<|end_of_text|>',
  'a<think>b<thinking></think c</think>>',
  'function f(x) {\n    return x * 2; // double\n}\n\n\n',
  'def g(a, b):\n\tif a >= b:\n\t\treturn [a, b]\n',
  '\uFEFFleading bom',
  '     ',
  '\n',
  'trailing spaces   ',
  '!!!???...,,,;;;',
  '\u0000\u0001\u001f\u007f control',
  'mixedCASE camelCase snake_case kebab-case SCREAMING_CASE',
  'https://example.com/path?q=1&r=2#frag',
  'e\u0301 combining é',
];
