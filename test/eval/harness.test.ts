// The harness: cons@k groups equivalent answers (1/2, 0.5, \frac{1}{2} are one
// vote under the math grader), pass@1 / pass@k / cons@k figures on a scripted
// source, per-item progress callbacks, and resumable runs: a results file cut by
// a crash (a torn last line) makes the restart generate only the missing items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, gradeItem, majorityIndex, type CompletionSource } from '../../src/eval/harness.ts';
import { markdownTable, reportJson } from '../../src/eval/report.ts';
import { resultsFile } from '../../src/eval/results-file.ts';
import { additionTask } from '../../src/tasks/arithmetic.ts';
import { jsonlTask } from '../../src/tasks/jsonl-task.ts';
import type { TaskItem } from '../../src/tasks/task.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-harness-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function mathTask() {
  const p = join(dir, 'half.jsonl');
  writeFileSync(p, '{"id":"half","question":"What is half of one?","answer":"\\\\frac{1}{2}"}\n');
  return jsonlTask(p, { grader: 'math' });
}

test('cons@k groups 1/2, 0.5 and \\frac{1}{2} as one answer', () => {
  const task = mathTask();
  const [item] = task.heldOut(1);
  const r = gradeItem(task, item, ['</think> <answer>0.3</answer>', '</think> <answer>1/2</answer>', '</think> <answer>0.3</answer>', '</think> <answer>0.5</answer>', '</think> <answer>$\\frac{1}{2}$</answer>']);
  assert.deepEqual(r.answers, ['0.3', '1/2', '0.3', '0.5', '\\frac{1}{2}']);
  assert.equal(r.consAnswer, '1/2'); // three votes for one half beat two for 0.3
  assert.equal(r.consCorrect, true);
  // plain string equality would have voted 0.3
  assert.equal(majorityIndex(r.answers, (a, b) => a === b), 0);
  assert.equal(majorityIndex([null, null], () => true), -1);
});

test('pass@1, pass@k, cons@k, lengths; greedy is k = 1; progress per item; report renderers', async () => {
  const task = additionTask();
  const items = task.heldOut(4);
  // item i gets i right answers out of 4 (the right ones first)
  const source: CompletionSource = async (batch, n) => batch.map((it) => {
    const i = items.findIndex((x) => x.id === it.id);
    return Array.from({ length: n }, (_, j) => (j < i ? `x</think> <answer>${it.gold}</answer>` : 'no idea, 7'));
  });
  const seen: number[] = [];
  const r = await evaluate(task, items, source, 4, { batchSize: 3, onItemDone: (_, done, total) => seen.push(done * 10 + total) });
  assert.deepEqual(seen, [14, 24, 34, 44]);
  assert.equal(r.accuracy, (0 + 1 + 2 + 3) / 16);
  assert.ok(Math.abs(r.passAtK - 3 / 4) < 1e-12); // k = n: pass@4 is 1 when any is right
  assert.equal(r.consAtK, 2 / 4); // item 3 has a right majority (3 of 4); item 2 ties 2–2 and the answer seen first wins
  assert.equal(r.meanLengthWrong, 'no idea, 7'.length);
  assert.ok(r.accuracyCI95 > 0 && r.consAtKCI95 > 0);
  const greedy = await evaluate(task, items, async (b, n) => b.map((it) => Array(n).fill(`</think> <answer>${it.gold}</answer>`)));
  assert.deepEqual([greedy.k, greedy.accuracy, greedy.passAtK, greedy.consAtK, greedy.formatRate], [1, 1, 1, 1, 1]);
  const md = markdownTable([r]);
  assert.match(md, /^\| task \| items \| k \| pass@1 \| pass@k \| cons@k \|/);
  assert.match(md, /\| add \| 4 \| 4 \| 37\.5 ± \d+\.\d \| 75\.0 ± \d+\.\d \| 50\.0 ± \d+\.\d \| /);
  const j = reportJson(r, { temperature: 0.6 });
  assert.equal(j.metrics.pass_at_1, 0.375);
  assert.equal(j.config.temperature, 0.6);
  assert.equal(j.results[3].completions.length, 4);
  await assert.rejects(evaluate(task, items, async () => [['a']], 1), /returned 1 lists for 4 items/);
});

test('resume: a torn last line is dropped and only the missing items are generated', async () => {
  const task = additionTask();
  const items = task.heldOut(5);
  const path = join(dir, 'results.jsonl');
  const right = (it: TaskItem) => `</think> <answer>${it.gold}</answer>`;
  const asked: string[] = [];
  const source: CompletionSource = async (batch, n) => {
    asked.push(...batch.map((b) => b.id));
    return batch.map((it) => Array(n).fill(right(it)));
  };
  // a first run finished items 0 and 2, then died while writing item 3
  const done = [gradeItem(task, items[0], [right(items[0]), 'wrong 1']), gradeItem(task, items[2], [right(items[2]), right(items[2])])];
  const torn = JSON.stringify(gradeItem(task, items[3], ['a', 'b'])).slice(0, 40);
  writeFileSync(path, done.map((d) => JSON.stringify(d) + '\n').join('') + torn);
  const r = await evaluate(task, items, source, 2, { results: resultsFile(path), batchSize: 2 });
  assert.deepEqual(asked, [items[1].id, items[3].id, items[4].id]);
  assert.equal(r.resumed, 2);
  assert.deepEqual(r.results.map((x) => x.id), items.map((x) => x.id));
  assert.equal(r.accuracy, (0.5 + 1 + 1 + 1 + 1) / 5);
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 5);
  lines.forEach((l) => JSON.parse(l)); // the torn line is gone, every line parses
  // a second restart has nothing left to do
  asked.length = 0;
  const again = await evaluate(task, items, source, 2, { results: resultsFile(path) });
  assert.deepEqual(asked, []);
  assert.equal(again.accuracy, r.accuracy);
  await assert.rejects(evaluate(task, items, source, 3, { results: resultsFile(path) }), /has 2 completions but this run asks k=3/);
  writeFileSync(join(dir, 'bad.jsonl'), 'nope\n{}\n');
  await assert.rejects(evaluate(task, items, source, 2, { results: resultsFile(join(dir, 'bad.jsonl')) }), /bad\.jsonl:1: not valid JSON/);
});
