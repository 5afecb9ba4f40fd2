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
  assert.equal(c.update(), 2);
  assert.deepEqual(c.column('step'), [1, 2]);
  assert.deepEqual(c.column('loss'), [2, 1.5]);
  assert.deepEqual(c.column('lr'), [null, 0.1]);
  appendFileSync(p, 'me":12,"loss":1,"load":[[1,2],[3,4]]}\n');
  assert.equal(c.update(), 1);
  assert.deepEqual(c.column('step'), [1, 2, 3]);
  assert.deepEqual(c.column('lr'), [null, 0.1, null]);
  assert.deepEqual(c.arrays.get('load'), { row: [2], value: [[[1, 2], [3, 4]]] });
  writeFileSync(p, '{"step":1,"time":10,"loss":9}\n');
  c.update();
  assert.deepEqual(c.column('step'), [1]);
  assert.deepEqual(c.column('loss'), [9]);
  assert.equal(c.column('lr'), undefined);
  // an atomic rewrite (new file renamed over it, as a resumed run does) as long or longer: starts over too
  writeFileSync(p + '.tmp', '{"step":1,"time":10,"loss":7}\n{"step":2,"time":11,"loss":6}\nnot json\n');
  renameSync(p + '.tmp', p);
  c.update();
  assert.deepEqual(c.column('step'), [1, 2]);
  assert.deepEqual(c.column('loss'), [7, 6]);
  assert.equal(c.badLines, 1);
});

/** What MetricsColumns must hold for a file, computed the plain way: JSON.parse of every complete line. */
function reference(bytes: Buffer) {
  const step: number[] = [], time: (number | null)[] = [];
  const series = new Map<string, (number | null)[]>(), arrays = new Map<string, { row: number[]; value: unknown[] }>();
  let bad = 0, start = 0, rows = 0;
  for (let nl = bytes.indexOf(10); nl >= 0; start = nl + 1, nl = bytes.indexOf(10, start)) {
    const line = bytes.toString('utf8', start, nl);
    if (line.trim() === '') continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      bad++;
      continue;
    }
    if (rec === null || typeof rec !== 'object' || typeof rec.step !== 'number') continue;
    const i = rows++;
    step.push(rec.step);
    time.push(typeof rec.time === 'number' ? rec.time : null);
    for (const [k, v] of Object.entries(rec)) {
      if (k === 'step' || k === 'time') continue;
      if (typeof v === 'number' && Number.isFinite(v)) {
        if (!series.has(k)) series.set(k, new Array(i).fill(null));
        series.get(k)![i] = v;
      } else if (Array.isArray(v) && v.length > 0) {
        if (!arrays.has(k)) arrays.set(k, { row: [], value: [] });
        arrays.get(k)!.row.push(i);
        arrays.get(k)!.value.push(v);
      }
    }
    for (const col of series.values()) while (col.length < rows) col.push(null);
  }
  return { rows, bad, step, time, series, arrays };
}

function assertSameAsJsonParse(c: MetricsColumns, bytes: Buffer, what: string): void {
  const ref = reference(bytes);
  assert.equal(c.rows, ref.rows, `${what}: rows`);
  assert.equal(c.badLines, ref.bad, `${what}: bad lines`);
  assert.deepEqual(c.column('step'), ref.step, `${what}: step`);
  assert.deepEqual(c.column('time'), ref.time, `${what}: time`);
  assert.deepEqual([...c.series.keys()], [...ref.series.keys()], `${what}: figures in order`);
  for (const [k, col] of ref.series) assert.deepEqual(c.column(k), col, `${what}: ${k}`); // deepStrictEqual: -0 and 0 differ
  assert.deepEqual(c.arrays, ref.arrays, `${what}: array figures`);
}

/** A fresh MetricsColumns over `p` after one update, synchronous or not. */
async function readColumns(p: string, chunkBytes: number | undefined, async: boolean): Promise<MetricsColumns> {
  const c = new MetricsColumns(p, { chunkBytes });
  if (async) await c.updateAsync();
  else c.update();
  return c;
}

