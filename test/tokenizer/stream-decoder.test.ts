// Streaming detokenization: feeding ids one by one yields exactly the decoded
// text, and a character split over byte tokens appears only when complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamDecoder } from '../../src/tokenizer/stream-decoder.ts';
import { HfTokenizer } from '../../src/tokenizer/hf-tokenizer.ts';
import { stringifyTokenizerJson } from '../../src/tokenizer/tokenizer-json.ts';
import { smallTokenizer, VARIED_TEXTS } from './shared.ts';

test('pushing ids one at a time reproduces decode(), for our encoder and HfTokenizer', () => {
  const tok = smallTokenizer();
  const hf = new HfTokenizer(stringifyTokenizerJson(tok));
  for (const t of [...VARIED_TEXTS, '🤗🤗 日本 😀x']) {
    const ids = tok.encode(t);
    for (const d of [tok, hf]) {
      const s = new StreamDecoder(d);
      let out = '';
      for (const id of ids) {
        const piece = s.push(id);
        assert.ok(!piece.includes('\uFFFD') || t.includes('\uFFFD'), `partial character emitted for ${JSON.stringify(t)}`);
        out += piece;
      }
      out += s.flush();
      assert.equal(out, t);
    }
  }
});

test('an emoji split into byte tokens is held back until complete; invalid bytes come out after 4', () => {
  const tok = smallTokenizer();
  const s = new StreamDecoder(tok);
  assert.deepEqual([0xf0, 0x9f, 0xa4].map((b) => s.push(b)), ['', '', '']);
  assert.equal(s.push(0x97), '🤗');
  const bad = new StreamDecoder(tok);
  assert.deepEqual([0xff, 0xff, 0xff].map((b) => bad.push(b)), ['', '', '']);
  assert.equal(bad.push(0xff), '\uFFFD\uFFFD\uFFFD\uFFFD');
  assert.equal(bad.flush(), '');
});
