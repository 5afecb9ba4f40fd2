// The dataset tasks on the real data (../shared/data, test/data.ts): graded with
// the datasets' own reference answers as predictions, GSM8K test and MATH-500
// score 100%; countdown items parse and a right equation scores; the JSONL task
// and the registry name what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { countdownTask } from '../../src/tasks/countdown.ts';
import { gsm8kTask } from '../../src/tasks/gsm8k.ts';
import { math500Task } from '../../src/tasks/math500.ts';
import { taskByName } from '../../src/tasks/registry.ts';
import { answersEquivalent } from '../../src/tasks/task.ts';
import { readJsonl, sharedDataDir, skipWithoutData } from '../data.ts';

const skip = skipWithoutData();

test('GSM8K test: every reference solution, graded as a prediction, is right', { skip }, () => {
  const dir = sharedDataDir()!;
  const task = gsm8kTask({ dataDir: dir });
  const rows = readJsonl<{ question: string; answer: string }>(join(dir, 'gsm8k/test.jsonl'));
  const items = task.heldOut(rows.length);
  assert.equal(items.length, 1319);
  const wrong = items.filter((it, i) => !task.grade(it, rows[i].answer).correct || !task.grade(it, `</think> <answer>${it.gold}</answer>`).correct);
  assert.deepEqual(wrong.map((w) => w.id), []);
  assert.equal(task.grade(items[0], `reasoning</think> <answer>${items[0].gold}</answer>`).reward, 1);
  assert.equal(task.grade(items[0], `The answer is ${items[0].gold}.`).reward, 0.5);
  assert.equal(task.grade(items[0], 'The answer is 123456789.').reward, 0);
  assert.ok(task.trainItem(new Rng(1)).id.startsWith('gsm8k-train-'));
});

test('MATH-500: every reference answer (bare and boxed) and solution is right', { skip }, () => {
  const dir = sharedDataDir()!;
  const task = math500Task({ dataDir: dir });
  const rows = readJsonl<{ answer: string; solution: string }>(join(dir, 'math500/test.jsonl'));
  const items = task.heldOut(1000);
  assert.equal(items.length, 500);
  const wrong = items.filter((it, i) => !task.grade(it, `so the answer is $\\boxed{${it.gold}}$`).correct || !task.grade(it, rows[i].solution).correct);
  assert.deepEqual(wrong.map((w) => w.id), []);
  assert.throws(() => task.trainItem(new Rng(1)), /only an evaluation split/);
});

test('countdown: items from cd3, a right equation scores, training items avoid the held-out set', { skip }, () => {
  const task = countdownTask({ dataDir: sharedDataDir()! });
  const [first] = task.heldOut(1);
  assert.equal(first.gold, '23');
  assert.match(first.question, /\[30, 100, 93\].*equals 23/);
  const g = task.grade(first, 'think</think> <answer>(100 - 93) + 30 - 14</answer>');
  assert.equal(g.correct, false);
  const r = task.grade(first, 'think</think> <answer>100 - 93 - 30 + 46</answer>');
  assert.equal(r.correct, false);
  const ok = task.grade(first, 'think</think> <answer>93 - 100 + 30</answer>');
  assert.deepEqual([ok.correct, ok.format, ok.reward, ok.answer], [true, true, 1, '93 - 100 + 30']);
  assert.ok(answersEquivalent(task, first, '93 - 100 + 30', '30 + 93 - 100'));
  assert.ok(!answersEquivalent(task, first, '93 - 100 + 30', '93 + 100 + 30'));
  const held = new Set(task.heldOut(256).map((t) => t.id.split(':')[1]));
  const rng = new Rng(3);
  for (let i = 0; i < 50; i++) {
    const t = task.trainItem(rng);
    assert.ok(!held.has(t.id));
    const [nums, target] = t.id.split('=');
    assert.equal(nums.split(',').length, 3);
    assert.ok(Number(target) >= 1);
  }
});

test('a JSONL task with a named grader; the registry names what was wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'r1ts-jsonl-task-'));
  try {
    const p = join(dir, 'mine.jsonl');
    writeFileSync(p, '{"question":"Half of one?","answer":"1/2","id":"h"}\n{"prompt":"Capital of France?","gold":"Paris"}\n');
    const math = taskByName(p, { grader: 'math' });
    assert.equal(math.name, 'mine');
    const [h, paris] = math.heldOut(5);
    assert.equal(h.id, 'h');
    assert.equal(paris.id, 'line-2');
    assert.ok(math.grade(h, '</think> <answer>0.5</answer>').correct);
    const exact = taskByName(p, { grader: 'exact' });
    assert.equal(exact.grade(paris, 'hmm</think> <answer> Paris </answer>').reward, 1);
    assert.equal(exact.grade(paris, 'it is\nparis').correct, false);
    assert.equal(taskByName(p, { grader: 'integer' }).grade(h, '2').correct, false);
    assert.throws(() => taskByName(p, { grader: 'fuzzy' }), /unknown grader 'fuzzy' \(expected one of math, integer, exact\)/);
    writeFileSync(join(dir, 'bad.jsonl'), '{"question":"q"}\n');
    assert.throws(() => taskByName(join(dir, 'bad.jsonl')), /bad\.jsonl:1: expected a string field 'answer' or 'gold'/);
    assert.throws(() => taskByName('nope'), /unknown task 'nope'/);
    assert.throws(() => taskByName('add', { grader: 'math' }), /only a \.jsonl task takes a grader/);
    assert.equal(taskByName('add4').name, 'add4');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
