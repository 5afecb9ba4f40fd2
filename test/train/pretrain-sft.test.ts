// pretrain() and sft() glue end to end on tiny data: BPE trained and saved,
// held-out eval, a loadable model dir with tokenizer (and chat template after
// SFT), and resume extending a finished run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticCorpus } from '../../src/data/text-dataset.ts';
import { syntheticConversations } from '../../src/data/sft.ts';
import { loadModel } from '../../src/io/load.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { pretrain } from '../../src/train/pretrain.ts';
import { sft } from '../../src/train/sft.ts';

test('pretrain on a .jsonl file, resume to more steps, then sft on its model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-pt-'));
  try {
    const data = join(dir, 'd.jsonl');
    writeFileSync(data, syntheticCorpus(20_000, 2).map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const out = join(dir, 'run');
    const logs: string[] = [];
    const small = { data, vocab: 300, depth: 1, seq: 64, batch: 2, evalEvery: 2, evalBatches: 1, heldOut: 0.2, out, progress: false, peakFlops: 1e9 };
    const r = await pretrain({ ...small, steps: 4 }, { log: (l) => logs.push(l) });
    assert.equal(r.step, 4);
    assert.ok(r.evalTokens > 0 && r.trainTokens > r.evalTokens);
    assert.match(logs[0], /trained a \d+-token BPE/);
    const m = readJsonl(join(out, 'metrics.jsonl'));
    assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4]);
    assert.equal(typeof m[1].eval_loss, 'number');
    assert.ok(existsSync(join(out, 'model', 'tokenizer.json')));
    assert.equal(loadModel(r.modelDir!).model.config.vocab_size, r.tokenizer.vocabSize);
    // resume a finished run to more steps: continues from checkpoint 4 with the saved tokenizer
    const r2 = await pretrain({ ...small, steps: 6, resume: true }, { log: (l) => logs.push(l) });
    assert.equal(r2.startStep, 4);
    assert.equal(r2.losses.length, 2);
    assert.deepEqual(readJsonl(join(out, 'metrics.jsonl')).map((x) => x.step), [1, 2, 3, 4, 5, 6]);
    // SFT on the pretrained model
    const conv = join(dir, 'c.jsonl');
    writeFileSync(conv, syntheticConversations(20, 1).map((messages) => JSON.stringify({ messages })).join('\n') + '\n');
    const s = await sft({ model: r2.modelDir!, data: conv, seq: 48, batch: 2, steps: 3, evalEvery: 3, evalBatches: 1, heldOut: 0.2, out: join(dir, 'sft'), progress: false, peakFlops: 1e9 }, { log: () => {} });
    assert.equal(s.step, 3);
    assert.ok(s.trainExamples > 0 && s.evalExamples > 0);
    assert.ok(Number.isFinite(s.evalLoss!));
    assert.match(readFileSync(join(s.modelDir!, 'tokenizer_config.json'), 'utf8'), /chat_template/);
    loadModel(s.modelDir!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options name the field', async () => {
  await assert.rejects(pretrain({ steps: 0, out: '/nonexistent/x' }), /steps/);
  await assert.rejects(pretrain({ arch: 'rnn' as 'dense', out: '/nonexistent/x' }), /arch/);
});
