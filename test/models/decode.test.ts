// The fast decode step (src/models/decode.ts): under noGrad, one token per sequence through
// the cache takes it; its logits equal the full-sequence forward and the general step's
// (fast path off) for ragged batches with padding rows, on both families (Qwen2 GQA with
// biases, Llama MHA tied, DeepSeek-V3 absorbed MLA with q_lora + grouped routing and without
// q_lora + softmax routing, naive MLA with and without q_lora), on the native and the reference
// backend; the cache it leaves is the general step's; it does not apply with gradients on or T > 1;
// and the engine generates the same tokens with it on and off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { Engine } from '../../src/engine/generate.ts';
import { decodeStepApplies, fastDecodeEnabled, setFastDecode } from '../../src/models/decode.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import { Llama } from '../../src/models/llama.ts';
import type { CausalLM } from '../../src/models/model.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, onEveryBackend } from '../helpers.ts';
import { tinyLlama, tinyV3 } from './helpers.ts';

const models: [string, () => CausalLM][] = [
  ['qwen2 gqa', () => new Llama(tinyLlama(), new Rng(1))],
  ['llama mha tied', () => new Llama(tinyLlama({ model_type: 'llama', tie_word_embeddings: true, num_key_value_heads: 4 }), new Rng(2))],
  ['deepseek-v3 q_lora groups', () => absorbed(new DeepseekV3(tinyV3(), new Rng(3)))],
  ['deepseek-v3 softmax', () => absorbed(new DeepseekV3(tinyV3({ q_lora_rank: 0, n_group: 1, topk_group: 1, scoring_func: 'softmax', topk_method: 'greedy', routed_scaling_factor: 1 }), new Rng(4)))],
  ['deepseek-v3 naive MLA', () => new DeepseekV3(tinyV3(), new Rng(9))],
  ['deepseek-v3 naive MLA, no q_lora', () => new DeepseekV3(tinyV3({ q_lora_rank: 0, rope_interleave: false }), new Rng(10))],
];

function absorbed(m: DeepseekV3): DeepseekV3 {
  m.setAttnImpl('absorb');
  return m;
}

/** Ragged prefill, then steps (rows past their length are padding, length 0) through a fresh cache; logits per step. */
function decodeRun(m: CausalLM, ids: T.Tensor, prefill: number[], Tn: number, fast: boolean): { steps: { pos: number[]; active: number[]; logits: Float32Array }[]; cache: Float32Array[] } {
  const was = fastDecodeEnabled();
  setFastDecode(fast);
  try {
    return T.noGrad(() => {
      const B = ids.shape[0];
      const cache = m.newCache(B, Tn + 2);
      const P = Math.max(...prefill);
      const pre = T.ids(Int32Array.from({ length: B * P }, (_, i) => ids.data[Math.floor(i / P) * Tn + (i % P)]), [B, P]);
      m.forward(pre, { cache, lengths: prefill });
      const steps = [];
      while (Math.min(...cache.lens) < Tn) {
        const pos = Array.from(cache.lens);
        const active = pos.map((l) => (l < Tn ? 1 : 0));
        const step = T.ids(pos.map((l, b) => ids.data[b * Tn + Math.min(l, Tn - 1)]), [B, 1]);
        if (fast) assert.ok(decodeStepApplies(m as unknown as Parameters<typeof decodeStepApplies>[0], step, { cache, lengths: active }));
        const out = m.forward(step, { cache, lengths: active });
        assert.deepEqual(out.logits.shape, [B, 1, m.config.vocab_size]);
        assert.deepEqual(out.hidden.shape, [B, 1, m.config.hidden_size]);
        steps.push({ pos, active, logits: out.logits.data as Float32Array });
      }
      return { steps, cache: cache.layers.flatMap((l) => [(l.k.data as Float32Array).slice(), (l.v.data as Float32Array).slice()]) };
    });
  } finally {
    setFastDecode(was);
  }
}

