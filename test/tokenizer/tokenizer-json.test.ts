// tokenizer.json: our files are standard (read back by @huggingface/tokenizers
// and by us), the two encoders agree token-for-token on a varied text set,
// other pipelines run through HfTokenizer, and malformed or adversarial files
// (a fuzz of a few hundred mutations) fail only with TokenizerError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { TokenizerError } from '../../src/tokenizer/errors.ts';
import { bpeFromTokenizerJson, loadBpeTokenizer, parseTokenizerJson, stringifyTokenizerJson, toTokenizerJson } from '../../src/tokenizer/tokenizer-json.ts';
import { HfTokenizer, loadHfTokenizer } from '../../src/tokenizer/hf-tokenizer.ts';
import { smallCorpus, smallTokenizer, VARIED_TEXTS } from './shared.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures/tokenizer');

test('our encoder and @huggingface/tokenizers agree token-for-token on our file', () => {
  const tok = smallTokenizer();
  const hf = new HfTokenizer(stringifyTokenizerJson(tok));
  assert.equal(hf.vocabSize, tok.vocabSize);
  const texts = [...VARIED_TEXTS, smallCorpus().slice(0, 20000)];
  for (const t of texts) {
    const ours = tok.encode(t);
    assert.deepEqual(hf.encode(t), ours, JSON.stringify(t.slice(0, 60)));
    assert.equal(hf.decode(ours), t);
  }
  for (const s of ['<think>', '</think>', '<answer>', '</answer>', '<|begin_of_text|>']) assert.equal(hf.tokenToId(s), tok.tokenToId(s));
  assert.equal(hf.decode(tok.encode('<|begin_of_text|>a<think>b</think>')), '<|begin_of_text|>a<think>b</think>');
  assert.equal(hf.decode(tok.encode('<|begin_of_text|>a<think>b</think>'), { skipSpecialTokens: true }), 'a<think>b</think>');
});

test('write → read gives the same tokenizer; the file is a standard one', () => {
  const tok = smallTokenizer();
  const json = toTokenizerJson(tok) as { model: { type: string; merges: unknown[] }; added_tokens: { content: string; special: boolean }[] };
  assert.equal(json.model.type, 'BPE');
  assert.deepEqual(json.added_tokens.find((t) => t.content === '<think>')?.special, false);
  assert.deepEqual(json.added_tokens.find((t) => t.content === '<|end_of_text|>')?.special, true);
  const back = bpeFromTokenizerJson(stringifyTokenizerJson(tok));
  assert.deepEqual(back.data.merges, tok.data.merges);
  assert.equal(back.vocabSize, tok.vocabSize);
  assert.equal(back.eosToken, tok.eosToken);
  for (const t of VARIED_TEXTS) assert.deepEqual(back.encode(t), tok.encode(t));
});

test('fixture files load from disk through both paths, with tokenizer_config.json', () => {
  const ours = loadBpeTokenizer(resolve(fixtures, 'tiny-bpe.json'), resolve(fixtures, 'tiny-bpe.config.json'));
  const hf = loadHfTokenizer(resolve(fixtures, 'tiny-bpe.json'), resolve(fixtures, 'tiny-bpe.config.json'));
  assert.equal(hf.bosToken, '<|begin_of_text|>');
  assert.equal(hf.eosToken, '<|end_of_text|>');
  assert.ok(hf.chatTemplate?.includes('<|Assistant|>'));
  for (const t of VARIED_TEXTS) assert.deepEqual(hf.encode(t), ours.encode(t), JSON.stringify(t));
  // merges written in the older "a b" string form are read too
  const j = JSON.parse(readFileSync(resolve(fixtures, 'tiny-bpe.json'), 'utf8'));
  j.model.merges = j.model.merges.map((m: string[]) => m.join(' '));
  const old = new HfTokenizer(j);
  assert.deepEqual(old.encode('The quick brown fox 2024'), ours.encode('The quick brown fox 2024'));
  assert.deepEqual(bpeFromTokenizerJson(j).encode('The quick brown fox'), ours.encode('The quick brown fox'));
});

test('other pipelines (WordPiece) run through HfTokenizer and are refused by our encoder', () => {
  const hf = loadHfTokenizer(resolve(fixtures, 'wordpiece.json'));
  assert.deepEqual(hf.encode('Hello WORLD!'), [2, 3, 6]);
  assert.equal(hf.vocabSize, 7);
  assert.throws(() => loadBpeTokenizer(resolve(fixtures, 'wordpiece.json')), (e: unknown) => e instanceof TokenizerError && /model.type is WordPiece/.test(e.message));
  assert.throws(() => hf.specialId('<think>'), /unknown special token "<think>"/);
});

