// The layers' decode step (src/nn/decode.ts): the single-pass expert choice equals Gate.select
// (the official rule: bias steers selection, ties go to the lower index) on random and tied
// affinities, and moeDecode adds exactly MoE.forward's output to the residual stream (sigmoid
// with renormalization and route scale; softmax; a shared expert of the routed size, which joins
// the routed experts' call, and one twice that size, which runs apart), counting expert load only
// in training mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import { DecodeScratch, moeDecode, selectExperts } from '../../src/nn/decode.ts';
import { Gate, MoE, type MoEConfig } from '../../src/nn/moe.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose, randF32 } from '../helpers.ts';

const base: MoEConfig = {
  dim: 12, nRoutedExperts: 8, nSharedExperts: 1, topK: 2, nGroup: 1, topkGroup: 1, routeScale: 2.5, scoringFunc: 'sigmoid',
  moeInterDim: 6, gateBias: true, auxLossAlpha: 0,
};

test('selectExperts picks what Gate.select picks (random, tied and biased affinities)', () => {
  const r = new Rng(1);
  for (const K of [1, 2, 3, 8]) {
    const gate = new Gate({ ...base, topK: K }, r);
    const bias = gate.bias!.data as Float32Array;
    for (let e = 0; e < 8; e++) bias[e] = r.int(3) === 0 ? 0 : (r.int(5) - 2) * 0.125;
    const N = 200;
    // Quantized scores make ties common.
    const s = Float32Array.from({ length: N * 8 }, () => (r.int(2) ? r.int(4) * 0.25 : r.normal()));
    const got = new Int32Array(N * K);
    selectExperts(gate, s, N, got);
    assert.deepEqual(got, gate.select(s, N), `K=${K}`);
  }
});

test('moeDecode adds MoE.forward to the residual stream (sigmoid + route scale; softmax), load counted only in training', () => {
  for (const cfg of [base, { ...base, scoringFunc: 'softmax' as const, routeScale: 1, topK: 3, gateBias: false, nSharedExperts: 0 }, { ...base, nGroup: 4, topkGroup: 2, nSharedExperts: 2 }]) {
    const r = new Rng(2);
    const moe = new MoE(cfg, r);
    if (moe.gate.bias) (moe.gate.bias.data as Float32Array).set(randF32(r, 8, 0.1));
    const N = 9;
    const x = randF32(r, N * cfg.dim), h0 = randF32(r, N * cfg.dim);
    moe.eval();
    const want = T.noGrad(() => moe.forward(T.tensor(x, [N, cfg.dim]))).data as Float32Array;
    const h = h0.slice();
    moeDecode(moe, x, N, new DecodeScratch(), h);
    assertClose(h, h0.map((v, i) => v + want[i]), { rtol: 1e-5, atol: 1e-6, label: `${cfg.scoringFunc} groups ${cfg.nGroup}` });
    assert.equal(moe.load.reduce((a, b) => a + b, 0), 0, 'no load counted in eval mode');
    moe.train();
    moeDecode(moe, x, N, new DecodeScratch(), h0.slice());
    assert.equal(moe.load.reduce((a, b) => a + b, 0), N * cfg.topK, 'training mode counts every routed token');
  }
});
