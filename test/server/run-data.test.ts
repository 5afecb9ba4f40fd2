// The dashboard's data layer on real files: metrics columns grown incrementally
// (a torn last line waits for its '\n'), min/max-preserving downsampling checked
// against each bucket's extremes computed directly from the rows, array figures,
// sample queries and the aha-moment list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.ts';
import { ahaMoments, downsample, listRuns, MetricsColumns, querySamples, runInfo, SampleStore } from '../../src/server/run-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'r1ts-rundata-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('listRuns finds folders with metrics or samples; runInfo refuses bad names', () => {
  mkdirSync(join(dir, 'runs/a'), { recursive: true });
  mkdirSync(join(dir, 'runs/b'), { recursive: true });
  mkdirSync(join(dir, 'runs/empty'), { recursive: true });
  writeFileSync(join(dir, 'runs/a/metrics.jsonl'), '{"step":1,"time":1}\n');
  writeFileSync(join(dir, 'runs/b/samples.jsonl'), '');
  writeFileSync(join(dir, 'runs/file.jsonl'), '');
  const names = listRuns(join(dir, 'runs')).map((r) => r.name).sort();
  assert.deepEqual(names, ['a', 'b']);
  for (const bad of ['..', '.', '../runs/a', 'a/../a', '', 'empty', 'nope', 'file.jsonl']) assert.equal(runInfo(join(dir, 'runs'), bad), null, bad);
  assert.deepEqual(listRuns(join(dir, 'missing')), []);
});

test('MetricsColumns grows with the file, waits for a torn line, starts over on a rewrite', () => {
  const p = join(dir, 'm.jsonl');
  writeFileSync(p, '{"step":1,"time":10,"loss":2}\n{"step":2,"time":11,"loss":1.5,"lr":0.1}\n{"step":3,"ti');
  const c = new MetricsColumns(p);
  assert.equal(c.update().length, 2);
  assert.deepEqual(c.step, [1, 2]);
  assert.deepEqual(c.series.get('loss'), [2, 1.5]);
  assert.deepEqual(c.series.get('lr'), [null, 0.1]);
  appendFileSync(p, 'me":12,"loss":1,"load":[[1,2],[3,4]]}\n');
  assert.equal(c.update().length, 1);
  assert.deepEqual(c.step, [1, 2, 3]);
  assert.deepEqual(c.series.get('lr'), [null, 0.1, null]);
  assert.deepEqual(c.arrays.get('load'), { row: [2], value: [[[1, 2], [3, 4]]] });
  writeFileSync(p, '{"step":1,"time":10,"loss":9}\n');
  c.update();
  assert.deepEqual(c.step, [1]);
  assert.deepEqual(c.series.get('loss'), [9]);
  assert.equal(c.series.has('lr'), false);
  // an atomic rewrite (new file renamed over it, as a resumed run does) as long or longer: starts over too
  writeFileSync(p + '.tmp', '{"step":1,"time":10,"loss":7}\n{"step":2,"time":11,"loss":6}\nnot json\n');
  renameSync(p + '.tmp', p);
  c.update();
  assert.deepEqual(c.step, [1, 2]);
  assert.deepEqual(c.series.get('loss'), [7, 6]);
  assert.equal(c.badLines, 1);
});

