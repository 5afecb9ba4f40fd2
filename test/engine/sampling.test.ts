// Sampling: greedy is argmax, empirical frequencies match the truncated and
// renormalised distribution (seeded, within sampling tolerance), top-k/top-p/
// min-p keep the right tokens, logprobs are over the full vocabulary, the same
// seed gives the same draws, and bad options throw naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { R1tsError } from '../../src/core/errors.ts';
import { rawLogprobs, sampleToken, type SamplingOptions } from '../../src/engine/sampling.ts';

const logits = Float32Array.from([1.0, 3.0, 0.5, 2.5, -1.0, 2.0, 0.0, -3.0]); // V = 8
const V = logits.length;

function softmax(x: ArrayLike<number>, T = 1): number[] {
  const m = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp((v - m) / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The distribution after truncation, computed the slow obvious way (full sort). */
function truncated(o: SamplingOptions): number[] {
  const p = softmax(logits, o.temperature ?? 1);
  const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  let keep = order;
  if (o.topK) keep = keep.slice(0, o.topK);
  if (o.topP !== undefined && o.topP < 1) {
    const tot = keep.reduce((s, i) => s + p[i], 0);
    let c = 0, j = 0;
    while (j < keep.length) { c += p[keep[j++]]; if (c >= o.topP * tot) break; }
    keep = keep.slice(0, j);
  }
  if (o.minP) keep = keep.filter((i) => p[i] >= o.minP! * p[keep[0]]);
  const out = new Array(V).fill(0);
  const s = keep.reduce((a, i) => a + p[i], 0);
  for (const i of keep) out[i] = p[i] / s;
  return out;
}

function frequencies(o: SamplingOptions, n: number, seed = 7): number[] {
  const rng = new Rng(seed);
  const f = new Array(V).fill(0);
  for (let i = 0; i < n; i++) f[sampleToken(logits, 0, V, o, rng).token]++;
  return f.map((c) => c / n);
}

test('greedy (temperature 0) is argmax, with the logprob of softmax at T = 1', () => {
  const r = sampleToken(logits, 0, V, { temperature: 0 }, new Rng(1));
  assert.equal(r.token, 1);
  assert.ok(Math.abs(r.logprob - Math.log(softmax(logits)[1])) < 1e-9);
  // offset into a longer buffer
  const two = new Float32Array(2 * V);
  two.set(logits.map((x) => -x), 0);
  two.set(logits, V);
  assert.equal(sampleToken(two, V, V, { temperature: 0 }, new Rng(1)).token, 1);
  assert.equal(sampleToken(two, 0, V, { temperature: 0 }, new Rng(1)).token, 7);
});

test('top-k = 1 is greedy at any temperature', () => {
  const rng = new Rng(3);
  for (let i = 0; i < 50; i++) assert.equal(sampleToken(logits, 0, V, { topK: 1, temperature: 2 }, rng).token, 1);
});

test('empirical frequencies match the truncated renormalised distribution', () => {
  const N = 40000;
  const cases: SamplingOptions[] = [{}, { temperature: 0.7 }, { temperature: 1.5, topK: 3 }, { topP: 0.8 }, { topK: 5, topP: 0.9, temperature: 1.3 }, { minP: 0.3 }, { topP: 0.95, minP: 0.2 }];
  for (const o of cases) {
    const want = truncated(o), got = frequencies(o, N);
    for (let i = 0; i < V; i++) {
      const sd = Math.sqrt((want[i] * (1 - want[i])) / N);
      assert.ok(Math.abs(got[i] - want[i]) <= 5 * sd + 1e-9, `${JSON.stringify(o)} token ${i}: frequency ${got[i]}, expected ${want[i]}`);
    }
  }
});

test('top-p, top-k and min-p exclude exactly the right tokens', () => {
  const p = softmax(logits); // order by prob: 1, 3, 5, 0, 2, 6, 4, 7
  const seen = (o: SamplingOptions) => new Set(frequencies(o, 4000).flatMap((f, i) => (f > 0 ? [i] : [])));
  assert.deepEqual([...seen({ topK: 3 })].sort(), [1, 3, 5]);
  const pTop2 = p[1] + p[3];
  assert.deepEqual([...seen({ topP: pTop2 - 1e-4 })].sort(), [1, 3]);
  assert.deepEqual([...seen({ topP: pTop2 + 1e-4 })].sort(), [1, 3, 5]);
  // min-p 0.5: keep p >= 0.5·p[1], i.e. logit >= 3 - ln 2 ≈ 2.31: tokens 1 and 3
  assert.deepEqual([...seen({ minP: 0.5 })].sort(), [1, 3]);
});

test('logprob is over the full vocabulary at the temperature, whatever the truncation', () => {
  const rng = new Rng(11);
  for (const o of [{ temperature: 0.5, topK: 2 }, { temperature: 2, topP: 0.5 }, { minP: 0.4 }]) {
    const ref = softmax(logits, o.temperature ?? 1);
    for (let i = 0; i < 20; i++) {
      const r = sampleToken(logits, 0, V, o, rng);
      assert.ok(Math.abs(r.logprob - Math.log(ref[r.token])) < 1e-6, `${JSON.stringify(o)}: ${r.logprob} vs ${Math.log(ref[r.token])}`);
    }
  }
});

test('a large vocab with top-p does not lose the nucleus (threshold search)', () => {
  const r = new Rng(5);
  const big = Float32Array.from({ length: 4096 }, () => r.normal() * 3);
  const p = softmax(big);
  const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a]);
  let c = 0, j = 0;
  while (c < 0.9) c += p[order[j++]];
  const nucleus = new Set(order.slice(0, j));
  const rng = new Rng(6);
  for (let i = 0; i < 500; i++) assert.ok(nucleus.has(sampleToken(big, 0, 4096, { topP: 0.9 }, rng).token));
  const top40 = new Set(order.slice(0, 40));
  for (let i = 0; i < 200; i++) assert.ok(top40.has(sampleToken(big, 0, 4096, { topK: 40 }, rng).token));
});

