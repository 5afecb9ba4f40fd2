// End to end over real HTTP: an r1ts model served by the OpenAI-compatible
// server (startServer, the code behind `r1ts serve`) is the teacher of
// rejection sampling (its R1-Zero prompt through /v1/completions), whose
// verified traces train a smaller student from scratch with distill; the
// student must then answer the distilled prompts (greedy) better than before.
// Kept tiny to run in seconds: one-digit sums, 80 training prompts (graded by
// the integer grader). At this size a student cannot learn addition itself, so
// held-out sums stay at chance (measured: ~3% before and after); the test
// checks what distillation transfers, the teacher's verified answers. The
// README's held-out figures (0% → 78.5%) come from a larger run of the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { distill, parsePreset } from '../../src/recipe/distill.ts';
import { sample } from '../../src/recipe/sample.ts';
import { openaiTeacher } from '../../src/recipe/teacher.ts';
import { startServer } from '../../src/server/server.ts';
import { jsonlTask } from '../../src/tasks/jsonl-task.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'r1ts-distill-'));

test('parsePreset', () => {
  assert.deepEqual(parsePreset('2'), { arch: 'dense', depth: 2 });
  assert.deepEqual(parsePreset('moe-3'), { arch: 'moe', depth: 3 });
  assert.equal(parsePreset('runs/x'), null);
});

test('serve → sample over HTTP → distill: the student answers the distilled prompts better than before', async (t) => {
  const trainPath = join(dir, 'train.jsonl'), evalPath = join(dir, 'eval.jsonl');
  const train: string[] = [], held: string[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) ((a * 7 + b * 3) % 5 === 0 ? held : train).push(JSON.stringify({ id: `${a}+${b}`, question: `What is ${a}+${b}?`, answer: String(a + b) }));
  writeFileSync(trainPath, train.join('\n') + '\n');
  writeFileSync(evalPath, held.join('\n') + '\n');

  const server = await startServer({ modelDir: join(root, 'assets/zero-base'), port: 0, modelName: 'teacher', maxBatch: 64 });
  const data = join(dir, 'traces.jsonl');
  let s0 = { kept: 0 };
  try {
    const task = jsonlTask(trainPath, { grader: 'integer' });
    const teacher = openaiTeacher({ baseURL: `${server.url}/v1`, model: 'teacher', template: 'r1-zero', promptPrefix: '<|end_of_text|>', temperature: 0.3, maxTokens: 16, stop: ['</answer>'], seed: 0, concurrency: 64 });
    const s = await sample({ task, items: task.heldOut(1000), teacher, k: 8, out: data, concurrency: 64 });
    s0 = s;
    t.diagnostic(`teacher: ${s.done} prompts, accept rate ${(s.correct / s.samples).toFixed(3)}, ${s.kept} traces`);
    assert.equal(s.error, null);
    assert.equal(s.done, 80);
    assert.ok(s.kept >= 30, `enough traces (${s.kept})`);
    // a base model without chat markers serves /v1/completions; a chat request gets a 400 saying why
    const chat = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'teacher', messages: [{ role: 'user', content: 'hi' }] }) });
    assert.equal(chat.status, 400);
    assert.match(((await chat.json()) as { error: { message: string } }).error.message, /no usable chat template .*use \/v1\/completions/);
  } finally {
    await server.close();
  }
  const r = await distill({
    data, student: '1', task: trainPath, grader: 'integer', out: join(dir, 'run'), evalItems: 40, evalK: 1, evalTemperature: 0, maxTokens: 16,
    vocab: 300, seq: 48, steps: 300, batch: 16, lr: 1e-2, warmup: 10, heldOut: 0, progress: false,
  }, () => {});
  t.diagnostic(`student: greedy accuracy on distilled prompts ${r.acc_before.toFixed(3)} → ${r.acc_after.toFixed(3)} (${r.eval_items} items)`);
  assert.equal(r.conversations, s0.kept);
  assert.ok(r.acc_after > r.acc_before, `after ${r.acc_after} > before ${r.acc_before}`);

  // a model directory as the student: the distilled one, a few more steps; its "before" is the accuracy above
  const again = await distill({ data, student: r.model, task: trainPath, grader: 'integer', out: join(dir, 'run2'), evalItems: 40, evalK: 1, evalTemperature: 0, maxTokens: 16, seq: 48, steps: 2, heldOut: 0, progress: false }, () => {});
  assert.equal(again.params, r.params);
  assert.equal(again.acc_before, r.acc_after, 'the same model, items and seeds: the same accuracy');
  await assert.rejects(distill({ data, student: 'no-such-dir', task: evalPath, grader: 'integer', out: join(dir, 'run3') }, () => {}), /--student no-such-dir: neither a model directory nor a preset/);
});
