// RoPE with YaRN: frequencies against the closed form of DeepSeek-V3's
// precompute_freqs_cis (computed here independently in double precision),
// the softmax-scale multiplier, and the rotation in both pair layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RotaryEmbedding, ropeFrequencies, yarnScaleMultiplier, type RopeConfig } from '../../src/nn/rope.ts';
import * as T from '../../src/tensor/index.ts';
import { assertClose } from '../helpers.ts';

const v3: RopeConfig = { dim: 64, maxSeqLen: 16, theta: 10000, interleaved: true, yarn: { originalSeqLen: 4096, factor: 40, betaFast: 32, betaSlow: 1, mscale: 1 } };

test('without YaRN (or when maxSeqLen <= originalSeqLen) frequencies are 1/theta^(2i/dim)', () => {
  for (const cfg of [{ ...v3, yarn: null }, v3]) {
    const fr = ropeFrequencies(cfg);
    assert.equal(fr.length, 32);
    assertClose(fr, Array.from({ length: 32 }, (_, i) => 1 / Math.pow(10000, (2 * i) / 64)), { rtol: 2e-7 });
  }
  assert.equal(yarnScaleMultiplier(v3), 1);
});

test('YaRN interpolates frequencies between the correction dims and scales the softmax', () => {
  const cfg = { ...v3, maxSeqLen: 8192 };
  // correction dims: 64·ln(4096/(2π·32))/(2·ln 10⁴) = 10.47 → 10;  64·ln(4096/(2π))/(2·ln 10⁴) = 22.51 → 23
  const low = 10, high = 23;
  const base = (i: number) => 1 / Math.pow(10000, (2 * i) / 64);
  const want = Array.from({ length: 32 }, (_, i) => {
    const smooth = 1 - Math.min(Math.max((i - low) / (high - low), 0), 1);
    return (base(i) / 40) * (1 - smooth) + base(i) * smooth;
  });
  const fr = ropeFrequencies(cfg);
  assertClose(fr, want, { rtol: 1e-6 });
  assert.ok(Math.abs(fr[5] - base(5)) < 1e-7 * base(5), 'fast dims are kept');
  assert.ok(Math.abs(fr[31] - base(31) / 40) < 1e-6 * base(31), 'slow dims are divided by the factor');
  const m = 0.1 * Math.log(40) + 1;
  assert.ok(Math.abs(yarnScaleMultiplier(cfg) - m * m) < 1e-12);
});

test('rotation in both pair layouts, partial rotary dims pass through', () => {
  for (const interleaved of [true, false]) {
    const rope = new RotaryEmbedding({ dim: 4, maxSeqLen: 8, theta: 100, interleaved, yarn: null });
    const x = T.tensor([[[1, 2, 3, 4, 5, 6]]]); // [N=1, H=1, D=6]
    const p = 3;
    const y = rope.apply(x, T.ids([p]));
    const w0 = p * 1, w1 = p / 10; // freqs 1/100^(0/4), 1/100^(2/4)
    const rot = (a: number, b: number, w: number) => [a * Math.cos(w) - b * Math.sin(w), a * Math.sin(w) + b * Math.cos(w)];
    let want: number[];
    if (interleaved) want = [...rot(1, 2, w0), ...rot(3, 4, w1), 5, 6];
    else {
      const [a0, b0] = rot(1, 3, w0), [a1, b1] = rot(2, 4, w1);
      want = [a0, a1, b0, b1, 5, 6];
    }
    assertClose(y.data, want, { rtol: 1e-6, atol: 1e-6, label: `interleaved=${interleaved}` });
  }
});
