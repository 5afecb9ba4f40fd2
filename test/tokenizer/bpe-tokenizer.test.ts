// Our encoder/decoder: exact round trips of arbitrary text (emoji, controls,
// combining marks; lone surrogates become U+FFFD as in any UTF-8 encoding),
// special tokens matched first and longest, untrusted text with specials kept
// plain, byte-level decoding of partial sequences, and bad ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { TokenizerError } from '../../src/tokenizer/errors.ts';
import { BpeTokenizer } from '../../src/tokenizer/bpe-tokenizer.ts';
import { smallTokenizer, VARIED_TEXTS } from './shared.ts';

test('decode(encode(text)) === text on the varied set', () => {
  const tok = smallTokenizer();
  for (const t of VARIED_TEXTS) assert.equal(tok.decode(tok.encode(t)), t, JSON.stringify(t));
});

test('random strings of code points round-trip exactly', () => {
  const tok = smallTokenizer();
  const rng = new Rng(7);
  const pools = [[0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x2ff], [0x400, 0x4ff], [0x3040, 0x30ff], [0x4e00, 0x4fff], [0x1f300, 0x1f64f], [0xe000, 0xe0ff], [0x10000, 0x10ffff]];
  for (let k = 0; k < 300; k++) {
    let s = '';
    const n = rng.int(40);
    for (let i = 0; i < n; i++) {
      const [lo, hi] = pools[rng.int(pools.length)];
      s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
      if (rng.uniform() < 0.2) s += ' '.repeat(rng.int(4));
    }
    assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  }
});

test('lone surrogates are encoded as U+FFFD; invalid byte runs decode to U+FFFD', () => {
  const tok = smallTokenizer();
  assert.equal(tok.decode(tok.encode('a\uD800b\uDC00c')), 'a\uFFFDb\uFFFDc');
  // the single-byte tokens of 🤗 (F0 9F A4 97) one by one
  const ids = tok.encode('🤗');
  const bytes = tok.decodeBytes(ids);
  assert.deepEqual([...bytes], [0xf0, 0x9f, 0xa4, 0x97]);
  assert.equal(tok.decode([0xf0, 0x9f]), '\uFFFD');
  assert.equal(tok.decode([0xff, 0x41]), '\uFFFDA');
});

test('special tokens are matched first and longest; parseSpecial=false keeps them as text', () => {
  const tok = smallTokenizer();
  const think = tok.specialId('<think>'), end = tok.specialId('</think>'), eos = tok.specialId('<|end_of_text|>');
  const ids = tok.encode('x<think>y</think><|end_of_text|>');
  assert.ok(ids.includes(think) && ids.includes(end) && ids.includes(eos));
  const plain = tok.encode('x<think>y</think><|end_of_text|>', { parseSpecial: false });
  assert.ok(!plain.includes(think) && !plain.includes(end) && !plain.includes(eos));
  assert.equal(tok.decode(plain), 'x<think>y</think><|end_of_text|>');
  // <thinking> is not <think>
  assert.ok(!tok.encode('<thinking>').includes(think));
});

test('decode can skip control tokens but keeps <think> tags', () => {
  const tok = smallTokenizer();
  const ids = tok.encode('<|begin_of_text|><think>a</think>b<|end_of_text|><|pad|>');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), '<think>a</think>b');
});

test('long pieces and repeated characters encode (heap merge, no quadratic blow-up needed)', () => {
  const tok = smallTokenizer();
  for (const s of ['a'.repeat(20000), ' '.repeat(5000), 'ab'.repeat(3000), '1'.repeat(1000)]) assert.equal(tok.decode(tok.encode(s)), s);
  assert.equal(tok.encode('1'.repeat(1000)).length, 1000);
});

test('bad ids and inputs give TokenizerError', () => {
  const tok = smallTokenizer();
  for (const id of [-1, 1.5, 1e9, NaN]) assert.throws(() => tok.decode([id]), (e: unknown) => e instanceof TokenizerError && /not in the vocabulary/.test(e.message));
  assert.throws(() => tok.encode(3 as unknown as string), TokenizerError);
});

test('model data is validated: missing bytes, bad merges, colliding added tokens', () => {
  const base = smallTokenizer().data;
  assert.throws(() => new BpeTokenizer({ ...base, vocab: base.vocab.slice(1) }), /appears twice|missing/);
  assert.throws(() => new BpeTokenizer({ ...base, merges: [['zz', 'q'], ...base.merges] }), /not in the vocab/);
  assert.throws(() => new BpeTokenizer({ ...base, addedTokens: [{ content: 'X', id: 3, special: true }] }), /already the vocab token/);
  assert.throws(() => new BpeTokenizer({ ...base, roles: { bos: '<nope>' } }), /bos token "<nope>"/);
});
