// The generation engine on tiny random dense (Llama) and MoE/MLA (DeepSeek-V3)
// models: greedy output and logprobs equal a naive loop that re-runs the whole
// prefix without a cache; stop tokens, stop strings, maxTokens, full context and
// abort end requests as documented; continuous batching (maxBatch below the
// request count, shared prompts) gives what each request gives alone, greedy
// and seeded sampling; onToken streams every token; bad requests throw naming
// the request. Also the KV cache's rows()/copyRow() the engine relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { R1tsError } from '../../src/core/errors.ts';
import { densePreset, moePreset } from '../../src/models/config.ts';
import { Llama } from '../../src/models/llama.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import type { CausalLM } from '../../src/models/model.ts';
import { Engine, type GenerateRequest, type GenerateResult } from '../../src/engine/generate.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';

const V = 61;
const models: [string, () => CausalLM][] = [
  ['dense', () => new Llama(densePreset(2, V, 48), new Rng(1))],
  ['moe', () => new DeepseekV3(moePreset(2, V, 48), new Rng(2))],
];

function prompts(n: number, seed: number, lo = 1, hi = 9): number[][] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: lo + r.int(hi - lo + 1) }, () => r.int(V)));
}

/** Greedy decoding by re-running the whole prefix without a cache; log-softmax at each chosen token. */
function naiveGreedy(m: CausalLM, prompt: number[], maxTokens: number): { tokens: number[]; logprobs: number[] } {
  const seq = [...prompt], tokens: number[] = [], logprobs: number[] = [];
  for (let i = 0; i < maxTokens; i++) {
    const lo = T.noGrad(() => m.forward(T.ids(seq, [1, seq.length])).logits); // [1, L, V]
    const row = Array.from(lo.data.subarray((seq.length - 1) * V, seq.length * V));
    const max = Math.max(...row);
    const arg = row.indexOf(max);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    tokens.push(arg);
    logprobs.push(row[arg] - lse);
    seq.push(arg);
  }
  return { tokens, logprobs };
}

for (const [name, make] of models) {
  test(`${name}: greedy generation of a ragged batch equals the naive uncached loop, logprobs too`, async () => {
    const m = make();
    const ps = prompts(5, 10);
    const res = await new Engine(m, { maxBatch: 5 }).generate(ps.map((prompt) => ({ prompt, maxTokens: 8, sampling: { temperature: 0 } })));
    ps.forEach((p, i) => {
      const ref = naiveGreedy(m, p, 8);
      assert.deepEqual(res[i].tokens, ref.tokens, `request ${i}`);
      assertClose(res[i].logprobs, ref.logprobs, { rtol: 1e-4, atol: 1e-4, label: `request ${i} logprobs` });
      assert.equal(res[i].finishReason, 'length');
    });
  });

  test(`${name}: continuous batching (maxBatch 3 for 9 requests, shared prompts) equals each request alone`, async () => {
    const m = make();
    const ps = prompts(6, 20);
    const reqs: GenerateRequest[] = [...ps, ps[1], ps[1], ps[4]].map((prompt, i) => ({
      prompt, maxTokens: 3 + (i % 4) * 3, seed: 100 + i,
      sampling: i % 3 === 0 ? { temperature: 0 } : { temperature: 0.9, topP: 0.95 },
      stopTokens: i === 2 ? [7] : undefined,
    }));
    const batched = await new Engine(m, { maxBatch: 3 }).generate(reqs);
    const alone: GenerateResult[] = [];
    for (const r of reqs) alone.push(await new Engine(m, { maxBatch: 1 }).submit(r));
    assert.deepEqual(batched.map((r) => r.tokens), alone.map((r) => r.tokens));
    batched.forEach((r, i) => assertClose(r.logprobs, alone[i].logprobs, { rtol: 1e-4, atol: 1e-4, label: `request ${i}` }));
    // The same prompt with different seeds samples different completions.
    assert.notDeepEqual(batched[6].tokens, batched[7].tokens);
    // submit() while a batch runs joins it and matches too.
    const e = new Engine(m, { maxBatch: 4 });
    const all = await Promise.all(reqs.map((r) => e.submit(r)));
    assert.deepEqual(all.map((r) => r.tokens), alone.map((r) => r.tokens));
  });
}

