// Pretraining data: streaming documents, held-out split, packing into windows,
// seeded shuffle, and exact resume from a saved position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDocuments, syntheticCorpus } from '../../src/data/text-dataset.ts';
import { PackedBatcher, docHash01, tokenizeDocuments } from '../../src/data/pack.ts';
import { epochOrder } from '../../src/data/batcher.ts';
import type { TextTokenizer } from '../../src/tokenizer/index.ts';

/** A byte tokenizer (ids = UTF-16 code units mod 250) is enough to test packing. */
const charTok = { encode: (s: string) => Array.from(s, (c) => c.charCodeAt(0) % 250) } as unknown as TextTokenizer;
const EOS = 255;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('readDocuments streams .txt paragraphs and .jsonl "text" lines, naming bad lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-data-'));
  try {
    writeFileSync(join(dir, 'a.txt'), 'one\nstill one\n\n\ntwo\n\nthree');
    assert.deepEqual(await collect(readDocuments(join(dir, 'a.txt'))), ['one\nstill one', 'two', 'three']);
    writeFileSync(join(dir, 'b.jsonl'), '{"text":"x y"}\n\n{"text":"z"}\n');
    assert.deepEqual(await collect(readDocuments(join(dir, 'b.jsonl'))), ['x y', 'z']);
    writeFileSync(join(dir, 'c.jsonl'), '{"text":"x"}\n{"txt":"y"}\n');
    await assert.rejects(collect(readDocuments(join(dir, 'c.jsonl'))), /c\.jsonl:2: expected an object with a string "text"/);
    await assert.rejects(collect(readDocuments(join(dir, 'nope.txt'))), /no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('documents get EOS and go to eval by text hash; the synthetic corpus is deterministic', async () => {
  const docs = syntheticCorpus(5000, 1);
  assert.deepEqual(docs, syntheticCorpus(5000, 1));
  const s = await tokenizeDocuments(docs, charTok, { eosId: EOS, heldOutFraction: 0.2 });
  const held = docs.filter((d) => docHash01(d) < 0.2);
  assert.ok(held.length > 0 && held.length < docs.length);
  assert.equal(s.evalDocs, held.length);
  assert.equal(s.trainDocs + s.evalDocs, docs.length);
  assert.equal(s.eval.length, held.reduce((n, d) => n + d.length + 1, 0));
  assert.equal(s.train.filter((x) => x === EOS).length, s.trainDocs);
  // none picked by the hash: the last document is held out
  const two = await tokenizeDocuments(['ab', 'cd'], charTok, { eosId: EOS, heldOutFraction: 1e-9 });
  assert.deepEqual([...two.eval], [99, 100, EOS]);
  assert.deepEqual([...two.train], [97, 98, EOS]);
});

test('packed windows: targets are the next tokens; every window once per epoch; seeded', () => {
  const tokens = Int32Array.from({ length: 41 }, (_, i) => i); // 10 windows of T=4 (+1)
  const b = new PackedBatcher(tokens, { batch: 2, seqLen: 4, seed: 3 });
  assert.equal(b.windows, 10);
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const x = b.next();
    assert.equal(x.tokens, 8);
    for (let r = 0; r < 2; r++) {
      for (let t = 0; t < 4; t++) assert.equal(x.targets[r * 4 + t], x.ids[r * 4 + t] + 1);
      starts.push(x.ids[r * 4]);
    }
  }
  assert.deepEqual([...starts].sort((p, q) => p - q), [0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
  assert.notDeepEqual(starts, [0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
  assert.deepEqual(b.position(), { epoch: 0, index: 10 });
  assert.notDeepEqual([...epochOrder(10, 3, 0, true)], [...epochOrder(10, 3, 1, true)]);
  assert.throws(() => new PackedBatcher(new Int32Array(4), { batch: 1, seqLen: 4 }), /too few for one window/);
});

test('seek(position()) resumes with exactly the same batches, across epochs', () => {
  const tokens = Int32Array.from({ length: 301 }, (_, i) => (i * 7) % 97);
  const a = new PackedBatcher(tokens, { batch: 3, seqLen: 10, seed: 5 });
  for (let i = 0; i < 13; i++) a.next();
  const pos = JSON.parse(JSON.stringify(a.position()));
  const rest = Array.from({ length: 20 }, () => a.next());
  const b = new PackedBatcher(tokens, { batch: 3, seqLen: 10, seed: 5 });
  b.seek(pos);
  for (const x of rest) {
    const y = b.next();
    assert.deepEqual(y.ids, x.ids);
    assert.deepEqual(y.targets, x.targets);
  }
  assert.throws(() => b.seek({ epoch: -1, index: 0 }), /batcher position/);
});