test('malformed files name what is wrong', () => {
  const good = () => JSON.parse(stringifyTokenizerJson(smallTokenizer()));
  const cases: [string, (j: any) => unknown, RegExp][] = [
    ['not json', () => '{"model": ', /not valid JSON/],
    ['no model', (j) => { delete j.model; return j; }, /\.model/],
    ['unknown model type', (j) => { j.model.type = 'Magic'; return j; }, /\.model\.type/],
    ['negative id', (j) => { j.model.vocab['a'] = -3; return j; }, /model\.vocab\.a/],
    ['duplicate id', (j) => { j.model.vocab['a'] = j.model.vocab['b']; return j; }, /gives id \d+ to both/],
    ['merge of unknown token', (j) => { j.model.merges.push(['zzzq', 'a']); return j; }, /merges\[\d+\].*not in model.vocab/],
    ['merge result missing', (j) => { j.model.merges.push(['a', 'b']); delete j.model.vocab['ab']; return j; }, /not in model.vocab/],
    ['bad merge string', (j) => { j.model.merges[0] = 'a b c'; return j; }, /merges\[0\]/],
    ['added token without content', (j) => { delete j.added_tokens[0].content; return j; }, /added_tokens\[0\]\.content/],
    ['added token id clash', (j) => { j.added_tokens[1].id = j.added_tokens[0].id; return j; }, /reuses id/],
    ['added token id disagrees with vocab', (j) => { j.added_tokens[0].id = 5; j.added_tokens[0].content = j.model.vocab ? Object.keys(j.model.vocab)[7] : 'x'; return j; }, /model.vocab says/],
    ['pre_tokenizer without type', (j) => { j.pre_tokenizer = { pattern: 1 }; return j; }, /pre_tokenizer/],
    ['top level array', () => [], /top level|expected object/],
  ];
  for (const [name, mutate, re] of cases) {
    const input = mutate(good());
    assert.throws(() => new HfTokenizer(input), (e: unknown) => e instanceof TokenizerError && re.test(e.message), name);
    assert.throws(() => bpeFromTokenizerJson(input), (e: unknown) => e instanceof TokenizerError, name);
  }
  assert.throws(() => loadHfTokenizer(resolve(fixtures, 'missing.json')), (e: unknown) => e instanceof TokenizerError && /cannot read/.test(e.message));
  assert.throws(() => new HfTokenizer(good(), { bos_token: '<nope>' }), /bos_token "<nope>"/);
});

test('fuzz: 400 mutated tokenizer.json files give a tokenizer or a TokenizerError, nothing else', () => {
  const base = JSON.parse(readFileSync(resolve(fixtures, 'tiny-bpe.json'), 'utf8'));
  const baseText = readFileSync(resolve(fixtures, 'tiny-bpe.json'), 'utf8');
  const rng = new Rng(1234);
  const junk = (): unknown => [null, -1, 0, 1.5, 1e12, '', 'x', 'Ġ', [], {}, true, [1, 2], { type: 'BPE' }, { type: 'Split' }, '\uD800', 'a b'][rng.int(16)];
  const paths = (v: unknown, prefix: (string | number)[], out: (string | number)[][], depth: number): void => {
    out.push(prefix);
    if (depth > 5 || v === null || typeof v !== 'object') return;
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v as object);
    const pick = keys.length > 12 ? Array.from({ length: 12 }, () => keys[rng.int(keys.length)]) : keys;
    for (const k of pick) paths((v as Record<string | number, unknown>)[k], [...prefix, k], out, depth + 1);
  };
  let loaded = 0, rejected = 0;
  for (let k = 0; k < 400; k++) {
    let input: unknown;
    if (k % 5 === 4) {
      const at = rng.int(baseText.length);
      input = rng.uniform() < 0.5 ? baseText.slice(0, at) : baseText.slice(0, at) + String.fromCharCode(32 + rng.int(95)) + baseText.slice(at + 1);
    } else {
      const j = structuredClone(base);
      const all: (string | number)[][] = [];
      paths(j, [], all, 0);
      const nMut = 1 + rng.int(3);
      for (let m = 0; m < nMut; m++) {
        const p = all[1 + rng.int(all.length - 1)];
        let parent: any = j;
        for (const key of p.slice(0, -1)) parent = parent?.[key];
        if (parent === null || typeof parent !== 'object') continue;
        const last = p[p.length - 1];
        const r = rng.uniform();
        if (r < 0.3) Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
        else if (r < 0.8) parent[last] = junk();
        else parent[last] = structuredClone(parent[Object.keys(parent)[rng.int(Object.keys(parent).length)]]);
      }
      input = j;
    }
    for (const load of [(x: unknown) => new HfTokenizer(x), (x: unknown) => bpeFromTokenizerJson(x)]) {
      try {
        const tok = load(input);
        const ids = tok.encode('Hello <think>world</think> 2024 🤗');
        tok.decode(ids);
        loaded++;
      } catch (e) {
        if (!(e instanceof TokenizerError)) assert.fail(`mutation ${k}: ${(e as Error)?.stack ?? String(e)}`);
        rejected++;
      }
    }
  }
  assert.ok(loaded > 50 && rejected > 200, `loaded ${loaded}, rejected ${rejected}`);
});

