// `runZero` mechanics on a tiny random model: before/after evaluations, the
// GRPO steps, metrics.jsonl / samples.jsonl / summary.json written as DESIGN.md says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { densePreset } from '../../src/models/config.ts';
import { Llama } from '../../src/models/llama.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';
import { corpusDocuments } from '../../src/tasks/arithmetic-corpus.ts';
import { BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, r1ZeroPrompt, trainBpe } from '../../src/tokenizer/index.ts';
import { readJsonl } from '../../src/core/jsonl.ts';
import { GRPO_DEFAULTS } from '../../src/train/grpo.ts';
import { reflectiveCorrect, runZero, zeroPromptIds } from '../../src/train/zero.ts';
import type { EvalReport } from '../../src/eval/harness.ts';

test('runZero: evaluations, steps and the run files', async () => {
  const docs: string[] = [];
  const gen = corpusDocuments(1);
  for (let i = 0; i < 300; i++) docs.push(gen.next().value!.text);
  const tokenizer = trainBpe(docs, { vocabSize: 300, specialTokens: [BOS_TOKEN, EOS_TOKEN, PAD_TOKEN].map((content) => ({ content, special: true })), bos: BOS_TOKEN, eos: EOS_TOKEN, pad: PAD_TOKEN });
  const ids = zeroPromptIds(tokenizer, 'What is 1+2?');
  assert.equal(ids[0], tokenizer.specialId(EOS_TOKEN), 'a prompt starts at a document boundary');
  assert.equal(tokenizer.decode(ids.slice(1)), `${r1ZeroPrompt('What is 1+2?')} <think>`);
  const model = new Llama(densePreset(1, tokenizer.vocabSize, 512), new Rng(0));
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-zero-'));
  try {
    const s = await runZero(model, tokenizer, additionTask(), {
      grpo: { ...GRPO_DEFAULTS, promptsPerStep: 2, groupSize: 4, maxTokens: 8 },
      minutes: 10, steps: 2, evalEvery: 1, evalItems: 4, finalEvalItems: 6, evalTemperature: 1, outDir: dir, progress: false,
    });
    assert.equal(s.steps, 2);
    assert.equal(s.task, 'add');
    assert.ok(s.acc_before >= 0 && s.acc_before <= 1 && s.len_before > 0);
    assert.equal(s.examples_before.length, 3);
    const metrics = readJsonl(join(dir, 'metrics.jsonl'));
    assert.deepEqual(metrics.map((m) => m.step), [0, 1, 2, 2]);
    for (const m of metrics.slice(1, 3)) for (const k of ['reward', 'accuracy', 'completion_tokens', 'zero_variance_groups', 'reflection_words', 'eval/accuracy', 'eval/reflective_correct', 'rollout_tokens_per_s', 'time']) assert.ok(k in m, `metrics lack ${k}`);
    assert.ok(readJsonl(join(dir, 'samples.jsonl')).length > 0);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).steps, 2);
    assert.ok(existsSync(join(dir, 'eval-after.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reflectiveCorrect: of the right answers, the share that checks itself', () => {
  const item = (completions: string[], correct: boolean[]) => ({ completions, correct }) as unknown as EvalReport['results'][number];
  const report = (results: EvalReport['results']) => ({ results }) as EvalReport;
  const r = report([
    item([' 1+2=3. Wait, let me check: 1+2=3. Yes </think>', ' 3 </think>'], [true, true]),
    item([' I will check it again </think>', ' 4 </think>'], [false, true]),
    item([' Checking: 5. </think>'], [true]), // "Checking" is not the word "check"
  ]);
  assert.equal(reflectiveCorrect(r), 1 / 4);
  assert.equal(reflectiveCorrect(report([item([' wait </think>'], [false])])), 0, 'no right answers: 0');
});