test('topLogprobs: raw (T = 1) log-probs of each token and its alternatives, equal to the uncached forward pass', async () => {
  const m = models[0][1]();
  const prompt = [3, 14, 15, 9];
  const seen: number[] = [];
  const r = await new Engine(m, { maxBatch: 2 }).submit({
    prompt, maxTokens: 6, seed: 4, sampling: { temperature: 1.7, topK: 5 }, topLogprobs: 4,
    onToken: (_t, _lp, info) => seen.push(info!.logprob),
  });
  assert.equal(r.tokenLogprobs!.length, r.tokens.length);
  assert.deepEqual(seen, r.tokenLogprobs!.map((t) => t.logprob));
  const seq = [...prompt, ...r.tokens];
  const lo = T.noGrad(() => m.forward(T.ids(seq, [1, seq.length])).logits); // [1, L, V]
  r.tokens.forEach((tok, i) => {
    const row = Array.from(lo.data.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    const info = r.tokenLogprobs![i];
    assertClose([info.logprob], [row[tok] - lse], { rtol: 1e-4, atol: 1e-4, label: `token ${i}` });
    const best = row.map((_, j) => j).sort((a, b) => row[b] - row[a] || a - b).slice(0, 4);
    assert.deepEqual(info.top.map((t) => t.token), best, `token ${i} alternatives`);
    assert.ok(r.logprobs[i] !== info.logprob, 'the sampled logprob is at T = 1.7, the raw one at T = 1');
  });
  const plain = await new Engine(m, { maxBatch: 1 }).submit({ prompt, maxTokens: 2 });
  assert.equal(plain.tokenLogprobs, undefined, 'off unless asked');
  await assert.rejects(new Engine(m, { maxBatch: 1 }).submit({ prompt, maxTokens: 2, topLogprobs: V + 1 }), /topLogprobs 62: expected an integer in \[0, 61\]/);
});

test('the uncompacted path (all maxBatch rows every step) gives the same tokens', async () => {
  const m = models[0][1]();
  const reqs = prompts(5, 30).map((prompt, i) => ({ prompt, maxTokens: 2 + 2 * i, seed: i, sampling: { temperature: 0.8 } }));
  const a = await new Engine(m, { maxBatch: 4 }).generate(reqs);
  const b = await new Engine(m, { maxBatch: 4, compact: false }).generate(reqs);
  assert.deepEqual(a.map((r) => r.tokens), b.map((r) => r.tokens));
});

test('stop tokens, stop strings, maxTokens and the full context end requests', async () => {
  const m = models[0][1]();
  const p = [3, 1, 4, 1, 5];
  const e = new Engine(m, { maxBatch: 4, maxSeqLen: 16, decode: (ids) => ids.map((t) => String.fromCharCode(97 + (t % 26))).join('') });
  const [free] = await e.generate([{ prompt: p, maxTokens: 10, sampling: { temperature: 0 } }]);
  const text = free.tokens.map((t) => String.fromCharCode(97 + (t % 26))).join('');
  const stopTok = free.tokens[3];
  const at = free.tokens.indexOf(stopTok);
  const stopStr = text.slice(2, 4);
  const [st, ss, mt, ctx] = await e.generate([
    { prompt: p, maxTokens: 10, sampling: { temperature: 0 }, stopTokens: [stopTok, V - 1] },
    { prompt: p, maxTokens: 10, sampling: { temperature: 0 }, stopStrings: ['zzzzzz', stopStr] },
    { prompt: p, maxTokens: 2, sampling: { temperature: 0 } },
    { prompt: p, maxTokens: 100, sampling: { temperature: 0 } },
  ]);
  assert.deepEqual(st, { tokens: free.tokens.slice(0, at + 1), logprobs: free.logprobs.slice(0, at + 1), finishReason: 'stop', stoppedBy: stopTok });
  assert.equal(ss.finishReason, 'stop');
  assert.equal(ss.stoppedBy, stopStr);
  assert.deepEqual(ss.tokens, free.tokens.slice(0, text.indexOf(stopStr) + stopStr.length));
  assert.deepEqual(mt.tokens, free.tokens.slice(0, 2));
  assert.equal(mt.finishReason, 'length');
  assert.equal(ctx.tokens.length, 16 - p.length);
  assert.equal(ctx.finishReason, 'length');
  // A prompt that fills the context still yields one token.
  const [full] = await e.generate([{ prompt: Array.from({ length: 16 }, (_, i) => i), maxTokens: 5 }]);
  assert.equal(full.tokens.length, 1);
});

test('onToken streams every token in order; abort ends a request, others go on', async () => {
  const m = models[1][1]();
  const e = new Engine(m, { maxBatch: 2 });
  const streamed: [number, number][] = [];
  const ac = new AbortController();
  let n = 0;
  const pre = new AbortController();
  pre.abort();
  const [a, b, c] = await e.generate([
    { prompt: [1, 2, 3], maxTokens: 12, seed: 1, onToken: (t, lp) => streamed.push([t, lp]) },
    { prompt: [4, 5], maxTokens: 40, seed: 2, signal: ac.signal, onToken: () => { if (++n === 5) ac.abort(); } },
    { prompt: [6], maxTokens: 4, signal: pre.signal },
  ]);
  assert.deepEqual(streamed, a.tokens.map((t, i) => [t, a.logprobs[i]]));
  assert.equal(a.tokens.length, 12);
  assert.equal(b.finishReason, 'abort');
  assert.ok(b.tokens.length >= 5 && b.tokens.length <= 7, `aborted after ${b.tokens.length} tokens`);
  assert.deepEqual(c, { tokens: [], logprobs: [], finishReason: 'abort' });
});

test('bad requests throw R1tsError naming the request and what was expected', async () => {
  const m = models[0][1]();
  const e = new Engine(m, { maxBatch: 2 });
  const ok = { prompt: [1, 2], maxTokens: 3 };
  const cases: [GenerateRequest, RegExp][] = [
    [{ prompt: [], maxTokens: 3 }, /request 1: prompt must be a non-empty array/],
    [{ prompt: Array(49).fill(1), maxTokens: 3 }, /request 1: prompt of 49 tokens is longer than the context of 48/],
    [{ prompt: [1, V], maxTokens: 3 }, /request 1: prompt\[1\] = 61: expected a token id in \[0, 61\)/],
    [{ prompt: [1], maxTokens: 0 }, /request 1: maxTokens 0: expected an integer >= 1/],
    [{ prompt: [1], maxTokens: 2, sampling: { topP: 2 } }, /request 1: sampling: topP 2 is outside/],
    [{ prompt: [1], maxTokens: 2, stopStrings: ['x'] }, /request 1: stopStrings need the engine's decode/],
    [{ prompt: [1], maxTokens: 2, stopTokens: [-1] }, /request 1: stopTokens\[0\] = -1/],
  ];
  for (const [bad, re] of cases) await assert.rejects(e.generate([ok, bad]), (err: unknown) => err instanceof R1tsError && re.test((err as Error).message));
  await assert.rejects(e.submit({ prompt: [1], maxTokens: 1.5 }), /request: maxTokens 1.5/);
  assert.throws(() => new Engine(m, { maxBatch: 0 }), /maxBatch 0/);
  assert.throws(() => new Engine(m, { maxBatch: 1, maxSeqLen: 49 }), /maxSeqLen 49: expected an integer in \[1, 48\]/);
  // The engine still works after rejecting.
  assert.equal((await e.submit(ok)).tokens.length, 3);
});

test('KV cache rows() aliases a block of rows; copyRow() copies a sequence', () => {
  const m = models[0][1]();
  const r = new Rng(9);
  const seqA = Array.from({ length: 6 }, () => r.int(V));
  const cache = m.newCache(3, 16);
  T.noGrad(() => m.forward(T.ids(seqA.slice(0, 5), [1, 5]), { cache: cache.rows(1, 1) })); // row 1 only
  assert.deepEqual(Array.from(cache.lens), [0, 5, 0]);
  cache.copyRow(1, 2);
  assert.deepEqual(Array.from(cache.lens), [0, 5, 5]);
  const ref = T.noGrad(() => m.forward(T.ids(seqA, [1, 6])).logits); // [1, 6, V]
  const step = T.noGrad(() => m.forward(T.ids([0, seqA[5]], [2, 1]), { cache: cache.rows(1, 2), lengths: [0, 1] }).logits); // [2, 1, V]
  assertClose(step.data.subarray(V, 2 * V), ref.data.subarray(5 * V, 6 * V), { rtol: 1e-4, atol: 1e-5, label: 'copied row' });
  assert.deepEqual(Array.from(cache.lens), [0, 5, 6]);
  assert.throws(() => cache.rows(2, 2), /rows \[2, 4\) are outside the cache's 3 sequences/);
  assert.throws(() => cache.copyRow(0, 3), /sequence 3 is outside \[0, 3\)/);
});
