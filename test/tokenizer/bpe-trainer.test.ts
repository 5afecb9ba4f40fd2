// BPE training: vocabulary layout (bytes, merges, special tokens), digits never
// merged, special tokens never learned from text, determinism, and the bad
// inputs (vocab too small for bytes + specials, empty corpus, bad roles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWords, learnMerges, trainBpe } from '../../src/tokenizer/bpe-trainer.ts';
import { TokenizerError } from '../../src/tokenizer/errors.ts';
import { BYTE_TO_UNICODE } from '../../src/tokenizer/byte-level.ts';
import { DEFAULT_SPECIAL_TOKENS, BOS_TOKEN, EOS_TOKEN, PAD_TOKEN } from '../../src/tokenizer/special-tokens.ts';
import { smallCorpus, smallTokenizer } from './shared.ts';

test('vocab is 256 bytes, then merges, then the R1 special tokens', () => {
  const tok = smallTokenizer();
  assert.equal(tok.vocabSize, 1000);
  for (let b = 0; b < 256; b++) assert.equal(tok.idToToken(b), BYTE_TO_UNICODE[b]);
  const n = DEFAULT_SPECIAL_TOKENS.length;
  assert.ok(tok.numMerges >= 1000 - 256 - n);
  DEFAULT_SPECIAL_TOKENS.forEach((t, i) => assert.equal(tok.tokenToId(t.content), 1000 - n + i));
  assert.equal(tok.bosToken, BOS_TOKEN);
  assert.equal(tok.eosToken, EOS_TOKEN);
  assert.equal(tok.padToken, PAD_TOKEN);
  for (const s of ['<think>', '</think>', '<answer>', '</answer>']) assert.equal(tok.encode(s).length, 1);
});

test('merges never join two digits, and the common words become single tokens', () => {
  const tok = smallTokenizer();
  for (const [a, b] of tok.data.merges) assert.ok(!(/\d/.test(a + b) && (a + b).replace(/\D/g, '').length > 1), `merge ${a} ${b} joins digits`);
  assert.deepEqual(tok.encode('2024').length, 4);
  assert.equal(tok.encode(' the').length, 1);
});

test('special tokens in the corpus are cut out, not learned', () => {
  const text = '<think>aaaa</think> '.repeat(500);
  const tok = trainBpe(text, { vocabSize: 300 });
  for (const [a, b] of tok.data.merges) assert.ok(!(a + b).includes('think>'), `learned ${a + b}`);
});

test('training is deterministic and counts words once', () => {
  const a = trainBpe(smallCorpus(), { vocabSize: 400 });
  const b = trainBpe([smallCorpus()], { vocabSize: 400 });
  assert.deepEqual(a.data.merges, b.data.merges);
  const counts = new Map<string, number>();
  countWords('ab ab ab 12', counts);
  assert.deepEqual([...counts], [['ab', 1], [' ab', 2], [' ', 1], ['1', 1], ['2', 1]]);
});

test('incremental pair counts agree with a naive retrain-from-scratch merge loop', () => {
  const counts = new Map<string, number>();
  countWords(smallCorpus().slice(0, 20000), counts);
  const fast = learnMerges(counts, 150, 1);
  assert.deepEqual(naiveMerges(counts, 150), fast);
});

/** Recounts every pair over every word after each merge (the slow, obvious algorithm). */
function naiveMerges(counts: Map<string, number>, numTokens: number): [number, number, number][] {
  // naive: recount every pair over every word after each merge
  const words = [...counts].map(([w, c]) => ({ s: Array.from(new TextEncoder().encode(w)), c }));
  const naive: [number, number, number][] = [];
  const keys: string[] = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));
  while (keys.length - 256 < numTokens) {
    const pc = new Map<string, number>();
    for (const { s, c } of words) for (let i = 0; i + 1 < s.length; i++) pc.set(`${s[i]},${s[i + 1]}`, (pc.get(`${s[i]},${s[i + 1]}`) ?? 0) + c);
    let best: [number, number] | undefined, bc = 0;
    for (const [k, c] of pc) {
      const [x, y] = k.split(',').map(Number);
      if (c > bc || (c === bc && best && (x < best[0] || (x === best[0] && y < best[1])))) { best = [x, y]; bc = c; }
    }
    if (!best) break;
    let id = keys.indexOf(keys[best[0]] + keys[best[1]]);
    if (id < 0) { id = keys.length; keys.push(keys[best[0]] + keys[best[1]]); }
    naive.push([best[0], best[1], id]);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.s.length; ) {
        if (i + 1 < w.s.length && w.s[i] === best[0] && w.s[i + 1] === best[1]) { out.push(id); i += 2; } else out.push(w.s[i++]);
      }
      w.s = out;
    }
  }
  return naive;
}

