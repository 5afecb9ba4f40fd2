// Llama/Qwen2 model: KV-cache decoding equals the full forward (ragged batch),
// gradients match finite differences, parameter counts match the closed form,
// configs are validated with errors that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Llama } from '../../src/models/llama.ts';
import { densePreset, parseModelConfig } from '../../src/models/config.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';
import { tinyLlama } from './helpers.ts';

test('KV-cache decoding equals the full forward for a ragged batch', () => {
  for (const over of [{}, { model_type: 'llama', tie_word_embeddings: true, num_key_value_heads: 4 }]) {
    const m = new Llama(tinyLlama(over), new Rng(1));
    const r = new Rng(2);
    const B = 3, Tn = 7, V = 41;
    const ids = T.ids(Int32Array.from({ length: B * Tn }, () => r.int(V)), [B, Tn]);
    const full = m.forward(ids).logits;
    const cache = m.newCache(B, 12);
    const lens = [2, 7, 4];
    m.forward(ids, { cache, lengths: lens });
    while (Math.min(...cache.lens) < Tn) {
      const before = Array.from(cache.lens);
      const active = before.map((l) => (l < Tn ? 1 : 0));
      const step = T.ids(before.map((l, b) => ids.data[b * Tn + Math.min(l, Tn - 1)]), [B, 1]);
      const lo = m.forward(step, { cache, lengths: active }).logits;
      before.forEach((t, b) => {
        if (active[b]) assertClose(lo.data.subarray(b * V, (b + 1) * V), full.data.subarray((b * Tn + t) * V, (b * Tn + t + 1) * V), { rtol: 1e-4, atol: 1e-5, label: `b${b} t${t}` });
      });
    }
  }
});

test('gradients of a tiny Qwen2 match finite differences', () => {
  const m = new Llama(tinyLlama({ hidden_size: 16, intermediate_size: 24, vocab_size: 13 }), new Rng(3));
  const r = new Rng(4);
  const ids = T.ids(Int32Array.from({ length: 10 }, () => r.int(13)), [2, 5]);
  const tg = T.ids(Int32Array.from({ length: 10 }, () => r.int(13)), [2, 5]);
  m.loss(ids, tg).loss.backward();
  const lossOf = () => T.noGrad(() => m.loss(ids, tg).loss.item());
  for (const [name, p] of m.namedParameters()) {
    const d = p.data as Float32Array;
    for (const j of [0, d.length - 1]) {
      const keep = d[j], h = 5e-3;
      d[j] = keep + h; const lp = lossOf();
      d[j] = keep - h; const lm = lossOf();
      d[j] = keep;
      const num = (lp - lm) / (2 * h), ana = p.grad!.data[j];
      // f32 rounding of the loss (~1e-6 relative) divided by 2h sets a noise floor of a few 1e-4.
      assert.ok(Math.abs(num - ana) <= 2e-2 * Math.abs(num) + 5e-4, `${name}[${j}]: analytic ${ana}, numeric ${num}`);
    }
  }
});

test('parameter count of the dense preset matches the closed form', () => {
  const c = densePreset(6);
  assert.equal(c.hidden_size, 256);
  assert.equal(c.num_attention_heads, 4);
  const m = new Llama(c, new Rng(5));
  const C = c.hidden_size, F = c.intermediate_size, L = c.num_hidden_layers;
  const want = c.vocab_size * C + L * (2 * C + 4 * C * C + 3 * C * F) + C;
  assert.equal(m.numParameters(), want);
  console.log(`dense preset depth 6: ${want} parameters (${(want / 1e6).toFixed(2)}M)`);
});

test('configs are validated with errors naming the field', () => {
  assert.throws(() => parseModelConfig({ model_type: 'gpt2' }), /model_type "gpt2" is not supported/);
  assert.throws(() => parseModelConfig({ model_type: 'qwen2', vocab_size: 10, hidden_size: 32, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 3 }), /head_dim/);
  assert.throws(() => parseModelConfig({ model_type: 'llama', vocab_size: -1, hidden_size: 32, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4 }), /vocab_size/);
  assert.throws(() => parseModelConfig({ model_type: 'deepseek_v3', vocab_size: 10, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, n_routed_experts: 6, n_group: 4 }), /n_group/);
  const ok = parseModelConfig({ model_type: 'deepseek_v3', vocab_size: 10, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, q_lora_rank: null });
  assert.equal((ok as { q_lora_rank: number }).q_lora_rank, 0);
});
