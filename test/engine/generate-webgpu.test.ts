// The generation engine on the webgpu device: a tiny Llama (GQA, untied head) whose
// parameters live on the device generates through a device KV cache (the writeRows
// kernel, device row copies, prefill into the second cache) and must give the CPU
// engine's tokens for the same weights: greedy, seeded temperature-only and temperature/top-p
// sampling (sampled on the device: the host draws each request's uniform from its Rng and the
// device walks the f32 mass, sorting the top-p candidates, so equal logits give the same tokens
// away from rounding of a boundary; the logits agree to ~1e-5 here), and with top logprobs
// (computed on the device and read back with the tokens: the CPU's top ids, log-probabilities
// within 1e-4). A vocabulary whose top-p candidates outnumber what the device sorts leaves those
// rows to the host with the uniform already drawn: the CPU's tokens and top logprobs.
// Continuous batching is exercised: maxBatch 3 < 5 requests, two sharing a prompt
// (prefilled once, the row copied), retirement moving the last row into a hole.
// Logprobs within 1e-4 absolute. Also the device KV cache's writeRows / copyRow /
// copyRowFrom against the host cache, and what a pass reads back: (token, logprob) per
// sequence when it samples on the device (plus (log-sum-exp, token logit) and the top k logits
// and ids with top logprobs, k the most any sequence of the pass asks for), its [rows, V]
// logits when it samples on the host (sampleOnDevice: false).
// Skips without an adapter (fails under CI=true).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { R1tsError } from '../../src/core/errors.ts';
import { llamaConfigSchema } from '../../src/models/config.ts';
import { Llama } from '../../src/models/llama.ts';
import { Engine, type GenerateRequest } from '../../src/engine/generate.ts';
import type { TokenLogprobs } from '../../src/engine/sampling.ts';
import { KVCache } from '../../src/nn/kv-cache.ts';
import * as T from '../../src/tensor/index.ts';
import { stepBuffers } from '../../src/tensor/device.ts';
import { gpuOrSkip } from '../backend/webgpu-setup.ts';

after(() => T.useDeviceContext(null));

const V = 67;

function tinyLlama(vocab = V): Llama {
  const cfg = llamaConfigSchema.parse({
    model_type: 'llama', vocab_size: vocab, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 40, rms_norm_eps: 1e-5, tie_word_embeddings: false,
  });
  return new Llama(cfg, new Rng(5));
}

function requests(sampled: 'greedy' | 'temperature' | 'top-p' | 'top-k' | 'top logprobs', vocab = V): GenerateRequest[] {
  const r = new Rng(9);
  const ps = Array.from({ length: 4 }, (_, i) => Array.from({ length: 2 + ((i * 3) % 7) }, () => r.int(vocab)));
  ps.push([...ps[1]]); // a shared prompt: prefilled once, its cache row copied
  return ps.map((prompt, i) => ({
    prompt, maxTokens: 6 + (i % 3) * 4, seed: 100 + i,
    // one request stops early on a token the greedy run is likely to emit: retirement mid-batch
    ...(i === 2 ? { stopTokens: [3, 7, 11, 19, 23] } : {}),
    sampling: sampled === 'top-p' || sampled === 'top logprobs' ? { temperature: 0.9, topP: 0.95 } : sampled === 'top-k' ? { temperature: 0.8, topK: 9, minP: 0.05 }
      : sampled === 'temperature' ? { temperature: 0.9 } : { temperature: 0 },
    ...(sampled === 'top logprobs' ? { topLogprobs: 2 } : {}),
  }));
}

/** Top logprobs of a device run against the CPU's: the same tokens in the same order, log-probabilities within 1e-4. */
function sameTopLogprobs(got: TokenLogprobs[] | undefined, want: TokenLogprobs[] | undefined, label: string): void {
  assert.equal(got === undefined, want === undefined, `${label}: top logprobs present on both or neither`);
  if (!got || !want) return;
  assert.equal(got.length, want.length, `${label}: one entry per token`);
  got.forEach((x, j) => {
    assert.ok(Math.abs(x.logprob - want[j].logprob) < 1e-4, `${label} token ${j}: raw logprob ${x.logprob} vs ${want[j].logprob}`);
    assert.deepEqual(x.top.map((t) => t.token), want[j].top.map((t) => t.token), `${label} token ${j}: top ids`);
    x.top.forEach((t, q) => assert.ok(Math.abs(t.logprob - want[j].top[q].logprob) < 1e-4, `${label} token ${j} top ${q}: ${t.logprob} vs ${want[j].top[q].logprob}`));
  });
}