test('custom special tokens and roles', () => {
  const tok = trainBpe(smallCorpus().slice(0, 5000), {
    vocabSize: 270,
    specialTokens: [{ content: '<s>', special: true }, { content: '</s>', special: true }],
    bos: '<s>',
    eos: '</s>',
  });
  assert.equal(tok.vocabSize, 270);
  assert.equal(tok.specialId('<s>'), 268);
  assert.equal(tok.bosToken, '<s>');
  assert.equal(tok.padToken, undefined);
  assert.throws(() => tok.specialId('<think>'), (e: unknown) => e instanceof TokenizerError && /unknown special token "<think>"/.test(e.message));
});

test('bad training input gives clear errors', () => {
  const n = 256 + DEFAULT_SPECIAL_TOKENS.length;
  assert.throws(() => trainBpe('abc', { vocabSize: n - 1 }), (e: unknown) => e instanceof TokenizerError && e.message.includes(`= ${n}`));
  assert.throws(() => trainBpe('', {}), (e: unknown) => e instanceof TokenizerError && /empty/.test(e.message));
  assert.throws(() => trainBpe([], {}), TokenizerError);
  assert.throws(() => trainBpe('abc', { vocabSize: 300, specialTokens: [{ content: '<s>', special: true }], bos: '<x>' }), /bos token "<x>"/);
  assert.throws(() => trainBpe('abc', { specialTokens: [{ content: '<s>', special: true }, { content: '<s>', special: true }] }), /twice/);
  assert.throws(() => trainBpe('abc', { vocabSize: 1.5 }), TokenizerError);
  assert.throws(() => trainBpe('abc', { vocab: 300 } as never), TokenizerError);
});

test('a corpus with too few pairs stops short of the requested size', () => {
  const tok = trainBpe('ab ab', { vocabSize: 5000 });
  assert.ok(tok.vocabSize < 5000);
  assert.deepEqual(tok.decode(tok.encode('ab ab')), 'ab ab');
});

test('a very long run of letters is counted in chunks (training stays fast and exact on the rest)', () => {
  let dna = '';
  const bases = 'ACGT';
  let x = 1;
  for (let i = 0; i < 200_000; i++) { x = (x * 1103515245 + 12345) >>> 0; dna += bases[x >>> 30]; }
  const tok = trainBpe(dna + ' 🤗'.repeat(300), { vocabSize: 600 });
  assert.equal(tok.vocabSize, 600);
  assert.equal(tok.decode(tok.encode(dna.slice(0, 5000))), dna.slice(0, 5000));
  const counts = new Map<string, number>();
  countWords('a'.repeat(600) + ' ' + '😀'.repeat(200), counts);
  for (const w of counts.keys()) assert.ok(!/[\uD800-\uDBFF]$/.test(w) && !/^[\uDC00-\uDFFF]/.test(w), 'split inside a surrogate pair');
  assert.deepEqual([...counts.values()].reduce((a, b) => a + b), 3 + 2);
});

test('edge sizes: no merges at the minimum size; a corpus of only special tokens is an error', () => {
  const n = 256 + DEFAULT_SPECIAL_TOKENS.length;
  const tok = trainBpe('hello hello', { vocabSize: n });
  assert.equal(tok.numMerges, 0);
  assert.equal(tok.vocabSize, n);
  assert.deepEqual(tok.encode('hi'), [104, 105]);
  assert.throws(() => trainBpe('<think></think>', {}), (e: unknown) => e instanceof TokenizerError && /only special tokens/.test(e.message));
});