for (const [name, make] of models) {
  onEveryBackend(`fast decode equals the full forward and the general step: ${name}`, () => {
    const m = make();
    m.eval();
    const V = m.config.vocab_size, B = 3, Tn = 7;
    const r = new Rng(5);
    const ids = T.ids(Int32Array.from({ length: B * Tn }, () => r.int(V)), [B, Tn]);
    const full = T.noGrad(() => m.forward(ids).logits.data as Float32Array); // [B, Tn, V]
    const prefill = [2, 5, 3];
    const fast = decodeRun(m, ids, prefill, Tn, true), slow = decodeRun(m, ids, prefill, Tn, false);
    assert.equal(fast.steps.length, slow.steps.length);
    fast.steps.forEach((s, i) => {
      for (let b = 0; b < B; b++) {
        if (!s.active[b]) continue;
        const t = s.pos[b];
        const row = s.logits.subarray(b * V, (b + 1) * V);
        assertClose(row, full.subarray((b * Tn + t) * V, (b * Tn + t + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `${name} vs full b${b} t${t}` });
        assertClose(row, slow.steps[i].logits.subarray(b * V, (b + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `${name} vs general step b${b} t${t}` });
      }
    });
    fast.cache.forEach((c, i) => assertClose(c, slow.cache[i], { rtol: 1e-4, atol: 1e-5, label: `${name} cache buffer ${i}` }));
  });
}

test('the fast step does not apply with gradients on, several tokens, no cache, or when turned off', () => {
  const m = new DeepseekV3(tinyV3(), new Rng(6));
  const cache = m.newCache(2, 8);
  const one = T.ids([1, 2], [2, 1]), two = T.ids([1, 2, 3, 4], [2, 2]);
  T.noGrad(() => assert.equal(decodeStepApplies(m, one, { cache }), true, 'naive MLA'));
  m.setAttnImpl('absorb');
  const absorbCache = m.newCache(2, 8);
  T.noGrad(() => assert.equal(decodeStepApplies(m, one, { cache: absorbCache }), true, 'absorbed MLA'));
  assert.equal(decodeStepApplies(m, one, { cache: absorbCache }), false, 'gradients on');
  T.noGrad(() => {
    assert.equal(decodeStepApplies(m, two, { cache: absorbCache }), false, 'two tokens');
    assert.equal(decodeStepApplies(m, one, {}), false, 'no cache');
    setFastDecode(false);
    try {
      assert.equal(decodeStepApplies(m, one, { cache: absorbCache }), false, 'turned off');
    } finally {
      setFastDecode(true);
    }
  });
});

test('the fast step rejects a batch that does not fit the cache, as the general forward does', () => {
  const m = new Llama(tinyLlama(), new Rng(7));
  const cache = m.newCache(2, 2);
  T.noGrad(() => {
    assert.throws(() => m.forward(T.ids([1, 2, 3], [3, 1]), { cache }), /the cache holds 2 sequences, the batch has 3/);
    m.forward(T.ids([1, 2], [2, 1]), { cache });
    m.forward(T.ids([1, 2], [2, 1]), { cache });
    assert.throws(() => m.forward(T.ids([1, 2], [2, 1]), { cache }), /would grow to 3 tokens, past the cache's 2/);
    assert.throws(() => m.forward(T.ids([1, 99], [2, 1]), { cache: m.newCache(2, 4) }), RangeError);
  });
});

test('the engine generates the same greedy tokens with the fast step on and off (DeepSeek-V3 absorbed, continuous batching)', async () => {
  const m = absorbed(new DeepseekV3(tinyV3(), new Rng(8)));
  const reqs = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [1, 2, 3]].map((prompt, i) => ({ prompt, maxTokens: 5 + i, sampling: { temperature: 0 }, seed: i }));
  const run = async (fast: boolean) => {
    setFastDecode(fast);
    try {
      return await new Engine(m, { maxBatch: 3, maxSeqLen: 20 }).generate(reqs);
    } finally {
      setFastDecode(true);
    }
  };
  const a = await run(true), b = await run(false);
  assert.deepEqual(a.map((x) => x.tokens), b.map((x) => x.tokens));
  a.forEach((x, i) => assertClose(x.logprobs, b[i].logprobs, { rtol: 1e-4, atol: 1e-5, label: `request ${i} logprobs` }));
});
