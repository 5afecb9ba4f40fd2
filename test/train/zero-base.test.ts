import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonl } from '../../src/core/jsonl.ts';
import { loadModel } from '../../src/io/load.ts';
import { loadBpeTokenizer } from '../../src/tokenizer/tokenizer-json.ts';
import { continueZeroBase, COUNTDOWN_AHA_CONTINUE, MUL_CONTINUE } from '../../src/train/zero-base.ts';

const shipped = join(import.meta.dirname, '..', '..', 'assets', 'countdown-base');

test('continueZeroBase: the shipped countdown base, two steps on the aha corpus, keeps its tokenizer and shape and changes its weights', async () => {
  const out = mkdtempSync(join(tmpdir(), 'r1ts-continue-base-'));
  const dir = await continueZeroBase({ from: shipped, outDir: out, corpus: { ...COUNTDOWN_AHA_CONTINUE.corpus, heldOut: [] }, steps: 2, lr: 1e-3, batch: 2, progress: false });
  assert.equal(dir, join(out, 'model'));
  const before = loadModel(shipped).model;
  const after = loadModel(dir).model;
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(shipped, 'config.json'), 'utf8')));
  assert.equal(after.maxSeqLen, 512);
  // the same tokenizer: the same ids for a countdown guess with its check
  const text = 'Maybe 93 - (100 - 30). Wait, let me check: 100 - 30: 0-0=0, 10-3=7, 1-0-1=0, so 70.';
  const tk = (d: string) => loadBpeTokenizer(join(d, 'tokenizer.json'), join(d, 'tokenizer_config.json')).encode(text, { parseSpecial: false });
  assert.deepEqual(tk(dir), tk(shipped));
  // trained: every step logged with a finite loss, and the weights moved
  const steps = readJsonl<{ step?: number; loss?: number }>(join(out, 'metrics.jsonl')).filter((r) => typeof r.loss === 'number');
  assert.deepEqual(steps.map((r) => r.step), [1, 2]);
  assert.ok(steps.every((r) => Number.isFinite(r.loss)));
  const w = (m: typeof before) => m.namedTensors().find(([n]) => n === 'embed.weight')![1].f32();
  const [a, b] = [w(before), w(after)];
  assert.equal(a.length, b.length);
  assert.ok(a.some((x, i) => x !== b[i]), 'the embedding did not change');
});

test('continueZeroBase: the shipped addition base on the multiplication corpus, its context stretched to 384', async () => {
  const from = join(import.meta.dirname, '..', '..', 'assets', 'zero-base');
  const out = mkdtempSync(join(tmpdir(), 'r1ts-continue-base-'));
  const dir = await continueZeroBase({ from, outDir: out, arithmetic: MUL_CONTINUE.arithmetic, seq: 384, steps: 2, lr: 1e-3, batch: 2, progress: false });
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(cfg, { ...JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')), max_position_embeddings: 384 });
  assert.equal(loadModel(dir).model.maxSeqLen, 384);
  assert.deepEqual(readJsonl<{ step?: number; loss?: number }>(join(out, 'metrics.jsonl')).filter((r) => typeof r.loss === 'number').map((r) => r.step), [1, 2]);
  await assert.rejects(continueZeroBase({ from, outDir: out, steps: 1, lr: 1e-3 }), /expected exactly one of corpus \(countdown\) and arithmetic/);
});