test('downsample keeps every bucket\'s min and max of every series, in order, within maxPoints', () => {
  const rng = new Rng(3);
  const n = 10_007, maxPoints = 500;
  const loss: number[] = [], acc: (number | null)[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    loss.push(rng.normal() + (i === 4321 ? 50 : 0) - (i === 777 ? 40 : 0)); // one spike up, one down
    acc.push(i % 5 === 0 ? rng.uniform() : null);
    lines.push(JSON.stringify({ step: i + 1, time: 1000 + i, loss: loss[i], ...(acc[i] !== null ? { acc: acc[i] } : {}) }));
  }
  const p = join(dir, 'big.jsonl');
  writeFileSync(p, lines.join('\n') + '\n');
  const c = new MetricsColumns(p);
  c.update();
  const d = downsample(c, maxPoints);
  assert.equal(d.rows, n);
  assert.equal(d.downsampled, true);
  assert.ok(d.points <= maxPoints, `${d.points} points`);
  assert.equal(d.step.length, d.points);
  assert.equal(Math.max(...(d.series.loss as number[])), Math.max(...loss));
  assert.equal(Math.min(...(d.series.loss as number[])), Math.min(...loss));
  const buckets = maxPoints / 2;
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * n) / buckets), hi = Math.floor(((b + 1) * n) / buckets);
    const seg = loss.slice(lo, hi);
    const iMin = lo + seg.indexOf(Math.min(...seg)), iMax = lo + seg.indexOf(Math.max(...seg));
    assert.deepEqual(d.series.loss.slice(2 * b, 2 * b + 2), iMin <= iMax ? [loss[iMin], loss[iMax]] : [loss[iMax], loss[iMin]], `bucket ${b}`);
    assert.deepEqual(d.step.slice(2 * b, 2 * b + 2), [lo + 1, hi]);
    const a = acc.slice(lo, hi).filter((x): x is number => x !== null);
    assert.deepEqual([...d.series.acc.slice(2 * b, 2 * b + 2)].sort(), [Math.min(...a), Math.max(...a)].sort(), `acc bucket ${b}`);
  }
  const small = downsample(c, 20_000);
  assert.equal(small.downsampled, false);
  assert.deepEqual(small.series.loss, loss);
});

test('array figures are bucket means when there are too many', () => {
  const p = join(dir, 'arr.jsonl');
  writeFileSync(p, Array.from({ length: 8 }, (_, i) => JSON.stringify({ step: i + 1, time: i, load: [[i, 1]] })).join('\n') + '\n');
  const c = new MetricsColumns(p);
  c.update();
  const d = downsample(c, 4);
  assert.deepEqual(d.arrays.load.step, [2, 4, 6, 8]);
  assert.deepEqual(d.arrays.load.value, [[[0.5, 1]], [[2.5, 1]], [[4.5, 1]], [[6.5, 1]]]);
});

test('samples: filter, search, one prompt across steps, paging; aha moments', () => {
  const p = join(dir, 'samples.jsonl');
  const recs = [
    { step: 1, prompt: 'What is 1+2?', completion: 'guess</think> <answer>4</answer>', rewards: { total: 0, correct: 0 }, correct: false },
    { step: 1, prompt: 'What is 5+5?', completion: '5+5=10</think> <answer>10</answer>', rewards: { total: 1, correct: 1 }, correct: true },
    { step: 2, prompt: 'What is 1+2?', completion: 'wait, check: 1+2=3</think> <answer>3</answer>', rewards: { total: 1 }, correct: true },
    { step: 3, prompt: 'What is 7+1?', completion: 'Wait 8? verify again</think> <answer>8</answer>', rewards: { total: 1 }, correct: true },
    { step: 3, prompt: 'What is 7+2?', completion: 'wait</think> <answer>1</answer>', rewards: { total: 0 }, correct: false },
  ];
  writeFileSync(p, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const s = new SampleStore(p);
  s.update();
  assert.deepEqual(s.items.map((x) => x.index), [0, 1, 2, 3, 4]);
  const all = { filter: 'all' as const, q: '', offset: 0, limit: 50, order: 'asc' as const };
  assert.deepEqual(querySamples(s.items, { ...all, filter: 'incorrect' }).items.map((x) => x.index), [0, 4]);
  assert.deepEqual(querySamples(s.items, { ...all, filter: 'correct' }).items.map((x) => x.index), [1, 2, 3]);
  assert.deepEqual(querySamples(s.items, { ...all, q: 'VERIFY' }).items.map((x) => x.index), [3]);
  assert.deepEqual(querySamples(s.items, { ...all, prompt: 'What is 1+2?' }).items.map((x) => x.step), [1, 2]);
  const page = querySamples(s.items, { ...all, order: 'desc', offset: 1, limit: 2 });
  assert.deepEqual([page.total, page.matched, page.items.map((x) => x.index)], [5, 5, [3, 2]]);
  assert.deepEqual(ahaMoments(s.items), [
    { word: 'wait', firstStep: 2, index: 2, count: 2 },
    { word: 'check', firstStep: 2, index: 2, count: 1 },
    { word: 'verify', firstStep: 3, index: 3, count: 1 },
    { word: 'again', firstStep: 3, index: 3, count: 1 },
  ]);
});
