// Fused training ops (src/tensor/fused.ts) against the op-by-op composition they
// replace, on every backend: the dense block's output and every input gradient, and
// whole-model training losses and parameter gradients with the fused path on and off.
// The order of float operations differs (residual adds inside the GEMMs, gradient sums
// accumulated with beta = 1), so values agree to a stated tolerance, not bit for bit.
// Finite-difference checks of the fused ops live in gradcheck.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { DeepseekV3 } from '../../src/models/deepseek-v3.ts';
import { Llama } from '../../src/models/llama.ts';
import { densePreset, moePreset } from '../../src/models/config.ts';
import { buildModel } from '../../src/io/hf.ts';
import { stepContext } from '../../src/nn/kv-cache.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, onEveryBackend } from '../helpers.ts';
import { tinyLlama, tinyV3 } from '../models/helpers.ts';

/** Runs fn with the fused path on, then off; returns both results. */
function both<R>(fn: () => R): [R, R] {
  const was = T.fusedTraining();
  try {
    T.setFusedTraining(true);
    const on = fn();
    T.setFusedTraining(false);
    return [on, fn()];
  } finally {
    T.setFusedTraining(was);
  }
}

const llamaNoBias = (over: Record<string, unknown> = {}) => tinyLlama({ model_type: 'llama', ...over });

onEveryBackend('denseBlock equals the op-by-op Llama block: output and every gradient (GQA, odd sizes)', () => {
  const m = new Llama(llamaNoBias({ hidden_size: 24, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 36 }), new Rng(5));
  const block = m.layers[0];
  const r = new Rng(6);
  const B = 2, Tn = 7, C = 24;
  const x0 = T.randn([B, Tn, C], r);
  const R = T.randn([B, Tn, C], r);
  const ctx = stepContext(B, Tn, null);
  const [fused, plain] = both(() => {
    for (const p of block.parameters()) p.grad = null;
    const x = T.parameter(x0.clone());
    const y = block.trainForward(x, ctx, m.rope); // [B, T, C]
    T.sum(T.mul(y, R)).backward();
    return { y: Float32Array.from(y.data), dx: Float32Array.from(x.grad!.data), grads: block.parameters().map((p) => Float32Array.from(p.grad!.data)) };
  });
  assertClose(fused.y, plain.y, { rtol: 1e-5, atol: 1e-6, label: 'output' });
  assertClose(fused.dx, plain.dx, { rtol: 1e-4, atol: 1e-5, label: 'dx' });
  const names = block.namedParameters().map(([n]) => n);
  fused.grads.forEach((g, i) => assertClose(g, plain.grads[i], { rtol: 1e-4, atol: 1e-5, label: `d${names[i]}` }));
});

onEveryBackend('Llama training loss and parameter gradients agree with the fused blocks on and off', () => {
  const m = new Llama(llamaNoBias({ tie_word_embeddings: true }), new Rng(7));
  const r = new Rng(8);
  const ids = T.ids(Int32Array.from({ length: 3 * 9 }, () => r.int(41)), [3, 9]); // [B, T]
  const tg = T.ids(Int32Array.from({ length: 3 * 9 }, (_, i) => (i % 5 === 0 ? -100 : r.int(41))), [3, 9]); // [B, T]
  const [fused, plain] = both(() => {
    for (const p of m.parameters()) p.grad = null;
    const { loss } = m.loss(ids, tg);
    loss.backward();
    return { loss: loss.item(), grads: m.parameters().map((p) => Float32Array.from(p.grad!.data)) };
  });
  assert.ok(Math.abs(fused.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), `loss ${fused.loss} vs ${plain.loss}`);
  const names = m.namedParameters().map(([n]) => n);
  fused.grads.forEach((g, i) => assertClose(g, plain.grads[i], { rtol: 1e-3, atol: 1e-6, label: `d${names[i]}` }));
});

test('a fused block falls back to the op-by-op forward when it has biases (Qwen2)', () => {
  const m = new Llama(tinyLlama(), new Rng(9)); // qwen2: q/k/v biases
  const x = T.parameter(T.randn([1, 3, 32], new Rng(10)));
  const y = m.layers[0].trainForward(x, stepContext(1, 3, null), m.rope);
  assert.notEqual(y.node?.op, 'fused');
});

test('a second backward through a fused node throws instead of reading released buffers', () => {
  const m = new Llama(llamaNoBias(), new Rng(11));
  const x = T.parameter(T.randn([1, 4, 32], new Rng(12)));
  const y = T.sum(m.layers[0].trainForward(x, stepContext(1, 4, null), m.rope));
  y.backward(undefined, { retainGraph: true });
  assert.throws(() => y.backward(), /retainGraph is not supported through fused/);
});

test('denseBlock names a wrong weight shape', () => {
  const m = new Llama(llamaNoBias(), new Rng(13));
  const b = m.layers[0];
  const a = b.attn;
  assert.throws(() => T.denseBlock(T.randn([1, 2, 32], new Rng(1)), {
    attnNorm: b.attnNorm.weight, wq: a.wq.weight, wk: a.wk.weight, wv: a.wv.weight, wo: a.wk.weight,
    ffnNorm: b.ffnNorm.weight, w1: b.ffn.w1.weight, w2: b.ffn.w2.weight, w3: b.ffn.w3.weight,
  }, { H: 4, Hkv: 2, D: 8, eps: 1e-6, cos: m.rope.cos, sin: m.rope.sin, pos: T.ids([0, 1]), rotaryDim: 8, interleaved: false }), /denseBlock: wo must be f32 \[32, 32\], got f32 \[16, 32\]/);
});

