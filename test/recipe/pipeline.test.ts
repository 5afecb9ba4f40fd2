// The pipeline on a tiny config: sample → SFT → RL from the shipped base, each
// stage's model, metrics and done marker on disk, a held-out accuracy per
// stage; a rerun skips every done stage; a changed stage config is refused;
// a stage whose marker is gone runs again (and only it); bad configs name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readJsonl } from '../../src/core/jsonl.ts';
import { DEFAULT_PIPELINE, PipelineConfigSchema, pipelineTable, runPipeline, type PipelineConfig } from '../../src/recipe/pipeline.ts';

const root = resolve(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'r1ts-pipeline-'));

const config: PipelineConfig = {
  out, base: join(root, 'assets/zero-base'), task: 'add', evalItems: 8, maxTokens: 96, progress: false,
  stages: [
    { kind: 'sample', name: 'rejection-sampling', prompts: 6, k: 4, concurrency: 6 },
    { kind: 'sft', name: 'sft', steps: 2, batch: 4 },
    { kind: 'rl', name: 'final-rl', steps: 1, minutes: 1, prompts: 2, group: 2 },
  ],
};

test('pipeline: stages write models, metrics and done markers; reruns resume at stage granularity', async () => {
  const logs: string[] = [];
  const r = await runPipeline(config, (l) => logs.push(l));
  assert.deepEqual(r.stages.map((s) => s.name), ['rejection-sampling', 'sft', 'final-rl']);
  assert.ok(r.stages.every((s) => !s.resumed && s.accuracy >= 0 && s.accuracy <= 1));
  assert.equal(r.stages[0].model, config.base, 'sampling leaves the model as it was');
  assert.ok(r.stages[0].kept! > 0 && existsSync(r.stages[0].data!));
  for (const [i, s] of ['01-rejection-sampling', '02-sft', '03-final-rl'].entries()) {
    assert.ok(existsSync(join(out, s, 'done.json')), `${s}/done.json`);
    assert.ok(readJsonl(join(out, s, 'metrics.jsonl')).length > 0, `${s}/metrics.jsonl`);
    if (i > 0) assert.ok(existsSync(join(out, s, 'model', 'model.safetensors')) && existsSync(join(out, s, 'model', 'tokenizer.json')), `${s}/model`);
  }
  assert.equal(r.stages[2].model, join(out, '03-final-rl', 'model'));
  assert.match(pipelineTable(r), /\| base \| - \| \d+\.\d% \|[\s\S]*\| final-rl \| rl \|/);

  const again = await runPipeline(config, () => {});
  assert.ok(again.stages.every((s) => s.resumed));
  assert.deepEqual(again.stages.map((s) => s.accuracy), r.stages.map((s) => s.accuracy));

  rmSync(join(out, '03-final-rl', 'done.json'));
  const third = await runPipeline(config, () => {});
  assert.deepEqual(third.stages.map((s) => s.resumed), [true, true, false]);

  const changed = { ...config, stages: [config.stages[0], { ...config.stages[1], steps: 3 }, config.stages[2]] } as PipelineConfig;
  await assert.rejects(runPipeline(changed, () => {}), /02-sft\/done\.json: stage 'sft' was done with another config/);
});

test('pipeline config: the default parses; bad stages are named', () => {
  assert.ok(PipelineConfigSchema.safeParse(DEFAULT_PIPELINE).success);
  const bad = (c: unknown, re: RegExp) => {
    const r = PipelineConfigSchema.safeParse(c);
    assert.ok(!r.success);
    assert.match(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), re);
  };
  bad({ stages: [{ kind: 'dpo', name: 'x' }] }, /stages\.0\.kind/);
  bad({ stages: [{ kind: 'sft', name: 'a' }, { kind: 'rl', name: 'a' }] }, /stages\.1\.name: stage name 'a' appears twice/);
  bad({ stages: [{ kind: 'sft', name: 'a', steps: 0 }] }, /stages\.0\.steps/);
  bad({ stages: [] }, /stages/);
});