test('the fast scanner reads every line exactly as JSON.parse does (hand-picked lines, fuzzed bytes, small chunks, sync and async reads)', async () => {
  const lines = [
    '{"step":1,"time":1700000000.123,"loss":2.5,"lr":1e-4,"kl":-3.2e-7,"big":1.7976931348623157e308,"tiny":5e-324,"sub":2.2250738585072014e-308}',
    '{"step":2,"time":1700000001,"loss":-0,"x":0.1,"y":123456789012345678901234567890,"z":9007199254740993,"w":0.30000000000000004,"v":1E5,"u":1e+22,"t":1e23,"s":4.35,"r":-0.0e0}',
    '{"step":3,"expert_load":[[0.25,0.75,1.5e-3],[1,0,-2]],"expert_load_max":1.5,"note":"héllo ✓ 😀 naïve","flag":true,"off":false,"none":null}',
    '  { "step" : 4 , "time" : 12 , "loss" : 1.25 }  \r',
    '{"step":5,"time":"yesterday","loss":null,"acc":0.5,"empty":[],"nested":[[[1]],[[2]]],"mixed":[1,"a",null,{"k":[2]}]}',
    '{"step":6,"loss":1,"loss":2}', // duplicate key: JSON.parse keeps the last
    '{"step":7,"cfg":{"a":1},"loss":3}', // nested object
    '{"step":8,"msg":"a \\"quoted\\" word\\n","loss":4}', // escapes
    '{"step":9,"\\u0061cc":0.9}', // an escaped key
    '{"step":10,"inf":1e400,"ninf":-1e400,"loss":5}', // ±Infinity: not a figure
    '{"step":1e400,"time":-1e999,"loss":6}', // an infinite step is still a number
    '{"step":"11","loss":7}', '{"loss":8}', '{}', 'null', '[1,2]', '12', '"s"', '',
    '   ', '\u00a0', // blank by trim(): skipped
    '{"step":12,"loss":01}', '{"step":13,"loss":NaN}', '{"step":14,"loss":.5}', '{"step":15,"loss":5.}', '{"step":16,"loss":+1}',
    '{"step":17,"loss":1,}', '{"step":18 "loss":1}', '{"step":19,"loss":1}x', '{"step":20,"loss":[1,2}', '{"step":21,"s":"tab\there"}',
    '\ufeff{"step":22}', '{"step":23,"loss":1e}', '{"step":24,"loss":-}', '{"step":25,"loss":tru}', 'not json at all',
    '{"step":26,"time":27,"loss":0.1,"acc":0.2}', '{"step":26,"time":28,"acc":0.3,"loss":0.4}', // same keys, another order
    '{"step":27,"__proto__":1,"constructor":2,"":3}',
    '{"step":28,"time":29,"loss":1.0000000000000002,"a":0.1e-5,"b":100e-2,"c":12345678901234567e-20,"d":0.000000000000000000000000001}',
  ];
  const text = lines.join('\n') + '\n{"step":29,"loss":1.5,"lo'; // a torn last line: left for later
  const bytes = Buffer.from(text);
  const p = join(dir, 'exact.jsonl');
  writeFileSync(p, bytes);
  for (const [chunkBytes, async] of [[undefined, false], [7, false], [64, false], [undefined, true], [7, true], [64, true]] as const) {
    const c = await readColumns(p, chunkBytes, async);
    assertSameAsJsonParse(c, bytes, `hand-picked lines, chunk ${chunkBytes ?? 'default'}${async ? ', async' : ''}`);
    assert.ok(c.fastLines >= 10 && c.slowLines >= 5, `both paths were taken (${c.fastLines} fast, ${c.slowLines} slow)`);
  }
  // the torn line completes
  appendFileSync(p, 'ss":2}\n');
  const c = new MetricsColumns(p, { chunkBytes: 16 });
  c.update();
  assert.deepEqual(c.column('step')!.at(-1), 29);
  appendFileSync(p, '{"step":30,"loss":3}\n{"step":31,"loss":4}\n{"st');
  assert.equal(await c.updateAsync(), 2); // async growth from where the sync read stopped
  appendFileSync(p, 'ep":32}\n');
  assert.equal(await c.updateAsync(), 1);
  assert.deepEqual(c.column('step')!.slice(-4), [29, 30, 31, 32]);
  assert.deepEqual(c.column('loss')!.slice(-4), [2, 3, 4, null]);
  assertSameAsJsonParse(c, Buffer.concat([bytes, Buffer.from('ss":2}\n{"step":30,"loss":3}\n{"step":31,"loss":4}\n{"step":32}\n')]), 'completed torn line');

  // random records, then the same lines with one byte changed: the scanner must agree with JSON.parse on every one
  const rng = new Rng(11);
  const num = () => {
    const r = rng.uniform();
    return r < 0.3 ? rng.normal() * 10 ** (rng.int(40) - 20) : r < 0.5 ? rng.int(1e6) - 5e5 : r < 0.6 ? Math.fround(rng.uniform()) : r < 0.7 ? -0 : r < 0.8 ? rng.uniform() * 1e300 : rng.uniform();
  };
  const good: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const rec: Record<string, unknown> = { step: i, time: 1.7e9 + rng.uniform() * 1e6 };
    for (const k of ['reward', 'reward/correct', 'accuracy', 'kl', 'loss', 'lr']) if (rng.uniform() < 0.8) rec[k] = num();
    if (rng.uniform() < 0.3) rec.expert_load = [[num(), num()], [num(), num()]];
    if (rng.uniform() < 0.1) rec.tag = ['ünï', 'plain', '日本'][rng.int(3)];
    good.push(JSON.stringify(rec));
  }
  const fuzzed = good.map((l) => {
    const b = Buffer.from(l);
    if (rng.uniform() < 0.6) b[rng.int(b.length)] = [0x22, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x2d, 0x2e, 0x65, 0x30, 0x31, 0x20, 0x5c, 0x6e, 0xc3, 0x09][rng.int(17)];
    return b;
  });
  const all = Buffer.concat([Buffer.from(good.join('\n') + '\n'), ...fuzzed.flatMap((b) => [b, Buffer.from('\n')])]);
  writeFileSync(p, all);
  for (const [chunkBytes, async] of [[undefined, false], [100, false], [100, true]] as const) {
    const f = await readColumns(p, chunkBytes, async);
    assertSameAsJsonParse(f, all, `random and fuzzed lines, chunk ${chunkBytes ?? 'default'}${async ? ', async' : ''}`);
    assert.ok(f.badLines > 100 && f.fastLines > 4000, `${f.badLines} bad, ${f.fastLines} fast`);
  }
});

