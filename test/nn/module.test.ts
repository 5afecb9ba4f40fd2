// Module: parameter discovery and names, state dicts, train/eval, and layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Module } from '../../src/nn/module.ts';
import { Embedding, Linear, MLP, RMSNorm } from '../../src/nn/layers.ts';
import { Rng } from '../../src/core/rng.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';

class Tiny extends Module {
  emb: Embedding;
  layers: MLP[];
  norm: RMSNorm;
  head: Linear;
  constructor(rng: Rng) {
    super();
    this.emb = new Embedding(10, 4, { rng });
    this.layers = [new MLP(4, 8, { rng }), new MLP(4, 8, { rng })];
    this.norm = new RMSNorm(4);
    this.head = new Linear(4, 10, { rng, bias: true });
  }
}

test('parameters are named in declaration order with dotted paths', () => {
  const m = new Tiny(new Rng(0));
  const names = m.namedParameters().map(([n]) => n);
  assert.deepEqual(names, [
    'emb.weight', 'layers.0.w1.weight', 'layers.0.w2.weight', 'layers.0.w3.weight',
    'layers.1.w1.weight', 'layers.1.w2.weight', 'layers.1.w3.weight', 'norm.weight', 'head.weight', 'head.bias',
  ]);
  assert.equal(m.numParameters(), 40 + 2 * 3 * 32 + 4 + 40 + 10);
});

test('state dicts round-trip and report missing, unexpected and mis-shaped tensors', () => {
  const a = new Tiny(new Rng(1)), b = new Tiny(new Rng(2));
  b.loadStateDict(a.stateDict());
  for (const [[na, ta], [nb, tb]] of a.namedParameters().map((p, i) => [p, b.namedParameters()[i]] as const)) {
    assert.equal(na, nb);
    assert.deepEqual(Array.from(ta.data), Array.from(tb.data));
  }
  const sd = a.stateDict();
  sd.delete('norm.weight');
  sd.set('extra.weight', T.zeros([1]));
  assert.throws(() => b.loadStateDict(sd), /missing norm\.weight; unexpected extra\.weight/);
  assert.throws(() => b.loadStateDict(new Map([['head.bias', T.zeros([3])]]), { strict: false }), /head\.bias has shape \[3\], the model expects \[10\]/);
});

test('train/eval propagate; the MLP computes w2(silu(w1 x) * w3 x)', () => {
  const m = new Tiny(new Rng(3));
  m.eval();
  assert.equal(m.layers[1].training, false);
  m.train();
  assert.equal(m.head.training, true);
  const mlp = m.layers[0];
  const x = T.randn([2, 4], new Rng(4));
  const want = T.linear(T.mul(T.silu(T.linear(x, mlp.w1.weight)), T.linear(x, mlp.w3.weight)), mlp.w2.weight);
  assertClose(mlp.forward(x).data, want.data, { rtol: 1e-5, atol: 1e-6 });
});