test('parseTokenizerJson accepts a minimal hand-written file', () => {
  const j = parseTokenizerJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] } });
  assert.deepEqual(j.added_tokens, []);
});

test('saveTokenizerFiles writes a directory both loaders read', async () => {
  const { mkdtempSync, rmSync, readdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { saveTokenizerFiles } = await import('../../src/tokenizer/tokenizer-json.ts');
  const { R1_CHAT_TEMPLATE } = await import('../../src/tokenizer/chat-template.ts');
  const dir = mkdtempSync(resolve(tmpdir(), 'r1ts-tok-'));
  try {
    const tok = smallTokenizer();
    const p = saveTokenizerFiles(resolve(dir, 'out'), tok, R1_CHAT_TEMPLATE);
    assert.deepEqual(readdirSync(resolve(dir, 'out')).sort(), ['tokenizer.json', 'tokenizer_config.json']);
    const hf = loadHfTokenizer(p.tokenizer, p.config);
    const ours = loadBpeTokenizer(p.tokenizer, p.config);
    assert.equal(hf.chatTemplate, R1_CHAT_TEMPLATE);
    assert.equal(ours.eosToken, '<|end_of_text|>');
    assert.deepEqual(hf.encode(VARIED_TEXTS[9]), tok.encode(VARIED_TEXTS[9]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('findTokenizerJson and tokenizerConfigBeside find a model\'s files: its directory, then up to `up` levels above', async () => {
  const { mkdtempSync, mkdirSync, rmSync, unlinkSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { findTokenizerJson, saveTokenizerFiles, tokenizerConfigBeside } = await import('../../src/tokenizer/tokenizer-json.ts');
  const dir = mkdtempSync(resolve(tmpdir(), 'r1ts-tok-'));
  try {
    const run = resolve(dir, 'run');
    const step = resolve(run, 'checkpoints', 'step-00000010');
    mkdirSync(step, { recursive: true });
    const p = saveTokenizerFiles(run, smallTokenizer());
    assert.equal(findTokenizerJson(run), p.tokenizer);
    assert.equal(findTokenizerJson(resolve(run, 'checkpoints')), p.tokenizer);
    assert.equal(findTokenizerJson(step), undefined); // two levels up, default one
    assert.equal(findTokenizerJson(step, 2), p.tokenizer);
    assert.equal(tokenizerConfigBeside(p.tokenizer), p.config);
    unlinkSync(p.config);
    assert.equal(tokenizerConfigBeside(p.tokenizer), undefined);
    assert.equal(loadBpeTokenizer(p.tokenizer, tokenizerConfigBeside(p.tokenizer)).vocabSize, smallTokenizer().vocabSize);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Llama-3-style file (Oniguruma (?i:) regex, ignore_merges) runs through HfTokenizer; our encoder refuses it', () => {
  const j = JSON.parse(readFileSync(resolve(fixtures, 'tiny-bpe.json'), 'utf8'));
  j.pre_tokenizer.pretokenizers[0].pattern.Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  j.model.ignore_merges = true;
  const hf = new HfTokenizer(j);
  for (const t of VARIED_TEXTS) assert.equal(hf.decode(hf.encode(t)), t, JSON.stringify(t));
  assert.throws(() => bpeFromTokenizerJson(j), (e: unknown) => e instanceof TokenizerError && /pre_tokenizer/.test(e.message));
});