for (const over of [{}, { q_lora_rank: 0 }, { q_lora_rank: 0, rope_interleave: false, rope_scaling: null }]) onEveryBackend(`DeepSeek-V3 (MLA, MoE, MTP) training loss and parameter gradients agree with the fused path on and off (${JSON.stringify(over)})`, () => {
  const m = new DeepseekV3(tinyV3(over), new Rng(14));
  const r = new Rng(15);
  const ids = T.ids(Int32Array.from({ length: 2 * 11 }, () => r.int(37)), [2, 11]); // [B, T]
  const tg = T.ids(Int32Array.from({ length: 2 * 11 }, (_, i) => (i % 4 === 0 ? -100 : r.int(37))), [2, 11]); // [B, T]
  const [fused, plain] = both(() => {
    for (const p of m.parameters()) p.grad = null;
    const { loss } = m.loss(ids, tg);
    loss.backward();
    return { loss: loss.item(), grads: m.parameters().map((p) => (p.grad ? Float32Array.from(p.grad.data) : null)) };
  });
  assert.ok(Math.abs(fused.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), `loss ${fused.loss} vs ${plain.loss}`);
  const names = m.namedParameters().map(([n]) => n);
  fused.grads.forEach((g, i) => {
    assert.equal(g === null, plain.grads[i] === null, `d${names[i]}: gradient present in one path only`);
    if (g) assertClose(g, plain.grads[i]!, { rtol: 1e-3, atol: 1e-6, label: `d${names[i]}` });
  });
});

test('moeExperts: an expert without pairs gets no gradient; bad counts are named', () => {
  const r = new Rng(16);
  const ex = [0, 1, 2].map(() => ({ w1: T.parameter(T.randn([5, 4], r)), w2: T.parameter(T.randn([4, 5], r)), w3: T.parameter(T.randn([5, 4], r)) }));
  const x = T.parameter(T.randn([3, 4], r));
  const w = T.parameter(T.randn([4, 1], r));
  const y = T.moeExperts(x, w, Int32Array.from([0, 2, 1, 2]), Int32Array.from([2, 0, 2]), ex);
  T.sum(y).backward();
  assert.equal(ex[1].w1.grad, null);
  assert.ok(ex[0].w1.grad && ex[2].w2.grad && x.grad && w.grad);
  assert.throws(() => T.moeExperts(x, w, Int32Array.from([0, 2, 1, 2]), Int32Array.from([2, 1, 2]), ex), /moeExperts: expert counts sum to 5, expected one per pair \(4\)/);
});

onEveryBackend('swigluMlp equals the three linears and swiglu: forward bit for bit, gradients to rounding', () => {
  const r = new Rng(17);
  const x0 = T.randn([2, 5, 6], r), R = T.randn([2, 5, 6], r);
  const w0 = [T.randn([7, 6], r), T.randn([6, 7], r), T.randn([7, 6], r)];
  const run = (fused: boolean) => {
    const x = T.parameter(x0.clone()), [w1, w2, w3] = w0.map((w) => T.parameter(w.clone()));
    const y = fused ? T.swigluMlp(x, { w1, w2, w3 }) : T.linear(T.swiglu(T.linear(x, w1), T.linear(x, w3)), w2);
    T.sum(T.mul(y, R)).backward();
    return [y, x, w1, w2, w3].map((t, i) => Float32Array.from(i === 0 ? t.data : t.grad!.data));
  };
  const [f, p] = [run(true), run(false)];
  assert.deepEqual(f[0], p[0]);
  ['dx', 'dw1', 'dw2', 'dw3'].forEach((n, i) => assertClose(f[i + 1], p[i + 1], { rtol: 1e-5, atol: 1e-6, label: n }));
});

onEveryBackend('residualAdd equals add: value and both gradients bit for bit', () => {
  const r = new Rng(18);
  const a0 = T.randn([3, 4], r), b0 = T.randn([3, 4], r), R = T.randn([3, 4], r);
  const run = (fused: boolean) => {
    const a = T.parameter(a0.clone()), b = T.parameter(b0.clone());
    // a also feeds a second branch, so its gradient is accumulated (the case the fused op exists for).
    const y = T.mul(fused ? T.residualAdd(a, T.tanh(b)) : T.add(a, T.tanh(b)), R);
    T.sum(T.add(y, T.mul(a, a))).backward();
    return [y.data, a.grad!.data, b.grad!.data].map((d) => Float32Array.from(d));
  };
  assert.deepEqual(run(true), run(false));
});

for (const [name, config] of [['dense', densePreset(2, 128, 32)], ['moe', moePreset(2, 128, 32)]] as const) {
  test(`${name}: fused training steps are bit-identical on NaN-poisoned private and op-output pools`, () => {
    const model = buildModel(config, new Rng(19));
    const r = new Rng(20);
    const ids = T.ids(Int32Array.from({ length: 3 * 32 }, () => r.int(128)), [3, 32]); // [B, T]
    const targets = T.ids(Int32Array.from({ length: 3 * 32 }, () => r.int(128)), [3, 32]); // [B, T]
    const step = () => {
      for (const p of model.parameters()) p.grad = null;
      const { loss } = model.loss(ids, targets);
      loss.backward();
      return { loss: loss.item(), grads: model.parameters().map((p) => Array.from(p.grad?.data ?? [])) };
    };
    const first = step();
    assert.ok(T.pooledF32().bytes > 0, 'the step gave no buffers back to the pool');
    T.fillPooledF32(NaN);
    const again = step();
    assert.equal(again.loss, first.loss);
    again.grads.forEach((g, k) => assert.deepEqual(g, first.grads[k], `gradient ${k} differs on poisoned buffers`));
  });
}