test('the same seed gives the same draws', () => {
  const draw = (seed: number) => { const rng = new Rng(seed); return Array.from({ length: 100 }, () => sampleToken(logits, 0, V, { topP: 0.9, temperature: 1.2 }, rng).token); };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
});

test('bad options throw naming the field and its range', () => {
  const bad: [SamplingOptions, RegExp][] = [
    [{ temperature: -1 }, /temperature -1 is outside \[0, ∞\)/],
    [{ temperature: NaN }, /temperature NaN/],
    [{ topP: 0 }, /topP 0 is outside \(0, 1\]/],
    [{ topP: 1.5 }, /topP 1.5/],
    [{ topK: 2.5 }, /topK 2.5 is outside the integers >= 0/],
    [{ topK: -1 }, /topK -1/],
    [{ minP: 2 }, /minP 2 is outside \[0, 1\]/],
  ];
  for (const [o, re] of bad) assert.throws(() => sampleToken(logits, 0, V, o, new Rng(1)), (e: unknown) => e instanceof R1tsError && re.test((e as Error).message));
});

test('rawLogprobs: log softmax at T = 1 of the token and the k most likely, ties to the lower id', () => {
  const r = new Rng(5);
  const x = Float32Array.from({ length: 300 }, () => Math.round(r.normal() * 4) / 2); // many ties
  const off = 37, n = 200;
  const row = Array.from(x.subarray(off, off + n));
  const lp = softmax(row).map(Math.log);
  const order = row.map((_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  for (const k of [0, 1, 5, 20, n]) {
    const got = rawLogprobs(x, off, n, 17, k);
    assert.ok(Math.abs(got.logprob - lp[17]) < 1e-9, `k ${k}: token logprob`);
    assert.deepEqual(got.top.map((t) => t.token), order.slice(0, k), `k ${k}: top ids`);
    got.top.forEach((t) => assert.ok(Math.abs(t.logprob - lp[t.token]) < 1e-9));
  }
  assert.throws(() => rawLogprobs(x, off, n, n, 1), /token 200: expected an id in \[0, 200\)/);
  assert.throws(() => rawLogprobs(x, off, n, 0, -1), /k -1/);
  assert.throws(() => rawLogprobs(x, 250, n, 0, 1), /does not fit 300 logits/);
});