test('numbers of 16 to 19 digits (the double-double path) convert exactly as Number() does, midpoints included', () => {
  const rng = new Rng(5);
  const texts: string[] = [
    '9007199254740993', '9007199254740995', '18014398509481986', '18014398509481990', '-18014398509481986', '1801439850948198.6', '0.18014398509481986',
    '9223372036854775807', '9999999999999999999', '1000000000000000001', '0.1000000000000000055511151231257827', '0.30000000000000004', '123456789.12345678',
    '4.3500000000000000', '0.0000099999999999999999', '1.7976931348623157e-5', '5.0000000000000005', '2.2250738585072014e-3',
  ];
  const digits = (n: number) => Array.from({ length: n }, (_, k) => String(k === 0 ? 1 + rng.int(9) : rng.int(10))).join('');
  for (let k = 0; k < 20_000; k++) {
    const r = rng.uniform();
    if (r < 0.4) texts.push(JSON.stringify((rng.uniform() - 0.5) * 10 ** (rng.int(12) - 6)));
    else if (r < 0.8) { // 16–19 digits with the point anywhere (10^-22 .. 10^0 scale)
      const d = digits(16 + rng.int(4));
      const at = rng.int(d.length);
      texts.push(`${rng.uniform() < 0.5 ? '-' : ''}${at === 0 ? '0' : d.slice(0, at)}.${d.slice(at)}`);
    } else { // near a midpoint: a double's exact neighbour halfway, cut to 17–19 digits
      const x = rng.uniform() * 10 ** rng.int(6);
      const mid = (x + x * (1 + 2 ** -52)) / 2;
      texts.push(mid.toPrecision(17 + rng.int(3)).replace(/e\+?/, 'e'));
    }
  }
  const p = join(dir, 'wide.jsonl');
  writeFileSync(p, texts.map((t, i) => `{"step":${i},"v":${t}}`).join('\n') + '\n');
  const c = new MetricsColumns(p);
  c.update();
  assert.equal(c.fastLines, texts.length);
  const got = c.column('v')!;
  let wrong = 0;
  texts.forEach((t, i) => {
    if (!Object.is(got[i], Number(t))) wrong++;
  });
  assert.equal(wrong, 0, `${wrong} of ${texts.length} differ from Number(), e.g. ${texts.find((t, i) => !Object.is(got[i], Number(t)))}`);
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