test('webgpu: the Engine on a device model gives the CPU engine\'s greedy and sampled tokens (continuous batching, shared prompts)', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const host = tinyLlama();
  const dev = tinyLlama(); // the same weights (same seed), moved to the device
  T.moveToDevice(dev.namedTensors().map(([, t]) => t));
  assert.equal(dev.embed.weight.device, 'webgpu');
  for (const sampled of ['greedy', 'temperature', 'top-p', 'top-k', 'top logprobs'] as const) {
    const want = await new Engine(host, { maxBatch: 3 }).generate(requests(sampled));
    const engine = new Engine(dev, { maxBatch: 3 });
    assert.equal(engine.onDevice, true);
    const got = await engine.generate(requests(sampled));
    engine.dispose();
    got.forEach((g, i) => {
      assert.deepEqual(g.tokens, want[i].tokens, `${sampled} request ${i}: tokens`);
      assert.equal(g.finishReason, want[i].finishReason, `request ${i}: finish reason`);
      g.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - want[i].logprobs[j]) < 1e-4, `request ${i} token ${j}: logprob ${lp} vs ${want[i].logprobs[j]}`));
      sameTopLogprobs(g.tokenLogprobs, want[i].tokenLogprobs, `${sampled} request ${i}`);
    });
  }
  assert.equal(T.hasDevice(), true);
});

test('webgpu: each device prefill/decode pass is one submit (its logits-rows readback) and leaves no step buffers', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const dev = tinyLlama();
  T.moveToDevice(dev.namedTensors().map(([, t]) => t));
  const engine = new Engine(dev, { maxBatch: 2 });
  const before = k.ctx.stats.submits;
  const tokens = 5;
  await engine.generate([{ prompt: [1, 2, 3], maxTokens: tokens, sampling: { temperature: 0 } }, { prompt: [4, 5], maxTokens: tokens, sampling: { temperature: 0 } }]);
  engine.dispose();
  // One prefill pass (both prompts in one chunk) and tokens - 1 decode passes, one readback (submit) each.
  assert.equal(k.ctx.stats.submits - before, 1 + (tokens - 1));
  assert.equal(stepBuffers(), 0, 'no step buffers left after generation');
});

test('webgpu: a pass that samples on the device reads back (token, logprob) per sequence; one that samples on the host, its logits rows', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const dev = tinyLlama();
  T.moveToDevice(dev.namedTensors().map(([, t]) => t));
  const read: number[] = [];
  const readMany = k.ctx.readMany;
  k.ctx.readMany = (ts) => { read.push(...ts.map((t) => t.size)); return readMany.call(k.ctx, ts); };
  try {
    const req = (sampling: GenerateRequest['sampling'], extra: Partial<GenerateRequest> = {}): GenerateRequest[] =>
      [{ prompt: [1, 2, 3], maxTokens: 4, sampling, seed: 1, ...extra }, { prompt: [4, 5], maxTokens: 4, sampling, seed: 2, ...extra }];
    const sizes = async (reqs: GenerateRequest[], opts: { sampleOnDevice?: boolean } = {}) => {
      read.length = 0;
      const engine = new Engine(dev, { maxBatch: 2, ...opts });
      const out = await engine.generate(reqs);
      engine.dispose();
      return { sizes: [...read], out };
    };
    for (const sampling of [{ temperature: 0 }, { temperature: 0.8 }, { temperature: 0.8, topP: 0.9 }, { temperature: 0.8, topK: 5 }]) {
      const what = JSON.stringify(sampling);
      const d = await sizes(req(sampling));
      assert.deepEqual(d.sizes, [4, 4, 4, 4], `${what}: one prefill and 3 decode passes of 2 sequences × (token, logprob)`);
      const h = await sizes(req(sampling), { sampleOnDevice: false });
      assert.deepEqual(h.sizes, [2 * V, 2 * V, 2 * V, 2 * V], `${what}, sampleOnDevice false: the logits rows`);
      assert.deepEqual(d.out.map((o) => o.tokens), h.out.map((o) => o.tokens), `${what}: the same tokens either way`);
    }
    // Top logprobs ride along: per pass (token, logprob), (log-sum-exp, token logit) and the top 2 logits and ids per sequence.
    const tl = await sizes(req({ temperature: 0.8, topP: 0.9 }, { topLogprobs: 2 }));
    assert.deepEqual(tl.sizes, Array.from({ length: 4 }, () => [4, 4, 4, 4]).flat(), 'top logprobs: no logits rows');
    const tlHost = await sizes(req({ temperature: 0.8, topP: 0.9 }, { topLogprobs: 2 }), { sampleOnDevice: false });
    assert.deepEqual(tlHost.sizes, [2 * V, 2 * V, 2 * V, 2 * V], 'top logprobs, sampleOnDevice false: the logits rows');
    tl.out.forEach((o, i) => {
      assert.deepEqual(o.tokens, tlHost.out[i].tokens, `top logprobs, request ${i}: the same tokens either way`);
      sameTopLogprobs(o.tokenLogprobs, tlHost.out[i].tokenLogprobs, `top logprobs, request ${i}`);
    });
    // Mixed: one sequence asks for 3, the other for none; the pass reads the top 3 for both rows.
    const mixed = await sizes([{ prompt: [1, 2, 3], maxTokens: 4, sampling: { temperature: 0 }, seed: 1, topLogprobs: 3 }, { prompt: [4, 5], maxTokens: 4, sampling: { temperature: 0 }, seed: 2 }]);
    assert.deepEqual(mixed.sizes, Array.from({ length: 4 }, () => [4, 4, 6, 6]).flat(), 'mixed: k is the most any sequence asks for');
    assert.equal(mixed.out[0].tokenLogprobs![0].top.length, 3);
    assert.equal(mixed.out[1].tokenLogprobs, undefined, 'a sequence that asked for none gets none');
  } finally {
    k.ctx.readMany = readMany;
  }
});

test('webgpu: rows whose top-p candidates outnumber the device sort are sampled there too (the sorted order searched): the CPU\'s tokens, no logits rows read', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const vocab = 1500; // a fresh model's near-flat logits: top-p 0.99 keeps more than 1024 candidates
  const host = tinyLlama(vocab), dev = tinyLlama(vocab);
  T.moveToDevice(dev.namedTensors().map(([, t]) => t));
  // Top logprobs too, from the device's top-k.
  const reqs = () => requests('top-p', vocab).map((r) => ({ ...r, sampling: { temperature: 1, topP: 0.99 }, topLogprobs: 3 }));
  const want = await new Engine(host, { maxBatch: 3 }).generate(reqs());
  const read: number[] = [];
  const readMany = k.ctx.readMany;
  k.ctx.readMany = (ts) => { read.push(...ts.map((t) => t.size)); return readMany.call(k.ctx, ts); };
  try {
    const engine = new Engine(dev, { maxBatch: 3 });
    const got = await engine.generate(reqs());
    engine.dispose();
    got.forEach((g, i) => {
      assert.deepEqual(g.tokens, want[i].tokens, `request ${i}: tokens`);
      g.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - want[i].logprobs[j]) < 1e-4, `request ${i} token ${j}: logprob ${lp} vs ${want[i].logprobs[j]}`));
      sameTopLogprobs(g.tokenLogprobs, want[i].tokenLogprobs, `request ${i}`);
    });
  } finally {
    k.ctx.readMany = readMany;
  }
  assert.ok(read.every((n) => n < vocab), `no logits row came back (reads: ${read.join(', ')})`);
});

test('webgpu: the device KV cache (writeRows, copyRow, copyRowFrom, rows(0, n)) holds what the host cache holds', async (tc) => {
  const k = await gpuOrSkip(tc);
  if (!k) return;
  T.useDeviceContext(k.ctx);
  const shapes = [{ kHeads: 2, kDim: 3, vHeads: 2, vDim: 5 }];
  const B = 3, Tmax = 7;
  const h = new KVCache(B, Tmax, shapes), d = new KVCache(B, Tmax, shapes, undefined, { device: true });
  assert.equal(d.device, true);
  const r = new Rng(4);
  const rand = (shape: number[]) => T.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()), shape);
  // Write 4 rows at per-sequence offsets, then 2 more.
  for (const [Tn, starts] of [[4, [0, 1, 3]], [2, [4, 5, 0]]] as const) {
    const k1 = rand([B, Tn, 2, 3]), v1 = rand([B, Tn, 2, 5]);
    T.writeRows(h.layers[0].k, k1, starts); T.writeRows(h.layers[0].v, v1, starts);
    T.writeRows(d.layers[0].k, T.toDevice(k1), starts); T.writeRows(d.layers[0].v, v1, starts); // a host src is uploaded
  }
  for (const c of [h, d]) { c.lens.set([6, 7, 2]); c.copyRow(1, 0); }
  const other = new KVCache(2, Tmax, shapes, undefined, { device: true });
  const ho = new KVCache(2, Tmax, shapes);
  const kk = rand([2, 3, 2, 3]), vv = rand([2, 3, 2, 5]);
  T.writeRows(other.layers[0].k, T.toDevice(kk), [0, 1]); T.writeRows(other.layers[0].v, T.toDevice(vv), [0, 1]);
  T.writeRows(ho.layers[0].k, kk, [0, 1]); T.writeRows(ho.layers[0].v, vv, [0, 1]);
  other.lens.set([3, 4]); ho.lens.set([3, 4]);
  d.copyRowFrom(other, 1, 2); h.copyRowFrom(ho, 1, 2);
  // A prefix view writes through to the parent.
  const one = rand([2, 1, 2, 3]);
  T.writeRows(d.rows(0, 2).layers[0].k, T.toDevice(one), [6, 6]);
  T.writeRows(h.rows(0, 2).layers[0].k, one, [6, 6]);
  assert.deepEqual([...d.lens], [...h.lens]);
  const [dk, dv] = await T.readValues([d.layers[0].k, d.layers[0].v]);
  assert.deepEqual([...dk], [...h.layers[0].k.data]);
  assert.deepEqual([...dv], [...h.layers[0].v.data]);
  assert.throws(() => d.rows(1, 2), R1tsError);
  assert.throws(() => T.writeRows(d.layers[0].k, T.toDevice(rand([B, 2, 2, 3])), [0, 6, 0]), /do not fit/);
  assert.throws(() => T.writeRows(h.layers[0].k, T.toDevice(rand([B, 1, 2, 3])), [0, 0, 0]), /on the host/);
  T.endDeviceStep();
  d.free(); other.free();
});
